"""The liquidation keeper: follow accounts, pre-filter with the reference model, act on the chain.

One cycle (`Keeper.step`):
  1. resolve a transaction left pending by an earlier cycle or process (never sent twice);
  2. read the logs since the last processed block: AccountOpened adds an account to the followed
     population; every event that changes an account's positions, cash or collateral
     (ACCOUNT_EVENTS) and every auction event marks its accounts dirty; FeedUpdated marks the
     market;
  3. re-read only the dirty accounts (batched, pinned to the block) into the index
     (keeper.index.AccountIndex), and the market and the marks (cash index, funding indices) when
     something moved: the index equals a full re-read at that block without re-reading anybody else;
  4. pre-filter: the reference model recomputes margins from the index (vectorised over the whole
     population after a price move or on a full scan, over the re-read accounts otherwise) and
     names the candidates (model AE < MM·(1 + tolerance) + slack);
  5. ask the chain (one batch of marginBreakdown + auction) about the candidates, the accounts in
     auction and, every `scan_interval` seconds (a full scan), a rotating audit slice of
     `audit_size` accounts, which are also re-read and compared with the index (a difference is
     logged as `index-mismatch` and repaired; a model miss as `prefilter-miss`);
  6. act on what the chain said: start auctions (AE < MM), end cured ones (AE >= IM), and bid when
     the rule of keeper.rules says the discount pays (keeper.model.carry sizes what the keeper's
     own account can carry). Before a start or a bid the keeper refreshes the stale risk arrays
     of every series the accounts involved hold (`_prepare`): per underlying, in transactions whose
     estimate fits `refresh_gas_budget`, all for the same oracle round (a round that changes
     meanwhile makes it start over), so the liquidation's margin checks read stored arrays instead
     of revaluing in memory. Every transaction is pre-flighted with eth_estimateGas: one whose
     estimate exceeds the per-transaction cap (EIP-7825, `tx_gas_cap`) is never sent (`over-cap`),
     one that would revert (another keeper got there first, the auction moved) is logged and
     skipped, and the account is re-read next cycle; a mined-but-reverted one is logged as a lost
     race. A bid that reaches an account cured after the quote (the market recovered, the owner
     deposited) does not revert: the liquidator ends the auction and sells nothing (SPEC §7 [v2]).
     The keeper reads that from the receipt (AuctionEnded(cured) without a SolventBid/InsolventBid),
     logs `bid-ended-auction`, counts an ended auction (not a bid) and forgets the auction: nothing
     is retried, the next cycle finds the account out of auction.
The last processed block, the followed accounts and the pending transaction are in the state file,
written atomically after each step and before each transaction leaves the process. The index is
rebuilt from the chain when a process starts (one batched read of every followed account).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

from eth_utils import to_checksum_address

from keel.abi import describe_revert as decode_error
from keel.abi import topic
from keel.chain import TX_GAS_CAP
from keel.client.chain import (
    ENGINE_ABI,
    LIQUIDATOR_ABI,
    ORACLE_ABI,
    STORE_ABI,
    VAULT_ABI,
    Addresses,
    Batch,
    Breakdown,
    Call,
    CallReverted,
    Log,
    Marks,
    OverCap,
    Reader,
    Sender,
    Sent,
    _fn,
)
from keel.client.logs import event
from keel.client.rpc import RetryPolicy, Rpc, RpcUnavailable
from keel.client.state import read_json, write_json_atomic
from keel.risk.chain_inputs import market_from_reader

from . import model as kmodel
from . import rules
from .index import AccountIndex, words
from .logs import get_logger

STATE_VERSION = 1
WAD = 10**18
LOG_CHUNK = 2_000  # blocks per eth_getLogs


@dataclass
class KeeperConfig:
    rpc_url: str
    engine: str
    liquidator: str
    vault: str
    oracle: str
    account: int  # the keeper's own account (starter fee, bids)
    key: str  # private key of the account's owner or trade operator
    scan_interval: float = 30.0  # [s] between full scans
    poll_interval: float = 1.0  # [s] between cycles
    bid: rules.BidParams = field(default_factory=rules.BidParams)
    prefilter_tolerance: float = 0.05  # model AE < MM·(1 + tol) + slack -> ask the chain
    prefilter_slack: float = 1.0  # [USD]
    native_feed: int = 2  # feed pricing the gas token (ETH)
    from_block: int = 0  # first block searched for AccountOpened
    state_file: Path | None = None
    rpc_timeout: float = 10.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    receipt_timeout: float = 60.0
    max_failures: int | None = 30  # consecutive failed cycles before giving up
    max_outage: float | None = 60.0  # [s] RPC failing this long in a row ends the run; None: never
    max_cycles: int | None = None  # stop after this many cycles (tests, --once)
    max_runtime: float | None = None  # [s] stop after this long
    bid_gas_guess: int = 2_000_000  # gas assumed when quoting, before the pre-flight estimate
    jitter_seed: int | None = None
    tx_gas_cap: int = TX_GAS_CAP  # EIP-7825: a transaction estimated above it is never sent
    refresh_gas_budget: int = TX_GAS_CAP // 2  # [gas] per refreshRiskArrays transaction
    refresh_attempts: int = 3  # oracle rounds tried for one refresh before acting regardless
    audit_size: int = 50  # accounts re-read and chain-checked per full scan (0: none)
    dry_run: bool = False  # decide and log, send nothing
    # what `scan_interval` counts: "wall" seconds (time.monotonic, the real-time loop) or "chain"
    # seconds (the head block's timestamp: a stepped keeper, whose cycles must not depend on
    # when they ran, keeper/stepped.py)
    scan_clock: str = "wall"


@dataclass
class KeeperState:
    """What survives a restart. The chain stays the source of truth for everything else."""

    chain_id: int = 0
    liquidator: str = ""
    account: int = 0
    last_block: int = -1  # last block whose logs were processed
    accounts: list[int] = field(default_factory=list)  # followed accounts
    pending: dict | None = None  # write-ahead record of the transaction in flight
    sent: int = 0  # transactions mined (ok or reverted)
    version: int = STATE_VERSION
    path: str | None = None

    @classmethod
    def load(cls, path: Path | None) -> KeeperState:
        data = read_json(Path(path), STATE_VERSION) if path is not None else None
        if data is None:
            return cls(path=str(path) if path else None)
        data["path"] = str(path)
        return cls(**data)

    def save(self) -> None:
        """Atomic write (temp file, fsync, rename): a kill -9 leaves the old or the new file."""
        if not self.path:
            return
        data = asdict(self)
        data.pop("path")
        write_json_atomic(Path(self.path), data)


@dataclass
class Stats:
    cycles: int = 0
    started: int = 0
    ended: int = 0
    bids: int = 0
    insolvent_bids: int = 0
    bids_ended_cured: int = 0  # bids that found the account cured: auction ended, nothing bought
    preempted: int = 0  # actions skipped because the pre-flight said they would revert
    reverted: int = 0  # mined but reverted (lost races)
    failures: int = 0  # cycles failed on RPC outages
    prefilter_misses: int = 0
    over_cap: int = 0  # transactions not sent: estimate above the per-transaction gas cap
    refreshes: int = 0  # refreshRiskArrays transactions mined
    refreshed_series: int = 0  # series in them
    index_mismatches: int = 0  # audited accounts whose index entry differed from the chain


# events -> which topics carry account ids. Every change of an account's positions, cash principal
# or collateral emits one of these (the Vault's module functions all emit; the engine's position
# changes are fills, transfers, settlements and realisations), so re-reading the accounts they
# name keeps keeper.index exact.
_ENGINE_EVENTS = {
    topic(ENGINE_ABI, "Traded"): (2, 3),
    topic(ENGINE_ABI, "PnlRealised"): (1,),
    topic(ENGINE_ABI, "OptionSettled"): (1,),
    topic(ENGINE_ABI, "PositionsTransferred"): (1, 2),
}
_VAULT_EVENTS = {
    topic(VAULT_ABI, "Deposited"): (1,),
    topic(VAULT_ABI, "Withdrawn"): (1,),
    topic(VAULT_ABI, "CashMoved"): (1, 2),
    topic(VAULT_ABI, "CashAdjusted"): (1,),
    topic(VAULT_ABI, "FeeCollected"): (1,),
    topic(VAULT_ABI, "InsurancePaid"): (1,),
    topic(VAULT_ABI, "CollateralMoved"): (1, 2),
}
_OPENED = topic(VAULT_ABI, "AccountOpened")
_FEED_UPDATED = topic(ORACLE_ABI, "FeedUpdated")
_LIQ_EVENTS = {
    topic(LIQUIDATOR_ABI, "AuctionStarted"): (1,),
    topic(LIQUIDATOR_ABI, "AuctionEnded"): (1,),
    topic(LIQUIDATOR_ABI, "SolventBid"): (1, 3),
    topic(LIQUIDATOR_ABI, "InsolventBid"): (1, 3),
}


ACCOUNT_EVENTS = {"engine": _ENGINE_EVENTS, "vault": _VAULT_EVENTS, "liquidator": _LIQ_EVENTS}

_SOLVENT_BID = topic(LIQUIDATOR_ABI, "SolventBid")
_INSOLVENT_BID = topic(LIQUIDATOR_ABI, "InsolventBid")
_AUCTION_ENDED = topic(LIQUIDATOR_ABI, "AuctionEnded")


def _hex(t) -> str:
    return t if isinstance(t, str) else "0x" + bytes(t).hex()


def bid_outcome(logs: tuple[Log, ...], liquidator: str, account: int) -> str:
    """What a mined bid on `account` did, from its receipt's logs: "bought" (SolventBid or
    InsolventBid), "ended-cured" (SPEC §7 [v2]: the account was at or above IM when the bid
    executed, so the liquidator ended the auction and sold nothing), else "unknown"."""
    acc = "0x" + account.to_bytes(32, "big").hex()
    mine = [lg for lg in logs if lg.address == liquidator and len(lg.topics) > 1]
    mine = [lg for lg in mine if lg.topics[1].lower() == acc]
    if any(lg.topics[0] in (_SOLVENT_BID, _INSOLVENT_BID) for lg in mine):
        return "bought"
    for lg in mine:
        if lg.topics[0] == _AUCTION_ENDED and int(lg.data, 16) == 1:  # cured = true
            return "ended-cured"
    return "unknown"


class _Laps:
    """Wall time of a cycle's phases [ms] (logged with the cycle, read by the scan benchmark)."""

    def __init__(self) -> None:
        self.t = time.perf_counter()
        self.ms: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.ms[name] = round(self.ms.get(name, 0.0) + 1e3 * (now - self.t), 3)
        self.t = now


