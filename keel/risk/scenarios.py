"""The SPEC §6 scenario grid with the DESIGN.md index order.

Index j = 9·v + i for the 27 standard scenarios: spot point i = 0..8 is x = R·(i − 4)/4 and vol state
v = 0 (σ), 1 (σ_up), 2 (σ_dn); then j = 27: +2R, 28: +3R, 29: −min(2R, 0.9), 30: −min(3R, 0.9), all
four with σ_up and weight 0.30. Scenario j applies the same multiple of each underlying's own scan
range and the same vol state to every underlying at once.
"""

from __future__ import annotations

import numpy as np

from .model import DEFAULT_PARAMS, MarginParams, MarketState

N_SCENARIOS = 31
N_STANDARD = 27
VOL_NONE, VOL_UP, VOL_DOWN = 0, 1, 2
EXT_UP_3R, EXT_DOWN_3R = N_STANDARD + 1, N_STANDARD + 3  # indices of +3R and −min(3R, cap)

# Vol state of each scenario index (0: σ, 1: σ_up, 2: σ_dn).
SCENARIO_VOL_STATE = np.array(
    [v for v in range(3) for _ in range(9)] + [VOL_UP] * 4, dtype=np.int64
)


def scenario_label(j: int) -> str:
    """Short name of scenario index j, e.g. "−0.75R σ_up", or "−min(3R, cap) σ_up ×w" for an extended
    one (cap = extended_cap, w = extended_weight)."""
    if not 0 <= j < N_SCENARIOS:
        raise ValueError(f"scenario index must lie in [0, {N_SCENARIOS - 1}], got {j}")
    vol = ("σ", "σ_up", "σ_dn")[SCENARIO_VOL_STATE[j]]
    if j >= N_STANDARD:
        move = ("+2R", "+3R", "−min(2R, cap)", "−min(3R, cap)")[j - N_STANDARD]
        return f"{move} {vol} ×w"
    k = j % 9 - 4  # x = R·k/4
    move = "0" if k == 0 else f"{'+' if k > 0 else '−'}{'' if abs(k) == 4 else f'{abs(k) / 4:g}'}R"
    return f"{move} {vol}"


def scan_range(vol, params: MarginParams = DEFAULT_PARAMS) -> np.ndarray:
    """R_u = clamp(2.576·σ_u·√(2/365), R_min, R_max) [fraction of spot]."""
    raw = params.scan_quantile * np.asarray(vol, float) * np.sqrt(params.scan_horizon_days / 365.0)
    return np.clip(raw, params.r_min, params.r_max)


def market_moves(market: MarketState) -> np.ndarray:
    """(U, 31) spot fractions x_j of every underlying of `market`, at its scan range from
    σ_eff = max(σ, σ_floor) (SPEC v2 §6 anti-procyclicality; `MarketState.vol_eff`)."""
    return spot_moves(scan_range(market.vol_eff, market.params), market.params)


def scenario_weights(params: MarginParams = DEFAULT_PARAMS) -> np.ndarray:
    """(31,) P&L weight of each scenario: 1 for the 27 standard ones, 0.30 for the extended four."""
    w = np.ones(N_SCENARIOS)
    w[N_STANDARD:] = params.extended_weight
    return w


def spot_moves(r, params: MarginParams = DEFAULT_PARAMS) -> np.ndarray:
    """(..., 31) spot fractions x_j for scan ranges `r` (any shape)."""
    r = np.asarray(r, float)[..., None]
    i = np.arange(9)
    standard = r * ((i - 4) / 4.0)  # one block of 9 spot points, repeated for each vol state
    ext = np.concatenate(
        [
            2.0 * r,
            3.0 * r,
            -np.minimum(2.0 * r, params.extended_cap),
            -np.minimum(3.0 * r, params.extended_cap),
        ],
        axis=-1,
    )
    return np.concatenate([standard, standard, standard, ext], axis=-1)


def vol_states(vol, tau, params: MarginParams = DEFAULT_PARAMS) -> np.ndarray:
    """(..., 3) vols (σ, σ_up, σ_dn) of options with time to expiry τ [years] on vol σ.

    τ_days = 365·τ; m = (30 / max(τ_days, 1))^p with p = 0.30 if τ_days ≤ 30 else 0.13;
    σ_up = max(σ(1 + 0.5m), 50%), σ_dn = σ(1 − 0.25m).
    """
    vol, tau = np.broadcast_arrays(np.asarray(vol, float), np.asarray(tau, float))
    tau_days = tau * 365.0
    p = np.where(tau_days <= 30.0, 0.30, 0.13)
    m = (30.0 / np.maximum(tau_days, 1.0)) ** p
    up = np.maximum(vol * (1.0 + 0.5 * m), params.vol_up_floor)
    down = vol * (1.0 - 0.25 * m)
    return np.stack([vol, up, down], axis=-1)


def scenario_vols(vol, tau, params: MarginParams = DEFAULT_PARAMS) -> np.ndarray:
    """(..., 31) option vol σ_j in every scenario."""
    return vol_states(vol, tau, params)[..., SCENARIO_VOL_STATE]
