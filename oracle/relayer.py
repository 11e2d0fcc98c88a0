"""The relayer's submit loop: a standalone process speaking JSON-RPC through web3.py.

One cycle per source tick:
  1. resolve a pending submission left by an earlier cycle or process (receipt, on-chain rounds,
     nonce) so that a round is never sent twice;
  2. optionally advance an anvil chain's clock (`advance_time`, off by default);
  3. read chain time (latest block timestamp) and the on-chain state of every feed;
  4. ask the push policy, per feed, whether to push (deviation, half heartbeat, never reported), and
     push anyway when a registered expiry is due (its settlement price is fixed only by a report
     observed within the Oracle's settlementWindow after it, SPEC §3 [v2]);
  5. build one report per pushed feed: round = on-chain round + 1, observedAt = latest block
     timestamp (never ahead of the chain), price from the tick, vol from the source or the EWMA,
     [v2] vol floor σ_floor (below), each clamped to the feed's bounds; sign with the first `quorum`
     signers or all of them. Each signer's simulated disagreement (`noise`) stays within a third of
     the Oracle's maxSpread and maxVolSpread, so a relayer report always passes the
     observation-spread rule. [v2] Likewise one correlation report per pair of feeds (a < b) whose
     EWMA correlation (keel.risk.ewma.EwmaCorrelation, lambda 0.94 on the source's ticks) moved by
     more than `correlation_deviation` or whose age reached the push policy's heartbeat fraction (the
     Oracle makes a correlation stale after the heartbeat, like a price), within a third of
     maxCorrelationSpread per signer; price and correlation reports go in one transaction
     (`submitWithCorrelations`, or `submit` when no correlation is due);
  6. check the submission with `oracle.rules` and `eth_estimateGas`: a doomed one is not sent;
  7. sign the transaction with the pending nonce, write it to the state file, then send it (a resend
     of the same signed bytes is idempotent) and wait for its receipt;
  8. if it reverted although the pre-flight check passed, another submission landed first (a
     front-run round: `WrongRound`): re-read the chain and sign the next round, at most
     `resubmit_attempts` times per tick.

[v2] The vol floor σ_floor of a feed (SPEC §6 anti-procyclicality) is, in this order: the config's
`vol_floor` override; the mean of the EWMA vol over the source's whole history when the source has
one (`PriceSource.history()`: a CSV file's every row); else the mean of the relayer's own EWMA vol
over every tick it has folded in (rebuilt on restart by replaying a deterministic source), the EWMA
vol itself before the first return.

Safety argument (no double submission, no reverted relayer transaction): the chain is the source of
truth for rounds; a new report is only built once the previous transaction is resolved (mined,
or its nonce consumed by something else, or re-broadcast byte for byte); the state file is written
before a transaction leaves the process, so a kill -9 at any point leaves either no transaction or
a recorded one that the next start resolves first. A relayer transaction reverts only when another
submission lands between the pre-flight check and mining (a front-run round, SPEC §3 attack 4);
the spread rule bounds what that submission could set, and step 8 re-signs the next round.

RPC failures (connection refused, timeouts, 5xx, truncated responses) are retried with bounded
exponential backoff and jitter; a cycle that still fails is retried on the same tick later, until
the RPC has been failing `max_outage` seconds in a row (60 by default: `keel-relayer run
--rpc-wait`), when the run ends with one line naming the URL and the cause. An RPC that answers
HTTP 4xx, or an Oracle address without code, is a configuration error at once (`Misconfigured`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

from eth_utils import to_checksum_address
from web3.exceptions import (
    BadFunctionCallOutput,
    ContractLogicError,
)

from keel.abi import decode_revert, load
from keel.client.chain import CallReverted, OverCap, Sender, Sent
from keel.client.keys import Signer, noisy
from keel.client.logs import event, get_logger
from keel.client.rpc import Misconfigured, RetryPolicy, Rpc, RpcUnavailable
from keel.client.state import TxState
from keel.observations import CorrelationObservation, Observation, oracle_domain, pair_id
from keel.risk.ewma import (
    DEFAULT_INITIAL_VOL,
    DEFAULT_LAMBDA,
    EwmaCorrelation,
    EwmaVol,
    clamp,
    mean_ewma_vol,
)
from oracle import rules
from oracle.policy import DEVIATION, EXPIRY, HEARTBEAT, HOLD, NEVER, RESUBMIT, PushPolicy
from oracle.sources import PriceSource, Tick
from oracle.units import to_wad

LOGGER_NAME = "keel.relayer"
ORACLE_ABI = load("Oracle")  # keel.abi: the compiled Oracle's ABI
WAD = 10**18
FLOOR_NOISE = 1_000  # noise stream offset of signer i's vol floor (prices 2i, vols 2i + 1)


# --- Errors ---


class RelayerError(Exception):
    """Base of the relayer's typed exceptions."""


