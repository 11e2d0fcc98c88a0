"""1-day 99% VaR and expected shortfall of each book at the bench snapshot, beside its IM.

Both estimates revalue every position in full with the reference model (`keel.risk.portfolio_pnl`:
Black–Scholes with every τ shortened by one day, perps and linked collateral linear) from the bench
market snapshot (BTC $60,000 at 60% vol, ETH $3,000 at 75%):

  - historical simulation: the joint daily moves of the price file over the backtest sample (the days
    after the vol warm-up): spot S' = S·(S_t / S_{t−1}) per underlying, and vol σ' = σ·(σ_t / σ_{t−1})
    with σ_t the relayer's EWMA vol (so a crash day also lifts option vols, as the oracle would);
  - Monte Carlo: joint normal daily log returns with zero mean, the sample standard deviations and
    the correlation of the same days' BTC and ETH log returns; vols held at the snapshot's; seeded.

VaR and ES are `keel.risk.var_es` at 99% (losses positive; ES the Acerbi–Tasche tail mean).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from keel.risk import MarketState, Portfolios, compute_margin, portfolio_pnl, var_es

from .prices import PriceHistory

ALPHA = 0.99
DEFAULT_MC_SAMPLES = 100_000


@dataclass(frozen=True)
class ReturnModel:
    """The joint daily return model estimated from the price file."""

    first_day: str  # first return's end date (ISO)
    last_day: str
    n: int  # number of daily returns
    daily_vol: np.ndarray  # (2,) std of daily log returns, BTC and ETH
    correlation: float  # of the daily log returns

    @property
    def annual_vol(self) -> np.ndarray:
        return self.daily_vol * np.sqrt(365.0)

    def to_json(self) -> dict:
        return {
            "first_return_day": self.first_day,
            "last_return_day": self.last_day,
            "n_returns": self.n,
            "daily_vol": {"BTC": float(self.daily_vol[0]), "ETH": float(self.daily_vol[1])},
            "annualised_vol": {"BTC": float(self.annual_vol[0]), "ETH": float(self.annual_vol[1])},
            "correlation": self.correlation,
        }


def historical_scenarios(prices: PriceHistory, start: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(K, 2) simple spot returns and (K, 2) relative EWMA vol changes of days start..T−1."""
    start = max(int(start), 1)
    spot = prices.spot
    vol = prices.ewma_vol()
    r = spot[start:] / spot[start - 1 : -1] - 1.0
    v = vol[start:] / vol[start - 1 : -1] - 1.0
    return r, v


def estimate_returns(prices: PriceHistory, start: int = 1) -> ReturnModel:
    """Daily log-return vols and correlation of days start..T−1 (needs ≥ 3 returns)."""
    start = max(int(start), 1)
    lr = prices.log_returns[start - 1 :]
    if len(lr) < 3:
        raise ValueError(
            f"{len(prices)} days of prices leave {len(lr)} daily return(s) from day {start} on; "
            "the VaR/ES return model needs at least 3"
        )
    sd = lr.std(axis=0, ddof=1)
    corr = float(np.corrcoef(lr.T)[0, 1]) if np.all(sd > 0) else 0.0
    return ReturnModel(
        prices.dates[start].isoformat(), prices.dates[-1].isoformat(), len(lr), sd, corr
    )


def monte_carlo_returns(model: ReturnModel, n: int, seed: int) -> np.ndarray:
    """(n, 2) simple daily returns exp(z) − 1, z ~ N(0, Σ) with the model's vols and correlation.

    z_BTC = s₀·e₀, z_ETH = s₁·(ρ·e₀ + √(1 − ρ²)·e₁) with e independent standard normals (the
    2×2 Cholesky factor written out, so a zero vol or |ρ| = 1 needs no special case).
    """
    e = np.random.default_rng(seed).standard_normal((n, 2))
    rho = float(np.clip(model.correlation, -1.0, 1.0))
    s = model.daily_vol
    z = np.column_stack(
        [s[0] * e[:, 0], s[1] * (rho * e[:, 0] + np.sqrt(1.0 - rho * rho) * e[:, 1])]
    )
    return np.expm1(z)


@dataclass(frozen=True)
class BookRisk:
    """One book's 1-day 99% VaR and ES (USD) by both methods, and its IM."""

    name: str
    im: float
    hs_var: float
    hs_es: float
    mc_var: float
    mc_es: float

    def to_json(self) -> dict:
        def ratio(x):
            return self.im / x if x > 1e-6 else None

        return {
            "im": self.im,
            "historical": {"var_99": self.hs_var, "es_99": self.hs_es},
            "monte_carlo": {"var_99": self.mc_var, "es_99": self.mc_es},
            "im_over_hs_var": ratio(self.hs_var),
            "im_over_hs_es": ratio(self.hs_es),
            "im_over_mc_var": ratio(self.mc_var),
            "im_over_mc_es": ratio(self.mc_es),
        }


def book_risk(
    market: MarketState,
    portfolios: Portfolios,
    names: list[str],
    prices: PriceHistory,
    seed: int,
    start: int = 1,
    n_mc: int = DEFAULT_MC_SAMPLES,
) -> tuple[list[BookRisk], ReturnModel]:
    """VaR/ES by historical simulation and Monte Carlo for every book (account a = names[a])."""
    if list(market.feed_ids) != [1, 2]:
        raise ValueError("the price file carries BTC (feed 1) and ETH (feed 2) only")
    r, v = historical_scenarios(prices, start)
    hs_var, hs_es = var_es(portfolio_pnl(market, portfolios, r, v, horizon_days=1.0), ALPHA)
    model = estimate_returns(prices, start)
    mc = monte_carlo_returns(model, n_mc, seed)
    mc_var, mc_es = var_es(portfolio_pnl(market, portfolios, mc, None, horizon_days=1.0), ALPHA)
    im = compute_margin(market, portfolios).im
    books = [
        BookRisk(
            name,
            float(im[a]),
            float(hs_var[a]),
            float(hs_es[a]),
            float(mc_var[a]),
            float(mc_es[a]),
        )
        for a, name in enumerate(names)
    ]
    return books, model
