"""`keel-keeper settle`: the housekeeping loop next to the liquidation keeper.

Each cycle (same watcher, batched reader, exactly-once sender and state file as the keeper):
  - settles every followed account's position in an expired series whose settlement price the
    oracle has fixed (`MarginEngine.settle`, anyone may call it; SPEC §4);
  - after an oracle round, refreshes the stored risk arrays of the live series that accounts hold
    (`RiskArrayStore.refreshRiskArrays`, in chunks), so that margin checks read them from storage
    instead of recomputing them (DESIGN.md, the SPAN "risk array" idea).
Run it with its own key (two processes sharing one key would race for nonces) and state file.
"""

from __future__ import annotations

from oracle.logs import event

from .abi import ENGINE_ABI, STORE_ABI
from .chain import Call, CallReverted, _fn
from .keeper import Keeper

REFRESH_CHUNK = 20  # series per refreshRiskArrays transaction


class Settler(Keeper):
    """Reuses the keeper's watcher, reader and sender; only the actions differ."""

    def start(self) -> None:
        super().start()
        if not hasattr(self, "store"):
            store = self.reader.batch.values([self.reader.c("engine", "store")])[0]
            self.store = self.rpc.w3.to_checksum_address(store)

    def step(self) -> None:
        self.start()
        self.sender.resolve_pending()
        head = self.reader.block()
        block = head["number"]
        price_moved = self._follow_logs(block)
        full = self.market is None
        if full:
            self.dirty |= set(self.state.accounts)
        self._refresh(block, price_moved or full)
        self._settle_expired(head)
        if price_moved or full:
            self._refresh_arrays()
        self.state.last_block = block
        self.state.save()
        self.stats.cycles += 1

    def _send(self, action: dict, to: str, fn: dict, *args) -> str:
        if self.state.pending:  # one transaction in flight at a time (resolved next cycle)
            event(self.log, "waiting-pending", 20, tx=self.state.pending["tx"], **action)
            return "pending"
        data = Call(to, fn, tuple(args)).data()
        try:
            gas = self.sender.estimate(to, data)
        except CallReverted as exc:
            from .abi import decode_error

            event(self.log, "preempted", 30, error=decode_error(exc.data), **action)
            return "preflight-revert"
        return self.sender.send(action, to, data, gas).status

    def _settle_expired(self, head: dict) -> None:
        due = [
            (acc, o)
            for acc, pos in sorted(self.positions.items())
            for o in pos["options"]
            if o["expiry"] <= head["timestamp"]
        ]
        if not due:
            return
        fixed = self.reader.batch.values(
            [self.reader.c("oracle", "settlementPrice", o["feedId"], o["expiry"]) for _, o in due]
        )
        for (acc, o), price in zip(due, fixed, strict=True):
            action = {"kind": "settle", "account": acc, "series": o["seriesId"]}
            if not price:
                event(self.log, "settle-waiting", 10, note="price not fixed yet", **action)
                continue
            event(self.log, "decision", action="settle", price=price, size=o["size"], **action)
            status = self._send(
                action, self.addrs.engine, _fn(ENGINE_ABI, "settle"), acc, o["seriesId"]
            )
            self.dirty.add(acc)
            if status == "mined":
                self.stats.ended += 1  # counts settlements in this loop's summary

    def _refresh_arrays(self) -> None:
        feeds = self.market_ints[0] if self.market_ints else {}
        live = sorted(
            {
                o["seriesId"]
                for pos in self.positions.values()
                for o in pos["options"]
                if o["feedId"] in feeds and o["expiry"] > feeds[o["feedId"]]["observedAt"]
            }
        )
        if not live:
            return
        stored = self.reader.batch.values(
            [Call(self.store, _fn(STORE_ABI, "storedRiskArray"), (s,)) for s in live]
        )
        by_series = {
            o["seriesId"]: o["feedId"] for p in self.positions.values() for o in p["options"]
        }
        stale = [
            s
            for s, (observed_at, _) in zip(live, stored, strict=True)
            if observed_at != feeds[by_series[s]]["observedAt"]
        ]
        # refreshRiskArrays reads one feed at a time: keep each feed's series together
        stale.sort(key=lambda s: by_series[s])
        for i in range(0, len(stale), REFRESH_CHUNK):
            chunk = stale[i : i + REFRESH_CHUNK]
            action = {"kind": "refresh-risk-arrays", "account": 0, "series": chunk}
            event(self.log, "decision", action="refresh", count=len(chunk), series=chunk)
            self._send(action, self.store, _fn(STORE_ABI, "refreshRiskArrays"), chunk)
