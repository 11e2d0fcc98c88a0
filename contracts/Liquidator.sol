// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ILiquidator} from "../interfaces/ILiquidator.sol";
import {IVault} from "../interfaces/IVault.sol";
import {IMarginEngine} from "../interfaces/IMarginEngine.sol";

/// @title Keel Dutch-auction liquidator (SPEC §7).
/// @dev The auction's state machine, per account (every check at fresh prices: marginBreakdown
///      reverts StalePrice on a stale feed, so no transition happens on stale prices):
///
///        None ──startAuction (AE < MM; keeper fee min(fee, E⁺) paid)────▶ Active(id, startedAt)
///        Active ──endAuction (AE ≥ IM: cured)──────────────────────────▶ None (cured)
///        Active ──bid or bidInsolvent on a cured account (AE ≥ IM)─────▶ None (cured), nothing
///                                           bought, nothing paid, returns (0, 0), no revert
///        Active ──bid (AE < IM, E > 0, f ≤ f_max)──▶ Active, or None when the account is back at
///                                           AE ≥ IM (cured) or the whole account (f = 1) was taken;
///                                           at d(t) when AE < MM, at startDiscount when MM ≤ AE
///        Active ──bidInsolvent (AE < IM, E ≤ 0: the whole portfolio)───▶ None
///
///      The discount grows with time since the start: startDiscount → midDiscount linearly over
///      fastDuration, then midDiscount → 100% linearly over slowDuration, while the account is below
///      MM at the bid's fresh prices. At or above MM (MM ≤ AE < IM: not liquidatable, not cured) a
///      bid gets startDiscount, whatever d(t) has grown to: a bidder never gets more than a freshly
///      started auction would give (INV-8, below). The views currentDiscount and maxFraction
///      report the d and f_max that a bid executed on the same state would use (same cap, same
///      rounding). Every auction gets a new id (a global counter); bids name it, so a bid aimed at
///      an auction that ended or was restarted reverts (front-running guard), as does a bid whose
///      price moved past its limit.
///
///      INV-8 (SPEC §8 [v2]): no transaction the account's owner or operator did not sign lowers,
///      by acting on the account, the AE of an account at or above IM. The three third-party
///      transitions that touch an account: start needs AE < MM ≤ IM; end moves nothing; a bid
///      re-checks AE < IM when it executes (not when the bidder quoted it), so an account cured by
///      the market or by its owner (deposit, risk-reducing trade), earlier in the same block
///      included, is never sold, whatever the discount has grown to: the bid ends the auction
///      instead. A cured-ending bid must not revert (that would undo the ending): it returns zeros
///      and emits AuctionEnded(cured = true) only. An auction nobody ended while its account was
///      cured, on an account that fell back between MM and IM (where no start is possible), sells
///      at startDiscount only, as if it had just started: the running discount, up to 100%, is
///      earned only below MM, so a dip just under IM (a report at the low edge of the observation
///      spread, say) cannot hand the whole account to a bidder for the penalty.
///
///      Who pays what (INV-5 waterfall: account equity → liquidation penalty → insurance fund →
///      socialisation):
///        start: the keeper fee min(keeperFee, max(E, 0)) from the account's cash to the starter
///          (SPEC §7 [v2]): never above the positive equity, so the fee never makes an account
///          insolvent and the insurance fund never pays a keeper fee (E ≤ 0: no fee).
///        solvent bid of fraction f: the bidder receives f of every collateral balance, position
///          and the cash of the account, pays f·E·(1 − d) to the account and the penalty p·f·E to
///          the insurance fund; p < startDiscount keeps the bid worth f·E·(d − p) > 0 to the bidder.
///        insolvent bid: the bidder takes everything (worth E ≤ 0) and receives −E + bonus(t) from
///          the insurance fund; what the fund lacks is socialised through the Vault's cash index.
///
///      Rounding (always against the liquidated account, towards the protocol): moved amounts are
///      truncated towards zero (the account keeps the dust, exact at f = 1), the payment to the
///      account and the insolvency bonus round down, the penalty and the fraction cap round the
///      other way (penalty up, f_max down). The keeper fee is exact (a min of two wad figures).
///      Nothing is created: every transfer moves an existing amount between accounts (INV-1, INV-6).
///
///      Readings of SPEC §7 where it is silent:
///        - the bidder pays the penalty (on top of f·E·(1 − d)), hence p < startDiscount (setter);
///        - the keeper fee is capped by E (not AE, SPEC [v2]) and taken from the account's cash even
///          if the cash goes negative (E stays ≥ 0: a debt the collateral and positions carry); it
///          is zero when the starter names the liquidated account itself (the event says 0);
///        - an account whose fee took its whole equity (E = 0) is insolvent for the bids: the fund
///          pays the bonus(t) only, the reward for taking a book worth nothing;
///        - the insolvent receipt −E + bonus is paid in full to the bidder: the fund first, then the
///          cash index (the bonus included: the bidder's reward for taking a bankrupt book);
///        - perps move at entry = spot after the engine realised both sides' PnL and funding into
///          cash (so the cash fraction carries the PnL); open-interest caps never block a transfer;
///        - an account that the post-trade rule lets trade (AE ≥ IM while still flagged) is not
///          further restricted: anyone may end its auction, and any bid ends it;
///        - the bid checks run in this order: auction running and named (NoAuction, StaleAuction),
///          SelfBid, the bidder's right (INV-7), then cured (ends), then the bid itself; a caller
///          without a bidder account ends a cured auction through endAuction;
///        - an auction lives until a transaction ends it: an account that was cured and fell back
///          between MM and IM before anyone ended the auction is still in the same auction (no
///          transaction saw the cure), but a bid on it gets startDiscount, not the discount grown
///          since the start; below MM the running d(t) applies again. Owners and keepers still end
///          cured auctions (endAuction, or any bid; keeper/ does it every cycle);
///        - the cap is on AE ≥ MM at the bid's prices (not on whether the auction was ever cured):
///          a bid on an account that went from below MM to between MM and IM through the market
///          or its owner's deposit gets startDiscount too. Only the solvent bid's discount is
///          capped: there E ≥ AE ≥ MM (haircuts are ≥ 0), and the insolvent bid (E ≤ 0) has no
///          discount, only the bonus(t), which the cap leaves alone.
contract Liquidator is ILiquidator, Ownable2Step {
    // --- Constants ---

    uint256 internal constant WAD = 1e18;
    uint8 internal constant RIGHT_TRADE = 1; // Vault operator right that may bid for an account

    // --- Data ---

    IVault public immutable vault;          // cash, collateral, insurance fund
    IMarginEngine public immutable engine;  // positions and margin figures

    /// @dev A running auction in one storage slot (the ABI's Auction struct is its unpacked view).
    struct Packed {
        uint64 id;                          // auction id, 0 when none                     [count]
        uint64 startedAt;                   // start time                                  [unix s]
        uint128 starterAccount;             // account paid the keeper fee                 [id]
    }

    uint256 public auctionCount;            // ids handed out so far                      [count]
    mapping(uint256 => Packed) internal _auctions; // account → running auction (id 0: none)

    // Governance parameters (setParam; bounds there)
    uint256 public keeperFee = 5e18;        // flat fee to the starter                     [wad USD]
    uint256 public startDiscount = 0.05e18; // d at the start                              [wad]
    uint256 public midDiscount = 0.30e18;   // d at the end of the fast phase              [wad]
    uint256 public fastDuration = 15 minutes; // fast phase                                [s]
    uint256 public slowDuration = 12 hours; // slow phase, midDiscount → 100%              [s]
    uint256 public penaltyRate = 0.02e18;   // p, of f·E, to the insurance fund            [wad]
    uint256 public buffer = 0.15e18;        // b in f_max                                  [wad]
    uint256 public bonusRate = 0.05e18;     // insolvency bonus at its maximum, of MM      [wad]
    uint256 public bonusDuration = 60 minutes; // bonus ramp 0 → bonusRate·MM              [s]

    constructor(IVault vault_, IMarginEngine engine_) Ownable(msg.sender) {
        vault = vault_;
        engine = engine_;
    }

    // --- Auction ---

    /// @inheritdoc ILiquidator
    function startAuction(uint256 accountId, uint256 starterAccount) external returns (uint256 auctionId) {
        _checkAccount(accountId);
        _checkAccount(starterAccount);
        uint256 running = _auctions[accountId].id;
        if (running != 0) revert AuctionAlreadyRunning(accountId, running);
        // SPEC §7: liquidatable when AE < MM; the breakdown reverts StalePrice on a stale feed
        IMarginEngine.MarginBreakdown memory m = engine.cachedMarginBreakdown(accountId);
        if (m.adjustedEquity >= int256(m.maintenanceMargin)) {
            revert NotBelowMaintenanceMargin(accountId, m.adjustedEquity, m.maintenanceMargin);
        }
        auctionId = ++auctionCount;
        // ids < 2^64 (one per start), times < 2^64, account ids < 2^128 (opened one by one)
        _auctions[accountId] = Packed(uint64(auctionId), uint64(block.timestamp), uint128(starterAccount));
        // keeper fee from the account's cash (the cash may go negative: a debt the bids settle)
        uint256 fee = starterAccount == accountId ? 0 : _keeperFeeFor(m.equity);
        if (fee != 0) vault.moveCash(accountId, starterAccount, int256(fee));
        emit AuctionStarted(accountId, auctionId, starterAccount, fee, m.adjustedEquity, m.maintenanceMargin);
    }

    /// @inheritdoc ILiquidator
    function endAuction(uint256 accountId) external {
        uint256 id = _auctions[accountId].id;
        if (id == 0) revert NoAuction(accountId);
        IMarginEngine.MarginBreakdown memory m = engine.cachedMarginBreakdown(accountId);
        // SPEC §7: anyone may end a cured auction (AE ≥ IM)
        if (!_cured(m)) revert NotCured(accountId, m.adjustedEquity, m.initialMargin);
        _end(accountId, id, true);
    }

    /// @inheritdoc ILiquidator
    function bid(uint256 accountId, uint256 auctionId, uint256 bidderAccount, uint256 fraction, uint256 maxPaymentPerUnit)
        external
        returns (uint256 payment, uint256 penalty)
    {
        uint256 startedAt = _checkBid(accountId, auctionId, bidderAccount);
        // INV-10: the cached breakdown keeps the account's stale arrays for the checks that follow
        IMarginEngine.MarginBreakdown memory m = engine.cachedMarginBreakdown(accountId);
        // SPEC §7 [v2], INV-8: a cured account (AE ≥ IM at fresh prices) is never sold: the bid
        // ends the auction and buys nothing (no revert, or the ending would be undone)
        if (_cured(m)) {
            _end(accountId, auctionId, true);
            return (0, 0);
        }
        if (m.equity <= 0) revert AccountInsolvent(accountId, m.equity);
        uint256 equity = uint256(m.equity);
        // INV-8: at or above MM a bid gets no more than a fresh auction's startDiscount
        uint256 d = _bidDiscount(startedAt, m);
        // price per unit fraction E·(1 − d), rounded down (against the account)
        uint256 perUnit = Math.mulDiv(equity, WAD - d, WAD);
        // front-running guard: the bidder's price limit
        if (perUnit > maxPaymentPerUnit) revert PaymentAboveLimit(accountId, perUnit, maxPaymentPerUnit);
        // SPEC §7: f ≤ f_max, or the whole account when E < ½·MM
        uint256 fMax = _maxFraction(m, perUnit);
        if (fraction == 0 || fraction > fMax) revert FractionOutOfBounds(accountId, fraction, fMax);

        payment = Math.mulDiv(fraction * equity, WAD - d, WAD * WAD); // down: against the account
        penalty = Math.mulDiv(fraction * equity, penaltyRate, WAD * WAD, Math.Rounding.Ceil); // up
        _transferPortfolio(accountId, bidderAccount, fraction);
        if (payment != 0) vault.moveCash(bidderAccount, accountId, int256(payment));
        // SPEC §7 (our reading): the bidder pays the penalty, out of its discount d > p
        if (penalty != 0) vault.collectFee(bidderAccount, penalty);
        _checkBidder(bidderAccount);
        emit SolventBid(accountId, auctionId, bidderAccount, fraction, d, m.equity, payment, penalty);

        // SPEC §7: the auction ends when the account is empty or back above IM
        if (fraction == WAD) {
            _end(accountId, auctionId, false);
        } else if (_cured(engine.cachedMarginBreakdown(accountId))) {
            _end(accountId, auctionId, true);
        }
    }

    /// @inheritdoc ILiquidator
    function bidInsolvent(uint256 accountId, uint256 auctionId, uint256 bidderAccount, uint256 minReceipt)
        external
        returns (uint256 fromFund, uint256 socialised)
    {
        uint256 startedAt = _checkBid(accountId, auctionId, bidderAccount);
        // INV-10: the cached breakdown keeps the account's stale arrays for the checks that follow
        IMarginEngine.MarginBreakdown memory m = engine.cachedMarginBreakdown(accountId);
        // SPEC §7 [v2], INV-8: a cured account (AE ≥ IM, whatever the sign of E: E > 0 ends here
        // rather than reverting AccountSolvent) is never taken: the auction ends, the fund pays nothing
        if (_cured(m)) {
            _end(accountId, auctionId, true);
            return (0, 0);
        }
        if (m.equity > 0) revert AccountSolvent(accountId, m.equity);
        uint256 bonus = _bonusAt(startedAt, m.maintenanceMargin);
        uint256 receipt = uint256(-m.equity) + bonus;
        // front-running guard: the bidder's minimum receipt
        if (receipt < minReceipt) revert ReceiptBelowLimit(accountId, receipt, minReceipt);

        // INV-5, step 1: the account's equity (everything it has) goes to the bidder
        _transferPortfolio(accountId, bidderAccount, WAD);
        // step 3: the insurance fund pays what it can (step 2, the penalty, is nothing here: E ≤ 0)
        if (receipt != 0) fromFund = vault.payFromInsurance(bidderAccount, receipt);
        // step 4: socialisation: positive cash shrinks through the index by `socialised`, which
        // frees exactly that much settlement asset in the vault for the bidder (INV-1)
        socialised = receipt - fromFund;
        if (socialised != 0) {
            vault.socialiseLoss(socialised);
            vault.adjustCash(bidderAccount, int256(socialised));
            emit LossSocialised(accountId, auctionId, socialised);
        }
        _checkBidder(bidderAccount);
        emit InsolventBid(accountId, auctionId, bidderAccount, m.equity, bonus, fromFund, socialised);
        _end(accountId, auctionId, false);
    }

    // --- Internals ---

    /// @dev Reverts `UnknownAccount` unless the Vault opened `accountId`.
    function _checkAccount(uint256 accountId) internal view {
        if (vault.accountOwner(accountId) == address(0)) revert UnknownAccount(accountId);
    }

    /// @dev Common bid checks; returns the running auction's start time.
    function _checkBid(uint256 accountId, uint256 auctionId, uint256 bidderAccount)
        internal
        view
        returns (uint256 startedAt)
    {
        Packed storage a = _auctions[accountId];
        uint256 running = a.id;
        if (running == 0) revert NoAuction(accountId);
        // front-running guard: a stale or changed auction reverts
        if (running != auctionId) revert StaleAuction(accountId, auctionId, running);
        if (bidderAccount == accountId) revert SelfBid(accountId);
        // INV-7: only the bidder account's owner or trade operator commits it to a bid
        if (!vault.isAuthorised(bidderAccount, msg.sender, RIGHT_TRADE)) {
            revert NotBidderAuthorised(bidderAccount, msg.sender);
        }
        startedAt = a.startedAt;
    }

    /// @dev SPEC §7: the bidder's account must pass IM after the bid.
    function _checkBidder(uint256 bidderAccount) internal {
        IMarginEngine.MarginBreakdown memory b = engine.cachedMarginBreakdown(bidderAccount);
        if (b.adjustedEquity < int256(b.initialMargin)) {
            revert BidderBelowInitialMargin(bidderAccount, b.adjustedEquity, b.initialMargin);
        }
    }

    /// @dev Moves fraction f of everything the account holds: positions first (the engine realises
    ///      perp PnL and funding into cash), then every collateral balance and the cash.
    ///      Amounts are truncated towards zero; f = 1 moves everything exactly.
    function _transferPortfolio(uint256 from, uint256 to, uint256 f) internal {
        if (engine.accountUnderlyings(from).length != 0) engine.transferPositions(from, to, f);
        address[] memory tokens = vault.accountAssets(from);
        for (uint256 k; k < tokens.length; ++k) {
            uint256 bal = vault.collateralBalance(from, tokens[k]);
            uint256 amount = f == WAD ? bal : bal * f / WAD;
            if (amount != 0) vault.moveCollateral(from, to, tokens[k], amount);
        }
        int256 cash = vault.cashOf(from);
        int256 movedCash = f == WAD ? cash : cash * int256(f) / int256(WAD); // towards zero
        if (movedCash != 0) vault.moveCash(from, to, movedCash);
    }

    /// @dev Cured: AE ≥ IM (SPEC §7), on a breakdown read at fresh prices (it reverts StalePrice).
    function _cured(IMarginEngine.MarginBreakdown memory m) internal pure returns (bool) {
        return m.adjustedEquity >= int256(m.initialMargin);
    }

    /// @dev The keeper fee an account of equity E pays: min(keeperFee, max(E, 0))     [wad USD]
    ///      SPEC §7 [v2]: never more than the positive equity, so the fee alone never makes an
    ///      account insolvent and the insurance fund never pays it (attack 10).
    function _keeperFeeFor(int256 equity) internal view returns (uint256) {
        if (equity <= 0) return 0;
        uint256 fee = keeperFee;
        return uint256(equity) < fee ? uint256(equity) : fee;
    }

    /// @dev Ends the auction of `accountId` (state: Active → None).
    function _end(uint256 accountId, uint256 auctionId, bool cured) internal {
        delete _auctions[accountId];
        emit AuctionEnded(accountId, auctionId, cured);
    }

    /// @dev d(t), rounded down (the account gets the higher price).
    function _discountAt(uint256 startedAt) internal view returns (uint256) {
        uint256 t = block.timestamp - startedAt;
        uint256 d0 = startDiscount;
        uint256 d1 = midDiscount;
        if (t < fastDuration) return d0 + (d1 - d0) * t / fastDuration;
        t -= fastDuration;
        if (t < slowDuration) return d1 + (WAD - d1) * t / slowDuration;
        return WAD;
    }

    /// @dev The discount a solvent bid gets now (SPEC §7 reading, INV-8)                   [wad]
    ///      d(t) while the account is below MM at fresh prices; startDiscount once AE ≥ MM, when no
    ///      new auction could start: a bidder never gets more than a freshly started auction
    ///      would give, so an auction left running through a cure cannot sell a relapsed account
    ///      (MM ≤ AE < IM) at the discount it grew meanwhile. d(t) ≥ startDiscount at every t
    ///      (it rises from it), so the cap is startDiscount itself.
    function _bidDiscount(uint256 startedAt, IMarginEngine.MarginBreakdown memory m)
        internal
        view
        returns (uint256)
    {
        // INV-8: AE ≥ MM is not liquidatable; only a fresh auction's discount applies
        if (m.adjustedEquity >= int256(m.maintenanceMargin)) return startDiscount;
        return _discountAt(startedAt);
    }

    /// @dev bonus(t) = bonusRate·MM·min(t, bonusDuration)/bonusDuration, rounded down.
    function _bonusAt(uint256 startedAt, uint256 mm) internal view returns (uint256) {
        uint256 t = block.timestamp - startedAt;
        if (t > bonusDuration) t = bonusDuration;
        return Math.mulDiv(mm * bonusRate, t, WAD * bonusDuration);
    }

    /// @dev f_max = (IM(1+b) − AE) / (IM(1+b) − AE + E(1−d)) rounded down, with E(1−d) = perUnit;
    ///      1 when E < ½·MM (SPEC §7 full take) or the denominator is zero (E(1−d) = 0 and AE at target).
    function _maxFraction(IMarginEngine.MarginBreakdown memory m, uint256 perUnit) internal view returns (uint256) {
        // SPEC §7 full take: the whole account may go when E < ½·MM
        if (m.equity < int256(m.maintenanceMargin / 2)) return WAD;
        int256 target = int256(Math.mulDiv(m.initialMargin, WAD + buffer, WAD)); // IM(1+b), down
        if (m.adjustedEquity >= target) return 0;
        uint256 gap = uint256(target - m.adjustedEquity);
        uint256 f = Math.mulDiv(gap, WAD, gap + perUnit);
        return f;
    }

    // --- Views ---

    /// @inheritdoc ILiquidator
    function auction(uint256 accountId) external view returns (Auction memory) {
        Packed memory a = _auctions[accountId];
        return Auction(a.id, a.startedAt, a.starterAccount);
    }

    /// @inheritdoc ILiquidator
    function inAuction(uint256 accountId) external view returns (bool) {
        return _auctions[accountId].id != 0;
    }

    /// @inheritdoc ILiquidator
    function currentDiscount(uint256 accountId) external view returns (uint256) {
        Packed storage a = _auctions[accountId];
        if (a.id == 0) revert NoAuction(accountId);
        // the discount a bid would get now: capped at startDiscount while AE ≥ MM (INV-8)
        return _bidDiscount(a.startedAt, engine.marginBreakdown(accountId));
    }

    /// @inheritdoc ILiquidator
    function maxFraction(uint256 accountId) external view returns (uint256) {
        Packed storage a = _auctions[accountId];
        if (a.id == 0) revert NoAuction(accountId);
        IMarginEngine.MarginBreakdown memory m = engine.marginBreakdown(accountId);
        if (_cured(m)) return 0; // INV-8: a bid on a cured account takes nothing (it ends the auction)
        if (m.equity <= 0) return WAD;
        // the same d as bid (capped at startDiscount while AE ≥ MM), the same rounding
        return _maxFraction(m, Math.mulDiv(uint256(m.equity), WAD - _bidDiscount(a.startedAt, m), WAD));
    }

    /// @inheritdoc ILiquidator
    function currentBonus(uint256 accountId) external view returns (uint256) {
        Packed storage a = _auctions[accountId];
        if (a.id == 0) revert NoAuction(accountId);
        return _bonusAt(a.startedAt, engine.marginBreakdown(accountId).maintenanceMargin);
    }

    // --- Governance ---

    /// @inheritdoc ILiquidator
    function setParam(bytes32 what, uint256 value) external onlyOwner {
        if (what == "keeperFee") {
            // at most $100: a flat fee is a tax on small accounts (each start also caps it at E⁺)
            _bound(what, value, 0, 100e18);
            keeperFee = value;
        } else if (what == "startDiscount") {
            // above the penalty (the bidder must gain: d − p > 0) and at most the mid discount
            _bound(what, value, penaltyRate + 1, midDiscount);
            startDiscount = value;
        } else if (what == "midDiscount") {
            _bound(what, value, startDiscount, WAD);
            midDiscount = value;
        } else if (what == "fastDuration") {
            _bound(what, value, 1 minutes, 1 days);
            fastDuration = value;
        } else if (what == "slowDuration") {
            _bound(what, value, 1 hours, 7 days);
            slowDuration = value;
        } else if (what == "penaltyRate") {
            // SPEC §7: the penalty stays below the starting discount (the bidder pays it)
            _bound(what, value, 0, startDiscount - 1);
            penaltyRate = value;
        } else if (what == "buffer") {
            _bound(what, value, 0, WAD);
            buffer = value;
        } else if (what == "bonusRate") {
            _bound(what, value, 0, 0.2e18);
            bonusRate = value;
        } else if (what == "bonusDuration") {
            _bound(what, value, 1 minutes, 1 days);
            bonusDuration = value;
        } else {
            revert UnknownParam(what);
        }
        emit ParamSet(what, value);
    }

    function _bound(bytes32 what, uint256 value, uint256 lo, uint256 hi) internal pure {
        if (value < lo || value > hi) revert ParamOutOfBounds(what, value, lo, hi);
    }
}
