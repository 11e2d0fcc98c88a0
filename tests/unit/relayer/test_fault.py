"""Fault test: the relayer as a real process, its RPC cut and restored, the process killed -9.

`python -m oracle run` talks to the test chain through a TCP proxy run by the test, so the RPC can be
cut (connection refused, then a hanging connection: timeouts) without losing chain state; then the
relayer is killed with SIGKILL right after it logs a submission and restarted with the same state
file. From the chain's own records afterwards (SPEC §3, "survives RPC failures, restarts and nonce
gaps without double-submitting a round"):
  - every feed's rounds are consecutive from 1;
  - every accepted round was carried by exactly one relayer transaction;
  - no relayer transaction reverted (nothing was sent twice, nothing doomed was sent).
Every wait is bounded; the whole test takes well under a minute.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import brownie
import pytest

from keel.chain import free_port
from tests.fixtures.relayer import assert_exactly_once, relayer_history

from .tcp_proxy import TcpProxy

ROOT = Path(__file__).resolve().parents[3]
TICKS = 40


def _events(log: Path) -> list[dict]:
    out = []
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by kill -9
                continue
    return out


def _count(log: Path, name: str) -> int:
    return sum(e.get("event") == name for e in _events(log))


def _wait(predicate, timeout: float, what: str, proc=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"relayer exited ({proc.returncode}) while waiting for {what}")
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.mark.slow
def test_relayer_survives_rpc_cuts_and_kill9_without_double_submission(
    relayer_oracle, relayer_sender, tmp_path
):
    oracle = relayer_oracle
    start_block = brownie.web3.eth.block_number + 1
    chain_port = urlparse(brownie.web3.provider.endpoint_uri).port
    proxy = TcpProxy(free_port(), chain_port).start()  # a port the OS reports free: no fixed port
    state_file = tmp_path / "relayer-state.json"
    args = [
        sys.executable, "-m", "oracle", "run",
        "--rpc", proxy.url, "--oracle", oracle.address,
        "--dev-keys", "5", "--key-seed", "keel-tests", "--sender-anvil-index", "9",
        "--sign-with", "all", "--noise", "0.002",
        "--source", "gbm", "--seed", "3", "--rounds", str(TICKS),
        "--interval", "0.05", "--advance-time", "120",
        "--state-file", str(state_file), "--log-format", "json",
        "--rpc-timeout", "1", "--max-failures", "100",
    ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(ROOT))  # this checkout's `oracle`, not an installed one
    logs = [tmp_path / "relayer-1.log", tmp_path / "relayer-2.log"]
    procs = []

    def spawn(log):
        with open(log, "w") as fh:
            p = subprocess.Popen(args, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
        procs.append(p)
        return p

    def round_of(feed=1):  # read straight from the chain, not through the proxy
        return int(oracle.feed(feed)[3])

    try:
        first = spawn(logs[0])
        _wait(lambda: round_of() >= 3, 60, "the first rounds", first)

        proxy.cut("refuse")  # connection refused
        time.sleep(1.5)
        r = round_of()
        proxy.restore()
        _wait(lambda: round_of() >= r + 3, 60, "progress after a refused RPC", first)

        proxy.cut("hang")  # accepted but never answered: timeouts
        time.sleep(2.5)
        r = round_of()
        proxy.restore()
        _wait(lambda: round_of() >= r + 3, 60, "progress after a hanging RPC", first)

        submits = _count(logs[0], "submit")
        _wait(lambda: _count(logs[0], "submit") > submits, 30, "a submission", first)
        first.send_signal(signal.SIGKILL)  # right after it recorded (and maybe sent) a tx
        first.wait(timeout=10)
        killed_at = json.loads(state_file.read_text())["cursor"]
        assert killed_at < TICKS, "the relayer finished before it could be killed"

        second = spawn(logs[1])
        assert second.wait(timeout=90) == 0, logs[1].read_text()[-3000:]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
        proxy.close()

    accepted, txs = relayer_history(oracle, relayer_sender.address, start_block)
    assert_exactly_once(accepted, txs)
    assert {f for f, _ in accepted} == {1, 2}
    assert len(txs) >= 10
    # the outage was felt (and survived) by the first process
    first_events = _events(logs[0])
    assert any(e.get("event") in ("rpc-retry", "cycle-failed") for e in first_events)
    # the restarted process resumed the replay where the state file left it and finished it
    state = json.loads(state_file.read_text())
    assert state["cursor"] == TICKS and state["pending"] is None
    started = [e for e in _events(logs[1]) if e.get("event") == "started"]
    assert started and started[0]["resume_cursor"] == killed_at
    for f in (1, 2):
        assert round_of(f) == max(r for g, r in accepted if g == f)
