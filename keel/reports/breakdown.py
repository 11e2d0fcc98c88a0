"""Per-book margin breakdown at the bench snapshot: every SPEC §6 term, and which scenario binds.

For each book: E, haircuts, AE; per underlying it is exposed to, σ, σ_floor, σ_eff, the scan range,
the net dollar delta, the 31 weighted scenario P&Ls P_u(j), the standalone loss L_u and its worst
scenario; the joint P&L Σ_u P_u(j), L_J and its worst scenario; the terms of SPEC v2 §6's
correlation-aware scan risk (docs/CORRELATION.md, `keel.risk.correlation`)

    SR = min(Σ L_u, max(SR floor, L_ρ)),   SR floor = L_J + (1 − c_max)(Σ L_u − L_J),  c_max = 0.8

(`sum_loss`, `sr_floor`, `correlated_loss` [USD]) with L_ρ the correlated loss at the market's
feed ρ; L_ρ is 0 where SR needs none (`correlated_loss_needed` false: one underlying, or legs that
lose together, L_J = Σ L_u, where SR = L_J = Σ L_u), and which of them sets SR (`sr_set_by`); SOM,
IM and the term that sets IM. A book with zero IM carries the reason, read off these figures
(`zero_im_reason`). The market must carry its correlations (`MarketState.with_correlations`): the
breakdown is the v2 rule's, as the chain computes it.
"""

from __future__ import annotations

import numpy as np

from keel.risk import MarketState, Portfolios, account_greeks, compute_margin
from keel.risk.correlation import (
    MAX_UNDERLYINGS,
    correlation_set,
    needs_correlated_loss,
    scan_risk_v2,
)
from keel.risk.model import CREDIT_CAP
from keel.risk.scenarios import scan_range, scenario_label

from .backtest import ABS_TOL


def _usd(x: float) -> str:
    return f"${x:,.0f}"


def zero_im_reason(book: dict) -> str | None:
    """Why a book's IM is zero, from its breakdown; None when IM is not zero."""
    if book["im"] > ABS_TOL:
        return None
    pnl = [p for u in book["underlyings"].values() for p in u["pnl"]]
    deltas = ", ".join(
        f"{name} {_usd(u['net_delta_usd'])}" for name, u in book["underlyings"].items()
    )
    if not pnl:
        why = "it holds nothing that moves with an underlying, so no scenario changes its value"
    elif max(abs(p) for p in pnl) <= ABS_TOL:
        why = (
            "its legs cancel in every one of the 31 scenarios (net dollar delta "
            f"{deltas}), so every scenario P&L is $0"
        )
    else:
        why = "no scenario loses money (every P&L is ≥ $0), so the scan risk is $0"
    why += " and it holds no short option (SOM $0), so IM = max(SR, SOM) = $0"
    if book["haircut"] > ABS_TOL:
        why += (
            f". Its collateral haircut ({_usd(book['haircut'])}) lowers its adjusted equity instead"
        )
    if book["has_perps"]:
        why += "; funding on its perps is not a scenario move and is not in IM"
    return why + "."


def sr_set_by(
    n_underlyings: int, needed: bool, sum_loss: float, floor: float, loss_rho: float
) -> str:
    """Which term of SR = min(Σ L_u, max(floor, L_ρ)) sets a book's scan risk [USD inputs]:
    `needed` is `needs_correlated_loss`'s verdict (L_J < Σ L_u and at most MAX_UNDERLYINGS)."""
    if sum_loss <= ABS_TOL:
        return "none (no scenario loses)"
    if not needed:
        if n_underlyings == 1:
            return "L_J = L_u (one underlying)"
        if n_underlyings > MAX_UNDERLYINGS:
            return f"Σ L_u (more than {MAX_UNDERLYINGS} underlyings: no correlation credit)"
        return "L_J = Σ L_u (the legs lose together)"
    if loss_rho >= sum_loss:
        return "Σ L_u (the cap: L_ρ ≥ Σ L_u)"
    if loss_rho > floor:
        return "L_ρ"
    return f"floor (the {CREDIT_CAP:.0%} credit cap)"


def margin_breakdown(
    market: MarketState, portfolios: Portfolios, names: list[str], feed_names: dict[int, str]
) -> dict[str, dict]:
    """{book name: breakdown} for account index a = book `names[a]` (see the module docstring);
    ValueError for a market without correlations (v1's fixed credit, which the chain no longer has)."""
    if market.correlations is None:
        raise ValueError(
            "the breakdown shows SPEC v2 §6's correlation-aware scan risk: give the market its "
            "correlations (MarketState.with_correlations)"
        )
    res = compute_margin(market, portfolios)
    sum_loss = res.underlying_loss.sum(axis=1)  # (N,) Σ L_u                       [USD]
    n_under = correlation_set(res.exposed, res.scenario_pnl).sum(axis=1)
    needed = needs_correlated_loss(sum_loss, res.joint_loss, n_under)
    # The rule without L_ρ is its floor L_J + (1 − c_max)(Σ L_u − L_J) (≤ Σ L_u as L_J ≤ Σ L_u).
    sr_floor = scan_risk_v2(sum_loss, res.joint_loss, 0.0)  # (N,)                   [USD]
    delta_usd = account_greeks(market, portfolios).delta_usd
    ranges = scan_range(market.vol_eff, market.params)
    floor = market.vol_floor if market.vol_floor is not None else np.zeros(market.n_underlyings)
    has_perps = np.bincount(
        portfolios.perp_account[portfolios.perp_size != 0], minlength=portfolios.n_accounts
    )
    out = {}
    for a, name in enumerate(names):
        unders = {
            feed_names[int(f)]: {
                "vol": float(market.vol[u]),
                "vol_floor": float(floor[u]),
                "vol_eff": float(market.vol_eff[u]),
                "scan_range": float(ranges[u]),
                "net_delta_usd": float(delta_usd[a, u]) + 0.0,
                "loss": float(res.underlying_loss[a, u]),
                "worst": int(res.underlying_worst[a, u]),
                "worst_label": scenario_label(int(res.underlying_worst[a, u])),
                "pnl": res.scenario_pnl[a, u].tolist(),
            }
            for u, f in enumerate(res.feed_ids)
            if res.exposed[a, u]
        }
        sr, som = float(res.scan_risk[a]), float(res.som[a])
        book = {
            "equity": float(res.equity[a]),
            "haircut": float(res.haircut[a]),
            "adjusted_equity": float(res.adjusted_equity[a]),
            "underlyings": unders,
            "joint_pnl": res.scenario_pnl[a].sum(axis=0).tolist(),
            "joint_loss": float(res.joint_loss[a]),
            "joint_worst": int(res.joint_worst[a]),
            "joint_worst_label": scenario_label(int(res.joint_worst[a])),
            "sum_loss": float(sum_loss[a]),
            "sr_floor": float(sr_floor[a]),
            "correlated_loss": float(res.correlated_loss[a]),
            "correlated_loss_needed": bool(needed[a]),
            "sr_set_by": sr_set_by(
                int(n_under[a]),
                bool(needed[a]),
                float(sum_loss[a]),
                float(sr_floor[a]),
                float(res.correlated_loss[a]),
            ),
            "scan_risk": sr,
            "som": som,
            "im": float(res.im[a]),
            "mm": float(res.mm[a]),
            "im_set_by": (
                "none (IM $0)"
                if res.im[a] <= ABS_TOL
                else ("short-option minimum" if som > sr else "scan risk")
            ),
            "has_perps": bool(has_perps[a]),
        }
        book["zero_im_reason"] = zero_im_reason(book)
        out[name] = book
    return out
