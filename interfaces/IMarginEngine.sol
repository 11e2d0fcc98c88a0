// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IMarginHook} from "./IMarginHook.sol";
import {IVault} from "./IVault.sol";
import {IOracle} from "./IOracle.sol";
import {IRiskArrayStore} from "./IRiskArrayStore.sol";

/// @title The Oracle's expiry registration (the engine is an authorised registrar).
interface IExpiryRegistry {
    function registerExpiry(uint256 feedId, uint256 expiry) external;
}

/// @title Keel portfolio margin engine: instruments (SPEC §4), trade settlement (§5) and margin (§6).
/// @dev Instruments are named by one uint256: a perpetual by its feed id (< 2^128), an option series
///      by OPTION_INSTRUMENT_BASE + seriesId. The engine is a Vault module (it moves cash), the
///      Vault's margin hook, and an Oracle expiry registrar. Margin figures follow docs/DESIGN.md:
///      valuation time is each underlying's oracle observedAt; scenario j = 9·v + i (i spot point
///      0..8, v vol state 0 σ / 1 σ_up / 2 σ_dn), then 27: +2R, 28: +3R, 29: −min(2R, 90%),
///      30: −min(3R, 90%) with σ_up and weight 0.30.
interface IMarginEngine is IMarginHook {
    // --- Types ---

    /// @notice An option series (SPEC §4).
    struct Series {
        uint32 feedId;   // underlying                                           [feedId]
        uint40 expiry;   // expiry time                                          [unix s]
        bool isCall;     // call (true) or put (false)
        uint128 strike;  // strike K                                             [wad USD]
    }

    /// @notice An account's perpetual position on one underlying.
    struct PerpPosition {
        int256 size;                // q, + long / − short                       [wad units]
        uint256 entryPrice;         // price at which unrealised PnL is zero     [wad USD]
        int256 fundingIndexAtEntry; // cumulative funding index at last settlement [wad USD/unit]
    }

    /// @notice One underlying's line of the margin breakdown.
    struct UnderlyingRisk {
        uint256 feedId;      // underlying                                       [feedId]
        uint256 scanRange;   // R_u                                              [wad]
        uint256 loss;        // standalone loss L_u                              [wad USD]
        uint256 worstIndex;  // first scenario attaining min_j P_u(j)            [0..30]
    }

    /// @notice The whole margin computation of an account (SPEC §6).
    struct MarginBreakdown {
        int256 equity;              // E                                         [wad USD]
        int256 adjustedEquity;      // AE = E − haircuts                         [wad USD]
        uint256 initialMargin;      // IM = max(SR, SOM)                         [wad USD]
        uint256 maintenanceMargin;  // MM = mmRatio · IM                         [wad USD]
        uint256 scanRisk;           // SR = min(Σ L_u, max(L_J + 0.2(Σ L_u − L_J), L_ρ)) [wad USD]
        uint256 shortOptionMinimum; // SOM                                       [wad USD]
        uint256 jointLoss;          // L_J                                       [wad USD]
        uint256 jointWorstIndex;    // first scenario attaining min_j Σ_u P_u(j) [0..30]
        UnderlyingRisk[] underlyings;
        uint256 correlatedLoss;     // L_ρ (SPEC v2 §6); 0 where SR needs none     [wad USD]
    }

    /// @notice A fill between a maker and a taker, as the Exchange hands it to the engine.
    struct Fill {
        uint256 makerAccount; // account of the signed order                     [id]
        uint256 takerAccount; // account of the filler                           [id]
        uint256 instrument;   // perp feed id or OPTION_INSTRUMENT_BASE + seriesId
        int256 makerSize;     // signed size the maker receives (taker gets −)   [wad units]
        uint256 price;        // perp price or option premium per unit           [wad USD]
        bool makerByOperator; // the maker order was signed by an operator, not the owner
        bool takerByOperator; // the taker side was sent by an operator, not the owner
    }

    // --- Events ---

