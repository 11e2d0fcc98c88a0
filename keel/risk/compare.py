"""Margin under other regimes, for comparison with portfolio margin, and what-if margin of a trade.

- Isolated margin: every position and every risky collateral holding margined alone under the same
  SPEC §6 scenario model; the isolated IM of a book is the sum of the parts' IMs.
- Simple fixed-rate cross margin: the classic additive rule set (see `simple_cross_margin`).
- Incremental (what-if) margin: IM after a proposed trade minus IM before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .black_scholes import intrinsic
from .margin import AccountMargin, compute_margin, series_table
from .model import MarketState, Option, Perp, Portfolios
from .scenarios import scan_range, scenario_weights, spot_moves


@dataclass(frozen=True)
class IsolatedMargin:
    """Isolated IM per account (N,), split by kind of part, USD."""

    options: np.ndarray  # Σ over option rows of max(L_part, SOM_part)
    perps: np.ndarray  # Σ over perp rows of L_part
    collateral: np.ndarray  # Σ over risky collateral holdings of L_part (a held WETH is spot)

    @property
    def im(self) -> np.ndarray:
        return self.options + self.perps + self.collateral


def _worst_unit_losses(pnl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Worst loss per long unit and per short unit of a scenario P&L array (..., 31)."""
    return np.maximum(0.0, -pnl.min(axis=-1)), np.maximum(0.0, pnl.max(axis=-1))


def isolated_margin(market: MarketState, portfolios: Portfolios) -> IsolatedMargin:
    """Every part margined alone: IM_part = max(L_u(part), SOM(part)) with one underlying.

    With a single underlying L_J = L_u, so SR = L_u: the part's IM is its worst weighted scenario
    loss, floored by the short-option minimum for a short option. A perp of size q loses
    |q|·S·R_u; a collateral holding of a tokens priced P and linked to u is a long spot position
    losing a·P·R_u; an unlinked (stable) holding has no scenario risk. Haircuts are not part of IM:
    they lower AE under every regime alike.
    """
    p, params, n = portfolios, market.params, portfolios.n_accounts
    x_w = spot_moves(scan_range(market.vol, params), params) * scenario_weights(params)  # (U, 31)
    lin_long, lin_short = _worst_unit_losses(x_w)  # (U,) per $ of long / short notional

    table = series_table(market, p)
    opt_long, opt_short = _worst_unit_losses(table.pnl)
    s = table.position_series
    q = p.opt_size
    loss = np.where(q > 0, q * opt_long[s], -q * opt_short[s])
    som = np.where(
        (q < 0) & ~table.settled[s], params.som_rate * -q * market.spot[table.slot[s]], 0
    )
    options = np.bincount(p.opt_account, weights=np.maximum(loss, som), minlength=n)

    slot = market.slot(p.perp_feed)
    notional = p.perp_size * market.spot[slot]
    perp_loss = np.where(notional > 0, notional * lin_long[slot], -notional * lin_short[slot])
    perps = np.bincount(p.perp_account, weights=perp_loss, minlength=n)

    collateral = np.zeros(n)
    for i, t in enumerate(market.tokens):
        if t.linked_feed:
            u = market.slot(t.linked_feed)
            value = p.collateral[:, i] * t.price
            collateral += np.where(value > 0, value * lin_long[u], -value * lin_short[u])
    return IsolatedMargin(options, perps, collateral)


@dataclass(frozen=True)
class SimpleCrossParams:
    """Fixed rates of the classic cross-margin rule set (CBOE-style short options)."""

    perp_rate: float = 0.10  # perps: this fraction of notional |q|·S             [fraction]
    short_option_rate: float = 0.15  # a: short options, a·S − OTM amount          [fraction]
    short_option_floor: float = 0.10  # b: short options at least b·S             [fraction]


DEFAULT_SIMPLE_RATES = SimpleCrossParams()


@dataclass(frozen=True)
class SimpleCrossMargin:
    """IM per account (N,) under fixed-rate cross margin, split by kind, USD."""

    perps: np.ndarray
    short_options: np.ndarray
    long_options: np.ndarray

    @property
    def im(self) -> np.ndarray:
        return self.perps + self.short_options + self.long_options


def simple_cross_margin(
    market: MarketState, portfolios: Portfolios, rates: SimpleCrossParams = DEFAULT_SIMPLE_RATES
) -> SimpleCrossMargin:
    """Classic fixed-rate cross margin: additive per-position requirements, no offsets.

    Rules (per position, summed per account; S spot, V the option's mark value V(S, σ, τ)):
      - perp: perp_rate·|q|·S (default 10% of notional);
      - short option: |q|·(V + max(a·S − OTM, b·S)), OTM = max(0, K − S) for a call and
        max(0, S − K) for a put (defaults a = 15%, b = 10%, CBOE-style);
      - long option: its premium q·V (paid in full: a long option gives no margin credit);
      - options whose expiry price is fixed: nothing (they are cash).
    Collateral counts with its haircut exactly as in AE (`compute_margin(...).adjusted_equity`), so
    the account may trade while AE ≥ this IM.
    """
    p, n = portfolios, portfolios.n_accounts
    slot = market.slot(p.perp_feed)
    perps = np.bincount(
        p.perp_account,
        weights=rates.perp_rate * np.abs(p.perp_size) * market.spot[slot],
        minlength=n,
    )
    table = series_table(market, p)
    s = table.position_series
    spot = market.spot[table.slot[s]]
    strike, is_call, q = p.opt_strike, p.opt_is_call, p.opt_size
    live = ~table.settled[s]
    value = table.value[s]
    otm = intrinsic(strike, spot, is_call)  # max(0, K − S) for calls, max(0, S − K) for puts
    short_req = np.abs(q) * (
        value + np.maximum(rates.short_option_rate * spot - otm, rates.short_option_floor * spot)
    )
    short = (q < 0) & live
    long_ = (q > 0) & live
    return SimpleCrossMargin(
        perps=perps,
        short_options=np.bincount(p.opt_account[short], weights=short_req[short], minlength=n),
        long_options=np.bincount(p.opt_account[long_], weights=(q * value)[long_], minlength=n),
    )


@dataclass(frozen=True)
class WhatIf:
    """Margin of one account before and after a proposed trade (USD)."""

    before: AccountMargin
    after: AccountMargin

    @property
    def incremental_im(self) -> float:
        """IM after − IM before (negative: the trade reduces risk)."""
        return self.after.im - self.before.im

    @property
    def passes_im_after(self) -> bool:
        return self.after.adjusted_equity >= self.after.im


def what_if(
    market: MarketState,
    portfolios: Portfolios,
    account: int,
    trade: Perp | Option,
    trade_price: float | None = None,
) -> WhatIf:
    """Incremental margin of adding `trade` to account index `account`.

    The trade is appended as a new position row (the same series as an existing row simply adds).
    A perp trades at `trade.entry`. An option's premium q·trade_price [USD per unit] leaves cash when
    `trade_price` is given (fees are left out); without it cash is unchanged, which does not affect
    IM. Both sides are full `compute_margin` runs on the one account.
    """
    one = portfolios.subset([account])
    cash_delta = None
    if isinstance(trade, Perp):
        after = one.with_positions(perps=[(0, trade)])
    else:
        if trade_price is not None:
            cash_delta = np.array([-trade.size * trade_price])
        after = one.with_positions(options=[(0, trade)], cash_delta=cash_delta)
    return WhatIf(compute_margin(market, one).account(0), compute_margin(market, after).account(0))
