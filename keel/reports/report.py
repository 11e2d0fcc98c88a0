"""Assemble the report: run every section, write the PNGs, return the JSON twin.

Sections (see each module's docstring for the method):
  capital efficiency (`capital`), the per-book margin breakdown and scenario heatmap
  (`breakdown`), IM coverage backtest with its severity (`backtest`), anti-procyclicality (`apc`:
  σ_floor and the IM rise / peak-to-trough metrics, with and without the floor), VaR/ES vs IM
  (`risk`), the crash simulation's stress results (filled from `<out>/simulation.json` when the chain simulation has
  written it; see `keel.reports.html` for the schema) and gas (`<out>/gas.md` when present).
The JSON twin holds every number the page shows (and the daily backtest series behind the charts).

Model v2 default. Every section margins with σ_eff = max(σ, σ_floor), σ_floor the mean EWMA vol of
the price file (`apc.default_vol_floor`), and with SPEC v2 §6's correlation-aware scan risk, the rule
the chain computes (docs/CORRELATION.md, `keel.risk.correlation`):

    SR = min(Σ L_u, max(L_J + (1 − c_max)(Σ L_u − L_J), L_ρ)),   c_max = 0.8,

L_ρ at the stressed BTC/ETH correlation ρ_s of the relayer's EWMA ρ (`PriceHistory.ewma_correlation`,
computed once): the backtest takes each day's ρ after that day's close, the sections at the bench
snapshot (capital efficiency, margin breakdown, VaR/ES beside IM) the ρ after the file's last close,
the relayer's estimate "now" (recorded in inputs.correlation). The backtest and the APC metrics also
run without the floor (the same rule at the same daily ρ, so the two differ by the floor only), side
by side. v1's fixed correlation credit c survives in one place: the sensitivity run of a book that
misses its coverage goal (`no_correlation_credit`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keel.risk import MarketState
from keel.risk.bench_portfolios import DEFAULT_SNAPSHOT, FEED_IDS, load_bench, read_bench
from keel.risk.compare import DEFAULT_SIMPLE_RATES
from keel.risk.correlation import stressed_correlation
from keel.risk.model import CREDIT_CAP
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
# The correlation feed's one pair here (lower feed id, higher feed id), BTC/ETH.
PAIR = (FEED_IDS["BTC"], FEED_IDS["ETH"])
PAIR_NAME = "BTC/ETH"
CORRELATION_ESTIMATOR = (
    "keel.risk.ewma.EwmaCorrelation, λ = 0.94 on daily log returns, ρ after the file's last close"
)
# SPEC v2 §6's scan risk in words (the rule itself: keel.risk.correlation.scan_risk_v2).
SCAN_RISK_RULE = (
    f"SR = min(Σ L_u, max(L_J + (1 − c_max)(Σ L_u − L_J), L_ρ)), c_max = {CREDIT_CAP:g}; L_ρ the "
    "largest loss over the joint moves plausible under the stressed correlation ρ_s = max(2ρ − 1, "
    "0.75ρ) for ρ ≥ 0, max(1.25ρ, −1) for ρ < 0 (SPEC v2 §6, keel.risk.correlation)"
)
# The sensitivity run for a book that misses the coverage goal: no correlation credit at all,
# SR = Σ L_u. It is run as the v1 rule with c = 0 and no correlation feed, SR = L_J + (1 − 0)(Σ L_u −
# L_J), which is Σ L_u for every book. The v2 rule at ρ = −1 (ρ_s = −1) is not the same diagnostic:
# its L_ρ covers the standard grid's anti-correlated moves only, all underlyings in one vol state,
# so it can stay below Σ L_u where L_u comes from different vol states or from the extended ±2R/±3R
# scenarios. It explains a miss; it is never applied.
SENSITIVITY_RULE = "Σ L_u (the v1 rule with c = 0 and no correlation feed)"


def no_correlation_credit(market: MarketState) -> MarketState:
    """`market` margined with SR = Σ L_u: v1 with c = 0 (no correlations), L_J + (Σ L_u − L_J)."""
    return market.with_correlations(None).with_params(correlation_credit=0.0)


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
    """A short reason beside a coverage rejection, pointing at the no-credit (SR = Σ L_u) diagnosis."""
    if not sensitivity:
        return ""
    return (
        ": see 'Where the coverage goal is missed, and why' in the backtest section (IM with no "
        "correlation credit, SR = Σ L_u, is run as a diagnosis; no parameter was changed)"
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
    detail = ""
    if not c2["met_every_step"]:
        # who drives the requirement: the two accounts of the binding scenario, with their books
        books = {a.get("account"): a for a in simulation.get("accounts", []) if isinstance(a, dict)}
        drivers = "; ".join(
            f"account {acc} ({books.get(acc, {}).get('book', '?')}, "
            f"{books.get(acc, {}).get('kind', '?')}) ${loss:,.2f} beyond its equity"
            for acc, loss in zip(
                worst.get("accounts", []), worst.get("losses_beyond_equity", []), strict=True
            )
        )
        detail = (
            f"short at {c2['steps_short']} step{'s' * (c2['steps_short'] != 1)}, by up to "
            f"${c2['largest_shortfall']:,.2f}: in {worst['binding_scenario']} {drivers}. The "
            "fund is the run's configured amount, not sized by this rule; the scenario (3 scan "
            "ranges) lies beyond what IM covers by design (one scan range in full)"
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
    market_no_floor, ports = bench.market, bench.portfolios
    feed_names = {v: k for k, v in FEED_IDS.items()}
    # BTC/ETH ρ after each day's close (no look-ahead): every backtest's correlation feed.
    corr = prices.ewma_correlation()
    rho_now = float(corr[-1])  # the relayer's estimate after the file's last close

    # --- The backtest without σ_floor: checks the warm-up against the file first ---
    series_no_floor = run_backtest_series(
        prices, market_no_floor, ports, names, DEFAULT_SNAPSHOT, config.warmup, correlation=corr
    )
    results_no_floor = {
        name: {h: evaluate(series_no_floor, b, h) for h in HORIZONS} for b, name in enumerate(names)
    }

    # --- σ_floor (SPEC v2 §6): the model v2 default for every section below ---
    floor = default_vol_floor(prices, config.warmup)
    market = market_no_floor.with_vol_floor(floor)  # the backtest sets each day's ρ itself
    snapshot_market = market.with_correlations({PAIR: rho_now})
    correlation_json = {
        "rho": {PAIR_NAME: rho_now},
        "stressed_rho": {PAIR_NAME: float(stressed_correlation(rho_now))},
        "date": prices.dates[-1].isoformat(),
        "estimator": CORRELATION_ESTIMATOR,
    }
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

    # --- Capital efficiency and the margin breakdown at the bench snapshot (ρ now) ---
    capital = capital_efficiency(snapshot_market, ports, names, feed_names)
    breakdown = margin_breakdown(snapshot_market, ports, names, feed_names)

    # --- Backtest ---
    series = run_backtest_series(
        prices, market, ports, names, DEFAULT_SNAPSHOT, config.warmup, correlation=corr
    )
    results = {name: {h: evaluate(series, b, h) for h in HORIZONS} for b, name in enumerate(names)}
    sensitivity = {}
    for b, name in enumerate(names):
        missed = [h for h in HORIZONS if not results[name][h].passes]
        if not missed:
            continue
        sub = ports.subset([b])
        alt_series = run_backtest_series(
            prices, no_correlation_credit(market), sub, [name], DEFAULT_SNAPSHOT, config.warmup
        )
        sensitivity[name] = {
            h: evaluate(alt_series, 0, h).to_json() | {"scan_risk": SENSITIVITY_RULE}
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
            "no_floor": procyclicality(series_no_floor.im[b], series.dates).to_json(),
            "zero_im_reason": breakdown[name]["zero_im_reason"],
        }
        for b, name in enumerate(names)
    }

    # --- Risk ---
    risk_books, return_model = book_risk(
        snapshot_market,
        ports,
        names,
        prices,
        config.seed,
        start=config.warmup + 1,
        n_mc=config.mc_samples,
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
            series, b, out / f"backtest_{name}.png", im_no_floor=series_no_floor.im[b]
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
    # v1's fixed credit c is not a parameter of the chain's rule: c_max and the rule replace it.
    margin_params = {k: v for k, v in params.__dict__.items() if k != "correlation_credit"}
    margin_params |= {"credit_cap": CREDIT_CAP, "scan_risk_rule": SCAN_RISK_RULE}
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
            "margin_params": margin_params,
            "correlation": correlation_json,
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
            "correlation": correlation_json,
            "credit_cap": CREDIT_CAP,
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
                name: {f"{h}d": results_no_floor[name][h].to_json() for h in HORIZONS}
                for name in names
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
                "btc_eth_rho": _rounded(corr[config.warmup :], 6),
                "books": {
                    name: {
                        "im": _rounded(series.im[b]),
                        "im_no_floor": _rounded(series_no_floor.im[b]),
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
