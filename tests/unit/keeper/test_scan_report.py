"""The scan benchmark's report (keel.bench.keeper_scan) and its section in reports/gas.md, offline."""

import json

from keel.bench import gas, keeper_scan


def _scan(scan_s, move=-0.03):
    ms = {"logs": 10.0, "read": 20.0, "audit": 300.0, "model": 150.0, "confirm": 1000.0 * scan_s}
    return {
        "move": move, "stale_share": 1.0, "accounts": 5000, "reread": 0, "screened": 4999,
        "candidates": 400, "checked": 450, "audited": 50, "liquidatable": 300, "ms": ms,
        "scan_s": sum(ms.values()) / 1e3, "step_s": scan_s,
    }  # fmt: skip


def _report():
    scans = [_scan(2.0), _scan(2.5, 0.03)]
    return {
        "meta": {"date": "2026-01-01 00:00 UTC", "commit": "abc1234",
                 "command": "python -m keeper.scan_bench",
                 "machine": {"nproc": 2, "cpu": "x", "load_average_1m_at_end": 1.0}},
        "population": {"accounts": 5000, "real": 16, "bases": 8, "clones": 4983,
                       "distinct_series": 256},
        "verification": {"clones": 4983, "breakdowns_compared": 20},
        "keeper": {"cold": {**_scan(40.0, None), "ms": {"read": 40_000.0}}, "scans": scans,
                   "same_round": _scan(2.2, 0.0), "incremental_100": _scan(0.9, None),
                   "summary": {"scans": 2, "median_scan_s": 3.73, "max_scan_s": 3.98,
                               "goal_s": 5.0, "met": True},
                   "audit_size": 50},
        "baseline": {"ref": "a4f612f",
                     "stale": {"read_s": 40.0, "model_s": 0.2, "confirm_s": 35.0, "scan_s": 75.2},
                     "current": {"read_s": 40.0, "model_s": 0.2, "confirm_s": 8.0, "scan_s": 48.2}},
    }  # fmt: skip


def test_markdown_states_the_goal_what_was_measured_and_every_scan():
    md = keeper_scan.markdown(_report())
    assert md.startswith("# Keeper scan: 5,000 PM-32-shaped accounts")
    assert "median 3.73 s, worst 3.98 s over 2 scans (met)" in md
    assert "16 accounts were built by real signed trades" in md and "4,983 more" in md
    assert md.count("| full scan") == 3  # two scans after new rounds, one in the same round
    assert "| arrays stale | 40.00 | 0.20 | 35.00 | **75.20** |" in md
    assert "(8.00 ms an account)" in md


def test_gas_md_carries_the_keeper_scan_section(tmp_path):
    rows = [gas.GasRow("Vault", "deposit", "WETH, repeat", 64_360, 70_000)]
    gas.write_reports(rows, tmp_path, ["a note"], {"command": "c", "date": "d", "commit": "e",
                                                    "compiler": "f", "chain": "g"})  # fmt: skip
    assert "Keeper scan" not in (tmp_path / "gas.md").read_text()  # no scan measured yet
    (tmp_path / "keeper_scan.json").write_text(json.dumps(_report()))
    gas.render(tmp_path)  # re-rendered from gas.json: same table, the section appended
    md = (tmp_path / "gas.md").read_text()
    assert "| Vault | deposit | WETH, repeat | 64,360 | ≤ 70,000 | met |" in md
    assert "\n## Keeper scan: 5,000 PM-32-shaped accounts\n" in md
    assert md.index("a note") < md.index("## Keeper scan")