    event PerpListed(uint256 indexed feedId, uint256 openInterestCap);
    event SeriesCreated(uint256 indexed seriesId, uint256 indexed feedId, uint256 strike, uint256 expiry, bool isCall);
    event OpenInterestCapSet(uint256 indexed instrument, uint256 cap);
    event ParamSet(bytes32 indexed what, uint256 value);
    event ExchangeSet(address exchange);
    /// @notice Governance named `guardian` (may pause new risk at once; nothing else).
    event GuardianSet(address guardian);
    /// @notice New risk (IM-raising fills, new series) was paused or resumed by `by`.
    event PausedSet(bool paused, address by);
    /// @notice Governance gave or took the lister role (lists series on the expiry schedule).
    event ListerSet(address indexed lister, bool authorised);
    /// @notice A fill was settled; fees are what each side paid to the insurance fund.
    event Traded(
        uint256 indexed instrument,
        uint256 indexed makerAccount,
        uint256 indexed takerAccount,
        int256 makerSize,
        uint256 price,
        uint256 makerFee,
        uint256 takerFee
    );
    /// @notice Perp PnL and funding of an account were moved into cash at `price`.
    event PnlRealised(uint256 indexed accountId, uint256 indexed feedId, int256 pnl, int256 funding, uint256 price);
    /// @notice The cumulative funding index of a perp moved to `fundingIndex`.
    event FundingAccrued(uint256 indexed feedId, int256 fundingIndex, int256 ratePerSecond, uint256 mark, uint256 spot);
    /// @notice An account's option position settled at expiry for `cash`.
    event OptionSettled(uint256 indexed accountId, uint256 indexed seriesId, int256 size, uint256 settlementPrice, int256 cash);

    // --- Errors ---

    /// @dev The caller lacks the role (governance, exchange) needed.
    error Unauthorised(address caller);
    /// @dev `what` names no parameter / `value` is outside its bounds.
    error UnknownParam(bytes32 what);
    error ParamOutOfBounds(bytes32 what, uint256 value, uint256 min, uint256 max);
    /// @dev The instrument id names no listed perp or created series.
    error UnknownInstrument(uint256 instrument);
    error UnknownSeries(uint256 seriesId);
    error PerpAlreadyListed(uint256 feedId);
    error SeriesExists(uint256 seriesId);
    /// @dev Series bounds: expiry in (now, now + 2 y]; permissionless strikes within [S/3, 3S].
    error InvalidExpiry(uint256 expiry, uint256 nowTs, uint256 maxExpiry);
    error InvalidStrike(uint256 strike, uint256 minStrike, uint256 maxStrike);
    /// @dev The series expired: it can no longer be traded (only settled).
    error SeriesExpired(uint256 seriesId, uint256 expiry, uint256 nowTs);
    /// @dev settle() before the oracle fixed the expiry price.
    error SettlementPriceNotFixed(uint256 seriesId, uint256 expiry);
    error NoPosition(uint256 accountId, uint256 instrument);
    /// @dev Position limits (SPEC §4).
    error TooManyUnderlyings(uint256 accountId, uint256 count, uint256 max);
    error TooManySeries(uint256 accountId, uint256 feedId, uint256 count, uint256 max);
    error TooManyExpiries(uint256 accountId, uint256 feedId, uint256 count, uint256 max);
    error OpenInterestCapExceeded(uint256 instrument, uint256 openInterest, uint256 cap);
    error SelfTrade(uint256 accountId);
    error ZeroSize();
    error ZeroPrice();
    /// @dev INV-2: after a fill the account is below IM and the fill raised its IM or its shortfall.
    error BelowInitialMargin(uint256 accountId, int256 adjustedEquity, uint256 initialMargin);
    /// @dev SPEC v2 §5 price band (INV-9): the fill price is outside [lo, hi] around the model value.
    error PriceOutsideBand(uint256 instrument, uint256 price, uint256 lo, uint256 hi);
    /// @dev SPEC v2 §5 equity rule (INV-9): a side below IM after the fill, in an auction, or
    ///      committed by an operator lost equity at model prices beyond its fee.
    error EquityLoss(uint256 accountId, int256 equityBefore, int256 equityAfter, uint256 fee);
    /// @dev SPEC v2 §4 listing: only governance or a lister creates series.
    error NotLister(address caller);
    /// @dev SPEC v2 §8b: the guardian paused new risk (no new series).
    error Paused();
    /// @dev SPEC v2 §8b: new risk is paused and the fill raised the account's IM.
    error NewRiskPaused(uint256 accountId, uint256 imBefore, uint256 imAfter);
    /// @dev Neither governance nor the guardian called.
    error NotGuardian(address caller);
    /// @dev INV-8: only the account's owner or a trade operator may act on it here.
    error NotAccountAuthorised(uint256 accountId, address caller);
    /// @dev Circuit breaker: the underlying is reduce-only and the fill raised the account's IM.
    error ReduceOnly(uint256 accountId, uint256 feedId, uint256 imBefore, uint256 imAfter);
    /// @dev Withdrawal hook: AE < IM after the withdrawal.
    error WithdrawalBelowInitialMargin(uint256 accountId, int256 adjustedEquity, uint256 initialMargin);

