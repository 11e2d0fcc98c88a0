"""The keeper's hand-written ABIs: just what it reads, calls and decodes on each contract.

Written by hand (like oracle/abi.py) so that the keeper runs from the package alone, with no compile
step and no brownie. tests/unit/keeper/test_abi.py checks every entry against the compiled artefacts
in build/contracts/, so a change of a contract's interface fails a test, not a liquidation.

Entries are written as Solidity-like signatures and expanded into ABI JSON by `_parse`:
    "function cashOf(uint256 accountId) view returns (int256)"
    "event Traded(uint256 indexed instrument, ...)"
Tuples are written `(type name, ...)` with an optional trailing `[]`.
"""

from __future__ import annotations

from eth_utils import event_abi_to_log_topic, function_abi_to_4byte_selector
from eth_utils.abi import collapse_if_tuple

# --- A tiny signature parser ---


def _split(s: str) -> list[str]:
    """Splits a comma-separated list at depth 0 of parentheses."""
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def _param(text: str) -> dict:
    text = text.strip()
    if text.startswith("("):
        depth, end = 0, 0
        for i, ch in enumerate(text):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0:
                end = i
                break
        inner, rest = text[1:end], text[end + 1 :].split()
        suffix = ""
        if rest and rest[0].startswith("["):
            suffix = rest.pop(0)
        indexed = bool(rest) and rest[0] == "indexed"
        if indexed:
            rest.pop(0)
        p = {"name": rest[0] if rest else "", "type": "tuple" + suffix}
        p["components"] = [_param(c) for c in _split(inner)]
        if indexed:
            p["indexed"] = True
        return p
    words = text.split()
    p = {"type": words[0], "name": words[-1] if len(words) > 1 and words[-1] != "indexed" else ""}
    if "indexed" in words[1:]:
        p["indexed"] = True
    return p


def _balanced(text: str, open_at: int) -> int:
    """Index of the parenthesis closing the one at `open_at`."""
    depth = 0
    for i in range(open_at, len(text)):
        depth += text[i] == "("
        depth -= text[i] == ")"
        if depth == 0:
            return i
    raise ValueError(f"unbalanced: {text}")


def _parse(sig: str) -> dict:
    sig = " ".join(sig.split())
    head, _, _ = sig.partition("(")
    kind, name = head.split()
    close = _balanced(sig, len(head))
    params, tail = sig[len(head) + 1 : close], sig[close + 1 :].strip()
    entry = {"type": kind, "name": name, "inputs": [_param(p) for p in _split(params)]}
    if kind == "event":
        entry["anonymous"] = False
        for p in entry["inputs"]:
            p.setdefault("indexed", False)
    if kind == "function":
        before, _, returns = tail.partition("returns")
        mut = "nonpayable"
        for word in ("view", "pure", "payable"):
            if word in before.split():
                mut = word
        entry["stateMutability"] = mut
        returns = returns.strip()
        entry["outputs"] = [_param(p) for p in _split(returns[1:-1])] if returns else []
    return entry


def abi(*sigs: str) -> list[dict]:
    return [_parse(s) for s in sigs]


# --- Margin engine ---

MARGIN_BREAKDOWN = (
    "(int256 equity, int256 adjustedEquity, uint256 initialMargin, uint256 maintenanceMargin,"
    " uint256 scanRisk, uint256 shortOptionMinimum, uint256 jointLoss, uint256 jointWorstIndex,"
    " (uint256 feedId, uint256 scanRange, uint256 loss, uint256 worstIndex)[] underlyings)"
)

ENGINE_ABI = abi(
    f"function marginBreakdown(uint256 accountId) view returns ({MARGIN_BREAKDOWN})",
    "function accountUnderlyings(uint256 accountId) view returns (uint256[])",
    "function accountSeries(uint256 accountId, uint256 feedId) view returns (uint256[])",
    "function perpPosition(uint256 accountId, uint256 feedId) view returns"
    " ((int256 size, uint256 entryPrice, int256 fundingIndexAtEntry))",
    "function fundingOwed(uint256 accountId, uint256 feedId) view returns (int256)",
    "function fundingIndex(uint256 feedId) view returns (int256 idx)",
    "function optionPosition(uint256 accountId, uint256 seriesId) view returns (int256)",
    "function series(uint256 seriesId) view returns"
    " ((uint32 feedId, uint40 expiry, bool isCall, uint128 strike))",
    "function correlationCredit() view returns (uint256)",
    "function somRate() view returns (uint256)",
    "function mmRatio() view returns (uint256)",
    "function settle(uint256 accountId, uint256 seriesId)",
    "function store() view returns (address)",
    "event Traded(uint256 indexed instrument, uint256 indexed makerAccount,"
    " uint256 indexed takerAccount, int256 makerSize, uint256 price, uint256 makerFee,"
    " uint256 takerFee)",
    "event PnlRealised(uint256 indexed accountId, uint256 indexed feedId, int256 pnl,"
    " int256 funding, uint256 price)",
    "event OptionSettled(uint256 indexed accountId, uint256 indexed seriesId, int256 size,"
    " uint256 settlementPrice, int256 cash)",
    "event PositionsTransferred(uint256 indexed from, uint256 indexed to, uint256 fraction)",
)

