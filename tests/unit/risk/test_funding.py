"""Funding of SPEC §4 in the reference model (keel.risk.funding) and its chain inputs.

Expected figures are closed forms (worked by hand below) or exact rational arithmetic
(fractions.Fraction on the wad integers), never the model compared with itself.
"""

from fractions import Fraction

import pytest

from keel.risk import compute_margin
from keel.risk.chain_inputs import (
    account_from_chain,
    funding_from_chain,
    market_from_chain,
    portfolios_from_chain,
)
from keel.risk.funding import PerpFunding, funding_owed, funding_rate, index_accrued

from .helpers import BTC, ETH, T0

WAD = 10**18
CAP = 0.0005  # SPEC §4 cap: 0.05 % per hour                                     [fraction / h]
CAP_PER_S = CAP / 3600  # the same per second                                    [fraction / s]
CAP_WAD = 5 * 10**14  # the cap as the engine stores it (fundingCapPerHour)       [wad / h]


def test_rate_is_the_premium_over_eight_hours_inside_the_cap():
    # mark 0.2 % above the spot: 0.002 / 28,800 s
    assert funding_rate(60_120.0, 60_000.0, CAP) == pytest.approx(0.002 / 28_800, rel=1e-14)
    assert funding_rate(59_880.0, 60_000.0, CAP) == pytest.approx(-0.002 / 28_800, rel=1e-14)


def test_rate_is_capped_at_the_hourly_cap_both_ways():
    # the cap binds where premium / 8 h = cap / 1 h: a premium of 8 · 0.05 % = 0.4 %
    assert funding_rate(60_000 * 1.0039, 60_000.0, CAP) == pytest.approx(0.0039 / 28_800, 1e-12)
    assert funding_rate(60_000 * 1.0041, 60_000.0, CAP) == CAP_PER_S
    assert funding_rate(60_000 * 0.9959, 60_000.0, CAP) == -CAP_PER_S
    assert funding_rate(60_000 * 1.5, 60_000.0, CAP) == CAP_PER_S
    assert funding_rate(60_120.0, 60_000.0, 0.0) == 0.0  # a zero cap stops funding


def test_no_mark_no_funding():
    assert funding_rate(0.0, 60_000.0, CAP) == 0.0
    assert index_accrued(PerpFunding(T0, 0.0, CAP), 60_000.0, T0 + 3_600) == 0.0


def test_rate_works_on_arrays():
    rates = funding_rate([60_120.0, 0.0, 90_000.0], [60_000.0, 60_000.0, 60_000.0], CAP)
    assert rates.tolist() == pytest.approx([0.002 / 28_800, 0.0, CAP_PER_S], rel=1e-14)


def test_index_grows_by_rate_times_time_times_spot():
    # 0.2 % premium for 30 min at S = 60,000: 0.002 · 1,800 / 28,800 · 60,000 = $7.50 per unit
    state = PerpFunding(last_accrual=T0, mark=60_120.0, cap_per_hour=CAP)
    assert index_accrued(state, 60_000.0, T0 + 1_800) == pytest.approx(7.5, rel=1e-14)
    assert index_accrued(state, 60_000.0, T0) == 0.0
    # capped: 0.05 %/h for 2 h of a 60,000 spot = $60 per unit
    capped = PerpFunding(T0, 66_000.0, CAP)
    assert index_accrued(capped, 60_000.0, T0 + 7_200) == pytest.approx(60.0, rel=1e-14)


def test_time_before_the_last_accrual_is_refused():
    with pytest.raises(ValueError, match="before the last funding accrual"):
        index_accrued(PerpFunding(T0, 60_120.0, CAP), 60_000.0, T0 - 1)


def test_longs_pay_a_rising_index_and_shorts_receive_it():
    assert funding_owed(2.0, 7.5) == 15.0
    assert funding_owed(-2.0, 7.5) == -15.0
    assert funding_owed(2.0, -7.5) == -15.0


# --- From chain integers ---

SPOT = 60_000 * WAD


