"""Headless entry point for the reports (no chain needed):

    python -m keel.reports --prices data/btc_eth_daily_2016_2019.csv --out reports [--seed N]
                           [--books NAME ...] [--warmup DAYS] [--mc-samples N] [--bench FILE]

Writes <out>/report.html, <out>/report.json and the PNGs beside them. The price file may be any CSV
of the shared data format (header date,btc_usd,eth_usd; one row per day), so the same backtest runs
on any history. The stress section is filled from <out>/simulation.json and the gas section from
<out>/gas.md when those files exist.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from keel.userinput import Parser, number, reason

from .backtest import DEFAULT_WARMUP
from .html import render
from .prices import PriceFileError
from .report import (
    DEFAULT_OUT,
    DEFAULT_PRICES,
    DEFAULT_SEED,
    ReportConfig,
    build,
    known_books,
    shown_path,
)
from .risk import DEFAULT_MC_SAMPLES

PROG = "python -m keel.reports"


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog=PROG,
        description="Keel risk report: capital efficiency, IM coverage backtest, VaR/ES vs IM "
        "(reference model only, no chain), plus the crash simulation's and gas results when present.",
    )
    p.add_argument(
        "--prices",
        type=Path,
        default=DEFAULT_PRICES,
        help="daily closes CSV with columns date,btc_usd,eth_usd (default: the repository's "
        f"{shown_path(DEFAULT_PRICES)})",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"output folder (default: the repository's {shown_path(DEFAULT_OUT)}/)",
    )
    p.add_argument(
        "--seed",
        type=number(int, min=0, why="numpy's generators take seeds >= 0"),
        default=DEFAULT_SEED,
        help="Monte Carlo seed (default: %(default)s)",
    )
    p.add_argument(
        "--books",
        nargs="+",
        metavar="NAME",
        help="books of the bench file to report (default: every strategy book)",
    )
    p.add_argument(
        "--warmup",
        type=number(int, min=0),
        default=DEFAULT_WARMUP,
        help="days that only warm up the EWMA vol before the first tested day (default: %(default)s)",
    )
    p.add_argument(
        "--mc-samples",
        type=number(int, min=100, why="fewer draws give no meaningful 99% tail"),
        default=DEFAULT_MC_SAMPLES,
        help="Monte Carlo draws for VaR/ES (default: %(default)s)",
    )
    p.add_argument(
        "--bench", type=Path, default=None, help="portfolios file (default: bench/portfolios.json)"
    )
    p.add_argument("--list-books", action="store_true", help="list the bench file's books and exit")
    return p


def main(argv: list[str] | None = None) -> int:
    """Checks every input before the output folder is created (rejected input creates nothing),
    then builds and writes the report. Bad input: one line on stderr, exit 2."""
    args = parser().parse_args(argv)
    try:
        if args.list_books:
            print("\n".join(known_books(args.bench)))
            return 0
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise ValueError(f"--out {out}: exists and is not a folder")
        start = time.perf_counter()
        config = ReportConfig(
            prices=args.prices,
            out=out,
            seed=args.seed,
            books=tuple(args.books) if args.books else None,
            warmup=args.warmup,
            mc_samples=args.mc_samples,
            bench=args.bench,
        )
        report = build(config)
    except (PriceFileError, ValueError, OSError) as exc:
        print(f"{PROG}: error: {reason(exc)}", file=sys.stderr)
        return 2
    (out / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    (out / "report.html").write_text(render(report))
    for g in report["goals"]:
        status = {True: "met", False: "NOT met", None: "not measured"}[g["met"]]
        print(f"[{status:>12}] {g['goal']}")
    print(
        f"wrote {out / 'report.html'}, {out / 'report.json'} and {len(report['files']) - 2} PNGs "
        f"in {time.perf_counter() - start:.1f} s"
    )
    return 0
