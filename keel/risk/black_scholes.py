"""Black–Scholes with r = 0 (SPEC §4), vectorised over numpy arrays.

Units: spot S and strike K in USD, vol σ annualised (0.6 = 60%/yr), τ in years (365-day year).
Values are USD per unit of the underlying. Call and put come from one d₁/d₂ (no put–call parity,
which would lose the accuracy of deep out-of-the-money puts); τ ≤ 0 or σ ≤ 0 gives intrinsic value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

SECONDS_PER_YEAR = 365 * 86400  # SPEC §1: year = 365 days          [s]
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


def _normal_pdf(x: np.ndarray) -> np.ndarray:
    return _INV_SQRT_2PI * np.exp(-0.5 * x * x)


def _d1_d2(spot, strike, vol, tau):
    """d₁, d₂ and a mask of entries with time value (τ > 0 and σ > 0); d's are 0 elsewhere."""
    spot, strike, vol, tau = np.broadcast_arrays(
        np.asarray(spot, float),
        np.asarray(strike, float),
        np.asarray(vol, float),
        np.asarray(tau, float),
    )
    live = (tau > 0.0) & (vol > 0.0)
    sig_sqrt_t = np.where(live, vol * np.sqrt(np.where(live, tau, 1.0)), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = np.where(
            live, (np.log(spot / strike) + 0.5 * sig_sqrt_t * sig_sqrt_t) / sig_sqrt_t, 0.0
        )
    d2 = d1 - sig_sqrt_t
    return spot, strike, vol, tau, live, d1, d2, sig_sqrt_t


def intrinsic(spot, strike, is_call) -> np.ndarray:
    """Payoff at expiry: max(S − K, 0) for calls, max(K − S, 0) for puts [USD per unit]."""
    spot = np.asarray(spot, float)
    strike = np.asarray(strike, float)
    return np.where(is_call, np.maximum(spot - strike, 0.0), np.maximum(strike - spot, 0.0))


def bs_price(spot, strike, vol, tau, is_call) -> np.ndarray:
    """Black–Scholes value with r = 0 [USD per unit]; intrinsic value when τ ≤ 0 or σ ≤ 0.

    call = S·N(d₁) − K·N(d₂), put = K·N(−d₂) − S·N(−d₁), d₁ = (ln(S/K) + σ²τ/2)/(σ√τ), d₂ = d₁ − σ√τ,
    written once as ε·(S·N(ε·d₁) − K·N(ε·d₂)) with ε = +1 for a call, −1 for a put (one pair of
    normal CDFs per option; the put never goes through parity). All arguments broadcast.
    """
    spot, strike, vol, tau, is_call = np.broadcast_arrays(
        np.asarray(spot, float),
        np.asarray(strike, float),
        np.asarray(vol, float),
        np.asarray(tau, float),
        np.asarray(is_call, bool),
    )
    live = (tau > 0.0) & (vol > 0.0)
    all_live = bool(live.all())
    if all_live:
        sig_sqrt_t = vol * np.sqrt(tau)
    else:  # dead entries get a dummy σ√τ = 1 and are replaced by their intrinsic value below
        sig_sqrt_t = np.where(live, vol * np.sqrt(np.where(live, tau, 1.0)), 1.0)
    sign = np.where(is_call, 1.0, -1.0)
    d1 = np.log(spot / strike)
    d1 += 0.5 * sig_sqrt_t * sig_sqrt_t
    d1 /= sig_sqrt_t
    d2 = d1 - sig_sqrt_t
    d1 *= sign
    d2 *= sign
    value = spot * ndtr(d1)
    value -= strike * ndtr(d2)
    value *= sign
    # Rounding can leave a deep out-of-the-money value a hair below zero; an option is never negative.
    value = np.maximum(value, 0.0)
    if all_live:
        return value
    return np.where(live, value, intrinsic(spot, strike, is_call))


@dataclass(frozen=True)
class Greeks:
    """Black–Scholes sensitivities per unit of the underlying (r = 0).

    delta: ∂V/∂S [units of underlying]; gamma: ∂²V/∂S² [1/USD]; vega: ∂V/∂σ [USD per 1.00 of vol,
    i.e. per 100 vol points]; theta: ∂V/∂t [USD per year of calendar time, negative for a long option].
    At τ ≤ 0 or σ ≤ 0: delta is the intrinsic slope (1/0 for calls, −1/0 for puts, ½ at the money),
    gamma, vega and theta are 0.
    """

    delta: np.ndarray
    gamma: np.ndarray
    vega: np.ndarray
    theta: np.ndarray


def bs_greeks(spot, strike, vol, tau, is_call) -> Greeks:
    """Delta, gamma, vega and theta of one unit (see `Greeks` for units)."""
    spot, strike, vol, tau, live, d1, _, sig_sqrt_t = _d1_d2(spot, strike, vol, tau)
    is_call = np.broadcast_to(np.asarray(is_call, bool), spot.shape)
    pdf = _normal_pdf(d1)
    delta_live = np.where(is_call, ndtr(d1), ndtr(d1) - 1.0)
    moneyness = np.sign(spot - strike)  # slope of the payoff at expiry, ½ exactly at the strike
    delta_dead = np.where(is_call, 0.5 * (1.0 + moneyness), 0.5 * (moneyness - 1.0))
    sqrt_t = np.sqrt(np.where(live, tau, 0.0))
    safe_sst = np.where(live, sig_sqrt_t, 1.0)
    gamma = np.where(live, pdf / (spot * safe_sst), 0.0)
    vega = np.where(live, spot * pdf * sqrt_t, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.where(live, -spot * pdf * vol / (2.0 * np.where(live, sqrt_t, 1.0)), 0.0)
    return Greeks(np.where(live, delta_live, delta_dead), gamma, vega, theta)
