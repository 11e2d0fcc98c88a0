"""The reference model (keel.risk) as the keeper uses it: a pre-filter and the keeper's what-if.

Pre-filter. `screen` recomputes every followed account's margin off-chain from its cached positions
and the market (one vectorised `compute_margin` over the whole population, a few ms for thousands of
accounts) and returns the accounts worth asking the chain about: model AE < MM·(1 + tolerance) + an
absolute slack. The tolerance covers what the model cannot see between reads (funding accrued since
the positions were read, rounding); the chain's own breakdown decides every action.

What-if. `absorb` builds the keeper's account after taking fraction f of a liquidated account (f of
every balance and position, cash moved by the payment), and `carry` compares the keeper's margin
before and after with the same `compute_margin` that keel.risk.what_if uses for a single trade.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from keel.risk import Account, MarketState, Option, Perp, Portfolios, compute_margin
from keel.risk.chain_inputs import account_from_chain

from .rules import Carry


@dataclass(frozen=True)
class Screen:
    """Model margins of a population (USD) and the candidates for an on-chain check."""

    account_ids: list[int]
    equity: np.ndarray
    adjusted_equity: np.ndarray
    im: np.ndarray
    mm: np.ndarray
    candidates: list[int]

    def figures(self, account_id: int) -> dict:
        i = self.account_ids.index(account_id)
        return {
            "equity": float(self.equity[i]),
            "adjusted_equity": float(self.adjusted_equity[i]),
            "im": float(self.im[i]),
            "mm": float(self.mm[i]),
        }


def to_accounts(accounts: Sequence[Mapping], market: MarketState) -> list[Account]:
    return [account_from_chain(a, market) for a in accounts]


def screen(
    market: MarketState,
    accounts: Sequence[Account],
    tolerance: float = 0.05,
    slack: float = 1.0,
) -> Screen:
    """Model margin of every account; candidates have AE < MM·(1 + tolerance) + slack."""
    if not accounts:
        empty = np.zeros(0)
        return Screen([], empty, empty, empty, empty, [])
    return screen_portfolios(market, Portfolios.from_accounts(accounts, market), tolerance, slack)


def screen_portfolios(
    market: MarketState,
    portfolios: Portfolios,
    tolerance: float = 0.05,
    slack: float = 1.0,
) -> Screen:
    """`screen` of columnar portfolios (the keeper's index assembles them without Account
    objects: keeper.index.AccountIndex.portfolios)."""
    ids = [int(a) for a in portfolios.account_ids]
    if not ids:
        empty = np.zeros(0)
        return Screen([], empty, empty, empty, empty, [])
    r = compute_margin(market, portfolios)
    flagged = r.adjusted_equity < r.mm * (1.0 + tolerance) + slack
    # an account with no risk and positive equity can never be liquidated
    flagged &= (r.mm > 0) | (r.equity <= 0)
    return Screen(
        ids,
        r.equity,
        r.adjusted_equity,
        r.im,
        r.mm,
        [ids[i] for i in np.flatnonzero(flagged)],
    )


def absorb(keeper: Account, victim: Account, fraction: float, cash_delta: float) -> Account:
    """The keeper's account after taking `fraction` of `victim` and `cash_delta` USD of cash."""
    collateral = dict(keeper.collateral)
    for token, amount in victim.collateral.items():
        collateral[token] = collateral.get(token, 0.0) + fraction * amount
    perps = list(keeper.perps) + [
        Perp(p.feed, fraction * p.size, p.entry, fraction * p.funding_owed) for p in victim.perps
    ]
    options = list(keeper.options) + [
        Option(o.feed, o.strike, o.expiry, o.is_call, fraction * o.size) for o in victim.options
    ]
    return Account(
        account_id=keeper.account_id,
        cash=keeper.cash + fraction * victim.cash + cash_delta,
        collateral=collateral,
        perps=perps,
        options=options,
    )


def carry(
    market: MarketState, keeper: Account, victim: Account, fraction: float, cash_delta: float
) -> Carry:
    """The keeper's IM before, and IM and AE after absorbing `fraction` of `victim`."""
    after = absorb(keeper, victim, fraction, cash_delta)
    r = compute_margin(market, Portfolios.from_accounts([keeper, after], market))
    return Carry(float(r.im[0]), float(r.im[1]), float(r.adjusted_equity[1]))
