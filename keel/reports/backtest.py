"""Backtest of IM coverage: each strategy book rolled over a price history, losses against IM.

Rolling. On every day t of the history the bench book is rebuilt at that day's spot S_t: strikes keep
their moneyness (K = k·S_t), expiries their tenor (T = t + the book's days), and sizes and risky
collateral are scaled by S_snapshot / S_t per underlying, so every leg keeps the USD notional it has
in bench/portfolios.json (a BTC/ETH pair stays a pair although BTC cost $430 and ETH $1 in 2016). The
market of day t is spot S_t and vol σ_t from the relayer's estimator (`keel.risk.ewma.EwmaVol`,
RiskMetrics λ = 0.94, 365 periods a year) on that underlying's closes up to and including t; WETH and
WBTC are priced at the day's ETH and BTC spot. Margin parameters are the SPEC defaults.

Loss. The book held from t to t + h (h = 1, 2 days, no trading) is revalued in full with the
reference model's Black–Scholes (`keel.risk.portfolio_pnl`): spot S_{t+h}, vol σ_{t+h}, every τ
shortened by h days; perps and linked collateral move linearly. loss_h(t) = −P&L.
IM(t) is `compute_margin` on day t's market (with the market's σ_floor, if it has one: the report's
default is the mean EWMA vol of the file, `keel.reports.apc`; and, given a daily BTC/ETH ρ, with SPEC
v2 §6's correlation-aware scan risk at the ρ known after day t's close, as the report runs it). An exception is loss_h(t) > IM(t)
(plus $1e-6 and 1e-9·IM so that float rounding of a perfectly hedged book cannot create one).
Severity: the largest loss/IM, the largest exceptions, and the mean shortfall (loss − IM) over the
exception days (every window).

Statistics at the 99% level (p = 1% expected exception rate), n observations with x exceptions:
  - one-sided binomial test of H0 "coverage ≥ 99%" (exception probability ≤ p): p-value P(X ≥ x)
    for X ~ Bin(n, p); H0 is rejected, i.e. IM covers significantly less than 99%, when it is < 5%;
  - Kupiec's proportion-of-failures test (two-sided: too many or too few exceptions):
    LR = −2 ln[(1 − p)^(n−x) p^x] + 2 ln[(1 − x/n)^(n−x) (x/n)^x], ~ χ²(1) under H0 (0·ln 0 = 0);
  - Basel traffic light, scaled to 250 observations: x₂₅₀ = 250·x/n, green when x₂₅₀ < 5, yellow when
    5 ≤ x₂₅₀ < 10, red when x₂₅₀ ≥ 10 (the Basel 250-day boundaries 0–4 / 5–9 / 10+, i.e. an exception
    rate below 2%, 2–4%, 4% or more); at n = 250 it is exactly the Basel table;
  - over-margining: mean IM / the realised 99% loss quantile (the empirical quantile of
    `keel.risk.var_es`), and the uniform factor by which IM could be scaled while still covering 99%
    of days: 1 / q₉₉(loss/IM).

Overlapping 2-day windows. Windows starting on consecutive days share a day, so their exceptions are
not independent and binomial/Kupiec p-values on all of them would overstate the evidence. The tests
are therefore run on non-overlapping windows: phase 0 (windows starting on even days of the sample)
and phase 1 (odd days), each a valid independent-window sample; the 2-day coverage verdict requires
both phases to pass (the conservative reading). The overlapping series is still shown: its exception
count and the over-margining figures use every window.

Warm-up. The estimator starts from its seed (80%, SPEC σ_ref); the first `warmup` days (default 60,
after which the seed's weight in the variance is λ⁶⁰ ≈ 2%) set the vol only and are not tested.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy.stats import binom, chi2

from keel.risk import MarketState, Portfolios, compute_margin, portfolio_pnl, var_es

from .prices import PriceHistory

COVERAGE = 0.99  # tested coverage level
P_EXCEPTION = 1.0 - COVERAGE  # expected exception rate under H0
SIGNIFICANCE = 0.05  # test size
DEFAULT_WARMUP = 60  # days of vol warm-up before the first tested day
HORIZONS = (1, 2)  # [days]
ABS_TOL = 1e-6  # [USD]
REL_TOL = 1e-9  # [fraction of IM]
BASEL_N = 250
BASEL_YELLOW = 5  # x₂₅₀ at which the yellow zone starts
BASEL_RED = 10  # x₂₅₀ at which the red zone starts


# --- Statistics ---


def exceptions(loss, im) -> np.ndarray:
    """Boolean array: loss > IM (beyond float rounding); NaN losses are never exceptions."""
    loss, im = np.asarray(loss, float), np.asarray(im, float)
    with np.errstate(invalid="ignore"):
        return loss > im + ABS_TOL + REL_TOL * np.abs(im)


def binomial_pvalue(n: int, x: int, p: float = P_EXCEPTION) -> float:
    """One-sided p-value of H0 "exception probability ≤ p" given x of n: P(X ≥ x), X ~ Bin(n, p)."""
    if n <= 0:
        return math.nan
    return float(binom.sf(x - 1, n, p))


def kupiec_pof(n: int, x: int, p: float = P_EXCEPTION) -> tuple[float, float]:
    """Kupiec's POF likelihood ratio and its χ²(1) p-value (two-sided; 0·ln 0 taken as 0)."""
    if n <= 0:
        return math.nan, math.nan

    def loglik(q: float) -> float:
        a = (n - x) * math.log1p(-q) if n > x else 0.0
        b = x * math.log(q) if x > 0 else 0.0
        return a + b

    lr = max(-2.0 * (loglik(p) - loglik(x / n)), 0.0)
    return lr, float(chi2.sf(lr, 1))


