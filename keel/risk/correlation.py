"""SPEC v2 §6 correlation-aware joint loss (docs/CORRELATION.md has the derivation).

Inputs: the per-underlying scenario P&L P_u(j) of `compute_margin` and the correlation feed ρ (one
value per pair of underlyings). Steps, for one account with underlyings u = 1..n:

  ρ_s     = max(2ρ − 1, 0.75ρ) for ρ ≥ 0, max(1.25ρ, −1) for ρ < 0       (FRTB low-correlation stress)
  ρ_s'    = (1 − t)·ρ_s + t·I, t = max(0, −λ_min / (1 − λ_min))          (PSD repair; t = 0 if PSD)
  y(m)    = −P_u(9v + 4 + σm·4)   for m in {0, ¼, ½, ¾, 1}                 (loss on side σ, vol state v)
  b       = y(1) − y(0),  a = max_m (y(m) − b·m)                         (affine majorant a + b·m)
  L(σ, v) = Σ_u a_u + min(‖w‖, ‖w⁺‖),  w_u = σ_u·b_u,  w⁺_u = w_u if b_u > 0 else 0,
            ‖w‖ = sqrt(wᵀ ρ_s' w)                                          (support of the ρ_s' ellipse)
  L_ρ     = max(0, max over the 2ⁿ orthants σ and the 3 vol states v of L(σ, v))
  SR      = min(Σ L_u, max(L_J + (1 − c_max)(Σ L_u − L_J), L_ρ)),  c_max = 0.8

L_ρ bounds from above the largest loss over the joint moves k (in scan ranges) inside the ellipse
kᵀ ρ_s'⁻¹ k ≤ 1 of the piecewise-linear P&L through the standard grid; it equals sqrt(sᵀ ρ_s' s) for
a linear book with s_u = Δ_u·R_u.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np

from .model import CREDIT_CAP
from .scenarios import N_STANDARD

MAX_UNDERLYINGS = 4  # the rule's n (JointLossLib.MAX_UNDERLYINGS): 2ⁿ·3 orthants   [count]
DIRECTIONAL_REL = 1e-12  # L_J within this of Σ L_u counts as equal (needs_correlated_loss)
ZERO_PNL_USD = 1e-18  # one wei of USD: a P_u(j) below it is 0 on chain (correlation_set)  [USD]
SIDE_POINTS = 5  # m = 0, ¼, ½, ¾, 1 of the scan range on one side
_M = np.arange(SIDE_POINTS) / (SIDE_POINTS - 1)  # [scan ranges]
# Scenario indices of side σ (0: down, 1: up) in vol state v: 9v + 4 ∓ 4m.
_SIDE_INDEX = np.array(
    [
        [[9 * v + 4 + (1 if s else -1) * i for i in range(SIDE_POINTS)] for s in (0, 1)]
        for v in range(N_STANDARD // 9)
    ]
)  # (3 vol states, 2 sides, 5 points)


def stressed_correlation(rho):
    """ρ_s of SPEC v2 §6, elementwise: max(2ρ − 1, 0.75ρ) for ρ ≥ 0, max(1.25ρ, −1) for ρ < 0."""
    rho = np.asarray(rho, float)
    if np.any(~np.isfinite(rho)) or np.any(np.abs(rho) > 1.0):
        raise ValueError("correlations must lie in [-1, 1]")
    return np.where(
        rho >= 0.0, np.maximum(2.0 * rho - 1.0, 0.75 * rho), np.maximum(1.25 * rho, -1.0)
    )


def correlation_matrix(feed_ids, correlations: Mapping[tuple[int, int], float]) -> np.ndarray:
    """(U, U) matrix of the feed's ρ for `feed_ids` (unit diagonal); ValueError on a missing pair."""
    ids = [int(f) for f in feed_ids]
    rho = np.eye(len(ids))
    for i, j in itertools.combinations(range(len(ids)), 2):
        pair = (min(ids[i], ids[j]), max(ids[i], ids[j]))
        if pair not in correlations:
            raise ValueError(f"no correlation for underlyings {pair[0]} and {pair[1]}")
        rho[i, j] = rho[j, i] = float(correlations[pair])
    stressed_correlation(rho)  # range check
    return rho


def psd_shrink(rho_s: np.ndarray) -> tuple[np.ndarray, float]:
    """(ρ_s', t): ρ_s shrunk toward the identity by the least t ∈ [0, 1] that makes it PSD.

    The eigenvalues of (1 − t)ρ + tI are (1 − t)λ + t, so t = −λ_min / (1 − λ_min) when λ_min < 0
    (λ_min ≥ 1 − n > −∞ for a unit-diagonal matrix, so t < 1)."""
    if len(rho_s) < 3:  # a 2×2 unit-diagonal matrix with |ρ| ≤ 1 is PSD
        return rho_s, 0.0
    lam = float(np.linalg.eigvalsh(rho_s)[0])
    if lam >= 0.0:
        return rho_s, 0.0
    t = -lam / (1.0 - lam)
    return (1.0 - t) * rho_s + t * np.eye(len(rho_s)), t


