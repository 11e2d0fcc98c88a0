"""Assemble the report: run every section, write the PNGs, return the JSON twin.

Sections (see each module's docstring for the method):
  capital efficiency (`capital`), the per-book margin breakdown and scenario heatmap
  (`breakdown`), IM coverage backtest with its severity (`backtest`), anti-procyclicality (`apc`:
  σ_floor and the IM rise / peak-to-trough metrics, with and without the floor), VaR/ES vs IM
  (`risk`), the crash simulation's stress results (filled from `<out>/simulation.json` when the chain simulation has
  written it; see `keel.reports.html` for the schema) and gas (`<out>/gas.md` when present).
The JSON twin holds every number the page shows (and the daily backtest series behind the charts).

Model v2 default. Every section margins with σ_eff = max(σ, σ_floor), σ_floor the mean EWMA vol of
the price file (`apc.default_vol_floor`); the backtest and the APC metrics also run without the floor
(the v1 model), side by side.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keel.risk.bench_portfolios import DEFAULT_SNAPSHOT, FEED_IDS, load_bench, read_bench
from keel.risk.compare import DEFAULT_SIMPLE_RATES
from keel.risk.scenarios import N_SCENARIOS, scenario_label

from . import plots
from .apc import RISE_WINDOWS, default_vol_floor, procyclicality
from .backtest import (
    COVERAGE,
    DEFAULT_WARMUP,
    HORIZONS,
    SIGNIFICANCE,
    HorizonResult,
    evaluate,
    run_backtest_series,
)
from .breakdown import margin_breakdown
from .capital import GoalCheck, capital_efficiency, capital_goals, simple_cross_rules
from .prices import load_prices
from .risk import DEFAULT_MC_SAMPLES, book_risk

REPO = Path(__file__).resolve().parents[2]
DEFAULT_PRICES = REPO / "data" / "btc_eth_daily_2016_2019.csv"
DEFAULT_OUT = REPO / "reports"
DEFAULT_SEED = 20261121
SIMULATION_FILE = "simulation.json"
GAS_FILE = "gas.md"
# The sensitivity run for a book that misses the coverage goal: no correlation credit (c = 0 is
# inside the SPEC's bounds [0, 0.8]; the default is 0.5). It explains a miss; it is never applied.
SENSITIVITY_CREDIT = 0.0


@dataclass(frozen=True)
class ReportConfig:
    prices: Path
    out: Path
    seed: int = DEFAULT_SEED
    books: tuple[str, ...] | None = None  # None: every strategy book of the bench file
    warmup: int = DEFAULT_WARMUP
    mc_samples: int = DEFAULT_MC_SAMPLES
    bench: Path | None = None  # None: bench/portfolios.json


def default_books(bench: Path | None = None) -> list[str]:
    return list(read_bench(bench).get("strategy_books", {}))


def known_books(bench: Path | None = None) -> list[str]:
    data = read_bench(bench)
    return list(data.get("portfolios", {})) + list(data.get("strategy_books", {}))


def shown_path(path: Path | str) -> str:
    """A path as the report shows it: relative to the repository when inside it."""
    p = Path(path).resolve()
    try:
        return str(p.relative_to(REPO))
    except ValueError:
        return str(path)


def clean(obj):
    """JSON-safe copy: numpy scalars/arrays to Python, NaN and ±inf to None."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return clean(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        x = float(obj) + 0.0  # + 0.0 turns −0.0 into 0.0
        return x if math.isfinite(x) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def _rounded(a: np.ndarray, digits: int = 2) -> list:
    return [None if not np.isfinite(x) else round(float(x), digits) for x in a]


# The horizon the coverage goal is judged on: the margin period of risk of exchange-traded
# derivatives, 2 business days (EMIR RTS 153/2013 art. 26(1)). The 1-day test is shown for reference.
GOAL_HORIZON = 2
HORIZON_NOTE = {
    GOAL_HORIZON: "the margin period of risk of exchange-traded derivatives, EMIR RTS 153/2013 "
    "art. 26: the horizon this goal is judged on",
    1: "shorter than the margin period of risk; for reference",
}