def traffic_light(n: int, x: int) -> tuple[str, float]:
    """Basel zone of x exceptions in n days scaled to 250 days, and the scaled count x₂₅₀."""
    if n <= 0:
        return "n/a", math.nan
    scaled = BASEL_N * x / n
    if scaled < BASEL_YELLOW:
        return "green", scaled
    if scaled < BASEL_RED:
        return "yellow", scaled
    return "red", scaled


@dataclass(frozen=True)
class Coverage:
    """Coverage statistics of one sample of windows."""

    n: int
    exceptions: int
    binomial_p: float
    kupiec_lr: float
    kupiec_p: float
    zone: str
    scaled_exceptions: float

    @property
    def rate(self) -> float:
        return self.exceptions / self.n if self.n else math.nan

    @property
    def passes(self) -> bool:
        """Coverage ≥ 99% not rejected: exceptions not significantly above 1%."""
        return bool(self.n > 0 and self.binomial_p >= SIGNIFICANCE)

    @staticmethod
    def of(exc) -> Coverage:
        exc = np.asarray(exc, bool)
        n, x = int(exc.size), int(exc.sum())
        lr, kp = kupiec_pof(n, x)
        zone, scaled = traffic_light(n, x)
        return Coverage(n, x, binomial_pvalue(n, x), lr, kp, zone, scaled)

    def to_json(self) -> dict:
        return {
            "n": self.n,
            "exceptions": self.exceptions,
            "exception_rate": self.rate,
            "binomial_p_coverage_ge_99": self.binomial_p,
            "kupiec_lr": self.kupiec_lr,
            "kupiec_p": self.kupiec_p,
            "traffic_light": self.zone,
            "exceptions_per_250": self.scaled_exceptions,
            "passes": self.passes,
        }


def loss_over_im(loss, im) -> np.ndarray:
    """loss / IM; where IM is zero (≤ $1e-6): 0 if the loss is zero too, else +inf."""
    loss, im = np.asarray(loss, float), np.asarray(im, float)
    has_im = im > ABS_TOL
    ratio = loss / np.where(has_im, im, 1.0)
    return np.where(has_im, ratio, np.where(loss > ABS_TOL, np.inf, 0.0))


