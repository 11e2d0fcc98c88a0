"""The one fix for brownie's false "Tx dropped without known replacement" (brownie 1.22.2 only).

The cause. brownie's `TransactionReceipt._await_confirmation` (brownie/network/transaction.py)
waits for a transaction by reading the sender's nonce (at once, then every 15 s) and then asking for
the receipt by hash. If the receipt is missing while the nonce has already moved past the
transaction, it marks the transaction dropped (status -2) at once, without asking again, and the
sending account raises `TransactionError("Tx dropped without known replacement: <hash>")`. anvil
opens exactly that window: when it mines a block it commits the new state (so the sender's nonce)
before it stores the block's transactions and receipts. Polling anvil 1.7.1 in brownie's order
(nonce, then receipt) right after each of 2000 sends saw the nonce ahead of the receipt 244 times,
for at most 15 ms (a probe on a loaded 2-core machine); brownie loses the race when a nonce read
falls in that window (rarely; more often under load). tests/unit/chain/test_tx_dropped.py reproduces it deterministically.

The fix. Before brownie's own loop runs, `_await_confirmation` waits until the receipt can be read,
or until the nonce has moved past the transaction and the receipt has stayed missing for
`RECEIPT_LAG_BOUND` seconds (the transaction really was dropped or replaced). brownie's loop then
runs unchanged: it finds the receipt on its first pass, or it sees the nonce past and no receipt and
reports the drop as it always did. `install()` refuses any brownie but the one this was read against.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import time

from keel.client.chain import RECEIPT_LAG_BOUND  # [s] one bound for every receipt-after-nonce wait

BROWNIE_VERSION = "1.22.2"
# sha256 of the source of brownie 1.22.2's TransactionReceipt._await_confirmation, as read for this fix
BROWNIE_AWAIT_SHA256 = "559edea16db937312a9ff409f568fd9c4dbb21bbaa575b8fe3eae7afb6f45f3c"

FIRST_POLL = 0.05  # [s] first pause between polls; doubles up to brownie's own 1 s
MAX_POLL = 1.0  # [s]

brownie_await_confirmation = None  # brownie's own (unfixed) method, once install() has run


def receipt_or_gone(eth, txid: str, sender: str, nonce: int) -> bool:
    """Poll until `txid`'s receipt can be read (True), or until the sender's nonce has moved past
    `nonce` and the receipt has stayed missing for RECEIPT_LAG_BOUND seconds (False: dropped or
    replaced). Waits as long as the transaction is pending, as brownie does."""
    from hexbytes import HexBytes
    from web3.exceptions import TransactionNotFound

    pause = FIRST_POLL  # [s]
    gone_since = None  # time the nonce was first seen past the transaction [s]
    while True:
        # nonce first, receipt second (brownie's order): a tx mined between the two reads is found
        moved_past = eth.get_transaction_count(sender) > nonce
        try:
            receipt = eth.get_transaction_receipt(HexBytes(txid))
        except TransactionNotFound:
            receipt = None
        if receipt is not None and receipt["blockHash"] is not None:
            return True
        if moved_past:
            now = time.monotonic()
            gone_since = now if gone_since is None else gone_since
            # the nonce alone proves nothing: anvil advances it before it stores the receipt
            if now - gone_since >= RECEIPT_LAG_BOUND:
                return False
        time.sleep(pause)
        pause = min(2 * pause, MAX_POLL)


def _await_confirmation(self, block_number=None, required_confs: int = 1) -> None:
    """brownie's TransactionReceipt._await_confirmation, entered only once the receipt is readable
    or the transaction is known to be gone (see the module docstring)."""
    from brownie.network.transaction import web3

    receipt_or_gone(web3.eth, self.txid, str(self.sender), self.nonce)
    return brownie_await_confirmation(self, block_number, required_confs)


def check_brownie() -> None:
    """Raise unless the installed brownie is the one this fix was written against."""
    from brownie.network.transaction import TransactionReceipt

    version = importlib.metadata.version("eth-brownie")
    method = brownie_await_confirmation or TransactionReceipt._await_confirmation
    digest = hashlib.sha256(inspect.getsource(method).encode()).hexdigest()
    if version != BROWNIE_VERSION or digest != BROWNIE_AWAIT_SHA256:
        raise RuntimeError(
            f"keel.brownie_fix was written against eth-brownie {BROWNIE_VERSION} "
            f"(_await_confirmation sha256 {BROWNIE_AWAIT_SHA256[:12]}); found {version} "
            f"(sha256 {digest[:12]}). Re-read TransactionReceipt._await_confirmation and update "
            "or remove the fix."
        )


def install() -> None:
    """Put the fix in place (idempotent). keel.chain.connect and the root conftest call this."""
    global brownie_await_confirmation
    from brownie.network.transaction import TransactionReceipt

    check_brownie()
    if brownie_await_confirmation is not None:
        return
    brownie_await_confirmation = TransactionReceipt._await_confirmation
    TransactionReceipt._await_confirmation = _await_confirmation
