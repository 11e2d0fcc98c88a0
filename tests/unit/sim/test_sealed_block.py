"""keel.sim.run.sealed_block: reads pinned below anvil's head see one consistent block.

Regression for the full demo's failure after the day-35 crash: the sim's `pending()` read
`engine.marginBreakdown` at the head while the keeper's bids were being mined, and anvil 1.7.1
ran the call on the new block's state (a bid's `_accrue` set lastAccrual = T(N+1)) with the old
block's timestamp T(N); `block.timestamp - m.lastAccrual` in MarginEngine._fundingIndexAt then
underflowed (Panic 0x11, "Integer overflow"). No consistent block has T < lastAccrual.
"""

from __future__ import annotations

from brownie import chain, web3

from keel.deploy_engine import BTC, WAD, trade
from keel.sim.run import sealed_block
from tests.fixtures.engine import fresh

PANIC_OVERFLOW = "0x4e487b71" + "11".rjust(64, "0")  # Panic(0x11): checked arithmetic


def test_mixed_head_view_underflows_and_sealed_block_reads_the_head_state(stack, alice_pm, bob_pm):
    """The state of a block whose tx accrued funding, run with the previous block's timestamp
    (anvil's mixed view at the head), panics; the block sealed_block() pins holds that state with
    its own timestamp and answers exactly what the head answered."""
    account = alice_pm[0]
    trade(stack, alice_pm, bob_pm, BTC, WAD, 60_000 * WAD)  # a perp: E counts funding
    fresh(stack)
    chain.sleep(5)
    tx = stack.engine.accrueFunding(BTC, {"from": stack.deployer})
    before = chain[tx.block_number - 1].timestamp  # [unix s]
    assert stack.engine.perpMarkets(BTC)[1] == tx.timestamp > before  # lastAccrual = T(N)

    call = {"to": stack.engine.address, "data": stack.engine.marginBreakdown.encode_input(account)}
    mixed = web3.provider.make_request("eth_call", [call, "latest", {}, {"time": hex(before)}])
    assert mixed["error"]["data"] == PANIC_OVERFLOW
    at_time = web3.provider.make_request(
        "eth_call", [call, "latest", {}, {"time": hex(tx.timestamp)}]
    )
    assert "error" not in at_time  # the same state at its own timestamp is fine

    expected = stack.engine.marginBreakdown(account)  # the head (nothing else mines in a test)
    head = web3.eth.block_number
    block = sealed_block()
    assert web3.eth.block_number == head + 1  # one empty block mined
    assert block == head == tx.block_number  # the former head, now below the head
    assert stack.engine.marginBreakdown(account, block_identifier=block) == expected
