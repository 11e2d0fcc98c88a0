"""The one ABI source: the compiled contracts' ABIs, and the one revert decoder.

The JSON files beside this module are the ABIs of the compiled build (build/contracts/*.json,
`abi` only), committed so that the relayer, the keepers and the SDK run from the package alone
(no compile step, no brownie). `python -m keel.abi` rewrites them from a fresh build, and
tests/unit/chain/test_abi_bundle.py fails when they differ from what the compiler produces: a
changed contract interface fails a test, not a liquidation.

`decode_revert` turns revert data into (error name, args) for every custom error of every Keel
contract (and OpenZeppelin's that they inherit); `describe_revert` into one line for humans.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import (
    event_abi_to_log_topic,
    function_abi_to_4byte_selector,
    keccak,
    to_checksum_address,
)
from eth_utils.abi import collapse_if_tuple

HERE = Path(__file__).resolve().parent
# the contracts whose ABIs are bundled (every deployed contract, and the test token)
CONTRACTS = (
    "Oracle",
    "Vault",
    "MarginEngine",
    "RiskArrayStore",
    "Exchange",
    "Liquidator",
    "MarginLens",
    "JointLossLib",
    "KeelTimelock",
    "MockERC20",
)


@cache
def load(contract: str) -> list[dict]:
    """The ABI of `contract` (one of CONTRACTS)."""
    path = HERE / f"{contract}.json"
    if not path.is_file():
        raise KeyError(f"no bundled ABI for {contract!r} (known: {', '.join(CONTRACTS)})")
    return json.loads(path.read_text())


def entry(contract_abi: list[dict], kind: str, name: str) -> dict:
    """The ABI entry of `kind` ("function", "event", "error") called `name`."""
    for e in contract_abi:
        if e["type"] == kind and e.get("name") == name:
            return e
    raise KeyError(f"no {kind} {name!r} in this ABI")


def signature(e: dict) -> str:
    """Canonical `name(type,...)` of an ABI entry (tuples expanded)."""
    return f"{e['name']}({','.join(collapse_if_tuple(p) for p in e['inputs'])})"


def topic(contract_abi: list[dict], name: str) -> str:
    """topic0 (hex) of event `name`."""
    return "0x" + event_abi_to_log_topic(entry(contract_abi, "event", name)).hex()


def selector(contract_abi: list[dict], name: str) -> bytes:
    """4-byte selector of function `name`."""
    return function_abi_to_4byte_selector(entry(contract_abi, "function", name))


@cache
def error_selectors() -> dict[bytes, dict]:
    """Every custom error of every bundled contract, by selector."""
    out: dict[bytes, dict] = {}
    for c in CONTRACTS:
        for e in load(c):
            if e["type"] == "error":
                out[keccak(text=signature(e))[:4]] = e
    return out


def _revert_bytes(data: Any) -> bytes | None:
    """Revert data as bytes from what web3, brownie and JSON-RPC hand over (hex, bytes, a
    ("0x..", ...) tuple, or a message with the hex in it)."""
    if isinstance(data, (list, tuple)):  # ("execution reverted", "0x..."): the part with data
        for part in data:
            raw = _revert_bytes(part)
            if raw:
                return raw
        return None
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if isinstance(data, str):
        i = data.find("0x")
        if i < 0:
            return None
        token = data[i:].split()[0].strip("',)\"")
        try:
            return bytes.fromhex(token.removeprefix("0x"))
        except ValueError:
            return None
    return None


def decode_revert(data: Any) -> tuple[str, tuple] | None:
    """(error name, args) of a Keel custom error from revert data; None if not one of ours.
    Addresses come back checksummed."""
    raw = _revert_bytes(data)
    if raw is None or len(raw) < 4:
        return None
    e = error_selectors().get(raw[:4])
    if e is None:
        return None
    types = [collapse_if_tuple(p) for p in e["inputs"]]
    try:
        values = abi_decode(types, raw[4:])
    except Exception:  # noqa: BLE001 - truncated data: the name alone
        return e["name"], ()
    values = tuple(
        to_checksum_address(v) if t == "address" else v for t, v in zip(types, values, strict=True)
    )
    return e["name"], values


def describe_revert(data: Any) -> str:
    """One line: `Name(args)` for a Keel error, else the data (or message) cut short."""
    decoded = decode_revert(data)
    if decoded is not None:
        name, args = decoded
        return f"{name}({', '.join(str(a) for a in args)})"
    raw = _revert_bytes(data)
    if raw:
        return "0x" + raw.hex()[:72]
    return str(data).splitlines()[0][:200] if data else "reverted without data"


def error_name(data: Any) -> str:
    """The error's name alone ("" when the data is not a Keel error)."""
    decoded = decode_revert(data)
    return decoded[0] if decoded else ""


def write_from_build(build: Path) -> list[Path]:
    """Rewrite the bundled ABIs from a compiled build directory (build/contracts)."""
    written = []
    for c in CONTRACTS:
        abi = json.loads((build / f"{c}.json").read_text())["abi"]
        path = HERE / f"{c}.json"
        path.write_text(json.dumps(abi, indent=1, sort_keys=True) + "\n")
        written.append(path)
    load.cache_clear()
    error_selectors.cache_clear()
    return written
