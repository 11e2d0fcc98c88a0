"""Portfolio margin of SPEC §6, vectorised across accounts.

The work is split SPAN-style (DESIGN.md "Valuation time"): every distinct option series is valued
once per oracle round in all 31 scenarios (its "risk array"), then accounts aggregate those vectors
with a sparse accounts×series matrix product. Linear exposures (perps, linked collateral) are a
dollar delta per (account, underlying) times the scenario spot fraction.

Figures (USD), per account:
  E   = cash + Σ a·P + Σ_perps [q(S − entry) − funding owed] + Σ_options q·V(S, σ, τ)
  AE  = E − Σ a·P·h − h_settle·max(cash, 0), h = min(h_max, h0·max(1, σ_eff/σ_ref))
  P_u(j) = w_j [q·S·x_j (perps) + a·P·x_j (linked collateral) + q(V(S(1+x_j), σ_j, τ) − V(S, σ, τ))]
          x_j a multiple of R_u = clamp(2.576·σ_eff·√(2/365), R_min, R_max), σ_eff = max(σ, σ_floor)
  L_u = max(0, −min_j P_u(j)),  L_J = max(0, −min_j Σ_u P_u(j))
  SR  = L_J + (1 − c)(Σ L_u − L_J) (v1), or with the correlation feed (v2, keel.risk.correlation)
        min(Σ L_u, max(L_J + 0.2(Σ L_u − L_J), L_ρ)),  SOM = rate·Σ_short options |q|·S,  IM = max(SR, SOM), MM = 0.8·IM
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .black_scholes import Greeks, bs_greeks, bs_price, intrinsic
from .correlation import (
    correlated_losses,
    correlation_set,
    needs_correlated_loss,
    scan_risk_v2,
)
from .model import MarketState, Portfolios, time_to_expiry
from .scenarios import N_SCENARIOS, market_moves, scenario_vols, scenario_weights


def collateral_haircuts(market: MarketState) -> np.ndarray:
    """(T,) dynamic haircut of each token: h = min(h_max, h0·max(1, σ_u/σ_ref)) with σ_u the
    linked underlying's σ_eff (SPEC v2 §6); unlinked: h = h0."""
    out = np.empty(len(market.tokens))
    vol_eff = market.vol_eff
    for i, t in enumerate(market.tokens):
        if t.linked_feed:
            sigma = vol_eff[market.slot(t.linked_feed)]
            out[i] = min(t.h_max, t.h0 * max(1.0, sigma / t.sigma_ref))
        else:
            out[i] = t.h0
    return out


def _token_link_matrix(market: MarketState) -> np.ndarray:
    """(T, U) USD value per token moving with each underlying: P_c in column u if linked to u."""
    link = np.zeros((len(market.tokens), market.n_underlyings))
    for i, t in enumerate(market.tokens):
        if t.linked_feed:
            link[i, market.slot(t.linked_feed)] = t.price
    return link


@dataclass(frozen=True)
class SeriesTable:
    """Distinct option series of a set of portfolios, with their values and risk arrays.

    value: V(S, σ, τ) now (or the payoff at the fixed settlement price) [USD per unit];
    pnl: (n_series, 31) weighted scenario P&L per long unit, w_j·(V_j − V) [USD per unit].
    """

    slot: np.ndarray  # (n,) underlying slot in the MarketState
    strike: np.ndarray  # (n,) [USD]
    expiry: np.ndarray  # (n,) [unix s]
    is_call: np.ndarray  # (n,) bool
    tau: np.ndarray  # (n,) time to expiry at the feed's observedAt [years]
    settled: np.ndarray  # (n,) bool: expired and its settlement price fixed
    value: np.ndarray  # (n,) [USD per unit]
    pnl: np.ndarray  # (n, 31) [USD per unit]
    position_series: np.ndarray  # (O,) series index of every option row of the portfolios


