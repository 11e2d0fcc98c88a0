// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Keel Dutch-auction liquidator (SPEC §7).
/// @dev State machine per account: None --start (AE < MM, fresh prices)--> Active
///      Active --end (AE >= IM: cured)--> None;  Active --any bid on a cured account--> None
///      (nothing bought: SPEC §7 [v2], INV-8);  Active --solvent bids--> None once AE >= IM or empty;
///      Active --insolvent bid (E <= 0: whole portfolio)--> None.
///      Every auction has an id (a global counter) that bids must name, so a bid aimed at an auction
///      that ended (or was restarted) reverts instead of hitting a different one.
///      Discount d(t): 5% -> 30% linearly over 15 min, then 30% -> 100% over 12 h (params), while
///      AE < MM; a bid on an account at or above MM (MM <= AE < IM) gets startDiscount (5% default)
///      whatever d(t) has grown to: never more than a freshly started auction would give (INV-8).
///      Keeper fee: min(keeperFee, max(E, 0)) (SPEC §7 [v2]: the insurance fund never pays it).
interface ILiquidator {
    struct Auction {
        uint256 id;          // auction id, 0 when no auction is running           [count]
        uint256 startedAt;   // start time                                          [unix s]
        uint256 starterAccount; // account paid the keeper fee                      [id]
    }

    // --- Events ---

    /// @notice An auction started on `accountId`; `keeperFee` [wad USD] went to `starterAccount`
    ///         (min(keeperFee param, max(E, 0)); 0 when the starter is the account itself).
    event AuctionStarted(
        uint256 indexed accountId, uint256 indexed auctionId, uint256 starterAccount, uint256 keeperFee,
        int256 adjustedEquity, uint256 maintenanceMargin
    );
    /// @notice The auction ended: `cured` true when AE >= IM (by endAuction, by a bid that restored
    ///         it, or by a bid on an account already cured, which buys nothing), false when the
    ///         account was emptied.
    event AuctionEnded(uint256 indexed accountId, uint256 indexed auctionId, bool cured);
    /// @notice A solvent bid took `fraction` [wad] of the account at discount `discount` [wad],
    ///         paying `payment` [wad USD] to it and `penalty` [wad USD] to the insurance fund.
    event SolventBid(
        uint256 indexed accountId, uint256 indexed auctionId, uint256 indexed bidderAccount,
        uint256 fraction, uint256 discount, int256 equity, uint256 payment, uint256 penalty
    );
    /// @notice An insolvent bid took the whole account of equity `equity` [wad USD] (<= 0); the
    ///         bidder received `fromFund` from the insurance fund and `socialised` [wad USD]
    ///         through the cash index (`bonus` of the receipt is the bidder's reward).
    event InsolventBid(
        uint256 indexed accountId, uint256 indexed auctionId, uint256 indexed bidderAccount,
        int256 equity, uint256 bonus, uint256 fromFund, uint256 socialised
    );
    /// @notice A loss of `amount` [wad USD] that the insurance fund could not pay was spread over
    ///         every positive cash balance (SPEC §7, INV-5: the last step of the waterfall).
    event LossSocialised(uint256 indexed accountId, uint256 indexed auctionId, uint256 amount);
    /// @notice Governance set parameter `what` to `value`.
    event ParamSet(bytes32 indexed what, uint256 value);

    // --- Errors ---

    /// @notice `accountId` was never opened in the Vault.
    error UnknownAccount(uint256 accountId);
    /// @notice start: the account is not liquidatable (AE >= MM).
    error NotBelowMaintenanceMargin(uint256 accountId, int256 adjustedEquity, uint256 maintenanceMargin);
    /// @notice start: an auction `auctionId` is already running on the account.
    error AuctionAlreadyRunning(uint256 accountId, uint256 auctionId);
    /// @notice No auction is running on the account.
    error NoAuction(uint256 accountId);
    /// @notice The bid names auction `auctionId`, the running one is `runningId` (front-running guard).
    error StaleAuction(uint256 accountId, uint256 auctionId, uint256 runningId);
    /// @notice end: the account is not cured (AE < IM).
    error NotCured(uint256 accountId, int256 adjustedEquity, uint256 initialMargin);
    /// @notice `caller` may not bid with `bidderAccount` (owner or trade operator only, INV-7).
    error NotBidderAuthorised(uint256 bidderAccount, address caller);
    /// @notice The bidder account is the liquidated account.
    error SelfBid(uint256 accountId);
    /// @notice The bid's fraction is 0 or above the cap f_max.
    error FractionOutOfBounds(uint256 accountId, uint256 fraction, uint256 maxFraction);
    /// @notice Price limit: the payment per unit fraction E·(1 − d) exceeds the bidder's maximum.
    error PaymentAboveLimit(uint256 accountId, uint256 paymentPerUnit, uint256 maxPaymentPerUnit);
    /// @notice Price limit: the insolvent receipt −E + bonus is below the bidder's minimum.
    error ReceiptBelowLimit(uint256 accountId, uint256 receipt, uint256 minReceipt);
    /// @notice bid() on an account with E <= 0 (use bidInsolvent).
    error AccountInsolvent(uint256 accountId, int256 equity);
    /// @notice bidInsolvent() on an account with E > 0 (use bid).
    error AccountSolvent(uint256 accountId, int256 equity);
    /// @notice The bidder's account is below IM after the bid.
    error BidderBelowInitialMargin(uint256 bidderAccount, int256 adjustedEquity, uint256 initialMargin);
    /// @notice `what` names no parameter.
    error UnknownParam(bytes32 what);
    /// @notice `value` is outside [`min`, `max`] for parameter `what`.
    error ParamOutOfBounds(bytes32 what, uint256 value, uint256 min, uint256 max);

