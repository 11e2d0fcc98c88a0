// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Keel signed price/vol oracle: read surface used by the Vault, margin engine and liquidator.
/// @dev The implementation (contracts/Oracle.sol) extends this with report submission and governance.
///      Units: price and vol are wad (1e18 = $1, 1e18 = 100%/yr); times are unix seconds.
interface IOracle {
    /// @notice The last accepted report of a feed (one feed per underlying).
    struct FeedState {
        uint128 price;      // median spot price                            [wad USD]
        uint64 vol;         // median annualised ATM implied vol            [wad]
        uint32 observedAt;  // observation time of the accepted report      [unix s]
        uint32 round;       // number of accepted reports so far            [count]
    }

    /// @notice A feed needed by the operation is older than the heartbeat (or has no report yet).
    error StalePrice(uint256 feedId, uint256 observedAt, uint256 nowTs);

    /// @notice The last accepted state of `feedId` (all zero if never reported).
    function feed(uint256 feedId) external view returns (FeedState memory);

    /// @notice Price, vol and observation time of `feedId`; reverts `StalePrice` when stale.
    function freshFeed(uint256 feedId) external view returns (uint256 priceWad, uint256 volWad, uint256 observedAt);

    /// @notice True when now - observedAt > heartbeat, or the feed never reported.
    function isStale(uint256 feedId) external view returns (bool);

    /// @notice True while `feedId`'s circuit breaker holds its underlying in reduce-only mode.
    function isReduceOnly(uint256 feedId) external view returns (bool);

    /// @notice Settlement price fixed for (`feedId`, `expiry`): 0 while not fixed yet.
    function settlementPrice(uint256 feedId, uint256 expiry) external view returns (uint256 priceWad);
}
