"""A mined transaction whose receipt lags its nonce is mined, not dropped (keel.client.chain.Sender).

anvil advances the sender's nonce when it mines a block, before it stores the block's receipts
(keel/brownie_fix.py). The keeper used to read the receipt, then the nonce, then the receipt once
more, and call the transaction dropped when the nonce had moved and the receipt was still missing:
a bid of ~5M gas on the maximal account fell in that window (tests/unit/keeper/
test_max_account_keeper.py), and the keeper logged `tx-dropped` for a bid that was on the chain
(not counted, and a start believed dropped is not followed by the bid the same cycle). Now it polls
the receipt for up to `receipt_lag_bound` seconds once the nonce has moved, and only then drops it.
No chain: the sender's RPC is a stub that holds the window open for a number of receipt reads.
"""

import time

from keel.client.chain import RECEIPT_LAG_BOUND, Sender
from keel.client.rpc import Rpc
from keeper.keeper import KeeperState
from keeper.logs import get_logger

TX = "0x" + "ab" * 32


class _LaggingRpc:
    """The transaction is mined (its nonce consumed at once); its receipt is missing for the first
    `misses` reads (None: never appears, the transaction was dropped or replaced)."""

    w3 = None

    def __init__(self, misses: int | None):
        self.misses, self.reads = misses, 0

    def receipt(self, w3, tx_hash):
        assert tx_hash == TX
        self.reads += 1
        if self.misses is None or self.reads <= self.misses:
            return None
        return {"status": 1, "gasUsed": 5_000_000, "blockNumber": 7, "logs": []}

    def nonce_consumed(self, w3, address, nonce):
        return True

    receipt_after_nonce = Rpc.receipt_after_nonce  # the real wait, over the stub's receipt()


def _sender(misses: int | None, lag_bound: float = RECEIPT_LAG_BOUND):
    state = KeeperState()
    state.pending = {"tx": TX, "nonce": 3, "to": "0x" + "22" * 20, "data": "0x",
                     "action": {"kind": "bid-solvent", "account": 9}}  # fmt: skip
    sender = Sender(_LaggingRpc(misses), "0x" + "11" * 32, 1, state, get_logger())
    sender.receipt_poll, sender.receipt_lag_bound = 0.01, lag_bound
    return sender


def test_a_receipt_that_lags_the_nonce_is_waited_for_not_called_dropped(keeper_records):
    assert RECEIPT_LAG_BOUND == 10.0
    for misses in (1, 2, 5):  # 2: what the keeper called dropped before
        sender = _sender(misses)
        sent = sender._confirm(sender.state.pending)
        assert (sent.status, sent.gas_used, sent.block) == ("mined", 5_000_000, 7)
        assert sent.action == {"kind": "bid-solvent", "account": 9}
        assert sender.state.pending is None and sender.state.sent == 1
    assert not keeper_records.named("tx-dropped")


def test_a_recorded_transaction_whose_receipt_lags_resolves_as_mined(keeper_records):
    sender = _sender(misses=3)
    sent = sender.resolve_pending()
    assert sent.status == "mined" and sender.state.pending is None
    assert not keeper_records.named("pending-dropped")


def test_a_receipt_still_missing_after_the_bound_is_a_dropped_transaction(keeper_records):
    sender = _sender(misses=None, lag_bound=0.2)
    t0 = time.monotonic()
    sent = sender._confirm(sender.state.pending)
    assert sent.status == "dropped" and time.monotonic() - t0 >= 0.2
    assert sender.state.pending is None and sender.state.sent == 0
    assert [r["tx"] for r in keeper_records.named("tx-dropped")] == [TX]
    sender = _sender(misses=None, lag_bound=0.2)
    assert sender.resolve_pending().status == "dropped"
    assert [r["tx"] for r in keeper_records.named("pending-dropped")] == [TX]
