"""`keel-keeper` command line: help, required arguments, configuration errors."""

import json
import subprocess
import sys
import time
from pathlib import Path

import brownie
import pytest
from eth_utils import to_checksum_address

from keel.chain import free_port
from keeper.cli import build_parser, config_from_args, main
from tests.support import assert_gave_up_on_rpc, console_script, run_tool

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


# --- An unreachable RPC and bad input, as a user meets them (issue 10): the same one-line
# errors and bounded wait as keel-relayer, from the same code (oracle.relayer.Rpc, keel.userinput)


def keeper(tmp_path, *args: str):
    return run_tool([console_script("keel-keeper"), *args], cwd=tmp_path)


@pytest.mark.parametrize("command", ["run", "settle"])
def test_an_unreachable_rpc_is_given_up_after_rpc_wait(tmp_path, command):
    url, state = f"http://127.0.0.1:{free_port()}", tmp_path / "state" / "keeper.json"
    extra = ["--liquidator", A, "--account", "7"] if command == "run" else []
    t0 = time.monotonic()
    proc = keeper(
        tmp_path, command, "--rpc", url, "--engine", A, "--vault", A, "--oracle", A, *extra,
        "--anvil-index", "4", "--once", "--rpc-wait", "2", "--state-file", str(state),
    )  # fmt: skip
    took = time.monotonic() - t0
    assert_gave_up_on_rpc(proc, "keel-keeper", url, 2)
    assert 2 <= took < 30
    assert not state.exists() and not state.parent.exists()  # nothing written


def test_rpc_wait_reaches_the_config_60_s_by_default():
    argv = ["run", *BASE, "--liquidator", A, "--account", "7", "--anvil-index", "4"]
    assert config_from_args(build_parser().parse_args(argv)).max_outage == 60.0
    assert (
        config_from_args(build_parser().parse_args([*argv, "--rpc-wait", "0"])).max_outage is None
    )


def test_a_contract_address_without_code_is_a_one_line_configuration_error(tmp_path):
    url = brownie.web3.provider.endpoint_uri
    proc = keeper(
        tmp_path, "settle", "--rpc", url, "--engine", A, "--vault", A, "--oracle", A,
        "--anvil-index", "5", "--once", "--state-file", str(tmp_path / "s.json"),
    )  # fmt: skip
    assert proc.stderr.splitlines()[-1] == (
        f"keel-keeper: error: no MarginEngine contract at {to_checksum_address(A)} on {url} "
        f"(chain id {brownie.chain.id})"
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert not (tmp_path / "s.json").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--account", "0"], "argument --account: must be >= 1 (account ids start at 1), got 0"),
        (["--poll-interval", "-1"], "argument --poll-interval: must be >= 0, got -1"),
        (["--slippage", "1"], "argument --slippage: must be < 1 (a fraction of the price), got 1"),
        (["--tx-gas-cap", "16777217"], "argument --tx-gas-cap: must be <= 16777216 (EIP-7825 caps a transaction at 16,777,216 gas), got 16777217"),
        (["--rpc-wait", "x"], "argument --rpc-wait: 'x' is not a finite number"),
        (["--engine", "engine"], "argument --engine: 'engine' is not an address (0x and 40 hex digits)"),
        (["--anvil-index", "10"], "argument --anvil-index: must be <= 9 (anvil's ten dev accounts), got 10"),
    ],
)  # fmt: skip
def test_run_flags_are_checked_before_anything_starts(capsys, args, message):
    argv = ["run", *BASE, "--liquidator", A, "--account", "7", "--anvil-index", "4", *args]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert capsys.readouterr().err == (
        f"keel-keeper run: error: {message} (see keel-keeper run --help)\n"
    )


def test_the_refresh_budget_must_fit_under_the_cap(capsys):
    argv = ["settle", *BASE, "--anvil-index", "5"]
    assert main([*argv, "--tx-gas-cap", "8000000", "--refresh-gas-budget", "8000001"]) == 2
    assert capsys.readouterr().err == (
        "keel-keeper settle: error: --refresh-gas-budget 8,000,001 is above --tx-gas-cap 8,000,000\n"
    )
