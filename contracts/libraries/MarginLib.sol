// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IOracle} from "../../interfaces/IOracle.sol";
import {IVault} from "../../interfaces/IVault.sol";
import {IMarginEngine} from "../../interfaces/IMarginEngine.sol";
import {IRiskArrayStore} from "../../interfaces/IRiskArrayStore.sol";
import {PortfolioMargin as PM} from "./PortfolioMargin.sol";
import {JointLossLib} from "./JointLossLib.sol";

/// @title The margin computation of SPEC §6 and the fill arithmetic of SPEC v2 §5, as the margin
///        engine and the margin lens (its what-if view) both run them.
/// @dev The engine reads an account's positions from its storage; the lens from a copy in memory
///      with proposed fills applied. Everything computed from those positions lives here, so a
///      what-if equals the breakdown after execution by construction (docs/ENGINE.md, "What-if").
///      A computation: `begin` (cash and collateral), `addUnderlying` per underlying (in the order
///      `feedsOf` gives), `finish` (SR, SOM, IM, MM).
library MarginLib {
    int256 internal constant WAD = 1e18;
    /// @dev Instrument ids: a perp is its feed id, an option series this base + its id.
    uint256 internal constant OPTION_INSTRUMENT_BASE = 1 << 128;
    /// @dev Equity-rule tolerance: the floors and ceilings of one fill's cash and valuation
    ///      (premium up, q·V and PnL down) can cost an account at most this much at a fair price.
    int256 internal constant EQUITY_ROUNDING = 4; // [wad USD]

    /// @dev Working totals of one margin computation, and what it reads options through.
    struct Totals {
        IRiskArrayStore store;  // option values and scenario P&Ls
        bool cache;             // keep computed risk arrays for the transaction (engine only)
        IVault.CollateralValue[] coll; // the account's collateral
        int256 equity;          // E                                                 [wad USD]
        int256 haircuts;        // Σ collateral haircuts + cash haircut              [wad USD]
        uint256 shortNotional;  // Σ over short options of |q|·S                     [wad USD]
        uint256 sumLoss;        // Σ_u L_u                                           [wad USD]
        int256[31] joint;       // Σ_u P_u(j)                                        [wad USD]
        int256[31][] pnl;       // P_u(j) of each underlying added, in order          [wad USD]
        uint256 added;          // underlyings added so far                          [count]
    }

    // --- Margin (SPEC §6) ---

    /// @dev Starts a computation of `underlyings` underlyings: cash and collateral in E, their
    ///      haircuts in E − AE.
    function begin(
        IRiskArrayStore store,
        bool cache,
        int256 cash,
        uint256 cashHaircut,
        IVault.CollateralValue[] memory coll,
        uint256 underlyings
    ) internal pure returns (Totals memory t) {
        t.pnl = new int256[31][](underlyings);
        t.store = store;
        t.cache = cache;
        t.coll = coll;
        t.equity = cash;
        t.haircuts = int256(cashHaircut);
        for (uint256 k; k < coll.length; ++k) {
            t.equity += int256(coll[k].value);
            t.haircuts += int256(coll[k].haircut);
        }
    }

    /// @dev The settlement asset's haircut h of positive cash, rounded up (as the Vault's valuation).
    function cashHaircut(int256 cash, uint256 h) internal pure returns (uint256) {
        return cash > 0 ? (uint256(cash) * h + 1e18 - 1) / 1e18 : 0;
    }

    /// @dev An account's underlyings: those with positions (`held`, in order), then those linked to
    ///      collateral held (collateral moves with its underlying's scenarios). `extra` (0: none)
    ///      is the underlying of a fill when this is the engine's "before" state: the fill closed
    ///      it (`opened` false: it joins the list unless held; attack 3, SPEC v2 §5 equity rule) or
    ///      opened it (`opened`: it leaves the list unless linked to collateral, so the before state
    ///      is margined on the set it held, and a ρ the account did not need cannot inflate it;
    ///      attack 11, SECURITY.md).
    function feedsOf(uint256[] memory held, IVault.CollateralValue[] memory coll, uint256 extra, bool opened)
        internal
        pure
        returns (uint256[] memory f)
    {
        f = new uint256[](held.length + coll.length + 1);
        uint256 n;
        bool extraSeen = extra == 0 || opened;
        for (uint256 k; k < held.length; ++k) {
            if (held[k] == extra) {
                if (opened) continue;
                extraSeen = true;
            }
            f[n++] = held[k];
        }
        if (!extraSeen) f[n++] = extra;
        for (uint256 c; c < coll.length; ++c) {
            uint256 l = coll[c].linkedUnderlying;
            if (l == 0) continue;
            bool seen;
            for (uint256 k; k < n; ++k) {
                if (f[k] == l) seen = true;
            }
            if (!seen) f[n++] = l;
        }
        assembly {
            mstore(f, n)
        }
    }

    /// @dev The market of one underlying: its fresh oracle round (reverts `StalePrice`).
    function market(IOracle oracle, uint256 feedId) internal view returns (IRiskArrayStore.Market memory m) {
        m.feedId = feedId;
        (m.spot, m.vol, m.observedAt) = oracle.freshFeed(feedId);
    }

    /// @dev Adds underlying m.feedId (SPEC §6): its perp `p` (funding index `idx` now) and option
    ///      positions (`ids`, `sizes`) to E and SOM, P_u(j) to the joint vector, L_u and its worst
    ///      scenario to `line`.
    function addUnderlying(
        Totals memory t,
        IRiskArrayStore.Market memory m,
        IMarginEngine.PerpPosition memory p,
        int256 idx,
        uint256[] memory ids,
        int256[] memory sizes,
        IMarginEngine.UnderlyingRisk memory line
    ) internal {
        int256 spot = int256(m.spot);
        int256 r = PM.scanRange(m.vol);
        line.feedId = m.feedId;
        line.scanRange = uint256(r);
        // linear exposure: collateral linked to u and the perp, both move by x_j
        int256 linear;
        IVault.CollateralValue[] memory coll = t.coll;
        for (uint256 c; c < coll.length; ++c) {
            if (coll[c].linkedUnderlying == m.feedId) linear += int256(coll[c].value);
        }
        if (p.size != 0) {
            t.equity += PM.mulWadFloor(p.size, spot - int256(p.entryPrice)) - fundingOwed(p.size, idx, p.fundingIndexAtEntry);
            linear += PM.mulWadFloor(p.size, spot);
        }
        int256[31] memory pnl;
        if (ids.length != 0) {
            int256 value;
            uint256 shortSize;
            (value, pnl, shortSize) = optionRisk(t, m, ids, sizes);
            t.equity += value;
            // SOM base: short options not yet settled (a settled series carries no risk)
            t.shortNotional += shortSize * m.spot / 1e18;
        }
        int256[31] memory joint = t.joint;
        for (uint256 j; j < 31; ++j) {
            int256 v = pnl[j] + linear * PM.spotMove(j, r) / WAD;
            v = j < 27 ? v : v * PM.EXTENDED_WEIGHT / WAD;
            pnl[j] = v;
            joint[j] += v;
        }
        t.pnl[t.added++] = pnl;
        (uint256 loss, uint256 worstIdx) = worst(pnl);
        line.loss = loss;
        line.worstIndex = worstIdx;
        t.sumLoss += loss;
    }

    /// @dev The store's Σ q·V, Σ q·ΔV_j and SOM base of positions `ids`, `sizes` in market m, cached
    ///      for the transaction when `t.cache` (one call site: a view function converts to a
    ///      non-payable function type).
    function optionRisk(Totals memory t, IRiskArrayStore.Market memory m, uint256[] memory ids, int256[] memory sizes)
        internal
        returns (int256, int256[31] memory, uint256)
    {
        function(IRiskArrayStore.Market memory, uint256[] memory, int256[] memory) external returns (int256, int256[31] memory, uint256)
            risk = t.cache ? t.store.optionRiskCached : t.store.optionRisk;
        return risk(m, ids, sizes);
    }

    /// @dev Ends a computation: L_J, SR (SPEC v2 §6), SOM, IM = max(SR, SOM), MM. `feeds`: the
    ///      underlyings added, in order; `oracle`: their correlations.
    ///      SR = min(Σ L_u, max(L_J + 0.2(Σ L_u − L_J), L_ρ)) (JointLossLib), which is Σ L_u when
    ///      L_J = Σ L_u (one underlying, or a book whose legs lose together): then neither L_ρ nor
    ///      ρ is needed, and `correlatedLoss` stays 0. The rule's set is the underlyings whose
    ///      P_u is not 0 in every scenario (JointLossLib.scanRiskOf); above 4 of them (reached
    ///      only through collateral linked to further underlyings or a liquidation transfer, which
    ///      no limit may block) no correlation credit is given: SR = Σ L_u, an upper bound of the
    ///      loss over the ρ ellipse (docs/CORRELATION.md §8), so no margin check reverts there.
    function finish(
        Totals memory t,
        IMarginEngine.MarginBreakdown memory r,
        uint256[] memory feeds,
        IOracle oracle,
        uint256 somRate,
        uint256 mmRatio
    ) internal view {
        (r.jointLoss, r.jointWorstIndex) = worst(t.joint);
        r.equity = t.equity;
        r.adjustedEquity = t.equity - t.haircuts;
        r.scanRisk = t.sumLoss;
        if (r.jointLoss < t.sumLoss) {
            (r.scanRisk, r.correlatedLoss) = JointLossLib.scanRiskOf(t.pnl, feeds, oracle, t.sumLoss, r.jointLoss);
        }
        r.shortOptionMinimum = t.shortNotional * somRate / 1e18;
        r.initialMargin = r.scanRisk > r.shortOptionMinimum ? r.scanRisk : r.shortOptionMinimum;
        r.maintenanceMargin = r.initialMargin * mmRatio / 1e18;
    }

    /// @dev L = max(0, −min_j p_j) and the first index attaining the minimum.
    function worst(int256[31] memory p) internal pure returns (uint256 loss, uint256 idx) {
        int256 lo = p[0];
        for (uint256 j = 1; j < 31; ++j) {
            if (p[j] < lo) {
                lo = p[j];
                idx = j;
            }
        }
        loss = lo < 0 ? uint256(-lo) : 0;
    }

    // --- Fills (SPEC v2 §5) ---

    /// @dev Funding a perp of `size` owes from index `idxAtEntry` to `idx`, rounded up (against it).
    function fundingOwed(int256 size, int256 idx, int256 idxAtEntry) internal pure returns (int256) {
        return -PM.mulWadFloor(-size, idx - idxAtEntry);
    }

    /// @dev Cash a perp fill at `price` moves into the account: its PnL since entry, rounded down,
    ///      less the funding it owes at index `idx`.                              [wad USD]
    function realised(int256 size, uint256 entryPrice, int256 idxAtEntry, uint256 price, int256 idx)
        internal
        pure
        returns (int256)
    {
        return PM.mulWadFloor(size, int256(price) - int256(entryPrice)) - fundingOwed(size, idx, idxAtEntry);
    }

    /// @dev Notional S·|q| of a fill, rounded down.                            [wad USD]
    function notional(uint256 spot, int256 size) internal pure returns (uint256) {
        return spot * uint256(size > 0 ? size : -size) / 1e18;
    }

    /// @dev Premium of an option fill, price·|q| rounded up (against the buyer).  [wad USD]
    function premium(uint256 price, int256 size) internal pure returns (uint256) {
        return (price * uint256(size > 0 ? size : -size) + 1e18 - 1) / 1e18;
    }

    /// @dev Fee: `rate` of the notional, rounded up (against the payer), at most `maxFee`. [wad USD]
    function fee(uint256 notional_, uint256 rate, uint256 maxFee) internal pure returns (uint256 f) {
        f = (notional_ * rate + 1e18 - 1) / 1e18;
        if (f > maxFee) f = maxFee;
    }

    /// @dev The most an option fill's fee may be: `capRate` of its premium.      [wad USD]
    function optionFeeCap(uint256 premium_, uint256 capRate) internal pure returns (uint256) {
        return premium_ * capRate / 1e18;
    }

    /// @dev INV-9 (SPEC v2 §5 price band): the fill price lies within `width` of the model value
    ///      max(V, 0), width = bandAbs·S + bandRel·max(V, 0) (a perp: V = S, bandRel = 0).
    function checkBand(uint256 instrument, uint256 price, uint256 spot, int256 value, uint256 bandAbs, uint256 bandRel)
        internal
        pure
    {
        uint256 model = value > 0 ? uint256(value) : 0; // centre                  [wad USD]
        uint256 width = spot * bandAbs / 1e18 + model * bandRel / 1e18; // half-width [wad USD]
        uint256 lo = model > width ? model - width : 0;
        uint256 hi = model + width;
        if (price < lo || price > hi) revert IMarginEngine.PriceOutsideBand(instrument, price, lo, hi);
    }

    /// @dev The risk part of the post-trade rule: under the circuit breaker (SPEC §3) or the
    ///      guardian's pause (SPEC v2 §8b) a fill must not raise the account's IM.
    function riskRule(uint256 account, uint256 feedId, uint256 imBefore, uint256 imAfter, bool reduceOnly, bool paused)
        internal
        pure
    {
        if (reduceOnly && imAfter > imBefore) revert IMarginEngine.ReduceOnly(account, feedId, imBefore, imAfter);
        if (paused && imAfter > imBefore) revert IMarginEngine.NewRiskPaused(account, imBefore, imAfter);
    }

    /// @dev The margin part of the post-trade rule, from the breakdowns after (`a`) and before
    ///      (`p`) the fill. `guarded`: the side was committed by an operator or is in an auction.
    function marginRule(
        uint256 account,
        IMarginEngine.MarginBreakdown memory a,
        IMarginEngine.MarginBreakdown memory p,
        bool healthy,
        bool guarded,
        uint256 fee_
    ) internal pure {
        // INV-9 equity rule: E_after ≥ E_before − fee, so no shortfall, auction discount or
        // operator's reach leaves the account through prices (attacks 1, 3, 7)
        if ((!healthy || guarded) && a.equity + EQUITY_ROUNDING < p.equity - int256(fee_)) {
            revert IMarginEngine.EquityLoss(account, p.equity, a.equity, fee_);
        }
        if (healthy) return;
        // INV-2: risk-reducing exception: IM not raised and shortfall not increased
        if (
            a.initialMargin <= p.initialMargin
                && int256(a.initialMargin) - a.adjustedEquity <= int256(p.initialMargin) - p.adjustedEquity
        ) return;
        revert IMarginEngine.BelowInitialMargin(account, a.adjustedEquity, a.initialMargin);
    }
}
