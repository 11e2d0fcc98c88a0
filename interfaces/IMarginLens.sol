// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IMarginEngine} from "./IMarginEngine.sol";

/// @title What-if margin: the breakdown an account would have after proposed fills, without them.
/// @dev A periphery view of the margin engine (docs/ENGINE.md, "What-if"). It copies the account
///      (cash word, collateral, positions) into memory, applies the fills exactly as
///      MarginEngine.executeFill applies them to the account's side (perp PnL and funding into cash
///      at the fill price, entry = price, funding index accrued to now; option premium price·|q|
///      rounded up, buyer to seller; fee = rate·S·|q| rounded up, an option's capped at optionFeeCap
///      of its premium; position limits; pruning), and values the result with the engine's own
///      SPEC §6 composition (MarginLib). The counterparty is not modelled, so neither is the
///      open-interest cap (it depends on both sides). A fill the engine would refuse on this side
///      reverts with the engine's custom error: `ZeroSize`, `UnknownInstrument`, `StalePrice`,
///      `PriceOutsideBand`, `ZeroPrice`, `SeriesExpired`, `TooManyUnderlyings`, `TooManySeries`,
///      `TooManyExpiries`, `ReduceOnly`, `NewRiskPaused` (and the Vault's `UnknownAccount`).
///      Fills apply in order, each checked as its own executeFill would be, all at this block.
interface IMarginLens {
    /// @notice One proposed fill, from the account's side.
    struct ProposedFill {
        uint256 instrument; // perp feed id or OPTION_INSTRUMENT_BASE + seriesId
        int256 size;        // signed size the account receives (+ buys, − sells)  [wad units]
        uint256 price;      // perp price or option premium per unit               [wad USD]
        bool maker;         // the account is the maker (maker fee rate), else the taker
        bool byOperator;    // its side is committed by an operator (equity rule; checkFills only)
    }

    /// @notice The margin engine this lens reads.
    function engine() external view returns (IMarginEngine);

    /// @notice The breakdown `accountId` would have after `fills`, as marginBreakdown would return
    ///         it after executing them at this block. It is returned whatever the account's
    ///         margin (AE may be below IM: the post-trade margin rule is `checkFills`'s); an empty
    ///         list gives the current breakdown.
    function whatIf(uint256 accountId, ProposedFill[] calldata fills)
        external
        view
        returns (IMarginEngine.MarginBreakdown memory);

    /// @notice `whatIf`, also applying the engine's post-trade margin rule to every fill: reverts
    ///         `EquityLoss` or `BelowInitialMargin` exactly where executeFill would, for this side.
    function checkFills(uint256 accountId, ProposedFill[] calldata fills)
        external
        view
        returns (IMarginEngine.MarginBreakdown memory);
}
