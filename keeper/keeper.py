"""The liquidation keeper: follow accounts, pre-filter with the reference model, act on the chain.

One cycle (`Keeper.step`):
  1. resolve a transaction left pending by an earlier cycle or process (never sent twice);
  2. read the logs since the last processed block: AccountOpened adds an account to the followed
     population; Traded, Deposited, Withdrawn, PnlRealised, OptionSettled and every auction event
     mark their accounts dirty; FeedUpdated marks the market dirty;
  3. re-read the positions of dirty accounts (batched), and the market when it moved;
  4. pre-filter: the reference model recomputes every followed account's margin from the cached
     positions and market and names the candidates (model AE < MM·(1 + tolerance));
  5. ask the chain (one batch of marginBreakdown + auction) about the candidates, the accounts in
     auction, and, every `scan_interval` seconds, about every followed account (a full scan; where
     the model disagreed with the chain it is logged as `prefilter-miss`);
  6. act on what the chain said: start auctions (AE < MM), end cured ones (AE >= IM), and bid when
     the rule of keeper.rules says the discount pays (keeper.model.carry sizes what the keeper's
     own account can carry). Every transaction is pre-flighted with eth_estimateGas: one that would
     revert (another keeper got there first, the auction moved) is logged and skipped, and the
     account is re-read next cycle; a mined-but-reverted one is logged as a lost race. A bid that
     reaches an account cured after the quote (the market recovered, the owner deposited) does not
     revert: the liquidator ends the auction and sells nothing (SPEC §7 [v2]). The keeper reads
     that from the receipt (AuctionEnded(cured) without a SolventBid/InsolventBid), logs
     `bid-ended-auction`, counts an ended auction (not a bid) and forgets the auction: nothing is
     retried, the next cycle finds the account out of auction.
The last processed block, the followed accounts and the pending transaction are in the state file,
written atomically after each step and before each transaction leaves the process.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from eth_utils import to_checksum_address

from oracle.logs import event
from oracle.relayer import RetryPolicy, Rpc, RpcUnavailable

from . import model as kmodel
from . import rules
from .abi import ENGINE_ABI, LIQUIDATOR_ABI, ORACLE_ABI, VAULT_ABI, decode_error, topic
from .chain import Addresses, Batch, Breakdown, Call, CallReverted, Log, Reader, Sender, Sent, _fn
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
    max_cycles: int | None = None  # stop after this many cycles (tests, --once)
    max_runtime: float | None = None  # [s] stop after this long
    bid_gas_guess: int = 2_000_000  # gas assumed when quoting, before the pre-flight estimate
    jitter_seed: int | None = None


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
        if path is None or not Path(path).exists():
            return cls(path=str(path) if path else None)
        data = json.loads(Path(path).read_text())
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"{path}: unsupported keeper state version {data.get('version')}")
        data["path"] = str(path)
        return cls(**data)

    def save(self) -> None:
        """Atomic write (temp file, fsync, rename): a kill -9 leaves the old or the new file."""
        if not self.path:
            return
        path = Path(self.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        data = asdict(self)
        data.pop("path")
        with open(tmp, "w") as fh:
            json.dump(data, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)


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


# events -> which topics carry account ids
_ENGINE_EVENTS = {
    topic(ENGINE_ABI, "Traded"): (2, 3),
    topic(ENGINE_ABI, "PnlRealised"): (1,),
    topic(ENGINE_ABI, "OptionSettled"): (1,),
    topic(ENGINE_ABI, "PositionsTransferred"): (1, 2),
}
_VAULT_EVENTS = {
    topic(VAULT_ABI, "Deposited"): (1,),
    topic(VAULT_ABI, "Withdrawn"): (1,),
}
_OPENED = topic(VAULT_ABI, "AccountOpened")
_FEED_UPDATED = topic(ORACLE_ABI, "FeedUpdated")
_LIQ_EVENTS = {
    topic(LIQUIDATOR_ABI, "AuctionStarted"): (1,),
    topic(LIQUIDATOR_ABI, "AuctionEnded"): (1,),
    topic(LIQUIDATOR_ABI, "SolventBid"): (1, 3),
    topic(LIQUIDATOR_ABI, "InsolventBid"): (1, 3),
}


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


class Keeper:
    def __init__(self, cfg: KeeperConfig):
        self.cfg = cfg
        self.log = get_logger()
        self.rpc = Rpc(cfg.rpc_url, cfg.rpc_timeout, cfg.retry, cfg.jitter_seed, self.log)
        self.addrs = Addresses.of(cfg.engine, cfg.vault, cfg.oracle, cfg.liquidator)
        self.reader = Reader(self.rpc, Batch(self.rpc, cfg.rpc_url, cfg.rpc_timeout), self.addrs)
        self.state = KeeperState.load(cfg.state_file)
        self.stats = Stats()
        self.sender: Sender | None = None
        self.positions: dict[int, dict] = {}  # account -> chain-int positions (cached)
        self.market_ints: tuple | None = None
        self.market = None
        self.auctions: set[int] = set()  # accounts seen in auction
        self.dirty: set[int] = set()
        self._last_scan = -1e18
        self._last_quote: dict[tuple[int, int], tuple] = {}
        self._started = False

    # --- setup ---

    def start(self) -> None:
        if self._started:
            return
        chain_id = self.rpc.call("chain_id", lambda: self.rpc.w3.eth.chain_id)
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
            self.rpc, self.cfg.key, chain_id, self.state, self.log, self.cfg.receipt_timeout
        )
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
        )
        self._started = True

    # --- running ---

    def run(self) -> Stats:
        """Cycles until max_cycles / max_runtime, or too many consecutive RPC failures."""
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
                time.sleep(self.cfg.retry.delay(min(failures, 6), self.rpc.rng))
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
        head = self.reader.block()
        block = head["number"]
        price_moved = self._follow_logs(block)
        full = time.monotonic() - self._last_scan >= self.cfg.scan_interval
        if full:
            self.dirty |= set(self.state.accounts)
        self._refresh(block, price_moved or full or self.market is None)
        screen = self._screen()
        check = set(screen.candidates) | self.auctions
        if full:
            check |= set(self.state.accounts)
        check.discard(self.cfg.account)
        chain = self.reader.breakdowns(sorted(check), block) if check else {}
        if full:
            self._last_scan = time.monotonic()
            self._compare(screen, chain)
        event(
            self.log,
            "cycle",
            block=block,
            accounts=len(self.state.accounts),
            candidates=len(screen.candidates),
            checked=len(check),
            full_scan=full,
            price_moved=price_moved,
            liquidatable=sum(b.liquidatable for b in chain.values()),
            in_auction=sum(b.in_auction for b in chain.values()),
        )
        for acc in sorted(chain):
            try:
                self._act(chain[acc], head)
            except CallReverted as exc:  # the auction moved between two reads: next cycle
                event(self.log, "account-skipped", 30, account=acc, error=decode_error(exc.data))
                self.dirty.add(acc)
        self.state.last_block = block
        self.state.save()
        self.stats.cycles += 1

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

    def _refresh(self, block: int, market_too: bool) -> None:
        own = {self.cfg.account} - {0}  # the settle loop has no account of its own
        ids = sorted((self.dirty | own) & (set(self.state.accounts) | own))
        ids = [i for i in ids if i in self.dirty or i not in self.positions]
        if ids:
            for acc in self.reader.accounts(ids, block):
                self.positions[acc["id"]] = acc
        if market_too or ids:
            feeds_before = None if self.market_ints is None else set(self.market_ints[0])
            self.market_ints = self.reader.market(list(self.positions.values()), block)
            self.market = kmodel.market_state(self.market_ints)
            if feeds_before is not None and set(self.market_ints[0]) != feeds_before:
                event(self.log, "market-feeds", feeds=sorted(self.market_ints[0]))
        self.dirty.clear()

    def _accounts(self, ids) -> list:
        return kmodel.to_accounts([self.positions[i] for i in ids], self.market)

    def _screen(self) -> kmodel.Screen:
        ids = [a for a in self.state.accounts if a in self.positions and a != self.cfg.account]
        return kmodel.screen(
            self.market,
            self._accounts(ids),
            self.cfg.prefilter_tolerance,
            self.cfg.prefilter_slack,
        )

    def _compare(self, screen: kmodel.Screen, chain: dict[int, Breakdown]) -> None:
        flagged = set(screen.candidates)
        for acc, b in chain.items():
            if b.liquidatable and acc not in flagged and not b.in_auction:
                self.stats.prefilter_misses += 1
                event(
                    self.log,
                    "prefilter-miss",
                    30,
                    account=acc,
                    chain_ae=b.adjusted_equity / WAD,
                    chain_mm=b.mm / WAD,
                    model=screen.figures(acc) if acc in screen.account_ids else None,
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
        if self.state.pending:  # one transaction in flight at a time (resolved next cycle)
            event(self.log, "waiting-pending", 20, tx=self.state.pending["tx"], **action)
            return Sent(None, "pending", action=action)
        call = Call(self.addrs.liquidator, _fn(LIQUIDATOR_ABI, fn_name), tuple(args))
        data = call.data()
        try:
            gas = self.sender.estimate(self.addrs.liquidator, data)
        except CallReverted as exc:
            error = decode_error(exc.data)
            self.dirty.add(action["account"])
            if error.startswith("StalePrice"):  # SPEC §3: no liquidation on stale prices
                event(self.log, "stale-price", 30, error=error, **action)
                return Sent(None, "stale", error, action=action)
            self.stats.preempted += 1
            event(self.log, "preempted", 30, error=error, **action)
            return Sent(None, "preflight-revert", error, action=action)
        sent = self.sender.send(action, self.addrs.liquidator, data, gas)
        self._count(sent.status)
        if sent.status == "reverted":
            event(self.log, "lost-race", 30, tx=sent.tx, **action)
        self.dirty.add(action["account"])
        return sent

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
        self.positions.update(fresh)
        keeper_acc, victim = self._accounts([own, acc])
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


def run(cfg: KeeperConfig) -> Stats:
    return Keeper(cfg).run()
