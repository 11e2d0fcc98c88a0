// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IOracle} from "../interfaces/IOracle.sol";
import {IMarginEngine} from "../interfaces/IMarginEngine.sol";
import {IRiskArrayStore} from "../interfaces/IRiskArrayStore.sol";
import {PortfolioMargin as PM} from "./libraries/PortfolioMargin.sol";
import {BlackScholes} from "./libraries/BlackScholes.sol";

/// @title Option series registry and SSTORE2 risk arrays (see IRiskArrayStore).
/// @dev Gas: reading a current array costs one cold SLOAD (pointer) + one cold EXTCODECOPY of
///      1024 bytes (≈ 5k gas) regardless of how expensive the 31 Black-Scholes values were.
///      Storing one costs a CREATE of 1025 bytes of code (≈ 240k gas) once per series and round:
///      only keepers do (`refreshRiskArrays`). The engine's margin path keeps the arrays it has to
///      compute in transient storage (EIP-1153) instead, so one transaction computes a stale series
///      once however often it values it (both sides of a fill, before and after; an auction bid's
///      account and bidder) and no trade or liquidation pays for persistent storage (INV-10).
contract RiskArrayStore is IRiskArrayStore {
    // --- Data ---

    address public immutable engine;       // the margin engine (only writer of series)
    IOracle public immutable oracle;       // price/vol/settlement source

    IMarginEngine.Series[] internal _series;                 // index = seriesId − 1
    mapping(bytes32 => uint256) internal _seriesIdOf;        // keccak(terms) → seriesId
    /// @dev Flag word (index 32) of a settled series: expired with its price fixed (no risk, no SOM).
    int256 internal constant SETTLED = 1;
    /// @dev Flag word of an expired series whose price was not fixed yet (intrinsic value at S): the
    ///      Oracle's governance path (`fixSettlementPrice`) fixes a price without a new round, so an
    ///      array with this flag is used only while the price is still unfixed.
    int256 internal constant PROVISIONAL = 2;
    uint256 internal constant ARRAY_BYTES = 33 * 32;

    /// @dev seriesId → pointer (bits 0..159) | observedAt << 160 | PACKED: the stored array
    mapping(uint256 => uint256) internal _pointer;
    /// @dev Flag of `_pointer`: the array is stored as 33 int128 halves (528 bytes), not 33 words.
    ///      Every value of a sane series fits (|V|, |ΔV| ≤ max(S, K) ≪ 2^127 wad USD); one that does
    ///      not is stored in full words. Half the bytes halve the code deposit (200 gas a byte).
    uint256 internal constant PACKED = 1 << 255;
    /// @dev Transient cache: slot keccak(CACHE_DOMAIN, seriesId) holds the observedAt the array was
    ///      computed for (0: none; observedAt > 0 always), the 33 slots after it the array words.
    bytes32 internal constant CACHE_DOMAIN = keccak256("keel.RiskArrayStore.transientArray");

    constructor(address engine_, IOracle oracle_) {
        engine = engine_;
        oracle = oracle_;
    }

    // --- Series ---

    /// @inheritdoc IRiskArrayStore
    function addSeries(IMarginEngine.Series calldata s) external returns (uint256 seriesId) {
        if (msg.sender != engine) revert Unauthorised(msg.sender);
        _series.push(s);
        seriesId = _series.length;
        _seriesIdOf[keccak256(abi.encode(uint256(s.feedId), uint256(s.strike), uint256(s.expiry), s.isCall))] =
            seriesId;
    }

    /// @inheritdoc IRiskArrayStore
    function series(uint256 seriesId) public view returns (IMarginEngine.Series memory) {
        if (seriesId == 0 || seriesId > _series.length) revert UnknownSeries(seriesId);
        return _series[seriesId - 1];
    }

    /// @inheritdoc IRiskArrayStore
    function seriesCount() external view returns (uint256) {
        return _series.length;
    }

    /// @inheritdoc IRiskArrayStore
    function seriesIdOf(uint256 feedId, uint256 strike, uint256 expiry, bool isCall) external view returns (uint256) {
        return _seriesIdOf[keccak256(abi.encode(feedId, strike, expiry, isCall))];
    }

    // --- Risk arrays ---

    /// @inheritdoc IRiskArrayStore
    function refreshRiskArrays(uint256[] calldata seriesIds) external returns (uint256 refreshed) {
        Market memory m;
        GridCache memory c;
        for (uint256 k; k < seriesIds.length; ++k) {
            IMarginEngine.Series memory s = series(seriesIds[k]);
            if (m.feedId != s.feedId) {
                (uint256 spot, uint256 vol, uint256 obs) = oracle.freshFeed(s.feedId);
                m = Market(s.feedId, spot, vol, obs);
            }
            uint256 p = _pointer[seriesIds[k]];
            if (_observedAt(p) == m.observedAt && !_superseded(p, s)) continue;
            _store(seriesIds[k], m.observedAt, _compute(s, m, c));
            ++refreshed;
        }
    }

    /// @inheritdoc IRiskArrayStore
    function storedRiskArray(uint256 seriesId) external view returns (uint256 observedAt, int256[33] memory values) {
        uint256 p = _pointer[seriesId];
        observedAt = _observedAt(p);
        if (p != 0) _read(p, values);
    }

    /// @inheritdoc IRiskArrayStore
    function riskArray(uint256 seriesId, Market calldata m) external view returns (int256[33] memory values) {
        GridCache memory c;
        int256[33] memory buf;
        (int256[33] memory a, bool packed,) = _arrayFor(seriesId, m, c, buf);
        for (uint256 k; k < 33; ++k) {
            values[k] = _word(a, packed, k);
        }
    }

    /// @inheritdoc IRiskArrayStore
    function unitValue(uint256 seriesId, Market calldata m) external view returns (int256 value) {
        GridCache memory c;
        int256[33] memory buf;
        (int256[33] memory a, bool packed,) = _arrayFor(seriesId, m, c, buf);
        value = _word(a, packed, 0);
    }

    /// @inheritdoc IRiskArrayStore
    function optionRisk(Market calldata m, uint256[] calldata seriesIds, int256[] calldata sizes)
        external
        view
        returns (int256 value, int256[31] memory pnl, uint256 shortSize)
    {
        return _asView(_optionRisk)(m, seriesIds, sizes, false);
    }

    /// @inheritdoc IRiskArrayStore
    function optionRiskCached(Market calldata m, uint256[] calldata seriesIds, int256[] calldata sizes)
        external
        returns (int256 value, int256[31] memory pnl, uint256 shortSize)
    {
        // only the engine: its market is the oracle's fresh round, the cache's key
        if (msg.sender != engine) revert Unauthorised(msg.sender);
        return _optionRisk(m, seriesIds, sizes, true);
    }

    // --- Internals ---

    /// @dev Σ q·V, Σ q·ΔV_j and the SOM base over the positions; `cache` keeps computed arrays in
    ///      transient storage (with `cache = false` it writes nothing: safe to run in a view).
    function _optionRisk(Market calldata m, uint256[] calldata seriesIds, int256[] calldata sizes, bool cache)
        internal
        returns (int256 value, int256[31] memory pnl, uint256 shortSize)
    {
        if (seriesIds.length != sizes.length) revert LengthMismatch(seriesIds.length, sizes.length);
        GridCache memory c;
        int256[33] memory buf; // one buffer for every stored array read: memory stays small
        for (uint256 k; k < seriesIds.length; ++k) {
            (int256 v, uint256 shortPart) = _addPosition(pnl, m, seriesIds[k], sizes[k], c, buf, cache);
            value += v;
            shortSize += shortPart;
        }
    }

    /// @dev One position's q·ΔV_j into pnl; returns floor(q·V) and its part of the SOM base (|q|
    ///      of a short position in a series not settled).
    function _addPosition(
        int256[31] memory pnl,
        Market calldata m,
        uint256 seriesId,
        int256 q,
        GridCache memory c,
        int256[33] memory buf,
        bool cache
    ) internal returns (int256 v, uint256 shortPart) {
        (int256[33] memory a, bool packed, bool computed) = _arrayFor(seriesId, m, c, buf);
        if (computed && cache) _cache(seriesId, m.observedAt, a);
        int256 flags;
        (v, flags) = _accumulate(pnl, a, packed, q);
        if (q < 0 && flags != SETTLED) shortPart = uint256(-q);
    }

    function _asView(
        function(Market calldata, uint256[] calldata, int256[] calldata, bool) internal returns (int256, int256[31] memory, uint256) f
    )
        internal
        pure
        returns (
            function(Market calldata, uint256[] calldata, int256[] calldata, bool) internal view returns (int256, int256[31] memory, uint256) g
        )
    {
        assembly {
            g := f
        }
    }

    /// @dev The array of a series for market m: the stored one when it was computed for this
    ///      round (same observedAt), read into `buf` as stored (`packed`: 33 int128 halves in its
    ///      first 528 bytes, else 33 words); else the one cached in this transaction (in `buf`,
    ///      packed as cached); else computed now (`computed`, a new array of words).
    function _arrayFor(uint256 seriesId, Market calldata m, GridCache memory c, int256[33] memory buf)
        internal
        view
        returns (int256[33] memory a, bool packed, bool computed)
    {
        uint256 p = _pointer[seriesId];
        if (p != 0 && _observedAt(p) == m.observedAt) {
            packed = p & PACKED != 0;
            address ptr = address(uint160(p));
            uint256 size = packed ? 528 : 1056;
            assembly ("memory-safe") {
                extcodecopy(ptr, buf, 1, size)
            }
            if (!_fixedSince(seriesId, buf, packed)) return (buf, packed, false);
        } else {
            (bool hit, bool cachedPacked) = _readCache(seriesId, m.observedAt, buf);
            if (hit && !_fixedSince(seriesId, buf, cachedPacked)) return (buf, cachedPacked, false);
        }
        IMarginEngine.Series memory s = series(seriesId);
        if (s.feedId != m.feedId) revert WrongUnderlying(seriesId, s.feedId, m.feedId);
        return (_compute(s, m, c), false, true);
    }

    /// @dev True when a loaded array is PROVISIONAL but its series' price has been fixed since
    ///      (same round): the array must be computed again, as settled. One external call, only for
    ///      expired series not yet fixed when the array was made.
    function _fixedSince(uint256 seriesId, int256[33] memory a, bool packed) internal view returns (bool) {
        if (_word(a, packed, 32) != PROVISIONAL) return false;
        IMarginEngine.Series memory s = series(seriesId);
        return oracle.settlementPrice(s.feedId, s.expiry) != 0;
    }

    /// @dev `_fixedSince` for the stored array of pointer slot `p` (refreshRiskArrays' skip test).
    function _superseded(uint256 p, IMarginEngine.Series memory s) internal view returns (bool) {
        if (p == 0 || oracle.settlementPrice(s.feedId, s.expiry) == 0) return false;
        int256[33] memory a;
        bool packed = p & PACKED != 0;
        address ptr = address(uint160(p));
        uint256 size = packed ? 528 : 1056;
        assembly ("memory-safe") {
            extcodecopy(ptr, a, 1, size)
        }
        return _word(a, packed, 32) == PROVISIONAL;
    }

    /// @dev Word k of an array as `_arrayFor` loaded it.
    function _word(int256[33] memory a, bool packed, uint256 k) internal pure returns (int256 w) {
        assembly ("memory-safe") {
            switch packed
            case 0 { w := mload(add(a, shl(5, k))) }
            default { w := sar(128, mload(add(a, shl(4, k)))) }
        }
    }

    /// @dev pnl_j += floor(q·ΔV_j); returns floor(q·V) [wad USD] and the flags word, reading the
    ///      array in place as loaded (packed halves are sign-extended on the fly).
    ///      Hot loop of every margin check, in assembly, without branches. No overflow: |q| ≤ 1e30
    ///      < 2^100 (open-interest caps are bounded by 1e30) and |V|, |ΔV| < 2^128 (BlackScholes
    ///      input bounds, uint128 settlement prices), so |q·ΔV| < 2^228; sums of ≤ 16·31 such terms
    ///      stay far below 2^255.
    function _accumulate(int256[31] memory pnl, int256[33] memory a, bool packed, int256 q)
        internal
        pure
        returns (int256 v, int256 flags)
    {
        // Unrolled: 31 straight-line steps per layout (no loop counter, constant offsets); each
        // adds floor(q·ΔV_j / 1e18) (toward −∞: sdiv truncates, the smod sign corrects it).
        // Word j + 1 lies at a + 16(j + 1) (packed halves, sign-extended by sar) or
        // a + 32(j + 1) (words); pnl_j at pnl + 32j.
        assembly ("memory-safe") {
            let wad := 1000000000000000000
            let p
            switch packed
            case 0 {
                p := mul(q, mload(add(a, 32)))
                mstore(add(pnl, 0), add(mload(add(pnl, 0)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 64)))
                mstore(add(pnl, 32), add(mload(add(pnl, 32)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 96)))
                mstore(add(pnl, 64), add(mload(add(pnl, 64)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 128)))
                mstore(add(pnl, 96), add(mload(add(pnl, 96)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 160)))
                mstore(add(pnl, 128), add(mload(add(pnl, 128)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 192)))
                mstore(add(pnl, 160), add(mload(add(pnl, 160)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 224)))
                mstore(add(pnl, 192), add(mload(add(pnl, 192)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 256)))
                mstore(add(pnl, 224), add(mload(add(pnl, 224)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 288)))
                mstore(add(pnl, 256), add(mload(add(pnl, 256)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 320)))
                mstore(add(pnl, 288), add(mload(add(pnl, 288)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 352)))
                mstore(add(pnl, 320), add(mload(add(pnl, 320)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 384)))
                mstore(add(pnl, 352), add(mload(add(pnl, 352)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 416)))
                mstore(add(pnl, 384), add(mload(add(pnl, 384)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 448)))
                mstore(add(pnl, 416), add(mload(add(pnl, 416)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 480)))
                mstore(add(pnl, 448), add(mload(add(pnl, 448)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 512)))
                mstore(add(pnl, 480), add(mload(add(pnl, 480)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 544)))
                mstore(add(pnl, 512), add(mload(add(pnl, 512)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 576)))
                mstore(add(pnl, 544), add(mload(add(pnl, 544)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 608)))
                mstore(add(pnl, 576), add(mload(add(pnl, 576)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 640)))
                mstore(add(pnl, 608), add(mload(add(pnl, 608)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 672)))
                mstore(add(pnl, 640), add(mload(add(pnl, 640)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 704)))
                mstore(add(pnl, 672), add(mload(add(pnl, 672)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 736)))
                mstore(add(pnl, 704), add(mload(add(pnl, 704)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 768)))
                mstore(add(pnl, 736), add(mload(add(pnl, 736)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 800)))
                mstore(add(pnl, 768), add(mload(add(pnl, 768)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 832)))
                mstore(add(pnl, 800), add(mload(add(pnl, 800)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 864)))
                mstore(add(pnl, 832), add(mload(add(pnl, 832)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 896)))
                mstore(add(pnl, 864), add(mload(add(pnl, 864)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 928)))
                mstore(add(pnl, 896), add(mload(add(pnl, 896)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 960)))
                mstore(add(pnl, 928), add(mload(add(pnl, 928)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(add(a, 992)))
                mstore(add(pnl, 960), add(mload(add(pnl, 960)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, mload(a))
                v := sub(sdiv(p, wad), slt(smod(p, wad), 0))
                flags := mload(add(a, 1024))
            }
            default {
                p := mul(q, sar(128, mload(add(a, 16))))
                mstore(add(pnl, 0), add(mload(add(pnl, 0)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 32))))
                mstore(add(pnl, 32), add(mload(add(pnl, 32)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 48))))
                mstore(add(pnl, 64), add(mload(add(pnl, 64)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 64))))
                mstore(add(pnl, 96), add(mload(add(pnl, 96)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 80))))
                mstore(add(pnl, 128), add(mload(add(pnl, 128)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 96))))
                mstore(add(pnl, 160), add(mload(add(pnl, 160)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 112))))
                mstore(add(pnl, 192), add(mload(add(pnl, 192)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 128))))
                mstore(add(pnl, 224), add(mload(add(pnl, 224)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 144))))
                mstore(add(pnl, 256), add(mload(add(pnl, 256)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 160))))
                mstore(add(pnl, 288), add(mload(add(pnl, 288)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 176))))
                mstore(add(pnl, 320), add(mload(add(pnl, 320)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 192))))
                mstore(add(pnl, 352), add(mload(add(pnl, 352)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 208))))
                mstore(add(pnl, 384), add(mload(add(pnl, 384)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 224))))
                mstore(add(pnl, 416), add(mload(add(pnl, 416)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 240))))
                mstore(add(pnl, 448), add(mload(add(pnl, 448)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 256))))
                mstore(add(pnl, 480), add(mload(add(pnl, 480)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 272))))
                mstore(add(pnl, 512), add(mload(add(pnl, 512)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 288))))
                mstore(add(pnl, 544), add(mload(add(pnl, 544)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 304))))
                mstore(add(pnl, 576), add(mload(add(pnl, 576)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 320))))
                mstore(add(pnl, 608), add(mload(add(pnl, 608)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 336))))
                mstore(add(pnl, 640), add(mload(add(pnl, 640)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 352))))
                mstore(add(pnl, 672), add(mload(add(pnl, 672)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 368))))
                mstore(add(pnl, 704), add(mload(add(pnl, 704)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 384))))
                mstore(add(pnl, 736), add(mload(add(pnl, 736)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 400))))
                mstore(add(pnl, 768), add(mload(add(pnl, 768)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 416))))
                mstore(add(pnl, 800), add(mload(add(pnl, 800)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 432))))
                mstore(add(pnl, 832), add(mload(add(pnl, 832)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 448))))
                mstore(add(pnl, 864), add(mload(add(pnl, 864)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 464))))
                mstore(add(pnl, 896), add(mload(add(pnl, 896)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 480))))
                mstore(add(pnl, 928), add(mload(add(pnl, 928)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(add(a, 496))))
                mstore(add(pnl, 960), add(mload(add(pnl, 960)), sub(sdiv(p, wad), slt(smod(p, wad), 0))))
                p := mul(q, sar(128, mload(a)))
                v := sub(sdiv(p, wad), slt(smod(p, wad), 0))
                flags := sar(128, mload(add(a, 512)))
            }
        }
    }

    /// @dev The Black-Scholes grids built in one call, one per (underlying, expiry, round): every
    ///      series of that expiry shares it (BlackScholes' per-expiry precomputation), in whatever
    ///      order the account's series come (expiries interleaved cost what grouped ones do). Past
    ///      GRIDS distinct expiries in one call the oldest entry is rebuilt when needed again.
    uint256 internal constant GRIDS = 8; // ≥ maxExpiriesPerUnderlying (4), with room for transfers
    struct GridCache {
        uint256[GRIDS] keys;    // feedId | expiry << 32 | observedAt << 72 (0: empty)
        BlackScholes.Grid[] grids; // allocated on the first grid built (none when arrays are current)
        uint256 next;           // next entry to (re)use
    }

    /// @dev The grid of series `s` for market m from the cache, built on first use.
    function _gridFor(IMarginEngine.Series memory s, Market memory m, int256 r, GridCache memory c)
        internal
        view
        returns (BlackScholes.Grid memory)
    {
        // feedId < 2^32 and expiry < 2^40 (Series), observedAt < 2^64 (Oracle): the key is exact
        uint256 key = uint256(s.feedId) | uint256(s.expiry) << 32 | m.observedAt << 72;
        for (uint256 i; i < c.grids.length; ++i) {
            if (c.keys[i] == key) return c.grids[i];
        }
        // per (underlying, expiry, round): the 13 spot points and 3 vol states of the grid, at the
        // round's raw σ (m.vol is σ_eff, which sets only the scan range r)
        uint256 tau = s.expiry - m.observedAt;
        uint256 sigma = _valuationVol(m);
        (int256 up, int256 dn) = PM.volStates(sigma, tau);
        int256[13] memory moves;
        for (uint256 i; i < 13; ++i) {
            moves[i] = PM.spotMove(i < 9 ? i : 18 + i, r); // i = 9..12 -> j = 27..30
        }
        if (c.grids.length == 0) c.grids = new BlackScholes.Grid[](GRIDS);
        uint256 entry = c.next;
        c.next = (entry + 1) % GRIDS;
        c.keys[entry] = key;
        c.grids[entry] = BlackScholes.grid(m.spot, moves, [sigma, uint256(up), uint256(dn)], tau);
        return c.grids[entry];
    }

    /// @dev The vol options are valued at in market m (SPEC v2 §6): the round's raw median σ. The
    ///      feed's vol, m.vol, is σ_eff = max(σ, σ_floor), which sets the scan ranges and haircuts
    ///      only: valuing at σ_eff would credit a long option for a vol nobody quotes and push fair
    ///      fills out of the price band. m must be the feed's current market (its raw medians are
    ///      the Oracle's current ones); reverts `MarketNotCurrent` when m.vol is not their max.
    function _valuationVol(Market memory m) internal view returns (uint256 sigma) {
        uint256 floor;
        (sigma, floor) = oracle.volInputs(m.feedId);
        if ((sigma > floor ? sigma : floor) != m.vol) revert MarketNotCurrent(m.feedId, m.vol);
    }

    /// @dev One unit's current value and 31 scenario changes (DESIGN.md "Margin").
    function _compute(IMarginEngine.Series memory s, Market memory m, GridCache memory c)
        internal
        view
        returns (int256[33] memory a)
    {
        int256 spot = int256(m.spot);
        int256 strike = int256(uint256(s.strike));
        int256 r = PM.scanRange(m.vol);
        if (m.observedAt >= s.expiry) {
            // Expired: payoff at the fixed settlement price (no scenario risk) once fixed,
            // intrinsic value (τ = 0) at S and at every scenario spot before.
            uint256 fixedPrice = oracle.settlementPrice(s.feedId, s.expiry);
            if (fixedPrice != 0) {
                a[0] = PM.intrinsic(s.isCall, int256(fixedPrice), strike);
                a[32] = SETTLED;
                return a;
            }
            a[0] = PM.intrinsic(s.isCall, spot, strike);
            a[32] = PROVISIONAL; // until the price is fixed (_fixedSince)
            for (uint256 j; j < 31; ++j) {
                int256 sj = spot * (PM.WAD + PM.spotMove(j, r)) / PM.WAD;
                a[j + 1] = PM.intrinsic(s.isCall, sj, strike) - a[0];
            }
            return a;
        }
        // THE option valuation: every option value of the protocol comes from this call
        // V_j into a[1..31], then a[0] = V at j = 4 (x = 0, σ) and a[j + 1] = V_j − a[0]: values
        // ≤ max(S, K) ≤ 2^128 (BlackScholes' input bounds), so the differences are exact unchecked
        uint256 values;
        assembly ("memory-safe") {
            values := add(a, 32)
        }
        BlackScholes.scenarioValuesAt(_gridFor(s, m, r, c), uint256(s.strike), s.isCall, values);
        assembly ("memory-safe") {
            let v0 := mload(add(values, 128))
            mstore(a, v0)
            for { let j := 0 } lt(j, 31) { j := add(j, 1) } {
                let p := add(values, shl(5, j))
                mstore(p, sub(mload(p), v0))
            }
        }
    }

    /// @dev SSTORE2 write: deploy 0x00 ‖ data as the code of a fresh contract; data = the 33 values
    ///      as int128 halves (big-endian) when they all fit, else as 33 words.
    function _store(uint256 seriesId, uint256 observedAt, int256[33] memory a) internal {
        bool packed = true;
        for (uint256 k; k < 33; ++k) {
            if (a[k] != int256(int128(a[k]))) packed = false;
        }
        bytes memory init;
        if (packed) {
            init = new bytes(11 + 33 * 16);
            assembly ("memory-safe") {
                let p := add(init, 0x20)
                // init code (10 bytes): PUSH2 0x0211 DUP1 PUSH1 0x0a RETURNDATASIZE CODECOPY
                // RETURNDATASIZE RETURN; then the STOP byte that makes the pointer uncallable
                mstore(p, shl(168, 0x61021180600a3d393df300))
                // 16-byte stride: each store's low half is overwritten by the next value; the last
                // one spills 16 zero bytes past the array, into memory nothing has allocated yet
                for { let k := 0 } lt(k, 33) { k := add(k, 1) } {
                    mstore(add(add(p, 11), shl(4, k)), shl(128, mload(add(a, shl(5, k)))))
                }
            }
        } else {
            // PUSH2 0x0421 (1 + 1056 bytes), the same init code otherwise
            init = abi.encodePacked(hex"61042180600a3d393df300", a);
        }
        address ptr;
        assembly ("memory-safe") {
            ptr := create(0, add(init, 0x20), mload(init))
        }
        if (ptr == address(0)) revert PointerDeployFailed(seriesId);
        _pointer[seriesId] = uint256(uint160(ptr)) | (observedAt << 160) | (packed ? PACKED : 0);
        emit RiskArrayStored(seriesId, observedAt, ptr);
    }

    /// @dev Keeps array `a` of a series, computed for the round observed at `observedAt`, in
    ///      transient storage until the end of the transaction: the key word (observedAt, with
    ///      PACKED when the values follow as int128 halves) and 17 words of two halves each, as the
    ///      stored arrays pack them (18 TSTOREs, ≈ 1.8k gas); an array a value of which does not
    ///      fit takes 33 full words.
    function _cache(uint256 seriesId, uint256 observedAt, int256[33] memory a) internal {
        bytes32 domain = CACHE_DOMAIN;
        uint256 packedFlag = PACKED;
        assembly ("memory-safe") {
            mstore(0, domain)
            mstore(0x20, seriesId)
            let slot := keccak256(0, 0x40)
            tstore(slot, or(observedAt, packedFlag))
            // word w: halves 2w (high) and 2w + 1 (low), stored as they are checked; a value
            // outside int128 (v + 2^127 ≥ 2^128) makes `wide`, and the array is stored again whole
            let low := sub(shl(128, 1), 1)
            let bias := shl(127, 1)
            let wide := 0
            for { let w := 0 } lt(w, 16) { w := add(w, 1) } {
                let p := add(a, shl(6, w))
                let hi := mload(p)
                let lo := mload(add(p, 32))
                wide := or(wide, or(shr(128, add(hi, bias)), shr(128, add(lo, bias))))
                tstore(add(slot, add(w, 1)), or(shl(128, hi), and(lo, low)))
            }
            let last := mload(add(a, 1024))
            wide := or(wide, shr(128, add(last, bias)))
            tstore(add(slot, 17), shl(128, last))
            if wide {
                tstore(slot, observedAt)
                for { let k := 0 } lt(k, 33) { k := add(k, 1) } {
                    tstore(add(slot, add(k, 1)), mload(add(a, shl(5, k))))
                }
            }
        }
    }

    /// @dev The array cached in this transaction for the round observed at `observedAt`, into `a`
    ///      as cached (`packed`: 33 int128 halves in its first 528 bytes, the layout `_word` and
    ///      `_accumulate` read in place; else 33 words).
    function _readCache(uint256 seriesId, uint256 observedAt, int256[33] memory a)
        internal
        view
        returns (bool hit, bool packed)
    {
        bytes32 domain = CACHE_DOMAIN;
        uint256 packedFlag = PACKED;
        assembly ("memory-safe") {
            mstore(0, domain)
            mstore(0x20, seriesId)
            let slot := keccak256(0, 0x40)
            let key := tload(slot)
            packed := iszero(iszero(and(key, packedFlag)))
            hit := eq(and(key, not(packedFlag)), observedAt)
            if hit {
                let words := 33
                if packed { words := 17 }
                for { let k := 0 } lt(k, words) { k := add(k, 1) } {
                    mstore(add(a, shl(5, k)), tload(add(slot, add(k, 1))))
                }
            }
        }
    }

    /// @dev The observedAt of a `_pointer` entry (bits 160..254; observedAt < 2^64 in the Oracle).
    function _observedAt(uint256 p) internal pure returns (uint256) {
        return (p & ~PACKED) >> 160;
    }

    /// @dev SSTORE2 read of the data after the STOP byte into `a`.
    function _read(uint256 p, int256[33] memory a) internal view {
        address ptr = address(uint160(p));
        if (p & PACKED == 0) {
            assembly ("memory-safe") {
                extcodecopy(ptr, a, 1, 1056)
            }
            return;
        }
        assembly ("memory-safe") {
            // the 528 packed bytes into the upper half of `a`, then widened in place from the front:
            // word k's store ends at byte 32k + 32 ≤ 528 + 16(k + 1), where half k + 1 starts
            let src := add(a, 528)
            extcodecopy(ptr, src, 1, 528)
            for { let k := 0 } lt(k, 33) { k := add(k, 1) } {
                mstore(add(a, shl(5, k)), sar(128, mload(add(src, shl(4, k)))))
            }
        }
    }
}