# --- Risk-array store ---

STORE_ABI = abi(
    "function refreshRiskArrays(uint256[] seriesIds) returns (uint256 refreshed)",
    "function storedRiskArray(uint256 seriesId) view returns (uint256 observedAt,"
    " int256[33] values)",
    "event RiskArrayStored(uint256 indexed seriesId, uint256 observedAt, address pointer)",
)

# --- Vault ---

ASSET_CONFIG = (
    "(uint256 priceFeed, uint256 linkedUnderlying, uint64 baseHaircut, uint64 maxHaircut,"
    " uint64 refVol, uint128 cap, bool enabled)"
)

VAULT_ABI = abi(
    "function cashOf(uint256 accountId) view returns (int256)",
    "function cashPrincipal(uint256 accountId) view returns (int256)",
    "function accountAssets(uint256 accountId) view returns (address[] tokens)",
    "function collateralBalance(uint256 accountId, address token) view returns (uint256)",
    "function settlementAsset() view returns (address)",
    "function listedAssets() view returns (address[])",
    f"function assetConfig(address token) view returns ({ASSET_CONFIG} config)",
    "function assetDecimals(address token) view returns (uint8)",
    "function insuranceFund() view returns (uint256)",
    "function cashIndex() view returns (uint256)",
    "function accountOwner(uint256 accountId) view returns (address)",
    "event AccountOpened(uint256 indexed accountId, address indexed owner)",
    "event Deposited(uint256 indexed accountId, address indexed token, address indexed from,"
    " uint256 amount)",
    "event Withdrawn(uint256 indexed accountId, address indexed token, address indexed to,"
    " uint256 amount)",
    "event InsurancePaid(uint256 indexed accountId, uint256 amount)",
    "event CashMoved(uint256 indexed from, uint256 indexed to, int256 amount)",
    "event CashAdjusted(uint256 indexed accountId, int256 delta)",
    "event FeeCollected(uint256 indexed accountId, uint256 amount)",
    "event CollateralMoved(uint256 indexed from, uint256 indexed to, address indexed token,"
    " uint256 amount)",
    "event LossSocialised(uint256 amount, uint256 oldIndex, uint256 newIndex,"
    " uint256 positiveCash)",
)

# --- Oracle ---

ORACLE_ABI = abi(
    "function feed(uint256 feedId) view returns"
    " ((uint128 price, uint64 vol, uint32 observedAt, uint32 round))",
    "function isStale(uint256 feedId) view returns (bool)",
    "function settlementPrice(uint256 feedId, uint256 expiry) view returns (uint256 priceWad)",
    "event FeedUpdated(uint256 indexed feedId, uint256 indexed round, uint256 price, uint256 vol,"
    " uint256 observedAt)",
)

# --- Liquidator (interfaces/ILiquidator.sol) ---

