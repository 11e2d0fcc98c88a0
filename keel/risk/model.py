"""Inputs of the reference risk model: margin parameters, the market state and many portfolios.

Everything is float64 in USD (1.0 = $1), fractions (0.16 = 16%), whole tokens and whole units of
the underlying. Conversions from the chain's wad integers live in `keel.risk.chain_inputs` only.

Underlyings are oracle feeds identified by their feed id (DESIGN.md: 1 = BTC, 2 = ETH by default);
positions and collateral links name the feed id, never a position in some array.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from .black_scholes import SECONDS_PER_YEAR


@dataclass(frozen=True)
class MarginParams:
    """Governance parameters of SPEC §6 (defaults from the SPEC)."""

    r_min: float = 0.16  # lower clamp of the scan range R_u                       [fraction]
    r_max: float = 0.50  # upper clamp of the scan range R_u                       [fraction]
    scan_quantile: float = 2.576  # z of the 99.5% one-sided normal quantile        [1]
    scan_horizon_days: float = 2.0  # √(2/365): two-day move                        [days]
    correlation_credit: float = 0.5  # c: share of the diversification benefit credited [fraction]
    som_rate: float = 0.01  # short-option minimum per unit of |q|·S               [fraction]
    mm_ratio: float = 0.8  # MM = mm_ratio · IM                                    [fraction]
    extended_weight: float = 0.30  # P&L weight of the four extended scenarios      [fraction]
    extended_cap: float = 0.90  # largest extended down move                       [fraction]
    vol_up_floor: float = 0.50  # σ_up is at least this                              [vol]

    def __post_init__(self):
        if not 0.0 <= self.correlation_credit <= 0.8:
            raise ValueError("correlation credit c must lie in [0, 0.8] (SPEC §6)")
        if not 0.0 < self.r_min <= self.r_max:
            raise ValueError("need 0 < R_min <= R_max")


DEFAULT_PARAMS = MarginParams()


@dataclass(frozen=True)
class CollateralToken:
    """A non-settlement collateral asset (SPEC §2), e.g. WETH or WBTC."""

    name: str  # display name or token address
    price: float  # token price                                               [USD per token]
    decimals: int  # the token's own decimals (for chain conversions only)
    linked_feed: int = 0  # feed id whose scenarios move the token (0: none)
    h0: float = 0.05  # base haircut                                           [fraction]
    h_max: float = 0.25  # maximum haircut                                       [fraction]
    sigma_ref: float = 0.80  # reference vol of the dynamic haircut               [vol]


@dataclass(frozen=True)
class MarketState:
    """One oracle round of every feed plus the collateral configuration.

    feed_ids, spot, vol, observed_at are parallel arrays over underlyings ("slots"); option values,
    τ, scan ranges and vol shocks use each feed's own observed_at as valuation time (DESIGN.md).
    settlement_prices maps (feed id, expiry) to the fixed expiry price of SPEC §3.
    [v2] vol is the effective vol σ_eff = max(σ, σ_floor) that the chain uses (chain_inputs takes the
    max of the raw medians); vol_floor keeps σ_floor per slot (0: none published) and correlations
    the oracle's ρ per pair (feedA < feedB) of SPEC §3's correlation feed.
    """

    feed_ids: np.ndarray  # (U,) int64 feed ids, strictly increasing
    spot: np.ndarray  # (U,) spot price S_u                                       [USD]
    vol: np.ndarray  # (U,) annualised ATM implied vol σ_u                         [vol]
    observed_at: np.ndarray  # (U,) observation time of the oracle round       [unix s]
    tokens: tuple[CollateralToken, ...] = ()
    settlement_haircut: float = 0.01  # h0 of the settlement asset, applied to positive cash
    settlement_prices: Mapping[tuple[int, int], float] = field(default_factory=dict)
    params: MarginParams = field(default_factory=MarginParams)
    vol_floor: np.ndarray | None = None  # (U,) σ_floor [vol] (None: none published)
    correlations: Mapping[tuple[int, int], float] = field(default_factory=dict)  # ρ [1]

    @staticmethod
    def build(
        feeds: Mapping[int, tuple[float, float, float]],
        tokens: Sequence[CollateralToken] = (),
        settlement_haircut: float = 0.01,
        settlement_prices: Mapping[tuple[int, int], float] | None = None,
        params: MarginParams | None = None,
        vol_floors: Mapping[int, float] | None = None,
        correlations: Mapping[tuple[int, int], float] | None = None,
    ) -> MarketState:
        """feeds: {feed id: (spot USD, vol, observedAt unix s)}; vol_floors: {feed id: σ_floor}
        (missing feeds: 0); correlations: {(feedA, feedB): ρ} with feedA < feedB."""
        ids = sorted(int(f) for f in feeds)
        for a, b in correlations or {}:
            if not a < b:
                raise ValueError(
                    f"a correlation's pair is (feedA, feedB) with feedA < feedB, got {(a, b)}"
                )
        return MarketState(
            feed_ids=np.array(ids, dtype=np.int64),
            spot=np.array([float(feeds[f][0]) for f in ids]),
            vol=np.array([float(feeds[f][1]) for f in ids]),
            observed_at=np.array([float(feeds[f][2]) for f in ids]),
            tokens=tuple(tokens),
            settlement_haircut=float(settlement_haircut),
            settlement_prices={
                (int(f), int(t)): float(p) for (f, t), p in (settlement_prices or {}).items()
            },
            params=params or MarginParams(),
            vol_floor=None
            if vol_floors is None
            else np.array([float(vol_floors.get(f, 0.0)) for f in ids]),
            correlations={(int(a), int(b)): float(r) for (a, b), r in (correlations or {}).items()},
        )

    @property
    def n_underlyings(self) -> int:
        return len(self.feed_ids)

    def slot(self, feed_ids) -> np.ndarray:
        """Array positions of `feed_ids` in this market; KeyError for an unknown feed."""
        feed_ids = np.asarray(feed_ids, dtype=np.int64)
        pos = np.searchsorted(self.feed_ids, feed_ids)
        pos_c = np.minimum(pos, max(len(self.feed_ids) - 1, 0))
        if len(self.feed_ids) == 0 or np.any(self.feed_ids[pos_c] != feed_ids):
            missing = sorted(set(feed_ids.ravel().tolist()) - set(self.feed_ids.tolist()))
            raise KeyError(f"unknown feed id(s) {missing}")
        return pos_c

    def token_index(self, name: str) -> int:
        for i, t in enumerate(self.tokens):
            if t.name == name:
                return i
        raise KeyError(f"unknown collateral token {name!r}")

    def with_params(self, **changes) -> MarketState:
        return replace(self, params=replace(self.params, **changes))

    def with_feeds(self, spot=None, vol=None, observed_at=None) -> MarketState:
        """A copy with some feed arrays replaced (e.g. a shocked market)."""
        return replace(
            self,
            spot=self.spot if spot is None else np.asarray(spot, float),
            vol=self.vol if vol is None else np.asarray(vol, float),
            observed_at=self.observed_at if observed_at is None else np.asarray(observed_at, float),
        )


@dataclass(frozen=True)
class Perp:
    """A perpetual position (SPEC §4): signed size q, entry price, funding owed (positive = owes)."""

    feed: int
    size: float  # q, + long / − short                                        [units]
    entry: float  # entry price                                                [USD]
    funding_owed: float = 0.0  # accrued funding the account owes              [USD]


@dataclass(frozen=True)
class Option:
    """A European option position (SPEC §4) in series (feed, strike, expiry, call/put)."""

    feed: int
    strike: float  # K                                                          [USD]
    expiry: int  # expiry time                                                  [unix s]
    is_call: bool
    size: float  # q, + long / − short                                        [units]


@dataclass
class Account:
    """One account in plain Python form (the builder's and the tests' input)."""

    account_id: int = 0
    cash: float = 0.0  # effective settlement-asset cash, signed                 [USD]
    collateral: dict[str, float] = field(default_factory=dict)  # token name → whole tokens
    perps: list[Perp] = field(default_factory=list)
    options: list[Option] = field(default_factory=list)


@dataclass(frozen=True)
class Portfolios:
    """Many accounts in columnar (sparse "long") form: one row per position.

    Account index a = 0..N−1 refers to rows of `cash`/`collateral`; `account_ids` carries chain ids.
    Positions in the same series (or perp) may appear on several rows; they simply add up.
    """

    account_ids: np.ndarray  # (N,) int64
    cash: np.ndarray  # (N,) signed cash                                           [USD]
    collateral: np.ndarray  # (N, T) balances in MarketState.tokens order        [tokens]
    perp_account: np.ndarray  # (P,) int64 account index
    perp_feed: np.ndarray  # (P,) int64 feed id
    perp_size: np.ndarray  # (P,) q                                               [units]
    perp_entry: np.ndarray  # (P,) entry price                                    [USD]
    perp_funding_owed: np.ndarray  # (P,) funding owed by the account              [USD]
    opt_account: np.ndarray  # (O,) int64 account index
    opt_feed: np.ndarray  # (O,) int64 feed id
    opt_strike: np.ndarray  # (O,) K                                              [USD]
    opt_expiry: np.ndarray  # (O,) int64 expiry                                   [unix s]
    opt_is_call: np.ndarray  # (O,) bool
    opt_size: np.ndarray  # (O,) q                                                [units]

    @property
    def n_accounts(self) -> int:
        return len(self.cash)

    @staticmethod
    def from_accounts(accounts: Iterable[Account], market: MarketState) -> Portfolios:
        """Columnar portfolios from plain `Account` objects (collateral keyed by token name)."""
        accounts = list(accounts)
        n, n_tok = len(accounts), len(market.tokens)
        collateral = np.zeros((n, n_tok))
        perps, options = [], []
        for a, acc in enumerate(accounts):
            for name, amount in acc.collateral.items():
                collateral[a, market.token_index(name)] += float(amount)
            perps += [(a, p.feed, p.size, p.entry, p.funding_owed) for p in acc.perps]
            options += [(a, o.feed, o.strike, o.expiry, o.is_call, o.size) for o in acc.options]
        pc = list(zip(*perps, strict=True)) if perps else [()] * 5
        oc = list(zip(*options, strict=True)) if options else [()] * 6
        return Portfolios(
            account_ids=np.array(
                [acc.account_id or a + 1 for a, acc in enumerate(accounts)], np.int64
            ),
            cash=np.array([float(acc.cash) for acc in accounts]),
            collateral=collateral,
            perp_account=np.array(pc[0], np.int64),
            perp_feed=np.array(pc[1], np.int64),
            perp_size=np.array(pc[2], float),
            perp_entry=np.array(pc[3], float),
            perp_funding_owed=np.array(pc[4], float),
            opt_account=np.array(oc[0], np.int64),
            opt_feed=np.array(oc[1], np.int64),
            opt_strike=np.array(oc[2], float),
            opt_expiry=np.array(oc[3], np.int64),
            opt_is_call=np.array(oc[4], bool),
            opt_size=np.array(oc[5], float),
        )

    def to_accounts(self, market: MarketState) -> list[Account]:
        """The inverse of `from_accounts` (slow; for printing and scalar cross-checks)."""
        out = [
            Account(
                account_id=int(self.account_ids[a]),
                cash=float(self.cash[a]),
                collateral={
                    t.name: float(self.collateral[a, i])
                    for i, t in enumerate(market.tokens)
                    if self.collateral[a, i] != 0.0
                },
            )
            for a in range(self.n_accounts)
        ]
        for i in range(len(self.perp_account)):
            out[self.perp_account[i]].perps.append(
                Perp(
                    int(self.perp_feed[i]),
                    float(self.perp_size[i]),
                    float(self.perp_entry[i]),
                    float(self.perp_funding_owed[i]),
                )
            )
        for i in range(len(self.opt_account)):
            out[self.opt_account[i]].options.append(
                Option(
                    int(self.opt_feed[i]),
                    float(self.opt_strike[i]),
                    int(self.opt_expiry[i]),
                    bool(self.opt_is_call[i]),
                    float(self.opt_size[i]),
                )
            )
        return out

    def subset(self, indices) -> Portfolios:
        """The accounts at `indices` (in that order), re-indexed 0..len−1."""
        indices = np.asarray(indices, dtype=np.int64).ravel()
        remap = np.full(self.n_accounts, -1, dtype=np.int64)
        if len(np.unique(indices)) != len(indices):
            raise ValueError("subset indices must be distinct")
        remap[indices] = np.arange(len(indices))
        pk = remap[self.perp_account] >= 0
        ok = remap[self.opt_account] >= 0
        return Portfolios(
            account_ids=self.account_ids[indices],
            cash=self.cash[indices],
            collateral=self.collateral[indices],
            perp_account=remap[self.perp_account[pk]],
            perp_feed=self.perp_feed[pk],
            perp_size=self.perp_size[pk],
            perp_entry=self.perp_entry[pk],
            perp_funding_owed=self.perp_funding_owed[pk],
            opt_account=remap[self.opt_account[ok]],
            opt_feed=self.opt_feed[ok],
            opt_strike=self.opt_strike[ok],
            opt_expiry=self.opt_expiry[ok],
            opt_is_call=self.opt_is_call[ok],
            opt_size=self.opt_size[ok],
        )

    def with_positions(
        self,
        perps: Sequence[tuple[int, Perp]] = (),
        options: Sequence[tuple[int, Option]] = (),
        cash_delta: np.ndarray | None = None,
    ) -> Portfolios:
        """A copy with extra (account index, position) rows appended and cash adjusted."""
        pa = np.array([a for a, _ in perps], np.int64)
        oa = np.array([a for a, _ in options], np.int64)
        return replace(
            self,
            cash=self.cash if cash_delta is None else self.cash + cash_delta,
            perp_account=np.concatenate([self.perp_account, pa]),
            perp_feed=np.concatenate([self.perp_feed, [p.feed for _, p in perps]]).astype(np.int64),
            perp_size=np.concatenate([self.perp_size, [p.size for _, p in perps]]),
            perp_entry=np.concatenate([self.perp_entry, [p.entry for _, p in perps]]),
            perp_funding_owed=np.concatenate(
                [self.perp_funding_owed, [p.funding_owed for _, p in perps]]
            ),
            opt_account=np.concatenate([self.opt_account, oa]),
            opt_feed=np.concatenate([self.opt_feed, [o.feed for _, o in options]]).astype(np.int64),
            opt_strike=np.concatenate([self.opt_strike, [o.strike for _, o in options]]),
            opt_expiry=np.concatenate([self.opt_expiry, [o.expiry for _, o in options]]).astype(
                np.int64
            ),
            opt_is_call=np.concatenate([self.opt_is_call, [o.is_call for _, o in options]]).astype(
                bool
            ),
            opt_size=np.concatenate([self.opt_size, [o.size for _, o in options]]),
        )


def time_to_expiry(expiry, observed_at) -> np.ndarray:
    """τ = max(0, expiry − observedAt) / (365·86400) [years] (DESIGN.md "Valuation time")."""
    return (
        np.maximum(0.0, np.asarray(expiry, float) - np.asarray(observed_at, float))
        / SECONDS_PER_YEAR
    )
