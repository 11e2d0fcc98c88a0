"""Helpers of the keeper tests: the transactions a keeper really sent, decoded from the chain."""

from __future__ import annotations

from dataclasses import dataclass

import brownie
from eth_abi import decode
from eth_utils import function_abi_to_4byte_selector
from eth_utils.abi import collapse_if_tuple

from keel.client.chain import ENGINE_ABI, LIQUIDATOR_ABI, STORE_ABI


@dataclass(frozen=True)
class SentTx:
    """One mined transaction of a sender: the function called, its arguments and its receipt."""

    name: str
    args: tuple
    gas_limit: int
    gas_used: int
    status: int
    block: int
    index: int  # position in the block
    logs: tuple

    def stored_rounds(self, store_address: str) -> dict[int, int]:
        """{series: observedAt} of the RiskArrayStored events the transaction emitted."""
        from keel.abi import topic

        t0 = topic(STORE_ABI, "RiskArrayStored")
        out = {}
        for lg in self.logs:
            if lg["address"] == store_address and "0x" + bytes(lg["topics"][0]).hex() == t0:
                series = int.from_bytes(bytes(lg["topics"][1]), "big")
                observed_at, _ = decode(["uint256", "address"], bytes(lg["data"]))
                out[series] = int(observed_at)
        return out


_FUNCTIONS = {
    function_abi_to_4byte_selector(e): e
    for e in ENGINE_ABI + STORE_ABI + LIQUIDATOR_ABI
    if e["type"] == "function"
}


def sent_by(address: str, from_block: int) -> list[SentTx]:
    """Every transaction `address` had mined since `from_block`, in chain order, decoded."""
    w3 = brownie.web3
    out = []
    for n in range(from_block, w3.eth.block_number + 1):
        blk = w3.eth.get_block(n, full_transactions=True)
        for i, tx in enumerate(blk["transactions"]):
            if tx["from"].lower() != address.lower():
                continue
            data = bytes(tx["input"])
            fn = _FUNCTIONS.get(data[:4])
            name = fn["name"] if fn else "0x" + data[:4].hex()
            args = ()
            if fn:
                args = tuple(decode([collapse_if_tuple(p) for p in fn["inputs"]], data[4:]))
            r = w3.eth.get_transaction_receipt(tx["hash"])
            out.append(
                SentTx(name, args, tx["gas"], r["gasUsed"], r["status"], n, i, tuple(r["logs"]))
            )
    return out
