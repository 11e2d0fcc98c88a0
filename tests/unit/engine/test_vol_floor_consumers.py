"""[v2] σ_eff = max(σ, σ_floor) sets scan ranges and haircuts; options are valued at σ (SPEC §6).

The Oracle stores σ_eff as the feed's vol, so the margin engine and the store (scan ranges),
the vault's dynamic haircuts and the lens read it through their unchanged calls; the store values
options at the raw σ it reads from the Oracle (`volInputs`). The reference model's chain reader
(keel.risk_chain) reads the raw medians and the pairs' ρ and takes the max itself. Expected figures are the SPEC's formulas evaluated here, not the contracts' code.
"""

import math

import pytest

from keel.deploy_engine import BTC, ETH, WAD, open_account, push_prices
from keel.deploy_oracle import make_correlation_report
from keel.risk.chain_inputs import market_from_reader
from keel.risk_chain import chain_breakdown, read_market

SIGMA = WAD // 2  # raw BTC vol 50%: its scan range would sit at R_min
FLOOR = 12 * WAD // 10  # BTC floor 120%: binds


@pytest.fixture(scope="module")
def floored(stack, alice):
    """BTC reported at σ 50% under a 120% floor, ETH at 75% over a 50% floor; alice holds 2 WBTC,
    so BTC's scenarios move her collateral and her breakdown lists BTC's scan range."""
    push_prices(
        stack, {BTC: (60_000 * WAD, SIGMA, FLOOR), ETH: (3_000 * WAD, 3 * WAD // 4, WAD // 2)}
    )
    account = open_account(stack, alice, {"WBTC": 2})
    return stack, account


def test_the_feed_vol_is_sigma_eff(floored):
    stack, _ = floored
    assert stack.oracle.feed(BTC)[1] == FLOOR
    assert stack.oracle.freshFeed(BTC)[1] == FLOOR
    assert tuple(stack.oracle.volInputs(BTC)) == (SIGMA, FLOOR)
    assert stack.oracle.feed(ETH)[1] == 3 * WAD // 4  # σ above its floor


def test_the_engine_scan_range_uses_sigma_eff(floored):
    """R = clamp(2.576 σ_eff √(2/365), 16%, 50%) = 3.0912 * 0.0740233 = 0.228821 (raw σ = 50%
    would give 0.0953 -> R_min 16%)."""
    stack, account = floored
    expected = 2.576 * 1.2 * math.sqrt(2 / 365)
    assert expected == pytest.approx(0.228821, abs=1e-6)
    r = chain_breakdown(stack.engine, account)["scan_ranges"][BTC] / WAD
    assert r == pytest.approx(expected, rel=1e-12)


def test_the_vault_haircut_uses_sigma_eff(floored):
    """h = min(h_max, h0 max(1, σ_eff / σ_ref)) = 5% * 1.2 / 0.8 = 7.5% (raw σ: 5%)."""
    stack, _ = floored
    assert stack.vault.haircut(stack.wbtc) == 75 * WAD // 1000


def test_the_chain_reader_gives_raw_values_and_the_model_takes_the_max(floored):
    stack, account = floored
    oracle = stack.oracle
    _, seen, round_ = oracle.correlation(BTC, ETH)
    t = max(oracle.feed(BTC)[2], seen) + 1
    corr = make_correlation_report(
        oracle, BTC, ETH, round_ + 1, t, [(k, -3 * WAD // 10) for k in stack.signer_keys[:3]]
    )
    oracle.submitWithCorrelations([], [corr], {"from": stack.deployer})
    ints = read_market(stack.engine, stack.vault, oracle, [], [BTC, ETH])
    feeds, *_, correlations = ints
    assert (feeds[BTC]["vol"], feeds[BTC]["volFloor"]) == (SIGMA, FLOOR)
    assert (feeds[ETH]["vol"], feeds[ETH]["volFloor"]) == (3 * WAD // 4, WAD // 2)
    assert correlations == {(BTC, ETH): -3 * WAD // 10}
    m = market_from_reader(ints)
    assert m.vol.tolist() == [SIGMA / WAD, 0.75]
    assert m.vol_floor.tolist() == [FLOOR / WAD, 0.5]
    assert m.vol_eff.tolist() == [max(SIGMA, FLOOR) / WAD, 0.75]
    assert m.correlations == {(BTC, ETH): -0.3}  # the v2 scan risk's input, as on chain


def test_options_are_valued_at_the_raw_sigma_not_sigma_eff(floored):
    """SPEC v2 §6: σ_eff sets scan ranges and haircuts only. A 30-day ATM BTC call is worth
    BS(σ = 50%) per unit (40-digit Black-Scholes), not BS(σ_eff = 120%), so a fill at the market's
    price stays inside the price band and a long option is not credited for the floor."""
    from tests.fixtures.engine import option
    from tests.unit.risk.helpers import mp_bs

    stack, _ = floored
    spot, _, observed = stack.oracle.freshFeed(BTC)
    instrument = option(stack, BTC, 60_000 * WAD, 30)
    sid = instrument - (1 << 128)
    tau = (int(stack.store.series(sid)[1]) - observed) / (365 * 86400)  # [years] (expiry)
    value = stack.store.unitValue(sid, (BTC, spot, FLOOR, observed)) / WAD  # [USD]
    assert value == pytest.approx(mp_bs(spot / WAD, 60_000, SIGMA / WAD, tau, True), rel=1e-9)
    assert value < 0.5 * mp_bs(spot / WAD, 60_000, FLOOR / WAD, tau, True)


def test_a_market_that_is_not_the_current_one_cannot_be_valued(floored):
    """The store values at the Oracle's current raw σ, so a market whose vol is not the current
    σ_eff reverts MarketNotCurrent (one wei either side of it), instead of a silent mix."""
    from tests.fixtures.engine import option
    from tests.support import reverts

    stack, _ = floored
    spot, vol, observed = stack.oracle.freshFeed(BTC)
    sid = option(stack, BTC, 61_000 * WAD, 30) - (1 << 128)
    assert stack.store.unitValue(sid, (BTC, spot, vol, observed)) > 0
    for other in (vol - 1, vol + 1, SIGMA):
        with reverts("MarketNotCurrent", BTC, other):
            stack.store.unitValue(sid, (BTC, spot, other, observed))


def test_attack_a_long_option_is_not_credited_for_the_floor(floored, alice_pm, bob_pm):
    """Who would gain if options were valued at σ_eff: a buyer paying the market's price V(σ)
    would be credited q·(V(σ_eff) − V(σ)) of equity it never paid for, withdrawable until the floor
    stops binding (then bad debt); and a colluding pair could trade at the floor-inflated price
    V(σ_eff) to move cash between accounts. On chain: buying 1 BTC call at the band's centre
    costs the buyer exactly the maker fee of equity (premium paid = value held), and the inflated
    price is refused by the price band (INV-9), one wei past its edge."""
    from tests.fixtures.engine import option, trade
    from tests.support import reverts
    from tests.unit.engine.helpers import breakdown
    from tests.unit.risk.helpers import mp_bs

    stack, _ = floored
    spot, vol, observed = stack.oracle.freshFeed(BTC)
    call = option(stack, BTC, 60_000 * WAD, 30)
    sid = call - (1 << 128)
    tau = (int(stack.store.series(sid)[1]) - observed) / (365 * 86400)  # [years]
    fair = stack.store.unitValue(sid, (BTC, spot, vol, observed))  # the band's centre
    assert fair / WAD == pytest.approx(mp_bs(spot / WAD, 60_000, SIGMA / WAD, tau, True), rel=1e-9)
    e0 = breakdown(stack, alice_pm[0])["E"]
    tx = trade(stack, alice_pm, bob_pm, call, WAD, fair)
    maker_fee = tx.return_value[0]
    assert breakdown(stack, alice_pm[0])["E"] == e0 - maker_fee

    inflated = int(mp_bs(spot / WAD, 60_000, FLOOR / WAD, tau, True) * WAD)  # V(σ_eff)
    width = spot * 5 // 1_000 + fair * 10 // 100  # 0.5%·S + 10%·V (SPEC v2 §5)
    lo, hi = fair - width, fair + width
    assert inflated > 2 * hi
    for price in (inflated, hi + 1):
        with reverts("PriceOutsideBand", call, price, lo, hi):
            trade(stack, bob_pm, alice_pm, call, WAD, price)
    trade(stack, bob_pm, alice_pm, call, WAD, hi)  # the edge itself fills
