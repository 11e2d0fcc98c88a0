"""The keeper survives restarts, lost races and RPC outages without sending anything twice.

- A kill right after the write-ahead record (before the transaction left the process) or right
  after the broadcast (before the receipt was read): the next process resolves the recorded
  transaction first (re-broadcasts the same bytes only if it would still succeed) and never sends
  a second transaction for the action (checked from the sender's nonce and the chain's events).
- Two keepers race for the same auction start in one block: one wins, the other's transaction
  reverts; it logs the lost race, re-reads, and its next cycle runs normally.
- The RPC is cut (connection refused, then a hanging connection) under a keeper running as a real
  process behind a TCP proxy: it retries with backoff and starts the auction once the RPC is back.
"""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import brownie
import pytest

from keel.chain import free_port
from keel.client.chain import Sender
from keel.deploy_engine import BTC, WAD
from keeper.rules import BidParams
from tests.fixtures.keeper import events_of, set_price
from tests.unit.relayer.tcp_proxy import TcpProxy

ROOT = Path(__file__).resolve().parents[3]
NO_BIDS = BidParams(min_profit=1e12)


class Crash(Exception):
    """Stands for kill -9 at a chosen point."""


def nonce(addr) -> int:
    return brownie.web3.eth.get_transaction_count(addr)


def starts(liq, acct, start_block):
    return [e for e in events_of(liq, "AuctionStarted", start_block) if e["accountId"] == acct]


def test_kill_before_broadcast_then_restart_sends_the_recorded_tx_once(
    kp_stack, kp_victim, kp_keeper, make_keeper, monkeypatch, keeper_records, tmp_path
):
    liq, start = kp_stack.liquidator, brownie.chain.height
    set_price(kp_stack, BTC, 55_000 * WAD)
    state = tmp_path / "k.json"
    first = make_keeper(kp_keeper, state_file=state, bid=NO_BIDS)
    n0 = nonce(kp_keeper[1].address)

    def crash(self, pending):
        raise Crash

    monkeypatch.setattr(Sender, "_broadcast", crash)
    with pytest.raises(Crash):
        first.step()
    assert json.loads(state.read_text())["pending"]["action"]["kind"] == "start"
    assert nonce(kp_keeper[1].address) == n0 and not starts(liq, kp_victim[0], start)
    monkeypatch.undo()

    second = make_keeper(kp_keeper, state_file=state, bid=NO_BIDS)
    second.step()
    second.step()
    assert keeper_records.named("pending-rebroadcast")
    assert len(starts(liq, kp_victim[0], start)) == 1
    assert nonce(kp_keeper[1].address) == n0 + 1  # one transaction in all
    assert json.loads(state.read_text())["pending"] is None


def test_kill_after_broadcast_then_restart_does_not_resend(
    kp_stack, kp_victim, kp_keeper, make_keeper, monkeypatch, tmp_path
):
    liq, start = kp_stack.liquidator, brownie.chain.height
    set_price(kp_stack, BTC, 55_000 * WAD)
    state = tmp_path / "k.json"
    n0 = nonce(kp_keeper[1].address)

    def crash(self, pending):
        raise Crash

    monkeypatch.setattr(Sender, "_confirm", crash)
    with pytest.raises(Crash):
        make_keeper(kp_keeper, state_file=state, bid=NO_BIDS).step()
    monkeypatch.undo()
    second = make_keeper(kp_keeper, state_file=state, bid=NO_BIDS)
    second.step()
    second.step()
    assert len(starts(liq, kp_victim[0], start)) == 1
    assert nonce(kp_keeper[1].address) == n0 + 1
    assert json.loads(state.read_text())["sent"] == 1


def test_recorded_tx_that_would_now_revert_is_dropped_not_sent(
    kp_stack, kp_victim, kp_keeper, kp_rival, make_keeper, monkeypatch, keeper_records, tmp_path
):
    liq, start = kp_stack.liquidator, brownie.chain.height
    set_price(kp_stack, BTC, 55_000 * WAD)
    state = tmp_path / "k.json"
    n0 = nonce(kp_keeper[1].address)

    def crash(self, pending):
        raise Crash

    monkeypatch.setattr(Sender, "_broadcast", crash)
    with pytest.raises(Crash):
        make_keeper(kp_keeper, state_file=state, bid=NO_BIDS).step()
    monkeypatch.undo()
    liq.startAuction(kp_victim[0], kp_rival[0], {"from": kp_rival[1]})  # the rival got there
    make_keeper(kp_keeper, state_file=state, bid=NO_BIDS).step()
    assert any(r["note"] == "would revert" for r in keeper_records.named("pending-dropped"))
    assert nonce(kp_keeper[1].address) == n0
    assert [e["starterAccount"] for e in starts(liq, kp_victim[0], start)] == [kp_rival[0]]


