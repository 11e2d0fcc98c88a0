"""`keel-keeper run --stepped` (keeper/stepped.py): the real keeper in its own process on the test
chain, one cycle per `step` line and nothing in between, each answered by one JSON line that
lists exactly the transactions the chain received from it; and full scans counted in chain
seconds (KeeperConfig.scan_clock), so that a stepped keeper's cycles never depend on the wall
clock."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import brownie
import pytest

from keel.deploy_engine import BTC, WAD
from keeper.cli import build_parser, config_from_args
from tests.fixtures.keeper import events_of, set_price
from tests.unit.keeper.support import sent_by

ROOT = Path(__file__).resolve().parents[3]
REPLY_S = 60  # [s] bound on one reply (a cycle on the test chain takes well under a second)


class SteppedKeeper:
    """A `python -m keeper run --stepped` process: `ask(line)` -> its one JSON reply."""

    def __init__(self, args: list[str], log: Path):
        self.log = log
        with open(log, "w") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "keeper", *args],
                cwd=ROOT,
                env=dict(os.environ, PYTHONPATH=str(ROOT)),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=fh,
                text=True,
            )

    def ask(self, line: str) -> dict:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], REPLY_S)
        assert ready, f"no reply to {line!r} in {REPLY_S} s: {self.log.read_text()[-2000:]}"
        reply = self.proc.stdout.readline()
        assert reply, f"the keeper exited ({self.proc.poll()}): {self.log.read_text()[-2000:]}"
        return json.loads(reply)

    def close(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.kill()
        return self.proc.wait(timeout=10)


@pytest.fixture
def stepped_keeper(kp_stack, kp_keeper, tmp_path):
    s = kp_stack
    k = SteppedKeeper(
        ["run", "--stepped", "--rpc", brownie.web3.provider.endpoint_uri,
         "--engine", s.engine.address, "--liquidator", s.liquidator.address,
         "--vault", s.vault.address, "--oracle", s.oracle.address,
         "--account", str(kp_keeper[0]), "--anvil-index", "4",  # kp_keeper's owner
         "--min-profit", "50",  # no bid at the auction's first discount
         "--state-file", str(tmp_path / "state.json"), "--log-format", "json"],
        tmp_path / "keeper.log",
    )  # fmt: skip
    yield k
    k.close()


def test_one_cycle_per_step_and_the_reply_lists_what_the_chain_received(
    kp_stack, kp_victim, kp_keeper, stepped_keeper, chain
):
    liq, victim, own = kp_stack.liquidator, kp_victim[0], kp_keeper[0]
    sender = kp_keeper[1].address
    start = chain.height + 1

    first = stepped_keeper.ask("step")
    assert (first["cycle"], first["sent"], first["pending"]) == (1, [], None)
    assert first["block"] == chain.height  # it processed the head

    set_price(kp_stack, BTC, 55_000 * WAD)  # victim AE ≈ 6,868 < MM 7,040
    time.sleep(2)  # no command: no cycle (a real-time keeper would have started the auction)
    assert not events_of(liq, "AuctionStarted", start)

    second = stepped_keeper.ask("step")
    started = events_of(liq, "AuctionStarted", start)
    assert [(e["accountId"], e["starterAccount"]) for e in started] == [(victim, own)]
    assert second["cycle"] == 2 and second["pending"] is None
    assert [(t["kind"], t["account"], t["status"], t["tx"]) for t in second["sent"]] == [
        ("start", victim, "mined", "0x" + started[0]["tx"])
    ]
    assert second["stats"]["started"] == 1 and second["stats"]["bids"] == 0

    chain.sleep(15 * 60)  # the discount reaches 30%
    set_price(kp_stack, BTC, 55_000 * WAD)  # fresh prices
    third = stepped_keeper.ask("step")
    bids = events_of(liq, "SolventBid", start)
    assert [(b["accountId"], b["bidderAccount"]) for b in bids] == [(victim, own)]
    assert bids[0]["discount"] >= 3 * WAD // 10
    assert [(t["kind"], t["status"], t["tx"]) for t in third["sent"]] == [
        ("bid-solvent", "mined", "0x" + bids[0]["tx"])
    ]

    fourth = stepped_keeper.ask("step")  # the bid cured the account: nothing left to do
    assert (fourth["cycle"], fourth["sent"]) == (4, [])

    # every transaction the keeper's key had mined is in a reply, in order, with its block
    mined = sent_by(sender, start)
    replied = [t for r in (first, second, third, fourth) for t in r["sent"]]
    assert [(m.name, m.block, m.status) for m in mined] == [
        ("startAuction", replied[0]["block"], 1),
        ("bid", replied[1]["block"], 1),
    ]

    assert stepped_keeper.ask("bid now") == {
        "error": "unknown command 'bid now' (one of: step, quit)"
    }
    stepped_keeper.proc.stdin.write("quit\n")
    stepped_keeper.proc.stdin.flush()
    assert stepped_keeper.proc.wait(timeout=30) == 0
    assert stepped_keeper.proc.stdout.read() == ""  # one line per command, nothing else


def _base(command: str) -> list[str]:
    a = "0x" + "11" * 20
    extra = ["--liquidator", a, "--account", "7"] if command == "run" else []
    return [command, "--rpc", "http://127.0.0.1:1", "--engine", a, "--vault", a, "--oracle", a,
            *extra, "--anvil-index", "4"]  # fmt: skip


@pytest.mark.parametrize("command", ["run", "settle"])
def test_stepped_counts_scans_in_chain_time_and_excludes_once(command, capsys):
    parse = build_parser().parse_args
    assert config_from_args(parse([*_base(command), "--stepped"])).scan_clock == "chain"
    assert config_from_args(parse(_base(command))).scan_clock == "wall"  # the loop: the default
    with pytest.raises(SystemExit) as exc:
        parse([*_base(command), "--stepped", "--once"])
    assert exc.value.code == 2
    assert "argument --once: not allowed with argument --stepped" in capsys.readouterr().err


def _mine_at(ts: int) -> None:
    brownie.web3.provider.make_request("evm_mine", [{"timestamp": ts}])


@pytest.mark.parametrize("clock, full_at_interval", [("chain", True), ("wall", False)])
def test_full_scans_follow_the_chain_clock_when_stepped(
    kp_stack, kp_keeper, make_keeper, chain, clock, full_at_interval
):
    """scan_interval 600 s: on the chain clock a full scan comes when the head is 600 s later
    than the last one's (599 s is not enough), however little wall time passed; on the wall
    clock (the real-time loop) chain time does not count."""
    k = make_keeper(kp_keeper, scan_interval=600.0, scan_clock=clock)
    k.step()
    assert k.last_cycle["full_scan"]  # the first cycle scans everything
    scanned_at = chain[-1].timestamp
    k.step()
    assert not k.last_cycle["full_scan"]
    _mine_at(scanned_at + 599)
    k.step()
    assert not k.last_cycle["full_scan"]
    _mine_at(scanned_at + 600)
    k.step()
    assert k.last_cycle["full_scan"] is full_at_interval