    // --- Auction ---

    /// @notice Starts an auction on `accountId` (AE < MM with fresh prices); pays the keeper fee
    ///         min(keeperFee, max(E, 0)) from its cash to `starterAccount` (none when it names
    ///         `accountId` itself). Returns the auction id.
    function startAuction(uint256 accountId, uint256 starterAccount) external returns (uint256 auctionId);

    /// @notice Ends the auction of `accountId` once it is cured (AE >= IM). Anyone.
    function endAuction(uint256 accountId) external;

    /// @notice Solvent bid (E > 0): `bidderAccount` (caller must own it or hold its trade right)
    ///         takes fraction `fraction` [wad] of every collateral balance, position and the cash of
    ///         `accountId`, paying fraction·E·(1 − d) in cash to it and the penalty p·fraction·E to
    ///         the insurance fund. d is d(t) while AE < MM and startDiscount once AE >= MM (an
    ///         auction left running through a cure, on an account back between MM and IM, sells
    ///         at the start discount only: INV-8). Reverts unless fraction <= f_max (or the
    ///         full-take cut-off applies), the payment per unit fraction E·(1 − d) is <=
    ///         `maxPaymentPerUnit` [wad USD] (front-running guard), `auctionId` is the running
    ///         auction, and the bidder passes IM.
    ///         On an account at or above IM (cured) the bid ends the auction instead: nothing moves,
    ///         it returns (0, 0) and emits AuctionEnded(cured = true) only (SPEC §7 [v2], INV-8).
    function bid(uint256 accountId, uint256 auctionId, uint256 bidderAccount, uint256 fraction, uint256 maxPaymentPerUnit)
        external
        returns (uint256 payment, uint256 penalty);

    /// @notice Insolvent bid (E <= 0): the whole portfolio goes to `bidderAccount`, which receives
    ///         −E + bonus(t) from the insurance fund; what the fund cannot pay is socialised.
    ///         Reverts unless the receipt is >= `minReceipt` [wad USD] and `auctionId` is running.
    ///         On a cured account (AE >= IM) it ends the auction instead, like `bid`: returns (0, 0).
    function bidInsolvent(uint256 accountId, uint256 auctionId, uint256 bidderAccount, uint256 minReceipt)
        external
        returns (uint256 fromFund, uint256 socialised);

    function auction(uint256 accountId) external view returns (Auction memory);
    function inAuction(uint256 accountId) external view returns (bool);
    /// @notice The discount d a bid on `accountId` would get now                        [wad]
    ///         d(t) while AE < MM, startDiscount once AE >= MM (the same cap as `bid`), at fresh
    ///         prices: reverts StalePrice on a stale feed, NoAuction when none is running.
    function currentDiscount(uint256 accountId) external view returns (uint256);
    /// @notice Largest fraction a solvent bid may take now (1e18 when the full take applies, 0
    ///         when the account is cured: a bid then ends the auction and takes nothing), at
    ///         the discount `currentDiscount` reports                                        [wad]
    function maxFraction(uint256 accountId) external view returns (uint256);
    /// @notice Current insolvency bonus of the running auction on `accountId`          [wad USD]
    function currentBonus(uint256 accountId) external view returns (uint256);

    // --- Governance ---

    /// @notice Sets a parameter within its bounds (owner): keeperFee, startDiscount, midDiscount,
    ///         fastDuration, slowDuration, penaltyRate, buffer, bonusRate, bonusDuration.
    function setParam(bytes32 what, uint256 value) external;
}
