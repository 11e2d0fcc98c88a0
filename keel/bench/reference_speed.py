"""Speed of the reference risk model on 10,000 PM-32-shaped accounts.

    python -m keel.bench.reference_speed [--accounts N] [--repeat K]

Every account is the bench PM-32 book (34 positions, 3 collateral tokens, 2 underlyings) with sizes
and collateral scaled by a random factor in [0.5, 1.5] and each strike moved a few listed strikes
(BTC $1000, ETH $50 apart). Two variants are timed:
  - listed strikes: strikes on the exchange grid, as on a real venue (few hundred distinct series);
  - unique strikes: every strike jittered continuously, so nearly every position is its own series
    (the worst case for the per-series risk arrays).
Timings are the best of K runs of `compute_margin` with `time.perf_counter` (inputs built outside the
timer). Results: reports/reference_model.md and reports/reference_model.json. Never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import scipy

from keel.risk import (
    Portfolios,
    compute_margin,
    historical_var,
    isolated_margin,
    series_table,
    simple_cross_margin,
)
from keel.risk.bench_portfolios import load_bench

REPORTS = Path(__file__).resolve().parents[2] / "reports"
STRIKE_STEP = {1: 1000.0, 2: 50.0}  # listed strike spacing per feed                [USD]
SEED = 20261121
BENCH_RHO = 0.74  # BTC/ETH ρ: the 2016-19 median EWMA ρ, as keel.deploy_engine's test stack pushes


def pm32_population(n_accounts: int, listed_strikes: bool, seed: int = SEED):
    """(market, Portfolios) of `n_accounts` randomised PM-32 books, built with numpy (no loops)."""
    bench = load_bench(["PM-32"])
    m, base = bench.market, bench.portfolios
    rng = np.random.default_rng(seed)
    n_opt, n_perp = len(base.opt_size), len(base.perp_size)

    scale = rng.uniform(0.5, 1.5, n_accounts)
    opt_scale = rng.uniform(0.5, 1.5, (n_accounts, n_opt))
    perp_scale = rng.uniform(0.5, 1.5, (n_accounts, n_perp))
    step = np.array([STRIKE_STEP[int(f)] for f in base.opt_feed])
    if listed_strikes:
        shift = rng.integers(-3, 4, (n_accounts, n_opt)) * step
    else:
        shift = rng.uniform(-3.0, 3.0, (n_accounts, n_opt)) * step
    accounts = np.arange(n_accounts)

    portfolios = Portfolios(
        account_ids=accounts + 1,
        cash=base.cash[0] * scale,
        collateral=base.collateral[0] * scale[:, None],
        perp_account=np.repeat(accounts, n_perp),
        perp_feed=np.tile(base.perp_feed, n_accounts),
        perp_size=(base.perp_size * perp_scale).ravel(),
        perp_entry=np.tile(base.perp_entry, n_accounts),
        perp_funding_owed=np.zeros(n_accounts * n_perp),
        opt_account=np.repeat(accounts, n_opt),
        opt_feed=np.tile(base.opt_feed, n_accounts),
        opt_strike=(base.opt_strike + shift).ravel(),
        opt_expiry=np.tile(base.opt_expiry, n_accounts),
        opt_is_call=np.tile(base.opt_is_call, n_accounts),
        opt_size=(base.opt_size * opt_scale).ravel(),
    )
    # the chain's rule (SPEC v2 §6): margined with the correlation feed's ρ
    return m.with_correlations({(1, 2): BENCH_RHO}), portfolios


def best_of(fn, repeat: int) -> tuple[float, float]:
    """(best, median) wall time of `fn()` over `repeat` runs [s], after one warm-up run."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run(n_accounts: int, repeat: int) -> dict:
    rows = []
    for listed in (True, False):
        m, p = pm32_population(n_accounts, listed)
        n_series = len(series_table(m, p).value)
        best, median = best_of(lambda m=m, p=p: compute_margin(m, p), repeat)
        row = {
            "variant": "listed strikes" if listed else "unique strikes",
            "function": "compute_margin",
            "accounts": n_accounts,
            "option_positions": int(len(p.opt_size)),
            "perp_positions": int(len(p.perp_size)),
            "distinct_series": n_series,
            "best_s": best,
            "median_s": median,
            "us_per_account": best / n_accounts * 1e6,
        }
        rows.append(row)
        if listed:
            extras = {
                "isolated_margin": lambda m=m, p=p: isolated_margin(m, p),
                "simple_cross_margin": lambda m=m, p=p: simple_cross_margin(m, p),
                "historical_var (250 scenarios)": lambda m=m, p=p: historical_var(
                    m, p, np.random.default_rng(1).normal(0, 0.04, (250, 2))
                ),
            }
            for name, fn in extras.items():
                b, md = best_of(fn, repeat)
                rows.append(
                    {
                        **row,
                        "function": name,
                        "best_s": b,
                        "median_s": md,
                        "us_per_account": b / n_accounts * 1e6,
                    }
                )
    return {
        "command": "python -m keel.bench.reference_speed"
        + (f" --accounts {n_accounts}" if n_accounts != 10_000 else "")
        + (f" --repeat {repeat}" if repeat != 5 else ""),
        "machine": {
            "nproc": os.cpu_count(),
            "cpu": cpu_model(),
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        },
        "repeat": repeat,
        "seed": SEED,
        "target": "compute_margin on 10,000 PM-32-shaped accounts in < 2 s",
        "results": rows,
    }


def write_reports(report: dict, out_dir: Path = REPORTS) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "reference_model.json").write_text(json.dumps(report, indent=2) + "\n")
    mach = report["machine"]
    lines = [
        "# Reference risk model: speed",
        "",
        f"Reproduce: `{report['command']}` (from the repository root, in the project venv).",
        "",
        f"Machine: {mach['nproc']} CPUs (nproc), {mach['cpu']}; Python {mach['python']}, "
        f"numpy {mach['numpy']}, scipy {mach['scipy']}; 1-minute load average "
        f"{mach['load_average_1m_at_end']} when the run ended (the machine is shared, so medians are noisy).",
        "",
        "Population: the bench PM-32 book (34 positions, 3 collateral tokens, 2 underlyings), sizes and",
        "collateral scaled by U[0.5, 1.5], strikes moved up to 3 listed strikes (BTC $1000, ETH $50);",
        "the *unique strikes* variant jitters strikes continuously so nearly every position is its own",
        "series (worst case). Best and median of "
        f"{report['repeat']} runs after a warm-up, `time.perf_counter`, inputs built outside the timer.",
        "",
        f"Target: {report['target']}.",
        "",
        "| variant | function | accounts | option rows | distinct series | best [s] | median [s] | µs / account |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["results"]:
        lines.append(
            f"| {r['variant']} | `{r['function']}` | {r['accounts']:,} | {r['option_positions']:,} "
            f"| {r['distinct_series']:,} | {r['best_s']:.3f} | {r['median_s']:.3f} "
            f"| {r['us_per_account']:.1f} |"
        )
    lines.append("")
    (out_dir / "reference_model.md").write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    report = run(args.accounts, args.repeat)
    write_reports(report)
    for r in report["results"]:
        print(
            f"{r['variant']:15s} {r['function']:32s} {r['accounts']:>7,} accounts "
            f"{r['distinct_series']:>7,} series  best {r['best_s']:.3f} s  median {r['median_s']:.3f} s"
        )
    return report


if __name__ == "__main__":
    main()