LIQUIDATOR_ABI = abi(
    "function startAuction(uint256 accountId, uint256 starterAccount) returns (uint256 auctionId)",
    "function endAuction(uint256 accountId)",
    "function bid(uint256 accountId, uint256 auctionId, uint256 bidderAccount, uint256 fraction,"
    " uint256 maxPaymentPerUnit) returns (uint256 payment, uint256 penalty)",
    "function bidInsolvent(uint256 accountId, uint256 auctionId, uint256 bidderAccount,"
    " uint256 minReceipt) returns (uint256 fromFund, uint256 socialised)",
    "function auction(uint256 accountId) view returns"
    " ((uint256 id, uint256 startedAt, uint256 starterAccount))",
    "function inAuction(uint256 accountId) view returns (bool)",
    "function currentDiscount(uint256 accountId) view returns (uint256)",
    "function maxFraction(uint256 accountId) view returns (uint256)",
    "function currentBonus(uint256 accountId) view returns (uint256)",
    "event AuctionStarted(uint256 indexed accountId, uint256 indexed auctionId,"
    " uint256 starterAccount, uint256 keeperFee, int256 adjustedEquity, uint256 maintenanceMargin)",
    "event AuctionEnded(uint256 indexed accountId, uint256 indexed auctionId, bool cured)",
    "event SolventBid(uint256 indexed accountId, uint256 indexed auctionId,"
    " uint256 indexed bidderAccount, uint256 fraction, uint256 discount, int256 equity,"
    " uint256 payment, uint256 penalty)",
    "event InsolventBid(uint256 indexed accountId, uint256 indexed auctionId,"
    " uint256 indexed bidderAccount, int256 equity, uint256 bonus, uint256 fromFund,"
    " uint256 socialised)",
    "event LossSocialised(uint256 indexed accountId, uint256 indexed auctionId, uint256 amount)",
    "error UnknownAccount(uint256 accountId)",
    "error NotBelowMaintenanceMargin(uint256 accountId, int256 adjustedEquity,"
    " uint256 maintenanceMargin)",
    "error AuctionAlreadyRunning(uint256 accountId, uint256 auctionId)",
    "error NoAuction(uint256 accountId)",
    "error StaleAuction(uint256 accountId, uint256 auctionId, uint256 runningId)",
    "error NotCured(uint256 accountId, int256 adjustedEquity, uint256 initialMargin)",
    "error NotBidderAuthorised(uint256 bidderAccount, address caller)",
    "error SelfBid(uint256 accountId)",
    "error FractionOutOfBounds(uint256 accountId, uint256 fraction, uint256 maxFraction)",
    "error PaymentAboveLimit(uint256 accountId, uint256 paymentPerUnit, uint256 maxPaymentPerUnit)",
    "error ReceiptBelowLimit(uint256 accountId, uint256 receipt, uint256 minReceipt)",
    "error AccountInsolvent(uint256 accountId, int256 equity)",
    "error AccountSolvent(uint256 accountId, int256 equity)",
    "error BidderBelowInitialMargin(uint256 bidderAccount, int256 adjustedEquity,"
    " uint256 initialMargin)",
)

# errors of other contracts a keeper transaction can revert with
OTHER_ERRORS = abi(
    "error StalePrice(uint256 feedId, uint256 observedAt, uint256 nowTs)",
    "error BelowInitialMargin(uint256 accountId, int256 adjustedEquity, uint256 initialMargin)",
)


def _error_selectors() -> dict[bytes, dict]:
    from eth_utils import keccak

    out = {}
    for e in LIQUIDATOR_ABI + OTHER_ERRORS:
        if e["type"] == "error":
            sig = f"{e['name']}({','.join(collapse_if_tuple(p) for p in e['inputs'])})"
            out[keccak(text=sig)[:4]] = e
    return out


def decode_error(data) -> str:
    """`Name(args)` of a custom error from revert data (hex or bytes); the raw data otherwise."""
    raw = data
    if isinstance(raw, str):
        text = raw
        i = text.find("0x")
        raw = text[i:].split()[0].strip("',)\"") if i >= 0 else ""
        try:
            raw = bytes.fromhex(raw.removeprefix("0x"))
        except ValueError:
            return text[:200]
    if not isinstance(raw, (bytes, bytearray)) or len(raw) < 4:
        return str(data)[:200]
    entry = ERROR_SELECTORS.get(bytes(raw[:4]))
    if entry is None:
        return "0x" + bytes(raw).hex()[:72]
    from eth_abi import decode

    types = [collapse_if_tuple(p) for p in entry["inputs"]]
    try:
        values = decode(types, bytes(raw[4:]))
    except Exception:  # noqa: BLE001 - truncated data: show the name
        values = ()
    return f"{entry['name']}{tuple(values)}"


def error_name(data) -> str:
    return decode_error(data).split("(")[0]


def topic(contract_abi: list[dict], name: str) -> str:
    """topic0 (hex) of event `name`."""
    entry = next(e for e in contract_abi if e["type"] == "event" and e["name"] == name)
    return "0x" + event_abi_to_log_topic(entry).hex()


def selector(contract_abi: list[dict], name: str) -> bytes:
    entry = next(e for e in contract_abi if e["type"] == "function" and e["name"] == name)
    return function_abi_to_4byte_selector(entry)


ERROR_SELECTORS = _error_selectors()