class SubmissionRejected(RelayerError):
    """A submission would revert (per oracle.rules or eth_estimateGas); it was not sent."""

    def __init__(self, error: str, args: tuple):
        super().__init__(f"{error}{args}")
        self.error = error
        self.args_ = args


# --- Config ---


@dataclass
class RelayerConfig:
    rpc_url: str
    oracle: str
    signers: list[Signer]  # oracle signers (each must be authorised on the Oracle)
    sender: Signer  # pays gas and sends the transaction (need not be a signer)
    source: PriceSource
    feeds: tuple[int, ...] | None = None  # default: every feed of the source
    sign_with: str = "quorum"  # "quorum": the first `quorum` signers, "all": every signer
    deviation: Fraction = Fraction(5, 1000)  # push threshold |dS/S|
    heartbeat: int | None = None  # [s] None: read from the Oracle
    heartbeat_fraction: Fraction = Fraction(1, 2)
    noise: float = 0.0  # std of each signer's multiplicative price/vol noise
    noise_seed: int = 0
    min_vol: float = 0.01  # floor of a pushed vol (the Oracle rejects 0)
    ewma_lambda: float = DEFAULT_LAMBDA
    initial_vol: float = DEFAULT_INITIAL_VOL
    vol_floor: dict[int, float] | None = None  # feedId -> σ_floor override [fraction] (module doc)
    correlation_deviation: Fraction = Fraction(2, 100)  # push a pair when |Δρ| > this [absolute]
    rounds: int | None = None  # stop once this many ticks were replayed (total, across restarts)
    interval: float = 0.0  # [s] pause between cycles
    advance_time: int = 0  # [s] anvil only: evm_increaseTime + evm_mine before each cycle
    state_file: Path | None = None
    rpc_timeout: float = 10.0  # [s] per HTTP request
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    receipt_timeout: float = 60.0  # [s]
    receipt_poll: float = 0.2  # [s]
    max_failures: int | None = 20  # consecutive failed attempts at one tick before giving up
    max_outage: float | None = 60.0  # [s] RPC failing this long in a row ends the run; None: never
    resubmit_attempts: int = 2  # re-signed submissions per tick after a reverted one
    gas_margin: float = 1.25  # gas limit = estimate * margin
    jitter_seed: int | None = None


@dataclass
class CycleResult:
    tick: int
    pushed: dict[int, int] = field(default_factory=dict)  # feedId -> round accepted
    held: dict[int, str] = field(default_factory=dict)  # feedId -> reason not pushed
    tx_hash: str | None = None
    rejected: str | None = None
    reverted: list[str] = field(default_factory=list)  # hashes of reverted (front-run) submissions


@dataclass
class RunSummary:
    ticks: int = 0  # ticks processed by this process
    cursor: int = 0  # ticks processed in total under this state file
    submissions: int = 0  # transactions accepted
    rounds: dict[int, int] = field(default_factory=dict)  # feedId -> last on-chain round
    failures: int = 0  # failed cycle attempts (RPC outages)
    rejected: int = 0  # submissions not sent because they would revert
    reverted: int = 0  # submissions that reverted on chain (another one landed first)


# --- State file ---


@dataclass
class RelayerState(TxState):
    """What survives a restart (.keel/relayer-state.json): the sender's transaction in flight and
    count (`TxState`, the one state-file format) plus where the relayer stands. The chain stays the
    source of truth. A pending transaction's action is {"rounds": {feed: round}, "observed_at": t}."""

    chain_id: int = 0
    oracle: str = ""
    sender: str = ""
    cursor: int = 0  # ticks fully processed
    last: dict = field(default_factory=dict)  # str(feedId) -> {"round": r, "tx": hash}
    submissions: int = 0  # accepted


# --- The relayer ---