def coverage_goals(
    results: dict[str, dict[int, HorizonResult]], why_missed: str = ""
) -> list[GoalCheck]:
    """One goal per horizon: coverage ≥ 99% (exceptions not significantly above 1%) for every book;
    `why_missed` is the reason shown beside a rejection."""
    out = []
    for h in HORIZONS:
        failing = [(name, r[h]) for name, r in results.items() if not r[h].passes]
        per_book = []
        for name, r in results.items():
            tests = r[h].tests
            per_book.append(
                f"{name} "
                + " and ".join(f"{c.exceptions}/{c.n}" for c in tests)
                + f" (p = {min(c.binomial_p for c in tests):.3g})"
            )
        out.append(
            GoalCheck(
                goal=f"coverage ≥ {COVERAGE:.0%} at {h} day{'s' if h > 1 else ''} for every book "
                f"(one-sided binomial test, {SIGNIFICANCE:.0%} level; {HORIZON_NOTE.get(h, '')})",
                met=not failing,
                measured="; ".join(per_book),
                detail=(
                    "rejected for " + ", ".join(name for name, _ in failing) + why_missed
                    if failing
                    else ""
                ),
            )
        )
    return out


def stress_goal(simulation: dict | None, source: str) -> GoalCheck:
    goal = "zero bad debt in the default crash run"
    if simulation is None:
        return GoalCheck(goal, None, f"not measured: {source} absent (needs the chain simulation)")
    summary = simulation.get("summary", {})
    bad = summary.get("bad_debt", simulation.get("bad_debt"))
    if not isinstance(bad, (int, float)):
        return GoalCheck(goal, None, "simulation.json carries no summary.bad_debt figure")
    return GoalCheck(
        goal, bad == 0, f"bad debt ${bad:,.2f}", bad_debt_reason(summary) if bad else ""
    )


def bad_debt_reason(summary: dict) -> str:
    """Why the crash run left bad debt, from the figures of simulation.json's summary."""
    crash = summary.get("crash")
    insolvent = summary.get("negative_equity_after_crash")
    parts = []
    if crash and isinstance(insolvent, int):
        parts.append(
            f"{insolvent} account(s) had negative equity at the crash prices before any auction "
            f"could start: the one-update crash ({crash}) is a larger move than IM is sized for "
            "(it covers in full a move of one scan range R, the two-day 99.5% move at the feed's vol, and weighs moves of 2–3 R at 30%)"
        )
    paid, socialised = summary.get("insurance_fund_paid"), summary.get("socialised_loss")
    if isinstance(paid, (int, float)) and isinstance(socialised, (int, float)):
        parts.append(
            f"the insurance fund paid ${paid:,.2f} and ${socialised:,.2f} was socialised "
            "(the SPEC §7 waterfall); see the stress section"
        )
    return "; ".join(parts)


def simulation_config(simulation: dict | None) -> dict:
    """The run's options from simulation.json ({} without the file or the key)."""
    config = (simulation or {}).get("config")
    return config if isinstance(config, dict) else {}


def missed_coverage_reason(sensitivity: dict[str, dict]) -> str:
    """A short reason beside a coverage rejection, pointing at the c = 0 diagnosis."""
    if not sensitivity:
        return ""
    return (
        ": see 'Where the coverage goal is missed, and why' in the backtest section (the "
        f"correlation credit at c = {SENSITIVITY_CREDIT:g} is run as a diagnosis; no parameter was "
        "changed)"
    )


def cover2_goal(simulation: dict | None, source: str) -> GoalCheck:
    """The cover-2 requirement (keel/risk/cover2.py) ≤ the insurance fund at every measured step."""
    goal = "cover-2 requirement ≤ the insurance fund at every step of the default run"
    c2 = (simulation or {}).get("cover2")
    if simulation is None:
        return GoalCheck(goal, None, f"not measured: {source} absent (needs the chain simulation)")
    if not isinstance(c2, dict) or "met_every_step" not in c2:
        return GoalCheck(goal, None, "simulation.json carries no cover2 figures")
    worst = c2["max"]
    quick = " (quick run)" if simulation.get("config", {}).get("quick") else ""
    measured = (
        f"largest requirement ${worst['requirement']:,.2f} ({worst['binding_scenario']}, "
        f"day {worst['t']:.2f}) against a fund of ${worst['insurance_fund']:,.2f}; "
        f"{c2['steps_measured']} steps{quick}"
    )
    detail = (
        ""
        if c2["met_every_step"]
        else f"short at {c2['steps_short']} step{'s' * (c2['steps_short'] != 1)}, by up to "
        f"${c2['largest_shortfall']:,.2f}"
    )
    return GoalCheck(goal, bool(c2["met_every_step"]), measured, detail)


