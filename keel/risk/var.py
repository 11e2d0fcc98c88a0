"""Historical-simulation VaR and expected shortfall by full revaluation, vectorised across accounts.

Input: K scenarios of one-day moves per underlying, `spot_returns[k, u]` (simple returns, S' = S(1 + r))
and optionally `vol_returns[k, u]` (relative vol changes, σ' = σ(1 + v), floored at 1e-4) or instead
`vol_states[k, u]` (the SPEC §6 vol state σ, σ_up or σ_dn of every option, from its own τ), columns in
`MarketState.feed_ids` order. Every position is revalued: perps q·S·r, linked collateral a·P·r,
options q·(V(S', σ', τ − h) − V(S, σ, τ)) with h the horizon (time decay included by default);
cash, unlinked collateral and settled options do not move.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .black_scholes import bs_price
from .margin import _token_link_matrix, series_table
from .model import MarketState, Portfolios
from .scenarios import vol_states as spec_vol_states

_MIN_VOL = 1e-4


def portfolio_pnl(
    market: MarketState,
    portfolios: Portfolios,
    spot_returns,
    vol_returns=None,
    horizon_days: float = 1.0,
    vol_states=None,
) -> np.ndarray:
    """(N, K) P&L of every account in every scenario [USD].

    vol_states: (K, U) ints 0 (σ), 1 (σ_up), 2 (σ_dn) (keel.risk.scenarios.vol_states, from each
    option's τ now), instead of vol_returns."""
    p, n = portfolios, portfolios.n_accounts
    r = np.atleast_2d(np.asarray(spot_returns, float))
    k, n_u = r.shape
    if n_u != market.n_underlyings:
        raise ValueError(f"spot_returns has {n_u} columns, the market {market.n_underlyings} feeds")
    v = np.zeros_like(r) if vol_returns is None else np.atleast_2d(np.asarray(vol_returns, float))
    if vol_states is not None:
        if vol_returns is not None:
            raise ValueError("give vol_returns or vol_states, not both")
        states = np.atleast_2d(np.asarray(vol_states, np.int64))
        if states.shape != r.shape or np.any((states < 0) | (states > 2)):
            raise ValueError(f"vol_states must be {r.shape} ints in 0..2 (σ, σ_up, σ_dn)")

    # Linear part: dollar exposure per (account, underlying) times the return.
    slot = market.slot(p.perp_feed)
    linear = np.bincount(
        p.perp_account * n_u + slot, weights=p.perp_size * market.spot[slot], minlength=n * n_u
    ).reshape(n, n_u)
    link = _token_link_matrix(market)
    if link.size:
        linear = linear + p.collateral @ link
    pnl = linear @ r.T

    table = series_table(market, p)
    if len(table.value):
        s = table.slot
        tau = np.maximum(0.0, table.tau - horizon_days / 365.0)
        spot_k = market.spot[s][:, None] * (1.0 + r[:, s].T)  # (n_series, K)
        if vol_states is None:
            vol_k = np.maximum(market.vol[s][:, None] * (1.0 + v[:, s].T), _MIN_VOL)
        else:  # (n_series, 3) vols of each series, picked per scenario
            vols = spec_vol_states(market.vol[s], table.tau, market.params)
            vol_k = np.take_along_axis(vols, states[:, s].T, axis=1)
        moved = bs_price(spot_k, table.strike[:, None], vol_k, tau[:, None], table.is_call[:, None])
        series_pnl = np.where(table.settled[:, None], 0.0, moved - table.value[:, None])
        m = sparse.csr_matrix(
            (p.opt_size, (p.opt_account, table.position_series)), shape=(n, len(table.value))
        )
        pnl = pnl + m @ series_pnl
    return pnl


def var_es(pnl, alpha: float = 0.99) -> tuple[np.ndarray, np.ndarray]:
    """Empirical VaR and ES at level `alpha` of P&L samples along the last axis (losses positive).

    With n samples and losses L sorted from largest, L₍₁₎ ≥ L₍₂₎ ≥ …:
      VaR = the α-quantile of the loss distribution, inf{ℓ : #{L ≤ ℓ}/n ≥ α} = L₍ₖ₎ with
            k = n − ⌈n·α⌉ + 1 (for n = 100, α = 99%: the second-largest loss);
      ES  = the mean of the worst n(1 − α) losses, counting the boundary loss fractionally
            (Acerbi–Tasche): (Σ_{i ≤ m} L₍ᵢ₎ + (n(1 − α) − m)·L₍ₘ₊₁₎) / (n(1 − α)), m = ⌊n(1 − α)⌋.
    ES ≥ VaR always. Both can be negative for a book that gains in every scenario.
    """
    losses = -np.asarray(pnl, float)
    n = losses.shape[-1]
    if n == 0 or not 0.0 < alpha < 1.0:
        raise ValueError("need at least one sample and 0 < alpha < 1")
    desc = -np.sort(-losses, axis=-1)  # largest loss first
    k = n - math.ceil(n * alpha - 1e-9) + 1
    var = desc[..., k - 1]
    tail = n * (1.0 - alpha)
    m = min(int(math.floor(tail + 1e-9)), n)
    frac = max(tail - m, 0.0) if m < n else 0.0
    es_sum = desc[..., :m].sum(axis=-1) + (frac * desc[..., m] if m < n else 0.0)
    es = es_sum / (m + frac)
    return var, es


@dataclass(frozen=True)
class VarResult:
    """VaR, ES (N,) and the P&L matrix (N, K) they were read from, USD."""

    var: np.ndarray
    es: np.ndarray
    pnl: np.ndarray
    alpha: float


def historical_var(
    market: MarketState,
    portfolios: Portfolios,
    spot_returns,
    vol_returns=None,
    alpha: float = 0.99,
    horizon_days: float = 1.0,
) -> VarResult:
    """1-day (by default) historical-simulation VaR and ES of every account at level `alpha`."""
    pnl = portfolio_pnl(market, portfolios, spot_returns, vol_returns, horizon_days)
    var, es = var_es(pnl, alpha)
    return VarResult(var, es, pnl, alpha)
