// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Keel signed price/vol oracle: read surface used by the Vault, margin engine and liquidator.
/// @dev The implementation (contracts/Oracle.sol) extends this with report submission and governance
///      (see `IKeelOracle` below). Units: price and vol are wad (1e18 = $1, 1e18 = 100%/yr); times
///      are unix seconds.
interface IOracle {
    /// @notice The last accepted report of a feed (one feed per underlying).
    struct FeedState {
        uint128 price;      // median spot price                            [wad USD]
        uint64 vol;         // [v2] effective vol σ_eff = max(σ, σ_floor) of the medians     [wad]
        uint32 observedAt;  // observation time of the accepted report      [unix s]
        uint32 round;       // number of accepted reports so far            [count]
    }

    /// @notice [v2] The last accepted correlation of a pair of feeds (SPEC §3 correlation feed).
    struct CorrelationState {
        int64 rho;          // median EWMA correlation, in [-1e18, 1e18]   [wad]
        uint32 observedAt;  // observation time of the accepted report      [unix s]
        uint32 round;       // number of accepted reports of the pair       [count]
    }

    /// @notice A feed needed by the operation is older than the heartbeat (or has no report yet).
    error StalePrice(uint256 feedId, uint256 observedAt, uint256 nowTs);
    /// @notice [v2] The pair's correlation is older than the heartbeat (or has no report yet).
    error StaleCorrelation(uint256 feedA, uint256 feedB, uint256 observedAt, uint256 nowTs);

    /// @notice The last accepted state of `feedId` (all zero if never reported).
    function feed(uint256 feedId) external view returns (FeedState memory);

    /// @notice Price, vol and observation time of `feedId`; reverts `StalePrice` when stale. [v2] The
    ///         vol is the effective vol σ_eff = max(σ, σ_floor) (SPEC §6 anti-procyclicality): every
    ///         consumer (margin engine, risk arrays, vault haircuts, lens) reads this one.
    function freshFeed(uint256 feedId) external view returns (uint256 priceWad, uint256 volWad, uint256 observedAt);

    /// @notice [v2] The raw medians behind `feed(feedId).vol`: the signed vol σ and the signed floor
    ///         σ_floor of the last accepted report (both 0 if never reported).
    function volInputs(uint256 feedId) external view returns (uint256 volWad, uint256 volFloorWad);

    /// @notice [v2] The last accepted correlation of feeds `feedA` and `feedB` (either order; all
    ///         zero if never reported).
    function correlation(uint256 feedA, uint256 feedB) external view returns (CorrelationState memory);

    /// @notice [v2] ρ and observation time of the pair (either order); reverts `StaleCorrelation`
    ///         when now - observedAt > heartbeat or never reported.
    function freshCorrelation(uint256 feedA, uint256 feedB) external view returns (int256 rhoWad, uint256 observedAt);

    /// @notice True when now - observedAt > heartbeat, or the feed never reported.
    function isStale(uint256 feedId) external view returns (bool);

    /// @notice True while `feedId`'s circuit breaker holds its underlying in reduce-only mode.
    function isReduceOnly(uint256 feedId) external view returns (bool);

    /// @notice Settlement price fixed for (`feedId`, `expiry`): 0 while not fixed yet.
    function settlementPrice(uint256 feedId, uint256 expiry) external view returns (uint256 priceWad);
}

