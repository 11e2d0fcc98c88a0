"""The relayer's hand-written ABI of the Oracle: just what it calls, reads and decodes.

Written by hand rather than read from build/ so that the relayer runs from the package alone (no
compile step, no brownie). tests/unit/relayer/test_abi.py checks every entry against the compiled
build/contracts/Oracle.json, so a change of the contract's interface fails a test, not a deployment.
"""

from __future__ import annotations

from eth_utils import function_signature_to_4byte_selector


def _fn(name, inputs, outputs=(), mutability="view"):
    return {
        "type": "function",
        "name": name,
        "stateMutability": mutability,
        "inputs": [_param(*i) for i in inputs],
        "outputs": [_param(*o) for o in outputs],
    }


def _param(name, type_, components=None, indexed=None):
    p = {"name": name, "type": type_}
    if components is not None:
        p["components"] = [_param(*c) for c in components]
        p["internalType"] = "struct"
    if indexed is not None:
        p["indexed"] = indexed
    return p


def _error(name, *inputs):
    return {"type": "error", "name": name, "inputs": [_param(*i) for i in inputs]}


SIGNED_OBSERVATION = [
    ("price", "uint256"),
    ("vol", "uint256"),
    ("v", "uint8"),
    ("r", "bytes32"),
    ("s", "bytes32"),
]
REPORT = [
    ("feedId", "uint256"),
    ("round", "uint256"),
    ("observedAt", "uint256"),
    ("observations", "tuple[]", SIGNED_OBSERVATION),
]
FEED_STATE = [
    ("price", "uint128"),
    ("vol", "uint64"),
    ("observedAt", "uint32"),
    ("round", "uint32"),
]

FUNCTIONS = [
    _fn("submit", [("reports", "tuple[]", REPORT)], (), "nonpayable"),
    _fn("feed", [("feedId", "uint256")], [("", "tuple", FEED_STATE)]),
    _fn(
        "feedConfig",
        [("feedId", "uint256")],
        [
            ("minPrice", "uint256"),
            ("maxPrice", "uint256"),
            ("maxVol", "uint256"),
            ("listed", "bool"),
        ],
    ),
    _fn("quorum", [], [("", "uint256")]),
    _fn("signerCount", [], [("", "uint256")]),
    _fn("isSigner", [("account", "address")], [("", "bool")]),
    _fn("heartbeat", [], [("", "uint256")]),
    _fn("maxFutureDrift", [], [("", "uint256")]),
    _fn("jumpThreshold", [], [("", "uint256")]),
    _fn("coolDown", [], [("", "uint256")]),
    _fn("maxSpread", [], [("", "uint256")]),
    _fn("maxVolSpread", [], [("", "uint256")]),
    _fn("settlementWindow", [], [("", "uint256")]),
    _fn("reduceOnlyUntil", [("feedId", "uint256")], [("", "uint256")]),
    _fn("pendingExpiries", [("feedId", "uint256")], [("", "uint256[]")]),
]

EVENTS = [
    {
        "type": "event",
        "name": "FeedUpdated",
        "anonymous": False,
        "inputs": [
            _param("feedId", "uint256", indexed=True),
            _param("round", "uint256", indexed=True),
            _param("price", "uint256", indexed=False),
            _param("vol", "uint256", indexed=False),
            _param("observedAt", "uint256", indexed=False),
        ],
    },
]

ERRORS = [
    _error("UnknownFeed", ("feedId", "uint256")),
    _error("WrongRound", ("feedId", "uint256"), ("round", "uint256"), ("expectedRound", "uint256")),
    _error(
        "ObservationNotNewer",
        ("feedId", "uint256"),
        ("observedAt", "uint256"),
        ("storedObservedAt", "uint256"),
    ),
    _error(
        "ObservationInFuture",
        ("feedId", "uint256"),
        ("observedAt", "uint256"),
        ("latestAllowed", "uint256"),
    ),
    _error(
        "QuorumNotMet", ("feedId", "uint256"), ("observations", "uint256"), ("quorum", "uint256")
    ),
    _error("UnknownSigner", ("feedId", "uint256"), ("signer", "address")),
    _error("DuplicateSigner", ("feedId", "uint256"), ("signer", "address")),
    _error("MalleableSignature", ("feedId", "uint256"), ("index", "uint256"), ("s", "bytes32")),
    _error("InvalidSignature", ("feedId", "uint256"), ("index", "uint256")),
    _error(
        "PriceOutOfBounds",
        ("feedId", "uint256"),
        ("price", "uint256"),
        ("minPrice", "uint256"),
        ("maxPrice", "uint256"),
    ),
    _error("VolOutOfBounds", ("feedId", "uint256"), ("vol", "uint256"), ("maxVol", "uint256")),
    _error(
        "ObservationSpread",
        ("feedId", "uint256"),
        ("price", "uint256"),
        ("medianPrice", "uint256"),
        ("vol", "uint256"),
        ("medianVol", "uint256"),
    ),
]

ORACLE_ABI: list[dict] = FUNCTIONS + EVENTS + ERRORS


def signature(entry: dict) -> str:
    """Canonical `name(type,...)` of an ABI entry (tuples expanded)."""
    return f"{entry['name']}({','.join(_canonical(i) for i in entry['inputs'])})"


def _canonical(p: dict) -> str:
    t = p["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(_canonical(c) for c in p["components"]) + ")" + t[len("tuple") :]
    return t


ERROR_SELECTORS: dict[bytes, dict] = {
    function_signature_to_4byte_selector(signature(e)): e for e in ERRORS
}
