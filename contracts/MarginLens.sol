// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IVault} from "../interfaces/IVault.sol";
import {IOracle} from "../interfaces/IOracle.sol";
import {IMarginEngine} from "../interfaces/IMarginEngine.sol";
import {IMarginLens} from "../interfaces/IMarginLens.sol";
import {IRiskArrayStore} from "../interfaces/IRiskArrayStore.sol";
import {ILiquidator} from "../interfaces/ILiquidator.sol";
import {MarginLib as ML} from "./libraries/MarginLib.sol";
import {CashMath} from "./libraries/CashMath.sol";

/// @title Keel margin lens: what-if margin of proposed fills (see IMarginLens).
/// @dev A true view, holding nothing. It reads the account through the engine's and the Vault's
///      public views into a memory `Book`, applies each fill to the book as the engine applies it
///      to storage (the functions below mirror MarginEngine's `_fillPerp`, `_fillOption`,
///      `_addUnderlying`, `_pruneUnderlying`, `_addOption`, `_expiriesWith` step by step, the
///      Vault's cash words through the shared CashMath), and values books with the shared
///      MarginLib composition. So the breakdown is the engine's, exactly: tests/unit/engine/
///      test_what_if.py executes the same fills and compares field by field.
///      Underlying and slot order follow the engine's (append; remove by swapping in the last),
///      so the breakdown lists underlyings in the order marginBreakdown will.
contract MarginLens is IMarginLens {
    // --- Data ---

    /// @dev One underlying of the account: its perp and its option slots.
    struct Side {
        uint256 feedId;                  // underlying                                   [feedId]
        IMarginEngine.PerpPosition perp; // q, entry, funding index at entry
        uint256 n;                       // option slots in use (arrays have room for more) [count]
        uint256[] ids;                   // series of slot k                             [id]
        uint256[] expiries;              // their expiries                               [unix s]
        int256[] sizes;                  // q of slot k                                  [wad units]
    }

    /// @dev The account as the engine and the Vault hold it, in memory.
    struct Book {
        uint256 account;                 // account id                                   [id]
        int256 cashWord;                 // Vault cash principal (≥ 0) or debt (< 0)     [wad]
        uint256 n;                       // underlyings in use                           [count]
        Side[] sides;                    // in the engine's accountUnderlyings order
    }

    /// @dev What one what-if reads once: wiring and engine parameters.
    struct Env {
        IRiskArrayStore store;           // series and risk arrays
        uint256 room;                    // extra slots to allocate: the number of fills  [count]
        uint256 cashIndex;               // Vault cash index                             [wad]
        uint256 cashHaircut;             // settlement asset's haircut h0                [wad]
        bool paused;                     // new risk paused (SPEC v2 §8b)
        bool inAuction;                  // the account is in a liquidation auction (SPEC §7)
        bool marginRule;                 // apply the post-trade margin rule (checkFills)
        bool valued;                     // `coll` was read
        IVault.CollateralValue[] coll;   // collateral valued at the fresh feeds (read when first
                                         // needed, where the engine's valuation reads it)
        uint256 somRate;                 // short-option minimum rate                    [wad]
        uint256 mmRatio;                 // MM / IM                                      [wad]
        uint256 makerFeeRate;            // of S·|q|                                     [wad]
        uint256 takerFeeRate;            // of S·|q|                                     [wad]
        uint256 optionFeeCap;            // option fee ≤ this · premium                  [wad]
        uint256 bandPerp;                // perp fill band, of S                         [wad]
        uint256 bandOptAbs;              // option fill band, of S                       [wad]
        uint256 bandOptRel;              // option fill band, of V                       [wad]
        uint256 maxUnderlyings;          // per account                                  [count]
        uint256 maxSeries;               // per account and underlying                   [count]
        uint256 maxExpiries;             // per account and underlying                   [count]
    }

    /// @dev What one fill did to the book.
    struct Applied {
        uint256 feedId;                  // underlying of the instrument                 [feedId]
        int256 cashDelta;                // cash it moved into the account, fee included [wad USD]
        uint256 fee;                     // fee the account paid                         [wad USD]
    }

    /// @inheritdoc IMarginLens
    IMarginEngine public immutable engine;
    IVault internal immutable VAULT;     // cash and collateral
    IOracle internal immutable ORACLE;   // prices and vols

    constructor(IMarginEngine engine_) {
        engine = engine_;
        VAULT = engine_.vault();
        ORACLE = engine_.oracle();
    }

    // --- What-if ---

    /// @inheritdoc IMarginLens
    function whatIf(uint256 accountId, ProposedFill[] calldata fills)
        external
        view
        returns (IMarginEngine.MarginBreakdown memory)
    {
        return _asView(_run)(accountId, fills, false);
    }

    /// @inheritdoc IMarginLens
    function checkFills(uint256 accountId, ProposedFill[] calldata fills)
        external
        view
        returns (IMarginEngine.MarginBreakdown memory)
    {
        return _asView(_run)(accountId, fills, true);
    }

    /// @dev `_run` only makes static calls (its margin computations never ask the store to
    ///      cache): safe to run in a view.
    function _asView(
        function(uint256, ProposedFill[] calldata, bool) internal returns (IMarginEngine.MarginBreakdown memory) f
    )
        internal
        pure
        returns (
            function(uint256, ProposedFill[] calldata, bool) internal view returns (IMarginEngine.MarginBreakdown memory) g
        )
    {
        assembly {
            g := f
        }
    }

    /// @dev Applies `fills` in order to a memory copy of the account, each checked as its own
    ///      executeFill would check this side; returns the breakdown after the last one.
    function _run(uint256 account, ProposedFill[] calldata fills, bool marginRule)
        internal
        returns (IMarginEngine.MarginBreakdown memory a)
    {
        // an account that does not exist cannot trade (the Exchange finds no owner to authorise)
        if (VAULT.accountOwner(account) == address(0)) revert IVault.UnknownAccount(account);
        Env memory env = _env(account, fills.length);
        env.marginRule = marginRule;
        Book memory k = _load(account, env);
        if (fills.length == 0) return _margin(k, env, _cash(k, env));
        for (uint256 i; i < fills.length; ++i) {
            a = _step(k, env, fills[i]);
        }
    }

    /// @dev One fill and the breakdown after it (computed after every fill, as the engine's
    ///      post-trade check does: a stale feed of the account refuses the fill that meets it).
    function _step(Book memory k, Env memory env, ProposedFill calldata f)
        internal
        returns (IMarginEngine.MarginBreakdown memory a)
    {
        if (f.size == 0) revert IMarginEngine.ZeroSize();
        Book memory pre = _copy(k); // the "before" state the rules compare with
        Applied memory x = _apply(k, env, f);
        bool reduceOnly = ORACLE.isReduceOnly(x.feedId);
        a = _margin(k, env, _cash(k, env));
        _postTradeCheck(k, pre, env, a, x, reduceOnly, f.byOperator);
    }

    /// @dev MarginEngine._postTradeCheck for this side, from the breakdown `a` after the fill: the
    ///      risk rule always, the margin rule when `env.marginRule`.
    function _postTradeCheck(
        Book memory k,
        Book memory pre,
        Env memory env,
        IMarginEngine.MarginBreakdown memory a,
        Applied memory x,
        bool reduceOnly,
        bool byOperator
    ) internal {
        bool healthy = a.adjustedEquity >= int256(a.initialMargin);
        bool guarded = byOperator || env.inAuction;
        if (!reduceOnly && !env.paused && (!env.marginRule || (healthy && !guarded))) return;
        // as the engine: the account before the fill, with its cash after the fill less the cash
        // the fill moved
        IMarginEngine.MarginBreakdown memory p = _margin(pre, env, _cash(k, env) - x.cashDelta);
        // Circuit breaker (SPEC §3) and SPEC v2 §8b pause: the fill must not raise IM
        ML.riskRule(k.account, x.feedId, p.initialMargin, a.initialMargin, reduceOnly, env.paused);
        // INV-9 equity rule, then INV-2 (AE ≥ IM, or the risk-reducing exception)
        if (env.marginRule) ML.marginRule(k.account, a, p, healthy, guarded, x.fee);
    }

    /// @dev Applies one fill to the book as MarginEngine.executeFill applies it to this side.
    function _apply(Book memory k, Env memory env, ProposedFill calldata f) internal view returns (Applied memory x) {
        uint256 seriesId;
        (x.feedId, seriesId) = _resolve(env, f.instrument);
        IRiskArrayStore.Market memory m = ML.market(ORACLE, x.feedId);
        // INV-9: the price lies in the band around the model value (attacks 1, 6, 7)
        if (seriesId == 0) ML.checkBand(f.instrument, f.price, m.spot, int256(m.spot), env.bandPerp, 0);
        else ML.checkBand(f.instrument, f.price, m.spot, env.store.unitValue(seriesId, m), env.bandOptAbs, env.bandOptRel);
        uint256 maxFee = type(uint256).max; // [wad USD]
        if (seriesId == 0) {
            if (f.price == 0) revert IMarginEngine.ZeroPrice();
            x.cashDelta = _fillPerp(k, env, x.feedId, f.size, f.price, engine.fundingIndex(x.feedId));
        } else {
            IMarginEngine.Series memory s = env.store.series(seriesId);
            // a series trades until its expiry, then only settles
            if (block.timestamp >= s.expiry) revert IMarginEngine.SeriesExpired(seriesId, s.expiry, block.timestamp);
            _fillOption(k, env, x.feedId, seriesId, s.expiry, f.size);
            // premium in cash at the trade price, buyer to seller (rounded up: against the buyer)
            uint256 premium = ML.premium(f.price, f.size); // [wad USD]
            if (premium != 0) {
                x.cashDelta = f.size > 0 ? -int256(premium) : int256(premium);
                _addCash(k, env, x.cashDelta);
            }
            maxFee = ML.optionFeeCap(premium, env.optionFeeCap);
        }
        // fees: bps of notional S·|q|; options at most optionFeeCap of the premium
        x.fee = ML.fee(ML.notional(m.spot, f.size), f.maker ? env.makerFeeRate : env.takerFeeRate, maxFee);
        if (x.fee != 0) _addCash(k, env, -int256(x.fee));
        x.cashDelta -= int256(x.fee);
    }

    // --- The engine's bookkeeping, on the book ---

    /// @dev MarginEngine._fillPerp with limits: funding and old PnL into cash at `price`.
    function _fillPerp(Book memory k, Env memory env, uint256 feedId, int256 d, uint256 price, int256 idx)
        internal
        pure
        returns (int256 cashDelta)
    {
        Side memory s = _side(k, feedId);
        if (s.perp.size == 0) s = _addUnderlying(k, env, feedId);
        IMarginEngine.PerpPosition memory p = s.perp;
        cashDelta = ML.realised(p.size, p.entryPrice, p.fundingIndexAtEntry, price, idx);
        s.perp = IMarginEngine.PerpPosition(p.size + d, price, idx);
        _addCash(k, env, cashDelta);
        if (s.perp.size == 0) _pruneUnderlying(k, feedId);
    }

    /// @dev MarginEngine._fillOption: a new series meets the position limits.
    function _fillOption(Book memory k, Env memory env, uint256 feedId, uint256 seriesId, uint256 expiry, int256 d)
        internal
        pure
    {
        Side memory s = _side(k, feedId);
        uint256 at = _find(s, seriesId);
        int256 q = at == 0 ? int256(0) : s.sizes[at - 1];
        if (q == 0) s = _addUnderlying(k, env, feedId);
        _setOption(k, env, s, seriesId, expiry, q + d);
        if (q + d == 0) _pruneUnderlying(k, feedId);
    }

    /// @dev MarginEngine._addUnderlying with limits; returns the underlying's side.
    function _addUnderlying(Book memory k, Env memory env, uint256 feedId) internal pure returns (Side memory s) {
        s = _side(k, feedId);
        if (s.feedId != 0) return s;
        // SPEC §4 limit: at most maxUnderlyings underlyings per account
        if (k.n >= env.maxUnderlyings) revert IMarginEngine.TooManyUnderlyings(k.account, k.n + 1, env.maxUnderlyings);
        s = _newSide(feedId, 0, env.room);
        k.sides[k.n++] = s;
    }

    /// @dev MarginEngine._pruneUnderlying: an underlying without positions leaves the list (the
    ///      last one takes its place).
    function _pruneUnderlying(Book memory k, uint256 feedId) internal pure {
        for (uint256 u; u < k.n; ++u) {
            Side memory s = k.sides[u];
            if (s.feedId != feedId) continue;
            if (s.perp.size != 0 || s.n != 0) return;
            k.sides[u] = k.sides[--k.n];
            return;
        }
    }

    /// @dev MarginEngine._addOption with limits: sets q of a series in its underlying's slots.
    function _setOption(Book memory k, Env memory env, Side memory s, uint256 seriesId, uint256 expiry, int256 size)
        internal
        pure
    {
        uint256 at = _find(s, seriesId);
        if (at != 0) {
            if (size != 0) {
                s.sizes[at - 1] = size;
                return;
            }
            // remove: the last slot takes its place
            uint256 last = --s.n;
            s.ids[at - 1] = s.ids[last];
            s.expiries[at - 1] = s.expiries[last];
            s.sizes[at - 1] = s.sizes[last];
            return;
        }
        if (size == 0) return;
        // SPEC §4 limits: at most maxSeriesPerUnderlying series and maxExpiriesPerUnderlying
        // expiries (only a new expiry meets the latter)
        if (s.n >= env.maxSeries) revert IMarginEngine.TooManySeries(k.account, s.feedId, s.n + 1, env.maxSeries);
        (uint256 e, bool held) = _expiriesWith(s, expiry);
        if (!held && e > env.maxExpiries) revert IMarginEngine.TooManyExpiries(k.account, s.feedId, e, env.maxExpiries);
        s.ids[s.n] = seriesId;
        s.expiries[s.n] = expiry;
        s.sizes[s.n++] = size;
    }

    /// @dev MarginEngine._expiriesWith: distinct expiries among the slots and `expiry`, and
    ///      whether a slot already has `expiry`.
    function _expiriesWith(Side memory s, uint256 expiry) internal pure returns (uint256 count, bool held) {
        uint256[] memory seen = new uint256[](s.n + 1);
        seen[count++] = expiry;
        for (uint256 k; k < s.n; ++k) {
            uint256 e = s.expiries[k];
            if (e == expiry) held = true;
            uint256 i;
            while (i < count && seen[i] != e) ++i;
            if (i == count) seen[count++] = e;
        }
    }

    /// @dev Index + 1 of a series among a side's slots (0: none).
    function _find(Side memory s, uint256 seriesId) internal pure returns (uint256) {
        for (uint256 k; k < s.n; ++k) {
            if (s.ids[k] == seriesId) return k + 1;
        }
        return 0;
    }

    /// @dev The side of an underlying the book holds (feedId 0: none).
    function _side(Book memory k, uint256 feedId) internal pure returns (Side memory s) {
        for (uint256 u; u < k.n; ++u) {
            if (k.sides[u].feedId == feedId) return k.sides[u];
        }
    }

    /// @dev Vault._addCash on the book's cash word (the Vault's own arithmetic).
    function _addCash(Book memory k, Env memory env, int256 delta) internal pure {
        if (delta != 0) k.cashWord = CashMath.add(k.cashWord, env.cashIndex, delta);
    }

    /// @dev The book's effective cash, as Vault.valuation reports it.      [wad USD]
    function _cash(Book memory k, Env memory env) internal pure returns (int256) {
        return CashMath.effective(k.cashWord, env.cashIndex);
    }

    /// @dev MarginEngine._resolve: the underlying and series (0: the perp) of an instrument.
    function _resolve(Env memory env, uint256 instrument) internal view returns (uint256 feedId, uint256 seriesId) {
        if (instrument < ML.OPTION_INSTRUMENT_BASE) {
            (bool listed,,,,) = engine.perpMarkets(instrument);
            if (!listed) revert IMarginEngine.UnknownInstrument(instrument);
            return (instrument, 0);
        }
        seriesId = instrument - ML.OPTION_INSTRUMENT_BASE;
        if (seriesId == 0 || seriesId > env.store.seriesCount()) revert IMarginEngine.UnknownInstrument(instrument);
        feedId = env.store.series(seriesId).feedId;
    }

    // --- Margin of a book ---

    /// @dev The SPEC §6 computation (MarginLib) of a book whose effective cash is `cash`.
    function _margin(Book memory k, Env memory env, int256 cash)
        internal
        returns (IMarginEngine.MarginBreakdown memory r)
    {
        if (!env.valued) {
            (, env.coll,) = VAULT.valuation(k.account); // StalePrice of a collateral feed, as the engine's
            env.valued = true;
        }
        uint256[] memory held = new uint256[](k.n);
        for (uint256 u; u < k.n; ++u) {
            held[u] = k.sides[u].feedId;
        }
        uint256[] memory feeds = ML.feedsOf(held, env.coll, 0, false);
        ML.Totals memory t =
            ML.begin(env.store, false, cash, ML.cashHaircut(cash, env.cashHaircut), env.coll, feeds.length);
        r.underlyings = new IMarginEngine.UnderlyingRisk[](feeds.length);
        for (uint256 u; u < feeds.length; ++u) {
            // position underlyings first, in the book's order; then those linked to collateral
            Side memory s = u < k.n ? k.sides[u] : _newSide(feeds[u], 0, 0);
            int256 idx; // funding index now                                     [wad USD/unit]
            if (s.perp.size != 0) idx = engine.fundingIndex(s.feedId);
            uint256[] memory ids = new uint256[](s.n);
            int256[] memory sizes = new int256[](s.n);
            for (uint256 j; j < s.n; ++j) {
                ids[j] = s.ids[j];
                sizes[j] = s.sizes[j];
            }
            ML.addUnderlying(t, ML.market(ORACLE, s.feedId), s.perp, idx, ids, sizes, r.underlyings[u]);
        }
        ML.finish(t, r, feeds, ORACLE, env.somRate, env.mmRatio);
    }

    // --- Reading the account ---

    /// @dev The engine's parameters and the Vault's cash index, read once.
    function _env(uint256 account, uint256 room) internal view returns (Env memory env) {
        IMarginEngine e = engine;
        env.store = e.store();
        env.room = room;
        env.cashIndex = VAULT.cashIndex();
        env.cashHaircut = VAULT.haircut(VAULT.settlementAsset());
        env.paused = e.paused();
        address liquidator = e.liquidator();
        env.inAuction = liquidator != address(0) && ILiquidator(liquidator).inAuction(account);
        env.somRate = e.somRate();
        env.mmRatio = e.mmRatio();
        env.makerFeeRate = e.makerFeeRate();
        env.takerFeeRate = e.takerFeeRate();
        env.optionFeeCap = e.optionFeeCap();
        env.bandPerp = e.bandPerp();
        env.bandOptAbs = e.bandOptAbs();
        env.bandOptRel = e.bandOptRel();
        env.maxUnderlyings = e.maxUnderlyings();
        env.maxSeries = e.maxSeriesPerUnderlying();
        env.maxExpiries = e.maxExpiriesPerUnderlying();
    }

    /// @dev The account as the engine and the Vault hold it, with room for `env.room` more
    ///      underlyings and slots per underlying.
    function _load(uint256 account, Env memory env) internal view returns (Book memory k) {
        k.account = account;
        k.cashWord = VAULT.cashPrincipal(account);
        uint256[] memory feeds = engine.accountUnderlyings(account);
        k.n = feeds.length;
        k.sides = new Side[](feeds.length + env.room);
        for (uint256 u; u < feeds.length; ++u) {
            uint256[] memory ids = engine.accountSeries(account, feeds[u]);
            Side memory s = _newSide(feeds[u], ids.length, ids.length + env.room);
            s.perp = engine.perpPosition(account, feeds[u]);
            for (uint256 j; j < ids.length; ++j) {
                s.ids[j] = ids[j];
                s.expiries[j] = env.store.series(ids[j]).expiry;
                s.sizes[j] = engine.optionPosition(account, ids[j]);
            }
            k.sides[u] = s;
        }
    }

    /// @dev An empty side of `feedId` with `n` slots in use and room for `room`.
    function _newSide(uint256 feedId, uint256 n, uint256 room) internal pure returns (Side memory s) {
        s.feedId = feedId;
        s.n = n;
        s.ids = new uint256[](room);
        s.expiries = new uint256[](room);
        s.sizes = new int256[](room);
    }

    /// @dev A deep copy of a book (the state before a fill).
    function _copy(Book memory k) internal pure returns (Book memory c) {
        c.account = k.account;
        c.cashWord = k.cashWord;
        c.n = k.n;
        c.sides = new Side[](k.sides.length);
        for (uint256 u; u < k.n; ++u) {
            Side memory s = k.sides[u];
            Side memory d = _newSide(s.feedId, s.n, s.ids.length);
            d.perp = IMarginEngine.PerpPosition(s.perp.size, s.perp.entryPrice, s.perp.fundingIndexAtEntry);
            for (uint256 j; j < s.n; ++j) {
                d.ids[j] = s.ids[j];
                d.expiries[j] = s.expiries[j];
                d.sizes[j] = s.sizes[j];
            }
            c.sides[u] = d;
        }
    }
}
