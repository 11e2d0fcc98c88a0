"""The keeper's index of followed accounts, kept current from the logs instead of re-read each scan.

An account's margin inputs change in three ways, and the index follows each of them:

1. Positions, cash principal and collateral change only in transactions that emit an event naming
   the account (keeper.keeper.ACCOUNT_EVENTS: the engine's Traded, PnlRealised, OptionSettled and
   PositionsTransferred, the Vault's AccountOpened, Deposited, Withdrawn, CashMoved, CashAdjusted,
   FeeCollected, InsurancePaid and CollateralMoved). The keeper re-reads exactly those accounts,
   in JSON-RPC batches pinned to the block whose logs it processed, and `put`s them here.
2. Funding accrues with time. Funding owed is computed at each scan from each perp's entry funding
   index and the engine's `fundingIndex(feed)` (the integer formula of MarginEngine._fundingOwed).
3. A socialised loss moves the Vault's cash index. Effective cash is computed from the principal
   and `cashIndex()` (Vault._cashOf).

So `view(account, marks)` equals a full re-read at the marks' block exactly (keeper test
test_index.py), and a scan of N accounts costs a constant number of round trips (logs, market,
marks) plus one vectorised reference-model call over columns the index keeps assembled
(`portfolios`): per-account numpy blocks are built once when an account is `put`, and the
population's columns are their concatenation, rebuilt only after a change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from keel.client.chain import Marks, cash_of, funding_owed
from keel.risk import MarketState, Portfolios

WAD = 10**18


@dataclass(frozen=True)
class _Block:
    """One account's rows, converted once (floats exactly as keel.risk.chain_inputs converts)."""

    perp_feed: np.ndarray
    perp_size: np.ndarray
    perp_entry: np.ndarray
    perp_ints: tuple  # ((size, fundingIndexAtEntry), ...) chain ints, for the exact funding owed
    opt_feed: np.ndarray
    opt_strike: np.ndarray
    opt_expiry: np.ndarray
    opt_call: np.ndarray
    opt_size: np.ndarray


def _block(rec: Mapping) -> _Block:
    perps, opts = rec["perps"], rec["options"]
    return _Block(
        np.array([p["feedId"] for p in perps], np.int64),
        np.array([int(p["size"]) / WAD for p in perps], float),
        np.array([int(p["entryPrice"]) / WAD for p in perps], float),
        tuple((int(p["size"]), int(p["fundingIndexAtEntry"])) for p in perps),
        np.array([o["feedId"] for o in opts], np.int64),
        np.array([int(o["strike"]) / WAD for o in opts], float),
        np.array([o["expiry"] for o in opts], np.int64),
        np.array([bool(o["isCall"]) for o in opts], bool),
        np.array([int(o["size"]) / WAD for o in opts], float),
    )


@dataclass(frozen=True)
class _Columns:
    """The whole population's rows (account row = position in `ids`)."""

    ids: np.ndarray
    principal: list[int]
    collateral: list[dict]
    perp_row: np.ndarray
    perp_feed: np.ndarray
    perp_size: np.ndarray
    perp_entry: np.ndarray
    perp_ints: list[tuple[int, int]]
    opt_row: np.ndarray
    opt_feed: np.ndarray
    opt_strike: np.ndarray
    opt_expiry: np.ndarray
    opt_call: np.ndarray
    opt_size: np.ndarray
    feeds: tuple[int, ...]  # every feed held (perps and options)
    perp_feeds: tuple[int, ...]
    expiries: tuple[tuple[int, int], ...]  # (feed, expiry) of the options held


def _pairs(feed: np.ndarray, expiry: np.ndarray) -> tuple[tuple[int, int], ...]:
    """Distinct (feed, expiry) rows, through one int64 key (np.unique over rows is ~50× slower)."""
    if not len(feed):
        return ()
    key = np.unique(feed.astype(np.int64) << 40 | expiry.astype(np.int64))  # expiry < 2^40
    return tuple((int(k >> 40), int(k & ((1 << 40) - 1))) for k in key)


def _cat(parts: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)