def over_margining(loss, im) -> tuple[float, float, float]:
    """(realised 99% loss quantile, mean IM / that quantile, 1 / q₉₉(loss/IM)); NaN if undefined."""
    loss, im = np.asarray(loss, float), np.asarray(im, float)
    ok = np.isfinite(loss)
    loss, im = loss[ok], im[ok]
    if loss.size == 0:
        return math.nan, math.nan, math.nan
    q99 = float(var_es(-loss, COVERAGE)[0])
    ratio = mean_ratio = math.nan
    if q99 > ABS_TOL:
        mean_ratio = float(im.mean() / q99)
    rel = loss_over_im(loss, im)
    q_rel = float(var_es(-rel, COVERAGE)[0])
    if q_rel > 0:
        ratio = 1.0 / q_rel
    return q99, mean_ratio, ratio


@dataclass(frozen=True)
class HorizonResult:
    """One book at one horizon: every window, and the tests."""

    horizon: int
    overlapping: Coverage  # every window (for h = 1 the test sample)
    phases: tuple[Coverage, ...]  # non-overlapping samples (h = 2: two phases; h = 1: empty)
    loss_q99: float
    im_over_q99: float
    im_scale_to_99: float
    max_loss_to_im: float
    mean_shortfall: float  # mean of (loss − IM) over the exception days, NaN if none  [USD]
    worst: list[dict]  # the largest exceptions (date, loss, IM, spot moves)

    @property
    def tests(self) -> tuple[Coverage, ...]:
        return self.phases or (self.overlapping,)

    @property
    def passes(self) -> bool:
        return all(c.passes for c in self.tests)

    def to_json(self) -> dict:
        return {
            "horizon_days": self.horizon,
            "all_windows": self.overlapping.to_json(),
            "non_overlapping_phases": [c.to_json() for c in self.phases],
            "coverage_goal_met": self.passes,
            "realised_loss_q99": self.loss_q99,
            "mean_im_over_loss_q99": self.im_over_q99,
            "im_scale_factor_for_99pct": self.im_scale_to_99,
            "max_loss_over_im": self.max_loss_to_im,
            "mean_shortfall_on_exception_days": self.mean_shortfall,
            "largest_exceptions": self.worst,
        }


# --- Rolling the books ---


def roll(
    market: MarketState,
    portfolios: Portfolios,
    snapshot: float,
    spot,
    vol,
    observed_at: float,
) -> tuple[MarketState, Portfolios]:
    """The snapshot books rebuilt at `spot`/`vol` on `observed_at` (see the module docstring).

    market/portfolios are the bench snapshot (`load_bench`); spot and vol are in market.feed_ids
    order. Moneyness K/S, tenor T − t and the USD notional of every leg are those of the snapshot;
    perps enter at the day's spot with no funding owed.
    """
    spot, vol = np.asarray(spot, float), np.asarray(vol, float)
    growth = spot / market.spot  # (U,) S_t / S_snapshot
    tokens = tuple(
        replace(t, price=t.price * growth[market.slot(t.linked_feed)]) if t.linked_feed else t
        for t in market.tokens
    )
    token_scale = np.array(
        [1.0 / growth[market.slot(t.linked_feed)] if t.linked_feed else 1.0 for t in tokens]
    )
    day_market = replace(
        market.with_feeds(spot=spot, vol=vol, observed_at=np.full(len(spot), observed_at)),
        tokens=tokens,
        settlement_prices={},
    )
    p = portfolios
    o_slot, p_slot = market.slot(p.opt_feed), market.slot(p.perp_feed)
    day = replace(
        p,
        collateral=p.collateral * token_scale if len(tokens) else p.collateral,
        perp_size=p.perp_size / growth[p_slot],
        perp_entry=spot[p_slot],
        perp_funding_owed=np.zeros_like(p.perp_funding_owed),
        opt_strike=p.opt_strike * growth[o_slot],
        opt_expiry=(p.opt_expiry - int(snapshot) + int(observed_at)).astype(np.int64),
        opt_size=p.opt_size / growth[o_slot],
    )
    return day_market, day


@dataclass(frozen=True)
class BacktestSeries:
    """Daily IM and h-day losses of every book over the tested days (arrays (n_books, n_days))."""

    names: list[str]
    dates: list[str]  # tested days t (ISO)
    spot: np.ndarray  # (n_days, U)
    vol: np.ndarray  # (n_days, U) EWMA vol on day t
    im: np.ndarray  # (n_books, n_days) IM(t)                                  [USD]
    loss: dict[int, np.ndarray]  # h → (n_books, n_days) loss_h(t), NaN past the end [USD]
    warmup: int


