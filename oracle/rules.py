"""A pure-Python mirror of the Oracle's acceptance decision (SPEC §3, docs/DESIGN.md "Oracle").

`evaluate(reports, states, params, block_timestamp)` says what `Oracle.submit(reports)` does in a
block with that timestamp: either `Accepted` with the state it stores for every feed (medians,
observedAt, round, and whether the circuit breaker trips), or `Rejected` with the name and the
arguments of the custom error it reverts with. The relayer uses it to avoid sending a doomed
transaction; the differential test checks it against the contract.

Checks, in the contract's order (contracts/Oracle.sol `_accept`, `_verifiedMedians`), for each report
in submission order (a submission is atomic, and a later report of the same feed is checked against
the state the earlier one stored):
  1. the feed is listed                              UnknownFeed(feedId)
  2. round == stored round + 1 (and fits uint32)     WrongRound(feedId, round, expectedRound)
  3. observedAt > stored observedAt                  ObservationNotNewer(feedId, observedAt, stored)
  4. observedAt <= block.timestamp + maxFutureDrift  ObservationInFuture(feedId, observedAt, latest)
  5. #observations >= quorum                         QuorumNotMet(feedId, n, quorum)
  then for each observation i, in order:
  6. minPrice <= price <= maxPrice (minPrice >= 1)   PriceOutOfBounds(feedId, price, min, max)
  7. 0 < vol <= maxVol                               VolOutOfBounds(feedId, vol, maxVol)
  7b. 0 < volFloor <= maxVol [v2]                    VolFloorOutOfBounds(feedId, volFloor, maxVol)
  8. s <= n/2 (no malleable twin)                    MalleableSignature(feedId, i, s)
  9. ecrecover gives an address                      InvalidSignature(feedId, i)
 10. that address is an authorised signer            UnknownSigner(feedId, signer)
 11. and did not sign this report already            DuplicateSigner(feedId, signer)
 then, once for the report ([v2] observation spread):
 12. every price within maxSpread of the median price, ObservationSpread(feedId, price, medianPrice,
     every vol within maxVolSpread of the median vol     vol, medianVol): the observed price and vol
     (relative: |x - m| * 1e18 > spread * m rejects)     farthest from their medians (lower on ties)
 13. [v2] every vol floor within maxVolSpread of the   VolFloorSpread(feedId, volFloor, medianFloor)
     median floor (relative)
Accepted values: medians of prices, of vols and of vol floors, independently (odd n: the middle one,
even n: the floor of the mean of the two middle ones); the feed stores vol = σ_eff = max(median vol,
median floor) and the raw medians apart (`Accepted.vol_inputs`). Circuit breaker: |S_new - S_old| /
S_old > jumpThreshold trips reduce-only until max(block.timestamp + coolDown, the current end of
reduce-only); a feed's first report never trips. (Settlement prices of registered expiries are not
mirrored.)

[v2] Correlation reports (`Oracle.submitWithCorrelations`: after every price report of the same
submission), each for a pair (feedA, feedB):
  1. both feeds listed and feedA < feedB < 2^128     UnknownPair(feedA, feedB)
  2.-5. as above, on the pair's own rounds, with the pair id feedA << 128 | feedB where the errors
     say feedId (WrongRound, ObservationNotNewer, ObservationInFuture, QuorumNotMet)
  then for each observation: -1e18 <= rho <= 1e18      CorrelationOutOfBounds(feedA, feedB, rho)
  and the signature checks 8.-11. (pair id)
  then |rho - median| <= maxCorrelationSpread (absolute) for all   CorrelationSpread(feedA, feedB,
     rho, medianRho): the rho farthest from the median (lower on ties)
Accepted: the median rho (floor of the mean of the middle two for even n).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from eth_keys import keys
from eth_utils import to_checksum_address

from keel.eip712 import SECP256K1_N
from keel.observations import (
    NO_VOL_FLOOR,
    CorrelationObservation,
    Observation,
    oracle_domain,
    pair_id,
)

WAD = 10**18
HALF_N = SECP256K1_N // 2  # 0x7FFF...5D576E7357A4501DDFE92F46681B20A0: the largest low s
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
UINT32_MAX = 2**32 - 1
UINT128_MAX = 2**128 - 1


@dataclass(frozen=True)
class FeedConfig:
    """A listed feed's acceptance bounds (`Oracle.feedConfig`)."""

    min_price: int  # [wad USD]
    max_price: int  # [wad USD]
    max_vol: int  # [wad]
    listed: bool = True