/// @title The full Keel oracle: signed report submission, expiry registration and governance.
/// @dev Kept apart from `IOracle` so that contracts (and test mocks) implementing only the read
///      surface keep compiling. SPEC §3, docs/DESIGN.md "Oracle".
///
///      A report for one feed carries >= quorum EIP-712 signatures (domain "Keel Oracle", version
///      "1", chainId, verifyingContract = the oracle) over
///      `Observation(uint256 feedId,uint256 round,uint256 observedAt,uint256 price,uint256 vol,uint256 volFloor)`,
///      one per distinct authorised signer; every signer signs the same (feedId, round, observedAt)
///      and its own price, vol and vol floor. The accepted price, vol and floor are the medians of
///      the observations, and every observation must lie within maxSpread of the median price and
///      maxVolSpread (relative) of the median vol and of the median floor [v2]. The feed stores
///      σ_eff = max(median vol, median floor) as its vol (SPEC §6 anti-procyclicality).
///
///      [v2] Correlation feed (SPEC §3): a report for a pair of listed feeds feedA < feedB carries
///      >= quorum signatures over
///      `Correlation(uint256 feedA,uint256 feedB,uint256 round,uint256 observedAt,int256 rho)` and is
///      accepted under the same rules: consecutive rounds per pair, newer observedAt, at most
///      maxFutureDrift ahead, distinct authorised low-s signers, every rho in [-1e18, 1e18], the
///      median stored, every rho within maxCorrelationSpread (absolute) of it, stale after the
///      heartbeat. The header and signature errors of a correlation report name its pair id
///      feedA << 128 | feedB (>= 2^128, so never a feed id) where they say `feedId`.
///
///      Threat model [v2]: f = `faultTolerance()` faulty or colluding signers are tolerated, where f is
///      the largest number with quorum >= 2f + 1 and signers >= quorum + f; the setters keep f >= 1.
///      Whoever submits chooses which signed observations form a report; the spread rule bounds what
///      that choice can do.
interface IKeelOracle is IOracle {
    // --- Types ---

    /// @notice One signer's price and vol for a report, with its signature.
    struct SignedObservation {
        uint256 price;      // observed spot price                          [wad USD]
        uint256 vol;        // observed annualised ATM implied vol          [wad]
        uint256 volFloor;   // [v2] the signer's vol floor σ_floor          [wad]
        uint8 v;            // signature recovery id (27 or 28)
        bytes32 r;          // signature r
        bytes32 s;          // signature s (lower half order only)
    }

    /// @notice A quorum of signed observations for one feed and round.
    struct Report {
        uint256 feedId;     // feed (= underlying) id                       [feedId]
        uint256 round;      // must be the stored round + 1                 [count]
        uint256 observedAt; // observation time shared by every signer      [unix s]
        SignedObservation[] observations;
    }

    /// @notice [v2] One signer's correlation of a pair, with its signature.
    struct SignedCorrelation {
        int256 rho;         // observed correlation, in [-1e18, 1e18]       [wad]
        uint8 v;            // signature recovery id (27 or 28)
        bytes32 r;          // signature r
        bytes32 s;          // signature s (lower half order only)
    }

    /// @notice [v2] A quorum of signed correlations for one pair (feedA < feedB) and round.
    struct CorrelationReport {
        uint256 feedA;      // the lower feed id of the pair                [feedId]
        uint256 feedB;      // the higher feed id of the pair               [feedId]
        uint256 round;      // must be the pair's stored round + 1          [count]
        uint256 observedAt; // observation time shared by every signer      [unix s]
        SignedCorrelation[] observations;
    }

    // --- Events ---

    /// @notice A report was accepted: the feed now holds these medians (`vol` is the raw median σ,
    ///         `volFloor` the median σ_floor; the feed's vol is their maximum).
    event FeedUpdated(
        uint256 indexed feedId, uint256 indexed round, uint256 price, uint256 vol, uint256 volFloor, uint256 observedAt
    );
    /// @notice [v2] A correlation report was accepted: the pair now holds this median ρ.
    event CorrelationUpdated(
        uint256 indexed feedA, uint256 indexed feedB, uint256 indexed round, int256 rho, uint256 observedAt
    );
    /// @notice The price moved more than the jump threshold: the feed is reduce-only until `until`.
    event CircuitBreakerTripped(uint256 indexed feedId, uint256 previousPrice, uint256 price, uint256 until);
    /// @notice `expiry` will get its settlement price from the first report observed at or after it,
    ///         if that report is observed within settlementWindow after it.
    event ExpiryRegistered(uint256 indexed feedId, uint256 indexed expiry);
    /// @notice The settlement price of (`feedId`, `expiry`) was fixed by the report of `round`.
    event SettlementPriceFixed(uint256 indexed feedId, uint256 indexed expiry, uint256 price, uint256 round);
    /// @notice The first report past `expiry` was observed at `observedAt`, after its settlement
    ///         window: it did not fix the price; governance fixes it with `fixSettlementPrice`.
    event SettlementWindowMissed(uint256 indexed feedId, uint256 indexed expiry, uint256 observedAt);
    /// @notice Governance (`caller`) fixed the settlement price of (`feedId`, `expiry`) from a
    ///         quorum-signed report observed at `observedAt` (signed for `round`).
    event SettlementPriceFixedByGovernance(
        uint256 indexed feedId,
        uint256 indexed expiry,
        uint256 price,
        uint256 observedAt,
        uint256 round,
        address indexed caller
    );
    /// @notice Governance listed a new feed with its acceptance bounds.
    event FeedAdded(uint256 indexed feedId, uint256 minPrice, uint256 maxPrice, uint256 maxVol);
    /// @notice Governance changed a feed's acceptance bounds.
    event FeedBoundsSet(uint256 indexed feedId, uint256 minPrice, uint256 maxPrice, uint256 maxVol);
    /// @notice `signer` was authorised (`authorised` true) or removed; `signerCount` signers remain.
    event SignerSet(address indexed signer, bool authorised, uint256 signerCount);
    /// @notice Governance changed the number of signatures a report needs.
    event QuorumSet(uint256 quorum);
    /// @notice Governance changed parameter `what` (heartbeat, maxFutureDrift, jumpThreshold, coolDown,
    ///         maxSpread, maxVolSpread, settlementWindow, maxCorrelationSpread).
    event ParamSet(bytes32 indexed what, uint256 value);
    /// @notice `registrar` may (or may no longer) register expiries.
    event RegistrarSet(address indexed registrar, bool authorised);