def series_table(market: MarketState, portfolios: Portfolios) -> SeriesTable:
    """Value every distinct (underlying, strike, expiry, call/put) once, in all 31 scenarios."""
    p = portfolios
    slot_all = market.slot(p.opt_feed)
    # np.unique over the (underlying, strike, expiry, kind) rows, done as one int64 key: each
    # column is factorised on its own (fast numeric sorts; a structured-array sort is ~50× slower).
    # The key stays below U·(#expiries)·(#strikes)·2, far inside int64 for any realistic book.
    strikes, strike_idx = np.unique(p.opt_strike, return_inverse=True)
    expiries, expiry_idx = np.unique(p.opt_expiry, return_inverse=True)
    key = (slot_all * len(expiries) + expiry_idx.ravel()) * len(strikes) + strike_idx.ravel()
    key = key * 2 + p.opt_is_call.astype(np.int64)
    uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    slot, strike = slot_all[first], p.opt_strike[first]
    expiry, is_call = p.opt_expiry[first], p.opt_is_call[first]

    spot = market.spot[slot]
    vol = market.vol[slot]
    observed_at = market.observed_at[slot]
    tau = time_to_expiry(expiry, observed_at)
    params = market.params

    value = bs_price(spot, strike, vol, tau, is_call)
    x = market_moves(market)[slot]  # (n, 31)
    sig = scenario_vols(vol, tau, params)  # (n, 31)
    shocked = bs_price(
        spot[:, None] * (1.0 + x), strike[:, None], sig, tau[:, None], is_call[:, None]
    )
    pnl = (shocked - value[:, None]) * scenario_weights(params)

    # Expired series whose expiry price is fixed: worth the payoff, no scenario risk (DESIGN.md).
    settled = np.zeros(len(uniq), dtype=bool)
    if market.settlement_prices:
        feed = market.feed_ids[slot]
        for s in np.flatnonzero(expiry <= observed_at):
            price = market.settlement_prices.get((int(feed[s]), int(expiry[s])))
            if price is not None:
                settled[s] = True
                value[s] = intrinsic(price, strike[s], is_call[s])
                pnl[s] = 0.0
    return SeriesTable(slot, strike, expiry, is_call, tau, settled, value, pnl, inverse.ravel())


@dataclass(frozen=True)
class AccountMargin:
    """One account's breakdown (the per-account view of `MarginResult`), USD.

    underlyings maps feed id → (standalone loss L_u, worst scenario index) for the underlyings the
    account is exposed to (a position or linked collateral).
    """

    account_id: int
    equity: float
    adjusted_equity: float
    haircut: float
    scan_risk: float
    som: float
    im: float
    mm: float
    joint_loss: float
    joint_worst: int
    underlyings: dict[int, tuple[float, int]]
    correlated_loss: float | None = None  # L_ρ (v2; 0 where SR needs none); None under v1

    def __str__(self) -> str:
        lines = [
            f"account {self.account_id}",
            f"  E   {self.equity:>16,.2f}   AE {self.adjusted_equity:>16,.2f}   (haircuts {self.haircut:,.2f})",
            f"  IM  {self.im:>16,.2f}   MM {self.mm:>16,.2f}",
            f"  SR  {self.scan_risk:>16,.2f}   SOM {self.som:>15,.2f}",
            f"  L_J {self.joint_loss:>16,.2f}   worst j = {self.joint_worst}",
        ]
        if self.correlated_loss is not None:
            lines.append(f"  L_ρ {self.correlated_loss:>16,.2f}")
        lines += [
            f"  L_{feed:<2} {loss:>15,.2f}   worst j = {worst}"
            for feed, (loss, worst) in self.underlyings.items()
        ]
        return "\n".join(lines)