def read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def build(config: ReportConfig) -> dict:
    """Run every section, then write the PNGs into config.out; return the report as a JSON-able
    dict. Every input is read and every figure computed before the folder is created or a file
    written: rejected input (a bad price file, an unknown book, a warm-up longer than the
    prices) leaves nothing behind."""
    out = Path(config.out)
    names = list(config.books) if config.books else default_books(config.bench)
    unknown = sorted(set(names) - set(known_books(config.bench)))
    if unknown:
        raise ValueError(f"unknown book(s) {unknown}; known: {known_books(config.bench)}")
    prices = load_prices(config.prices)
    bench = load_bench(names, path=config.bench)
    market_v1, ports = bench.market, bench.portfolios
    feed_names = {v: k for k, v in FEED_IDS.items()}

    # --- The v1 backtest (no floor): checks the warm-up against the file first ---
    series_v1 = run_backtest_series(
        prices, market_v1, ports, names, DEFAULT_SNAPSHOT, config.warmup
    )
    results_v1 = {
        name: {h: evaluate(series_v1, b, h) for h in HORIZONS} for b, name in enumerate(names)
    }

    # --- σ_floor (SPEC v2 §6): the model v2 default for every section below ---
    floor = default_vol_floor(prices, config.warmup)
    market = market_v1.with_vol_floor(floor)
    floor_json = {
        "vol_floor": {
            feed_names[int(f)]: float(v) for f, v in zip(market.feed_ids, floor, strict=True)
        },
        "prices": shown_path(config.prices),
        "first_date": prices.dates[config.warmup].isoformat(),
        "last_date": prices.dates[-1].isoformat(),
        "days": len(prices) - config.warmup,
        "years": (prices.dates[-1] - prices.dates[config.warmup]).days / 365.25,
        "estimator": "mean of the relayer's EWMA vol (keel.risk.ewma.EwmaVol, λ = 0.94 on daily "
        "log returns, 365 periods a year) over the file's days after the warm-up",
    }

    # --- Capital efficiency and the margin breakdown at the bench snapshot ---
    capital = capital_efficiency(market, ports, names, feed_names)
    breakdown = margin_breakdown(market, ports, names, feed_names)

    # --- Backtest ---
    series = run_backtest_series(prices, market, ports, names, DEFAULT_SNAPSHOT, config.warmup)
    results = {name: {h: evaluate(series, b, h) for h in HORIZONS} for b, name in enumerate(names)}
    sensitivity = {}
    for b, name in enumerate(names):
        missed = [h for h in HORIZONS if not results[name][h].passes]
        if not missed:
            continue
        sub = ports.subset([b])
        alt = market.with_params(correlation_credit=SENSITIVITY_CREDIT)
        alt_series = run_backtest_series(
            prices, alt, sub, [name], DEFAULT_SNAPSHOT, config.warmup, HORIZONS
        )
        sensitivity[name] = {
            h: evaluate(alt_series, 0, h).to_json() | {"correlation_credit": SENSITIVITY_CREDIT}
            for h in missed
        }

    floor_json["tested_days"] = len(series.dates)
    floor_json["days_below_floor"] = {
        feed_names[int(f)]: int((series.vol[:, u] < floor[u]).sum())
        for u, f in enumerate(market.feed_ids)
    }

    # --- Anti-procyclicality metrics of the daily IM, with and without the floor ---
    apc_books = {
        name: {
            "with_floor": procyclicality(series.im[b], series.dates).to_json(),
            "no_floor": procyclicality(series_v1.im[b], series.dates).to_json(),
            "zero_im_reason": breakdown[name]["zero_im_reason"],
        }
        for b, name in enumerate(names)
    }

    # --- Risk ---
    risk_books, return_model = book_risk(
        market, ports, names, prices, config.seed, start=config.warmup + 1, n_mc=config.mc_samples
    )

    # --- Stress (filled by the chain simulation) and gas ---
    sim_path = out / SIMULATION_FILE
    simulation = read_json(sim_path) if sim_path.exists() else None
    gas_path = out / GAS_FILE
    gas = {"source": shown_path(gas_path), "present": gas_path.exists()}
    if gas_path.exists():
        gas["markdown"] = gas_path.read_text()

    # --- Charts: the first writes ---
    out.mkdir(parents=True, exist_ok=True)
    files = [
        plots.capital_chart(capital, out / "capital_efficiency.png"),
        plots.scenario_heatmap(breakdown, out / "scenario_heatmap.png"),
    ]
    chart_files = {}
    for b, name in enumerate(names):
        chart_files[name] = plots.backtest_chart(
            series, b, out / f"backtest_{name}.png", im_no_floor=series_v1.im[b]
        )
        files.append(chart_files[name])
    files.append(plots.risk_chart(risk_books, out / "risk_var_es.png"))
    stress = {
        "source": shown_path(sim_path),
        "present": simulation is not None,
        "quick": bool(simulation_config(simulation).get("quick")),
    }
    if simulation is not None:
        stress["data"] = simulation
        if isinstance(simulation.get("series"), dict):
            chart = plots.stress_chart(simulation["series"], out / "stress_equity_margin.png")
            if chart:
                stress["chart"] = chart
                files.append(chart)
        timeline = simulation.get("liquidation_timeline")
        if isinstance(timeline, dict) and timeline.get("auctions"):
            chart = plots.liquidation_chart(timeline["auctions"], out / "liquidation_timeline.png")
            stress["timeline_chart"] = chart
            files.append(chart)

    goals = (
        capital_goals(capital)
        + coverage_goals(results, missed_coverage_reason(sensitivity))
        + [stress_goal(simulation, stress["source"]), cover2_goal(simulation, stress["source"])]
    )
    params = market.params
    report = {
        "title": "Keel risk report",
        "inputs": {
            "prices": shown_path(config.prices),
            "price_rows": len(prices),
            "first_date": prices.dates[0].isoformat(),
            "last_date": prices.dates[-1].isoformat(),
            "bench": shown_path(config.bench or REPO / "bench" / "portfolios.json"),
            "books": names,
            "seed": config.seed,
            "warmup_days": config.warmup,
            "monte_carlo_samples": config.mc_samples,
            "snapshot": {
                feed_names[int(f)]: {"spot": float(s), "vol": float(v), "vol_eff": float(e)}
                for f, s, v, e in zip(
                    market.feed_ids, market.spot, market.vol, market.vol_eff, strict=True
                )
            },
            "margin_params": dict(params.__dict__),
            "vol_floor": floor_json,
            "vol_estimator": "keel.risk.ewma.EwmaVol (RiskMetrics λ = 0.94, 365 periods/yr, seed 80%)",
        },
        "goals": [g.to_json() for g in goals],
        "capital_efficiency": {
            "simple_cross_rules": simple_cross_rules(DEFAULT_SIMPLE_RATES),
            "simple_cross_rates": dict(DEFAULT_SIMPLE_RATES.__dict__),
            "books": {c.name: c.to_json() for c in capital},
            "chart": "capital_efficiency.png",
        },
        "margin_breakdown": {
            "books": breakdown,
            "scenario_labels": [scenario_label(j) for j in range(N_SCENARIOS)],
            "correlation_credit": params.correlation_credit,
            "chart": "scenario_heatmap.png",
        },
        "backtest": {
            "goal_horizon_days": GOAL_HORIZON,
            "first_tested_day": series.dates[0],
            "last_tested_day": series.dates[-1],
            "coverage": COVERAGE,
            "significance": SIGNIFICANCE,
            "books": {
                name: {f"{h}d": results[name][h].to_json() for h in HORIZONS} for name in names
            },
            "books_no_floor": {
                name: {f"{h}d": results_v1[name][h].to_json() for h in HORIZONS} for name in names
            },
            "sensitivity_no_correlation_credit": {
                name: {f"{h}d": v for h, v in s.items()} for name, s in sensitivity.items()
            },
            "charts": chart_files,
            "daily": {
                "dates": series.dates,
                "btc": _rounded(series.spot[:, 0], 6),
                "eth": _rounded(series.spot[:, 1], 6),
                "btc_vol": _rounded(series.vol[:, 0], 6),
                "eth_vol": _rounded(series.vol[:, 1], 6),
                "books": {
                    name: {
                        "im": _rounded(series.im[b]),
                        "im_no_floor": _rounded(series_v1.im[b]),
                        **{f"loss_{h}d": _rounded(series.loss[h][b]) for h in HORIZONS},
                    }
                    for b, name in enumerate(names)
                },
            },
        },
        "procyclicality": {
            "vol_floor": floor_json,
            "rise_windows_days": list(RISE_WINDOWS),
            "books": apc_books,
        },
        "risk": {
            "alpha": 0.99,
            "horizon_days": 1,
            "return_model": return_model.to_json(),
            "books": {r.name: r.to_json() for r in risk_books},
            "chart": "risk_var_es.png",
        },
        "stress": stress,
        "gas": gas,
        "files": ["report.html", "report.json", *files],
    }
    return clean(report)