class AccountIndex:
    """Raw chain state of every followed account (`keel.client.chain.Reader.accounts` records)."""

    def __init__(self) -> None:
        self.records: dict[int, dict] = {}
        self._blocks: dict[int, _Block] = {}
        self._cols: _Columns | None = None
        self._coll: tuple | None = None  # (token names, matrix) for the current columns
        self.version = 0  # bumped by every change

    def __len__(self) -> int:
        return len(self.records)

    def __contains__(self, acc: int) -> bool:
        return acc in self.records

    def get(self, acc: int) -> dict | None:
        return self.records.get(acc)

    def put(self, rec: Mapping) -> bool:
        """Stores an account read from the chain; True when it differs from what was indexed."""
        acc = int(rec["id"])
        old = self.records.get(acc)
        new = canonical(rec)
        self.records[acc] = new
        if old is not None and words(old) == words(new):
            return False  # only the derived figures (cash at the index, funding owed) moved
        self._blocks[acc] = _block(new)
        self._cols, self._coll = None, None
        self.version += 1
        return True

    def put_all(self, recs: Iterable[Mapping]) -> list[int]:
        """Stores every record; returns the ids whose state changed."""
        return [int(r["id"]) for r in recs if self.put(r)]

    # --- views ---

    def view(self, acc: int, marks: Marks | None = None) -> dict:
        """The account as `Reader.accounts` returns it at the marks' block: effective cash and
        funding owed computed from the indexed principal and entry funding indices."""
        rec = self.records[acc]
        out = {
            "id": rec["id"],
            "cashPrincipal": rec["cashPrincipal"],
            "cash": rec["cash"],
            "collateral": dict(rec["collateral"]),
            "perps": [dict(p) for p in rec["perps"]],
            "options": [dict(o) for o in rec["options"]],
        }
        if marks is not None:
            out["cash"] = cash_of(rec["cashPrincipal"], marks.cash_index)
            for p in out["perps"]:
                idx = marks.funding[p["feedId"]]
                p["fundingOwed"] = funding_owed(p["size"], p["fundingIndexAtEntry"], idx)
        return out

    def series(self, accs: Iterable[int]) -> dict[int, list[int]]:
        """{feed: sorted series ids} that the accounts hold."""
        out: dict[int, set[int]] = {}
        for acc in accs:
            for o in self.records.get(acc, {}).get("options", ()):
                out.setdefault(int(o["feedId"]), set()).add(int(o["seriesId"]))
        return {f: sorted(s) for f, s in sorted(out.items())}

    def feeds(self) -> set[int]:
        """Feeds of every perp and option held."""
        return set(self._columns().feeds)

    def perp_feeds(self) -> set[int]:
        return set(self._columns().perp_feeds)

    def expiries(self) -> set[tuple[int, int]]:
        """(feed, expiry) pairs of the options held (the settlement prices a scan reads)."""
        return set(self._columns().expiries)

    # --- the model's input ---

    def portfolios(
        self, market: MarketState, marks: Marks, ids: Iterable[int] | None = None
    ) -> Portfolios:
        """Columnar portfolios of the indexed accounts (all, or `ids` in that order) at `marks`."""
        c = self._columns()
        cash = np.array([cash_of(p, marks.cash_index) / WAD for p in c.principal], float)
        funding = np.array(
            [
                funding_owed(q, at_entry, marks.funding[int(f)]) / WAD
                for (q, at_entry), f in zip(c.perp_ints, c.perp_feed, strict=True)
            ],
            float,
        )
        p = Portfolios(
            account_ids=c.ids,
            cash=cash,
            collateral=self._collateral(market),
            perp_account=c.perp_row,
            perp_feed=c.perp_feed,
            perp_size=c.perp_size,
            perp_entry=c.perp_entry,
            perp_funding_owed=funding,
            opt_account=c.opt_row,
            opt_feed=c.opt_feed,
            opt_strike=c.opt_strike,
            opt_expiry=c.opt_expiry,
            opt_is_call=c.opt_call,
            opt_size=c.opt_size,
        )
        if ids is None:
            return p
        row = {int(a): i for i, a in enumerate(c.ids)}
        return p.subset([row[int(a)] for a in ids])

    def _columns(self) -> _Columns:
        if self._cols is not None:
            return self._cols
        ids = sorted(self.records)
        blocks = [self._blocks[a] for a in ids]
        n_perp = np.array([len(b.perp_feed) for b in blocks], np.int64)
        n_opt = np.array([len(b.opt_feed) for b in blocks], np.int64)
        rows = np.arange(len(ids), dtype=np.int64)
        perp_feed = _cat([b.perp_feed for b in blocks], np.int64)
        opt_feed = _cat([b.opt_feed for b in blocks], np.int64)
        opt_expiry = _cat([b.opt_expiry for b in blocks], np.int64)
        self._cols = _Columns(
            ids=np.array(ids, np.int64),
            principal=[self.records[a]["cashPrincipal"] for a in ids],
            collateral=[self.records[a]["collateral"] for a in ids],
            perp_row=np.repeat(rows, n_perp),
            perp_feed=perp_feed,
            perp_size=_cat([b.perp_size for b in blocks], float),
            perp_entry=_cat([b.perp_entry for b in blocks], float),
            perp_ints=[x for b in blocks for x in b.perp_ints],
            opt_row=np.repeat(rows, n_opt),
            opt_feed=opt_feed,
            opt_strike=_cat([b.opt_strike for b in blocks], float),
            opt_expiry=opt_expiry,
            opt_call=_cat([b.opt_call for b in blocks], bool),
            opt_size=_cat([b.opt_size for b in blocks], float),
            feeds=tuple(int(f) for f in np.unique(np.concatenate([perp_feed, opt_feed]))),
            perp_feeds=tuple(int(f) for f in np.unique(perp_feed)),
            expiries=_pairs(opt_feed, opt_expiry),
        )
        return self._cols

    def _collateral(self, market: MarketState) -> np.ndarray:
        """(N, T) whole tokens in market.tokens order (cached with the columns)."""
        names = tuple(t.name for t in market.tokens)
        if self._coll is not None and self._coll[0] == names:
            return self._coll[1]
        c = self._columns()
        col = {t.name: i for i, t in enumerate(market.tokens)}
        scale = [10**t.decimals for t in market.tokens]
        out = np.zeros((len(c.ids), len(names)))
        for row, held in enumerate(c.collateral):
            for token, units in held.items():
                i = col[str(token)]  # KeyError: a token the market does not list
                out[row, i] = int(units) / scale[i]
        self._coll = (names, out)
        return out


