"""The one place chain integers become model floats (and model figures are compared with the chain).

The chain reader fills plain ints and dicts shaped like the contracts' structs; field names follow
interfaces/IOracle.sol (FeedState) and interfaces/IVault.sol (AssetConfig):

    feeds      {feedId: {"price": wad, "vol": wad, "observedAt": unix s,
                         "volFloor": wad (optional, [v2])}}                     (or (price, vol, t))
               "vol" is the raw median σ and "volFloor" the raw median σ_floor of the feed's last
               report (`IOracle.volInputs`). As the chain does, the model values options at σ and
               takes σ_eff = max(σ, σ_floor) itself for the scan ranges and haircuts (SPEC §6 [v2];
               the chain's `IOracle.feed(f).vol` is σ_eff). Without "volFloor": σ_eff = σ.
    correlations {(feedA, feedB): ρ wad} for feedA < feedB, the Oracle's last accepted ρ of each
               reported pair ([v2] `IOracle.correlation`). The engine's scan risk is SPEC v2 §6's,
               so every market built here is margined by the v2 rule (MarketState.correlations set,
               empty when no pair was reported: an account that needs a missing pair's ρ is an
               error in the model, as `StaleCorrelation` is on chain).
    tokens     [{"token": name or address, "decimals": int, "priceFeed": feedId (0: $1),
                 "linkedUnderlying": feedId (0: none), "baseHaircut": wad, "maxHaircut": wad,
                 "refVol": wad, "price": wad (optional, default: the price feed's price)}]
    accounts   [{"id": int, "cash": signed wad (effective cash, after the cash index),
                 "collateral": {token: amount in token units},
                 "perps": [{"feedId", "size": signed wad, "entryPrice": wad,
                            "fundingIndexAtEntry": signed wad USD/unit (the model computes
                            funding owed itself, see `funding_from_chain`), or instead
                            "fundingOwed": signed wad, owed by the account (the chain's view)}],
                 "options": [{"feedId", "strike": wad, "expiry": unix s, "isCall": bool,
                              "size": signed wad}]}]
    perp_markets {feedId: {"fundingIndex": signed wad USD/unit, "lastAccrual": unix s,
                           "mark": wad USD (0 before the first fill)}}   (MarginEngine.perpMarkets)

Python's int / int is correctly rounded, so every wad converts to the nearest float64.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields

from .funding import PerpFunding, funding_owed, index_accrued
from .margin import AccountMargin
from .model import (
    Account,
    CollateralToken,
    MarginParams,
    MarketState,
    Option,
    Perp,
    Portfolios,
)

WAD = 10**18
REL_TOL = 1e-9  # SPEC §6 agreement: relative ...
ABS_TOL = 1e-6  # ... or absolute for figures near zero                        [USD]


def from_wad(x: int) -> float:
    """Wad integer (1e18 = 1) → float, correctly rounded."""
    return int(x) / WAD


def from_units(amount: int, decimals: int) -> float:
    """Token amount in the token's own units → whole tokens."""
    return int(amount) / 10 ** int(decimals)


def params_from_chain(params: Mapping[str, int] | None = None) -> MarginParams:
    """MarginParams from wad ints keyed by field name (missing fields keep their defaults)."""
    names = {f.name for f in fields(MarginParams)}
    unknown = set(params or {}) - names
    if unknown:
        raise KeyError(f"unknown margin parameter(s) {sorted(unknown)}")
    return MarginParams(**{k: from_wad(v) for k, v in (params or {}).items()})


