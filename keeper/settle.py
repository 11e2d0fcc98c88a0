"""`keel-keeper settle`: the housekeeping loop next to the liquidation keeper.

Each cycle (same watcher, index, batched reader, exactly-once sender and state file as the keeper):
  - settles every followed account's position in an expired series whose settlement price the
    oracle has fixed (`MarginEngine.settle`, anyone may call it; SPEC §4);
  - after an oracle round, refreshes the stored risk arrays of the live series that accounts hold
    (`RiskArrayStore.refreshRiskArrays`), so that margin checks read them from storage instead of
    recomputing them (DESIGN.md, the SPAN "risk array" idea): per underlying, in transactions
    whose estimate fits `refresh_gas_budget` (half the EIP-7825 cap by default), and none whose
    estimate exceeds the cap (`Keeper._refresh_feed`).
Run it with its own key (two processes sharing one key would race for nonces) and state file.
"""

from __future__ import annotations

from keel.client.chain import ENGINE_ABI, _fn
from keel.client.logs import event

from .keeper import Keeper


class Settler(Keeper):
    """Reuses the keeper's watcher, index, reader and sender; only the actions differ."""

    def step(self) -> None:
        self.start()
        self.sender.resolve_pending()
        head = self.reader.block()
        block = head["number"]
        price_moved = self._follow_logs(block)
        full = self.market is None
        self._refresh(block, price_moved or full)
        self._settle_expired(head)
        if price_moved or full:
            self._refresh_arrays()
        self.state.last_block = block
        self.state.save()
        self.stats.cycles += 1

    def _settle_expired(self, head: dict) -> None:
        due = [
            (acc, o)
            for acc, pos in sorted(self.index.records.items())
            for o in pos["options"]
            if o["expiry"] <= head["timestamp"]
        ]
        if not due:
            return
        fixed = self.reader.batch.values(
            [self.reader.c("oracle", "settlementPrice", o["feedId"], o["expiry"]) for _, o in due]
        )
        settle = _fn(ENGINE_ABI, "settle")
        for (acc, o), price in zip(due, fixed, strict=True):
            action = {"kind": "settle", "account": acc, "series": o["seriesId"]}
            if not price:
                event(self.log, "settle-waiting", 10, note="price not fixed yet", **action)
                continue
            event(self.log, "decision", action="settle", price=price, size=o["size"], **action)
            status = self._submit(action, self.addrs.engine, settle, (acc, o["seriesId"])).status
            self.dirty.add(acc)
            if status == "mined":
                self.stats.ended += 1  # counts settlements in this loop's summary

    def _refresh_arrays(self) -> None:
        feeds = self.market_ints[0] if self.market_ints else {}
        live: dict[int, set[int]] = {}
        for pos in self.index.records.values():
            for o in pos["options"]:
                f = o["feedId"]
                if f in feeds and o["expiry"] > feeds[f]["observedAt"]:
                    live.setdefault(f, set()).add(o["seriesId"])
        if not live:
            return
        stored = self.reader.stored_rounds(self.store, [s for ss in live.values() for s in ss])
        for f in sorted(live):
            round_ = feeds[f]["observedAt"]
            stale = sorted(s for s in live[f] if stored[s] != round_)
            if not stale:
                continue
            event(self.log, "decision", action="refresh", feed=f, count=len(stale), series=stale)
            status = self._refresh_feed(f, stale, round_, {"account": 0})
            if status != "ok":
                event(self.log, "refresh-stopped", 20, feed=f, status=status)
