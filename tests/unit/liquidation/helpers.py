"""Chain helpers of the liquidation tests: exact block times."""

from __future__ import annotations

from brownie import chain, web3


def next_block_at(ts: int) -> None:
    """The next block (the next transaction's) is mined at exactly `ts`."""
    web3.provider.make_request("evm_setNextBlockTimestamp", [ts])


def now() -> int:
    return chain[-1].timestamp
