"""A fast path to the chain for the stateful attacker test: raw JSON-RPC, batched reads, ABI tables.

brownie's contract calls cost a gas estimate, a receipt wait and event decoding per transaction
(tens of milliseconds); the attacker test sends thousands. Here a transaction is one
`eth_sendTransaction` and one `eth_getTransactionReceipt` to anvil (automine: the receipt exists
when the send returns), reads go out as one JSON-RPC batch, and ABI encoding, event decoding and
custom-error decoding come from tables built once from the brownie project's ABIs, so that errors
and events added on other branches decode without edits here.
"""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass, field

import requests
from eth_abi import decode, encode
from eth_utils import keccak
from eth_utils.abi import collapse_if_tuple

TX_GAS_CAP = 16_777_216  # EIP-7825 per-transaction gas cap (SPEC §8 INV-10)       [gas]
PANIC = bytes.fromhex("4e487b71")
ERROR_STRING = bytes.fromhex("08c379a0")


def _types(params) -> list[str]:
    return [collapse_if_tuple(p) for p in params]


def _signature(item) -> str:
    return f"{item['name']}({','.join(_types(item['inputs']))})"


@dataclass(frozen=True)
class Fn:
    """One contract function: selector and ABI types."""

    address: str
    name: str
    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    def data(self, *args) -> str:
        return "0x" + (self.selector + encode(list(self.inputs), list(args))).hex()

    def decode(self, raw: bytes):
        out = decode(list(self.outputs), raw)
        return out[0] if len(out) == 1 else out


class Contract:
    """Functions of one deployed contract by name (`c.fn("cashOf")`); overloads are not used."""

    def __init__(self, address: str, abi: list):
        self.address = str(address)
        self._fns = {}
        for item in abi:
            if item.get("type") != "function":
                continue
            self._fns[item["name"]] = Fn(
                self.address,
                item["name"],
                keccak(text=_signature(item))[:4],
                tuple(_types(item["inputs"])),
                tuple(_types(item["outputs"])),
            )

    def fn(self, name: str) -> Fn:
        return self._fns[name]

    def has(self, name: str) -> bool:
        return name in self._fns


@dataclass
class Event:
    contract: str  # contract name (Liquidator, MarginEngine, ...)
    name: str
    address: str
    args: dict


@dataclass
class Receipt:
    """What a test step needs from a mined transaction."""

    tx_hash: str
    sender: str
    to: str
    fn: str
    status: int
    gas_used: int
    gas_limit: int
    events: list[Event] = field(default_factory=list)
    error: str | None = None  # custom error name of a reverted transaction
    error_args: tuple = ()

    @property
    def ok(self) -> bool:
        return self.status == 1


class AbiTables:
    """Custom errors and events of every contract in the project, by selector / topic."""

    def __init__(self, project):
        self.errors: dict[bytes, tuple[str, list[str]]] = {}
        self.events: dict[bytes, list[tuple[str, dict]]] = {}
        for name in project.keys():
            container = project[name]
            for item in container.abi:
                if item.get("type") == "error":
                    sel = keccak(text=_signature(item))[:4]
                    self.errors[sel] = (item["name"], _types(item["inputs"]))
                elif item.get("type") == "event" and not item.get("anonymous"):
                    topic = keccak(text=_signature(item))
                    entries = self.events.setdefault(topic, [])
                    if all(e[1] != item for e in entries):
                        entries.append((name, item))

    def decode_error(self, data: bytes) -> tuple[str, tuple]:
        """(name, args) of revert data; 'Panic' / 'Error' for the built-ins, '' for empty data."""
        if len(data) < 4:
            return ("", ())
        sel, body = data[:4], data[4:]
        if sel == PANIC:
            return ("Panic", decode(["uint256"], body))
        if sel == ERROR_STRING:
            return ("Error", decode(["string"], body))
        if sel in self.errors:
            name, types = self.errors[sel]
            try:
                return (name, decode(types, body))
            except Exception:  # noqa: BLE001 - undecodable arguments: the name is what matters
                return (name, ())
        return ("0x" + sel.hex(), ())

    def decode_log(self, log: dict, names: dict[str, str]) -> Event | None:
        topics = [bytes.fromhex(t[2:]) for t in log["topics"]]
        if not topics or topics[0] not in self.events:
            return None
        address = log["address"].lower()
        for contract, item in self.events[topics[0]]:
            indexed = [p for p in item["inputs"] if p.get("indexed")]
            if len(indexed) != len(topics) - 1:
                continue
            plain = [p for p in item["inputs"] if not p.get("indexed")]
            try:
                values = decode(_types(plain), bytes.fromhex(log["data"][2:]))
            except Exception:  # noqa: BLE001 - same topic, other layout: try the next one
                continue
            args = dict(zip([p["name"] for p in plain], values, strict=True))
            for p, t in zip(indexed, topics[1:], strict=True):
                args[p["name"]] = decode([collapse_if_tuple(p)], t)[0]
            return Event(names.get(address, contract), item["name"], address, args)
        return None


