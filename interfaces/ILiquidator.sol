// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Keel Dutch-auction liquidator (SPEC §7).
/// @dev State machine per account: None --start (AE < MM, fresh prices)--> Active
///      Active --end (AE >= IM: cured)--> None;  Active --solvent bids--> None once AE >= IM or empty;
///      Active --insolvent bid (E <= 0: whole portfolio)--> None.
///      Every auction has an id (a global counter) that bids must name, so a bid aimed at an auction
///      that ended (or was restarted) reverts instead of hitting a different one.
///      Discount d(t): 5% -> 30% linearly over 15 min, then 30% -> 100% over 12 h (params).
interface ILiquidator {
    struct Auction {
        uint256 id;          // auction id, 0 when no auction is running           [count]
        uint256 startedAt;   // start time                                          [unix s]
        uint256 starterAccount; // account paid the keeper fee                      [id]
    }

    /// @notice Starts an auction on `accountId` (AE < MM with fresh prices); pays the keeper fee
    ///         from its cash to `starterAccount`. Returns the auction id.
    function startAuction(uint256 accountId, uint256 starterAccount) external returns (uint256 auctionId);

    /// @notice Ends the auction of `accountId` once it is cured (AE >= IM). Anyone.
    function endAuction(uint256 accountId) external;

    /// @notice Solvent bid (E > 0): `bidderAccount` (caller must own it or hold its trade right)
    ///         takes fraction `fraction` [wad] of every collateral balance, position and the cash of
    ///         `accountId`, paying fraction·E·(1 − d) in cash to it and the penalty p·fraction·E to
    ///         the insurance fund. Reverts unless fraction <= f_max (or the full-take cut-off
    ///         applies), the payment per unit fraction E·(1 − d) is <= `maxPaymentPerUnit` [wad USD]
    ///         (front-running guard), `auctionId` is the running auction, and the bidder passes IM.
    function bid(uint256 accountId, uint256 auctionId, uint256 bidderAccount, uint256 fraction, uint256 maxPaymentPerUnit)
        external
        returns (uint256 payment, uint256 penalty);

    /// @notice Insolvent bid (E <= 0): the whole portfolio goes to `bidderAccount`, which receives
    ///         −E + bonus(t) from the insurance fund; what the fund cannot pay is socialised.
    ///         Reverts unless the receipt is >= `minReceipt` [wad USD] and `auctionId` is running.
    function bidInsolvent(uint256 accountId, uint256 auctionId, uint256 bidderAccount, uint256 minReceipt)
        external
        returns (uint256 fromFund, uint256 socialised);

    function auction(uint256 accountId) external view returns (Auction memory);
    function inAuction(uint256 accountId) external view returns (bool);
    /// @notice Current discount d of the running auction on `accountId`                 [wad]
    function currentDiscount(uint256 accountId) external view returns (uint256);
    /// @notice Largest fraction a solvent bid may take now (1e18 when the full take applies) [wad]
    function maxFraction(uint256 accountId) external view returns (uint256);
}
