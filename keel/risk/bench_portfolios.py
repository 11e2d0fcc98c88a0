"""Load bench/portfolios.json (the shared benchmark books) into MarketState + Portfolios.

Conventions of the file (bench/README.md): expiries are days after the snapshot, strikes are
fractions of spot, sizes signed units of the underlying, collateral whole tokens. Here: absolute
expiry = snapshot + days·86400; strike = fraction × spot (computed in decimal, so 1.05 × 60000 is
exactly 63000); every feed observed at the snapshot; USDC is the settlement asset and credits cash;
perps enter at spot with no funding owed. Feed ids follow DESIGN.md (1 = BTC, 2 = ETH).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from .model import Account, CollateralToken, MarginParams, MarketState, Option, Perp, Portfolios

BENCH_FILE = Path(__file__).resolve().parents[2] / "bench" / "portfolios.json"
DEFAULT_SNAPSHOT = 1_767_225_600  # 2026-01-01T00:00:00Z                           [unix s]
FEED_IDS = {"BTC": 1, "ETH": 2}
SETTLEMENT_ASSET = "USDC"
# Collateral configuration (SPEC §2 defaults): base haircut h0 per token; h_max 25%, σ_ref 80%.
BASE_HAIRCUTS = {"USDC": 0.01, "WETH": 0.05, "WBTC": 0.05}
MAX_HAIRCUT = 0.25
REF_VOL = 0.80


@dataclass(frozen=True)
class BenchSet:
    """The loaded market and books; `names[a]` is the book of account index a (chain id a + 1)."""

    market: MarketState
    portfolios: Portfolios
    accounts: list[Account]
    names: list[str]

    def index(self, name: str) -> int:
        return self.names.index(name)


def read_bench(path: str | Path | None = None) -> dict:
    with open(path or BENCH_FILE) as fh:
        return json.load(fh)


def bench_market(
    data: dict, snapshot_time: int = DEFAULT_SNAPSHOT, params: MarginParams | None = None
) -> MarketState:
    """MarketState of the file's snapshot, every feed observed at `snapshot_time`."""
    m = data["market"]
    feeds = {FEED_IDS[u]: (f["spot"], f["vol"], snapshot_time) for u, f in m["underlyings"].items()}
    tokens = [
        CollateralToken(
            name=name,
            price=float(c["price"]),
            decimals=int(c["decimals"]),
            linked_feed=FEED_IDS[c["underlying"]] if c["underlying"] else 0,
            h0=BASE_HAIRCUTS.get(name, 0.05),
            h_max=MAX_HAIRCUT,
            sigma_ref=REF_VOL,
        )
        for name, c in m["collateral"].items()
        if name != SETTLEMENT_ASSET
    ]
    return MarketState.build(
        feeds, tokens, settlement_haircut=BASE_HAIRCUTS[SETTLEMENT_ASSET], params=params
    )


def bench_account(
    book: dict, data: dict, snapshot_time: int = DEFAULT_SNAPSHOT, account_id: int = 0
) -> Account:
    """One book of the file as an `Account`."""
    spots = {u: Decimal(str(f["spot"])) for u, f in data["market"]["underlyings"].items()}
    acc = Account(account_id=account_id)
    for token, amount in book.get("collateral", {}).items():
        if token == SETTLEMENT_ASSET:
            acc.cash += float(amount)
        else:
            acc.collateral[token] = acc.collateral.get(token, 0.0) + float(amount)
    for pos in book["positions"]:
        feed = FEED_IDS[pos["underlying"]]
        spot = spots[pos["underlying"]]
        if pos["type"] == "perp":
            acc.perps.append(Perp(feed, float(pos["size"]), float(spot)))
        elif pos["type"] == "option":
            acc.options.append(
                Option(
                    feed=feed,
                    strike=float(Decimal(str(pos["strike"])) * spot),
                    expiry=int(snapshot_time + round(pos["expiry_days"] * 86400)),
                    is_call=pos["kind"] == "call",
                    size=float(pos["size"]),
                )
            )
        else:
            raise ValueError(f"unknown position type {pos['type']!r}")
    return acc


def load_bench(
    names: list[str] | None = None,
    snapshot_time: int = DEFAULT_SNAPSHOT,
    path: str | Path | None = None,
    params: MarginParams | None = None,
) -> BenchSet:
    """The named books (default: every portfolio, then every strategy book) at `snapshot_time`."""
    data = read_bench(path)
    books = {**data["portfolios"], **data.get("strategy_books", {})}
    names = list(books) if names is None else list(names)
    market = bench_market(data, snapshot_time, params)
    accounts = [
        bench_account(books[name], data, snapshot_time, account_id=i + 1)
        for i, name in enumerate(names)
    ]
    return BenchSet(market, Portfolios.from_accounts(accounts, market), accounts, names)
