"""The keeper scan benchmark's report: reports/keeper_scan.md and its section of reports/gas.md.

The measurement is `python -m keeper.scan_bench` (it runs the keeper, so it lives with it); this
module only renders its JSON, so the gas report can include it without importing the keeper.
"""

from __future__ import annotations

import json
from pathlib import Path

REPORTS = Path(__file__).resolve().parents[2] / "reports"
GOAL_S = 5.0  # [s] issue 9: a full scan of 5,000 PM-32 accounts with stale arrays
SCAN_PHASES = ("logs", "read", "audit", "model", "confirm")  # a scan's phases, in order


def markdown(report: dict, level: int = 1) -> str:
    """The report as markdown; `level` 2 makes it a section (keel.bench.gas appends it to gas.md)."""
    h = "#" * level
    pop, ks, base = report["population"], report["keeper"], report.get("baseline")
    summary = ks["summary"]
    lines = [
        f"{h} Keeper scan: {pop['accounts']:,} PM-32-shaped accounts",
        "",
        f"Measured {report['meta']['date']} at commit `{report['meta']['commit']}` with "
        f"`{report['meta']['command']}`; {report['meta']['machine']['nproc']} CPUs "
        f"({report['meta']['machine']['cpu']}), 1-minute load average "
        f"{report['meta']['machine']['load_average_1m_at_end']} at the end (shared machine: "
        "wall-clock figures are noisy).",
        "",
        f"**Goal (issue 9): a full scan of 5,000 PM-32 accounts with stale risk arrays in ≤ "
        f"{GOAL_S:.0f} s. Measured: median {summary['median_scan_s']:.2f} s, worst "
        f"{summary['max_scan_s']:.2f} s over {summary['scans']} scans "
        f"({'met' if summary['met'] else 'not met'}).**",
        "",
        "What was measured: every account is on the chain and read through the contracts' views. "
        f"{pop['real']} accounts were built by real signed trades ({pop['bases']} PM-32 books from "
        "bench/portfolios.json, each with its mirror counterparty; "
        f"{pop['distinct_series']} series); {pop['clones']:,} more were opened by real "
        "`openAccount` transactions and given a base's positions, collateral and (varied) cash with "
        "`anvil_setStorageAt`, slots from the compiler's storage layout. Each clone was verified "
        "through the views (indexed state = its base's apart from id and cash; "
        f"{report['verification']['breakdowns_compared']} `marginBreakdown`s compared). The "
        "Vault's totals and the open interest the clones would have added were not written (no "
        "scan reads them). The keeper ran in dry-run mode with its actions switched off: the "
        "scan is what is measured.",
        "",
        f"A scan = one `Keeper.step` after a new oracle round that moved both underlyings "
        "(every risk array stale): logs since the last block, re-read of the accounts they name "
        "(none here), market and marks, the reference model over every account, and one batch of "
        "`marginBreakdown` + `auction` for the candidates and a rotating audit slice of "
        f"{ks['audit_size']} accounts (also re-read and compared with the index). What follows a "
        "scan (refreshes, starts and bids: transactions, one account after the other) is not part "
        "of it and was not run.",
        "",
        "| scan | move | arrays stale | candidates | chain-checked | liquidatable | logs | read | audit | model | confirm | **scan [s]** |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def row(name, r):
        ms = r["ms"]
        move = "" if r["move"] is None else f"{r['move']:+.0%}"
        stale = "" if r["stale_share"] is None else f"{r['stale_share']:.0%}"
        cells = " | ".join(f"{ms.get(p, 0.0) / 1e3:.2f}" for p in SCAN_PHASES)
        return (
            f"| {name} | {move} | {stale} | {r['candidates']:,} | {r['checked']:,} | "
            f"{r['liquidatable']:,} | {cells} | **{r['scan_s']:.2f}** |"
        )

    for i, r in enumerate(ks["scans"]):
        lines.append(row(f"full scan {i + 1}", r))
    lines.append(row("full scan, same round", ks["same_round"]))
    lines.append(row("100 accounts changed", ks["incremental_100"]))
    lines.append(row("cold start (index built)", ks["cold"]))
    lines += [
        "",
        f"Phases in seconds. Cold start: {pop['accounts']:,} accounts read in batches "
        f"({ks['cold']['ms']['read'] / pop['accounts']:.2f} ms an account), once per process. "
        "'100 accounts changed': 100 accounts marked dirty as if events had named them, no price "
        "move: only they are re-read and screened.",
    ]
    if base:
        lines += [
            "",
            f"Baseline on the same chain: the keeper of commit `{base['ref']}` (main before this "
            "work), whose full scan re-reads every account (≈45 eth_calls each) and asks "
            "`marginBreakdown` of every account:",
            "",
            "| baseline full scan | read [s] | model [s] | confirm [s] | **scan [s]** |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, r in (("arrays stale", base["stale"]), ("arrays current", base.get("current"))):
            if r:
                lines.append(
                    f"| {name} | {r['read_s']:.2f} | {r['model_s']:.2f} | {r['confirm_s']:.2f} | "
                    f"**{r['scan_s']:.2f}** |"
                )
    lines += [
        "",
        f"Reproduce: `{report['meta']['command']}` (embedded anvil; `export KEEL_ANVIL_PORT=...` "
        "to choose its port). Figures: reports/keeper_scan.json.",
        "",
    ]
    return "\n".join(lines)


def section(out_dir: Path = REPORTS) -> str | None:
    """The report as a section of reports/gas.md (None before the benchmark has run)."""
    path = Path(out_dir) / "keeper_scan.json"
    if not path.exists():
        return None
    return markdown(json.loads(path.read_text()), level=2)