    // --- Governance ---

    /// @notice Sets a parameter within its bounds (governance): somRate ≤ 0.2, mmRatio ∈ [0.5, 1], maker/takerFeeRate ≤ 1%, optionFeeCap ≤ 50%,
    ///         fundingCapPerHour ≤ 1%, markHalfLife ∈ [1 min, 1 day], maxUnderlyings ≤ 4,
    ///         maxSeriesPerUnderlying ≤ 16, maxExpiriesPerUnderlying ≤ 4, defaultSeriesOiCap ≤ 1e30,
    ///         bandPerp ∈ [0.1%, 10%], bandOptAbs ≤ 5%, bandOptRel ≤ 50%,
    ///         markReferenceNotional ∈ [1, 1e30], expiryTimeOfDay < 1 day, maxHorizon ∈ [1 day, 2 y].
    function setParam(bytes32 what, uint256 value) external;
    /// @notice Sets the long open-interest cap of an instrument (governance, ≤ 1e30).
    function setOpenInterestCap(uint256 instrument, uint256 cap) external;
    /// @notice Sets the only contract allowed to call executeFill (governance).
    function setExchange(address exchange) external;
    /// @notice Names the guardian (governance).
    function setGuardian(address guardian) external;
    /// @notice Pauses or resumes new risk (guardian or governance): while paused no series is
    ///         created and no fill may raise an account's IM; nothing else stops (SPEC v2 §8b).
    function setPaused(bool paused) external;
    /// @notice Gives or takes the lister role (governance).
    function setLister(address lister, bool authorised) external;

    // --- Instruments ---

    /// @notice Lists the perpetual of `feedId` (governance).
    function listPerp(uint256 feedId, uint256 openInterestCap) external;
    /// @notice Creates an option series (SPEC v2 §4 listing). Governance: any strike > 0 and any
    ///         expiry in (now, now + maxHorizon]. A lister: strike within [S/3, 3S] of the fresh
    ///         spot and an expiry at expiryTimeOfDay within maxHorizon. Nobody else. The expiry is
    ///         registered with the Oracle.
    function createSeries(uint256 feedId, uint256 strike, uint256 expiry, bool isCall) external returns (uint256 seriesId);
    /// @notice Moves an account's perp PnL and funding into cash at the current spot (the
    ///         account's owner or a trade operator: cash takes a haircut, so INV-8 forbids others).
    function realisePnl(uint256 accountId, uint256 feedId) external;
    /// @notice Accrues a perp's funding index up to now (anyone).
    function accrueFunding(uint256 feedId) external;
    /// @notice Settles an account's position in an expired series at the fixed price (anyone).
    function settle(uint256 accountId, uint256 seriesId) external;