    // --- Errors: submission ---

    /// @dev The report names a feed governance never listed.
    error UnknownFeed(uint256 feedId);
    /// @dev The report's round is not the stored round + 1 (replayed or skipped round).
    error WrongRound(uint256 feedId, uint256 round, uint256 expectedRound);
    /// @dev The report is not newer than the stored one.
    error ObservationNotNewer(uint256 feedId, uint256 observedAt, uint256 storedObservedAt);
    /// @dev The report is dated more than maxFutureDrift after the block.
    error ObservationInFuture(uint256 feedId, uint256 observedAt, uint256 latestAllowed);
    /// @dev The report carries fewer observations than the quorum.
    error QuorumNotMet(uint256 feedId, uint256 observations, uint256 quorum);
    /// @dev An observation's signature recovers to an address that is not an authorised signer
    ///      (also what a signature for another chain, contract or message looks like).
    error UnknownSigner(uint256 feedId, address signer);
    /// @dev Two observations of one report recover to the same signer.
    error DuplicateSigner(uint256 feedId, address signer);
    /// @dev Observation `index` has s in the upper half order (the malleable twin of a signature).
    error MalleableSignature(uint256 feedId, uint256 index, bytes32 s);
    /// @dev Observation `index` has a signature that recovers to no address (bad v, r or s).
    error InvalidSignature(uint256 feedId, uint256 index);
    /// @dev An observed price is zero or outside the feed's [minPrice, maxPrice].
    error PriceOutOfBounds(uint256 feedId, uint256 price, uint256 minPrice, uint256 maxPrice);
    /// @dev An observed vol is zero or above the feed's maxVol.
    error VolOutOfBounds(uint256 feedId, uint256 vol, uint256 maxVol);
    /// @dev [v2] An observation lies too far from the report's medians: |price - medianPrice| >
    ///      maxSpread * medianPrice or |vol - medianVol| > maxVolSpread * medianVol. `price` and `vol`
    ///      are the report's observed price and vol farthest from their medians (the lower on a tie).
    error ObservationSpread(uint256 feedId, uint256 price, uint256 medianPrice, uint256 vol, uint256 medianVol);
    /// @dev [v2] An observed vol floor is zero or above the feed's maxVol (bounded like the vol).
    error VolFloorOutOfBounds(uint256 feedId, uint256 volFloor, uint256 maxVol);
    /// @dev [v2] |volFloor - medianVolFloor| > maxVolSpread * medianVolFloor for an observation;
    ///      `volFloor` is the one farthest from the median (the lower on a tie).
    error VolFloorSpread(uint256 feedId, uint256 volFloor, uint256 medianVolFloor);
    /// @dev [v2] A correlation report must name two listed feeds with feedA < feedB < 2^128.
    error UnknownPair(uint256 feedA, uint256 feedB);
    /// @dev [v2] An observed correlation lies outside [-1e18, 1e18].
    error CorrelationOutOfBounds(uint256 feedA, uint256 feedB, int256 rho);
    /// @dev [v2] |rho - medianRho| > maxCorrelationSpread for an observation; `rho` is the one
    ///      farthest from the median (the lower on a tie).
    error CorrelationSpread(uint256 feedA, uint256 feedB, int256 rho, int256 medianRho);