class RpcError(RuntimeError):
    pass


class Rpc:
    """JSON-RPC over one HTTP session to the test chain."""

    def __init__(self, url: str, tables: AbiTables, names: dict[str, str]):
        self.url = url
        self.session = requests.Session()
        self.tables = tables
        self.names = {a.lower(): n for a, n in names.items()}  # address → contract name
        self._ids = itertools.count(1)
        self.gas_limit = TX_GAS_CAP

    def request(self, method: str, params: list):
        r = self.session.post(
            self.url,
            json={"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params},
        ).json()
        if "error" in r:
            raise RpcError(f"{method}: {r['error']}")
        return r["result"]

    def batch(self, calls: list[tuple[Fn, tuple]], block: str = "latest") -> list:
        """eth_call of every (fn, args) in one HTTP request; a reverted call yields an RpcError."""
        if not calls:
            return []
        payload = [
            {
                "jsonrpc": "2.0",
                "id": i,
                "method": "eth_call",
                "params": [{"to": fn.address, "data": fn.data(*args)}, block],
            }
            for i, (fn, args) in enumerate(calls)
        ]
        replies = self.session.post(self.url, json=payload).json()
        by_id = {r["id"]: r for r in replies}
        out = []
        for i, (fn, _) in enumerate(calls):
            r = by_id[i]
            if "error" in r:
                out.append(RpcError(self._error_name(r["error"])))
            else:
                out.append(fn.decode(bytes.fromhex(r["result"][2:])))
        return out

    def call(self, fn: Fn, *args, sender: str | None = None, block: str = "latest"):
        """One eth_call: the decoded result, or RpcError carrying the custom error's name."""
        tx = {"to": fn.address, "data": fn.data(*args)}
        if sender:
            tx["from"] = sender
        try:
            raw = self.request("eth_call", [tx, block])
        except RpcError as exc:
            raise RpcError(self._error_name(exc.args[0])) from None
        return fn.decode(bytes.fromhex(raw[2:]))

    def _error_name(self, err) -> str:
        data = err.get("data") if isinstance(err, dict) else None
        if isinstance(data, dict):
            data = data.get("data")
        if isinstance(data, str) and data.startswith("0x"):
            return self.tables.decode_error(bytes.fromhex(data[2:]))[0]
        message = err.get("message", "") if isinstance(err, dict) else str(err)
        m = re.search(r"custom error (0x[0-9a-fA-F]{8})", message)
        if m:
            return self.tables.decode_error(bytes.fromhex(m.group(1)[2:]) + bytes(64))[0]
        return message[:200]

    def send(self, sender: str, fn: Fn, *args, gas: int | None = None) -> Receipt:
        """Sends one transaction and returns its receipt (events decoded; error of a revert)."""
        gas = gas or self.gas_limit
        tx = {"from": sender, "to": fn.address, "data": fn.data(*args), "gas": hex(gas)}
        h = self.request("eth_sendTransaction", [tx])
        rc = self.receipt(h)
        receipt = Receipt(
            h, sender, fn.address, fn.name, int(rc["status"], 16), int(rc["gasUsed"], 16), gas
        )
        if receipt.ok:
            for log in rc["logs"]:
                ev = self.tables.decode_log(log, self.names)
                if ev is not None:
                    receipt.events.append(ev)
        else:
            receipt.error, receipt.error_args = self._revert_of(h, receipt)
        return receipt

    def receipt(self, tx_hash: str, timeout: float = 60.0) -> dict:
        """The receipt of a sent transaction. anvil mines on send, but under load its receipt can
        lag the send's reply by a few milliseconds (the cause of brownie's false "dropped")."""
        deadline = time.monotonic() + timeout
        delay = 0.0005
        while True:
            rc = self.request("eth_getTransactionReceipt", [tx_hash])
            if rc is not None:
                return rc
            if time.monotonic() > deadline:
                raise RpcError(f"no receipt for {tx_hash} after {timeout} s")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def _revert_of(self, tx_hash: str, receipt: Receipt) -> tuple[str, tuple]:
        trace = self.request("debug_traceTransaction", [tx_hash, {"tracer": "callTracer"}])
        output = trace.get("output") or "0x"
        if len(output) <= 2:
            err = str(trace.get("error", ""))
            if "gas" in err.lower() or receipt.gas_used >= receipt.gas_limit:
                return ("OutOfGas", ())
            return ("", ())
        return self.tables.decode_error(bytes.fromhex(output[2:]))

    # --- chain control ---

    def latest(self) -> dict:
        return self.request("eth_getBlockByNumber", ["latest", False])

    def now(self) -> int:
        return int(self.latest()["timestamp"], 16)

    def mine_at(self, ts: int) -> None:
        """The next block is mined at `ts` (> the latest block's time)."""
        self.request("evm_setNextBlockTimestamp", [hex(ts)])
        self.request("evm_mine", [])

    def next_block_at(self, ts: int) -> None:
        self.request("evm_setNextBlockTimestamp", [hex(ts)])
