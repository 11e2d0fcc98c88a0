"""`keel-keeper` command line: help, required arguments, configuration errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from keeper.cli import build_parser, config_from_args, main

ROOT = Path(__file__).resolve().parents[3]
A = "0x" + "11" * 20
BASE = ["--rpc", "http://127.0.0.1:1", "--engine", A, "--vault", A, "--oracle", A]


def test_help_runs_as_a_module():
    out = subprocess.run(
        [sys.executable, "-m", "keeper", "run", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0 and "--liquidator" in out.stdout and "--min-profit" in out.stdout


def test_run_needs_liquidator_account_and_a_key():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", *BASE, "--anvil-index", "4"])
    args = build_parser().parse_args(
        ["run", *BASE, "--liquidator", A, "--account", "7", "--anvil-index", "4", "--once"]
    )
    cfg = config_from_args(args)
    assert cfg.account == 7 and cfg.max_cycles == 1 and cfg.scan_interval == 0.0
    assert cfg.bid.min_profit == 1.0 and cfg.bid.risk_charge == 0.01


def test_bidding_options_reach_the_rule():
    args = build_parser().parse_args(
        ["run", *BASE, "--liquidator", A, "--account", "7", "--anvil-index", "4",
         "--min-profit", "25", "--risk-charge", "0.02", "--max-subsidy", "0"]
    )  # fmt: skip
    bid = config_from_args(args).bid
    assert (bid.min_profit, bid.risk_charge, bid.max_subsidy) == (25.0, 0.02, 0.0)


def test_settle_needs_no_liquidator_or_account():
    cfg = config_from_args(build_parser().parse_args(["settle", *BASE, "--anvil-index", "5"]))
    assert cfg.account == 0 and cfg.liquidator == "0x" + "00" * 20


def test_bad_key_file_is_a_configuration_error(tmp_path):
    key_file = tmp_path / "keys.json"
    key_file.write_text(json.dumps([]))
    argv = ["run", *BASE, "--liquidator", A, "--account", "7", "--key-file", str(key_file)]
    assert main(argv) == 2