    // --- Errors: expiries ---

    /// @dev The caller is neither the owner nor an authorised registrar.
    error NotRegistrar(address caller);
    /// @dev The expiry is not after the feed's last observation (its price could never be fixed).
    error ExpiryAlreadyObserved(uint256 feedId, uint256 expiry, uint256 observedAt);
    /// @dev The expiry does not fit the feed's 32-bit timestamps.
    error ExpiryOutOfRange(uint256 expiry);
    /// @dev The feed already has the maximum number of pending expiries.
    error TooManyPendingExpiries(uint256 feedId, uint256 maxPending);
    /// @dev The settlement price of (`feedId`, `expiry`) is already fixed (`price`): it never changes.
    error SettlementPriceAlreadyFixed(uint256 feedId, uint256 expiry, uint256 price);
    /// @dev Governance may fix a settlement price only after its window ends (block time > windowEnd).
    error SettlementWindowOpen(uint256 feedId, uint256 expiry, uint256 windowEnd);
    /// @dev A governance settlement report must be observed in [expiry, windowEnd].
    error ObservationOutsideSettlementWindow(uint256 feedId, uint256 expiry, uint256 observedAt, uint256 windowEnd);
    /// @dev The report is for another feed than the one named.
    error ReportFeedMismatch(uint256 feedId, uint256 reportFeedId);

    // --- Errors: governance ---

    /// @dev Feed id 0 means "no feed" across Keel and cannot be listed.
    error InvalidFeedId(uint256 feedId);
    /// @dev The feed is already listed.
    error FeedExists(uint256 feedId);
    /// @dev Bounds must satisfy 0 < minPrice <= maxPrice <= 2^128-1 and 0 < maxVol <= 2^64-1.
    error InvalidBounds(uint256 minPrice, uint256 maxPrice, uint256 maxVol);
    /// @dev The zero address cannot be a signer.
    error InvalidSigner(address signer);
    /// @dev The signer already has the requested status.
    error SignerUnchanged(address signer, bool authorised);
    /// @dev Signer indices are bits of a 32-bit bitmap: at most 32 signers.
    error TooManySigners(uint256 maxSigners);
    /// @dev [v2] The signer set must tolerate f >= 1 faulty signers with a strict-majority quorum:
    ///      3 <= quorum <= signerCount - 1 and signerCount < 2 * quorum (e.g. 3 of 4 or 5, 4 of 5 to 7).
    error InvalidQuorum(uint256 quorum, uint256 signerCount);
    /// @dev `what` names no parameter.
    error UnknownParam(bytes32 what);
    /// @dev `value` is outside the bounds of parameter `what`.
    error ParamOutOfBounds(bytes32 what, uint256 value, uint256 min, uint256 max);

    // --- Submission ---

    /// @notice Accepts signed reports, atomically: any bad report reverts the whole submission.
    ///         Permissionless: the signatures authenticate. Fixes the settlement price of every
    ///         pending expiry a report passes and trips the circuit breaker on jumps.
    function submit(Report[] calldata reports) external;

    /// @notice [v2] `submit(reports)`, then accepts the correlation reports, atomically (any bad
    ///         report reverts everything). Permissionless like `submit`.
    function submitWithCorrelations(Report[] calldata reports, CorrelationReport[] calldata correlations)
        external;

    // --- Expiries ---

    /// @notice Registers `expiry` (must be after the feed's last observation) so that the first
    ///         report observed at or after it fixes its settlement price, if observed within the
    ///         settlement window. Owner or registrar only. Registering a pending expiry again does
    ///         nothing.
    function registerExpiry(uint256 feedId, uint256 expiry) external;