def side_majorants(pnl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Affine majorants a + b·m of the loss on each side of each underlying, from P_u(j).

    pnl: (..., 31) scenario P&L [USD]. Returns (a, b), each (..., 3 vol states, 2 sides) [USD and
    USD per scan range]: b = y(1) − y(0), a = max_m (y(m) − b·m), y(m) = −P at m scan ranges."""
    y = -pnl[..., _SIDE_INDEX]  # (..., 3, 2, 5)
    b = y[..., -1] - y[..., 0]
    a = np.max(y - b[..., None] * _M, axis=-1)
    return a, b


def correlated_loss(pnl: np.ndarray, rho_s: np.ndarray) -> np.ndarray:
    """L_ρ of accounts holding the same n underlyings: pnl (N, n, 31) [USD], rho_s (n, n) PSD."""
    n_acc, n_u = pnl.shape[:2]
    a, b = side_majorants(pnl)  # (N, n, 3, 2)
    a, b = np.moveaxis(a, 3, 1), np.moveaxis(b, 3, 1)  # (N, 2 sides, n, 3 vol states)
    u = np.arange(n_u)
    best = np.zeros(n_acc)
    for sides in itertools.product((0, 1), repeat=n_u):
        s = np.array(sides, dtype=np.int64)
        b_s = b[:, s, u, :]  # (N, n, 3): b of underlying u on side s_u
        w = b_s * np.where(s == 1, 1.0, -1.0)[None, :, None]
        w_plus = np.where(b_s > 0.0, w, 0.0)
        bound = a[:, s, u, :].sum(axis=1) + np.minimum(_norm(w, rho_s), _norm(w_plus, rho_s))
        best = np.maximum(best, bound.max(axis=1))
    return best


def _norm(w: np.ndarray, rho_s: np.ndarray) -> np.ndarray:
    """sqrt(wᵀ ρ_s w) over the underlying axis of w (N, n, 3) → (N, 3)."""
    return np.sqrt(np.maximum(np.einsum("auv,uw,awv->av", w, rho_s, w), 0.0))


def correlated_losses(
    pnl: np.ndarray,
    exposed: np.ndarray,
    feed_ids: np.ndarray,
    correlations: Mapping[tuple[int, int], float],
    needed: np.ndarray | None = None,
) -> np.ndarray:
    """L_ρ of every account: pnl (N, U, 31) [USD], exposed (N, U) bool, feed_ids (U,); only for
    the accounts where `needed` (N,) bool (default: all), 0 for the others.

    Each account uses the ρ of the underlyings it holds (the breakdown's list: positions or linked
    collateral), stressed and PSD-repaired on that set only, so listing or quoting an underlying
    it does not hold never changes its margin. Accounts are grouped by that set."""
    out = np.zeros(len(pnl))
    if needed is None:
        needed = np.ones(len(pnl), dtype=bool)
    masks, group = np.unique(exposed, axis=0, return_inverse=True)
    for g, mask in enumerate(masks):
        if not mask.any():
            continue
        rows = np.flatnonzero((group.ravel() == g) & needed)
        if not len(rows):
            continue
        rho = correlation_matrix(feed_ids[mask], correlations)
        rho_s, _ = psd_shrink(stressed_correlation(rho))
        out[rows] = correlated_loss(pnl[np.ix_(rows, np.flatnonzero(mask))], rho_s)
    return out


def correlation_set(exposed: np.ndarray, pnl: np.ndarray) -> np.ndarray:
    """(N, U) bool: the underlyings the rule correlates, as the chain takes them
    (JointLossLib.scanRiskOf): those an account is exposed to whose scenario P&L P_u (N, U, 31)
    [USD] is not 0 in every scenario (to the chain's resolution, ZERO_PNL_USD). An underlying the
    P&L does not move with (an expired series awaiting its settle call) adds nothing to a joint
    move; left in, it would change the other pairs' credit through the PSD repair and the
    4-underlying limit (attack 13, docs/SECURITY.md)."""
    return exposed & (np.abs(pnl) >= ZERO_PNL_USD).any(axis=2)


def needs_correlated_loss(loss_u_sum, loss_j, n_underlyings) -> np.ndarray:
    """Where SR needs L_ρ (and so ρ), as the chain decides (MarginLib.finish, JointLossLib.scanRiskOf):
    L_J < Σ L_u and at most MAX_UNDERLYINGS underlyings in the `correlation_set`. Elsewhere SR = Σ L_u: with L_J = Σ L_u every term of the rule
    is Σ L_u; above MAX_UNDERLYINGS (reached only through linked collateral or a liquidation
    transfer) no correlation credit is given, Σ L_u bounding the loss over the ellipse.
    L_J = Σ L_u exactly on chain can differ by rounding here: `L_J < Σ L_u` is taken beyond a
    relative 1e-12, where either branch gives SR within it of Σ L_u."""
    loss_u_sum, loss_j = np.asarray(loss_u_sum), np.asarray(loss_j)
    return (loss_j < loss_u_sum * (1.0 - DIRECTIONAL_REL)) & (
        np.asarray(n_underlyings) <= MAX_UNDERLYINGS
    )


def scan_risk_v2(loss_u_sum, loss_j, loss_rho, needed=None) -> np.ndarray:
    """SR = min(Σ L_u, max(L_J + (1 − c_max)(Σ L_u − L_J), L_ρ)) [USD]: properties (a)–(c)."""
    floor = loss_j + (1.0 - CREDIT_CAP) * (loss_u_sum - loss_j)
    sr = np.minimum(loss_u_sum, np.maximum(floor, loss_rho))
    return sr if needed is None else np.where(needed, sr, loss_u_sum)
