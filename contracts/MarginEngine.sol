// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IOracle} from "../interfaces/IOracle.sol";
import {IVault, RIGHT_TRADE} from "../interfaces/IVault.sol";
import {IMarginHook} from "../interfaces/IMarginHook.sol";
import {IMarginEngine, IExpiryRegistry} from "../interfaces/IMarginEngine.sol";
import {IRiskArrayStore} from "../interfaces/IRiskArrayStore.sol";
import {ILiquidator} from "../interfaces/ILiquidator.sol";
import {PortfolioMargin as PM} from "./libraries/PortfolioMargin.sol";
import {MarginLib as ML} from "./libraries/MarginLib.sol";
import {WadMath} from "./libraries/WadMath.sol";

/// @title Keel portfolio margin engine (SPEC §4–6).
/// @dev Positions live here; cash and collateral live in the Vault (the engine is a Vault module).
///      Option valuation goes through the RiskArrayStore, which keeps one risk array per series
///      and oracle round. A margin check reads, per underlying, one oracle feed and one batch of
///      risk arrays; no Black-Scholes is evaluated when the arrays are current.
///
///      Perp accounting: every fill realises the account's existing perp PnL at the fill price
///      and settles its accrued funding into cash, then the position carries entry = fill price.
///      This keeps E = cash + q(S − entry) − funding owed exact across fills.
///
///      Who may do what (docs/SECURITY.md): governance (the owner, behind a timelock; two-step
///      transfer) sets parameters and lists; a lister it names lists series on the expiry schedule;
///      the guardian pauses new risk and nothing else; the Exchange alone fills; the Liquidator alone
///      moves positions; an account's owner or trade operator realises its PnL; anyone accrues
///      funding and settles expired series at the fixed price.
contract MarginEngine is IMarginEngine, Ownable2Step {
    // --- Constants ---

    uint256 public constant OPTION_INSTRUMENT_BASE = ML.OPTION_INSTRUMENT_BASE;
    uint256 public constant MAX_SERIES_HORIZON = 2 * 365 days;      // [s]
    uint256 internal constant FUNDING_PERIOD = 8 hours;             // [s]
    int256 internal constant WAD = 1e18;

    // --- Data ---

    struct PerpMarket {
        bool listed;            // governance listed the perp (and its underlying)
        uint64 lastAccrual;     // last funding accrual                          [unix s]
        uint64 lastTradeAt;     // last perp fill (mark EMA clock)                [unix s]
        uint256 mark;           // EMA of fill prices (0 before the first fill)  [wad USD]
        int256 fundingIndex;    // cumulative funding per unit long              [wad USD/unit]
    }

    /// @dev One storage slot per position: the expiry rides along so that the SPEC §4 expiry
    ///      limit is counted from the slots themselves, and nothing else is written per position
    ///      (INV-10: a position moved to a bidder costs one new slot).
    struct OptionSlot {
        uint64 seriesId;        // series                                        [id]
        uint40 expiry;          // the series' expiry                            [unix s]
        int152 size;            // q (|q| ≤ OI cap ≤ 1e30 < 2^151)               [wad units]
    }

    /// @dev The pre-fill state of one side, to value the account "as before" in memory.
    struct Before {
        bool active;            // evaluate with the overrides below
        uint256 feedId;         // underlying of the filled instrument           [feedId]
        uint256 seriesId;       // 0: the perp                                   [id]
        int256 size;            // position before the fill                      [wad units]
        uint256 entryPrice;     // perp entry before the fill                    [wad USD]
        int256 fundingIndexAtEntry; // perp funding index before the fill        [wad USD/unit]
        int256 cashDelta;       // cash the fill moved into the account          [wad USD]
        bool opened;            // the fill added feedId to the account: the before state holds none of it
    }

    IVault public immutable vault;              // cash and collateral
    IOracle public immutable oracle;            // prices, vols, settlement prices
    address public immutable settlementAsset;   // the Vault's cash token
    IRiskArrayStore public store;               // series and risk arrays (set once)
    address public exchange;                    // the only caller of executeFill
    address public guardian;                    // may pause new risk (SPEC v2 §8b)
    bool public paused;                         // new risk paused by the guardian or governance
    mapping(address => bool) public isLister;   // may list series on the expiry schedule

    // Governance parameters (setParam; bounds there)
    uint256 public somRate = 0.01e18;           // short-option minimum rate          [wad]
    uint256 public mmRatio = 0.8e18;            // MM / IM                            [wad]
    uint256 public makerFeeRate = 0.0002e18;    // of S·|q|                           [wad]
    uint256 public takerFeeRate = 0.0005e18;    // of S·|q|                           [wad]
    uint256 public optionFeeCap = 0.125e18;     // option fee ≤ this · premium       [wad]
    uint256 public fundingCapPerHour = 0.0005e18; // |funding rate| cap             [wad/h]
    uint256 public markHalfLife = 600;          // mark EMA half-life                 [s]
    uint256 public maxUnderlyings = 4;          // per account                        [count]
    uint256 public maxSeriesPerUnderlying = 16; // per account and underlying         [count]
    uint256 public maxExpiriesPerUnderlying = 4; // per account and underlying        [count]
    uint256 public defaultSeriesOiCap = 1e24;   // OI cap of a new series             [wad units]
    uint256 public bandPerp = 0.02e18;          // perp fill band, of S               [wad]
    uint256 public bandOptAbs = 0.005e18;       // option fill band, of S             [wad]
    uint256 public bandOptRel = 0.10e18;        // option fill band, of V             [wad]
    uint256 public markReferenceNotional = 100_000e18; // N₀ of the mark's notional weight [wad USD]
    uint256 public expiryTimeOfDay = 8 hours;   // listers' expiries: this time of day [s after 00:00 UTC]
    uint256 public maxHorizon = MAX_SERIES_HORIZON; // latest expiry from now         [s]

    mapping(uint256 => PerpMarket) public perpMarkets;                // feedId →
    mapping(uint256 => uint256) internal _longOi;                     // instrument → [wad units]
    mapping(uint256 => uint256) internal _oiCap;                      // instrument → [wad units]
    mapping(uint256 => int256) public settledSize;                    // seriesId → Σ settled q [wad units]

    mapping(uint256 => uint256[]) internal _underlyings;               // account → feeds held
    mapping(uint256 => mapping(uint256 => PerpPosition)) internal _perps;   // account → feed →
    mapping(uint256 => mapping(uint256 => OptionSlot[])) internal _options; // account → feed →

    constructor(IVault vault_, IOracle oracle_) Ownable(msg.sender) {
        vault = vault_;
        oracle = oracle_;
        settlementAsset = vault_.settlementAsset();
    }

    // --- Governance ---

    /// @notice Wires the risk-array store (once; it is deployed with this engine's address).
    function setStore(IRiskArrayStore store_) external onlyOwner {
        if (address(store) != address(0)) revert Unauthorised(msg.sender);
        store = store_;
    }

    /// @inheritdoc IMarginEngine
    function setExchange(address exchange_) external onlyOwner {
        exchange = exchange_;
        emit ExchangeSet(exchange_);
    }

    /// @inheritdoc IMarginEngine
    function setGuardian(address guardian_) external onlyOwner {
        guardian = guardian_;
        emit GuardianSet(guardian_);
    }

    /// @inheritdoc IMarginEngine
    function setPaused(bool paused_) external {
        // SPEC v2 §8b: the guardian acts at once, without the timelock; governance may too
        if (msg.sender != guardian && msg.sender != owner()) revert NotGuardian(msg.sender);
        paused = paused_;
        emit PausedSet(paused_, msg.sender);
    }

    /// @inheritdoc IMarginEngine
    function setLister(address lister, bool authorised) external onlyOwner {
        isLister[lister] = authorised;
        emit ListerSet(lister, authorised);
    }

    /// @inheritdoc IMarginEngine
    function setParam(bytes32 what, uint256 value) external onlyOwner {
        if (what == "somRate") {
            _bound(what, value, 0, 0.2e18);
            somRate = value;
        } else if (what == "mmRatio") {
            // MM below IM, and not so low that the liquidation buffer vanishes
            _bound(what, value, 0.5e18, 1e18);
            mmRatio = value;
        } else if (what == "makerFeeRate") {
            _bound(what, value, 0, 0.01e18);
            makerFeeRate = value;
        } else if (what == "takerFeeRate") {
            _bound(what, value, 0, 0.01e18);
            takerFeeRate = value;
        } else if (what == "optionFeeCap") {
            _bound(what, value, 0, 0.5e18);
            optionFeeCap = value;
        } else if (what == "fundingCapPerHour") {
            _bound(what, value, 0, 0.01e18);
            fundingCapPerHour = value;
        } else if (what == "markHalfLife") {
            _bound(what, value, 60, 1 days);
            markHalfLife = value;
        } else if (what == "maxUnderlyings") {
            // SPEC §4: limits keep every margin check bounded
            _bound(what, value, 1, 4);
            maxUnderlyings = value;
        } else if (what == "maxSeriesPerUnderlying") {
            _bound(what, value, 1, 16);
            maxSeriesPerUnderlying = value;
        } else if (what == "maxExpiriesPerUnderlying") {
            _bound(what, value, 1, 4);
            maxExpiriesPerUnderlying = value;
        } else if (what == "defaultSeriesOiCap") {
            // sizes stay below 2^127 so that q·ΔV never overflows
            _bound(what, value, 0, 1e30);
            defaultSeriesOiCap = value;
        } else if (what == "bandPerp") {
            // SPEC v2 §5: wide enough for honest fills between oracle rounds, narrow enough that an
            // off-market fill moves little equity (the equity rule covers the rest)
            _bound(what, value, 0.001e18, 0.1e18);
            bandPerp = value;
        } else if (what == "bandOptAbs") {
            _bound(what, value, 0, 0.05e18);
            bandOptAbs = value;
        } else if (what == "bandOptRel") {
            _bound(what, value, 0, 0.5e18);
            bandOptRel = value;
        } else if (what == "markReferenceNotional") {
            // > 0: a lone fill never sets the mark outright (SPEC v2 §4); ≤ 1e30 keeps n + N₀ exact
            _bound(what, value, 1, 1e30);
            markReferenceNotional = value;
        } else if (what == "expiryTimeOfDay") {
            _bound(what, value, 0, 1 days - 1);
            expiryTimeOfDay = value;
        } else if (what == "maxHorizon") {
            // ≤ 2 y: the Black-Scholes accuracy domain (docs/ENGINE.md)
            _bound(what, value, 1 days, MAX_SERIES_HORIZON);
            maxHorizon = value;
        } else {
            revert UnknownParam(what);
        }
        emit ParamSet(what, value);
    }

    /// @inheritdoc IMarginEngine
    function setOpenInterestCap(uint256 instrument, uint256 cap) external onlyOwner {
        _bound("openInterestCap", cap, 0, 1e30);
        _resolve(instrument);
        _oiCap[instrument] = cap;
        emit OpenInterestCapSet(instrument, cap);
    }

    /// @inheritdoc IMarginEngine
    function listPerp(uint256 feedId, uint256 openInterestCap) external onlyOwner {
        if (feedId == 0 || feedId >= OPTION_INSTRUMENT_BASE) revert UnknownInstrument(feedId);
        if (perpMarkets[feedId].listed) revert PerpAlreadyListed(feedId);
        _bound("openInterestCap", openInterestCap, 0, 1e30);
        perpMarkets[feedId] = PerpMarket(true, uint64(block.timestamp), uint64(block.timestamp), 0, 0);
        _oiCap[feedId] = openInterestCap;
        emit PerpListed(feedId, openInterestCap);
    }

    function _bound(bytes32 what, uint256 value, uint256 lo, uint256 hi) internal pure {
        if (value < lo || value > hi) revert ParamOutOfBounds(what, value, lo, hi);
    }

    // --- Instruments ---

    /// @inheritdoc IMarginEngine
    function createSeries(uint256 feedId, uint256 strike, uint256 expiry, bool isCall)
        external
        returns (uint256 seriesId)
    {
        // SPEC v2 §4 listing: governance or a lister only, so nobody can take or exhaust the
        // Oracle's pending-expiry slots (attack 5)
        bool byOwner = msg.sender == owner();
        if (!byOwner && !isLister[msg.sender]) revert NotLister(msg.sender);
        // SPEC v2 §8b: the guardian's pause stops new series
        if (paused) revert Paused();
        if (!perpMarkets[feedId].listed) revert UnknownInstrument(feedId);
        // Series bounds: expiry in the future and at most maxHorizon (≤ 2 y: BS accuracy domain) out
        uint256 latest = block.timestamp + maxHorizon;
        if (expiry <= block.timestamp || expiry > latest) revert InvalidExpiry(expiry, block.timestamp, latest);
        if (byOwner) {
            if (strike == 0 || strike > type(uint128).max) revert InvalidStrike(strike, 1, type(uint128).max);
        } else {
            // A lister's expiries follow the schedule (a fixed time of day)
            if (expiry % 1 days != expiryTimeOfDay) revert InvalidExpiry(expiry, block.timestamp, latest);
            // A lister's strikes: within [S/3, 3S] of the fresh spot
            (uint256 spot,,) = oracle.freshFeed(feedId);
            if (strike < spot / 3 || strike > 3 * spot) revert InvalidStrike(strike, spot / 3, 3 * spot);
        }
        uint256 existing = store.seriesIdOf(feedId, strike, expiry, isCall);
        if (existing != 0) revert SeriesExists(existing);
        seriesId = store.addSeries(Series(uint32(feedId), uint40(expiry), isCall, uint128(strike)));
        IExpiryRegistry(address(oracle)).registerExpiry(feedId, expiry);
        _oiCap[OPTION_INSTRUMENT_BASE + seriesId] = defaultSeriesOiCap;
        emit SeriesCreated(seriesId, feedId, strike, expiry, isCall);
    }

    /// @inheritdoc IMarginEngine
    function accrueFunding(uint256 feedId) external {
        if (!perpMarkets[feedId].listed) revert UnknownInstrument(feedId);
        (uint256 spot,,) = oracle.freshFeed(feedId);
        _accrue(feedId, spot);
    }

    /// @inheritdoc IMarginEngine
    function realisePnl(uint256 accountId, uint256 feedId) external {
        // INV-8: realised PnL takes the cash haircut, so only the account's side may choose it (attack 9)
        if (!vault.isAuthorised(accountId, msg.sender, RIGHT_TRADE)) revert NotAccountAuthorised(accountId, msg.sender);
        PerpPosition storage p = _perps[accountId][feedId];
        if (p.size == 0) revert NoPosition(accountId, feedId);
        (uint256 spot,,) = oracle.freshFeed(feedId);
        int256 f = _accrue(feedId, spot);
        int256 pnl = PM.mulWadFloor(p.size, int256(spot) - int256(p.entryPrice));
        int256 funding = ML.fundingOwed(p.size, f, p.fundingIndexAtEntry);
        p.entryPrice = spot;
        p.fundingIndexAtEntry = f;
        vault.adjustCash(accountId, pnl - funding);
        emit PnlRealised(accountId, feedId, pnl, funding, spot);
    }

    /// @inheritdoc IMarginEngine
    function settle(uint256 accountId, uint256 seriesId) external {
        Series memory s = store.series(seriesId);
        uint256 price = oracle.settlementPrice(s.feedId, s.expiry);
        if (price == 0) revert SettlementPriceNotFixed(seriesId, s.expiry);
        int256 q = _optionSize(accountId, s.feedId, seriesId);
        if (q == 0) revert NoPosition(accountId, OPTION_INSTRUMENT_BASE + seriesId);
        int256 cash = PM.mulWadFloor(q, PM.intrinsic(s.isCall, int256(price), int256(uint256(s.strike))));
        _addOption(accountId, s.feedId, seriesId, s.expiry, -q, false);
        if (q > 0) _longOi[OPTION_INSTRUMENT_BASE + seriesId] -= uint256(q);
        settledSize[seriesId] += q;
        _pruneUnderlying(accountId, s.feedId);
        if (cash != 0) vault.adjustCash(accountId, cash);
        emit OptionSettled(accountId, seriesId, q, price, cash);
    }

    // --- Trading ---

    /// @inheritdoc IMarginEngine
    function executeFill(Fill calldata f) external returns (uint256 makerFee, uint256 takerFee) {
        if (msg.sender != exchange) revert Unauthorised(msg.sender);
        if (f.makerAccount == f.takerAccount) revert SelfTrade(f.makerAccount);
        if (f.makerSize == 0) revert ZeroSize();
        (uint256 feedId, uint256 seriesId) = _resolve(f.instrument);
        IRiskArrayStore.Market memory m = ML.market(oracle, feedId);
        // INV-9: the price lies in the band around the model value (attacks 1, 6, 7)
        _checkBand(f.instrument, seriesId, f.price, m);
        uint256 notional = ML.notional(m.spot, f.makerSize); // S·|q| [wad USD]
        (Before memory mk, Before memory tk, uint256 premium) = _applyFill(f, feedId, seriesId, m.spot, notional);
        _checkOpenInterest(f.instrument, mk.size, f.makerSize, tk.size);
        // fees: bps of notional S·|q|; options at most optionFeeCap of the premium
        {
            uint256 maxFee = seriesId == 0 ? type(uint256).max : ML.optionFeeCap(premium, optionFeeCap); // [wad USD]
            makerFee = ML.fee(notional, makerFeeRate, maxFee);
            takerFee = ML.fee(notional, takerFeeRate, maxFee);
        }
        if (makerFee != 0) vault.collectFee(f.makerAccount, makerFee);
        if (takerFee != 0) vault.collectFee(f.takerAccount, takerFee);
        mk.cashDelta -= int256(makerFee);
        tk.cashDelta -= int256(takerFee);

        bool reduceOnly = oracle.isReduceOnly(feedId);
        _postTradeCheck(f.makerAccount, mk, reduceOnly, f.makerByOperator, makerFee);
        _postTradeCheck(f.takerAccount, tk, reduceOnly, f.takerByOperator, takerFee);
        emit Traded(f.instrument, f.makerAccount, f.takerAccount, f.makerSize, f.price, makerFee, takerFee);
    }

    /// @dev SPEC v2 §5 price band: perps |p − S| ≤ bandPerp·S; options |p − V| ≤ bandOptAbs·S +
    ///      bandOptRel·V, V the series' model value per unit at the fresh feed (its risk array).
    function _checkBand(uint256 instrument, uint256 seriesId, uint256 price, IRiskArrayStore.Market memory m)
        internal
        view
    {
        if (seriesId == 0) ML.checkBand(instrument, price, m.spot, int256(m.spot), bandPerp, 0);
        else ML.checkBand(instrument, price, m.spot, store.unitValue(seriesId, m), bandOptAbs, bandOptRel);
    }

    /// @dev Moves positions and cash of a fill; returns both sides' "before" states and the premium.
    function _applyFill(Fill calldata f, uint256 feedId, uint256 seriesId, uint256 spot, uint256 notional)
        internal
        returns (Before memory mk, Before memory tk, uint256 premium)
    {
        if (seriesId == 0) {
            if (f.price == 0) revert ZeroPrice();
            int256 idx = _accrue(feedId, spot);
            mk = _fillPerp(f.makerAccount, feedId, f.makerSize, f.price, idx, true);
            tk = _fillPerp(f.takerAccount, feedId, -f.makerSize, f.price, idx, true);
            _updateMark(feedId, f.price, spot, notional);
            return (mk, tk, 0);
        }
        Series memory s = store.series(seriesId);
        if (block.timestamp >= s.expiry) revert SeriesExpired(seriesId, s.expiry, block.timestamp);
        mk = _fillOption(f.makerAccount, s, seriesId, f.makerSize);
        tk = _fillOption(f.takerAccount, s, seriesId, -f.makerSize);
        // premium in cash at the trade price, buyer to seller (rounded up: against the buyer)
        premium = ML.premium(f.price, f.makerSize);
        if (premium == 0) return (mk, tk, 0);
        if (f.makerSize > 0) {
            vault.moveCash(f.makerAccount, f.takerAccount, int256(premium));
            mk.cashDelta = -int256(premium);
            tk.cashDelta = int256(premium);
        } else {
            vault.moveCash(f.takerAccount, f.makerAccount, int256(premium));
            tk.cashDelta = -int256(premium);
            mk.cashDelta = int256(premium);
        }
    }

    /// @dev Applies a perp fill of `d` at `price` to one account (funding and old PnL into cash).
    ///      `limits`: the SPEC §4 position limits apply (fills), or not (liquidation transfers).
    function _fillPerp(uint256 account, uint256 feedId, int256 d, uint256 price, int256 idx, bool limits)
        internal
        returns (Before memory b)
    {
        PerpPosition storage p = _perps[account][feedId];
        b = Before(true, feedId, 0, p.size, p.entryPrice, p.fundingIndexAtEntry, 0, false);
        if (p.size == 0) b.opened = _addUnderlying(account, feedId, limits);
        int256 cashDelta = ML.realised(p.size, p.entryPrice, p.fundingIndexAtEntry, price, idx);
        p.size += d;
        p.entryPrice = price;
        p.fundingIndexAtEntry = idx;
        if (cashDelta != 0) vault.adjustCash(account, cashDelta);
        b.cashDelta = cashDelta;
        if (p.size == 0) _pruneUnderlying(account, feedId);
    }

    /// @dev Applies an option fill of `d` to one account (limits on opening a new series).
    function _fillOption(uint256 account, Series memory s, uint256 seriesId, int256 d)
        internal
        returns (Before memory b)
    {
        int256 q = _addOption(account, s.feedId, seriesId, s.expiry, d, true);
        b = Before(true, s.feedId, seriesId, q, 0, 0, 0, false);
        if (q == 0) b.opened = _addUnderlying(account, s.feedId, true);
        if (q + d == 0) _pruneUnderlying(account, s.feedId);
    }

    /// @dev INV-2 (SPEC §5): after a fill the account passes IM, or the fill neither raised its IM
    ///      nor its shortfall IM − AE. Under the circuit breaker or the guardian's pause the fill
    ///      must not raise IM at all. INV-9 (SPEC v2 §5 equity rule): a side below IM after the
    ///      fill, in an auction, or committed by an operator loses no equity at model prices
    ///      beyond its fee.
    function _postTradeCheck(uint256 account, Before memory b, bool reduceOnly, bool byOperator, uint256 fee)
        internal
    {
        MarginBreakdown memory a = _margin(account, _noBefore(), true);
        bool healthy = a.adjustedEquity >= int256(a.initialMargin);
        bool guarded = byOperator || _inAuction(account);
        if (healthy && !reduceOnly && !paused && !guarded) return;
        MarginBreakdown memory p = _margin(account, b, true);
        // Circuit breaker (SPEC §3) and SPEC v2 §8b pause: the fill must not raise the account's IM
        ML.riskRule(account, b.feedId, p.initialMargin, a.initialMargin, reduceOnly, paused);
        // INV-9 equity rule, then INV-2 (AE ≥ IM, or the risk-reducing exception)
        ML.marginRule(account, a, p, healthy, guarded, fee);
    }

    /// @dev Open-interest cap (long side) of an instrument: a fill may not raise the long OI
    ///      above the cap (fills that lower it are always allowed).
    function _checkOpenInterest(uint256 instrument, int256 makerBefore, int256 makerSize, int256 takerBefore)
        internal
    {
        int256 delta = _pos(makerBefore + makerSize) - _pos(makerBefore) + _pos(takerBefore - makerSize)
            - _pos(takerBefore);
        uint256 oi = uint256(int256(_longOi[instrument]) + delta);
        _longOi[instrument] = oi;
        if (delta > 0 && oi > _oiCap[instrument]) revert OpenInterestCapExceeded(instrument, oi, _oiCap[instrument]);
    }

    function _pos(int256 x) internal pure returns (int256) {
        return x > 0 ? x : int256(0);
    }

    // --- Positions bookkeeping ---

    function _resolve(uint256 instrument) internal view returns (uint256 feedId, uint256 seriesId) {
        if (instrument < OPTION_INSTRUMENT_BASE) {
            if (!perpMarkets[instrument].listed) revert UnknownInstrument(instrument);
            return (instrument, 0);
        }
        seriesId = instrument - OPTION_INSTRUMENT_BASE;
        if (seriesId == 0 || seriesId > store.seriesCount()) revert UnknownInstrument(instrument);
        feedId = store.series(seriesId).feedId;
    }

    /// @dev Adds `feedId` to the account's underlyings unless held; returns whether it added it.
    function _addUnderlying(uint256 account, uint256 feedId, bool limits) internal returns (bool) {
        uint256[] storage us = _underlyings[account];
        for (uint256 k; k < us.length; ++k) {
            if (us[k] == feedId) return false;
        }
        // SPEC §4 limit: at most maxUnderlyings underlyings per account; SPEC v2: never on a
        // liquidation transfer (attack 8: a lowered limit must not make bids revert, INV-3)
        if (limits && us.length >= maxUnderlyings) revert TooManyUnderlyings(account, us.length + 1, maxUnderlyings);
        us.push(feedId);
        return true;
    }

    function _pruneUnderlying(uint256 account, uint256 feedId) internal {
        if (_perps[account][feedId].size != 0 || _options[account][feedId].length != 0) return;
        uint256[] storage us = _underlyings[account];
        for (uint256 k; k < us.length; ++k) {
            if (us[k] == feedId) {
                us[k] = us[us.length - 1];
                us.pop();
                return;
            }
        }
    }

    /// @dev Adds d to an account's size in a series of underlying `feedId` expiring at `expiry`
    ///      (one scan of its slots); returns the size before. A slot left at 0 is removed.
    ///      `limits`: the SPEC §4 limits bind a new series (fills), or not (liquidation transfers).
    function _addOption(uint256 account, uint256 feedId, uint256 seriesId, uint256 expiry, int256 d, bool limits)
        internal
        returns (int256 q)
    {
        OptionSlot[] storage slots = _options[account][feedId];
        uint256 n = slots.length;
        uint256 at = _find(slots, seriesId);
        if (at != 0) {
            q = slots[at - 1].size;
            if (q + d != 0) {
                slots[at - 1].size = int152(q + d);
                return q;
            }
            // remove: swap with the last slot
            slots[at - 1] = slots[n - 1];
            slots.pop();
            return q;
        }
        if (d == 0) return 0;
        // SPEC §4 limits: at most maxSeriesPerUnderlying series and maxExpiriesPerUnderlying expiries
        // (SPEC v2: they bind what an account opens by trading, never a liquidation transfer)
        if (limits) {
            if (n >= maxSeriesPerUnderlying) revert TooManySeries(account, feedId, n + 1, maxSeriesPerUnderlying);
            (uint256 e, bool held) = _expiriesWith(slots, expiry);
            // only a new expiry meets the limit (an account over it by liquidation still trades
            // its held expiries)
            if (!held && e > maxExpiriesPerUnderlying) {
                revert TooManyExpiries(account, feedId, e, maxExpiriesPerUnderlying);
            }
        }
        slots.push(OptionSlot(uint64(seriesId), uint40(expiry), int152(d)));
    }

    /// @dev Index + 1 of a series among an account's slots of one underlying (0: none). The slots
    ///      are few (≤ maxSeriesPerUnderlying by trading) and every margin check reads them anyway:
    ///      a scan costs less than an index written per position.
    function _find(OptionSlot[] storage slots, uint256 seriesId) internal view returns (uint256 at) {
        // one word per slot, seriesId in its low 64 bits (OptionSlot's first member): the scan
        // reads the words in place, without the per-element bounds check and slot hashing
        assembly ("memory-safe") {
            let n := sload(slots.slot)
            mstore(0, slots.slot)
            let base := keccak256(0, 0x20)
            for { let k := 0 } lt(k, n) { k := add(k, 1) } {
                if eq(and(sload(add(base, k)), 0xffffffffffffffff), seriesId) {
                    at := add(k, 1)
                    break
                }
            }
        }
    }

    /// @dev Distinct expiries among the slots and `expiry`, and whether a slot already has `expiry`.
    function _expiriesWith(OptionSlot[] storage slots, uint256 expiry)
        internal
        view
        returns (uint256 count, bool held)
    {
        uint256 n = slots.length;
        uint256[] memory seen = new uint256[](n + 1);
        seen[count++] = expiry;
        for (uint256 k; k < n; ++k) {
            uint256 e = slots[k].expiry;
            if (e == expiry) held = true;
            uint256 i;
            while (i < count && seen[i] != e) ++i;
            if (i == count) seen[count++] = e;
        }
    }

    function _optionSize(uint256 account, uint256 feedId, uint256 seriesId) internal view returns (int256) {
        OptionSlot[] storage slots = _options[account][feedId];
        uint256 at = _find(slots, seriesId);
        return at == 0 ? int256(0) : int256(slots[at - 1].size);
    }

    // --- Funding ---

    /// @dev Accrues the funding index to now at spot S; returns it.
    function _accrue(uint256 feedId, uint256 spot) internal returns (int256 idx) {
        PerpMarket storage m = perpMarkets[feedId];
        int256 rate;
        (idx, rate) = _fundingIndexAt(m, spot);
        if (m.lastAccrual != block.timestamp) {
            m.fundingIndex = idx;
            m.lastAccrual = uint64(block.timestamp);
            emit FundingAccrued(feedId, idx, rate, m.mark, spot);
        }
    }

    /// @dev Funding index accrued to now: rate/s = clamp((mark − S)/S / 8h, ±cap/1h), applied to S.
    function _fundingIndexAt(PerpMarket storage m, uint256 spot) internal view returns (int256 idx, int256 rate) {
        idx = m.fundingIndex;
        uint256 dt = block.timestamp - m.lastAccrual;
        if (m.mark == 0 || dt == 0 || spot == 0) return (idx, 0);
        int256 premium = (int256(m.mark) - int256(spot)) * WAD / int256(spot); // [wad]
        rate = premium / int256(FUNDING_PERIOD); // [wad/s]
        int256 cap = int256(fundingCapPerHour) / 1 hours;
        if (rate > cap) rate = cap;
        if (rate < -cap) rate = -cap;
        idx += rate * int256(dt) * int256(spot) / WAD;
    }

    /// @dev SPEC v2 §4 mark: an EMA of fill prices weighted by time and notional n = S·|q|:
    ///      mark += (price − mark)·α·n/(n + N₀), α = 1 − 2^(−dt/h) (h = markHalfLife, N₀ =
    ///      markReferenceNotional). The first fill pulls from the spot with α = 1. A dust fill moves
    ///      nothing, and no lone fill sets the mark outright (attack 6); only in-band fills get here.
    function _updateMark(uint256 feedId, uint256 price, uint256 spot, uint256 notional) internal {
        PerpMarket storage m = perpMarkets[feedId];
        int256 from = int256(m.mark == 0 ? spot : m.mark); // [wad USD]
        int256 alpha = WAD; // time weight α                                        [wad]
        uint256 dt = block.timestamp - m.lastTradeAt; // [s]
        if (m.mark != 0) {
            alpha = WAD - int256(WadMath.expWad(-int256(dt) * PM.LN2 / int256(markHalfLife))); // 1 − 2^(−dt/h)
        }
        // notional weight n/(n + N₀) [wad]; n ≤ S·OI cap < 2^228 / 1e18, so n·1e18 fits
        uint256 weight = notional * 1e18 / (notional + markReferenceNotional);
        // |price − from| < 2^128, α and weight ≤ 1e18: the product stays below 2^248
        m.mark = uint256(from + (int256(price) - from) * alpha * int256(weight) / (WAD * WAD));
        // the clock advances by the share of dt this fill used: a dust fill in every block cannot
        // reset it and so freeze the mark against the fills that follow it
        m.lastTradeAt = uint64(m.lastTradeAt + dt * weight / 1e18);
    }

    // --- Margin ---

    /// @inheritdoc IMarginHook
    function checkWithdrawal(uint256 accountId) external view {
        _checkNotInAuction(accountId); // SPEC §7: withdrawals stop while the account is in auction
        // SPEC §2: an account with no positions and no debt withdraws without prices
        if (_underlyings[accountId].length == 0 && vault.cashOf(accountId) >= 0) return;
        MarginBreakdown memory b = _asView(_margin)(accountId, _noBefore(), false);
        // INV-2: withdrawals need AE ≥ IM afterwards
        if (b.adjustedEquity < int256(b.initialMargin)) {
            revert WithdrawalBelowInitialMargin(accountId, b.adjustedEquity, b.initialMargin);
        }
    }

    /// @inheritdoc IMarginEngine
    function marginBreakdown(uint256 accountId) external view returns (MarginBreakdown memory) {
        return _asView(_margin)(accountId, _noBefore(), false);
    }

    function _noBefore() internal pure returns (Before memory b) {}

    /// @inheritdoc IMarginEngine
    function cachedMarginBreakdown(uint256 accountId) external returns (MarginBreakdown memory) {
        return _margin(accountId, _noBefore(), true);
    }

    /// @dev `_margin` with `cache = false` only makes static calls: safe to run in a view.
    function _asView(function(uint256, Before memory, bool) internal returns (MarginBreakdown memory) f)
        internal
        pure
        returns (function(uint256, Before memory, bool) internal view returns (MarginBreakdown memory) g)
    {
        assembly {
            g := f
        }
    }

    /// @dev The SPEC §6 computation (MarginLib). `b.active` values the account as before a fill
    ///      (its position in one instrument and its cash replaced). `cache` keeps the risk arrays
    ///      computed on the way for the rest of the transaction (RiskArrayStore.optionRiskCached).
    function _margin(uint256 account, Before memory b, bool cache) internal returns (MarginBreakdown memory r) {
        (int256 cash, IVault.CollateralValue[] memory coll, uint256 cashHaircut) = vault.valuation(account);
        if (b.active) {
            cash -= b.cashDelta;
            cashHaircut = ML.cashHaircut(cash, vault.haircut(settlementAsset));
        }
        uint256[] memory feeds = ML.feedsOf(_underlyings[account], coll, b.active ? b.feedId : 0, b.opened);
        ML.Totals memory t = ML.begin(store, cache, cash, cashHaircut, coll, feeds.length);
        r.underlyings = new UnderlyingRisk[](feeds.length);
        for (uint256 u; u < feeds.length; ++u) {
            _valueUnderlying(account, feeds[u], b, t, r.underlyings[u]);
        }
        ML.finish(t, r, feeds, oracle, somRate, mmRatio);
    }

    /// @dev One underlying's positions (with the "before" override) into the computation.
    function _valueUnderlying(uint256 account, uint256 feedId, Before memory b, ML.Totals memory t, UnderlyingRisk memory line)
        internal
    {
        IRiskArrayStore.Market memory m = ML.market(oracle, feedId);
        PerpPosition memory p = _perps[account][feedId];
        if (b.active && b.seriesId == 0 && b.feedId == feedId) {
            p = PerpPosition(b.size, b.entryPrice, b.fundingIndexAtEntry);
        }
        int256 idx; // funding index now                                         [wad USD/unit]
        if (p.size != 0) (idx,) = _fundingIndexAt(perpMarkets[feedId], m.spot);
        (uint256[] memory ids, int256[] memory sizes) = _optionList(account, feedId, b);
        ML.addUnderlying(t, m, p, idx, ids, sizes, line);
    }

    /// @dev The account's option positions on one underlying (with the "before" override).
    function _optionList(uint256 account, uint256 feedId, Before memory b)
        internal
        view
        returns (uint256[] memory ids, int256[] memory sizes)
    {
        OptionSlot[] storage slots = _options[account][feedId];
        // the series the "before" state overrides (0, which no series has, when there is none)
        uint256 overId = b.active && b.feedId == feedId ? b.seriesId : 0;
        int256 overSize = b.size;
        uint256 n;
        uint256 base;
        assembly ("memory-safe") {
            n := sload(slots.slot)
            mstore(0, slots.slot)
            base := keccak256(0, 0x20)
        }
        ids = new uint256[](n + 1);
        sizes = new int256[](n + 1);
        uint256 out;
        bool found;
        // one word per slot: seriesId in bits 0..63, expiry 64..103, the int152 size 104..255
        assembly ("memory-safe") {
            for { let k := 0 } lt(k, n) { k := add(k, 1) } {
                let w := sload(add(base, k))
                let id := and(w, 0xffffffffffffffff)
                let q := sar(104, w)
                if eq(id, overId) {
                    q := overSize
                    found := 1
                }
                if q {
                    out := add(out, 1)
                    mstore(add(ids, shl(5, out)), id)
                    mstore(add(sizes, shl(5, out)), q)
                }
            }
        }
        if (overId != 0 && !found && overSize != 0) {
            ids[out] = overId;
            sizes[out++] = overSize;
        }
        assembly {
            mstore(ids, out)
            mstore(sizes, out)
        }
    }

    // --- Views ---

    /// @inheritdoc IMarginEngine
    function perpPosition(uint256 accountId, uint256 feedId) external view returns (PerpPosition memory) {
        return _perps[accountId][feedId];
    }

    /// @inheritdoc IMarginEngine
    function optionPosition(uint256 accountId, uint256 seriesId) public view returns (int256) {
        return _optionSize(accountId, store.series(seriesId).feedId, seriesId);
    }

    /// @inheritdoc IMarginEngine
    function accountUnderlyings(uint256 accountId) external view returns (uint256[] memory) {
        return _underlyings[accountId];
    }

    /// @inheritdoc IMarginEngine
    function accountSeries(uint256 accountId, uint256 feedId) external view returns (uint256[] memory ids) {
        OptionSlot[] storage slots = _options[accountId][feedId];
        ids = new uint256[](slots.length);
        for (uint256 k; k < ids.length; ++k) {
            ids[k] = slots[k].seriesId;
        }
    }

    /// @inheritdoc IMarginEngine
    function fundingIndex(uint256 feedId) external view returns (int256 idx) {
        (idx,) = _fundingIndexAt(perpMarkets[feedId], oracle.feed(feedId).price);
    }

    /// @inheritdoc IMarginEngine
    function openInterest(uint256 instrument) external view returns (uint256 longOpenInterest, uint256 cap) {
        return (_longOi[instrument], _oiCap[instrument]);
    }

    // --- Liquidation ---

    /// @dev Liquidator contract (SPEC §7): the only caller of transferPositions.
    address public liquidator;

    /// @notice Sets the liquidator (governance; 0 disables liquidations).
    function setLiquidator(address liquidator_) external onlyOwner {
        liquidator = liquidator_;
        emit LiquidatorSet(liquidator_);
    }

    /// @dev SPEC §7: an account in a running auction may not withdraw.
    function _checkNotInAuction(uint256 accountId) internal view {
        if (_inAuction(accountId)) revert AccountInLiquidation(accountId);
    }

    function _inAuction(uint256 accountId) internal view returns (bool) {
        address l = liquidator;
        return l != address(0) && ILiquidator(l).inAuction(accountId);
    }

    /// @inheritdoc IMarginEngine
    function transferPositions(uint256 from, uint256 to, uint256 fractionWad) external {
        // INV-7: only the liquidator moves positions between accounts
        if (msg.sender != liquidator || msg.sender == address(0)) revert Unauthorised(msg.sender);
        if (from == to || fractionWad == 0 || fractionWad > uint256(WAD)) {
            revert InvalidPositionTransfer(from, to, fractionWad);
        }
        uint256[] memory feeds = _underlyings[from]; // a copy: pruning reorders the stored list
        for (uint256 k; k < feeds.length; ++k) {
            _transferPerp(from, to, feeds[k], fractionWad);
            _transferOptions(from, to, feeds[k], fractionWad);
            _pruneUnderlying(from, feeds[k]);
        }
        emit PositionsTransferred(from, to, fractionWad);
    }

    /// @dev Fraction f of q, truncated towards zero (the liquidated account keeps the dust), exact at f = 1.
    function _part(int256 q, uint256 f) internal pure returns (int256) {
        return f == uint256(WAD) ? q : q * int256(f) / WAD; // |q| < 2^127, f <= 1e18: no overflow
    }

    /// @dev Moves fraction f of a perp. Both sides' PnL and funding are first realised into cash at
    ///      the fresh spot (exactly the amounts E counts), so the position moves at entry = spot and
    ///      the liquidator's move of the cash fraction carries the PnL with it.
    function _transferPerp(uint256 from, uint256 to, uint256 feedId, uint256 f) internal {
        int256 q = _perps[from][feedId].size;
        if (q == 0) return;
        int256 moved = _part(q, f);
        if (moved == 0) return;
        (uint256 spot,,) = oracle.freshFeed(feedId);
        int256 idx = _accrue(feedId, spot);
        int256 qTo = _perps[to][feedId].size;
        _fillPerp(from, feedId, -moved, spot, idx, false);
        _fillPerp(to, feedId, moved, spot, idx, false); // SPEC v2 §4: limits never block a liquidation
        _moveOpenInterest(feedId, q, qTo, moved);
    }

    /// @dev Moves fraction f of every option position of `from` on one underlying, with one scan
    ///      of `to`'s slots per series. `from`'s slots are read from the last: with f < 1 the part
    ///      moved is smaller than q (|q·f| < |q|), so the slot keeps q − moved in place; with f = 1
    ///      every slot moves whole and the one read is the last left, so it is popped.
    function _transferOptions(uint256 from, uint256 to, uint256 feedId, uint256 f) internal {
        OptionSlot[] storage src = _options[from][feedId];
        for (uint256 k = src.length; k != 0; --k) {
            OptionSlot memory s = src[k - 1];
            int256 q = s.size;
            int256 moved = _part(q, f);
            if (moved == 0) continue;
            if (f == uint256(WAD)) src.pop();
            else src[k - 1].size = int152(q - moved);
            // SPEC v2 §4: limits never block a liquidation
            int256 qTo = _addOption(to, feedId, s.seriesId, s.expiry, moved, false);
            if (qTo == 0) _addUnderlying(to, feedId, false);
            else if (qTo + moved == 0) _pruneUnderlying(to, feedId);
            _moveOpenInterest(OPTION_INSTRUMENT_BASE + s.seriesId, q, qTo, moved);
        }
    }

    /// @dev Long open interest after moving `moved` (same sign as q, |moved| <= |q|) from a holder
    ///      of q to a holder of qTo. It never rises (Σ max(x, 0) is subadditive), so no cap check:
    ///      a liquidation is never blocked by an open-interest cap. INV-6: sizes are moved, not created.
    function _moveOpenInterest(uint256 instrument, int256 q, int256 qTo, int256 moved) internal {
        int256 delta = _pos(q - moved) - _pos(q) + _pos(qTo + moved) - _pos(qTo);
        _longOi[instrument] = uint256(int256(_longOi[instrument]) + delta);
    }
}
