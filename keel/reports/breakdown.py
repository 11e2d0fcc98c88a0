"""Per-book margin breakdown at the bench snapshot: every SPEC §6 term, and which scenario binds.

For each book: E, haircuts, AE; per underlying it is exposed to, σ, σ_floor, σ_eff, the scan range,
the net dollar delta, the 31 weighted scenario P&Ls P_u(j), the standalone loss L_u and its worst
scenario; the joint P&L Σ_u P_u(j), L_J and its worst scenario; the credit term
(1 − c)(Σ L_u − L_J), SR, SOM, IM and the term that sets IM. A book with zero IM carries the reason,
read off these figures (`zero_im_reason`).
"""

from __future__ import annotations

import numpy as np

from keel.risk import MarketState, Portfolios, account_greeks, compute_margin
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


def margin_breakdown(
    market: MarketState, portfolios: Portfolios, names: list[str], feed_names: dict[int, str]
) -> dict[str, dict]:
    """{book name: breakdown} for account index a = book `names[a]` (see the module docstring)."""
    res = compute_margin(market, portfolios)
    delta_usd = account_greeks(market, portfolios).delta_usd
    ranges = scan_range(market.vol_eff, market.params)
    floor = market.vol_floor if market.vol_floor is not None else np.zeros(market.n_underlyings)
    c = market.params.correlation_credit
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
            "credit_term": (1.0 - c) * float(res.underlying_loss[a].sum() - res.joint_loss[a]),
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