@dataclass(frozen=True)
class FeedState:
    """`IOracle.FeedState`: the last accepted report (all zero if never reported)."""

    price: int = 0  # [wad USD]
    vol: int = 0  # [wad]
    observed_at: int = 0  # [unix s]
    round: int = 0  # [count]


@dataclass(frozen=True)
class OracleParams:
    chain_id: int
    oracle: str  # verifying contract (checksummed or not)
    signers: frozenset[str]  # authorised signer addresses
    feeds: Mapping[int, FeedConfig]
    quorum: int = 3
    max_future_drift: int = 60  # [s]
    jump_threshold: int = WAD // 5  # [wad] 20%
    cool_down: int = 1800  # [s]
    max_spread: int = WAD // 100  # [wad] 1%: max |price - median| / median
    max_vol_spread: int = WAD // 10  # [wad] 10%: max |vol - median vol| / median vol
    max_correlation_spread: int = WAD // 10  # [wad] 0.10: max |rho - median rho| (absolute) [v2]

    def __post_init__(self) -> None:
        object.__setattr__(self, "signers", frozenset(to_checksum_address(a) for a in self.signers))


@dataclass(frozen=True)
class SignedObservation:
    """One entry of `Report.observations`: (price, vol, volFloor, v, r, s) on chain."""

    price: int  # [wad USD]
    vol: int  # [wad]
    v: int
    r: bytes
    s: bytes
    vol_floor: int = NO_VOL_FLOOR  # [wad] σ_floor [v2]

    def as_tuple(self) -> tuple:
        return (self.price, self.vol, self.vol_floor, self.v, self.r, self.s)


@dataclass(frozen=True)
class SignedCorrelation:
    """[v2] One entry of `CorrelationReport.observations`: (rho, v, r, s)."""

    rho: int  # [wad] signed
    v: int
    r: bytes
    s: bytes

    def as_tuple(self) -> tuple:
        return (self.rho, self.v, self.r, self.s)


@dataclass(frozen=True)
class CorrelationReport:
    """[v2] A pair's report for `Oracle.submitWithCorrelations`."""

    feed_a: int
    feed_b: int
    round: int
    observed_at: int
    observations: Sequence[SignedCorrelation] = field(default_factory=tuple)

    def as_tuple(self) -> tuple:
        return (
            self.feed_a,
            self.feed_b,
            self.round,
            self.observed_at,
            [o.as_tuple() for o in self.observations],
        )


@dataclass(frozen=True)
class CorrelationState:
    """`IOracle.CorrelationState`: a pair's last accepted report (all zero if never reported)."""

    rho: int = 0  # [wad] signed
    observed_at: int = 0  # [unix s]
    round: int = 0  # [count]


@dataclass(frozen=True)
class Report:
    feed_id: int
    round: int
    observed_at: int
    observations: Sequence[SignedObservation] = field(default_factory=tuple)

    def as_tuple(self) -> tuple:
        """The ABI tuple for `Oracle.submit`."""
        return (
            self.feed_id,
            self.round,
            self.observed_at,
            [o.as_tuple() for o in self.observations],
        )


@dataclass(frozen=True)
class Accepted:
    states: dict[int, FeedState]  # every feed's state after the submission (reported ones)
    tripped: dict[int, int]  # feedId -> reduce-only until, for the reports that tripped it
    vol_inputs: dict[int, tuple[int, int]] = field(default_factory=dict)  # feedId -> (σ, σ_floor)
    correlations: dict[int, CorrelationState] = field(default_factory=dict)  # pair id -> state

    ok = True


@dataclass(frozen=True)
class Rejected:
    error: str  # custom error name
    args: tuple  # its arguments (ints, checksummed addresses, bytes32 as bytes)

    ok = False

    def __str__(self) -> str:
        return f"{self.error}({', '.join(_fmt(a) for a in self.args)})"


def _fmt(a) -> str:
    return "0x" + a.hex() if isinstance(a, bytes) else str(a)


