"""The `keel-relayer` command line (oracle/cli.py): help, key generation, argument errors, an
unreachable RPC and a wrong address."""

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import brownie
import pytest

from keel.chain import free_port
from keel.client.keys import derive_keys, load_key_file
from oracle.cli import build_parser, main
from tests.support import assert_gave_up_on_rpc, console_script, run_tool

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
            NOWHERE,
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
        build_parser().parse_args(["run", "--rpc", "http://x", "--oracle", NOWHERE])


# --- Bad input and an unreachable RPC, as a user meets them: one line, an exit code, nothing
# sent or written (issue 10) ---

NOWHERE = "0x000000000000000000000000000000000000dEaD"  # no code on the test chain


def relayer(tmp_path, *args: str, timeout: float = 60.0):
    return run_tool([console_script("keel-relayer"), *args], cwd=tmp_path, timeout=timeout)


def unreachable_url() -> str:
    """A URL on a port the OS reports free: nothing listens there."""
    return f"http://127.0.0.1:{free_port()}"


def test_status_against_an_unreachable_rpc_is_one_line_naming_url_and_cause(tmp_path):
    url = unreachable_url()
    proc = relayer(tmp_path, "status", "--rpc", url, "--oracle", NOWHERE)
    assert proc.stderr == f"keel-relayer: RPC {url} unreachable (connection refused)\n"
    assert (proc.returncode, proc.stdout) == (1, "")


def test_run_against_an_unreachable_rpc_gives_up_after_rpc_wait(tmp_path):
    url, state = unreachable_url(), tmp_path / "state" / "relayer.json"
    t0 = time.monotonic()
    proc = relayer(
        tmp_path, "run", "--rpc", url, "--oracle", NOWHERE, "--dev-keys", "5",
        "--rpc-wait", "2", "--state-file", str(state), "--log-format", "json",
    )  # fmt: skip
    took = time.monotonic() - t0
    assert_gave_up_on_rpc(proc, "keel-relayer", url, 2)
    assert 2 <= took < 30
    assert not state.exists() and not state.parent.exists()  # nothing written


def test_rpc_wait_is_60_s_by_default_and_0_waits_forever():
    base = ["run", "--rpc", "http://x:1", "--oracle", NOWHERE, "--dev-keys", "5"]
    assert build_parser().parse_args(base).rpc_wait == 60.0
    assert build_parser().parse_args([*base, "--rpc-wait", "0"]).rpc_wait == 0.0
    sub = build_parser()._subparsers._group_actions[0].choices["run"]
    assert "0 = wait forever (60)" in " ".join(sub.format_help().split())


def test_an_address_without_code_is_a_one_line_configuration_error(tmp_path):
    url = brownie.web3.provider.endpoint_uri
    chain = brownie.chain.id
    for command in (["status"], ["run", "--dev-keys", "5", "--no-state-file"]):
        proc = relayer(tmp_path, *command, "--rpc", url, "--oracle", NOWHERE)
        assert proc.stderr.splitlines()[-1] == (
            f"keel-relayer: error: no Oracle contract at {NOWHERE} on {url} (chain id {chain})"
        )
        assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_status_prints_each_feed(tmp_path, relayer_oracle):
    url = brownie.web3.provider.endpoint_uri
    proc = relayer(tmp_path, "status", "--rpc", url, "--oracle", relayer_oracle.address)
    assert proc.returncode == 0 and proc.stderr == ""
    feeds = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(f["feed"], f["round"]) for f in feeds] == [(1, 0), (2, 0)]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--rpc", "localhost:8545"], "argument --rpc: 'localhost:8545' is not an http(s) URL, e.g. http://127.0.0.1:8545"),
        (["--oracle", "0x01"], "argument --oracle: '0x01' is not an address (0x and 40 hex digits)"),
        (["--rounds", "0"], "argument --rounds: must be >= 1, got 0"),
        (["--rpc-wait", "-1"], "argument --rpc-wait: must be >= 0, got -1"),
        (["--rpc-timeout", "0"], "argument --rpc-timeout: must be > 0, got 0"),
        (["--csv-start", "-1"], "argument --csv-start: must be >= 0, got -1"),
        (["--seed", "-1"], "argument --seed: must be >= 0 (numpy's generators take seeds >= 0), got -1"),
        (["--sender-anvil-index", "10"], "argument --sender-anvil-index: must be <= 9 (anvil's ten dev accounts), got 10"),
        (["--log-level", "loud"], "argument --log-level: invalid choice: 'LOUD' (choose from 'DEBUG', 'INFO', 'WARNING', 'ERROR')"),
        (["--deviation", "-0.1"], "argument --deviation: must be >= 0, got -0.1"),
    ],
)  # fmt: skip
def test_run_flags_are_checked_before_anything_starts(capsys, args, message):
    base = {"--rpc": "http://127.0.0.1:1", "--oracle": NOWHERE, "--dev-keys": "5"}
    argv = ["run"]
    for flag, value in base.items():
        if flag not in args:
            argv += [flag, value]
    with pytest.raises(SystemExit) as exc:
        main([*argv, *args])
    assert exc.value.code == 2
    assert capsys.readouterr().err == (
        f"keel-relayer run: error: {message} (see keel-relayer run --help)\n"
    )


def test_an_unknown_flag_is_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--rpc", "http://127.0.0.1:1", "--oracle", NOWHERE, "--dev-keys", "5", "--x"])
    assert exc.value.code == 2
    assert capsys.readouterr().err == (
        "keel-relayer: error: unrecognized arguments: --x (see keel-relayer --help)\n"
    )


def test_a_missing_csv_is_a_one_line_configuration_error(tmp_path, capsys):
    argv = ["run", "--rpc", "http://127.0.0.1:1", "--oracle", NOWHERE, "--dev-keys", "5"]
    assert main([*argv, "--csv", str(tmp_path / "no.csv"), "--no-state-file"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"keel-relayer: error: {tmp_path / 'no.csv'}: no such file"
    )


def test_keys_refuses_a_folder_and_run_a_key_file_that_is_not_json(tmp_path, capsys):
    assert main(["keys", "--out", str(tmp_path), "--count", "1", "--force"]) == 2
    assert capsys.readouterr().err == f"keel-relayer keys: error: --out {tmp_path} is a folder\n"
    bad = tmp_path / "keys.json"
    bad.write_text("[")
    argv = ["run", "--rpc", "http://127.0.0.1:1", "--oracle", NOWHERE, "--keys", str(bad)]
    assert main([*argv, "--sender-anvil-index", "9", "--no-state-file"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"keel-relayer: error: {bad}: not valid JSON (Expecting value at line 1)"
    )


def test_a_url_that_is_not_a_json_rpc_endpoint_is_a_configuration_error(tmp_path):
    """An RPC URL with a wrong path or API key: the server answers HTTP 4xx, at once."""

    class NotFound(BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), NotFound)  # a port the OS picks
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/wrong-path"
    try:
        for command in (["status"], ["run", "--dev-keys", "5", "--no-state-file"]):
            proc = relayer(tmp_path, *command, "--rpc", url, "--oracle", NOWHERE)
            assert proc.stderr.splitlines()[-1] == (
                f"keel-relayer: error: RPC {url} refused the request: HTTP 404 Not Found"
            )
            assert proc.returncode == 2 and "Traceback" not in proc.stderr
    finally:
        server.shutdown()
        server.server_close()
