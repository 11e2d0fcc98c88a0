"""The chain as every Keel process sees it: batched reads, logs, transactions sent exactly once.

(The keepers', the SDK's and the simulation's; the relayer shares its Rpc and state format.)

Reads. `Batch` sends many `eth_call`s as one JSON-RPC batch (one HTTP round trip), each pinned to
one block, and returns per call either its decoded result or its revert data: one reverting view
(e.g. `marginBreakdown` of an account on a stale feed) never hides the others. `Reader` builds on it:
an account's positions in three round trips for any number of accounts (cash principals, held
tokens and underlyings; collateral, perps and series lists; series and option sizes), the market
(feeds, listed tokens, engine parameters; the static parts cached), the marks that move without an
account event (the Vault's cash index, each perp's funding index: `Marks`), margin breakdowns,
auction states and stored risk-array rounds. An account's effective cash and funding owed are
computed from its principal and entry funding index with the contracts' own integer formulas
(`cash_of`, `funding_owed`), so they equal `cashOf` / `fundingOwed` at the same block exactly.

Gas cap. Since Osaka a transaction above 16,777,216 gas is invalid (EIP-7825), and a node rejects
one whose gas *limit* exceeds it, while eth_estimateGas happily returns more. `Sender` never signs a
transaction whose estimate exceeds its cap (`OverCap`; an estimate must leave 1%, at least 10,000
gas, of headroom below the cap: the transaction runs in a later block than its estimate) and clamps
the safety margin on the limit to the cap.

Transactions. `Sender` signs with the nonce the chain reports ('pending'), writes the signed bytes
to the state file before they leave the process (write-ahead, as the oracle relayer does), sends,
and waits a bounded time for the receipt. A transaction recorded by a previous process is resolved
first (receipt; or its nonce consumed by another transaction; or re-broadcast byte for byte only if
an eth_call of it still succeeds), so a kill -9 at any point never leads to a second transaction for
the same action.

Every RPC goes through `keel.client.rpc.Rpc` (bounded exponential backoff with jitter on transport
errors, timeouts, 5xx and garbled responses).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import function_abi_to_4byte_selector, to_checksum_address
from eth_utils.abi import collapse_if_tuple
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    Web3RPCError,
)

from keel.abi import describe_revert, load
from keel.chain import TX_GAS_CAP
from keel.client.logs import event
from keel.client.rpc import Rpc

# the compiled contracts' ABIs (keel.abi: the one ABI source)
ENGINE_ABI = load("MarginEngine")
STORE_ABI = load("RiskArrayStore")
VAULT_ABI = load("Vault")
ORACLE_ABI = load("Oracle")
LIQUIDATOR_ABI = load("Liquidator")

WAD = 10**18
MIN_HEADROOM = 10_000  # [gas] a limit leaves above the estimate, at least (Sender.headroom)
# [s] a receipt missing this long after the sender's nonce moved past its transaction: dropped or
# replaced. anvil advances the nonce before it stores the block's receipts (keel/brownie_fix.py:
# milliseconds, more under load); the bound is paid only by transactions really dropped.
RECEIPT_LAG_BOUND = 10.0


class KeeperError(Exception):
    """Base of the keeper's typed exceptions."""


class OverCap(KeeperError):
    """A transaction's gas estimate (with its headroom) exceeds the per-transaction cap: it must
    not be sent."""

    def __init__(self, gas: int, cap: int):
        super().__init__(f"estimated gas {gas:,} (+ headroom) exceeds the transaction cap {cap:,}")
        self.gas, self.cap = gas, cap


def cash_of(principal: int, index: int) -> int:
    """Vault._cashOf: effective cash of a stored word (principal · index rounded down, or the
    debt as is)."""
    return principal if principal <= 0 else principal * index // WAD


