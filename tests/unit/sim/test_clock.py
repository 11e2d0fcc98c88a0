"""keel.sim.clock: in lockstep every block's timestamp is a function of the chain alone.

On an anvil of its own launched as the simulation launches it (genesis `--timestamp`, then `pin`):
blocks one second apart however much wall time passes, `evm_increaseTime` (the wall-clock offset)
ignored, `mine_at` landing exactly where asked, calls at "latest" seeing the head's time; and
`pin` refusing a chain that was not launched for the run.
"""

from __future__ import annotations

import calendar
import datetime as dt
import shutil
import subprocess
import time

import pytest
from web3 import HTTPProvider, Web3

from keel.chain import free_port
from keel.sim.clock import BLOCK_INTERVAL, genesis_time, mine_at, pin

T0 = calendar.timegm((2019, 2, 1, 0, 0, 0))  # [unix s] 00:00 UTC, 1 Feb 2019
# a contract whose every call returns block.timestamp: TIMESTAMP PUSH0 MSTORE PUSH1 32 PUSH0 RETURN
RUNTIME = "425f5260205ff3"
INIT = "66" + RUNTIME + "5f5260076019f3"  # PUSH7 runtime, store it, return its 7 bytes


@pytest.fixture
def lockstep_anvil():
    port = free_port()
    proc = subprocess.Popen(
        [shutil.which("anvil"), "--port", str(port), "--timestamp", str(T0), "--silent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    w3 = Web3(HTTPProvider(f"http://127.0.0.1:{port}"))
    deadline = time.monotonic() + 30
    while not w3.is_connected():
        assert time.monotonic() < deadline and proc.poll() is None, "anvil did not start"
        time.sleep(0.1)
    yield w3
    proc.terminate()
    proc.wait(timeout=10)


def stamps(w3) -> list[int]:
    return [w3.eth.get_block(n)["timestamp"] for n in range(w3.eth.block_number + 1)]


def test_genesis_time_is_midnight_utc_of_the_day():
    assert genesis_time(dt.date(2019, 2, 1)) == T0 == 1_548_979_200
    assert genesis_time(dt.date(2019, 2, 2)) - T0 == 86_400


def test_blocks_follow_the_chain_not_the_wall_clock(lockstep_anvil):
    w3 = lockstep_anvil
    pin(w3, T0)
    sender = w3.eth.accounts[0]
    tx = w3.eth.send_transaction({"from": sender, "data": "0x" + INIT})  # automine: a block now
    contract = w3.eth.get_transaction_receipt(tx)["contractAddress"]
    time.sleep(2.2)  # wall time passes: no block, and the next one is still one interval later
    w3.eth.send_transaction({"from": sender, "to": sender, "value": 1})
    w3.provider.make_request("evm_increaseTime", [3_600])  # the wall-clock offset: ignored
    w3.provider.make_request("evm_mine", [])
    assert stamps(w3) == [T0, T0 + 1, T0 + 2, T0 + 3]
    assert BLOCK_INTERVAL == 1

    assert mine_at(w3, T0 + 86_400) == T0 + 86_400  # a jump lands exactly
    w3.eth.send_transaction({"from": sender, "to": sender, "value": 1})
    assert mine_at(w3, T0 + 86_401) == T0 + 86_402  # not later than the head: one interval on
    assert stamps(w3)[-3:] == [T0 + 86_400, T0 + 86_401, T0 + 86_402]
    time.sleep(1.1)
    now = int(w3.eth.call({"to": contract}, "latest").hex(), 16)
    assert now == T0 + 86_402  # a read at "latest" runs at the head's time


def test_pin_refuses_a_chain_not_launched_for_the_run(lockstep_anvil):
    w3 = lockstep_anvil
    with pytest.raises(RuntimeError, match="genesis at 1548979201.*run with --realtime"):
        pin(w3, T0 + 1)  # another genesis
    w3.provider.make_request("evm_mine", [])
    with pytest.raises(RuntimeError, match=r"at block 1, time \d+"):
        pin(w3, T0)  # a block already mined
