"""Helpers of the governance tests: who holds which power, exact block times, the timelock's
state bitmap, ABI walking."""

from __future__ import annotations

from brownie import ZERO_ADDRESS, chain, web3

OWNER = "OwnableUnauthorizedAccount"  # OpenZeppelin Ownable(2Step): error(address account)

# Owner powers: function -> error for a caller without the power (the caller is its argument).
# acceptOwnership is the pending owner's: after the hand-over there is none.
RESTRICTED = {
    "vault": dict.fromkeys(
        [
            "acceptOwnership",
            "listAsset",
            "renounceOwnership",
            "setAssetConfig",
            "setMarginHook",
            "setModule",
            "transferOwnership",
        ],
        OWNER,
    ),
    "oracle": {
        **dict.fromkeys(
            [
                "acceptOwnership",
                "addFeed",
                "fixSettlementPrice",  # branch `oracle`: a missed expiry, after the window
                "renounceOwnership",
                "setFeedBounds",
                "setParam",
                "setQuorum",
                "setRegistrar",
                "setSigner",
                "transferOwnership",
            ],
            OWNER,
        ),
        "registerExpiry": "NotRegistrar",  # owner or a registrar (the engine)
    },
    "engine": {
        **dict.fromkeys(
            [
                "acceptOwnership",
                "listPerp",
                "renounceOwnership",
                "setExchange",
                "setGuardian",
                "setLiquidator",
                "setLister",
                "setOpenInterestCap",
                "setParam",
                "setStore",
                "transferOwnership",
            ],
            OWNER,
        ),
        "createSeries": "NotLister",  # owner or a lister
        "setPaused": "NotGuardian",  # guardian or owner
    },
    "liquidator": dict.fromkeys(
        ["acceptOwnership", "renounceOwnership", "setParam", "transferOwnership"], OWNER
    ),
    "store": {},
    "exchange": {},
}

# Not owner powers: users' (accounts, orders, bids), keepers' and relayers' (permissionless), and
# other contracts' (module / engine / exchange / liquidator only, checked in their own suites).
PUBLIC = {
    "vault": {
        "adjustCash",
        "collectFee",
        "deposit",
        "fundInsurance",
        "moveCash",
        "moveCollateral",
        "openAccount",
        "payFromInsurance",
        "setOperator",
        "socialiseLoss",
        "transferAccount",
        "withdraw",
    },
    "oracle": {"submit", "submitWithCorrelations"},  # permissionless: the signatures authenticate
    "engine": {
        "accrueFunding",
        "cachedMarginBreakdown",
        "executeFill",
        "realisePnl",
        "settle",
        "transferPositions",
    },
    "liquidator": {"bid", "bidInsolvent", "endAuction", "startAuction"},
    "store": {"addSeries", "optionRiskCached", "refreshRiskArrays"},
    "exchange": {"cancel", "fill", "raiseNonceFloor"},
}

# OpenZeppelin TimelockController.OperationState: Unset, Waiting, Ready, Done
UNSET, WAITING, READY, DONE = range(4)


def state_bitmap(*states: int) -> bytes:
    """`expectedStates` of TimelockUnexpectedOperationState: bit i set for each expected state i."""
    bits = 0
    for s in states:
        bits |= 1 << s
    return bits.to_bytes(32, "big")


def b32(h) -> bytes:
    """A bytes32 (hex string or bytes) as bytes, the form brownie renders in errors."""
    if isinstance(h, (bytes, bytearray)):
        return bytes(h)
    return bytes.fromhex(str(h).removeprefix("0x"))


def next_block_at(ts: int) -> None:
    """The next block (the next transaction's) is mined at exactly `ts`."""
    web3.provider.make_request("evm_setNextBlockTimestamp", [ts])


def now() -> int:
    return chain[-1].timestamp


def _zero(abi_type: dict):
    """A zero value of one ABI parameter (its components for tuples)."""
    t = abi_type["type"]
    if t.endswith("[]"):
        return []
    if t.endswith("]"):
        n = int(t[t.rindex("[") + 1 : -1])
        inner = dict(abi_type, type=t[: t.rindex("[")])
        return [_zero(inner) for _ in range(n)]
    if t == "tuple":
        return tuple(_zero(c) for c in abi_type["components"])
    if t == "address":
        return ZERO_ADDRESS
    if t == "bool":
        return False
    if t.startswith("bytes"):
        return b"\0" * int(t[5:]) if t != "bytes" else b""
    if t == "string":
        return ""
    return 0  # uint*, int*


def state_changing(contract) -> dict[str, list]:
    """Every non-view function of `contract`: name -> zero arguments of the right types."""
    return {
        f["name"]: [_zero(i) for i in f["inputs"]]
        for f in contract.abi
        if f["type"] == "function" and f["stateMutability"] not in ("view", "pure")
    }