class Relayer:
    """Runs `config.source` into the Oracle at `config.oracle`. See the module docstring.

    Programmatic use (what `keel-relayer run` does):
        relayer = Relayer(config)
        summary = relayer.run()           # until config.rounds ticks or the source ends
    or one step at a time (a demo interleaving prices with trades):
        relayer.start()                   # connect, read params, resume state
        result = relayer.step()           # one tick -> CycleResult, None when done
    """

    def __init__(self, config: RelayerConfig):
        self.cfg = config
        self.log = get_logger(LOGGER_NAME)
        self.rpc = Rpc(
            config.rpc_url,
            config.rpc_timeout,
            config.retry,
            config.jitter_seed,
            self.log,
            config.max_outage,
        )
        self.w3 = self.rpc.w3
        self.oracle_address = to_checksum_address(config.oracle)
        self.contract = self.w3.eth.contract(address=self.oracle_address, abi=ORACLE_ABI)
        self.feeds = tuple(config.feeds or config.source.feed_ids)
        missing = [f for f in self.feeds if f not in config.source.feed_ids]
        if missing:
            raise RelayerError(f"source does not price feed(s) {missing}")
        self.state = RelayerState.load(config.state_file)
        self.sender: Sender | None = None  # once the chain id is known (start)
        self.vol = {
            f: EwmaVol(config.ewma_lambda, config.source.periods_per_year, config.initial_vol)
            for f in self.feeds
        }
        # [v2] one EWMA correlation per pair a < b, reading the feeds' own EwmaVols
        self.pairs = tuple(
            (a, b) for i, a in enumerate(sorted(self.feeds)) for b in sorted(self.feeds)[i + 1 :]
        )
        self.corr = {(a, b): EwmaCorrelation(self.vol[a], self.vol[b]) for a, b in self.pairs}
        # [v2] σ_floor: fixed (override, or the source's history) or the running mean of the EWMA vol
        self._vol_sum = dict.fromkeys(self.feeds, 0.0)  # Σ EWMA vol after each return  [fraction]
        self._fixed_floor = self._fixed_vol_floors()
        self.summary = RunSummary()
        self._ticks: Iterator[Tick] | None = None
        self._started = False
        self.params: rules.OracleParams | None = None
        self.policy: PushPolicy | None = None
        self.chain_id = 0
        self._signed_by: dict[bytes, str] = {}  # r || s -> signer, of this cycle's signatures
        # feedId -> earliest pending expiry (0: none), as of the last read_chain
        self._due: dict[int, int] = {}

    def _fixed_vol_floors(self) -> dict[int, float]:
        """feedId -> σ_floor from the config override, else from the source's history (module doc)."""
        floors = {f: float(v) for f, v in (self.cfg.vol_floor or {}).items() if f in self.feeds}
        history = self.cfg.source.history() or {}
        for f in self.feeds:
            if f not in floors and len(history.get(f, ())) >= 2:
                floors[f] = mean_ewma_vol(
                    history[f],
                    self.cfg.ewma_lambda,
                    self.cfg.source.periods_per_year,
                    self.cfg.initial_vol,
                )
        return floors

    def vol_floor(self, f: int) -> float:
        """σ_floor of feed `f` now [fraction] (module docstring)."""
        if f in self._fixed_floor:
            return self._fixed_floor[f]
        est = self.vol[f]
        return self._vol_sum[f] / est.returns if est.returns else est.vol

    # --- Setup ---

    def start(self) -> None:
        """Connects, reads the Oracle's parameters and resumes the state file (idempotent)."""
        if self._started:
            return
        self.chain_id = self.rpc.call("chain_id", lambda: self.w3.eth.chain_id)
        self.rpc.require_code({"Oracle": self.oracle_address})
        try:
            self.refresh_params()
        except (BadFunctionCallOutput, ContractLogicError) as exc:  # code, but not an Oracle's
            raise Misconfigured(
                f"{self.oracle_address} on {self.rpc.url} does not answer as an Oracle "
                f"({type(exc).__name__})"
            ) from None
        st = self.state
        if st.cursor or st.pending:
            if (st.chain_id, st.oracle, st.sender) != (
                self.chain_id,
                self.oracle_address,
                self.cfg.sender.address,
            ):
                event(
                    self.log,
                    "state-mismatch",
                    30,
                    state_chain=st.chain_id,
                    state_oracle=st.oracle,
                    state_sender=st.sender,
                    note="state file is for another chain/oracle/sender: fresh start",
                )
                self.state = RelayerState(self.cfg.state_file)
        self.state.chain_id = self.chain_id
        self.state.oracle = self.oracle_address
        self.state.sender = self.cfg.sender.address
        self.sender = Sender(
            self.rpc,
            self.cfg.sender.key,
            self.chain_id,
            self.state,
            self.log,
            receipt_timeout=self.cfg.receipt_timeout,
            receipt_poll=self.cfg.receipt_poll,
            gas_margin=self.cfg.gas_margin,
        )
        self._ticks = self.cfg.source.ticks()
        skip = self.state.cursor if self.cfg.source.deterministic else 0
        for _ in range(skip):  # rebuild the vol estimate from the ticks replayed before
            tick = next(self._ticks, None)
            if tick is None:
                break
            self._update_vol(tick)
        event(
            self.log,
            "started",
            chain_id=self.chain_id,
            oracle=self.oracle_address,
            sender=self.cfg.sender.address,
            feeds=list(self.feeds),
            signers=len(self.cfg.signers),
            quorum=self.params.quorum,
            resume_cursor=self.state.cursor,
            pending=(self.state.pending or {}).get("tx"),
        )
        self._started = True

    def refresh_params(self) -> None:
        """Reads quorum, drift, breaker, heartbeat, feed bounds and which of our signers count."""
        c = self.contract.functions

        def read():
            feeds = {}
            for f in self.feeds:
                lo, hi, max_vol, listed = c.feedConfig(f).call()
                feeds[f] = rules.FeedConfig(lo, hi, max_vol, listed)
            authorised = [s.address for s in self.cfg.signers if c.isSigner(s.address).call()]
            return (
                feeds,
                authorised,
                c.quorum().call(),
                c.maxFutureDrift().call(),
                c.jumpThreshold().call(),
                c.coolDown().call(),
                c.heartbeat().call(),
                c.maxSpread().call(),
                c.maxVolSpread().call(),
                c.maxCorrelationSpread().call(),
            )

        (
            feeds,
            authorised,
            quorum,
            drift,
            jump,
            cool,
            heartbeat,
            spread,
            vol_spread,
            corr_spread,
        ) = self.rpc.call("params", read)
        unauthorised = [s.address for s in self.cfg.signers if s.address not in authorised]
        if unauthorised:
            event(self.log, "signers-unauthorised", 30, signers=unauthorised)
        self.params = rules.OracleParams(
            self.chain_id,
            self.oracle_address,
            frozenset(authorised),
            feeds,
            quorum,
            drift,
            jump,
            cool,
            spread,
            vol_spread,
            corr_spread,
        )
        self.policy = PushPolicy(
            self.cfg.deviation, self.cfg.heartbeat or heartbeat, self.cfg.heartbeat_fraction
        )
        event(
            self.log,
            "params",
            quorum=quorum,
            max_future_drift=drift,
            max_spread=spread,
            max_vol_spread=vol_spread,
            heartbeat=self.policy.heartbeat,
            authorised_signers=len(authorised),
            feeds={f: asdict(cfg) for f, cfg in feeds.items()},
        )

    # --- Running ---

    def run(self) -> RunSummary:
        """Processes ticks until `rounds` ticks in total, the end of the source or too many failures."""
        failures = 0
        while not self._started:  # an RPC that is down at start is waited for like one mid-run
            try:
                self.start()
            except RpcUnavailable as exc:
                failures += 1
                event(self.log, "start-failed", 40, failures=failures, error=str(exc)[:200])
                if self.cfg.max_failures is not None and failures >= self.cfg.max_failures:
                    raise
                self.rpc.pause(failures)  # or the final RpcUnavailable after max_outage
        while self.step() is not None:
            if self.cfg.interval > 0 and not self._done():
                time.sleep(self.cfg.interval)
        event(self.log, "finished", **asdict(self.summary))
        return self.summary

    def _done(self) -> bool:
        return self.cfg.rounds is not None and self.state.cursor >= self.cfg.rounds

    def step(self) -> CycleResult | None:
        """Takes the next tick and runs cycles on it until one completes. None when done.

        A cycle that fails on an RPC outage is retried on the same tick after a backoff, at most
        `max_failures` times in a row and while the outage is shorter than `max_outage` (then
        RpcUnavailable propagates).
        """
        self.start()
        if self._done():
            return None
        tick = next(self._ticks, None)
        if tick is None:
            return None
        self._update_vol(tick)
        failures = 0
        while True:
            try:
                result = self.cycle(tick)
                break
            except RpcUnavailable as exc:
                failures += 1
                self.summary.failures += 1
                event(
                    self.log, "cycle-failed", 40, tick=tick.index, failures=failures, error=str(exc)
                )
                if self.cfg.max_failures is not None and failures >= self.cfg.max_failures:
                    raise
                self.rpc.pause(failures)  # or the final RpcUnavailable after max_outage
        self.state.cursor += 1
        self.state.save()
        self.summary.ticks += 1
        self.summary.cursor = self.state.cursor
        return result

    def _update_vol(self, tick: Tick) -> None:
        returns = {f: self.vol[f].step(tick.prices[f]) for f in self.feeds}
        for a, b in self.pairs:
            self.corr[a, b].fold(returns[a], returns[b])
        for f, r in returns.items():
            if r is not None:
                self._vol_sum[f] += self.vol[f].vol

    # --- One cycle ---

    def cycle(self, tick: Tick) -> CycleResult:
        result = CycleResult(tick.index)
        self._signed_by = {}
        self.resolve_pending()
        if self.cfg.advance_time:
            self.rpc.call(
                "advance_time",
                lambda: (
                    self.w3.provider.make_request("evm_increaseTime", [self.cfg.advance_time]),
                    self.w3.provider.make_request("evm_mine", []),
                ),
            )
        forced: frozenset[int] = frozenset()
        for _ in range(1 + max(0, self.cfg.resubmit_attempts)):
            now, states = self.read_chain()
            reports: list[rules.Report] = []
            result.held = {}
            for f in self.feeds:
                report, reason = self.build_report(f, tick, states[f], now, force=f in forced)
                if report is None:
                    result.held[f] = reason
                else:
                    reports.append(report)
            correlations = []
            for a, b in self.pairs:
                pid = pair_id(a, b)
                corr, reason = self.build_correlation_report(
                    a, b, states[pid], now, force=pid in forced
                )
                if corr is None:
                    result.held[pid] = reason
                else:
                    correlations.append(corr)
            if not reports and not correlations:
                return result
            try:
                sent, rounds = self._submit_prices_first(reports, states, now, correlations, result)
            except SubmissionRejected as exc:
                self.summary.rejected += 1
                result.rejected = str(exc)
                self.refresh_params()  # a rejection may mean governance changed something
                return result
            tx_hash = result.tx_hash = sent.tx
            if sent.status != "reverted":  # accepted, or not known yet (the next cycle resolves it)
                result.pushed = rounds
                return result
            # It passed the pre-flight check and reverted on chain: another submission got in first
            # (a front-run round fails WrongRound). The tick's prices still stand: re-read the
            # chain and sign the next round of the same feeds.
            result.reverted.append(tx_hash)
            forced = frozenset(rounds)
            event(self.log, "resubmit", 30, tx=tx_hash, rounds=rounds)
            self._await_chain_time_after(now)
        return result

    def _submit_prices_first(
        self,
        reports: list[rules.Report],
        states: dict,
        now: int,
        correlations: list[rules.CorrelationReport],
        result: CycleResult,
    ) -> tuple[Sent, dict[int, int]]:
        """`submit`, with prices never hostage to correlations: the Oracle takes a submission whole
        or not at all, so a correlation report it would refuse (a rule the relayer did not foresee)
        would otherwise hold back every price with it, and stale prices stop liquidations (SPEC
        §3). When a submission that carries both is refused, the prices go alone and the pairs are
        held as "rejected"; a refusal of the prices themselves propagates."""
        try:
            return self.submit(reports, states, now, correlations)
        except SubmissionRejected as exc:
            if not (reports and correlations):
                raise
            event(self.log, "correlations-dropped", 30, error=str(exc),
                  pairs=[[c.feed_a, c.feed_b] for c in correlations])  # fmt: skip
            for c in correlations:
                result.held[pair_id(c.feed_a, c.feed_b)] = "rejected"
            return self.submit(reports, states, now)

    def _await_chain_time_after(self, ts: int) -> None:
        """Waits (bounded by receipt_timeout) for a block later than `ts`, so that a re-signed report
        is newer than one observed at `ts` (the front-runner's). On an anvil chain whose clock this
        relayer moves (`advance_time`), it mines one a second later instead of waiting."""
        if self.cfg.advance_time:
            self.rpc.call(
                "advance_time",
                lambda: (
                    self.w3.provider.make_request("evm_increaseTime", [1]),
                    self.w3.provider.make_request("evm_mine", []),
                ),
            )
            return
        deadline = time.monotonic() + self.cfg.receipt_timeout
        while time.monotonic() < deadline:
            latest = self.rpc.call("latest", lambda: self.w3.eth.get_block("latest")["timestamp"])
            if latest > ts:
                return
            time.sleep(self.cfg.receipt_poll)

    def read_chain(self) -> tuple[int, dict]:
        """(latest block timestamp, on-chain state of every feed and [v2] of every pair, the pairs
        keyed by pair id: rules.FeedState / rules.CorrelationState), read together; also records
        each feed's earliest pending expiry in `_due`."""

        def read():
            ts = self.w3.eth.get_block("latest")["timestamp"]
            states, due = {}, {}
            for f in self.feeds:
                price, vol, observed_at, round_ = self.contract.functions.feed(f).call()
                states[f] = rules.FeedState(price, vol, observed_at, round_)
                pending = self.contract.functions.pendingExpiries(f).call()
                due[f] = pending[0] if pending else 0
            for a, b in self.pairs:
                rho, observed_at, round_ = self.contract.functions.correlation(a, b).call()
                states[pair_id(a, b)] = rules.CorrelationState(rho, observed_at, round_)
            return ts, states, due

        now, states, self._due = self.rpc.call("read_chain", read)
        for f, st in states.items():
            self.summary.rounds[f] = st.round
        return now, states

    def build_report(
        self, f: int, tick: Tick, st: rules.FeedState, now: int, force: bool = False
    ) -> tuple[rules.Report | None, str]:
        cfg = self.params.feeds[f]
        price = to_wad(tick.prices[f])
        implied = tick.vols.get(f)
        vol_src = "implied" if implied is not None else "ewma"
        raw_vol = to_wad(implied if implied is not None else self.vol[f].vol)
        vol = clamp(raw_vol, min(to_wad(self.cfg.min_vol), cfg.max_vol), cfg.max_vol)
        vol_floor = clamp(to_wad(self.vol_floor(f)), 1, cfg.max_vol)  # bounded like the vol
        push, reason = self.policy.decide(st.price, st.observed_at, st.round, price, now)
        expiry = self._due.get(f, 0)
        if not push and force:
            push, reason = True, RESUBMIT
        elif not push and 0 < expiry <= now:
            # SPEC §3 [v2]: only a report observed within settlementWindow after the expiry fixes
            # its settlement price; push one now, whatever the price did.
            push, reason = True, EXPIRY
        fields = dict(
            feed=f,
            tick=tick.index,
            label=tick.label,
            price=price,
            last_price=st.price,
            vol=vol,
            vol_source=vol_src,
            vol_clamped=vol != raw_vol,
            vol_floor=vol_floor,
            age=now - st.observed_at,
            round=st.round,
            push=push,
            reason=reason,
        )
        if push and not cfg.listed:
            push, reason = False, "feed-not-listed"
        elif push and not (cfg.min_price <= price <= cfg.max_price):
            push, reason = False, "price-out-of-bounds"
        elif push and now <= st.observed_at:
            push, reason = False, "chain-time-not-advanced"
        fields.update(push=push, reason=reason)
        event(self.log, "decision", **fields)
        if not push:
            return None, reason
        signers = self._report_signers()
        domain = oracle_domain(self.chain_id, self.oracle_address)
        round_ = st.round + 1
        # Each signer's view stays within a third of the Oracle's spread of the source's value: then
        # the report's median is too, and every observation lies within 2/3 of the spread of it
        # (SPEC §3 [v2]: the relayer never needs a wider spread than honest sources give).
        dp = price * self.params.max_spread // (3 * WAD)
        dv = vol * self.params.max_vol_spread // (3 * WAD)
        df = vol_floor * self.params.max_vol_spread // (3 * WAD)
        obs = []
        for i, s in enumerate(signers):
            p = clamp(
                noisy(price, self.cfg.noise, self.cfg.noise_seed, f, round_, 2 * i),
                max(cfg.min_price, price - dp),
                min(cfg.max_price, price + dp),
            )
            v = clamp(
                noisy(vol, self.cfg.noise, self.cfg.noise_seed, f, round_, 2 * i + 1),
                max(1, vol - dv),
                min(cfg.max_vol, vol + dv),
            )
            fl = clamp(
                noisy(vol_floor, self.cfg.noise, self.cfg.noise_seed, f, round_, FLOOR_NOISE + i),
                max(1, vol_floor - df),
                min(cfg.max_vol, vol_floor + df),
            )
            sig = s.sign(Observation(f, round_, now, p, v, fl), domain)
            obs.append(rules.SignedObservation(p, v, sig.v, sig.r, sig.s, fl))
            self._signed_by[sig.r + sig.s] = s.address
        return rules.Report(f, round_, now, tuple(obs)), reason

    def build_correlation_report(
        self, a: int, b: int, st: rules.CorrelationState, now: int, force: bool = False
    ) -> tuple[rules.CorrelationReport | None, str]:
        """[v2] The pair's report when due (never reported, moved by more than
        `correlation_deviation`, or as old as the push policy's heartbeat fraction), else None."""
        rho = clamp(to_wad(self.corr[a, b].rho), -WAD, WAD)
        if force:
            push, reason = True, RESUBMIT
        elif st.round == 0:
            push, reason = True, NEVER
        elif abs(rho - st.rho) > self.cfg.correlation_deviation * WAD:
            push, reason = True, DEVIATION
        elif now - st.observed_at >= self.policy.heartbeat_fraction * self.policy.heartbeat:
            push, reason = True, HEARTBEAT
        else:
            push, reason = False, HOLD
        if push and now <= st.observed_at:
            push, reason = False, "chain-time-not-advanced"
        feeds = self.params.feeds
        if push and not (feeds[a].listed and feeds[b].listed):
            push, reason = False, "pair-not-listed"  # the Oracle would refuse it: UnknownPair
        event(
            self.log,
            "correlation-decision",
            pair=[a, b],
            rho=rho,
            last_rho=st.rho,
            age=now - st.observed_at,
            round=st.round,
            push=push,
            reason=reason,
        )
        if not push:
            return None, reason
        signers = self._report_signers()
        domain = oracle_domain(self.chain_id, self.oracle_address)
        round_ = st.round + 1
        d = self.params.max_correlation_spread // 3  # absolute, like the Oracle's rule
        obs = []
        for i, s in enumerate(signers):
            # noisy() scales a positive wad: perturb rho + 1 (in [0, 2e18]) and shift back
            r = noisy(rho + WAD, self.cfg.noise, self.cfg.noise_seed, pair_id(a, b), round_, i)
            r = clamp(r - WAD, max(-WAD, rho - d), min(WAD, rho + d))
            sig = s.sign(CorrelationObservation(a, b, round_, now, r), domain)
            obs.append(rules.SignedCorrelation(r, sig.v, sig.r, sig.s))
            self._signed_by[sig.r + sig.s] = s.address
        return rules.CorrelationReport(a, b, round_, now, tuple(obs)), reason

    def _report_signers(self) -> list[Signer]:
        """The signers of one report: ours the Oracle authorises, the first `quorum` of them
        unless `sign_with` is "all"."""
        signers = [s for s in self.cfg.signers if s.address in self.params.signers]
        return signers[: self.params.quorum] if self.cfg.sign_with == "quorum" else signers

    # --- Submission ---

    def submit(
        self,
        reports: list[rules.Report],
        states: dict,
        now: int,
        correlations: list[rules.CorrelationReport] = (),
    ) -> tuple[Sent, dict[int, int]]:
        """Checks one submission (`oracle.rules`, then eth_estimateGas) and hands it to the sender,
        which signs it, writes it to the state file, sends it and waits for its receipt. Returns
        (what the sender saw, the rounds it carries: feedId or [v2] pair id -> round).
        SubmissionRejected: it was not sent."""
        pids = [pair_id(c.feed_a, c.feed_b) for c in correlations]
        verdict = rules.evaluate(
            reports,
            states,
            self.params,
            now,
            known_signers=self._signed_by,
            correlations=correlations,
            correlation_states={p: states[p] for p in pids if p in states},
        )
        self._signed_by = {}
        rounds = {r.feed_id: r.round for r in reports}
        rounds.update({p: c.round for p, c in zip(pids, correlations, strict=True)})
        if not verdict.ok:
            event(self.log, "rules-reject", 40, rounds=rounds, error=str(verdict))
            raise SubmissionRejected(verdict.error, verdict.args)
        calldata = [r.as_tuple() for r in reports]
        if correlations:
            args = [calldata, [c.as_tuple() for c in correlations]]
            data = self.contract.encode_abi("submitWithCorrelations", args=args)
        else:
            data = self.contract.encode_abi("submit", args=[calldata])
        try:
            gas = self.sender.estimate(self.oracle_address, data)
            self.sender.gas_limit(gas)  # raises OverCap before anything is signed
        except CallReverted as exc:
            name, args = decode_revert(exc.data) or ("CallReverted", (exc.data[:200],))
            event(self.log, "estimate-reject", 40, rounds=rounds, error=name, args=args)
            raise SubmissionRejected(name, args) from exc
        except OverCap as exc:
            raise SubmissionRejected("OverCap", (exc.gas, exc.cap)) from exc
        event(
            self.log,
            "submit",
            rounds=rounds,
            observed_at=now,
            prices={r.feed_id: verdict.states[r.feed_id].price for r in reports},
            vols={r.feed_id: verdict.states[r.feed_id].vol for r in reports},
            vol_floors={f: v[1] for f, v in verdict.vol_inputs.items()},
            correlations={p: c.rho for p, c in verdict.correlations.items()},
            signatures={r.feed_id: len(r.observations) for r in reports},
        )
        action = {"rounds": {str(f): r for f, r in rounds.items()}, "observed_at": now}
        sent = self.sender.send(action, self.oracle_address, data, gas)
        self._account(sent)
        return sent, rounds

    def _account(self, sent: Sent) -> None:
        """The relayer's books after the sender resolved a submission (mined or reverted)."""
        if sent.status not in ("mined", "reverted"):
            return
        rounds = {int(f): r for f, r in sent.action["rounds"].items()}
        if sent.status == "mined":
            self.state.submissions += 1
            self.summary.submissions += 1
            for f, r in rounds.items():
                self.state.last[str(f)] = {"round": r, "tx": sent.tx}
                self.summary.rounds[f] = r
            event(self.log, "accepted", tx=sent.tx, rounds=rounds, block=sent.block,
                  gas_used=sent.gas_used)  # fmt: skip
        else:
            self.summary.reverted += 1
            event(self.log, "reverted", 40, tx=sent.tx, rounds=rounds, block=sent.block)
        self.state.save()

    def resolve_pending(self) -> None:
        """Settles a submission recorded by an earlier cycle or process, before anything new
        (`Sender.resolve_pending`); a recorded round that is on chain already, or that the chain has
        moved past, is dropped without being sent (`_obsolete`)."""
        sent = self.sender.resolve_pending(obsolete=self._obsolete)
        if sent is not None:
            self._account(sent)

    def _obsolete(self, pending: dict) -> str | None:
        """Why a recorded, unmined submission is no longer wanted, or None: every round it carried
        is on chain (its receipt was lost, or another relayer got there first), or the chain moved
        past it (a round or an observation time it no longer follows)."""
        _, states = self.read_chain()
        action = pending["action"]
        rounds = {int(f): r for f, r in action["rounds"].items()}
        if all(states[f].round >= r for f, r in rounds.items() if f in states):
            return "rounds on chain"
        if any(
            states[f].round + 1 != r or action["observed_at"] <= states[f].observed_at
            for f, r in rounds.items()
        ):
            return "no longer valid"
        return None


def run(config: RelayerConfig) -> RunSummary:
    """Runs a relayer to completion (see `Relayer`)."""
    return Relayer(config).run()


def dev_config(
    rpc_url: str,
    oracle: str,
    source: PriceSource,
    *,
    n_signers: int = 5,
    key_seed: int | str = "0",
    sender_index: int = 9,
    **overrides,
) -> RelayerConfig:
    """A config for a local anvil chain: `n_signers` deterministic TEST keys derived from
    `key_seed` (authorise `keel.client.keys.derive_keys(n_signers, key_seed)` addresses at deployment)
    and anvil dev account `sender_index` as the sender. Never for a chain holding real value."""
    from keel.client.keys import anvil_dev_keys, derive_keys

    return RelayerConfig(
        rpc_url=rpc_url,
        oracle=oracle,
        signers=derive_keys(n_signers, key_seed),
        sender=anvil_dev_keys(1, offset=sender_index)[0],
        source=source,
        **overrides,
    )