    /// @notice [v2] Owner only, once no report fixed the expiry in its window (block time >
    ///         expiry + settlementWindow): fixes the settlement price of (`feedId`, `expiry`) to the
    ///         median price of `report`, whose observations must be observed in [expiry, expiry +
    ///         settlementWindow] and pass the quorum, signer, bounds and spread rules of `submit`.
    ///         The report's round is not checked against the feed (the signatures cover it), and the
    ///         feed's state does not change. Reverts `SettlementPriceAlreadyFixed` once fixed.
    function fixSettlementPrice(uint256 feedId, uint256 expiry, Report calldata report) external;

    // --- Governance (owner only) ---

    /// @notice Lists feed `feedId` with the bounds every observation must respect.
    function addFeed(uint256 feedId, uint256 minPrice, uint256 maxPrice, uint256 maxVol) external;
    /// @notice Changes a listed feed's bounds.
    function setFeedBounds(uint256 feedId, uint256 minPrice, uint256 maxPrice, uint256 maxVol) external;
    /// @notice Authorises or removes a signer; the quorum rule must still hold afterwards.
    function setSigner(address signer, bool authorised) external;
    /// @notice Sets the number of distinct signatures a report needs.
    function setQuorum(uint256 quorum) external;
    /// @notice Sets "heartbeat", "maxFutureDrift", "jumpThreshold", "coolDown", "maxSpread",
    ///         "maxVolSpread", "settlementWindow" or "maxCorrelationSpread" (bytes32 names).
    function setParam(bytes32 what, uint256 value) external;
    /// @notice Authorises or removes an expiry registrar (e.g. the margin engine).
    function setRegistrar(address registrar, bool authorised) external;

    // --- Views ---

    /// @notice Bounds of a feed and whether it is listed.
    function feedConfig(uint256 feedId)
        external
        view
        returns (uint256 minPrice, uint256 maxPrice, uint256 maxVol, bool listed);
    /// @notice End of the feed's reduce-only period (reduce-only while now < until)   [unix s]
    function reduceOnlyUntil(uint256 feedId) external view returns (uint256);
    /// @notice Pending expiries of a feed (registered, not yet passed by a report nor fixed by
    ///         governance), ascending.
    function pendingExpiries(uint256 feedId) external view returns (uint256[] memory);
    /// @notice Max age of a fresh feed                                                [s]
    function heartbeat() external view returns (uint256);
    /// @notice How far a report's observedAt may be ahead of the block                 [s]
    function maxFutureDrift() external view returns (uint256);
    /// @notice Relative price move that trips the circuit breaker                      [wad]
    function jumpThreshold() external view returns (uint256);
    /// @notice Reduce-only duration after a trip                                       [s]
    function coolDown() external view returns (uint256);
    /// @notice Distinct signatures a report needs.
    function quorum() external view returns (uint256);
    /// @notice Number of authorised signers.
    function signerCount() external view returns (uint256);
    /// @notice [v2] f: faulty or colluding signers tolerated (largest f with quorum >= 2f + 1 and
    ///         signerCount >= quorum + f); the setters keep it >= 1.
    function faultTolerance() external view returns (uint256);
    /// @notice [v2] Max |price - median| / median of an observation in a report             [wad]
    function maxSpread() external view returns (uint256);
    /// @notice [v2] Max |vol - median vol| / median vol of an observation in a report        [wad]
    function maxVolSpread() external view returns (uint256);
    /// @notice [v2] How long after an expiry a report's observedAt may be to fix its price     [s]
    function settlementWindow() external view returns (uint256);
    /// @notice [v2] Max |rho - median rho| of an observation in a correlation report (absolute) [wad]
    function maxCorrelationSpread() external view returns (uint256);
    /// @notice True if `account` is an authorised signer.
    function isSigner(address account) external view returns (bool);
    /// @notice True if `account` may register expiries (owner excluded).
    function isRegistrar(address account) external view returns (bool);
    /// @notice The EIP-712 domain separator of this oracle on this chain.
    function domainSeparator() external view returns (bytes32);
    /// @notice The EIP-712 digest a signer signs for this observation.
    function observationDigest(
        uint256 feedId,
        uint256 round,
        uint256 observedAt,
        uint256 price,
        uint256 vol,
        uint256 volFloor
    ) external view returns (bytes32);
    /// @notice [v2] The EIP-712 digest a signer signs for this correlation observation.
    function correlationDigest(uint256 feedA, uint256 feedB, uint256 round, uint256 observedAt, int256 rho)
        external
        view
        returns (bytes32);
}
