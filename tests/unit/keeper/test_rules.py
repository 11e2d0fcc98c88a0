"""The keeper's bidding rule (keeper/rules.py) on fixed inputs, every figure checked by hand."""

import pytest

from keeper.rules import (
    BidParams,
    Carry,
    gas_cost_usd,
    insolvent_bonus,
    largest_carried_fraction,
    quote_insolvent,
    quote_solvent,
)

P = BidParams(
    penalty=0.02, min_profit=1.0, risk_charge=0.05, im_buffer=0.10, slippage=0.01, max_subsidy=5.0
)


def flat_carry(delta_im=1_000.0):
    """The keeper carries any fraction; its IM rises by `delta_im`."""
    return lambda f: Carry(im_before=5_000.0, im_after=5_000.0 + delta_im, ae_after=1e9)


def test_solvent_bid_profit_is_fed_minus_penalty_gas_and_risk_charge():
    # f = 0.5, E = 10,000, d = 10%: gross 0.5·10,000·(0.10 − 0.02) = 400; risk 0.05·1,000 = 50
    q = quote_solvent(10_000.0, 0.10, 0.5, 5.0, flat_carry(), P)
    assert q.bid and q.reason == "profitable"
    assert q.fraction == 0.5
    assert q.gross == pytest.approx(400.0)
    assert q.risk_cost == pytest.approx(50.0)
    assert q.profit == pytest.approx(345.0)  # 400 − 5 − 50
    # front-running guard: payment per unit E·(1 − d)·(1 + slippage) = 10,000·0.9·1.01
    assert q.guard == pytest.approx(9_090.0)
    assert q.guard_wad() == pytest.approx(9_090 * 10**18, rel=1e-12)
    assert q.fraction_wad() == 5 * 10**17


def test_solvent_bid_waits_while_the_discount_does_not_pay():
    # d = 2.5%: gross 0.5·10,000·0.005 = 25 < gas 5 + risk 50
    q = quote_solvent(10_000.0, 0.025, 0.5, 5.0, flat_carry(), P)
    assert not q.bid and q.reason == "not-profitable"
    assert q.profit == pytest.approx(-30.0)


def test_solvent_bid_never_below_the_penalty():
    q = quote_solvent(10_000.0, 0.02, 0.5, 0.0, flat_carry(0.0), P)
    assert not q.bid and q.reason == "discount-below-penalty"


def test_a_risk_reducing_slice_is_not_charged():
    q = quote_solvent(10_000.0, 0.10, 0.5, 5.0, flat_carry(-2_000.0), P)
    assert q.risk_cost == 0.0 and q.profit == pytest.approx(395.0)


def capped_carry(f):
    """AE after 1,000; IM after 3,000·f: carried (AE >= 1.1·IM) up to f = 1000/3300 = 0.30303."""
    return Carry(im_before=0.0, im_after=3_000.0 * f, ae_after=1_000.0)


def test_fraction_is_the_largest_the_keeper_can_carry():
    f, c = largest_carried_fraction(0.5, capped_carry, 0.10)
    assert f == pytest.approx(1_000 / 3_300, abs=0.5 / 2**13)
    assert f <= 1_000 / 3_300 and c.carries(0.10)
    q = quote_solvent(10_000.0, 0.10, 0.5, 5.0, capped_carry, P)
    assert q.bid and q.fraction == pytest.approx(f)
    # gross f·E·0.08, risk 0.05·3,000·f
    assert q.profit == pytest.approx(f * 800.0 - 5.0 - 150.0 * f)


def test_keeper_that_cannot_carry_anything_does_not_bid():
    q = quote_solvent(10_000.0, 0.30, 0.5, 5.0, lambda f: Carry(0.0, 1.0 + f, 0.0), P)
    assert not q.bid and q.reason == "keeper-cannot-carry"


def test_insolvency_bonus_ramps_to_its_cap():
    assert insolvent_bonus(8_000.0, 0.0, P) == 0.0
    assert insolvent_bonus(8_000.0, 1_800.0, P) == pytest.approx(200.0)  # 5%·8,000·½
    assert insolvent_bonus(8_000.0, 7_200.0, P) == pytest.approx(400.0)  # capped at 5%·MM


def test_insolvent_bid_pays_when_the_bonus_covers_gas_and_risk():
    # E = −2,000, bonus 200: receipt 2,200; profit 200 − 5 − 0.05·1,000 = 145
    q = quote_insolvent(-2_000.0, 200.0, 5.0, flat_carry(), P)
    assert q.bid and q.fraction == 1.0
    assert q.profit == pytest.approx(145.0)
    assert q.guard == pytest.approx(2_200.0 * 0.99)  # minReceipt


def test_insolvent_bid_waits_for_the_bonus():
    q = quote_insolvent(-2_000.0, 0.0, 5.0, flat_carry(), P)
    assert not q.bid and q.profit == pytest.approx(-55.0)


def test_dust_accounts_are_cleared_at_a_bounded_loss():
    # whole take (f_max = 1) of E = $5.74 at d = 38%: gross 5.74·0.36 = 2.07 < gas 3.60
    q = quote_solvent(5.74, 0.38, 1.0, 3.6, flat_carry(0.0), P)
    assert q.bid and q.reason == "clears-dust"
    assert q.profit == pytest.approx(5.74 * 0.36 - 3.6)
    # not for a partial take, and not beyond the subsidy
    assert not quote_solvent(5.74, 0.38, 0.9, 3.6, flat_carry(0.0), P).bid
    assert not quote_solvent(5.74, 0.38, 1.0, 9.0, flat_carry(0.0), P).bid


def test_wrong_side_quotes_refuse():
    assert quote_solvent(-1.0, 0.5, 1.0, 0.0, flat_carry(), P).reason == "equity-not-positive"
    assert quote_insolvent(1.0, 100.0, 0.0, flat_carry(), P).reason == "equity-positive"


def test_gas_cost_in_usd():
    # 2,000,000 gas at 1 gwei = 0.002 ETH = $6 at $3,000
    assert gas_cost_usd(2_000_000, 10**9, 3_000.0) == pytest.approx(6.0)
