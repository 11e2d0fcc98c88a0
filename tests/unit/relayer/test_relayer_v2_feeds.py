"""[v2] The relayer's correlation feed and vol floor, against the real Oracle (SPEC §3 and §6).

- ρ of each pair is the EWMA correlation (lambda 0.94) of the ticks' daily log returns, pushed with
  the prices through `submitWithCorrelations` on the same k-of-n path; the expected ρ is numpy's
  closed form of the recursion (tests/unit/relayer/test_correlation_estimator.py), not the
  relayer's own estimator.
- σ_floor: the config override, else the mean EWMA vol of a CSV file's whole history, else the
  running mean of the relayer's EWMA vol; the expected values are computed from the prices here.
"""

import brownie
import numpy as np

from keel.observations import pair_id
from keel.risk.ewma import ewma_closed_form
from oracle.sources import CsvReplaySource, GbmJumpSource
from oracle.units import to_wad
from tests.fixtures.relayer import assert_exactly_once, relayer_history

from .test_correlation_estimator import closed_form_rho
from .test_sources import CSV

WAD = 10**18
PAIR = pair_id(1, 2)


def _prices(source, n):
    ticks = source.ticks()
    rows = [next(ticks).prices for _ in range(n)]
    return np.array([r[1] for r in rows]), np.array([r[2] for r in rows])


def test_pushes_the_ewma_correlation_of_the_replayed_returns(
    relayer_oracle, make_relayer, relayer_sender
):
    start = brownie.web3.eth.block_number + 1
    relayer = make_relayer(CsvReplaySource(CSV, limit=6), advance_time=86400)
    summary = relayer.run()
    assert (summary.submissions, summary.rejected, summary.reverted) == (6, 0, 0)
    btc, eth = _prices(CsvReplaySource(CSV, limit=6), 6)
    rho, observed_at, round_ = relayer_oracle.correlation(2, 1)  # either order
    # a daily tick moves rho by more than the 0.02 deviation, or the day-long age pushes it
    assert round_ == 6
    assert abs(rho - to_wad(closed_form_rho(btc, eth))) <= 10**4  # float rounding: 1e-14
    assert rho == to_wad(relayer.corr[1, 2].rho)
    assert observed_at == relayer_oracle.feed(1)[2]  # one transaction, one observation time
    assert tuple(relayer_oracle.freshCorrelation(1, 2)) == (rho, observed_at)
    assert_exactly_once(*relayer_history(relayer_oracle, relayer_sender.address, start))


def test_the_csv_floor_is_the_mean_ewma_vol_of_the_whole_file(relayer_oracle, make_relayer):
    """Replaying 3 rows of a file, the floor is the mean over every row's EWMA vol: the file is the
    relayer's history (SPEC §6 [v2], "at least 10 years where data allows")."""
    source = CsvReplaySource(CSV, limit=3)
    relayer = make_relayer(source, advance_time=86400)
    relayer.run()
    btc_all = [r[1] for _, r in CsvReplaySource(CSV).rows]
    expected = np.mean([ewma_closed_form(btc_all[: k + 1]) for k in range(1, len(btc_all))])
    vol, floor = relayer_oracle.volInputs(1)
    assert floor == to_wad(relayer.vol_floor(1))
    assert abs(floor / WAD - expected) <= 1e-9 * expected
    assert relayer_oracle.feed(1)[1] == max(vol, floor)


def test_a_configured_floor_overrides_the_history(relayer_oracle, make_relayer):
    relayer = make_relayer(CsvReplaySource(CSV, limit=2), advance_time=86400, vol_floor={1: 1.25})
    relayer.run()
    assert relayer_oracle.volInputs(1)[1] == 125 * WAD // 100
    assert relayer_oracle.feed(1)[1] == 125 * WAD // 100  # binds: the EWMA vol is near its 80% seed
    assert relayer_oracle.volInputs(2)[1] == to_wad(relayer.vol_floor(2))  # ETH: from the file


def test_without_history_the_floor_is_the_running_mean_of_the_ewma_vol(
    relayer_oracle, make_relayer
):
    """A simulated source has no history: after n ticks the floor is the mean of the EWMA vol
    after each of the n - 1 returns."""
    relayer = make_relayer(GbmJumpSource(4, steps=5), advance_time=600, deviation=0)
    relayer.run()
    btc, _ = _prices(GbmJumpSource(4), 5)
    expected = np.mean([ewma_closed_form(list(btc[: k + 1])) for k in range(1, 5)])
    floor = relayer_oracle.volInputs(1)[1]
    assert abs(floor / WAD - expected) <= 1e-9 * expected