@dataclass(frozen=True)
class MarginResult:
    """SPEC §6 breakdown of N accounts: arrays over accounts (and underlyings), USD.

    Columns of the (N, U) arrays follow `feed_ids`. Scenario indices follow DESIGN.md; the worst
    index is the first that attains the minimum.
    """

    account_ids: np.ndarray  # (N,)
    feed_ids: np.ndarray  # (U,)
    equity: np.ndarray  # (N,) E
    haircut: np.ndarray  # (N,) Σ a·P·h + h_settle·max(cash, 0)
    adjusted_equity: np.ndarray  # (N,) AE = E − haircut
    underlying_loss: np.ndarray  # (N, U) L_u
    underlying_worst: np.ndarray  # (N, U) argmin_j P_u(j)
    exposed: np.ndarray  # (N, U) bool: the account holds something moving with u
    joint_loss: np.ndarray  # (N,) L_J
    joint_worst: np.ndarray  # (N,) argmin_j Σ_u P_u(j)
    scan_risk: np.ndarray  # (N,) SR
    som: np.ndarray  # (N,) short-option minimum
    im: np.ndarray  # (N,) initial margin max(SR, SOM)
    mm: np.ndarray  # (N,) maintenance margin
    scenario_pnl: np.ndarray  # (N, U, 31) P_u(j)
    correlated_loss: np.ndarray | None = None  # (N,) L_ρ of the v2 rule; None under v1

    @property
    def n_accounts(self) -> int:
        return len(self.im)

    @property
    def excess(self) -> np.ndarray:
        """AE − IM: positive when the account may take new risk."""
        return self.adjusted_equity - self.im

    @property
    def can_take_risk(self) -> np.ndarray:
        return self.adjusted_equity >= self.im

    @property
    def liquidatable(self) -> np.ndarray:
        return self.adjusted_equity < self.mm

    def account(self, a: int) -> AccountMargin:
        """Per-account view of account index `a` (not the chain id)."""
        return AccountMargin(
            account_id=int(self.account_ids[a]),
            equity=float(self.equity[a]),
            adjusted_equity=float(self.adjusted_equity[a]),
            haircut=float(self.haircut[a]),
            scan_risk=float(self.scan_risk[a]),
            som=float(self.som[a]),
            im=float(self.im[a]),
            mm=float(self.mm[a]),
            joint_loss=float(self.joint_loss[a]),
            joint_worst=int(self.joint_worst[a]),
            underlyings={
                int(f): (float(self.underlying_loss[a, u]), int(self.underlying_worst[a, u]))
                for u, f in enumerate(self.feed_ids)
                if self.exposed[a, u]
            },
            correlated_loss=None
            if self.correlated_loss is None
            else float(self.correlated_loss[a]),
        )

    def by_id(self, account_id: int) -> AccountMargin:
        (hit,) = np.flatnonzero(self.account_ids == account_id)
        return self.account(int(hit))


def _position_matrix(n_rows: int, rows, series, sizes, n_series: int) -> sparse.csr_matrix:
    """Sparse (rows × series) matrix of summed sizes."""
    return sparse.csr_matrix((sizes, (rows, series)), shape=(n_rows, n_series))


@dataclass(frozen=True)
class _Exposures:
    """Intermediate aggregates shared by margin, greeks and the comparisons."""

    series: SeriesTable
    opt_rows: np.ndarray  # (O,) account·U + slot of every option row
    perp_slot: np.ndarray  # (P,)
    linear_usd: np.ndarray  # (N, U) Σ q·S (perps) + Σ a·P (linked collateral)   [USD]
    exposed: np.ndarray  # (N, U) bool


def _exposures(market: MarketState, portfolios: Portfolios) -> _Exposures:
    p, n, n_u = portfolios, portfolios.n_accounts, market.n_underlyings
    table = series_table(market, p)
    opt_slot = table.slot[table.position_series]
    opt_rows = p.opt_account * n_u + opt_slot
    perp_slot = market.slot(p.perp_feed)
    perp_rows = p.perp_account * n_u + perp_slot
    linear = np.bincount(
        perp_rows, weights=p.perp_size * market.spot[perp_slot], minlength=n * n_u
    ).reshape(n, n_u)
    link = _token_link_matrix(market)
    if link.size:
        linear = linear + p.collateral @ link
    exposed = np.zeros(n * n_u, dtype=bool)
    exposed[opt_rows[p.opt_size != 0]] = True
    exposed[perp_rows[p.perp_size != 0]] = True
    exposed = exposed.reshape(n, n_u) | (np.abs(p.collateral) @ (link != 0) > 0)
    return _Exposures(table, opt_rows, perp_slot, linear, exposed)