def funding_owed(size: int, index_at_entry: int, index: int) -> int:
    """MarginEngine._fundingOwed: −floor(−q·(idx − idx_entry) / 1e18), rounded against the account."""
    return -((-size * (index - index_at_entry)) // WAD)


@dataclass(frozen=True)
class Marks:
    """What moves an account's margin inputs without an event naming the account, at one block:
    the Vault's cash index (loss socialisation) and each perp's funding index accrued to then."""

    block: int | str
    cash_index: int
    funding: dict[int, int]


class CallReverted(KeeperError):
    def __init__(self, what: str, data: str):
        super().__init__(f"{what} reverted: {data[:74]}")
        self.data = data


def _types(params: Sequence[dict]) -> list[str]:
    return [collapse_if_tuple(p) for p in params]


@dataclass(frozen=True)
class Call:
    """One view call: contract address, ABI entry, arguments."""

    to: str
    fn: dict
    args: tuple = ()

    def data(self) -> str:
        sel = function_abi_to_4byte_selector(self.fn)
        return "0x" + (sel + abi_encode(_types(self.fn["inputs"]), list(self.args))).hex()

    def decode(self, raw: str) -> Any:
        out = abi_decode(_types(self.fn["outputs"]), bytes.fromhex(raw.removeprefix("0x")))
        return out[0] if len(out) == 1 else out


@dataclass(frozen=True)
class Result:
    ok: bool
    value: Any = None
    error: str = ""  # revert data (hex) or RPC error message


class Batch:
    """JSON-RPC batches of eth_call, chunked, retried as a whole on transport errors."""

    def __init__(self, rpc: Rpc, url: str, timeout: float, chunk: int = 200):
        self.rpc, self.url, self.timeout, self.chunk = rpc, url, timeout, chunk
        self.session = requests.Session()
        self._ids = itertools.count(1)

    def _post(self, payload: list[dict]) -> list[dict]:
        resp = self.session.post(self.url, json=payload, timeout=self.timeout)
        resp.raise_for_status()
        body = resp.json()
        if not isinstance(body, list):  # some nodes answer a whole-batch error with one object
            raise requests.ConnectionError(f"batch refused: {str(body)[:200]}")
        return body

    def calls(self, calls: Sequence[Call], block: int | str = "latest") -> list[Result]:
        tag = hex(block) if isinstance(block, int) else block
        out: list[Result] = []
        for start in range(0, len(calls), self.chunk):
            part = calls[start : start + self.chunk]
            ids = [next(self._ids) for _ in part]
            payload = [
                {
                    "jsonrpc": "2.0",
                    "id": i,
                    "method": "eth_call",
                    "params": [{"to": c.to, "data": c.data()}, tag],
                }
                for i, c in zip(ids, part, strict=True)
            ]
            body = self.rpc.call(f"batch[{len(part)}]", lambda p=payload: self._post(p))
            by_id = {r.get("id"): r for r in body}
            for i, c in zip(ids, part, strict=True):
                r = by_id.get(i, {"error": {"message": "missing from batch response"}})
                if "result" in r:
                    try:
                        out.append(Result(True, c.decode(r["result"])))
                    except Exception as exc:  # noqa: BLE001 - e.g. no code at the address
                        out.append(Result(False, error=f"undecodable: {type(exc).__name__}"))
                else:
                    err = r.get("error") or {}
                    out.append(Result(False, error=str(err.get("data") or err.get("message"))))
        return out

    def values(self, calls: Sequence[Call], block: int | str = "latest") -> list[Any]:
        """Decoded results; raises CallReverted on the first failed call."""
        res = self.calls(calls, block)
        for c, r in zip(calls, res, strict=True):
            if not r.ok:
                raise CallReverted(f"{c.fn['name']}{c.args}", r.error)
        return [r.value for r in res]


def _fn(contract_abi: list[dict], name: str) -> dict:
    return next(e for e in contract_abi if e.get("name") == name and e["type"] == "function")


@dataclass(frozen=True)
class Addresses:
    engine: str
    vault: str
    oracle: str
    liquidator: str

    @staticmethod
    def of(engine: str, vault: str, oracle: str, liquidator: str) -> Addresses:
        return Addresses(*(to_checksum_address(a) for a in (engine, vault, oracle, liquidator)))


@dataclass(frozen=True)
class Breakdown:
    """The chain's margin figures of an account (wad ints) and its auction state."""

    account: int
    equity: int
    adjusted_equity: int
    im: int
    mm: int
    in_auction: bool
    auction_id: int = 0
    started_at: int = 0
    error: str = ""  # marginBreakdown reverted (e.g. StalePrice): figures are zero

    @property
    def liquidatable(self) -> bool:
        return not self.error and self.adjusted_equity < self.mm

    @property
    def cured(self) -> bool:
        return not self.error and self.adjusted_equity >= self.im


class Reader:
    """Batched reads of accounts, market and auctions (see the module docstring)."""

    def __init__(self, rpc: Rpc, batch: Batch, addrs: Addresses):
        self.rpc, self.batch, self.a = rpc, batch, addrs
        self._series: dict[int, tuple] = {}
        self._tokens: list[dict] | None = None
        self._static: tuple | None = None
        self._store: str | None = None  # the engine's RiskArrayStore (series terms), read once

    def c(self, which: str, name: str, *args) -> Call:
        contract_abi = {
            "engine": ENGINE_ABI,
            "store": STORE_ABI,
            "vault": VAULT_ABI,
            "oracle": ORACLE_ABI,
            "liquidator": LIQUIDATOR_ABI,
        }[which]
        if which == "store":
            if self._store is None:
                (store,) = self.batch.values([self.c("engine", "store")])
                self._store = to_checksum_address(store)
            return Call(self._store, _fn(contract_abi, name), tuple(args))
        return Call(getattr(self.a, which), _fn(contract_abi, name), tuple(args))

    # --- chain basics ---

    def block(self) -> dict:
        b = self.rpc.call("get_block", lambda: self.rpc.w3.eth.get_block("latest"))
        return {"number": int(b["number"]), "timestamp": int(b["timestamp"])}

    # --- positions (shapes of keel.risk.chain_inputs) ---

    def accounts(self, ids: Sequence[int], block: int | str = "latest") -> list[dict]:
        """Every account's state at `block`, shaped as keel.risk.chain_inputs expects, with the raw
        words the index keeps: {"id", "cashPrincipal", "cash", "collateral": {token: units},
        "perps": [{"feedId", "size", "entryPrice", "fundingIndexAtEntry", "fundingOwed"}],
        "options": [{"feedId", "expiry", "isCall", "strike", "size", "seriesId"}]} (chain ints;
        zero balances and positions left out)."""
        ids = [int(i) for i in ids]
        if not ids:
            return []
        first = self.batch.values(
            [self.c("vault", "cashIndex")]
            + [self.c("vault", "cashPrincipal", i) for i in ids]
            + [self.c("vault", "accountAssets", i) for i in ids]
            + [self.c("engine", "accountUnderlyings", i) for i in ids],
            block,
        )
        n = len(ids)
        cash_index = int(first[0])
        principal, assets, unders = first[1 : n + 1], first[n + 1 : 2 * n + 1], first[2 * n + 1 :]
        feeds = sorted({int(f) for u in unders for f in u})
        calls, keys = [self.c("engine", "fundingIndex", f) for f in feeds], []
        for i, acc in enumerate(ids):
            for tok in assets[i]:
                calls.append(self.c("vault", "collateralBalance", acc, tok))
                keys.append(("col", i, tok))
            for f in unders[i]:
                calls += [
                    self.c("engine", "perpPosition", acc, f),
                    self.c("engine", "accountSeries", acc, f),
                ]
                keys += [("perp", i, f), ("series", i, f)]
        second = self.batch.values(calls, block)
        funding = dict(zip(feeds, (int(v) for v in second[: len(feeds)]), strict=True))
        out = [
            {
                "id": acc,
                "cashPrincipal": int(principal[i]),
                "cash": cash_of(int(principal[i]), cash_index),
                "collateral": {},
                "perps": [],
                "options": [],
            }
            for i, acc in enumerate(ids)
        ]
        series_of = []
        for (kind, i, k), v in zip(keys, second[len(feeds) :], strict=True):
            if kind == "col" and v:
                out[i]["collateral"][to_checksum_address(k)] = int(v)
            elif kind == "perp" and v[0]:
                size, entry, at_entry = (int(x) for x in v)
                out[i]["perps"].append(
                    {
                        "feedId": int(k),
                        "size": size,
                        "entryPrice": entry,
                        "fundingIndexAtEntry": at_entry,
                        "fundingOwed": funding_owed(size, at_entry, funding[int(k)]),
                    }
                )
            elif kind == "series":
                series_of += [(i, int(s)) for s in v]
        unknown = sorted({s for _, s in series_of} - set(self._series))
        third = self.batch.values(
            [self.c("store", "series", s) for s in unknown]
            + [self.c("engine", "optionPosition", ids[i], s) for i, s in series_of],
            block,
        )
        for s, v in zip(unknown, third[: len(unknown)], strict=True):
            self._series[s] = tuple(v)  # a series never changes once created
        for (i, s), size in zip(series_of, third[len(unknown) :], strict=True):
            feed, expiry, is_call, strike = self._series[s]
            if size:
                out[i]["options"].append(
                    {
                        "feedId": int(feed),
                        "expiry": int(expiry),
                        "isCall": bool(is_call),
                        "strike": int(strike),
                        "size": int(size),
                        "seriesId": s,
                    }
                )
        return out

    def marks(self, perp_feeds: Sequence[int], block: int | str = "latest") -> Marks:
        """The cash index and the funding index of every feed in `perp_feeds` at `block`."""
        feeds = sorted({int(f) for f in perp_feeds})
        vals = self.batch.values(
            [self.c("vault", "cashIndex")] + [self.c("engine", "fundingIndex", f) for f in feeds],
            block,
        )
        return Marks(block, int(vals[0]), dict(zip(feeds, (int(v) for v in vals[1:]), strict=True)))

    # --- market ---

    def market(
        self,
        accounts: Sequence[dict] = (),
        block: int | str = "latest",
        *,
        feeds: Sequence[int] = (),
        expiries: Sequence[tuple[int, int]] = (),
    ) -> tuple:
        """(feeds, tokens, settlement haircut, settlement prices, params, correlations) as chain
        ints, for the feeds and (feed, expiry) pairs `accounts` hold plus those given explicitly
        (the index passes its own sets instead of walking thousands of account dicts). Feeds carry
        the raw σ and σ_floor medians ([v2] `volInputs`); correlations every reported pair of
        those feeds ([v2], keel.risk.chain_inputs)."""
        if self._static is None:
            settlement, listed = self.batch.values(
                [self.c("vault", "settlementAsset"), self.c("vault", "listedAssets")], block
            )
            settlement = to_checksum_address(settlement)
            listed = [to_checksum_address(t) for t in listed]
            cfgs = self.batch.values(
                [self.c("vault", "assetConfig", t) for t in listed]
                + [self.c("vault", "assetDecimals", t) for t in listed]
                + [self.c("engine", "somRate"), self.c("engine", "mmRatio")],
                block,
            )
            n = len(listed)
            tokens, haircut = [], 0
            for t, cfg, dec in zip(listed, cfgs[:n], cfgs[n : 2 * n], strict=True):
                if t == settlement:
                    haircut = int(cfg[2])
                    continue
                tokens.append(
                    {
                        "token": t,
                        "decimals": int(dec),
                        "priceFeed": int(cfg[0]),
                        "linkedUnderlying": int(cfg[1]),
                        "baseHaircut": int(cfg[2]),
                        "maxHaircut": int(cfg[3]),
                        "refVol": int(cfg[4]),
                    }
                )
            params = dict(zip(("som_rate", "mm_ratio"), cfgs[2 * n :], strict=True))
            self._static = (tokens, haircut, params)
        tokens, haircut, params = self._static
        feed_ids = {f for t in tokens for f in (t["priceFeed"], t["linkedUnderlying"])} - {0}
        feed_ids |= {int(f) for f in feeds}
        keys = {(o["feedId"], o["expiry"]) for a in accounts for o in a["options"]}
        keys = sorted(keys | {(int(f), int(t)) for f, t in expiries})
        for a in accounts:
            feed_ids |= {p["feedId"] for p in a["perps"]} | {o["feedId"] for o in a["options"]}
        feed_ids = sorted(feed_ids | {f for f, _ in keys})
        pairs = [(a, b) for a in feed_ids for b in feed_ids if a < b]
        n = len(feed_ids)
        vals = self.batch.values(
            [self.c("oracle", "feed", f) for f in feed_ids]
            + [self.c("oracle", "volInputs", f) for f in feed_ids]
            + [self.c("oracle", "correlation", a, b) for a, b in pairs]
            + [self.c("oracle", "settlementPrice", *k) for k in keys],
            block,
        )
        feeds = {
            f: {"price": int(v[0]), "vol": int(w[0]), "volFloor": int(w[1])}
            | {"observedAt": int(v[2])}
            for f, v, w in zip(feed_ids, vals[:n], vals[n : 2 * n], strict=True)
        }
        corr_vals = vals[2 * n : 2 * n + len(pairs)]
        correlations = {p: int(c[0]) for p, c in zip(pairs, corr_vals, strict=True) if c[2]}
        settled = {k: int(v) for k, v in zip(keys, vals[2 * n + len(pairs) :], strict=True) if v}
        return feeds, tokens, haircut, settled, params, correlations

    def rounds(self, feed_ids: Sequence[int], block: int | str = "latest") -> dict[int, int]:
        """{feed: observedAt} of the oracle's current round of each feed (what risk arrays are
        stored for)."""
        feed_ids = sorted({int(f) for f in feed_ids})
        vals = self.batch.values([self.c("oracle", "feed", f) for f in feed_ids], block)
        return {f: int(v[2]) for f, v in zip(feed_ids, vals, strict=True)}

    def stored_rounds(
        self, store: str, series_ids: Sequence[int], block: int | str = "latest"
    ) -> dict[int, int]:
        """{series: observedAt its stored risk array was computed for (0: none)}."""
        series_ids = [int(s) for s in series_ids]
        fn = _fn(STORE_ABI, "storedRiskArray")
        vals = self.batch.values([Call(store, fn, (s,)) for s in series_ids], block)
        return {s: int(v[0]) for s, v in zip(series_ids, vals, strict=True)}

    def stale_feeds(self, feed_ids: Sequence[int], block: int | str = "latest") -> set[int]:
        vals = self.batch.values([self.c("oracle", "isStale", f) for f in feed_ids], block)
        return {f for f, stale in zip(feed_ids, vals, strict=True) if stale}

    # --- margin and auctions ---

    def breakdowns(self, ids: Sequence[int], block: int | str = "latest") -> dict[int, Breakdown]:
        """marginBreakdown + auction of every account, in one batch."""
        ids = [int(i) for i in ids]
        res = self.batch.calls(
            [self.c("engine", "marginBreakdown", i) for i in ids]
            + [self.c("liquidator", "auction", i) for i in ids],
            block,
        )
        n, out = len(ids), {}
        for k, acc in enumerate(ids):
            mb, au = res[k], res[n + k]
            auction_id, started = (int(au.value[0]), int(au.value[1])) if au.ok else (0, 0)
            if mb.ok:
                v = mb.value
                out[acc] = Breakdown(
                    acc, int(v[0]), int(v[1]), int(v[2]), int(v[3]), auction_id != 0, auction_id,
                    started,
                )  # fmt: skip
            else:
                out[acc] = Breakdown(
                    acc, 0, 0, 0, 0, auction_id != 0, auction_id, started, mb.error
                )
        return out

    def auction_terms(self, acc: int, block: int | str = "latest") -> tuple[int, int]:
        """(current discount, max fraction) of the running auction on `acc`, wad."""
        d, f = self.batch.values(
            [
                self.c("liquidator", "currentDiscount", acc),
                self.c("liquidator", "maxFraction", acc),
            ],
            block,
        )
        return int(d), int(f)

    def insurance_fund(self, block: int | str = "latest") -> int:
        return int(self.batch.values([self.c("vault", "insuranceFund")], block)[0])

    def logs(self, from_block: int, to_block: int) -> list[dict]:
        """Every log of the four contracts in [from_block, to_block]."""
        flt = {
            "fromBlock": from_block,
            "toBlock": to_block,
            "address": [self.a.engine, self.a.vault, self.a.oracle, self.a.liquidator],
        }
        return self.rpc.call("get_logs", lambda: self.rpc.w3.eth.get_logs(flt))


# --- Transactions ---


@dataclass(frozen=True)
class Log:
    """One log of a mined transaction: emitting address (checksummed), topics and data (hex)."""

    address: str
    topics: tuple[str, ...]
    data: str = "0x"


@dataclass
class Sent:
    """Outcome of one action's transaction (`logs`: the receipt's logs once mined)."""

    tx: str | None
    status: str  # "mined" | "reverted" | "preflight-revert" | "pending" | "dropped"
    error: str = ""
    gas_used: int = 0
    block: int = 0
    logs: tuple[Log, ...] = ()
    action: dict | None = None  # the action recorded with the transaction


def _hex(b) -> str:
    return b if isinstance(b, str) else "0x" + bytes(b).hex()


def receipt_logs(receipt) -> tuple[Log, ...]:
    """The logs of a receipt as `Log`s."""
    return tuple(
        Log(
            to_checksum_address(lg["address"]),
            tuple(_hex(t) for t in lg["topics"]),
            _hex(lg.get("data", "0x")),
        )
        for lg in receipt.get("logs", ())
    )


class Sender:
    """Signs, records (write-ahead), sends and confirms one transaction at a time."""

    def __init__(
        self,
        rpc: Rpc,
        key: str,
        chain_id: int,
        state,
        log,
        receipt_timeout=60.0,
        gas_cap=TX_GAS_CAP,
        receipt_poll=0.1,
        gas_margin=1.3,
    ):
        self.rpc, self.w3 = rpc, rpc.w3
        self.account = Account.from_key(key)
        self.address = self.account.address
        self.chain_id, self.state, self.log = chain_id, state, log
        self.receipt_timeout, self.receipt_poll = receipt_timeout, receipt_poll  # [s]
        self.receipt_lag_bound = RECEIPT_LAG_BOUND
        self.gas_margin = gas_margin  # gas limit = estimate * margin (capped)
        self.gas_cap = int(gas_cap)  # EIP-7825: no transaction above it is valid

    def estimate(self, to: str, data: str) -> int:
        """eth_estimateGas: raises CallReverted with the revert data when the call would revert."""
        tx = {"from": self.address, "to": to, "data": data}
        try:
            return int(self.rpc.call("estimate_gas", lambda: self.w3.eth.estimate_gas(tx)))
        except (ContractCustomError, ContractLogicError) as exc:
            raise CallReverted("estimate_gas", str(getattr(exc, "data", None) or exc)) from exc
        except Web3RPCError as exc:
            raise CallReverted("estimate_gas", str(exc)) from exc

    def gas_price(self) -> int:
        return int(self.rpc.call("gas_price", lambda: self.w3.eth.gas_price))

    @staticmethod
    def headroom(gas: int) -> int:
        """Gas a limit must leave above an estimate: the mined transaction runs in a later block
        than the estimate (funding accrues, clocks move) and may need a little more."""
        return max(MIN_HEADROOM, gas // 100)

    def fits(self, gas: int) -> bool:
        """True when a transaction estimated at `gas` can be sent under the cap with headroom."""
        return gas + self.headroom(gas) <= self.gas_cap

    def gas_limit(self, gas: int) -> int:
        """The limit a transaction estimated at `gas` is sent with: the estimate plus a safety
        margin, never above the cap (a node rejects a limit above it outright). Raises OverCap
        when even the cap leaves less than `headroom` above the estimate."""
        if not self.fits(gas):
            raise OverCap(gas, self.gas_cap)
        return min(int(gas * self.gas_margin), self.gas_cap)

    def send(self, action: dict, to: str, data: str, gas: int) -> Sent:
        """Signs and sends `data` to `to` for `action` (a dict logged and kept in the state).
        Raises OverCap, before signing anything, when the estimate `gas` exceeds the cap."""
        if self.state.pending:
            raise KeeperError(f"transaction {self.state.pending['tx']} is still unresolved")
        limit = self.gas_limit(gas)
        nonce, gas_price = self.rpc.call(
            "nonce",
            lambda: (
                self.w3.eth.get_transaction_count(self.address, "pending"),
                self.w3.eth.gas_price,
            ),
        )
        tx = {
            "to": to,
            "data": data,
            "nonce": nonce,
            "gas": limit,
            "gasPrice": gas_price,
            "chainId": self.chain_id,
            "value": 0,
        }
        signed = self.account.sign_transaction(tx)
        pending = {
            "tx": "0x" + bytes(signed.hash).hex(),
            "raw": "0x" + bytes(signed.raw_transaction).hex(),
            "nonce": nonce,
            "to": to,
            "data": data,
            "action": action,
        }
        self.state.pending = pending  # write-ahead: on disk before it can be on the chain
        self.state.save()
        event(self.log, "send", tx=pending["tx"], nonce=nonce, gas=tx["gas"], **action)
        self._broadcast(pending)
        return self._confirm(pending)

    def _broadcast(self, pending: dict) -> None:
        raw = bytes.fromhex(pending["raw"].removeprefix("0x"))
        try:
            self.rpc.call("send_raw_transaction", lambda: self.w3.eth.send_raw_transaction(raw))
        except Web3RPCError as exc:  # "already known" / "nonce too low": resolved by _confirm
            event(self.log, "send-error", 30, tx=pending["tx"], error=str(exc)[:200])

    def _receipt(self, tx_hash: str):
        return self.rpc.receipt(self.w3, tx_hash)

    def _nonce_consumed(self, nonce: int) -> bool:
        return self.rpc.nonce_consumed(self.w3, self.address, nonce)

    def _confirm(self, pending: dict) -> Sent:
        deadline = time.monotonic() + self.receipt_timeout
        while True:
            receipt = self._receipt(pending["tx"])
            if receipt is not None:
                return self._record(pending, receipt)
            if self._nonce_consumed(pending["nonce"]):
                receipt = self._receipt_after_nonce(pending["tx"])  # mined after the first read?
                if receipt is not None:
                    return self._record(pending, receipt)
                event(self.log, "tx-dropped", 30, tx=pending["tx"], note="nonce consumed")
                self._clear()
                return Sent(pending["tx"], "dropped", "nonce consumed")
            if time.monotonic() >= deadline:
                event(self.log, "receipt-timeout", 30, tx=pending["tx"])
                return Sent(pending["tx"], "pending")  # resolved before anything new is sent
            time.sleep(self.receipt_poll)

    def _receipt_after_nonce(self, tx_hash: str):
        """keel.client.rpc.Rpc.receipt_after_nonce with this sender's bound."""
        return self.rpc.receipt_after_nonce(
            self.w3, tx_hash, self.receipt_lag_bound, self.receipt_poll
        )

    def _record(self, pending: dict, receipt) -> Sent:
        ok = receipt["status"] == 1
        out = Sent(
            pending["tx"],
            "mined" if ok else "reverted",
            gas_used=int(receipt["gasUsed"]),
            block=int(receipt["blockNumber"]),
            logs=receipt_logs(receipt) if ok else (),
            action=pending.get("action"),
        )
        event(
            self.log,
            "tx-mined" if ok else "tx-reverted",
            20 if ok else 30,
            tx=pending["tx"],
            block=out.block,
            gas_used=out.gas_used,
            **pending.get("action", {}),
        )
        self.state.sent += 1
        self._clear()
        return out

    def _clear(self) -> None:
        self.state.pending = None
        self.state.save()

    def resolve_pending(self, obsolete: Callable[[dict], str | None] | None = None) -> Sent | None:
        """Settles a transaction recorded by an earlier cycle or process, before anything new:

        - its receipt is found: mined (or reverted) -> recorded;
        - its nonce was consumed by another transaction: it can never be mined -> dropped;
        - `obsolete(pending)` names a reason it is no longer wanted (the relayer: its rounds are on
          chain already) -> dropped, never sent;
        - it would revert now (someone else acted) -> dropped, never sent;
        - otherwise it is in a mempool or never left the process: the same signed bytes are sent
          again (idempotent: same hash, same nonce) and confirmed."""
        pending = self.state.pending
        if not pending:
            return None
        receipt = self._receipt(pending["tx"])
        if receipt is not None:
            return self._record(pending, receipt)
        if self._nonce_consumed(pending["nonce"]):
            receipt = self._receipt_after_nonce(pending["tx"])
            if receipt is not None:
                return self._record(pending, receipt)
            return self._drop(pending, "nonce consumed")
        why = obsolete(pending) if obsolete is not None else None
        if why is not None:
            return self._drop(pending, why)
        call = {"from": self.address, "to": pending["to"], "data": pending["data"]}
        try:
            self.rpc.call("call_pending", lambda: self.w3.eth.call(call))
        except (ContractCustomError, ContractLogicError, Web3RPCError) as exc:
            return self._drop(
                pending, "would revert", describe_revert(getattr(exc, "data", None) or str(exc))
            )
        event(self.log, "pending-rebroadcast", tx=pending["tx"], **pending.get("action", {}))
        self._broadcast(pending)
        return self._confirm(pending)

    def _drop(self, pending: dict, why: str, error: str | None = None) -> Sent:
        extra = {} if error is None else {"error": error[:200]}
        event(self.log, "pending-dropped", 30, tx=pending["tx"], note=why, **extra)
        self._clear()
        return Sent(pending["tx"], "dropped", why, action=pending.get("action"))