    // --- Trading (Exchange only) ---

    /// @notice Settles a fill: positions, premium, fees, funding, mark; then the post-trade rule.
    function executeFill(Fill calldata fill) external returns (uint256 makerFee, uint256 takerFee);

    // --- Views ---

    /// @notice The full margin breakdown of an account (stale risk arrays computed in memory).
    function marginBreakdown(uint256 accountId) external view returns (MarginBreakdown memory);
    /// @notice `marginBreakdown`, keeping the stale risk arrays it computes in transient storage for
    ///         the rest of the transaction (anyone; it changes no persistent state). For a contract
    ///         that checks accounts sharing series several times in one transaction (the Liquidator).
    function cachedMarginBreakdown(uint256 accountId) external returns (MarginBreakdown memory);
    function perpPosition(uint256 accountId, uint256 feedId) external view returns (PerpPosition memory);
    function optionPosition(uint256 accountId, uint256 seriesId) external view returns (int256);
    /// @notice The account's underlyings with positions, and per underlying its option series ids.
    function accountUnderlyings(uint256 accountId) external view returns (uint256[] memory);
    function accountSeries(uint256 accountId, uint256 feedId) external view returns (uint256[] memory);
    /// @notice The funding index accrued to now (the mark, the EMA of trade prices, is in perpMarkets).
    function fundingIndex(uint256 feedId) external view returns (int256);
    function openInterest(uint256 instrument) external view returns (uint256 longOpenInterest, uint256 cap);

    // --- Wiring and parameters (public state; bounds in setParam) ---

    function vault() external view returns (IVault);
    function oracle() external view returns (IOracle);
    function store() external view returns (IRiskArrayStore);
    /// @notice New risk is paused (SPEC v2 §8b).
    function paused() external view returns (bool);
    /// @notice A perp market: listed, funding clock, mark clock, mark [wad USD], funding index
    ///         at the last accrual [wad USD/unit].
    function perpMarkets(uint256 feedId)
        external
        view
        returns (bool listed, uint64 lastAccrual, uint64 lastTradeAt, uint256 mark, int256 index);
    function somRate() external view returns (uint256);
    function mmRatio() external view returns (uint256);
    function makerFeeRate() external view returns (uint256);
    function takerFeeRate() external view returns (uint256);
    function optionFeeCap() external view returns (uint256);
    function maxUnderlyings() external view returns (uint256);
    function maxSeriesPerUnderlying() external view returns (uint256);
    function maxExpiriesPerUnderlying() external view returns (uint256);
    function bandPerp() external view returns (uint256);
    function bandOptAbs() external view returns (uint256);
    function bandOptRel() external view returns (uint256);

    // --- Liquidation ---

    /// @notice Governance set the liquidator (the only caller of transferPositions).
    event LiquidatorSet(address liquidator);
    /// @notice The liquidator moved fraction `fraction` [wad] of every position of `from` to `to`.
    event PositionsTransferred(uint256 indexed from, uint256 indexed to, uint256 fraction);
    /// @dev SPEC §7: `accountId` is in a running liquidation auction (withdrawals are stopped).
    error AccountInLiquidation(uint256 accountId);
    /// @dev transferPositions needs two distinct accounts and a fraction in (0, 1e18].
    error InvalidPositionTransfer(uint256 from, uint256 to, uint256 fraction);

    /// @notice Sets the liquidator contract (governance).
    function setLiquidator(address liquidator_) external;
    /// @notice The liquidator contract (0: none).
    function liquidator() external view returns (address);
    /// @notice Liquidator only: moves fraction `fractionWad` of every perp (after realising both
    ///         sides' PnL and funding into cash at the fresh spot) and of every option position of
    ///         `from` to `to`, amounts truncated towards zero (exact at 1e18). The receiver's
    ///         position limits apply; open-interest caps do not (long OI never rises).
    function transferPositions(uint256 from, uint256 to, uint256 fractionWad) external;
}