def test_two_keepers_race_one_wins_the_other_logs_and_continues(
    kp_stack, kp_victim, kp_keeper, kp_rival, make_keeper, keeper_records
):
    liq, start = kp_stack.liquidator, brownie.chain.height
    set_price(kp_stack, BTC, 55_000 * WAD)
    keepers = [
        make_keeper(kp_keeper, name="a", bid=NO_BIDS),
        make_keeper(kp_rival, name="b", bid=NO_BIDS),
    ]
    errors = []

    def run(k):
        try:
            k.step()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    provider = brownie.web3.provider
    provider.make_request("evm_setAutomine", [False])
    try:
        threads = [threading.Thread(target=run, args=(k,), daemon=True) for k in keepers]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while len(keeper_records.named("send")) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(keeper_records.named("send")) == 2, keeper_records.dump()
        provider.make_request("evm_mine", [])  # both starts in one block: one must lose
    finally:
        provider.make_request("evm_setAutomine", [True])
    for t in threads:
        t.join(timeout=20)
    assert not errors, errors
    won = starts(liq, kp_victim[0], start)
    assert len(won) == 1
    lost = keeper_records.named("lost-race")
    assert len(lost) == 1 and lost[0]["account"] == kp_victim[0]
    loser = keepers[0] if won[0]["starterAccount"] == kp_rival[0] else keepers[1]
    assert loser.stats.reverted == 1
    loser.step()  # carries on: the account is now in auction, nothing to start
    assert len(starts(liq, kp_victim[0], start)) == 1


def _events(log: Path) -> list[dict]:
    out = []
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


def _wait(predicate, timeout, what, proc):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            raise AssertionError(f"keeper exited ({proc.returncode}) while waiting for {what}")
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.mark.slow
def test_keeper_process_rides_out_rpc_outages(kp_stack, kp_victim, kp_keeper, tmp_path):
    from urllib.parse import urlparse

    liq, start = kp_stack.liquidator, brownie.chain.height
    chain_port = urlparse(brownie.web3.provider.endpoint_uri).port
    proxy = TcpProxy(free_port(), chain_port).start()  # a port the OS reports free: no fixed port
    log = tmp_path / "keeper.log"
    args = [
        sys.executable, "-m", "keeper", "run", "--rpc", proxy.url,
        "--engine", kp_stack.engine.address, "--liquidator", liq.address,
        "--vault", kp_stack.vault.address, "--oracle", kp_stack.oracle.address,
        "--account", str(kp_keeper[0]), "--anvil-index", "4",
        "--poll-interval", "0.2", "--scan-interval", "1", "--min-profit", "1e12",
        "--rpc-timeout", "1", "--max-failures", "100", "--max-runtime", "90",
        "--state-file", str(tmp_path / "state.json"), "--log-format", "json",
    ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with open(log, "w") as fh:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    try:
        _wait(lambda: any(e["event"] == "cycle" for e in _events(log)), 60, "a cycle", proc)
        proxy.cut("refuse")
        time.sleep(1.5)
        proxy.cut("hang")
        set_price(kp_stack, BTC, 55_000 * WAD)  # the victim falls below MM during the outage
        time.sleep(2.5)
        assert not starts(liq, kp_victim[0], start)
        proxy.restore()
        _wait(lambda: starts(liq, kp_victim[0], start), 60, "the auction start", proc)
        names = {e["event"] for e in _events(log)}
        assert {"rpc-retry"} <= names, sorted(names)
        assert proc.poll() is None  # still running
        assert len(starts(liq, kp_victim[0], start)) == 1
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        proxy.close()


def test_an_unconfirmed_tx_blocks_new_ones_until_resolved(
    kp_stack, kp_victim, kp_keeper, make_keeper, keeper_records, tmp_path
):
    """A receipt that does not come within the timeout leaves the tx recorded: nothing else is
    sent (a second tx would overwrite the record) until a later cycle resolves it."""
    liq, start = kp_stack.liquidator, brownie.chain.height
    set_price(kp_stack, BTC, 55_000 * WAD)
    k = make_keeper(kp_keeper, bid=NO_BIDS, receipt_timeout=0.5)
    provider = brownie.web3.provider
    provider.make_request("evm_setAutomine", [False])
    try:
        k.step()  # sends the start; no block is mined, so the receipt times out
        assert k.state.pending is not None
        assert keeper_records.named("receipt-timeout")
        k.step()  # still unresolved (not mined, nonce not consumed): re-broadcast, not a new tx
        assert len(keeper_records.named("send")) == 1
    finally:
        provider.make_request("evm_setAutomine", [True])
    provider.make_request("evm_mine", [])
    k.step()
    assert k.state.pending is None
    assert len(starts(liq, kp_victim[0], start)) == 1
    assert len(keeper_records.named("send")) == 1