def market_from_chain(
    feeds: Mapping[int, Mapping | Sequence],
    tokens: Sequence[Mapping] = (),
    settlement_haircut: int = 10**16,
    settlement_prices: Mapping[tuple[int, int], int] | None = None,
    params: Mapping[str, int] | None = None,
    correlations: Mapping[tuple[int, int], int] | None = None,
) -> MarketState:
    """MarketState from chain integers (see the module docstring for the shapes), margined by the
    v2 rule with `correlations` (default: none reported).

    settlement_haircut: h0 of the settlement asset [wad]; settlement_prices: {(feedId, expiry): wad}
    for the expiries whose price is fixed (IOracle.settlementPrice ≠ 0).
    """
    parsed, floors = {}, {}
    for feed_id, f in feeds.items():
        if isinstance(f, Mapping):
            price, vol, t = f["price"], f["vol"], f["observedAt"]
            floor = f.get("volFloor", 0)
        else:
            price, vol, t = f[0], f[1], f[2]
            floor = 0
        # SPEC §6 [v2]: σ values options, σ_eff = max(σ, σ_floor) (MarketState.vol_eff) sets the
        # scan ranges and haircuts; from_wad is monotone, so the max of the converted medians is
        # the conversion of the chain's max
        parsed[int(feed_id)] = (from_wad(price), from_wad(vol), int(t))
        floors[int(feed_id)] = from_wad(floor)
    out_tokens = []
    for t in tokens:
        feed = int(t.get("priceFeed", 0))
        if "price" in t:
            price = from_wad(t["price"])
        else:
            price = parsed[feed][0] if feed else 1.0
        out_tokens.append(
            CollateralToken(
                name=str(t["token"]),
                price=price,
                decimals=int(t["decimals"]),
                linked_feed=int(t.get("linkedUnderlying", 0)),
                h0=from_wad(t["baseHaircut"]),
                h_max=from_wad(t["maxHaircut"]),
                sigma_ref=from_wad(t["refVol"]),
            )
        )
    return MarketState.build(
        parsed,
        out_tokens,
        settlement_haircut=from_wad(settlement_haircut),
        settlement_prices={k: from_wad(v) for k, v in (settlement_prices or {}).items()},
        params=params_from_chain(params),
        vol_floors=floors,
        correlations={(int(a), int(b)): from_wad(r) for (a, b), r in (correlations or {}).items()},
    )


def market_from_reader(market_ints: tuple) -> MarketState:
    """MarketState from what `keel.client.chain.Reader.market` (or `keel.risk_chain.read_market`)
    returns: (feeds, tokens, settlement haircut, settlement prices, params, correlations) chain
    ints."""
    feeds, tokens, haircut, settled, params, correlations = market_ints
    return market_from_chain(feeds, tokens, haircut, settled, params, correlations)


def funding_from_chain(
    perp_markets: Mapping[int, Mapping], cap_per_hour: int, now: int, market: MarketState
) -> dict[int, tuple[int, float]]:
    """The funding index of each perp market now, as {feedId: (stored index [wad USD/unit],
    growth since its last accrual [USD/unit, float])}: the growth is the model's own (SPEC §4,
    `keel.risk.funding`) from the stored mark, the last accrual time, the spot of `market`, the
    cap [wad per hour] and the time `now` [unix s] (the block's). The stored part stays an integer
    so that a position's index change since entry is exact."""
    cap = from_wad(cap_per_hour)
    out = {}
    for feed, m in perp_markets.items():
        spot = float(market.spot[market.slot(int(feed))])
        state = PerpFunding(int(m["lastAccrual"]), from_wad(m["mark"]), cap)
        out[int(feed)] = (int(m["fundingIndex"]), index_accrued(state, spot, now))
    return out


def _funding_owed(p: Mapping, funding: Mapping[int, tuple[int, float]] | None) -> float:
    """Funding a perp dict owes [USD]: the model's own from its index at entry when `funding`
    inputs are given (the differential test), else the chain's "fundingOwed" when the dict carries
    it (the keepers' and the SDK's reader), else 0 for a dict with neither."""
    feed = int(p["feedId"])
    if "fundingIndexAtEntry" not in p or (funding is None and "fundingOwed" in p):
        return from_wad(p.get("fundingOwed", 0))
    if funding is None or feed not in funding:
        raise KeyError(f"perp on feed {feed} has fundingIndexAtEntry but no funding inputs")
    stored, growth = funding[feed]
    return funding_owed(
        from_wad(p["size"]), from_wad(stored - int(p["fundingIndexAtEntry"])) + growth
    )


