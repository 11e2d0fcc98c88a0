"""The `keel-relayer` command line (oracle/cli.py): help, key generation, argument errors."""

import subprocess
import sys
from pathlib import Path

import pytest

from keel.client.keys import derive_keys, load_key_file
from oracle.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[3]


def test_module_entry_point_prints_help():
    out = subprocess.run(
        [sys.executable, "-m", "oracle", "run", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    for flag in (
        "--rpc",
        "--oracle",
        "--keys",
        "--dev-keys",
        "--source",
        "--csv",
        "--seed",
        "--rounds",
        "--interval",
        "--feeds",
        "--log-level",
        "--state-file",
        "--advance-time",
    ):
        assert flag in out


def test_keys_writes_a_deterministic_test_key_file(tmp_path, capsys):
    out = tmp_path / "signers.json"
    assert main(["keys", "--out", str(out), "--count", "3", "--seed", "5"]) == 0
    assert load_key_file(out) == derive_keys(3, "5")
    assert derive_keys(3, "5")[0].address in capsys.readouterr().out
    assert main(["keys", "--out", str(out), "--count", "3"]) == 2  # no silent overwrite
    assert main(["keys", "--out", str(out), "--count", "2", "--force"]) == 0
    assert len(load_key_file(out)) == 2


def test_run_parses_the_documented_flags():
    args = build_parser().parse_args(
        [
            "run",
            "--rpc",
            "http://x",
            "--oracle",
            "0x01",
            "--dev-keys",
            "5",
            "--source",
            "gbm",
            "--seed",
            "3",
            "--rounds",
            "10",
            "--interval",
            "0.5",
            "--feeds",
            "1,2",
            "--advance-time",
            "86400",
            "--sign-with",
            "all",
        ]
    )
    assert args.feeds == (1, 2) and args.rounds == 10 and args.advance_time == 86400
    assert args.dev_keys == 5 and args.sign_with == "all"


def test_run_needs_keys():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--rpc", "http://x", "--oracle", "0x01"])
