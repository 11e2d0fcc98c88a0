"""The README's main command, end to end: `python -m keel.sim --quick` as a subprocess on its own
anvil (deploy, traders, relayer and keepers as processes, crash, liquidations, report).

Checked from what the run wrote (reports/simulation.json's format, keel/reports/html.py):
  - exit code 0, and the relayer and both keepers exited cleanly;
  - the summary carries every figure the report's stress section shows;
  - value is conserved: what the vault holds (USDC + WETH + WBTC at the oracle's prices) equals
    Σ account equity + insurance fund (INV-1 seen through equity: perp PnL and option values are
    zero-sum, fees and penalties go to the fund, losses follow the waterfall, INV-5);
  - no expiry's settlement window was missed (the chain stops at each expiry, SPEC v2 §3);
  - every account below MM right after the crash was liquidated (INV-3), and the bad debt equals
    what the fund paid plus what was socialised, less the bidders' bonuses;
  - report.html contains the stress section with its chart.
And it is reproducible: a second run of the same seed (lockstep, the default) writes the same
simulation.json, field by field, apart from `meta` (the wall time).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from keel.chain import free_port

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 300  # [s] a --quick run takes ~1 minute
# the sections of simulation.json that hold wall-clock figures, and only those
WALL_CLOCK = {"meta"}


def run_quick(out: Path, hash_seed: str) -> subprocess.CompletedProcess:
    """`python -m keel.sim --quick --out OUT` on an anvil of its own (PYTHONHASHSEED `hash_seed`,
    inherited by the relayer and keeper processes)."""
    env = dict(
        os.environ, KEEL_ANVIL_PORT=str(free_port()), PYTHONPATH=str(ROOT), PYTHONHASHSEED=hash_seed
    )
    return subprocess.run(
        [sys.executable, "-m", "keel.sim", "--quick", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    proc = run_quick(out, "1")
    first = (out / "simulation.json").read_text() if proc.returncode == 0 else None
    return proc, out, first


def differences(a, b, path: str = "") -> list[str]:
    """Where two JSON values differ (paths such as `.summary.bad_debt`, `.daily[3].t`)."""
    if type(a) is not type(b):
        return [f"{path}: {a!r} vs {b!r}"]
    if isinstance(a, dict):
        out = [f"{path}.{k}: only in one" for k in sorted(set(a) ^ set(b))]
        for k in sorted(set(a) & set(b)):
            out += differences(a[k], b[k], f"{path}.{k}")
        return out
    if isinstance(a, list):
        out = [f"{path}: {len(a)} vs {len(b)} items"] if len(a) != len(b) else []
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            out += differences(x, y, f"{path}[{i}]")
        return out
    return [] if a == b else [f"{path}: {a!r} vs {b!r}"]


@pytest.mark.slow
def test_quick_simulation_runs_end_to_end_and_reports(quick_run):
    proc, out, _ = quick_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Keel simulation: summary" in proc.stdout
    sim = json.loads((out / "simulation.json").read_text())
    assert sim["processes"] == {"relayer": 0, "keeper": 0, "settler": 0}

    s = sim["summary"]
    for key in (
        "accounts", "trades", "auctions_started", "accounts_liquidated", "bad_debt",
        "insurance_fund_before", "insurance_fund_after", "insurance_fund_paid", "socialised_loss",
        "below_mm_after_crash",
    ):  # fmt: skip
        assert key in s, key
    assert s["accounts"] == 10 and s["days"] == 10 and s["trades"] >= s["accounts"]

    # SPEC v2 §3: the sim reports inside every expiry's settlement window, so none is missed
    # (a missed one would need governance's fixSettlementPrice) and expired options settle
    assert s["expiries_window_missed"] == 0
    assert s["options_settled"] == 0 or s["expiries_settlement_fixed"] >= 1

    # conservation: vault holdings = Σ equity + fund (rounding: well under $1 per account)
    assert abs(s["conservation_gap"]) < 1.0 * (s["accounts"] + 3)

    # INV-3: the accounts below MM after the crash were all liquidated
    ids = sim["ids"]
    assert set(ids["below_mm_after_crash"]) <= set(ids["liquidated_in_crash"])
    assert s["accounts_liquidated_in_crash"] >= s["below_mm_after_crash"]
    assert not [a for a in sim["auctions"] if a["outcome"] == "open"]

    # INV-5: bad debt + bonuses = fund paid + socialised; the fund fell by no more than it paid
    auctions = sim["auctions"]
    paid = sum(a["from_fund"] for a in auctions)
    socialised = sum(a["socialised"] for a in auctions)
    bad = -sum(a["insolvent_equity"] for a in auctions)
    assert paid == pytest.approx(s["insurance_fund_paid"], abs=0.05)
    assert socialised == pytest.approx(s["socialised_loss"], abs=0.05)
    assert bad == pytest.approx(s["bad_debt"], abs=0.05)
    assert paid + socialised >= bad - 0.05  # the bidders' bonuses come on top

    # the chart's series and the daily measurements line up
    series = sim["series"]
    assert len(series["t"]) == len(series["trader equity"]) == len(sim["daily"]) >= 11

    html = (out / "report.html").read_text()
    assert "Stress: the crash run on the local chain" in html
    assert "stress_equity_margin.png" in html and (out / "stress_equity_margin.png").exists()
    assert "Slot for the chain simulation" not in html


@pytest.mark.slow
def test_the_same_seed_gives_the_same_simulation(quick_run):
    """Lockstep: the second run of the seed (another hash seed, another anvil) writes the first's
    simulation.json again, every field equal (floats exactly) but the wall-clock section."""
    proc, out, first_text = quick_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    first = json.loads(first_text)
    # the comparison covers a run with trades, expiries settled and a crash liquidated
    s = first["summary"]
    assert first["clock"]["mode"] == "lockstep" and s["clock"] == "lockstep"
    assert s["trades"] > 0 and s["options_settled"] > 0
    assert s["auctions_started"] > 0 and s["solvent_bids"] + s["insolvent_bids"] > 0
    assert first["clock"]["keeper_transactions"]["keeper"] > 0
    assert set(first["meta"]) == {"wall_time_s"}  # what is excluded is wall time, nothing else

    again = run_quick(out, "2")  # same arguments (same --out: config.out is compared too)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    second = json.loads((out / "simulation.json").read_text())
    assert set(first) == set(second)
    diff = [d for k in sorted(set(first) - WALL_CLOCK) for d in differences(first[k], second[k], k)]
    assert diff == []