def run_backtest_series(
    prices: PriceHistory,
    market: MarketState,
    portfolios: Portfolios,
    names: list[str],
    snapshot: float,
    warmup: int = DEFAULT_WARMUP,
    horizons: tuple[int, ...] = HORIZONS,
    correlation=None,
) -> BacktestSeries:
    """Roll every book over `prices` (columns BTC, ETH = feed ids 1, 2) from day `warmup` on.

    correlation: (T,) BTC/ETH ρ known after each day's close (e.g. `PriceHistory.ewma_correlation`):
    IM is then the v2 correlation-aware rule (SPEC v2 §6); None: v1's fixed credit c."""
    if list(market.feed_ids) != [1, 2]:
        raise ValueError("the price file carries BTC (feed 1) and ETH (feed 2) only")
    n_t = len(prices)
    if warmup < 0 or n_t - warmup < 1 + max(horizons):
        raise ValueError(
            f"{n_t} days of prices leave no {max(horizons)}-day window after a warm-up of {warmup}"
        )
    vol = prices.ewma_vol()
    times = prices.times
    days = np.arange(warmup, n_t)
    n_b = portfolios.n_accounts
    im = np.empty((n_b, len(days)))
    loss = {h: np.full((n_b, len(days)), np.nan) for h in horizons}
    for i, t in enumerate(days):
        m_t, p_t = roll(market, portfolios, snapshot, prices.spot[t], vol[t], times[t])
        if correlation is not None:
            m_t = m_t.with_correlations({(1, 2): float(correlation[t])})
        im[:, i] = compute_margin(m_t, p_t).im
        for h in horizons:
            if t + h >= n_t:
                continue
            r = prices.spot[t + h] / prices.spot[t] - 1.0
            v = vol[t + h] / vol[t] - 1.0
            pnl = portfolio_pnl(m_t, p_t, r[None, :], v[None, :], horizon_days=h)
            loss[h][:, i] = -pnl[:, 0]
    return BacktestSeries(
        names=list(names),
        dates=[prices.dates[t].isoformat() for t in days],
        spot=prices.spot[days],
        vol=vol[days],
        im=im,
        loss=loss,
        warmup=warmup,
    )


def evaluate(series: BacktestSeries, book: int, h: int, n_worst: int = 5) -> HorizonResult:
    """Coverage tests and over-margining of book index `book` at horizon h."""
    loss_all, im_all = series.loss[h][book], series.im[book]
    ok = np.isfinite(loss_all)
    idx = np.flatnonzero(ok)
    loss, im = loss_all[ok], im_all[ok]
    exc = exceptions(loss, im)
    phases = tuple(Coverage.of(exc[k::h]) for k in range(h)) if h > 1 else ()
    q99, mean_ratio, scale = over_margining(loss, im)
    rel = loss_over_im(loss, im)
    order = np.argsort(-(loss - im))
    worst = [
        {
            "date": series.dates[idx[j]],
            "loss": float(loss[j]),
            "im": float(im[j]),
            "btc_move": float(_move(series, idx[j], h, 0)),
            "eth_move": float(_move(series, idx[j], h, 1)),
        }
        for j in order[:n_worst]
        if exc[j]
    ]
    return HorizonResult(
        horizon=h,
        overlapping=Coverage.of(exc),
        phases=phases,
        loss_q99=q99,
        im_over_q99=mean_ratio,
        im_scale_to_99=scale,
        max_loss_to_im=float(rel.max()) if rel.size else math.nan,
        mean_shortfall=float((loss - im)[exc].mean()) if exc.any() else math.nan,
        worst=worst,
    )


def _move(series: BacktestSeries, i: int, h: int, u: int) -> float:
    """Spot return of underlying column u over the window starting at tested day i."""
    if i + h < len(series.dates):
        return series.spot[i + h, u] / series.spot[i, u] - 1.0
    return math.nan