def words(rec: Mapping) -> dict:
    """What the chain stores for an account (what only events change), without the figures
    derived from the marks (effective cash, funding owed)."""
    out = dict(canonical(rec))
    out.pop("cash")
    out["perps"] = [{k: v for k, v in p.items() if k != "fundingOwed"} for p in out["perps"]]
    return out


def canonical(rec: Mapping) -> dict:
    """An account record in one canonical form (ints, collateral by token, perps by feed, options
    by series id: the chain's slot order changes when a position is closed), so that two reads of
    the same state compare equal."""
    return {
        "id": int(rec["id"]),
        "cashPrincipal": int(rec["cashPrincipal"]),
        "cash": int(rec["cash"]),
        "collateral": {str(t): int(a) for t, a in sorted(rec["collateral"].items())},
        "perps": sorted(
            (
                {
                    "feedId": int(p["feedId"]),
                    "size": int(p["size"]),
                    "entryPrice": int(p["entryPrice"]),
                    "fundingIndexAtEntry": int(p["fundingIndexAtEntry"]),
                    "fundingOwed": int(p["fundingOwed"]),
                }
                for p in rec["perps"]
            ),
            key=lambda p: p["feedId"],
        ),
        "options": sorted(
            (
                {
                    "feedId": int(o["feedId"]),
                    "expiry": int(o["expiry"]),
                    "isCall": bool(o["isCall"]),
                    "strike": int(o["strike"]),
                    "size": int(o["size"]),
                    "seriesId": int(o["seriesId"]),
                }
                for o in rec["options"]
            ),
            key=lambda o: o["seriesId"],
        ),
    }