def test_restart_rebuilds_correlation_and_floor(relayer_oracle, make_relayer):
    first = make_relayer(rounds=3)
    first.run()
    second = make_relayer(rounds=6)
    second.run()
    straight = make_relayer(state_file=None)
    straight.start()
    for _ in range(6):
        straight._update_vol(next(straight._ticks))
    assert second.corr[1, 2].cov == straight.corr[1, 2].cov
    assert second.vol_floor(1) == straight.vol_floor(1)
    assert relayer_oracle.correlation(1, 2)[2] >= 2


def test_noisy_signers_pass_the_narrowest_correlation_spread(
    relayer_oracle, make_relayer, relayer_sender, deployer
):
    """Noise of 5% per signer, clamped to a third of maxCorrelationSpread at its floor (0.01):
    every correlation report passes, and the signers did disagree."""
    from keel.deploy_oracle import param_key
    from oracle.relayer import ORACLE_ABI
    from oracle.rules import median

    relayer_oracle.setParam(param_key("maxCorrelationSpread"), WAD // 100, {"from": deployer})
    start = brownie.web3.eth.block_number + 1
    relayer = make_relayer(
        GbmJumpSource(2, steps=5),
        advance_time=86400,
        sign_with="all",
        noise=0.05,
        noise_seed=5,
    )
    summary = relayer.run()
    assert (summary.submissions, summary.rejected, summary.reverted) == (5, 0, 0)
    w3 = brownie.web3
    contract = w3.eth.contract(address=relayer_oracle.address, abi=ORACLE_ABI)
    seen = 0
    for n in range(start, w3.eth.block_number + 1):
        for tx in w3.eth.get_block(n, full_transactions=True)["transactions"]:
            if tx["from"] == relayer_sender.address and tx["to"] == relayer_oracle.address:
                for c in contract.decode_function_input(tx["input"])[1].get("correlations", []):
                    rhos = [o["rho"] for o in c["observations"]]
                    assert len(set(rhos)) > 1
                    m = median(r + WAD for r in rhos) - WAD
                    assert max(abs(r - m) for r in rhos) <= WAD // 100
                    seen += 1
    assert seen == relayer_oracle.correlation(1, 2)[2] == 5


def test_prices_are_never_hostage_to_a_refused_correlation(
    relayer_oracle, make_relayer, relayer_sender, monkeypatch
):
    """The Oracle takes a submission whole or not at all. Who would gain if a correlation report
    it refuses held back the prices with it: every account below MM, since stale prices stop
    liquidations (SPEC §3). Here each correlation report carries one signature by a stranger (an
    unforeseen refusal, UnknownSigner): every tick's prices still land, alone, and the pair is
    held as "rejected"; no correlation round is stored and no transaction reverts."""
    from keel.client.keys import derive_keys
    from keel.observations import CorrelationObservation, oracle_domain
    from oracle import rules
    from oracle.relayer import Relayer

    stranger = derive_keys(1, "stranger")[0]
    original = Relayer.build_correlation_report

    def forged(self, a, b, st, now, force=False):
        report, reason = original(self, a, b, st, now, force)
        if report is None:
            return report, reason
        o = report.observations[0]
        obs = CorrelationObservation(a, b, report.round, report.observed_at, o.rho)
        sig = stranger.sign(obs, oracle_domain(self.chain_id, self.oracle_address))
        bad = rules.SignedCorrelation(o.rho, sig.v, sig.r, sig.s)
        return rules.CorrelationReport(
            a, b, report.round, report.observed_at, (bad, *report.observations[1:])
        ), reason

    monkeypatch.setattr(Relayer, "build_correlation_report", forged)
    start = brownie.web3.eth.block_number + 1
    relayer = make_relayer(GbmJumpSource(3, steps=3), advance_time=86400)
    results = [relayer.step() for _ in range(3)]
    assert [r.pushed for r in results] == [{1: n, 2: n} for n in (1, 2, 3)]
    assert all(r.held[PAIR] == "rejected" and r.rejected is None for r in results)
    assert relayer_oracle.correlation(1, 2)[2] == 0  # never stored
    assert (relayer.summary.submissions, relayer.summary.reverted) == (3, 0)
    assert_exactly_once(*relayer_history(relayer_oracle, relayer_sender.address, start))


def test_a_pair_with_an_unlisted_feed_is_held_not_sent(relayer_oracle, make_relayer):
    """The Oracle refuses a pair unless both feeds are listed (UnknownPair): the relayer holds such
    a pair ("pair-not-listed") as it holds an unlisted feed's price, and reports a listed one."""
    import dataclasses

    relayer = make_relayer()
    relayer.start()
    now, states = relayer.read_chain()
    assert relayer.build_correlation_report(1, 2, states[PAIR], now)[0] is not None
    feeds = dict(relayer.params.feeds)
    feeds[2] = dataclasses.replace(feeds[2], listed=False)
    relayer.params = dataclasses.replace(relayer.params, feeds=feeds)
    assert relayer.build_correlation_report(1, 2, states[PAIR], now) == (None, "pair-not-listed")
