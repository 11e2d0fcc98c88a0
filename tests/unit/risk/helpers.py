"""Small builders shared by the risk tests."""

from __future__ import annotations

import mpmath

from keel.risk import Account, CollateralToken, MarketState, Option, Perp, Portfolios

T0 = 1_767_225_600  # snapshot / observedAt of every feed                           [unix s]
DAY = 86400
BTC, ETH = 1, 2

mpmath.mp.dps = 40


def tokens(weth_price=3000.0, wbtc_price=60000.0):
    return [
        CollateralToken("WETH", weth_price, 18, ETH, 0.05, 0.25, 0.80),
        CollateralToken("WBTC", wbtc_price, 8, BTC, 0.05, 0.25, 0.80),
    ]


def market(btc=(60000.0, 0.6), eth=(3000.0, 0.75), **kw) -> MarketState:
    """Bench-like market: BTC and ETH observed at T0, WETH/WBTC collateral."""
    return MarketState.build(
        {BTC: (btc[0], btc[1], T0), ETH: (eth[0], eth[1], T0)},
        kw.pop("tokens", tokens(eth[0], btc[0])),
        **kw,
    )


def one(m: MarketState, **acc) -> Portfolios:
    return Portfolios.from_accounts([Account(**acc)], m)


def perp(feed, size, entry, funding=0.0):
    return Perp(feed, size, entry, funding)


def option(feed, strike, days, is_call, size):
    return Option(feed, strike, T0 + int(round(days * DAY)), is_call, size)


def mp_bs(spot, strike, vol, tau, is_call) -> float:
    """Black–Scholes (r = 0) in 40-digit arithmetic, for hand figures."""
    s, k, v, t = (mpmath.mpf(spot), mpmath.mpf(strike), mpmath.mpf(vol), mpmath.mpf(tau))
    sst = v * mpmath.sqrt(t)
    d1 = (mpmath.log(s / k) + sst**2 / 2) / sst
    d2 = d1 - sst
    if is_call:
        return float(s * mpmath.ncdf(d1) - k * mpmath.ncdf(d2))
    return float(k * mpmath.ncdf(-d2) - s * mpmath.ncdf(-d1))
