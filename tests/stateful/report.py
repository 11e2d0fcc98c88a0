"""Writes the attacker test's figures to reports/attacker.md and reports/attacker.json.

Only the local profile writes (KEEL_PROFILE=local): the committed report is the deep run's, and a
CI run must never overwrite it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def write(figures: dict, out_dir: Path | None = None) -> tuple[Path, Path]:
    out_dir = out_dir or ROOT / "reports"
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = dict(figures)
    figures.setdefault("commit", _git("rev-parse", "--short", "HEAD"))
    js = out_dir / "attacker.json"
    md = out_dir / "attacker.md"
    js.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    md.write_text(markdown(figures))
    return md, js


def markdown(f: dict) -> str:
    lines = [
        "# Attacker stateful test: figures of the local profile",
        "",
        "`tests/stateful/test_attacker.py` (issue 8): honest traders, market makers, keepers,",
        "governance and an attacker with several accounts, a trade-only operator right on a",
        "victim's account and one of five oracle signers (f = 1) act in any order; after every",
        "step the test checks INV-1…INV-10 and the attacker's fair P&L (definitions in the",
        "module docstring). Regenerate with `KEEL_PROFILE=local make test TESTS=tests/stateful`.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| commit | `{f.get('commit', '')}` |",
        f"| profile / mode | {f['profile']} / {f['mode']} |",
        f"| examples | {f['examples']:,} |",
        f"| steps (rules run) | {f['steps']:,} |",
        f"| steps that acted (sent a transaction or moved time) | {f['steps_acted']:,} |",
        f"| transactions | {f['transactions']:,} |",
        f"| violations | {f['violations']} |",
        f"| max gas of any transaction | {f['max_gas'].get('*', 0):,} (cap 16,777,216) |",
        f"| max gas of a liquidation transaction | {f['max_liquidation_gas']:,} (cap 8,388,608) |",
        f"| duration | {f['duration_s']:,.0f} s |",
        f"| seconds per step | {f['seconds_per_step']:.3f} |",
        "",
        "## Rules hit",
        "",
        "| rule | runs | outcomes |",
        "|---|---:|---|",
    ]
    for rule, outcomes in sorted(f["rules"].items()):
        total = sum(outcomes.values())
        detail = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items(), key=lambda kv: -kv[1]))
        lines.append(f"| `{rule}` | {total:,} | {detail} |")
    lines += ["", "## Checks performed", "", "| check | times |", "|---|---:|"]
    for name, n in sorted(f["checks"].items()):
        lines.append(f"| {name} | {n:,} |")
    lines += ["", "## Max gas by function", "", "| function | gas |", "|---|---:|"]
    for name, g in sorted(f["max_gas"].items()):
        if name != "*":
            lines.append(f"| `{name}` | {g:,} |")
    if f.get("violation_kinds"):
        lines += ["", "## Violations", ""]
        for kind, n in sorted(f["violation_kinds"].items()):
            lines.append(f"- {kind}: {n}")
    lines.append("")
    return "\n".join(lines)
