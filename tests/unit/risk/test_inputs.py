"""Inputs: chain integers → floats in one place, the bench loader, account greeks."""

import numpy as np
import pytest

from keel.risk import (
    account_greeks,
    agrees,
    compare_breakdown,
    compute_margin,
    market_from_chain,
    portfolios_from_chain,
)
from keel.risk.bench_portfolios import DEFAULT_SNAPSHOT, load_bench
from keel.risk.chain_inputs import from_units, from_wad

from .helpers import BTC, ETH, market, one, option, perp

WAD = 10**18
T = 1_767_225_600


def chain_market():
    return market_from_chain(
        feeds={
            BTC: {"price": 60_000 * WAD, "vol": 6 * 10**17, "observedAt": T},
            ETH: (3_000 * WAD, 75 * 10**16, T),
        },
        tokens=[
            {
                "token": "WETH",
                "decimals": 18,
                "priceFeed": ETH,
                "linkedUnderlying": ETH,
                "baseHaircut": 5 * 10**16,
                "maxHaircut": 25 * 10**16,
                "refVol": 8 * 10**17,
            },
            {
                "token": "WBTC",
                "decimals": 8,
                "price": 59_990 * WAD,
                "priceFeed": BTC,
                "linkedUnderlying": BTC,
                "baseHaircut": 5 * 10**16,
                "maxHaircut": 25 * 10**16,
                "refVol": 8 * 10**17,
            },
        ],
        params={"correlation_credit": 4 * 10**17},
    )


def test_wad_and_token_units_convert_exactly():
    assert from_wad(1_500_000_000_000_000_000) == 1.5
    assert from_wad(-(10**18) // 4) == -0.25
    assert from_units(150_000_000, 8) == 1.5
    assert from_units(2_500_000, 6) == 2.5


def test_market_from_chain_fills_prices_links_and_params():
    m = chain_market()
    assert m.feed_ids.tolist() == [BTC, ETH]
    assert m.spot.tolist() == [60000.0, 3000.0] and m.vol.tolist() == [0.6, 0.75]
    weth, wbtc = m.tokens
    assert (weth.price, weth.linked_feed, weth.h0) == (3000.0, ETH, 0.05)  # price from its feed
    assert wbtc.price == 59990.0  # explicit price wins
    assert m.params.correlation_credit == 0.4 and m.settlement_haircut == 0.01


def test_portfolios_from_chain_matches_the_float_build():
    m = chain_market()
    accounts = [
        {
            "id": 42,
            "cash": -1234 * WAD,
            "collateral": {"WBTC": 25_000_000, "WETH": 3 * WAD},
            "perps": [{"feedId": BTC, "size": -WAD // 2, "entryPrice": 61_000 * WAD}],
            "options": [
                {
                    "feedId": ETH,
                    "strike": 3_300 * WAD,
                    "expiry": T + 30 * 86400,
                    "isCall": True,
                    "size": -10 * WAD,
                }
            ],
        }
    ]
    from_chain = compute_margin(m, portfolios_from_chain(accounts, m))
    by_hand = compute_margin(
        m,
        one(
            m,
            account_id=42,
            cash=-1234.0,
            collateral={"WBTC": 0.25, "WETH": 3.0},
            perps=[perp(BTC, -0.5, 61000.0)],
            options=[option(ETH, 3300.0, 30, True, -10.0)],
        ),
    )
    assert from_chain.account_ids.tolist() == [42]
    assert from_chain.account(0) == by_hand.account(0)


def test_compare_breakdown_flags_only_figures_outside_tolerance():
    bench = load_bench(["PM-16"])
    ref = compute_margin(bench.market, bench.portfolios).account(0)
    chain = {
        "equity": int(round(ref.equity * (1 + 5e-10) * WAD)),  # within 1e-9 relative
        "im": int(round(ref.im * (1 + 5e-9) * WAD)),  # outside
        "som": int(round(ref.som * WAD)),
        "underlyings": {BTC: (int(round(ref.underlyings[BTC][0] * WAD)), 3)},  # wrong index
    }
    problems = compare_breakdown(ref, chain)
    assert len(problems) == 2
    assert problems[0].startswith("im:") and problems[1].startswith("worst_1:")
    assert agrees(0.0, 5e-7) and not agrees(0.0, 2e-6)


def test_bench_loader_converts_days_strikes_and_collateral():
    bench = load_bench(["PM-16", "covered_call"], snapshot_time=DEFAULT_SNAPSHOT)
    m, p = bench.market, bench.portfolios
    assert m.feed_ids.tolist() == [1, 2] and m.observed_at.tolist() == [DEFAULT_SNAPSHOT] * 2
    assert [t.name for t in m.tokens] == ["WETH", "WBTC"]
    assert m.settlement_haircut == 0.01
    assert p.cash.tolist() == [200000.0, 0.0]  # USDC is cash
    assert p.collateral[:, m.token_index("WETH")].tolist() == [20.0, 10.0]
    assert set(p.opt_strike[p.opt_feed == ETH]) >= {2850.0, 3150.0, 3300.0}  # exact products
    days = (p.opt_expiry - DEFAULT_SNAPSHOT) / 86400
    assert set(days.tolist()) == {7.0, 30.0, 90.0}
    assert len(p.opt_size) == 14 + 1 and len(p.perp_size) == 2


def test_account_greeks_aggregate_positions_and_collateral():
    m = market()
    book = one(
        m,
        collateral={"WETH": 10.0},
        perps=[perp(BTC, 1.0, 60000.0)],
        options=[option(ETH, 3000.0, 30, True, -10.0), option(ETH, 3000.0, 30, False, 10.0)],
    )
    g = account_greeks(m, book)
    # long put + short call at one strike = −1 delta per pair (r = 0): 10 WETH − 10 = 0 on ETH
    assert g.delta[0].tolist() == pytest.approx([1.0, 0.0], abs=1e-12)
    assert g.delta_usd[0, 0] == pytest.approx(60000.0)
    assert np.allclose(g.gamma[0], 0.0, atol=1e-15) and np.allclose(g.vega[0], 0.0, atol=1e-9)


def test_the_model_takes_sigma_eff_from_the_raw_medians():
    """SPEC §6 [v2]: options are valued at the raw median σ; σ_eff = max(σ, σ_floor) per feed
    (MarketState.vol_eff) sets the scan ranges and haircuts; a feed without a floor keeps σ."""
    m = market_from_chain(
        feeds={
            BTC: {
                "price": 60_000 * WAD,
                "vol": 4 * 10**17,
                "volFloor": 65 * 10**16,
                "observedAt": T,
            },
            ETH: {"price": 3_000 * WAD, "vol": 9 * 10**17, "volFloor": 7 * 10**17, "observedAt": T},
            3: (10 * WAD, 5 * 10**17, T),
        },
    )
    assert m.vol.tolist() == [0.4, 0.9, 0.5]
    assert m.vol_floor.tolist() == [0.65, 0.7, 0.0]
    assert m.vol_eff.tolist() == [0.65, 0.9, 0.5]
    assert m.correlations == {}  # v2's scan risk, as the engine's (no pair reported here)


def test_a_floor_equal_to_the_vol_and_one_wei_above_it():
    def vols(sigma, floor):
        feeds = {BTC: {"price": WAD, "vol": sigma, "volFloor": floor, "observedAt": T}}
        m = market_from_chain(feeds)
        return m.vol[0], m.vol_eff[0]

    assert vols(5 * 10**17, 5 * 10**17) == (0.5, 0.5)
    assert vols(5 * 10**17, 5 * 10**17 + 10**6) == (0.5, (5 * 10**17 + 10**6) / WAD)