def chain_market():
    return market_from_chain(
        {BTC: (SPOT, 6 * WAD // 10, T0), ETH: (3_000 * WAD, 75 * WAD // 100, T0)}
    )


def exact_owed(size, stored, at_entry, mark, last, now, spot=SPOT, cap=CAP_WAD):
    """q·(stored − at entry + clamp((mark − S)/S / 28,800, ± cap/3,600)·dt·S) in exact rationals
    (no accrual without a mark)."""
    premium = Fraction(mark - spot, spot) / 28_800
    bound = Fraction(cap, WAD) / 3_600
    rate = max(-bound, min(bound, premium)) if mark else 0
    growth = rate * (now - last) * Fraction(spot, WAD)
    return Fraction(size, WAD) * (Fraction(stored - at_entry, WAD) + growth)


@pytest.mark.parametrize(
    "size, stored, at_entry, mark, last, now",
    [
        # long, 0.15 % premium, 40 min since the last accrual, index moved since entry
        (3 * WAD, 41_234_567_890_123_456_789, 40_000_000_000_000_000_001, 60_090 * WAD, T0 - 2_400, T0),
        # short, capped discount, a large index far from zero (cancellation stays exact)
        (-7 * WAD // 10, -(10**26) + 17, -(10**26) + 5 * WAD, 59_000 * WAD, T0 - 86_400, T0),
        # no mark yet: only the stored index change counts
        (WAD, 5 * WAD, 2 * WAD, 0, T0 - 3_600, T0),
    ],
)  # fmt: skip
def test_funding_owed_from_the_index_inputs_is_exact_to_float_precision(
    size, stored, at_entry, mark, last, now
):
    m = chain_market()
    funding = funding_from_chain(
        {BTC: {"fundingIndex": stored, "lastAccrual": last, "mark": mark}}, CAP_WAD, now, m
    )
    acc = {
        "id": 1,
        "perps": [
            {"feedId": BTC, "size": size, "entryPrice": SPOT, "fundingIndexAtEntry": at_entry}
        ],
    }
    (perp,) = account_from_chain(acc, m, funding).perps
    expected = float(exact_owed(size, stored, at_entry, mark, last, now))
    assert perp.funding_owed == pytest.approx(expected, rel=1e-12, abs=1e-12)
    # and it is what equity loses: E = cash + q(S − entry) − owed with entry = S
    e = compute_margin(m, portfolios_from_chain([acc], m, funding)).equity[0]
    assert e == pytest.approx(-expected, rel=1e-12, abs=1e-12)


def test_the_chain_view_of_funding_owed_still_works_without_index_inputs():
    acc = {"id": 1, "perps": [{"feedId": BTC, "size": WAD, "entryPrice": SPOT, "fundingOwed": WAD}]}
    assert account_from_chain(acc, chain_market()).perps[0].funding_owed == 1.0


def test_an_index_at_entry_without_funding_inputs_is_refused():
    acc = {
        "id": 1,
        "perps": [{"feedId": ETH, "size": WAD, "entryPrice": SPOT, "fundingIndexAtEntry": 0}],
    }
    with pytest.raises(KeyError, match="perp on feed 2 has fundingIndexAtEntry but no funding"):
        account_from_chain(acc, chain_market(), {BTC: (0, 0.0)})


def test_the_readers_dict_with_both_uses_the_model_only_when_given_inputs():
    """The keepers' and the SDK's reader carry the index at entry and the chain's fundingOwed: without
    funding inputs the chain's figure is used; with them, the model's own (the differential test)."""
    acc = {
        "id": 1,
        "perps": [
            {"feedId": BTC, "size": WAD, "entryPrice": SPOT, "fundingIndexAtEntry": 0,
             "fundingOwed": 7 * WAD}
        ],
    }  # fmt: skip
    assert account_from_chain(acc, chain_market()).perps[0].funding_owed == 7.0
    assert (
        account_from_chain(acc, chain_market(), {BTC: (3 * WAD, 0.0)}).perps[0].funding_owed == 3.0
    )
