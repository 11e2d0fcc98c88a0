"""v2 correlation-aware joint loss against v1 on the shared history (docs/CORRELATION.md figures).

Every strategy book of bench/portfolios.json is rolled over the price file as in `make report`
(keel.reports.backtest), once with v1 (fixed c) and once with v2, the BTC/ETH ρ of day t being the
relayer's EWMA estimate (λ = 0.94, daily log returns) after day t's close. Prints JSON: per book and
horizon the exceptions (all windows and each non-overlapping phase) and IM / realised 99% loss; per
book the mean and largest IM ratio v2 / v1 and the largest v2 IM / isolated IM. Also the PM books at
the snapshot for a range of ρ, and the pair's coverage under a constant ρ (a sensitivity).

    .venv/bin/python scripts/correlation_backtest.py [prices.csv]
"""

from __future__ import annotations

import json
import sys

import numpy as np

from keel.reports.backtest import DEFAULT_WARMUP, HORIZONS, evaluate, roll, run_backtest_series
from keel.reports.prices import load_prices
from keel.reports.report import default_books
from keel.risk import compute_margin, isolated_margin
from keel.risk.bench_portfolios import DEFAULT_SNAPSHOT, load_bench

PRICES = "data/btc_eth_daily_2016_2019.csv"
PM_BOOKS = ["PM-4", "PM-16", "PM-32"]
RHO_GRID = (-0.5, 0.0, 0.5, 0.8, 0.95, 1.0)
SENSITIVITY_RHO = (0.5, 0.25, 0.0)  # constant ρ for the pair: what the history asks (not a choice)


def horizon_figures(series, b: int, h: int) -> dict:
    r = evaluate(series, b, h)
    return {
        "exceptions": r.overlapping.exceptions,
        "n": r.overlapping.n,
        "phases": [[c.exceptions, c.n] for c in r.phases],
        "passes": r.passes,
        "im_over_loss_q99": r.im_over_q99,
    }


def main(path: str = PRICES) -> dict:
    prices = load_prices(path)
    names = default_books()
    bench = load_bench(names)
    rho = prices.ewma_correlation()
    runs = {
        v: run_backtest_series(
            prices,
            bench.market,
            bench.portfolios,
            names,
            DEFAULT_SNAPSHOT,
            DEFAULT_WARMUP,
            correlation=c,
        )
        for v, c in (("v1", None), ("v2", rho))
    }
    vol = prices.ewma_vol()
    iso = np.empty_like(runs["v2"].im)
    for i, t in enumerate(range(DEFAULT_WARMUP, len(prices))):
        m_t, p_t = roll(
            bench.market,
            bench.portfolios,
            DEFAULT_SNAPSHOT,
            prices.spot[t],
            vol[t],
            prices.times[t],
        )
        iso[:, i] = isolated_margin(m_t, p_t).im
    out = {"rho_tested_days": _summary(rho[DEFAULT_WARMUP:]), "books": {}}
    for b, name in enumerate(names):
        im1, im2 = runs["v1"].im[b], runs["v2"].im[b]
        has = im1 > 1e-6
        out["books"][name] = {
            **{f"{v}_{h}d": horizon_figures(runs[v], b, h) for v in runs for h in HORIZONS},
            "im_v2_over_v1_mean": float(np.mean(im2[has] / im1[has])) if has.any() else None,
            "im_v2_over_v1_max": float(np.max(im2[has] / im1[has])) if has.any() else None,
            "im_v2_over_isolated_max": float(np.max(im2[iso[b] > 1e-6] / iso[b][iso[b] > 1e-6]))
            if (iso[b] > 1e-6).any()
            else None,
        }
    pm = load_bench(PM_BOOKS)
    out["pm_books_at_snapshot"] = {
        "v1": _by_book(compute_margin(pm.market, pm.portfolios).im),
        "isolated": _by_book(isolated_margin(pm.market, pm.portfolios).im),
        **{
            f"v2_rho_{r:g}": _by_book(
                compute_margin(pm.market.with_correlations({(1, 2): r}), pm.portfolios).im
            )
            for r in RHO_GRID
        },
    }
    pair = names.index("btc_eth_pair")
    out["btc_eth_pair_constant_rho_sensitivity"] = {
        f"{r:g}": {
            f"{h}d": horizon_figures(
                run_backtest_series(
                    prices,
                    bench.market,
                    bench.portfolios.subset([pair]),
                    ["btc_eth_pair"],
                    DEFAULT_SNAPSHOT,
                    DEFAULT_WARMUP,
                    correlation=np.full(len(prices), r),
                ),
                0,
                h,
            )
            for h in HORIZONS
        }
        for r in SENSITIVITY_RHO
    }
    return out


def _by_book(im: np.ndarray) -> dict:
    return {name: float(v) for name, v in zip(PM_BOOKS, im, strict=True)}


def _summary(x: np.ndarray) -> dict:
    return {k: float(f(x)) for k, f in (("min", np.min), ("median", np.median), ("max", np.max))}


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:]), indent=1))