def account_from_chain(
    acc: Mapping, market: MarketState, funding: Mapping[int, tuple[int, float]] | None = None
) -> Account:
    """One account dict of chain integers → `Account` (collateral keyed by token name/address);
    `funding` (from `funding_from_chain`) prices perps given by their index at entry."""
    decimals = {t.name: t.decimals for t in market.tokens}
    return Account(
        account_id=int(acc["id"]),
        cash=from_wad(acc.get("cash", 0)),
        collateral={
            str(tok): from_units(amount, decimals[str(tok)])
            for tok, amount in acc.get("collateral", {}).items()
        },
        perps=[
            Perp(
                feed=int(p["feedId"]),
                size=from_wad(p["size"]),
                entry=from_wad(p["entryPrice"]),
                funding_owed=_funding_owed(p, funding),
            )
            for p in acc.get("perps", [])
        ],
        options=[
            Option(
                feed=int(o["feedId"]),
                strike=from_wad(o["strike"]),
                expiry=int(o["expiry"]),
                is_call=bool(o["isCall"]),
                size=from_wad(o["size"]),
            )
            for o in acc.get("options", [])
        ],
    )


def portfolios_from_chain(
    accounts: Sequence[Mapping],
    market: MarketState,
    funding: Mapping[int, tuple[int, float]] | None = None,
) -> Portfolios:
    """Columnar Portfolios from account dicts of chain integers (`funding`: as for
    `account_from_chain`)."""
    return Portfolios.from_accounts(
        [account_from_chain(a, market, funding) for a in accounts], market
    )


def agrees(reference: float, chain: float, rel: float = REL_TOL, abs_tol: float = ABS_TOL) -> bool:
    """SPEC §6 agreement of one figure: within `rel` relative or `abs_tol` USD absolute."""
    diff = abs(reference - chain)
    return diff <= abs_tol or diff <= rel * max(abs(reference), abs(chain))


_BREAKDOWN_FIGURES = ("equity", "adjusted_equity", "im", "mm", "scan_risk", "som", "joint_loss")
# [v2] L_ρ is compared where both sides computed it (the chain reports 0 where SR needs none, and
# the model decides "needs" within DIRECTIONAL_REL: keel.risk.correlation.needs_correlated_loss)


def compare_breakdown(reference: AccountMargin, chain: Mapping) -> list[str]:
    """Mismatches between a reference breakdown and the chain's (empty list: INV-4 holds).

    chain: wad ints keyed like `AccountMargin` (equity, adjusted_equity, im, mm, scan_risk, som,
    joint_loss, optionally joint_worst and correlated_loss) and optionally "underlyings":
    {feedId: (loss wad, worst)}.
    Worst indices are compared only where the loss is not within tolerance of zero.
    """
    out = []
    for name in _BREAKDOWN_FIGURES:
        if name in chain:
            ref, got = getattr(reference, name), from_wad(chain[name])
            if not agrees(ref, got):
                out.append(f"{name}: reference {ref!r} chain {got!r}")
    if "correlated_loss" in chain and reference.correlated_loss:
        ref, got = reference.correlated_loss, from_wad(chain["correlated_loss"])
        if got and not agrees(ref, got):
            out.append(f"correlated_loss: reference {ref!r} chain {got!r}")
    if "joint_worst" in chain and reference.joint_loss > ABS_TOL:
        if int(chain["joint_worst"]) != reference.joint_worst:
            out.append(
                f"joint_worst: reference {reference.joint_worst} chain {chain['joint_worst']}"
            )
    for feed, (loss_wad, worst) in chain.get("underlyings", {}).items():
        ref_loss, ref_worst = reference.underlyings.get(int(feed), (0.0, 0))
        if not agrees(ref_loss, from_wad(loss_wad)):
            out.append(f"L_{feed}: reference {ref_loss!r} chain {from_wad(loss_wad)!r}")
        elif ref_loss > ABS_TOL and int(worst) != ref_worst:
            out.append(f"worst_{feed}: reference {ref_worst} chain {worst}")
    return out
