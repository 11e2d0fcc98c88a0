// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {IOracle, IKeelOracle} from "../interfaces/IOracle.sol";

/// @title Keel oracle: k-of-n signed spot prices and implied vols, one feed per underlying.
/// @notice SPEC §3, docs/DESIGN.md "Oracle". A feed moves through rounds 1, 2, 3, ...; each round is
///         a report signed by at least `quorum` distinct authorised signers, and stores the medians
///         of their prices and vols. Around that:
///         - staleness: a feed is fresh while now - observedAt <= heartbeat;
///         - circuit breaker: a relative price jump above `jumpThreshold` makes the feed reduce-only
///           until now + coolDown (the first report of a feed never trips);
///         - observation spread [v2]: every observation of a report lies within maxSpread of the
///           report's median price and within maxVolSpread (relative) of its median vol. Whoever
///           submits chooses which signed observations form a report; with the spread rule, colluding
///           signers plus copied honest observations move the accepted price by about maxSpread at
///           most, never to any price they like;
///         - threat model [v2]: f faulty or colluding signers are tolerated when quorum >= 2f + 1 and
///           signers >= quorum + f; the signer and quorum setters keep f = `faultTolerance()` >= 1
///           (and the quorum a strict majority of the signers);
///         - expiries: registered expiries wait in a sorted per-feed queue. The first accepted report
///           with observedAt >= expiry passes it: if observedAt <= expiry + settlementWindow it fixes
///           the settlement price, otherwise the expiry's window was missed (`SettlementWindowMissed`)
///           and governance fixes the price from quorum-signed observations of the window
///           (`fixSettlementPrice`). Either way the report moves the queue past it, so a missed
///           expiry never blocks later ones. The earliest pending expiry is cached beside the bounds,
///           so an update with nothing due costs one comparison;
///         - [v2] vol floor (SPEC §6 anti-procyclicality): every observation also carries the
///           signer's σ_floor (bounded and spread-checked like the vol); the feed's vol is
///           σ_eff = max(median σ, median σ_floor), so the engine, the risk arrays, the vault's
///           haircuts and the lens all read σ_eff unchanged; `volInputs` gives the raw medians;
///         - [v2] correlation feed (SPEC §3): a signed ρ per pair of listed feeds (feedA < feedB),
///           under the same quorum, median, spread (absolute, maxCorrelationSpread) and staleness
///           rules, bounded in [-1, 1] (`submitWithCorrelations`, `freshCorrelation`).
/// @dev Storage per feed: `FeedState` (one slot, read and written once per report), `VolInputs` [v2]
///      (one slot, written once per report, read only by its view) and `FeedConfig` (two slots, read
///      once per report, written on a breaker trip or an expiry fix only). Per pair [v2]:
///      `CorrelationState` (one slot). Global: `Params` (one slot, read once per submission) and
///      `Settings` (one slot: heartbeat for the staleness views, the settlement window, the
///      signer-set bookkeeping, the correlation spread).
contract Oracle is IKeelOracle, Ownable2Step, EIP712 {
    // --- Types ---

    /// @dev Governance bounds and per-feed bookkeeping.
    struct FeedConfig {
        uint128 minPrice;        // lowest acceptable observed price                        [wad USD]
        uint128 maxPrice;        // highest acceptable observed price                       [wad USD]
        // --- second slot ---
        uint64 maxVol;           // highest acceptable observed vol                         [wad]
        bool listed;             // added by governance
        uint32 reduceOnlyUntil;  // reduce-only while block.timestamp < this                [unix s]
        uint32 nextExpiry;       // earliest pending expiry, 0: none                        [unix s]
        uint32 expiryHead;       // index in _expiries[feedId] of the first pending expiry  [index]
    }

    /// @dev What a submission needs, packed so that it reads them with one SLOAD (240 bits). The
    ///      narrow fields hold their setter bounds: drift <= 300 s, coolDown <= 1 day (< 2^24 s),
    ///      jumpThreshold <= 1e18, maxSpread <= 0.1e18 and maxVolSpread <= 0.5e18 (< 2^64).
    struct Params {
        uint16 maxFutureDrift;   // max lead of observedAt over the block                   [s]
        uint24 coolDown;         // reduce-only duration after a trip                       [s]
        uint64 jumpThreshold;    // |dS|/S above which the breaker trips                    [wad]
        uint64 maxSpread;        // max |price - median| / median in a report               [wad]
        uint64 maxVolSpread;     // max |vol - median vol| / median vol in a report          [wad]
        uint8 quorum;            // distinct signatures a report needs                      [count]
    }

    /// @dev What submissions do not read on every report: the heartbeat (staleness views), the
    ///      settlement window (read only when an expiry is due) and the signer-set bookkeeping.
    struct Settings {
        uint32 heartbeat;        // max age of a fresh feed                                 [s]
        uint32 settlementWindow; // an expiry's price is fixed by a report observed within  [s]
        uint8 signerCount;       // authorised signers                                      [count]
        uint32 usedIndices;      // bit i set: index i is taken (_signerIndex stores i + 1) [bitmap]
        uint64 maxCorrelationSpread; // [v2] max |rho - median rho| in a report (<= 0.25e18) [wad]
    }

    /// @dev [v2] The raw medians of a feed's last report; the feed stores max(vol, volFloor) in
    ///      `FeedState.vol`, so readers pay nothing for the floor. Their own slot costs a report one
    ///      cold write (FeedConfig's second slot has 88 free bits, and narrowing the 128-bit price
    ///      bounds to make room would narrow what the vault is built and tested to value).
    struct VolInputs {
        uint64 vol;              // median signed vol σ                                     [wad]
        uint64 volFloor;         // median signed vol floor σ_floor                         [wad]
    }

    // --- Constants ---

    /// @dev keccak256 of the EIP-712 type string; must match oracle/report.py OBSERVATION_TYPES.
    bytes32 public constant OBSERVATION_TYPEHASH = keccak256(
        "Observation(uint256 feedId,uint256 round,uint256 observedAt,uint256 price,uint256 vol,uint256 volFloor)"
    );
    /// @dev [v2] keccak256 of the correlation type string; must match keel/observations.py.
    bytes32 public constant CORRELATION_TYPEHASH =
        keccak256("Correlation(uint256 feedA,uint256 feedB,uint256 round,uint256 observedAt,int256 rho)");

    uint256 internal constant WAD = 1e18;
    /// @dev Signer indices are bits of a uint32 bitmap (`usedIndices`, the per-report seen set).
    uint256 public constant MAX_SIGNERS = 32;
    /// @dev Bounds the gas of the report that fixes them all and of the sorted insertion.
    uint256 public constant MAX_PENDING_EXPIRIES = 32;

    bytes32 internal constant HEARTBEAT = "heartbeat";
    bytes32 internal constant MAX_FUTURE_DRIFT = "maxFutureDrift";
    bytes32 internal constant JUMP_THRESHOLD = "jumpThreshold";
    bytes32 internal constant COOL_DOWN = "coolDown";
    bytes32 internal constant MAX_SPREAD = "maxSpread";
    bytes32 internal constant MAX_VOL_SPREAD = "maxVolSpread";
    bytes32 internal constant SETTLEMENT_WINDOW = "settlementWindow";
    bytes32 internal constant MAX_CORRELATION_SPREAD = "maxCorrelationSpread";

    // --- Data ---

    Params internal _params;                                                   // submission parameters
    Settings internal _settings;                                               // heartbeat, window, signer set
    mapping(uint256 => FeedState) internal _feeds;                             // feedId => last accepted state
    mapping(uint256 => FeedConfig) internal _configs;                          // feedId => bounds, bookkeeping
    mapping(uint256 => uint32[]) internal _expiries;                           // feedId => registered expiries, ascending [unix s]
    mapping(uint256 => mapping(uint256 => uint256)) internal _settlementPrices; // feedId => expiry => price [wad USD]
    mapping(address => uint8) internal _signerIndex;                           // signer => index + 1, 0: not a signer
    mapping(address => bool) public override isRegistrar;                      // may register expiries
    mapping(uint256 => VolInputs) internal _volInputs;                         // feedId => raw medians [v2]
    mapping(uint256 => CorrelationState) internal _correlations;               // pair id => last accepted rho [v2]

    // --- Init ---

    /// @param initialOwner governance (Ownable2Step: later transfers must be accepted)
    /// @param signers the initial signer set (distinct, non-zero, at most 32)
    /// @param quorum_ signatures a report needs: tolerates f >= 1 faulty signers (quorum >= 3,
    ///        signers.length >= quorum + 1) and is a strict majority (signers.length < 2 * quorum)
    constructor(address initialOwner, address[] memory signers, uint256 quorum_)
        Ownable(initialOwner)
        EIP712("Keel Oracle", "1")
    {
        _settings.heartbeat = 1 hours;
        _params.maxFutureDrift = 60;
        _params.jumpThreshold = 0.2e18;
        _params.coolDown = 30 minutes;
        _params.maxSpread = 0.01e18;
        _params.maxVolSpread = 0.1e18;
        _settings.settlementWindow = 15 minutes;
        _settings.maxCorrelationSpread = 0.1e18;
        emit ParamSet(HEARTBEAT, 1 hours);
        emit ParamSet(MAX_FUTURE_DRIFT, 60);
        emit ParamSet(JUMP_THRESHOLD, 0.2e18);
        emit ParamSet(COOL_DOWN, 30 minutes);
        emit ParamSet(MAX_SPREAD, 0.01e18);
        emit ParamSet(MAX_VOL_SPREAD, 0.1e18);
        emit ParamSet(SETTLEMENT_WINDOW, 15 minutes);
        emit ParamSet(MAX_CORRELATION_SPREAD, 0.1e18);
        for (uint256 i = 0; i < signers.length; ++i) {
            _addSigner(signers[i]);
        }
        _setQuorum(quorum_);
    }

    // --- Submission ---

    /// @inheritdoc IKeelOracle
    function submit(Report[] calldata reports) external override {
        Params memory p = _params;
        for (uint256 i = 0; i < reports.length; ++i) {
            _accept(reports[i], p);
        }
    }

    /// @inheritdoc IKeelOracle
    function submitWithCorrelations(Report[] calldata reports, CorrelationReport[] calldata correlations)
        external
        override
    {
        Params memory p = _params;
        for (uint256 i = 0; i < reports.length; ++i) {
            _accept(reports[i], p);
        }
        uint256 spread = _settings.maxCorrelationSpread;
        for (uint256 i = 0; i < correlations.length; ++i) {
            _acceptCorrelation(correlations[i], p, spread);
        }
    }

    /// @dev Verifies one report against the stored state and stores its medians.
    function _accept(Report calldata report, Params memory p) internal {
        uint256 feedId = report.feedId;
        FeedConfig memory cfg = _configs[feedId]; // both config slots, read once
        FeedState memory st = _feeds[feedId];
        if (!cfg.listed) revert UnknownFeed(feedId);

        uint256 round = report.round;
        uint256 observedAt = report.observedAt;
        uint256 n = report.observations.length;
        _checkHeader(feedId, round, observedAt, st.round, st.observedAt, n, p);

        (uint256 price, uint256 vol, uint256 volFloor) = _verifiedMedians(report, cfg, p, n);

        // Casts are exact: price <= maxPrice < 2^128, vol and volFloor <= maxVol < 2^64, observedAt
        // is at most maxFutureDrift (<= 5 min) past the block, and uint32 seconds last until 2106.
        // SPEC §6 [v2] anti-procyclicality: the feed's vol, which every consumer reads, is
        // σ_eff = max(σ, σ_floor); the raw medians stay readable (`volInputs`).
        uint256 previousPrice = st.price;
        _feeds[feedId] = FeedState({
            price: uint128(price),
            vol: uint64(vol > volFloor ? vol : volFloor),
            observedAt: uint32(observedAt),
            round: uint32(round)
        });
        _volInputs[feedId] = VolInputs({vol: uint64(vol), volFloor: uint64(volFloor)});
        emit FeedUpdated(feedId, round, price, vol, volFloor, observedAt);

        // Circuit breaker: |S_new - S_old| / S_old > J, compared without division. No overflow:
        // prices are < 2^128 and J <= 1e18 < 2^60. The first report has no previous price.
        if (previousPrice != 0) {
            uint256 move = price > previousPrice ? price - previousPrice : previousPrice - price;
            if (move * WAD > uint256(p.jumpThreshold) * previousPrice) {
                uint256 until = block.timestamp + p.coolDown;
                // A second jump during a cool-down extends it, never shortens it.
                // (uint32: block.timestamp + 1 day fits until 2106.)
                if (until < cfg.reduceOnlyUntil) until = cfg.reduceOnlyUntil;
                _configs[feedId].reduceOnlyUntil = uint32(until);
                emit CircuitBreakerTripped(feedId, previousPrice, price, until);
            }
        }

        // Expiries: O(1) unless one is due.
        uint256 next = cfg.nextExpiry;
        if (next != 0 && observedAt >= next) _fixExpiries(feedId, price, observedAt, round);
    }

    /// @dev The checks every report shares (price and correlation; `id` is the feed or pair id),
    ///      in this order: consecutive round, newer observation, not too far ahead, quorum.
    function _checkHeader(
        uint256 id,
        uint256 round,
        uint256 observedAt,
        uint256 storedRound,
        uint256 storedAt,
        uint256 n,
        Params memory p
    ) internal view {
        // Rounds are consecutive: a replayed or skipped round is rejected. The uint32 check keeps the
        // stored casts exact (2^32 rounds at one per second would take 136 years).
        if (round != storedRound + 1 || round > type(uint32).max) revert WrongRound(id, round, storedRound + 1);
        // Observations only move forward in time, and at most maxFutureDrift ahead of the block.
        if (observedAt <= storedAt) revert ObservationNotNewer(id, observedAt, storedAt);
        if (observedAt > block.timestamp + p.maxFutureDrift) {
            revert ObservationInFuture(id, observedAt, block.timestamp + p.maxFutureDrift);
        }
        if (n < p.quorum) revert QuorumNotMet(id, n, p.quorum);
    }

    /// @dev Checks every observation (bounds, signature, distinct authorised signer) and returns the
    ///      medians of prices, vols and vol floors, each sorted independently by insertion into
    ///      memory arrays, after checking the observation spread around them.
    function _verifiedMedians(Report calldata report, FeedConfig memory cfg, Params memory p, uint256 n)
        internal
        view
        returns (uint256 price, uint256 vol, uint256 volFloor)
    {
        uint256[] memory prices = new uint256[](n);
        uint256[] memory vols = new uint256[](n);
        uint256[] memory floors = new uint256[](n);
        uint256 seen; // bit i set: the signer with index i already signed this report
        for (uint256 i = 0; i < n; ++i) {
            SignedObservation calldata o = report.observations[i];
            seen = _checkObservation(report, o, cfg, i, seen);
            _insertSorted(prices, i, o.price);
            _insertSorted(vols, i, o.vol);
            _insertSorted(floors, i, o.volFloor);
        }
        price = _median(prices);
        vol = _median(vols);
        volFloor = _median(floors);

        // SPEC §3 [v2] observation spread: every price within maxSpread of the median price and every
        // vol within maxVolSpread of the median vol (relative), so that the submitter's choice of
        // observations cannot carry a minority's values. The sorted ends are the farthest from the
        // median, so two comparisons check them all.
        (uint256 farPrice, uint256 dPrice) = _farthest(prices, price);
        (uint256 farVol, uint256 dVol) = _farthest(vols, vol);
        unchecked {
            // No overflow: prices and vols are below 2^128 (bounds), WAD and the spreads below 2^60.
            if (dPrice * WAD > uint256(p.maxSpread) * price || dVol * WAD > uint256(p.maxVolSpread) * vol) {
                revert ObservationSpread(report.feedId, farPrice, price, farVol, vol);
            }
        }
        // [v2] the floor is a vol: the same relative spread around its median (floors < 2^64)
        (farVol, dVol) = _farthest(floors, volFloor);
        unchecked {
            if (dVol * WAD > uint256(p.maxVolSpread) * volFloor) revert VolFloorSpread(report.feedId, farVol, volFloor);
        }
    }

    /// @dev One observation of a price report: bounds (SPEC §3: zero or out-of-bounds values are
    ///      rejected; minPrice >= 1), then its signature; returns `seen` with its signer's bit.
    function _checkObservation(
        Report calldata report,
        SignedObservation calldata o,
        FeedConfig memory cfg,
        uint256 i,
        uint256 seen
    ) internal view returns (uint256) {
        uint256 oPrice = o.price;
        uint256 oVol = o.vol;
        uint256 oFloor = o.volFloor;
        if (oPrice < cfg.minPrice || oPrice > cfg.maxPrice) {
            revert PriceOutOfBounds(report.feedId, oPrice, cfg.minPrice, cfg.maxPrice);
        }
        if (oVol == 0 || oVol > cfg.maxVol) revert VolOutOfBounds(report.feedId, oVol, cfg.maxVol);
        // [v2] the floor is a vol: bounded like one
        if (oFloor == 0 || oFloor > cfg.maxVol) revert VolFloorOutOfBounds(report.feedId, oFloor, cfg.maxVol);
        bytes32 digest = _observationDigest(report.feedId, report.round, report.observedAt, oPrice, oVol, oFloor);
        return _checkSigner(report.feedId, digest, o.v, o.r, o.s, i, seen);
    }

    /// @dev SPEC §3 [v2] correlation feed: one pair's report, under the price reports' rules (see
    ///      IKeelOracle). The pair id feedA << 128 | feedB keys its state and names it in the shared
    ///      header and signature errors. Medians and spreads work on rho + 1e18 in [0, 2e18], so the
    ///      unsigned sort, median (floor of the mean of the middle two) and farthest end serve as is.
    function _acceptCorrelation(CorrelationReport calldata report, Params memory p, uint256 maxSpread_) internal {
        uint256 a = report.feedA;
        uint256 b = report.feedB;
        // "for each pair of listed underlyings", named once: a < b
        if (a >= b || b > type(uint128).max || !_configs[a].listed || !_configs[b].listed) revert UnknownPair(a, b);
        uint256 id = (a << 128) | b;
        CorrelationState memory st = _correlations[id];
        uint256 round = report.round;
        uint256 observedAt = report.observedAt;
        uint256 n = report.observations.length;
        _checkHeader(id, round, observedAt, st.round, st.observedAt, n, p);

        uint256[] memory shifted = new uint256[](n); // rho + 1e18
        uint256 seen; // bit i set: the signer with index i already signed this report
        for (uint256 i = 0; i < n; ++i) {
            SignedCorrelation calldata o = report.observations[i];
            int256 rho = o.rho;
            if (rho < -int256(WAD) || rho > int256(WAD)) revert CorrelationOutOfBounds(a, b, rho);
            seen = _checkSigner(id, _correlationDigest(a, b, round, observedAt, rho), o.v, o.r, o.s, i, seen);
            _insertSorted(shifted, i, uint256(rho + int256(WAD)));
        }
        uint256 m = _median(shifted);
        (uint256 far, uint256 d) = _farthest(shifted, m);
        // All in [0, 2e18]: the casts and the differences are exact.
        int256 median = int256(m) - int256(WAD);
        if (d > maxSpread_) revert CorrelationSpread(a, b, int256(far) - int256(WAD), median);
        _correlations[id] =
            CorrelationState({rho: int64(median), observedAt: uint32(observedAt), round: uint32(round)});
        emit CorrelationUpdated(a, b, round, median, observedAt);
    }

    /// @dev The end of ascending `a` farthest from its median `m` (the low end on a tie), and its
    ///      distance |end - m|. `a` is not empty (a report has >= quorum >= 3 observations); the
    ///      ends are read in assembly: with bounds checks (and checked arithmetic) the rule cost 3x.
    function _farthest(uint256[] memory a, uint256 m) internal pure returns (uint256 far, uint256 d) {
        uint256 lo;
        uint256 hi;
        assembly ("memory-safe") {
            // a[0] and a[a.length - 1]
            lo := mload(add(a, 0x20))
            hi := mload(add(a, shl(5, mload(a))))
        }
        unchecked {
            // lo <= m <= hi: no underflow
            (far, d) = hi - m > m - lo ? (hi, hi - m) : (lo, m - lo);
        }
    }

    /// @dev `seen` with observation `i`'s signer bit (1 << signer index) added; reverts unless (v, r, s)
    ///      is a valid low-s signature of `digest` by an authorised signer not in `seen` yet. `id`
    ///      names the report (feed or pair id) in the errors.
    function _checkSigner(uint256 id, bytes32 digest, uint8 v, bytes32 r, bytes32 s, uint256 i, uint256 seen)
        internal
        view
        returns (uint256)
    {
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, v, r, s);
        if (err == ECDSA.RecoverError.InvalidSignatureS) revert MalleableSignature(id, i, s);
        if (err != ECDSA.RecoverError.NoError) revert InvalidSignature(id, i);
        uint256 index = _signerIndex[signer];
        if (index == 0) revert UnknownSigner(id, signer);
        uint256 bit = 1 << index; // index in [1, 32]
        if (seen & bit != 0) revert DuplicateSigner(id, signer);
        return seen | bit;
    }

    /// @dev Inserts `x` into the ascending prefix a[0..len) (a has room for it).
    function _insertSorted(uint256[] memory a, uint256 len, uint256 x) internal pure {
        uint256 j = len;
        while (j > 0 && a[j - 1] > x) {
            a[j] = a[j - 1];
            --j;
        }
        a[j] = x;
    }

    /// @dev Median of an ascending array: the middle element for odd n, the floor of the mean of the
    ///      two middle ones for even n (DESIGN "Oracle"). Written as lo + (hi - lo) / 2: no overflow.
    function _median(uint256[] memory a) internal pure returns (uint256) {
        uint256 n = a.length;
        uint256 mid = n / 2;
        if (n % 2 == 1) return a[mid];
        uint256 lo = a[mid - 1];
        return lo + (a[mid] - lo) / 2;
    }

    /// @dev Passes every pending expiry <= observedAt: fixes its settlement price when observedAt lies
    ///      within its settlement window, else records the miss; then caches the next pending expiry.
    function _fixExpiries(uint256 feedId, uint256 price, uint256 observedAt, uint256 round) internal {
        FeedConfig storage cfg = _configs[feedId];
        uint32[] storage queue = _expiries[feedId];
        mapping(uint256 => uint256) storage prices = _settlementPrices[feedId];
        uint256 window = _settings.settlementWindow;
        uint256 head = cfg.expiryHead;
        uint256 len = queue.length;
        while (head < len) {
            uint256 expiry = queue[head];
            if (expiry > observedAt) break;
            // Governance may have fixed a missed expiry before any report passed it: leave it alone.
            if (prices[expiry] == 0) {
                // SPEC §3 [v2] settlement window: only a report observed within settlementWindow after
                // the expiry fixes its price; a later one (chosen by its submitter) never does.
                if (observedAt - expiry <= window) {
                    prices[expiry] = price;
                    emit SettlementPriceFixed(feedId, expiry, price, round);
                } else {
                    emit SettlementWindowMissed(feedId, expiry, observedAt);
                }
            }
            // Passed either way: a missed expiry must not hold back the later ones.
            ++head;
        }
        // head <= len <= expiries ever registered, far below 2^32.
        cfg.expiryHead = uint32(head);
        cfg.nextExpiry = head < len ? queue[head] : 0;
    }

    // --- Settlement by governance ---

    /// @inheritdoc IKeelOracle
    function fixSettlementPrice(uint256 feedId, uint256 expiry, Report calldata report)
        external
        override
        onlyOwner
    {
        FeedConfig memory cfg = _configs[feedId];
        if (!cfg.listed) revert UnknownFeed(feedId);
        if (report.feedId != feedId) revert ReportFeedMismatch(feedId, report.feedId);
        // Expiries are 32-bit timestamps (registerExpiry); this also keeps expiry + window exact.
        if (expiry > type(uint32).max) revert ExpiryOutOfRange(expiry);
        // No replay: a fixed settlement price never changes.
        uint256 fixedPrice = _settlementPrices[feedId][expiry];
        if (fixedPrice != 0) revert SettlementPriceAlreadyFixed(feedId, expiry, fixedPrice);
        // SPEC §3 [v2]: governance steps in only once the window passed without an on-time report.
        uint256 windowEnd = expiry + _settings.settlementWindow;
        if (block.timestamp <= windowEnd) revert SettlementWindowOpen(feedId, expiry, windowEnd);
        // The price must come from observations of the window, like an on-time report's.
        uint256 observedAt = report.observedAt;
        if (observedAt < expiry || observedAt > windowEnd) {
            revert ObservationOutsideSettlementWindow(feedId, expiry, observedAt, windowEnd);
        }
        Params memory p = _params;
        uint256 n = report.observations.length;
        if (n < p.quorum) revert QuorumNotMet(feedId, n, p.quorum);
        // Same signatures, bounds and spread rules as a feed update. The round is only part of the
        // signed message: observations signed for any round of the feed are accepted (those of a
        // round that never landed, or signed afterwards for the window, e.g. with round 0).
        (uint256 price,,) = _verifiedMedians(report, cfg, p, n);
        _settlementPrices[feedId][expiry] = price;
        emit SettlementPriceFixedByGovernance(feedId, expiry, price, observedAt, report.round, msg.sender);
    }

    // --- Expiries ---

    /// @inheritdoc IKeelOracle
    function registerExpiry(uint256 feedId, uint256 expiry) external override {
        // INV-7: only governance and the registrars it authorised (the margin engine) add expiries.
        if (msg.sender != owner() && !isRegistrar[msg.sender]) revert NotRegistrar(msg.sender);
        FeedConfig storage cfg = _configs[feedId];
        if (!cfg.listed) revert UnknownFeed(feedId);
        // A price observed at or after the expiry is already stored: no later report could fix it.
        uint256 lastObserved = _feeds[feedId].observedAt;
        if (expiry <= lastObserved) revert ExpiryAlreadyObserved(feedId, expiry, lastObserved);
        if (expiry > type(uint32).max) revert ExpiryOutOfRange(expiry);

        uint32[] storage queue = _expiries[feedId];
        uint256 head = cfg.expiryHead;
        uint256 len = queue.length;
        // Scan from the end: new expiries are usually the latest, so this is O(1) in practice.
        uint256 j = len;
        while (j > head && queue[j - 1] >= expiry) {
            if (queue[j - 1] == expiry) return; // already pending: nothing to do
            --j;
        }
        if (len - head >= MAX_PENDING_EXPIRIES) revert TooManyPendingExpiries(feedId, MAX_PENDING_EXPIRIES);
        queue.push();
        for (uint256 k = len; k > j; --k) {
            queue[k] = queue[k - 1];
        }
        queue[j] = uint32(expiry);
        if (j == head) cfg.nextExpiry = uint32(expiry);
        emit ExpiryRegistered(feedId, expiry);
    }

    // --- Governance ---

    /// @inheritdoc IKeelOracle
    function addFeed(uint256 feedId, uint256 minPrice, uint256 maxPrice, uint256 maxVol)
        external
        override
        onlyOwner
    {
        // Feed id 0 means "no feed" across Keel (e.g. the settlement asset's fixed $1 price).
        if (feedId == 0) revert InvalidFeedId(feedId);
        FeedConfig storage cfg = _configs[feedId];
        if (cfg.listed) revert FeedExists(feedId);
        _setBounds(cfg, minPrice, maxPrice, maxVol);
        cfg.listed = true;
        emit FeedAdded(feedId, minPrice, maxPrice, maxVol);
    }

    /// @inheritdoc IKeelOracle
    function setFeedBounds(uint256 feedId, uint256 minPrice, uint256 maxPrice, uint256 maxVol)
        external
        override
        onlyOwner
    {
        FeedConfig storage cfg = _configs[feedId];
        if (!cfg.listed) revert UnknownFeed(feedId);
        _setBounds(cfg, minPrice, maxPrice, maxVol);
        emit FeedBoundsSet(feedId, minPrice, maxPrice, maxVol);
    }

    /// @dev minPrice >= 1 so that a zero price is always rejected (SPEC §3); maxPrice and maxVol fit
    ///      the FeedState fields (uint128, uint64), so an accepted median is stored exactly; maxVol >= 1
    ///      or no vol could be accepted.
    function _setBounds(FeedConfig storage cfg, uint256 minPrice, uint256 maxPrice, uint256 maxVol) internal {
        if (minPrice == 0 || minPrice > maxPrice || maxPrice > type(uint128).max || maxVol == 0 || maxVol > type(uint64).max)
        {
            revert InvalidBounds(minPrice, maxPrice, maxVol);
        }
        cfg.minPrice = uint128(minPrice);
        cfg.maxPrice = uint128(maxPrice);
        cfg.maxVol = uint64(maxVol);
    }

    /// @inheritdoc IKeelOracle
    function setSigner(address signer, bool authorised) external override onlyOwner {
        if (authorised) {
            _addSigner(signer);
        } else {
            uint256 index = _signerIndex[signer];
            if (index == 0) revert SignerUnchanged(signer, false);
            delete _signerIndex[signer];
            _settings.usedIndices &= ~uint32(1 << (index - 1));
            --_settings.signerCount;
            emit SignerSet(signer, false, _settings.signerCount);
        }
        // The quorum rule must hold for the new signer set; change the quorum first when growing
        // past 2q - 1 signers, and add a signer before removing one when at q + 1 signers.
        _checkQuorum(_params.quorum, _settings.signerCount);
    }

    /// @dev Gives `signer` the lowest free index (bits of `usedIndices`); index + 1 is stored.
    function _addSigner(address signer) internal {
        if (signer == address(0)) revert InvalidSigner(signer);
        if (_signerIndex[signer] != 0) revert SignerUnchanged(signer, true);
        uint256 used = _settings.usedIndices;
        if (_settings.signerCount >= MAX_SIGNERS) revert TooManySigners(MAX_SIGNERS);
        uint256 index = 0;
        while (used & (1 << index) != 0) ++index; // a free index < 32 exists: count < 32
        _signerIndex[signer] = uint8(index + 1);
        _settings.usedIndices = uint32(used | (1 << index));
        ++_settings.signerCount;
        emit SignerSet(signer, true, _settings.signerCount);
    }

    /// @inheritdoc IKeelOracle
    function setQuorum(uint256 quorum_) external override onlyOwner {
        _setQuorum(quorum_);
    }

    function _setQuorum(uint256 quorum_) internal {
        _checkQuorum(quorum_, _settings.signerCount);
        _params.quorum = uint8(quorum_); // <= signerCount <= 32
        emit QuorumSet(quorum_);
    }

    /// @dev SPEC §3 [v2] threat model: the set must tolerate f >= 1 faulty or colluding signers, i.e.
    ///      quorum >= 3 (a quorum has f + 1 honest signatures) and signerCount >= quorum + 1 (the
    ///      honest signers reach quorum without the faulty one); and 2 * quorum > signerCount (a strict
    ///      majority: two disjoint signer groups cannot both reach quorum).
    function _checkQuorum(uint256 quorum_, uint256 count) internal pure {
        if (_faultTolerance(quorum_, count) == 0 || 2 * quorum_ <= count) revert InvalidQuorum(quorum_, count);
    }

    /// @dev The largest f with quorum >= 2f + 1 and count >= quorum + f (0 when quorum is 0 or
    ///      unreachable).
    function _faultTolerance(uint256 quorum_, uint256 count) internal pure returns (uint256) {
        if (quorum_ == 0 || quorum_ > count) return 0;
        uint256 byQuorum = (quorum_ - 1) / 2;
        uint256 bySigners = count - quorum_;
        return byQuorum < bySigners ? byQuorum : bySigners;
    }

    /// @inheritdoc IKeelOracle
    function setParam(bytes32 what, uint256 value) external override onlyOwner {
        if (what == HEARTBEAT) {
            // >= 1 min: relayers cannot push faster than blocks land; <= 1 day: margin must not run on
            // prices older than a day.
            _checkParam(what, value, 1 minutes, 1 days);
            _settings.heartbeat = uint32(value);
        } else if (what == MAX_FUTURE_DRIFT) {
            // <= 5 min: a far-future report would block every honest report dated before it and fix
            // expiry prices early; 0 allowed (signers' clocks never ahead of the chain).
            _checkParam(what, value, 0, 5 minutes);
            _params.maxFutureDrift = uint16(value);
        } else if (what == JUMP_THRESHOLD) {
            // >= 1%: below that ordinary noise would keep markets reduce-only; <= 100%: above it no
            // fall (at most -100%) could ever trip the breaker.
            _checkParam(what, value, 0.01e18, 1e18);
            _params.jumpThreshold = uint64(value);
        } else if (what == COOL_DOWN) {
            // >= 1 min: the breaker cannot be silently disabled; <= 1 day: users must not be kept from
            // adding hedges for longer than that (liquidations run regardless).
            _checkParam(what, value, 1 minutes, 1 days);
            _params.coolDown = uint24(value);
        } else if (what == MAX_SPREAD) {
            // >= 0.1%: honest sources disagree by more than that in a fast market, and a report must
            // still pass; <= 10%: colluders with copied honest observations move the accepted price
            // by about maxSpread, which must stay well inside the 20% breaker and the margin scans.
            _checkParam(what, value, 0.001e18, 0.1e18);
            _params.maxSpread = uint64(value);
        } else if (what == MAX_VOL_SPREAD) {
            // >= 1%: vol sources (venues, strikes, EWMA vs implied) disagree by more than prices do;
            // <= 50%: beyond that a minority could halve the vol that scales margin.
            _checkParam(what, value, 0.01e18, 0.5e18);
            _params.maxVolSpread = uint64(value);
        } else if (what == SETTLEMENT_WINDOW) {
            // >= 1 min: an on-time report must be able to land (blocks, maxFutureDrift); <= 1 h: a
            // price observed later than that is no longer the expiry's price.
            _checkParam(what, value, 1 minutes, 1 hours);
            _settings.settlementWindow = uint32(value);
        } else if (what == MAX_CORRELATION_SPREAD) {
            // [v2] absolute. >= 0.01: EWMA correlations of one pair from different signers' data differ
            // by more than that; <= 0.25: colluders with copied honest observations move the accepted
            // rho by about this much, and the stressed rho_s = max(2 rho - 1, 0.75 rho) of SPEC §6
            // doubles a move, so its bias stays within 0.5 (half the way from independence to
            // comonotone).
            _checkParam(what, value, 0.01e18, 0.25e18);
            _settings.maxCorrelationSpread = uint64(value);
        } else {
            revert UnknownParam(what);
        }
        emit ParamSet(what, value);
    }

    function _checkParam(bytes32 what, uint256 value, uint256 min, uint256 max) internal pure {
        if (value < min || value > max) revert ParamOutOfBounds(what, value, min, max);
    }

    /// @inheritdoc IKeelOracle
    function setRegistrar(address registrar, bool authorised) external override onlyOwner {
        isRegistrar[registrar] = authorised;
        emit RegistrarSet(registrar, authorised);
    }

    // --- Views ---

    /// @inheritdoc IOracle
    function feed(uint256 feedId) external view override returns (FeedState memory) {
        return _feeds[feedId];
    }

    /// @inheritdoc IOracle
    function freshFeed(uint256 feedId)
        external
        view
        override
        returns (uint256 priceWad, uint256 volWad, uint256 observedAt)
    {
        FeedState memory st = _feeds[feedId];
        if (_stale(st.observedAt)) revert StalePrice(feedId, st.observedAt, block.timestamp);
        return (st.price, st.vol, st.observedAt);
    }

    /// @inheritdoc IOracle
    function volInputs(uint256 feedId) external view override returns (uint256 volWad, uint256 volFloorWad) {
        VolInputs memory v = _volInputs[feedId];
        return (v.vol, v.volFloor);
    }

    /// @inheritdoc IOracle
    function correlation(uint256 feedA, uint256 feedB) external view override returns (CorrelationState memory) {
        return _correlations[_pairId(feedA, feedB)];
    }

    /// @inheritdoc IOracle
    function freshCorrelation(uint256 feedA, uint256 feedB)
        external
        view
        override
        returns (int256 rhoWad, uint256 observedAt)
    {
        CorrelationState memory st = _correlations[_pairId(feedA, feedB)];
        if (_stale(st.observedAt)) revert StaleCorrelation(feedA, feedB, st.observedAt, block.timestamp);
        return (st.rho, st.observedAt);
    }

    /// @dev The key of a pair in either order: lower << 128 | higher, or 0 (never written) when the
    ///      higher id does not fit 128 bits (no such pair can be reported).
    function _pairId(uint256 a, uint256 b) internal pure returns (uint256) {
        (uint256 lo, uint256 hi) = a < b ? (a, b) : (b, a);
        return hi > type(uint128).max ? 0 : (lo << 128) | hi;
    }

    /// @inheritdoc IOracle
    function isStale(uint256 feedId) external view override returns (bool) {
        return _stale(_feeds[feedId].observedAt);
    }

    /// @dev Never reported (observedAt 0) or now - observedAt > heartbeat. Written as a sum because
    ///      observedAt may be up to maxFutureDrift ahead of the block.
    function _stale(uint256 observedAt) internal view returns (bool) {
        return observedAt == 0 || block.timestamp > observedAt + _settings.heartbeat;
    }

    /// @inheritdoc IOracle
    function isReduceOnly(uint256 feedId) external view override returns (bool) {
        return block.timestamp < _configs[feedId].reduceOnlyUntil;
    }

    /// @inheritdoc IOracle
    function settlementPrice(uint256 feedId, uint256 expiry) external view override returns (uint256) {
        return _settlementPrices[feedId][expiry];
    }

    /// @inheritdoc IKeelOracle
    function feedConfig(uint256 feedId)
        external
        view
        override
        returns (uint256 minPrice, uint256 maxPrice, uint256 maxVol, bool listed)
    {
        FeedConfig storage cfg = _configs[feedId];
        return (cfg.minPrice, cfg.maxPrice, cfg.maxVol, cfg.listed);
    }

    /// @inheritdoc IKeelOracle
    function reduceOnlyUntil(uint256 feedId) external view override returns (uint256) {
        return _configs[feedId].reduceOnlyUntil;
    }

    /// @inheritdoc IKeelOracle
    function pendingExpiries(uint256 feedId) external view override returns (uint256[] memory out) {
        uint32[] storage queue = _expiries[feedId];
        mapping(uint256 => uint256) storage prices = _settlementPrices[feedId];
        uint256 head = _configs[feedId].expiryHead;
        out = new uint256[](queue.length - head);
        uint256 k = 0;
        for (uint256 i = head; i < queue.length; ++i) {
            // Skip an expiry governance already fixed: the next report passes it silently.
            if (prices[queue[i]] == 0) out[k++] = queue[i];
        }
        assembly ("memory-safe") {
            mstore(out, k) // shrink to the unfixed ones (k <= the allocated length)
        }
    }

    /// @inheritdoc IKeelOracle
    function heartbeat() external view override returns (uint256) {
        return _settings.heartbeat;
    }

    /// @inheritdoc IKeelOracle
    function maxFutureDrift() external view override returns (uint256) {
        return _params.maxFutureDrift;
    }

    /// @inheritdoc IKeelOracle
    function jumpThreshold() external view override returns (uint256) {
        return _params.jumpThreshold;
    }

    /// @inheritdoc IKeelOracle
    function coolDown() external view override returns (uint256) {
        return _params.coolDown;
    }

    /// @inheritdoc IKeelOracle
    function quorum() external view override returns (uint256) {
        return _params.quorum;
    }

    /// @inheritdoc IKeelOracle
    function signerCount() external view override returns (uint256) {
        return _settings.signerCount;
    }

    /// @inheritdoc IKeelOracle
    function faultTolerance() external view override returns (uint256) {
        return _faultTolerance(_params.quorum, _settings.signerCount);
    }

    /// @inheritdoc IKeelOracle
    function maxSpread() external view override returns (uint256) {
        return _params.maxSpread;
    }

    /// @inheritdoc IKeelOracle
    function maxVolSpread() external view override returns (uint256) {
        return _params.maxVolSpread;
    }

    /// @inheritdoc IKeelOracle
    function settlementWindow() external view override returns (uint256) {
        return _settings.settlementWindow;
    }

    /// @inheritdoc IKeelOracle
    function maxCorrelationSpread() external view override returns (uint256) {
        return _settings.maxCorrelationSpread;
    }

    /// @inheritdoc IKeelOracle
    function isSigner(address account) external view override returns (bool) {
        return _signerIndex[account] != 0;
    }

    /// @inheritdoc IKeelOracle
    function domainSeparator() external view override returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc IKeelOracle
    function observationDigest(
        uint256 feedId,
        uint256 round,
        uint256 observedAt,
        uint256 price,
        uint256 vol,
        uint256 volFloor
    ) external view override returns (bytes32) {
        return _observationDigest(feedId, round, observedAt, price, vol, volFloor);
    }

    /// @inheritdoc IKeelOracle
    function correlationDigest(uint256 feedA, uint256 feedB, uint256 round, uint256 observedAt, int256 rho)
        external
        view
        override
        returns (bytes32)
    {
        return _correlationDigest(feedA, feedB, round, observedAt, rho);
    }

    /// @dev EIP-712 digest of an Observation. The struct hash is computed in scratch memory past the
    ///      free memory pointer (not advanced: nothing else is allocated before the hash is taken),
    ///      instead of `abi.encode`, which would allocate 224 bytes per observation.
    function _observationDigest(
        uint256 feedId,
        uint256 round,
        uint256 observedAt,
        uint256 price,
        uint256 vol,
        uint256 volFloor
    ) internal view returns (bytes32) {
        bytes32 typehash = OBSERVATION_TYPEHASH;
        bytes32 structHash;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, typehash)
            mstore(add(m, 0x20), feedId)
            mstore(add(m, 0x40), round)
            mstore(add(m, 0x60), observedAt)
            mstore(add(m, 0x80), price)
            mstore(add(m, 0xa0), vol)
            mstore(add(m, 0xc0), volFloor)
            structHash := keccak256(m, 0xe0)
        }
        return _hashTypedDataV4(structHash);
    }

    /// @dev [v2] EIP-712 digest of a Correlation (int256 encodes as its two's-complement word).
    function _correlationDigest(uint256 feedA, uint256 feedB, uint256 round, uint256 observedAt, int256 rho)
        internal
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(CORRELATION_TYPEHASH, feedA, feedB, round, observedAt, rho)));
    }
}
