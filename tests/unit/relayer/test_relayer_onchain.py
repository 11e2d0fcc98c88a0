"""The relayer's submit loop against the real Oracle (in-process, on the test chain).

Invariant checked throughout (SPEC §3, "without double-submitting a round"): on-chain rounds are
consecutive, every accepted round was sent exactly once, and no relayer transaction reverted.
"""

import brownie
import pytest

from oracle.relayer import RpcUnavailable
from oracle.sources import CsvReplaySource, GbmJumpSource
from oracle.units import to_wad
from tests.fixtures.relayer import assert_exactly_once, relayer_history

from .test_sources import CSV


def _nonce(addr):
    return brownie.web3.eth.get_transaction_count(addr)


def test_pushes_replayed_prices_with_medians_and_ewma(relayer_oracle, make_relayer, relayer_sender):
    start = brownie.web3.eth.block_number + 1
    relayer = make_relayer(CsvReplaySource(CSV, limit=5), advance_time=86400, sign_with="all")
    summary = relayer.run()
    assert summary.ticks == 5 and summary.submissions == 5
    price, vol, observed_at, round_ = relayer_oracle.feed(1)
    assert round_ == 5
    assert price == 431959991000000000000  # 2016-01-05 btc_usd, no noise: every signer agrees
    assert vol == to_wad(relayer.vol[1].vol)  # EWMA after 4 daily returns
    assert observed_at <= brownie.web3.eth.get_block("latest")["timestamp"]
    assert_exactly_once(*relayer_history(relayer_oracle, relayer_sender.address, start))


def test_holds_a_feed_that_has_not_moved(relayer_oracle, make_relayer):
    relayer = make_relayer(GbmJumpSource(1, steps=3), advance_time=1, deviation=1)
    relayer.start()
    assert relayer.step().pushed == {1: 1, 2: 1}  # never reported
    result = relayer.step()
    assert result.pushed == {} and result.held == {1: "hold", 2: "hold"}


def test_restart_resumes_without_resubmitting(relayer_oracle, make_relayer, relayer_sender):
    start = brownie.web3.eth.block_number + 1
    first = make_relayer(rounds=3).run()
    assert first.cursor == 3
    second = make_relayer(rounds=6)
    summary = second.run()
    assert summary.ticks == 3 and summary.cursor == 6
    # the resumed EWMA equals one that saw all six ticks
    straight = make_relayer(state_file=None)
    straight.start()
    for _ in range(6):
        straight._update_vol(next(straight._ticks))
    assert second.vol[1].variance == straight.vol[1].variance
    assert relayer_oracle.feed(1)[3] == 6
    assert_exactly_once(*relayer_history(relayer_oracle, relayer_sender.address, start))


def test_killed_after_write_ahead_rebroadcasts_the_same_tx_once(
    relayer_oracle, make_relayer, relayer_sender, monkeypatch
):
    """A crash between recording a transaction and sending it: the next start sends those bytes."""
    start = brownie.web3.eth.block_number + 1
    relayer = make_relayer(rounds=2)
    relayer.step()
    monkeypatch.setattr(type(relayer), "broadcast", _crash)
    with pytest.raises(KeyboardInterrupt):
        relayer.step()
    monkeypatch.undo()
    recorded = relayer.state.pending["tx"]
    assert relayer_oracle.feed(1)[3] == 1
    restarted = make_relayer(rounds=2)
    restarted.run()
    assert restarted.state.last["1"] == {"round": 2, "tx": recorded}
    assert_exactly_once(*relayer_history(relayer_oracle, relayer_sender.address, start))


def _crash(self, pending):
    raise KeyboardInterrupt  # stands in for kill -9


def test_lost_send_response_is_not_resent(
    relayer_oracle, make_relayer, relayer_sender, monkeypatch
):
    """The node took the transaction but the response never came back: the retry finds the receipt."""
    start = brownie.web3.eth.block_number + 1
    relayer = make_relayer(rounds=3)
    original = type(relayer).broadcast
    calls = []

    def send_then_fail(self, pending):
        original(self, pending)
        calls.append(pending["tx"])
        if len(calls) == 2:
            raise RpcUnavailable("response lost")

    monkeypatch.setattr(type(relayer), "broadcast", send_then_fail)
    summary = relayer.run()
    assert summary.failures == 1 and summary.submissions == 3
    assert len(calls) == 3  # the lost one was never sent again
    assert_exactly_once(*relayer_history(relayer_oracle, relayer_sender.address, start))


def test_doomed_submission_is_not_sent(
    relayer_oracle, make_relayer, relayer_signers, relayer_sender
):
    before = _nonce(relayer_sender.address)
    relayer = make_relayer(signers=list(relayer_signers[:2]), rounds=1)
    result = relayer.step()
    assert result.rejected.startswith("QuorumNotMet") and result.pushed == {}
    assert _nonce(relayer_sender.address) == before