def compute_margin(market: MarketState, portfolios: Portfolios) -> MarginResult:
    """SPEC §6 breakdown of every account in `portfolios` at the `market` oracle round."""
    p, params = portfolios, market.params
    n, n_u = p.n_accounts, market.n_underlyings
    ex = _exposures(market, p)
    table = ex.series

    # --- Scenario P&L P_u(j) ---
    x_w = market_moves(market) * scenario_weights(params)  # (U, 31)
    pnl = ex.linear_usd[:, :, None] * x_w[None, :, :]
    if len(table.value):
        m = _position_matrix(
            n * n_u, ex.opt_rows, table.position_series, p.opt_size, len(table.value)
        )
        pnl = pnl + (m @ table.pnl).reshape(n, n_u, N_SCENARIOS)

    worst_u = np.argmin(pnl, axis=2)
    # `+ 0.0` turns the −0.0 of a flat book into 0.0.
    loss_u = np.maximum(0.0, -np.take_along_axis(pnl, worst_u[:, :, None], axis=2)[:, :, 0]) + 0.0
    joint = pnl.sum(axis=1)
    worst_j = np.argmin(joint, axis=1)
    loss_j = np.maximum(0.0, -joint[np.arange(n), worst_j]) + 0.0
    loss_rho = None
    if market.correlations is None:
        c = params.correlation_credit
        scan_risk = loss_j + (1.0 - c) * (loss_u.sum(axis=1) - loss_j)
    else:
        loss_sum = loss_u.sum(axis=1)
        corr_set = correlation_set(ex.exposed, pnl)
        needed = needs_correlated_loss(loss_sum, loss_j, corr_set.sum(axis=1))
        loss_rho = correlated_losses(pnl, corr_set, market.feed_ids, market.correlations, needed)
        scan_risk = scan_risk_v2(loss_sum, loss_j, loss_rho, needed)

    # --- Short-option minimum (settled series carry no risk) ---
    opt_spot = market.spot[table.slot][table.position_series]
    short = (p.opt_size < 0) & ~table.settled[table.position_series]
    som = params.som_rate * np.bincount(
        p.opt_account[short], weights=-p.opt_size[short] * opt_spot[short], minlength=n
    )
    im = np.maximum(scan_risk, som)

    # --- Equity and adjusted equity ---
    tok_price = np.array([t.price for t in market.tokens])
    coll_value = p.collateral * tok_price if len(market.tokens) else np.zeros((n, 0))
    perp_upnl = p.perp_size * (market.spot[ex.perp_slot] - p.perp_entry) - p.perp_funding_owed
    opt_value = p.opt_size * table.value[table.position_series]
    equity = (
        p.cash
        + coll_value.sum(axis=1)
        + np.bincount(p.perp_account, weights=perp_upnl, minlength=n)
        + np.bincount(p.opt_account, weights=opt_value, minlength=n)
    )
    haircut = (coll_value * collateral_haircuts(market)).sum(axis=1)
    haircut = haircut + market.settlement_haircut * np.maximum(p.cash, 0.0)

    return MarginResult(
        account_ids=p.account_ids,
        feed_ids=market.feed_ids,
        equity=equity,
        haircut=haircut,
        adjusted_equity=equity - haircut,
        underlying_loss=loss_u,
        underlying_worst=worst_u,
        exposed=ex.exposed,
        joint_loss=loss_j,
        joint_worst=worst_j,
        scan_risk=scan_risk,
        som=som,
        im=im,
        mm=params.mm_ratio * im,
        scenario_pnl=pnl,
        correlated_loss=loss_rho,
    )


@dataclass(frozen=True)
class AccountGreeks:
    """Sensitivities per (account, underlying), arrays (N, U), columns in `feed_ids` order.

    delta: ∂value/∂S_u in units of the underlying (options q·Δ, perps q, linked collateral a·P/S);
    delta_usd = delta·S [USD per 100% move]; gamma [units per USD]; vega [USD per 1.00 of vol];
    theta [USD per year]. Settled series contribute nothing.
    """

    feed_ids: np.ndarray
    delta: np.ndarray
    delta_usd: np.ndarray
    gamma: np.ndarray
    vega: np.ndarray
    theta: np.ndarray


def position_greeks(market: MarketState, portfolios: Portfolios) -> Greeks:
    """Greeks of every option row (q times the per-unit greeks), as a `Greeks` of (O,) arrays."""
    p = portfolios
    slot = market.slot(p.opt_feed)
    tau = time_to_expiry(p.opt_expiry, market.observed_at[slot])
    g = bs_greeks(market.spot[slot], p.opt_strike, market.vol[slot], tau, p.opt_is_call)
    settled = np.zeros(len(slot), dtype=bool)
    if market.settlement_prices:
        table = series_table(market, p)
        settled = table.settled[table.position_series]
    q = np.where(settled, 0.0, p.opt_size)
    return Greeks(q * g.delta, q * g.gamma, q * g.vega, q * g.theta)


def account_greeks(market: MarketState, portfolios: Portfolios) -> AccountGreeks:
    """Delta, gamma, vega and theta aggregated per (account, underlying)."""
    p, n, n_u = portfolios, portfolios.n_accounts, market.n_underlyings
    ex = _exposures(market, p)
    g = position_greeks(market, p)

    def agg(w):
        return np.bincount(ex.opt_rows, weights=w, minlength=n * n_u).reshape(n, n_u)

    delta = agg(g.delta) + ex.linear_usd / market.spot
    return AccountGreeks(
        market.feed_ids, delta, delta * market.spot, agg(g.gamma), agg(g.vega), agg(g.theta)
    )