def median(values: Iterable[int]) -> int:
    """Median: middle value for odd n, floor of the mean of the two middle values for even n."""
    xs = sorted(values)
    if not xs:
        raise ValueError("median of nothing")
    n = len(xs)
    if n % 2:
        return xs[n // 2]
    return (xs[n // 2 - 1] + xs[n // 2]) // 2


def farthest(values: Iterable[int], m: int) -> tuple[int, int]:
    """(the value farthest from `m`, its distance): of the lowest and the highest value, the one
    farther from `m`, the lowest on a tie (as `Oracle._farthest` on the sorted observations)."""
    xs = sorted(values)
    lo, hi = xs[0], xs[-1]
    return (hi, hi - m) if hi - m > m - lo else (lo, m - lo)


def spread_exceeded(distance: int, m: int, spread: int) -> bool:
    """|x - m| / m > spread, exactly as the contract compares it (distance * 1e18 > spread * m)."""
    return distance * WAD > spread * m


def recover(digest: bytes, v: int, r: bytes, s: bytes) -> str:
    """What the `ecrecover` precompile returns: the signer, or the zero address when invalid."""
    ri, si = int.from_bytes(r, "big"), int.from_bytes(s, "big")
    if v not in (27, 28) or not (0 < ri < SECP256K1_N) or not (0 < si < SECP256K1_N):
        return ZERO_ADDRESS
    try:
        sig = keys.Signature(vrs=(v - 27, ri, si))
        return sig.recover_public_key_from_msg_hash(digest).to_checksum_address()
    except Exception:  # noqa: BLE001 - r is not the x of a curve point, etc.: ecrecover gives 0
        return ZERO_ADDRESS


def trips(old_price: int, new_price: int, jump_threshold: int) -> bool:
    """|new - old| / old > J, exactly (a first report, old = 0, never trips)."""
    if old_price == 0:
        return False
    return abs(new_price - old_price) * WAD > jump_threshold * old_price


def _header(
    rid: int, rnd: int, observed_at: int, st_round: int, st_at: int, n: int, params, ts: int
) -> Rejected | None:
    """The checks every report shares (`Oracle._checkHeader`); `rid` is the feed or pair id."""
    if rnd != st_round + 1 or rnd > UINT32_MAX:
        return Rejected("WrongRound", (rid, rnd, st_round + 1))
    if observed_at <= st_at:
        return Rejected("ObservationNotNewer", (rid, observed_at, st_at))
    latest = ts + params.max_future_drift
    if observed_at > latest:
        return Rejected("ObservationInFuture", (rid, observed_at, latest))
    if n < params.quorum:
        return Rejected("QuorumNotMet", (rid, n, params.quorum))
    return None


def _signer(
    rid: int, i: int, o, digest_of, params, seen: set[str], known_signers
) -> Rejected | None:
    """`Oracle._checkSigner`: low s, recoverable, authorised, not seen (adds it to `seen`)."""
    if int.from_bytes(o.s, "big") > HALF_N:
        return Rejected("MalleableSignature", (rid, i, bytes(o.s)))
    signer = (known_signers or {}).get(bytes(o.r) + bytes(o.s))
    if signer is None:
        signer = recover(digest_of(), o.v, o.r, o.s)
    if signer == ZERO_ADDRESS:
        return Rejected("InvalidSignature", (rid, i))
    if signer not in params.signers:
        return Rejected("UnknownSigner", (rid, signer))
    if signer in seen:
        return Rejected("DuplicateSigner", (rid, signer))
    seen.add(signer)
    return None


def evaluate(
    reports: Sequence[Report],
    states: Mapping[int, FeedState],
    params: OracleParams,
    block_timestamp: int,
    reduce_only_until: Mapping[int, int] | None = None,
    known_signers: Mapping[bytes, str] | None = None,
    correlations: Sequence[CorrelationReport] = (),
    correlation_states: Mapping[int, CorrelationState] | None = None,
) -> Accepted | Rejected:
    """The contract's decision on `submit(reports)` (or, with `correlations`, on
    `submitWithCorrelations(reports, correlations)`) mined at `block_timestamp`.

    `reduce_only_until` (feedId -> end of the current reduce-only period) only matters for the
    `tripped` times when a jump lands inside a running cool-down. `correlation_states` maps pair id
    (`keel.observations.pair_id`) -> the pair's stored state.
    """
    domain = oracle_domain(params.chain_id, to_checksum_address(params.oracle))
    current = dict(states)
    tripped: dict[int, int] = {}
    vol_inputs: dict[int, tuple[int, int]] = {}
    until_by_feed = dict(reduce_only_until or {})
    for rep in reports:
        fid = rep.feed_id
        cfg = params.feeds.get(fid)
        if cfg is None or not cfg.listed:
            return Rejected("UnknownFeed", (fid,))
        st = current.get(fid, FeedState())
        n = len(rep.observations)
        bad = _header(
            fid, rep.round, rep.observed_at, st.round, st.observed_at, n, params, block_timestamp
        )
        if bad:
            return bad
        seen: set[str] = set()
        for i, o in enumerate(rep.observations):
            if not (cfg.min_price <= o.price <= cfg.max_price):
                return Rejected("PriceOutOfBounds", (fid, o.price, cfg.min_price, cfg.max_price))
            if o.vol == 0 or o.vol > cfg.max_vol:
                return Rejected("VolOutOfBounds", (fid, o.vol, cfg.max_vol))
            if o.vol_floor == 0 or o.vol_floor > cfg.max_vol:
                return Rejected("VolFloorOutOfBounds", (fid, o.vol_floor, cfg.max_vol))
            obs = Observation(fid, rep.round, rep.observed_at, o.price, o.vol, o.vol_floor)
            bad = _signer(
                fid, i, o, lambda obs=obs: obs.digest(domain), params, seen, known_signers
            )
            if bad:
                return bad
        price = median(o.price for o in rep.observations)
        vol = median(o.vol for o in rep.observations)
        vol_floor = median(o.vol_floor for o in rep.observations)
        far_price, d_price = farthest((o.price for o in rep.observations), price)
        far_vol, d_vol = farthest((o.vol for o in rep.observations), vol)
        if spread_exceeded(d_price, price, params.max_spread) or spread_exceeded(
            d_vol, vol, params.max_vol_spread
        ):
            return Rejected("ObservationSpread", (fid, far_price, price, far_vol, vol))
        far_floor, d_floor = farthest((o.vol_floor for o in rep.observations), vol_floor)
        if spread_exceeded(d_floor, vol_floor, params.max_vol_spread):
            return Rejected("VolFloorSpread", (fid, far_floor, vol_floor))
        if trips(st.price, price, params.jump_threshold):
            # a second jump during a cool-down extends it, never shortens it
            until = max(block_timestamp + params.cool_down, until_by_feed.get(fid, 0))
            tripped[fid] = until_by_feed[fid] = until
        current[fid] = FeedState(price, max(vol, vol_floor), rep.observed_at, rep.round)
        vol_inputs[fid] = (vol, vol_floor)
    pairs = dict(correlation_states or {})
    listed = {f for f, c in params.feeds.items() if c.listed}
    for rep in correlations:
        a, b = rep.feed_a, rep.feed_b
        if not (a < b <= UINT128_MAX and a in listed and b in listed):
            return Rejected("UnknownPair", (a, b))
        pid = pair_id(a, b)
        st = pairs.get(pid, CorrelationState())
        n = len(rep.observations)
        bad = _header(
            pid, rep.round, rep.observed_at, st.round, st.observed_at, n, params, block_timestamp
        )
        if bad:
            return bad
        seen = set()
        for i, o in enumerate(rep.observations):
            if not -WAD <= o.rho <= WAD:
                return Rejected("CorrelationOutOfBounds", (a, b, o.rho))
            obs = CorrelationObservation(a, b, rep.round, rep.observed_at, o.rho)
            bad = _signer(
                pid, i, o, lambda obs=obs: obs.digest(domain), params, seen, known_signers
            )
            if bad:
                return bad
        # on rho + 1e18 >= 0, as the contract: the median floors the mean of the middle two
        shifted = [o.rho + WAD for o in rep.observations]
        m = median(shifted)
        far, d = farthest(shifted, m)
        if d > params.max_correlation_spread:
            return Rejected("CorrelationSpread", (a, b, far - WAD, m - WAD))
        pairs[pid] = CorrelationState(m - WAD, rep.observed_at, rep.round)
    return Accepted(
        {r.feed_id: current[r.feed_id] for r in reports},
        tripped,
        vol_inputs,
        {pair_id(r.feed_a, r.feed_b): pairs[pair_id(r.feed_a, r.feed_b)] for r in correlations},
    )


def with_state(states: Mapping[int, FeedState], fid: int, **changes) -> dict[int, FeedState]:
    """A copy of `states` with feed `fid` changed (test helper)."""
    out = dict(states)
    out[fid] = replace(out.get(fid, FeedState()), **changes)
    return out