def test_nonce_gap_from_another_sender_is_absorbed(
    relayer_oracle, make_relayer, relayer_sender, accounts
):
    start = brownie.web3.eth.block_number + 1
    relayer = make_relayer(rounds=3)
    relayer.step()
    accounts[9].transfer(accounts[8], 1)  # someone else uses the relayer's account
    relayer.run()
    assert relayer_oracle.feed(1)[3] == 3
    assert_exactly_once(*relayer_history(relayer_oracle, relayer_sender.address, start))


def test_pending_round_accepted_elsewhere_is_dropped(relayer_oracle, make_relayer, monkeypatch):
    """Another relayer got the round in first: the recorded transaction is never sent."""
    a = make_relayer(rounds=2)
    a.step()
    monkeypatch.setattr(type(a), "broadcast", _crash)
    with pytest.raises(KeyboardInterrupt):
        a.step()
    monkeypatch.undo()
    other = make_relayer(state_file=None, rounds=2, sender=_other_sender())
    other.run()
    assert relayer_oracle.feed(1)[3] == 2
    restarted = make_relayer(rounds=2)
    restarted.start()
    restarted.resolve_pending()
    assert restarted.state.pending is None
    assert relayer_oracle.feed(1)[3] == 2


def _other_sender():
    from oracle.signers import anvil_dev_keys

    return anvil_dev_keys(1, offset=8)[0]


def test_pending_tx_made_invalid_by_governance_is_dropped_not_sent(
    relayer_oracle, make_relayer, relayer_signers, relayer_sender, deployer, monkeypatch, caplog
):
    """A recorded transaction whose signer was removed meanwhile would revert: it is dropped, the
    next submission (signed by stale parameters) is caught by eth_estimateGas, the parameters are
    re-read and the relayer carries on with the remaining signers."""
    start = brownie.web3.eth.block_number + 1
    relayer = make_relayer(rounds=6)
    relayer.step()
    monkeypatch.setattr(type(relayer), "broadcast", _crash)
    with pytest.raises(KeyboardInterrupt):
        relayer.step()
    monkeypatch.undo()
    relayer_oracle.setSigner(relayer_signers[0].address, False, {"from": deployer})
    restarted = make_relayer(rounds=6)
    with caplog.at_level("INFO", logger="keel.relayer"):
        summary = restarted.run()
    dropped = [r.fields for r in caplog.records if getattr(r, "event", "") == "pending-dropped"]
    assert dropped and dropped[0]["note"] == "would revert"
    assert dropped[0]["error"].startswith("UnknownSigner")
    assert summary.rejected == 0  # the params were read after the change: signer 0 is skipped
    assert relayer_oracle.feed(1)[3] >= 3
    accepted, txs = relayer_history(relayer_oracle, relayer_sender.address, start)
    assert_exactly_once(accepted, txs)


def test_stale_params_are_caught_by_the_gas_estimate_and_refreshed(
    relayer_oracle, make_relayer, relayer_signers, relayer_sender, deployer
):
    start = brownie.web3.eth.block_number + 1
    relayer = make_relayer(rounds=4)
    relayer.step()
    relayer_oracle.setSigner(relayer_signers[0].address, False, {"from": deployer})
    result = relayer.step()
    assert result.rejected.startswith("UnknownSigner") and result.pushed == {}
    assert relayer_signers[0].address not in relayer.params.signers
    assert relayer.step().pushed  # signs with signers 1..3 now
    accepted, txs = relayer_history(relayer_oracle, relayer_sender.address, start)
    assert_exactly_once(accepted, txs)


def test_dev_config_runs_a_local_replay(relayer_oracle, relayer_signers):
    from oracle.relayer import Relayer, dev_config

    cfg = dev_config(
        brownie.web3.provider.endpoint_uri,
        relayer_oracle.address,
        CsvReplaySource(CSV, limit=3),
        key_seed="keel-tests",
        advance_time=86400,
    )
    assert [s.address for s in cfg.signers] == [s.address for s in relayer_signers]
    assert Relayer(cfg).run().submissions == 3
    assert relayer_oracle.feed(2)[3] == 3


def test_waits_for_an_rpc_that_is_down_at_start(relayer_oracle, make_relayer):
    """Started while its RPC is down, the relayer retries (bounded) instead of exiting at once."""
    import threading

    from .tcp_proxy import TcpProxy
    from .test_fault import PROXY_PORT

    chain_port = int(brownie.web3.provider.endpoint_uri.rsplit(":", 1)[1])
    proxy = TcpProxy(PROXY_PORT + 1, chain_port)  # not listening yet: connection refused
    relayer = make_relayer(rpc_url=proxy.url, rounds=1, max_failures=20)
    timer = threading.Timer(1.0, proxy.restore)
    timer.start()
    try:
        assert relayer.run().submissions == 1
    finally:
        timer.cancel()
        proxy.close()
