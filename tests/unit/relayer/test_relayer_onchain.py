"""The relayer's submit loop against the real Oracle (in-process, on the test chain).

Invariant checked throughout (SPEC §3, "without double-submitting a round"): on-chain rounds are
consecutive, every accepted round was sent exactly once, and no relayer transaction reverted.
"""

import brownie
import pytest

from keel.client.chain import Sender
from keel.client.rpc import RpcUnavailable
from keel.observations import pair_id
from oracle.sources import CsvReplaySource, GbmJumpSource
from oracle.units import to_wad
from tests.fixtures.relayer import assert_exactly_once, relayer_history

from .test_sources import CSV

WAD = 10**18
PAIR = pair_id(1, 2)  # the relayer's rounds and holds name a pair by its Oracle id


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
    # [v2] the feed's vol is σ_eff = max(EWMA after 4 daily returns, the file's mean EWMA vol)
    ewma, floor = to_wad(relayer.vol[1].vol), to_wad(relayer.vol_floor(1))
    assert tuple(relayer_oracle.volInputs(1)) == (ewma, floor)
    assert vol == max(ewma, floor)
    assert observed_at <= brownie.web3.eth.get_block("latest")["timestamp"]
    assert_exactly_once(*relayer_history(relayer_oracle, relayer_sender.address, start))


def test_holds_a_feed_that_has_not_moved(relayer_oracle, make_relayer):
    relayer = make_relayer(
        GbmJumpSource(1, steps=3), advance_time=1, deviation=1, correlation_deviation=2
    )
    relayer.start()
    assert relayer.step().pushed == {1: 1, 2: 1, PAIR: 1}  # never reported
    result = relayer.step()
    assert result.pushed == {} and result.held == {1: "hold", 2: "hold", PAIR: "hold"}


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
    monkeypatch.setattr(Sender, "_broadcast", _crash)
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
    original = Sender._broadcast
    calls = []

    def send_then_fail(self, pending):
        original(self, pending)
        calls.append(pending["tx"])
        if len(calls) == 2:
            raise RpcUnavailable("response lost")

    monkeypatch.setattr(Sender, "_broadcast", send_then_fail)
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
    monkeypatch.setattr(Sender, "_broadcast", _crash)
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
    from keel.client.keys import anvil_dev_keys

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
    monkeypatch.setattr(Sender, "_broadcast", _crash)
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

    from keel.chain import free_port

    from .tcp_proxy import TcpProxy

    chain_port = int(brownie.web3.provider.endpoint_uri.rsplit(":", 1)[1])
    proxy = TcpProxy(free_port(), chain_port)  # not listening yet: connection refused
    relayer = make_relayer(rpc_url=proxy.url, rounds=1, max_failures=20)
    timer = threading.Timer(1.0, proxy.restore)
    timer.start()
    try:
        assert relayer.run().submissions == 1
    finally:
        timer.cancel()
        proxy.close()


# --- SPEC §3 [v2]: observation spread, front-run rounds, settlement window ---


def _sent_reports(oracle, sender: str, from_block: int) -> list[dict]:
    """Every report (decoded calldata) of `sender`'s successful submissions since `from_block`."""
    from oracle.relayer import ORACLE_ABI

    w3 = brownie.web3
    contract = w3.eth.contract(address=oracle.address, abi=ORACLE_ABI)
    out = []
    for n in range(from_block, w3.eth.block_number + 1):
        for tx in w3.eth.get_block(n, full_transactions=True)["transactions"]:
            if tx["from"] == sender and tx["to"] == oracle.address:
                if w3.eth.get_transaction_receipt(tx["hash"])["status"] == 1:
                    out += contract.decode_function_input(tx["input"])[1]["reports"]
    return out


