"""Everything the invariants need, read in two JSON-RPC batches at one block.

Per account: the margin breakdown (None while a feed it needs is stale), cash, collateral, perp
positions and funding owed, option positions, its auction. Globals: token balances of the vault,
insurance fund, cash index and principal, feeds, marks, funding indices, open interest, settled
sizes and settlement prices of the series, pending oracle expiries, margin parameters.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from keel.client.chain import funding_owed
from tests.stateful.rpc import RpcError
from tests.stateful.world import FEEDS, World


@dataclass
class AccountState:
    id: int
    breakdown: tuple | None  # marginBreakdown, None when it reverted (stale feed)
    cash: int  # [wad USD]
    weth: int  # [token units]
    wbtc: int  # [token units]
    perps: dict  # feed → (size, entryPrice, fundingIndexAtEntry)
    funding_owed: dict  # feed → owed [wad USD]
    options: dict  # seriesId → size [wad units]
    auction: tuple  # (id, startedAt, starterAccount)

    @property
    def fresh(self) -> bool:
        return self.breakdown is not None

    @property
    def E(self) -> int:  # noqa: N802 - SPEC's name
        return self.breakdown[0]

    @property
    def AE(self) -> int:  # noqa: N802
        return self.breakdown[1]

    @property
    def IM(self) -> int:  # noqa: N802
        return self.breakdown[2]

    @property
    def MM(self) -> int:  # noqa: N802
        return self.breakdown[3]

    @property
    def in_auction(self) -> bool:
        return self.auction[0] != 0

    def holdings(self) -> tuple:
        """Everything an account holds, for 'nothing changed' comparisons."""
        return (
            self.cash,
            self.weth,
            self.wbtc,
            tuple(sorted(self.perps.items())),
            tuple(sorted((k, v) for k, v in self.options.items() if v)),
            self.auction,
        )


@dataclass
class Snapshot:
    ts: int  # block time of the read                                              [unix s]
    accounts: dict  # id → AccountState
    vault_balance: dict  # token → units held by the vault
    insurance: int  # [wad USD]
    cash_index: int  # [wad]
    principal: int  # Σ positive cash principal
    feeds: dict  # feed → (price, vol, observedAt, round)
    mark: dict  # feed → the perp market's state (mark, clocks, stored funding index)
    funding_index: dict  # feed → cumulative index now [wad USD/unit]
    open_interest: dict  # instrument → long OI
    settled: dict  # seriesId → Σ settled size
    settlement_price: dict  # seriesId → fixed price (0: not fixed)
    series_count: int
    pending_expiries: dict  # feed → pending expiries in the oracle queue
    params: dict  # margin parameters (INV-4)
    heartbeat: int  # [s]
    # (feedA, feedB) → the Oracle's ρ of each reported pair [wad] (INV-4)
    correlations: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def globals(self) -> tuple:
        return (
            tuple(sorted(self.vault_balance.items())),
            self.insurance,
            self.cash_index,
            self.principal,
            tuple(sorted(self.feeds.items())),
            tuple(sorted(self.mark.items())),
            tuple(sorted(self.open_interest.items())),
            tuple(sorted(self.settled.items())),
            self.series_count,
            tuple(sorted(self.pending_expiries.items())),
        )


STALE_ERRORS = ("StalePrice", "StaleCorrelation")  # a breakdown that needs a stale feed
PAIRS = tuple(itertools.combinations(FEEDS, 2))  # [v2] correlation pairs (feedA < feedB)


def _plain(v):
    return tuple(v) if isinstance(v, (list, tuple)) else v


def read(world: World, block: str = "latest") -> Snapshot:
    c = world.c
    eng, vault, liq, oracle = c["engine"], c["vault"], c["liquidator"], c["oracle"]
    weth, wbtc = c["weth"].address, c["wbtc"].address
    ids = world.ids()
    per = [
        (eng.fn("marginBreakdown"), None),
        (vault.fn("cashOf"), None),
        (vault.fn("collateralBalance"), weth),
        (vault.fn("collateralBalance"), wbtc),
        *[(eng.fn("perpPosition"), f) for f in FEEDS],
        *[(eng.fn("accountSeries"), f) for f in FEEDS],
        (liq.fn("auction"), None),
    ]
    calls = []
    for a in ids:
        for fn, extra in per:
            calls.append((fn, (a,) if extra is None else (a, extra)))
    series = world.series
    g = [
        (c["usdc"].fn("balanceOf"), (vault.address,)),
        (c["weth"].fn("balanceOf"), (vault.address,)),
        (c["wbtc"].fn("balanceOf"), (vault.address,)),
        (vault.fn("insuranceFund"), ()),
        (vault.fn("cashIndex"), ()),
        (vault.fn("totalCashPrincipal"), ()),
        *[(oracle.fn("feed"), (f,)) for f in FEEDS],
        # the perp market (mark, its clock, the stored index); markPrice before the v2 engine
        *[(eng.fn("perpMarkets" if eng.has("perpMarkets") else "markPrice"), (f,)) for f in FEEDS],
        *[(eng.fn("fundingIndex"), (f,)) for f in FEEDS],
        *[(eng.fn("openInterest"), (f,)) for f in FEEDS],
        (c["store"].fn("seriesCount"), ()),
        *[(oracle.fn("pendingExpiries"), (f,)) for f in FEEDS],
        (eng.fn("mmRatio"), ()),
        (eng.fn("somRate"), ()),
        (oracle.fn("heartbeat"), ()),
        *[(oracle.fn("correlation"), pair) for pair in PAIRS],
        *[(eng.fn("settledSize"), (s.id,)) for s in series],
        *[(oracle.fn("settlementPrice"), (s.feed, s.expiry)) for s in series],
        *[(eng.fn("openInterest"), (s.instrument,)) for s in series],
    ]
    out = world.rpc.batch(calls + g, block)
    n = len(per)
    raw = {a: out[k * n : (k + 1) * n] for k, a in enumerate(ids)}
    rest = out[len(ids) * n :]
    for v in rest:
        if isinstance(v, RpcError):
            raise v

    # phase 2: option sizes of the series each account holds
    wanted = []
    for a in ids:
        for sids in raw[a][6:8]:
            wanted += [(a, int(s)) for s in sids]
    sizes = world.rpc.batch([(eng.fn("optionPosition"), (a, s)) for a, s in wanted], block)
    opts: dict = {a: {} for a in ids}
    for (a, s), q in zip(wanted, sizes, strict=True):
        if isinstance(q, RpcError):
            raise q
        opts[a][s] = q

    it = iter(rest)
    bal = {t: next(it) for t in ("usdc", "weth", "wbtc")}
    insurance, index, principal = next(it), next(it), next(it)
    feeds = {f: tuple(next(it)) for f in FEEDS}
    mark = {f: _plain(next(it)) for f in FEEDS}
    fidx = {f: next(it) for f in FEEDS}
    oi = {f: tuple(next(it)) for f in FEEDS}
    series_count = next(it)
    pending = {f: len(next(it)) for f in FEEDS}
    params = {
        "mm_ratio": next(it),
        "som_rate": next(it),
    }
    accounts = {}
    for a in ids:
        r = raw[a]
        for k in range(1, n):
            if isinstance(r[k], RpcError):
                raise r[k]
        bd = None if isinstance(r[0], RpcError) else tuple(r[0])
        if isinstance(r[0], RpcError) and not any(e in str(r[0]) for e in STALE_ERRORS):
            raise r[0]
        accounts[a] = AccountState(
            a,
            bd,
            r[1],
            r[2],
            r[3],
            {f: tuple(r[4 + i]) for i, f in enumerate(FEEDS)},
            # the engine's integer funding rule on its index now (MarginEngine._fundingOwed)
            {f: funding_owed(r[4 + i][0], r[4 + i][2], fidx[f]) for i, f in enumerate(FEEDS)},
            opts[a],
            tuple(r[8]),
        )
    heartbeat = next(it)
    correlations = {pair: int(c[0]) for pair in PAIRS if (c := next(it))[2]}  # reported pairs
    settled = {s.id: next(it) for s in series}
    sprice = {s.id: next(it) for s in series}
    for s in series:
        oi[s.instrument] = tuple(next(it))
    ts = int(world.rpc.request("eth_getBlockByNumber", [block, False])["timestamp"], 16)
    return Snapshot(
        ts,
        accounts,
        bal,
        insurance,
        index,
        principal,
        feeds,
        mark,
        fidx,
        oi,
        settled,
        sprice,
        series_count,
        pending,
        params,
        heartbeat,
        correlations,
    )
