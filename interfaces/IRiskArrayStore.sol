// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IMarginEngine} from "./IMarginEngine.sol";

/// @title Option series registry and per-series "risk arrays" (the SPAN idea, docs/DESIGN.md).
/// @dev Because valuation time is the underlying's oracle observedAt, one unit of a series has the
///      same current value V and the same 31 scenario changes ΔV_j = V(S(1 + x_j), σ_j, τ) − V for
///      every account during one oracle round. Keepers compute them once per (series, round) and
///      store them as contract code (SSTORE2: 33 int256 words, read back with one EXTCODECOPY); a
///      margin check that meets a stale one computes it in memory, and the engine's checks keep what
///      they computed in transient storage for the rest of the transaction.
///      Array layout: word 0 = V [wad USD per unit], word 1 + j = ΔV_j for scenario j = 0..30,
///      word 32 = flags (1: settled, i.e. expired with its price fixed: no scenario risk, no SOM;
///      2: provisional, i.e. expired with its price not fixed yet: intrinsic value at S, computed
///      again once the price is fixed, even within the same oracle round).
interface IRiskArrayStore {
    /// @notice The market of one underlying as of its oracle round.
    struct Market {
        uint256 feedId;     // underlying                                        [feedId]
        uint256 spot;       // S                                                 [wad USD]
        uint256 vol;        // σ                                                 [wad]
        uint256 observedAt; // valuation time                                    [unix s]
    }

    /// @notice Risk array of `seriesId` stored for the round observed at `observedAt`.
    event RiskArrayStored(uint256 indexed seriesId, uint256 observedAt, address pointer);

    error Unauthorised(address caller);
    error UnknownSeries(uint256 seriesId);
    /// @dev Summing series of another underlying into one underlying's scenario vector.
    error WrongUnderlying(uint256 seriesId, uint256 feedId, uint256 expected);
    error LengthMismatch(uint256 ids, uint256 sizes);
    /// @dev A market whose vol is not the Oracle's current σ_eff of the feed: options are valued
    ///      at the current round's raw σ, so only the current market can be valued.
    error MarketNotCurrent(uint256 feedId, uint256 volWad);
    error PointerDeployFailed(uint256 seriesId);

    /// @notice Registers a new series (engine only); ids start at 1.
    function addSeries(IMarginEngine.Series calldata s) external returns (uint256 seriesId);
    function series(uint256 seriesId) external view returns (IMarginEngine.Series memory);
    function seriesCount() external view returns (uint256);
    /// @notice Id of the series with these terms, 0 if none.
    function seriesIdOf(uint256 feedId, uint256 strike, uint256 expiry, bool isCall) external view returns (uint256);

    /// @notice Computes and stores the risk arrays of `seriesIds` for their feeds' current rounds,
    ///         skipping those already current (anyone; keepers call it after each oracle update).
    ///         Reverts `StalePrice` when a feed is stale.
    function refreshRiskArrays(uint256[] calldata seriesIds) external returns (uint256 refreshed);

    /// @notice The stored array of a series and the observedAt it was computed for (0: none).
    function storedRiskArray(uint256 seriesId) external view returns (uint256 observedAt, int256[33] memory values);
    /// @notice The array of a series for market `m`, from storage when current, else computed.
    function riskArray(uint256 seriesId, Market calldata m) external view returns (int256[33] memory values);
    /// @notice One unit's model value V of a series for market `m` (element 0 of its risk array).
    function unitValue(uint256 seriesId, Market calldata m) external view returns (int256 value);

    /// @notice Σ q·V and Σ q·ΔV_j over positions (`seriesIds`, `sizes`) of underlying m.feedId
    ///         [wad USD], computing stale arrays in memory; and Σ |q| over short positions in
    ///         series not settled (the SOM base) [wad units].
    function optionRisk(Market calldata m, uint256[] calldata seriesIds, int256[] calldata sizes)
        external
        view
        returns (int256 value, int256[31] memory pnl, uint256 shortSize);
    /// @notice As `optionRisk`, but keeps the arrays it had to compute in transient storage for
    ///         the rest of the transaction, where `optionRisk` and this function find them (engine
    ///         only: its market is the oracle's fresh round).
    function optionRiskCached(Market calldata m, uint256[] calldata seriesIds, int256[] calldata sizes)
        external
        returns (int256 value, int256[31] memory pnl, uint256 shortSize);
}