class Keeper:
    def __init__(self, cfg: KeeperConfig):
        self.cfg = cfg
        self.log = get_logger()
        self.rpc = Rpc(
            cfg.rpc_url, cfg.rpc_timeout, cfg.retry, cfg.jitter_seed, self.log, cfg.max_outage
        )
        self.addrs = Addresses.of(cfg.engine, cfg.vault, cfg.oracle, cfg.liquidator)
        self.reader = Reader(self.rpc, Batch(self.rpc, cfg.rpc_url, cfg.rpc_timeout), self.addrs)
        self.state = KeeperState.load(cfg.state_file)
        self.stats = Stats()
        self.sender: Sender | None = None
        self.index = AccountIndex()  # account -> chain state, kept current from the logs
        self.marks: Marks | None = None  # cash index and funding indices of the last market read
        self.market_ints: tuple | None = None
        self.market = None
        self.auctions: set[int] = set()  # accounts seen in auction
        self.dirty: set[int] = set()
        self.store: str | None = None  # RiskArrayStore (read at start)
        self.last_cycle: dict = {}  # the last cycle's record (figures and phase timings)
        self.last_reread: list[int] = []  # accounts the last cycle re-read from the chain
        self._screen: kmodel.Screen | None = None  # the last screen of the whole population
        self._candidates: set[int] = set()
        self._audit_at = 0  # rotating position of the audit slice
        self._last_scan = -1e18
        self._last_quote: dict[tuple[int, int], tuple] = {}
        self._started = False
        # transactions sent, recorded when a list is set (keeper/stepped.py, one per cycle)
        self.sent: list[Sent] | None = None

    @property
    def positions(self) -> dict[int, dict]:
        """Indexed accounts (chain ints; cash and funding owed as of their last read)."""
        return self.index.records

    # --- setup ---

    def start(self) -> None:
        if self._started:
            return
        chain_id = self.rpc.call("chain_id", lambda: self.rpc.w3.eth.chain_id)
        a = self.addrs
        contracts = {"MarginEngine": a.engine, "Vault": a.vault, "Oracle": a.oracle}
        if int(a.liquidator, 16):  # the settler runs without a Liquidator
            contracts["Liquidator"] = a.liquidator
        self.rpc.require_code(contracts)
        st = self.state
        if (st.chain_id, st.liquidator, st.account) != (
            chain_id,
            self.addrs.liquidator,
            self.cfg.account,
        ):
            if st.last_block >= 0 or st.pending:
                event(self.log, "state-mismatch", 30, note="state file is for another deployment")
            path = st.path
            self.state = KeeperState(path=path)
            self.state.last_block = self.cfg.from_block - 1
        self.state.chain_id, self.state.liquidator = chain_id, self.addrs.liquidator
        self.state.account = self.cfg.account
        self.sender = Sender(
            self.rpc,
            self.cfg.key,
            chain_id,
            self.state,
            self.log,
            self.cfg.receipt_timeout,
            self.cfg.tx_gas_cap,
        )
        store = self.reader.batch.values([self.reader.c("engine", "store")])[0]
        self.store = to_checksum_address(store)
        self.dirty |= set(self.state.accounts)
        event(
            self.log,
            "started",
            chain_id=chain_id,
            liquidator=self.addrs.liquidator,
            account=self.cfg.account,
            sender=self.sender.address,
            resume_block=self.state.last_block,
            accounts=len(self.state.accounts),
            pending=(self.state.pending or {}).get("tx"),
            tx_gas_cap=self.cfg.tx_gas_cap,
        )
        self._started = True

    # --- running ---

    def run(self) -> Stats:
        """Cycles until max_cycles / max_runtime, too many consecutive failed cycles, or an RPC
        failing for max_outage seconds in a row."""
        t0, failures = time.monotonic(), 0
        while True:
            try:
                self.start()
                self.step()
                failures = 0
            except (RpcUnavailable, CallReverted, ValueError) as exc:
                # an outage, or a read that failed mid-cycle: back off and start the cycle again
                # (the state file holds the last completed block; nothing is lost or repeated)
                failures += 1
                self.stats.failures += 1
                event(
                    self.log,
                    "cycle-failed",
                    40,
                    failures=failures,
                    error=f"{type(exc).__name__}: {str(exc)[:200]}",
                )
                if self.cfg.max_failures is not None and failures >= self.cfg.max_failures:
                    raise
                self.rpc.pause(failures)  # or the final RpcUnavailable after max_outage
                continue
            if self.cfg.max_cycles is not None and self.stats.cycles >= self.cfg.max_cycles:
                break
            if self.cfg.max_runtime is not None and time.monotonic() - t0 >= self.cfg.max_runtime:
                break
            time.sleep(self.cfg.poll_interval)
        event(self.log, "finished", **asdict(self.stats))
        return self.stats

    def step(self) -> None:
        self.start()
        resolved = self.sender.resolve_pending()
        if resolved is not None:
            self._count(resolved.status)
            kind = (resolved.action or {}).get("kind", "")
            if resolved.status == "mined" and kind.startswith("bid-"):
                self._bid_mined(resolved, kind)
        laps = _Laps()
        head = self.reader.block()
        block = head["number"]
        price_moved = self._follow_logs(block)
        laps.lap("logs")
        full = self._clock(head) - self._last_scan >= self.cfg.scan_interval
        whole = price_moved or full or self.market is None
        reread = self.last_reread = self._refresh(block, whole)
        laps.lap("read")
        audited = self._audit(block) if full else []
        laps.lap("audit")
        screen = self._screen_step(whole, reread)
        laps.lap("model")
        check = self._candidates | self.auctions | set(audited)
        check.discard(self.cfg.account)
        chain = self.reader.breakdowns(sorted(check), block) if check else {}
        laps.lap("confirm")
        if full:
            self._last_scan = self._clock(head)
            self._compare(screen, chain)
        record = dict(
            block=block,
            accounts=len(self.state.accounts),
            reread=len(reread),
            screened=len(screen.account_ids) if screen is not None else 0,
            candidates=len(self._candidates),
            checked=len(check),
            audited=len(audited),
            full_scan=full,
            price_moved=price_moved,
            liquidatable=sum(b.liquidatable for b in chain.values()),
            in_auction=sum(b.in_auction for b in chain.values()),
            ms=dict(laps.ms),
        )
        event(self.log, "cycle", **record)
        for acc in sorted(chain):
            try:
                self._act(chain[acc], head)
            except CallReverted as exc:  # the auction moved between two reads: next cycle
                event(self.log, "account-skipped", 30, account=acc, error=decode_error(exc.data))
                self.dirty.add(acc)
        laps.lap("act")
        record["ms"] = dict(laps.ms)
        self.last_cycle = record
        self.state.last_block = block
        self.state.save()
        self.stats.cycles += 1

    def _clock(self, head: dict) -> float:
        """Now on the clock `scan_interval` counts [s]: the wall's, or the head block's time."""
        return head["timestamp"] if self.cfg.scan_clock == "chain" else time.monotonic()

    # --- watching ---

    def _follow_logs(self, head: int) -> bool:
        """Processes logs up to `head`; True when a price moved."""
        price_moved = False
        start = self.state.last_block + 1
        known = set(self.state.accounts)
        while start <= head:
            end = min(head, start + LOG_CHUNK - 1)
            for lg in self.reader.logs(start, end):
                topics = [_hex(t) for t in lg["topics"]]
                if not topics:
                    continue
                t0, addr = topics[0], to_checksum_address(lg["address"])
                accs: tuple = ()
                if addr == self.addrs.vault and t0 == _OPENED:
                    acc = int(topics[1], 16)
                    if acc not in known:
                        known.add(acc)
                        self.state.accounts.append(acc)
                    self.dirty.add(acc)
                elif addr == self.addrs.oracle and t0 == _FEED_UPDATED:
                    price_moved = True
                elif addr == self.addrs.engine:
                    accs = _ENGINE_EVENTS.get(t0, ())
                elif addr == self.addrs.vault:
                    accs = _VAULT_EVENTS.get(t0, ())
                elif addr == self.addrs.liquidator:
                    accs = _LIQ_EVENTS.get(t0, ())
                for i in accs:
                    if i < len(topics):
                        self.dirty.add(int(topics[i], 16))
            start = end + 1
        return price_moved

    def _refresh(self, block: int, market_too: bool) -> list[int]:
        """Re-reads the dirty (and not yet indexed) accounts at `block`, and the market and marks
        when anything changed. Returns the accounts re-read."""
        own = {self.cfg.account} - {0}  # the settle loop has no account of its own
        followed = set(self.state.accounts) | own
        ids = sorted(i for i in followed if i in self.dirty or i not in self.index)
        if ids:
            self.index.put_all(self.reader.accounts(ids, block))
        if market_too or ids or self.marks is None:
            feeds_before = None if self.market_ints is None else set(self.market_ints[0])
            self.market_ints = self.reader.market(
                (), block, feeds=sorted(self.index.feeds()), expiries=sorted(self.index.expiries())
            )
            self.market = market_from_reader(self.market_ints)
            self.marks = self.reader.marks(sorted(self.index.perp_feeds()), block)
            if feeds_before is not None and set(self.market_ints[0]) != feeds_before:
                event(self.log, "market-feeds", feeds=sorted(self.market_ints[0]))
        self.dirty.clear()
        return ids

    def _audit(self, block: int) -> list[int]:
        """A full scan's audit: the next `audit_size` followed accounts (rotating) are re-read and
        compared with the index, and go to the chain check. The index is exact by construction;
        this catches what construction missed (a state change without an event) and repairs it."""
        ids = sorted(a for a in self.state.accounts if a != self.cfg.account)
        n = min(self.cfg.audit_size, len(ids))
        if n <= 0:
            return []
        start = self._audit_at % len(ids)
        picked = (ids[start:] + ids[:start])[:n]
        self._audit_at = start + n
        for fresh in self.reader.accounts(picked, block):
            acc = fresh["id"]
            indexed = self.index.get(acc)
            if indexed is not None and words(indexed) == words(fresh):
                continue
            self.stats.index_mismatches += 1
            event(self.log, "index-mismatch", 30, account=acc, indexed=indexed, chain=fresh)
            self.index.put(fresh)
            self._screen = None  # screen everything again with the repaired entry
        return picked

    def _accounts(self, ids) -> list:
        return kmodel.to_accounts([self.index.view(i, self.marks) for i in ids], self.market)

    def _screen_step(self, whole: bool, reread: list[int]) -> kmodel.Screen | None:
        """Screens the whole population after a price move, on a full scan or after a repair;
        only the re-read accounts otherwise (their candidacy replaces the old one); nothing when
        nothing changed (the last candidates stand)."""
        own = self.cfg.account
        if whole or self._screen is None:
            ids = [a for a in self.state.accounts if a in self.index and a != own]
            self._screen = self._model_screen(ids)
            self._candidates = set(self._screen.candidates)
            return self._screen
        ids = [a for a in reread if a != own and a in self.index]
        if not ids:
            return None
        part = self._model_screen(ids)
        self._candidates = (self._candidates - set(ids)) | set(part.candidates)
        return part

    def _model_screen(self, ids: list[int]) -> kmodel.Screen:
        if not ids:
            return kmodel.screen(self.market, [])
        return kmodel.screen_portfolios(
            self.market,
            self.index.portfolios(self.market, self.marks, ids),
            self.cfg.prefilter_tolerance,
            self.cfg.prefilter_slack,
        )

    def _compare(self, screen: kmodel.Screen | None, chain: dict[int, Breakdown]) -> None:
        flagged = self._candidates
        for acc, b in chain.items():
            if b.liquidatable and acc not in flagged and not b.in_auction:
                self.stats.prefilter_misses += 1
                figures = None
                if screen is not None and acc in screen.account_ids:
                    figures = screen.figures(acc)
                event(
                    self.log,
                    "prefilter-miss",
                    30,
                    account=acc,
                    chain_ae=b.adjusted_equity / WAD,
                    chain_mm=b.mm / WAD,
                    model=figures,
                )

    # --- acting ---

    def _count(self, status: str) -> None:
        if status == "reverted":
            self.stats.reverted += 1

    def _transact(self, action: dict, fn_name: str, *args) -> str:
        """Pre-flights and sends one liquidator call. Returns the outcome status."""
        return self._transact_sent(action, fn_name, *args).status

    def _transact_sent(self, action: dict, fn_name: str, *args) -> Sent:
        """Pre-flights and sends one liquidator call. Returns the outcome (receipt logs if mined)."""
        fn = _fn(LIQUIDATOR_ABI, fn_name)
        sent = self._submit(action, self.addrs.liquidator, fn, args)
        if sent.status == "reverted":
            event(self.log, "lost-race", 30, tx=sent.tx, **action)
        if sent.status not in ("pending", "dry-run"):
            self.dirty.add(action["account"])
        return sent

    def _estimate(self, action: dict, to: str, data: str, cap_check: bool = True) -> int | Sent:
        """eth_estimateGas of one transaction: the estimate, or the Sent outcome that stops it
        (would revert, stale price, or above the per-transaction cap: never sent). Without
        `cap_check` an estimate above the cap is returned (a refresh chunk is split instead)."""
        try:
            gas = self.sender.estimate(to, data)
        except CallReverted as exc:
            error = decode_error(exc.data)
            if action.get("account"):
                self.dirty.add(action["account"])
            if error.startswith("StalePrice"):  # SPEC §3: no liquidation on stale prices
                event(self.log, "stale-price", 30, error=error, **action)
                return Sent(None, "stale", error, action=action)
            if _over_cap_error(exc.data):  # a node that caps its estimates says so this way
                return self._over_cap(action, None, error)
            self.stats.preempted += 1
            event(self.log, "preempted", 30, error=error, **action)
            return Sent(None, "preflight-revert", error, action=action)
        if cap_check and not self.sender.fits(gas):
            return self._over_cap(action, gas)
        return gas

    def _over_cap(self, action: dict, gas: int | None, error: str = "") -> Sent:
        self.stats.over_cap += 1
        event(self.log, "over-cap", 40, gas=gas, cap=self.cfg.tx_gas_cap, error=error, **action)
        return Sent(None, "over-cap", error, action=action)

    def _submit(self, action: dict, to: str, fn: dict, args: tuple, gas: int | None = None) -> Sent:
        """Pre-flights (unless `gas`, an estimate just made, is given) and sends one call."""
        if self.state.pending:  # one transaction in flight at a time (resolved next cycle)
            event(self.log, "waiting-pending", 20, tx=self.state.pending["tx"], **action)
            return Sent(None, "pending", action=action)
        data = Call(to, fn, tuple(args)).data()
        if gas is None:
            gas = self._estimate(action, to, data)
            if isinstance(gas, Sent):
                return gas
        if self.cfg.dry_run:
            event(self.log, "dry-run", 20, gas=gas, **action)
            return Sent(None, "dry-run", action=action)
        try:
            sent = self.sender.send(action, to, data, gas)
        except OverCap:  # the sender's own guard (the estimate was checked above)
            return self._over_cap(action, gas)
        self._count(sent.status)
        if self.sent is not None:
            self.sent.append(sent)
        return sent

    # --- risk arrays: what a liquidation needs, refreshed within one oracle round ---

    def _prepare(self, accs: list[int], reason: dict) -> bool:
        """Refreshes the stale risk arrays of every series `accs` hold before a liquidation
        transaction (keeper/README.md "The cap"): per underlying, in refreshRiskArrays
        transactions whose estimate fits `refresh_gas_budget`, all for the current oracle round of
        each feed. When a round changes meanwhile the arrays stored for the old one are stale
        again and the refresh starts over (at most `refresh_attempts` rounds; then the keeper acts
        regardless, its transaction still estimated against the cap). False when a refresh could
        not be completed (a transaction pending or failed): the action waits for the next cycle."""
        by_feed = self.index.series(accs)
        if not by_feed:
            return True
        all_series = [s for ss in by_feed.values() for s in ss]
        for attempt in range(1, self.cfg.refresh_attempts + 1):
            rounds = self.reader.rounds(by_feed)
            stored = self.reader.stored_rounds(self.store, all_series)
            stale = {f: [s for s in ss if stored[s] != rounds[f]] for f, ss in by_feed.items()}
            stale = {f: ss for f, ss in stale.items() if ss}
            if not stale:
                if attempt > 1:
                    event(self.log, "arrays-current", accounts=accs, rounds=rounds, **reason)
                return True
            event(
                self.log,
                "decision",
                action="refresh",
                accounts=accs,
                attempt=attempt,
                rounds=rounds,
                stale={f: len(ss) for f, ss in stale.items()},
                **reason,
            )
            for f, ss in stale.items():
                status = self._refresh_feed(f, ss, rounds[f], {"account": accs[0], **reason})
                if status == "round-changed":
                    event(self.log, "round-changed", feed=f, round=rounds[f], accounts=accs)
                    break
                if status != "ok":
                    return False
            if self.cfg.dry_run:  # nothing was sent: the arrays stay stale
                return True
        event(self.log, "refresh-incomplete", 30, accounts=accs, attempts=attempt, **reason)
        return True

    def _refresh_feed(self, feed: int, series: list[int], round_: int, reason: dict) -> str:
        """Refreshes `series` (all on `feed`) for the oracle round observed at `round_`, in
        transactions whose estimate fits the budget: chunks are sized from a one-series estimate
        (it carries a whole expiry grid: an upper bound per series), and a chunk estimated above
        the budget is split in two; a single series estimated above the cap is never sent. Before
        each transaction the feed's round is checked: "round-changed" stops here. Returns "ok" or
        the status that stopped it."""
        fn = _fn(STORE_ABI, "refreshRiskArrays")
        budget = min(self.cfg.refresh_gas_budget, self.cfg.tx_gas_cap)
        probe = {**reason, "kind": "refresh-estimate", "feed": feed, "series": series[:1]}
        first = self._estimate(probe, self.store, Call(self.store, fn, (series[:1],)).data(), False)
        if isinstance(first, Sent):
            return first.status
        size = max(1, (budget - 21_000) // max(1, first - 21_000))
        queue = deque(series[i : i + size] for i in range(0, len(series), size))
        while queue:
            chunk = queue.popleft()
            if self.reader.rounds([feed])[feed] != round_:
                return "round-changed"
            action = {**reason, "kind": "refresh-risk-arrays", "feed": feed, "series": chunk}
            gas = self._estimate(action, self.store, Call(self.store, fn, (chunk,)).data(), False)
            if isinstance(gas, Sent):
                return gas.status
            if gas > budget and len(chunk) > 1:
                half = len(chunk) // 2
                queue.extendleft([chunk[half:], chunk[:half]])
                event(self.log, "refresh-split", 10, feed=feed, gas=gas, budget=budget,
                      size=len(chunk))  # fmt: skip
                continue
            if not self.sender.fits(gas):
                return self._over_cap(action, gas).status
            sent = self._submit(action, self.store, fn, (chunk,), gas)
            if sent.status == "dry-run":
                continue
            if sent.status != "mined":
                return sent.status
            self.stats.refreshes += 1
            self.stats.refreshed_series += len(chunk)
        return "ok"

    def _bid_mined(self, sent: Sent, kind: str) -> None:
        """Counts a mined bid by what it did (module docstring, step 6): a bid that found the
        account cured ended the auction and bought nothing; it is not retried."""
        acc = sent.action["account"]
        self.dirty |= {acc, self.cfg.account}
        outcome = bid_outcome(sent.logs, self.addrs.liquidator, acc)
        if outcome == "ended-cured":
            self.stats.ended += 1
            self.stats.bids_ended_cured += 1
            self.auctions.discard(acc)
            self._last_quote.pop((acc, sent.action.get("auction")), None)
            event(
                self.log,
                "bid-ended-auction",
                account=acc,
                auction=sent.action.get("auction"),
                tx=sent.tx,
                note="account cured when the bid executed: auction ended, nothing bought",
            )
        elif kind == "bid-solvent":
            self.stats.bids += 1
        else:
            self.stats.insolvent_bids += 1

    def _act(self, b: Breakdown, head: dict) -> None:
        acc = b.account
        if b.error:
            error = decode_error(b.error)
            name = "stale-price" if error.startswith("StalePrice") else "breakdown-error"
            event(self.log, name, 30, account=acc, kind="check", error=error)
            return
        if b.in_auction:
            self.auctions.add(acc)
        else:
            self.auctions.discard(acc)
        figures = dict(
            account=acc,
            equity=b.equity / WAD,
            adjusted_equity=b.adjusted_equity / WAD,
            im=b.im / WAD,
            mm=b.mm / WAD,
        )
        if not b.in_auction:
            if not b.liquidatable:
                return
            event(self.log, "decision", action="start", **figures)
            if not self._prepare([acc], {"for": "start"}):
                return
            status = self._transact(
                {"kind": "start", "account": acc}, "startAuction", acc, self.cfg.account
            )
            if status != "mined":
                return
            self.stats.started += 1
            self.auctions.add(acc)
            b = self.reader.breakdowns([acc])[acc]  # bid straight away if it already pays
            if b.error or not b.in_auction:
                return
        if b.cured:
            event(self.log, "decision", action="end", auction=b.auction_id, **figures)
            if (
                self._transact(
                    {"kind": "end", "account": acc, "auction": b.auction_id}, "endAuction", acc
                )
                == "mined"
            ):
                self.stats.ended += 1
                self.auctions.discard(acc)
            return
        self._bid(b, head)

    def _gas_cost(self, gas: int) -> float:
        price = self.market_ints[0].get(self.cfg.native_feed, {}).get("price", 0) / WAD
        return rules.gas_cost_usd(gas, self.sender.gas_price(), price)

    def _bid(self, b: Breakdown, head: dict) -> None:
        acc, own = b.account, self.cfg.account
        fresh = {a["id"]: a for a in self.reader.accounts([own, acc])}
        self.index.put_all(fresh.values())
        keeper_acc, victim = kmodel.to_accounts([fresh[own], fresh[acc]], self.market)
        equity, mm = b.equity / WAD, b.mm / WAD
        p = self.cfg.bid
        gas_cost = self._gas_cost(self.cfg.bid_gas_guess)
        f_wad = 0
        if b.equity > 0:
            d_wad, f_wad = self.reader.auction_terms(acc)
            d, f_max = d_wad / WAD, f_wad / WAD

            def carry(f):
                cash = -f * equity * (1 - d) - p.penalty * f * equity
                return kmodel.carry(self.market, keeper_acc, victim, f, cash)

            q = rules.quote_solvent(equity, d, f_max, gas_cost, carry, p)
            extra = dict(discount=d, max_fraction=f_max)
        else:
            bonus = self._bonus(acc, b, head)

            def carry(f):
                return kmodel.carry(self.market, keeper_acc, victim, f, -equity + bonus)

            q = rules.quote_insolvent(equity, bonus, gas_cost, carry, p)
            extra = dict(bonus=bonus, elapsed=head["timestamp"] - b.started_at)
        # a decision that did not change since the last cycle is logged at DEBUG (the auction is
        # re-quoted every cycle while the discount grows)
        seen = (q.kind, q.bid, q.reason)
        level = 10 if self._last_quote.get((acc, b.auction_id)) == seen else 20
        self._last_quote[(acc, b.auction_id)] = seen
        event(
            self.log,
            "decision",
            level,
            action=f"bid-{q.kind}",
            bid=q.bid,
            reason=q.reason,
            account=acc,
            auction=b.auction_id,
            equity=equity,
            mm=mm,
            fraction=q.fraction,
            gross=q.gross,
            gas_cost=q.gas_cost,
            risk_cost=q.risk_cost,
            profit=q.profit,
            delta_im=q.delta_im,
            guard=q.guard,
            **extra,
        )
        if not q.bid:
            return
        # the bid checks the account and the bidder: both portfolios' arrays, this round
        if not self._prepare([acc, own], {"for": f"bid-{q.kind}", "auction": b.auction_id}):
            return
        action = {"kind": f"bid-{q.kind}", "account": acc, "auction": b.auction_id,
                  "fraction": q.fraction, "guard": q.guard}  # fmt: skip
        if q.kind == "solvent":
            fraction = min(q.fraction_wad(), f_wad)  # float rounding must not exceed f_max
            args = ("bid", acc, b.auction_id, own, fraction, q.guard_wad())
        else:
            args = ("bidInsolvent", acc, b.auction_id, own, q.guard_wad())
        sent = self._transact_sent(action, *args)
        if sent.status == "mined":
            self._bid_mined(sent, action["kind"])
        self.dirty.add(own)

    def _bonus(self, acc: int, b: Breakdown, head: dict) -> float:
        """The insolvency bonus now: the liquidator's view, else the SPEC formula."""
        res = self.reader.batch.calls([self.reader.c("liquidator", "currentBonus", acc)])[0]
        if res.ok:
            return int(res.value) / WAD
        return rules.insolvent_bonus(b.mm / WAD, head["timestamp"] - b.started_at, self.cfg.bid)


def _over_cap_error(data: str) -> bool:
    """An estimate refused because the call needs more gas than the node allows a transaction."""
    text = str(data).lower()
    return "exceeds allowance" in text or "gas limit cap" in text or "tx_gas_limit_cap" in text


def run(cfg: KeeperConfig) -> Stats:
    return Keeper(cfg).run()
