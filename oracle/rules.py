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
  8. s <= n/2 (no malleable twin)                    MalleableSignature(feedId, i, s)
  9. ecrecover gives an address                      InvalidSignature(feedId, i)
 10. that address is an authorised signer            UnknownSigner(feedId, signer)
 11. and did not sign this report already            DuplicateSigner(feedId, signer)
 then, once for the report ([v2] observation spread):
 12. every price within maxSpread of the median price, ObservationSpread(feedId, price, medianPrice,
     every vol within maxVolSpread of the median vol     vol, medianVol): the observed price and vol
     (relative: |x - m| * 1e18 > spread * m rejects)     farthest from their medians (lower on ties)
Accepted values: medians of prices and of vols, independently (odd n: the middle one, even n: the
floor of the mean of the two middle ones). Circuit breaker: |S_new - S_old| / S_old > jumpThreshold
trips reduce-only until max(block.timestamp + coolDown, the current end of reduce-only); a feed's
first report never trips. (Settlement prices of registered expiries are not mirrored.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from eth_keys import keys
from eth_utils import to_checksum_address

from keel.eip712 import SECP256K1_N
from keel.observations import Observation, oracle_domain

WAD = 10**18
HALF_N = SECP256K1_N // 2  # 0x7FFF...5D576E7357A4501DDFE92F46681B20A0: the largest low s
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
UINT32_MAX = 2**32 - 1


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

    def __post_init__(self) -> None:
        object.__setattr__(self, "signers", frozenset(to_checksum_address(a) for a in self.signers))


@dataclass(frozen=True)
class SignedObservation:
    """One entry of `Report.observations`: (price, vol, v, r, s)."""

    price: int
    vol: int
    v: int
    r: bytes
    s: bytes

    def as_tuple(self) -> tuple:
        return (self.price, self.vol, self.v, self.r, self.s)


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


def evaluate(
    reports: Sequence[Report],
    states: Mapping[int, FeedState],
    params: OracleParams,
    block_timestamp: int,
    reduce_only_until: Mapping[int, int] | None = None,
    known_signers: Mapping[bytes, str] | None = None,
) -> Accepted | Rejected:
    """The contract's decision on `submit(reports)` mined at `block_timestamp`.

    `reduce_only_until` (feedId -> end of the current reduce-only period) only matters for the
    `tripped` times when a jump lands inside a running cool-down.
    """
    domain = oracle_domain(params.chain_id, to_checksum_address(params.oracle))
    current = dict(states)
    tripped: dict[int, int] = {}
    until_by_feed = dict(reduce_only_until or {})
    for rep in reports:
        fid = rep.feed_id
        cfg = params.feeds.get(fid)
        if cfg is None or not cfg.listed:
            return Rejected("UnknownFeed", (fid,))
        st = current.get(fid, FeedState())
        if rep.round != st.round + 1 or rep.round > UINT32_MAX:
            return Rejected("WrongRound", (fid, rep.round, st.round + 1))
        if rep.observed_at <= st.observed_at:
            return Rejected("ObservationNotNewer", (fid, rep.observed_at, st.observed_at))
        latest = block_timestamp + params.max_future_drift
        if rep.observed_at > latest:
            return Rejected("ObservationInFuture", (fid, rep.observed_at, latest))
        n = len(rep.observations)
        if n < params.quorum:
            return Rejected("QuorumNotMet", (fid, n, params.quorum))
        seen: set[str] = set()
        for i, o in enumerate(rep.observations):
            if not (cfg.min_price <= o.price <= cfg.max_price):
                return Rejected("PriceOutOfBounds", (fid, o.price, cfg.min_price, cfg.max_price))
            if o.vol == 0 or o.vol > cfg.max_vol:
                return Rejected("VolOutOfBounds", (fid, o.vol, cfg.max_vol))
            if int.from_bytes(o.s, "big") > HALF_N:
                return Rejected("MalleableSignature", (fid, i, bytes(o.s)))
            signer = (known_signers or {}).get(bytes(o.r) + bytes(o.s))
            if signer is None:
                obs = Observation(fid, rep.round, rep.observed_at, o.price, o.vol)
                signer = recover(obs.digest(domain), o.v, o.r, o.s)
            if signer == ZERO_ADDRESS:
                return Rejected("InvalidSignature", (fid, i))
            if signer not in params.signers:
                return Rejected("UnknownSigner", (fid, signer))
            if signer in seen:
                return Rejected("DuplicateSigner", (fid, signer))
            seen.add(signer)
        price = median(o.price for o in rep.observations)
        vol = median(o.vol for o in rep.observations)
        far_price, d_price = farthest((o.price for o in rep.observations), price)
        far_vol, d_vol = farthest((o.vol for o in rep.observations), vol)
        if spread_exceeded(d_price, price, params.max_spread) or spread_exceeded(
            d_vol, vol, params.max_vol_spread
        ):
            return Rejected("ObservationSpread", (fid, far_price, price, far_vol, vol))
        if trips(st.price, price, params.jump_threshold):
            # a second jump during a cool-down extends it, never shortens it
            until = max(block_timestamp + params.cool_down, until_by_feed.get(fid, 0))
            tripped[fid] = until_by_feed[fid] = until
        current[fid] = FeedState(price, vol, rep.observed_at, rep.round)
    return Accepted({r.feed_id: current[r.feed_id] for r in reports}, tripped)


def with_state(states: Mapping[int, FeedState], fid: int, **changes) -> dict[int, FeedState]:
    """A copy of `states` with feed `fid` changed (test helper)."""
    out = dict(states)
    out[fid] = replace(out.get(fid, FeedState()), **changes)
    return out
