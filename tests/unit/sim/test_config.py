"""keel.sim.config: defaults, --quick, config files (YAML/JSON) and flags, in that precedence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keel.sim.config import QUICK, SimConfig, parse_args

EXAMPLE = Path(__file__).resolve().parents[3] / "keel" / "sim" / "example.yaml"


def test_defaults_and_crash_day_default():
    cfg = parse_args([])
    assert cfg == SimConfig()
    assert cfg.crash_at() == cfg.days - 5


def test_quick_is_a_small_run():
    cfg = parse_args(["--quick"])
    assert (cfg.days, cfg.accounts, cfg.quick) == (QUICK["days"], QUICK["accounts"], True)


def test_example_file_holds_the_defaults():
    assert parse_args(["--config", str(EXAMPLE)]) == SimConfig()


def test_flags_override_the_file_which_overrides_defaults(tmp_path):
    f = tmp_path / "sim.json"
    f.write_text(json.dumps({"days": 20, "crash-eth": -0.5, "path": "gbm"}))
    cfg = parse_args(["--config", str(f), "--days", "12", "--no-report"])
    assert (cfg.days, cfg.crash_eth, cfg.path, cfg.report) == (12, -0.5, "gbm", False)
    assert cfg.crash_at() == 7


def test_bad_options_are_refused(tmp_path):
    f = tmp_path / "sim.yaml"
    f.write_text("dayz: 3\n")
    with pytest.raises(SystemExit):
        parse_args(["--config", str(f)])
    with pytest.raises(SystemExit):
        parse_args(["--days", "5", "--crash-day", "9"])


def test_lockstep_is_the_default_and_realtime_comes_from_the_flag_or_the_file(tmp_path):
    assert parse_args([]).realtime is False
    assert parse_args(["--realtime"]).realtime is True
    f = tmp_path / "sim.yaml"
    f.write_text("realtime: true\n")
    assert parse_args(["--config", str(f)]).realtime is True  # no flag: the file's value stands
    f.write_text("realtime: false\n")
    assert parse_args(["--config", str(f), "--realtime"]).realtime is True  # the flag wins
