"""Margin under other regimes, for comparison with portfolio margin, and what-if margin of a trade.

- Isolated margin: every position and every risky collateral holding margined alone under the same
  SPEC §6 scenario model; the isolated IM of a book is the sum of the parts' IMs.
- Simple fixed-rate cross margin: the classic additive rule set (see `simple_cross_margin`).
- Incremental (what-if) margin: IM after a proposed trade, or a list of fills settled as the
  engine settles them (`apply_fills`), minus IM before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from .black_scholes import intrinsic
from .margin import AccountMargin, compute_margin, series_table
from .model import Account, MarketState, Option, Perp, Portfolios
from .scenarios import market_moves, scenario_weights


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
    x_w = market_moves(market) * scenario_weights(params)  # (U, 31)
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


DEFAULT_OPTION_FEE_CAP = 0.125  # an option fill's fee is at most this share of its premium


@dataclass(frozen=True)
class Fill:
    """A proposed fill from the account's side, as the engine's executeFill settles it (SPEC v2 §5).

    position: what the account receives (+ buys, − sells); a `Perp`'s entry is the fill price and
    its funding_owed is ignored. price: an option's premium per unit [USD] (None: no premium moves,
    e.g. when only IM matters); ignored for perps. fee_rate: the account's fee rate of the notional
    S·|q| (the engine's maker or taker rate) [fraction].
    """

    position: Perp | Option
    price: float | None = None
    fee_rate: float = 0.0


def apply_fills(
    market: MarketState,
    portfolios: Portfolios,
    account: int,
    fills: Sequence[Fill],
    option_fee_cap: float = DEFAULT_OPTION_FEE_CAP,
) -> Portfolios:
    """`portfolios` after `fills` settle on account index `account`, in order (SPEC v2 §5):

    - perp: the account's perp on that underlying realises its PnL q(p − entry) and its funding owed
      into cash at the fill price p, then carries size q + d at entry p with no funding owed;
    - option: the premium d·price leaves cash (a sale brings it in); the series' rows merge;
    - fee: fee_rate·S·|d| leaves cash, for an option at most option_fee_cap·|d|·price.
    Positions that reach zero are dropped. The counterparty is not modelled.
    """
    p = portfolios
    cash = p.cash.copy()
    accounts = p.to_accounts(market)
    perps = [(a, pp) for a, acc in enumerate(accounts) for pp in acc.perps]
    options = [(a, o) for a, acc in enumerate(accounts) for o in acc.options]
    for f in fills:
        pos = f.position
        spot = float(market.spot[market.slot(pos.feed)])
        fee = f.fee_rate * spot * abs(pos.size)
        if isinstance(pos, Perp):
            mine = [pp for a, pp in perps if a == account and pp.feed == pos.feed]
            cash[account] += sum(pp.size * (pos.entry - pp.entry) - pp.funding_owed for pp in mine)
            size = sum(pp.size for pp in mine) + pos.size
            perps = [(a, pp) for a, pp in perps if not (a == account and pp.feed == pos.feed)]
            if size != 0.0:
                perps.append((account, Perp(pos.feed, size, pos.entry)))
        else:
            if f.price is not None:
                cash[account] -= pos.size * f.price
                fee = min(fee, option_fee_cap * abs(pos.size) * f.price)
            terms = (pos.feed, pos.strike, pos.expiry, pos.is_call)

            def same(a, o, terms=terms):
                return a == account and (o.feed, o.strike, o.expiry, o.is_call) == terms

            size = sum(o.size for a, o in options if same(a, o)) + pos.size
            options = [(a, o) for a, o in options if not same(a, o)]
            if size != 0.0:
                options.append((account, replace(pos, size=size)))
        cash[account] -= fee
    out = Portfolios.from_accounts([Account(cash=0.0) for _ in range(p.n_accounts)], market)
    out = out.with_positions(perps=perps, options=options)
    return replace(out, account_ids=p.account_ids, cash=cash, collateral=p.collateral)


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
    trade: Perp | Option | Sequence[Fill],
    trade_price: float | None = None,
    option_fee_cap: float = DEFAULT_OPTION_FEE_CAP,
) -> WhatIf:
    """Margin of account index `account` before and after a proposed trade, or a list of fills.

    `trade` is one position (a perp trading at `trade.entry`, an option whose premium
    q·trade_price [USD per unit] leaves cash when `trade_price` is given; no fee) or a sequence of
    `Fill`s settled in order as `apply_fills` does (the engine's executeFill for the account's
    side: perp PnL and funding realised into cash at the fill price, premiums and fees in cash).
    Realising a perp's PnL leaves E and IM unchanged; it moves AE by the cash haircut. Both sides
    are full `compute_margin` runs on the one account.
    """
    one = portfolios.subset([account])
    if isinstance(trade, (Perp, Option)):
        trade = [Fill(trade, trade_price)]
    after = apply_fills(market, one, 0, trade, option_fee_cap)
    return WhatIf(compute_margin(market, one).account(0), compute_margin(market, after).account(0))
