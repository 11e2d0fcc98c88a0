"""brownie's false "Tx dropped without known replacement", reproduced and fixed (keel/brownie_fix.py).

anvil stores a mined transaction's receipt a little after it advances the sender's nonce. `Lag`
holds that window open on purpose: the confirmation read of the sender's nonce already counts the
transaction, and the receipt is missing for its first `misses` reads. Each test sends a real
transfer on anvil through brownie's own account code.
"""

import re
import time

import pytest
from brownie import web3
from brownie.exceptions import TransactionError
from brownie.network.transaction import TransactionReceipt
from web3.exceptions import TransactionNotFound

from keel import brownie_fix

DROPPED = re.compile(r"Tx dropped without known replacement: (0x[0-9a-f]{64})")


class Lag:
    """anvil's window between a mined transaction's nonce and its receipt, held open."""

    def __init__(self, misses: int):
        self.misses = misses  # receipt reads answered "not found", per transaction
        self.receipt_reads = {}  # txid -> reads so far
        self.count = web3.eth.get_transaction_count
        self.receipt = web3.eth.get_transaction_receipt

    def get_transaction_count(self, account, *block):
        # with no block named (brownie's reads), the nonce the sender's last transaction leaves:
        # what anvil reports once it has mined it, before the receipt is stored
        return self.count(account, *block) if block else self.count(account, "pending")

    def get_transaction_receipt(self, txid):
        key = web3.to_hex(txid)
        self.receipt_reads[key] = self.receipt_reads.get(key, 0) + 1
        if self.receipt_reads[key] <= self.misses:
            raise TransactionNotFound(f"Transaction with hash: '{key}' not found.")
        return self.receipt(txid)


@pytest.fixture
def lag(monkeypatch):
    def install(misses: int) -> Lag:
        lagging = Lag(misses)
        monkeypatch.setattr(web3.eth, "get_transaction_count", lagging.get_transaction_count)
        monkeypatch.setattr(web3.eth, "get_transaction_receipt", lagging.get_transaction_receipt)
        return lagging

    return install


@pytest.fixture
def unfixed_brownie(monkeypatch):
    assert brownie_fix.brownie_await_confirmation is not None, "the root conftest installs the fix"
    monkeypatch.setattr(
        TransactionReceipt, "_await_confirmation", brownie_fix.brownie_await_confirmation
    )


def test_unfixed_brownie_declares_a_mined_tx_dropped_when_its_receipt_lags_its_nonce(
    unfixed_brownie, lag, alice, bob
):
    """The CI failure, on demand: one missed receipt read after the nonce moved is enough."""
    lagging = lag(misses=1)
    before = bob.balance()
    with pytest.raises(TransactionError, match=DROPPED.pattern) as exc:
        alice.transfer(bob, 1)
    txid = DROPPED.search(str(exc.value)).group(1)
    # yet the transaction was mined, and it succeeded: the drop is false
    assert lagging.receipt(txid)["status"] == 1
    assert bob.balance() == before + 1
    assert lagging.receipt_reads[txid] == 1  # brownie asked for the receipt once, then gave up


def test_mined_tx_whose_receipt_lags_its_nonce_is_confirmed(lag, alice, bob):
    lagging = lag(misses=3)
    before = bob.balance()
    tx = alice.transfer(bob, 1)
    assert tx.status == 1
    assert bob.balance() == before + 1
    assert lagging.receipt_reads[tx.txid] > 3  # it was confirmed after the three misses


def test_tx_whose_receipt_never_comes_is_still_declared_dropped_after_the_bound(
    lag, monkeypatch, alice, bob
):
    """A replaced (or otherwise dropped) transaction: its nonce is used and its receipt never
    comes. It is reported dropped, as brownie did, once RECEIPT_LAG_BOUND has passed."""
    monkeypatch.setattr(brownie_fix, "RECEIPT_LAG_BOUND", 0.5)  # [s]
    lagging = lag(misses=10**9)
    start = time.monotonic()
    with pytest.raises(TransactionError, match=DROPPED.pattern) as exc:
        alice.transfer(bob, 1)
    waited = time.monotonic() - start  # [s]
    assert 0.5 <= waited < 0.5 + 5
    txid = DROPPED.search(str(exc.value)).group(1)
    assert lagging.receipt_reads[txid] > 2  # polled by hash before giving up


def test_install_refuses_a_brownie_other_than_the_one_it_was_written_for(monkeypatch):
    brownie_fix.check_brownie()  # the installed one passes
    monkeypatch.setattr(brownie_fix.importlib.metadata, "version", lambda name: "1.22.3")
    with pytest.raises(RuntimeError, match=r"eth-brownie 1\.22\.2 .*found 1\.22\.3"):
        brownie_fix.install()
    monkeypatch.undo()
    monkeypatch.setattr(brownie_fix, "BROWNIE_AWAIT_SHA256", "0" * 64)  # brownie's code changed
    with pytest.raises(RuntimeError, match=r"found 1\.22\.2 \(sha256 559edea16db9\)"):
        brownie_fix.install()