def test_noisy_signers_never_need_a_wider_spread_than_the_oracle_allows(
    relayer_oracle, make_relayer, relayer_sender, deployer
):
    """Signers that disagree by 5% (std) sign values within a third of the on-chain spread of the
    source's, so even at the narrowest spreads governance may set (0.1% price, 1% vol) every report
    passes: no rejection, no revert, every observation within the spread of its median."""
    from keel.client.keys import noisy
    from keel.deploy_oracle import param_key
    from oracle.rules import median

    tx = {"from": deployer}
    relayer_oracle.setParam(param_key("maxSpread"), WAD // 1000, tx)
    relayer_oracle.setParam(param_key("maxVolSpread"), WAD // 100, tx)
    # the unclamped noise would be far beyond that spread: the clamp is what makes reports pass
    raw = [noisy(60_000 * WAD, 0.05, 3, 1, 1, 2 * i) for i in range(5)]
    assert max(abs(p - median(raw)) for p in raw) * 1000 > median(raw)

    start = brownie.web3.eth.block_number + 1
    relayer = make_relayer(
        GbmJumpSource(1, steps=6),
        advance_time=600,
        deviation=0,
        sign_with="all",
        noise=0.05,
        noise_seed=3,
    )
    summary = relayer.run()
    assert (summary.submissions, summary.rejected, summary.reverted) == (6, 0, 0)
    assert relayer_oracle.feed(1)[3] == 6 and relayer_oracle.feed(2)[3] == 6
    reports = _sent_reports(relayer_oracle, relayer_sender.address, start)
    assert len(reports) == 12
    for r in reports:
        prices = [o["price"] for o in r["observations"]]
        vols = [o["vol"] for o in r["observations"]]
        assert len(set(prices)) > 1  # the signers did disagree
        for values, spread in ((prices, WAD // 1000), (vols, WAD // 100)):
            m = median(values)
            assert max(abs(x - m) for x in values) * WAD <= spread * m
    assert_exactly_once(*relayer_history(relayer_oracle, relayer_sender.address, start))


def test_relayer_recovers_from_a_front_run_round(
    relayer_oracle, make_relayer, relayer_keys, relayer_sender, accounts, monkeypatch
):
    """Attack 4 against the relayer: two colluding signers (keys 3 and 4) copy one honest
    observation out of the relayer's pending transaction and front-run its round.

    - Far from the honest price ($30,000 against the tick's): the front-run reverts
      ObservationSpread and the relayer's round lands as if nothing happened.
    - Within the spread (0.5% below): the front-run takes the round, the relayer's transaction
      reverts WrongRound, and the relayer re-reads the chain and signs the next round on the same
      tick, so the chain ends on the honest price."""
    from oracle import rules
    from tests.fixtures.relayer import sign_observations
    from tests.support import reverts

    start = brownie.web3.eth.block_number + 1
    # ρ held after round 1 (it moves less than 2 in 3 ticks of 2 min): only prices are attacked
    relayer = make_relayer(rounds=3, correlation_deviation=2)
    relayer.step()  # round 1 of both feeds
    original = Sender._broadcast
    factor = {"now": None}
    attacks = []

    def front_run(self, pending):
        if factor["now"] is not None:
            _, args = relayer.contract.decode_function_input(pending["data"])
            honest = args["reports"][0]  # feed 1
            copied = honest["observations"][0]
            price = copied["price"] * factor["now"][0] // factor["now"][1]
            colluders = sign_observations(
                relayer_keys[3:5],
                relayer.params,
                honest["feedId"],
                honest["round"],
                honest["observedAt"],
                [(price, copied["vol"], copied["volFloor"])] * 2,
            )
            copied_obs = rules.SignedObservation(
                *(copied[k] for k in ("price", "vol", "v", "r", "s", "volFloor"))
            )
            attack = rules.Report(
                honest["feedId"], honest["round"], honest["observedAt"], (copied_obs, *colluders)
            )
            attacks.append((attack, copied["price"], price, copied["vol"]))
            factor["now"] = None
            if price * 100 < copied["price"] * 99:  # beyond the 1% spread
                with reverts(
                    "ObservationSpread", 1, copied["price"], price, copied["vol"], copied["vol"]
                ):
                    relayer_oracle.submit([attack.as_tuple()], {"from": accounts[5]})
            else:
                relayer_oracle.submit([attack.as_tuple()], {"from": accounts[5]})
        original(self, pending)

    monkeypatch.setattr(Sender, "_broadcast", front_run)

    factor["now"] = (1, 2)  # the colluders sign half the honest price
    result = relayer.step()
    assert result.reverted == [] and result.pushed == {1: 2, 2: 2}
    honest_price = relayer_oracle.feed(1)[0]
    assert honest_price == attacks[0][1] and not relayer_oracle.isReduceOnly(1)
    assert_exactly_once(*relayer_history(relayer_oracle, relayer_sender.address, start))

    factor["now"] = (995, 1000)  # 0.5% below: within the spread, the front-run is accepted
    result = relayer.step()
    assert len(result.reverted) == 1  # WrongRound: the attacker took round 3 of feed 1
    reverted = brownie.web3.eth.get_transaction(result.reverted[0])
    assert brownie.web3.eth.get_transaction_receipt(reverted["hash"])["status"] == 0
    assert relayer_oracle.feed(1)[3] == 4  # attacker's round 3, then the relayer's round 4
    _, args = relayer.contract.decode_function_input(reverted["input"])
    feeds = [r["feedId"] for r in args["reports"]]  # what the front-run transaction carried
    assert result.pushed == {f: relayer_oracle.feed(f)[3] for f in feeds} and result.pushed[1] == 4
    assert relayer_oracle.feed(1)[0] == attacks[1][1]  # the chain ends on the honest price
    assert relayer.summary.reverted == 1


def test_a_due_expiry_is_pushed_within_the_settlement_window(
    relayer_oracle, make_relayer, deployer
):
    """A quiet market: the push policy holds both feeds, but feed 1 has an expiry that just passed.
    Only a report observed within settlementWindow after it fixes its settlement price, so the
    relayer pushes feed 1 (reason "expiry") and the price is fixed at the tick's price."""
    relayer = make_relayer(
        GbmJumpSource(1, steps=3), advance_time=120, deviation=1, correlation_deviation=2
    )
    relayer.start()
    assert relayer.step().pushed == {1: 1, 2: 1, PAIR: 1}
    expiry = brownie.web3.eth.get_block("latest")["timestamp"] + 60
    relayer_oracle.registerExpiry(1, expiry, {"from": deployer})
    result = relayer.step()
    assert result.pushed == {1: 2} and result.held == {2: "hold", PAIR: "hold"}
    price, _, observed_at, _ = relayer_oracle.feed(1)
    assert expiry <= observed_at <= expiry + relayer_oracle.settlementWindow()
    assert relayer_oracle.settlementPrice(1, expiry) == price
    assert relayer.step().held == {1: "hold", 2: "hold", PAIR: "hold"}  # nothing due any more
