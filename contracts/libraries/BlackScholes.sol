// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {NormalCDF} from "./NormalCDF.sol";
import {WadMath} from "./WadMath.sol";

/// @title BlackScholes
/// @notice European call and put values with r = 0 (SPEC §4), from one d1/d2, and a scenario API
///         that values one strike in all 31 margin scenarios (SPEC §6, DESIGN "Margin").
/// @dev Units: spot S and strike K in wad USD, volatility sigma in wad (1e18 = 100%/year), time to
///      expiry tau in whole SECONDS (year = 365 days), sigmaSqrtT = sigma sqrt(tau / year) in wad.
///
///      Formula: d1 = ln(S/K) / v + v/2, d2 = d1 - v with v = sigma sqrt(tau);
///      call = S N(d1) - K N(d2), put = K N(-d2) - S N(-d1). With N(-d) = 1 - N(d) exact (NormalCDF)
///      and both values taken from the same products at scale 1e36 before one floor division,
///      call - put = S - K holds exactly unless a value is clamped at 0 (then to a few wei).
///      v = 0 (tau = 0 or sigma = 0) gives intrinsic values.
///
///      Error (SPEC §4 asks |V - V_exact| <= 1e-12 S): ln S and ln K are rounded to 1 wei, which moves
///      d1 and d2 together and hence V by at most ~S 1e-18 (S phi(d1) = K phi(d2)); N is within
///      1.2e-19; the final floor costs < 1 wei. Measured against mpmath (tests/unit/math/
///      test_black_scholes.py): max |V - V_exact| / S = 2.0e-18 on the SPEC domain, 6.2e-18 on the
///      extended domain (K/S in [1/100, 100], sigma to 1000%, tau 1 s .. 5 y).
///
///      Gas: the work that does not depend on the strike (ln S_j for the 13 spot points, sigma_v
///      sqrt(tau) for the 3 vol states) is done once per (underlying, expiry) in `grid` (~24k gas);
///      `scenarioValues` then needs one ln (ln K) and 31 x 2 evaluations of N (~57k gas per
///      option x 31 scenarios, ~1.8k per scenario of which ~1.3k is the two N). One `price` call
///      (two ln, one sqrt, two N) is ~5.1k gas, `priceLn` ~2.1k.
///      `scenarioValues(g, K, isCall)[j] == price(g.spots[i(j)], K, sigma_v(j), tau).call|put` exactly,
///      because both run the same core on the same rounded inputs.
library BlackScholes {
    // --- Constants ---
    uint256 internal constant YEAR = 365 days; // [s]
    uint256 internal constant SPOT_POINTS = 13; // 9 standard + 4 extended spot points
    uint256 internal constant VOL_STATES = 3; // sigma, sigma_up, sigma_dn
    uint256 internal constant SCENARIOS = 31; // 27 standard + 4 extended
    /// bound on S, K and sigmaSqrtT [wad]: keeps S * 1e36 and ln(S/K) * 1e18 far inside 256 bits
    uint256 internal constant MAX_INPUT = 1 << 128;
    /// bound on tau [s] (5.8e11 years): keeps tau * 1e36 inside 256 bits
    uint256 internal constant MAX_TAU = type(uint64).max;
    /// bound on a spot move x_j [wad] (+10,000%): far beyond the +3R <= +150% the margin grid uses
    int256 internal constant MAX_MOVE = 100e18;
    /// scenario j -> its spot point i and vol state v: byte j (from the most significant) is
    /// i | v << 4; j = 9v + i for j < 27, then j = 27..30 at spot points 9..12 with v = 1
    uint256 internal constant SCENARIO_POINTS = 0x000102030405060708101112131415161718202122232425262728191a1b1c00;

    // --- Errors ---
    /// @dev Spot or strike is zero or above MAX_INPUT.
    error BSPriceOutOfRange(uint256 spot, uint256 strike);
    /// @dev sigma sqrt(tau) is above MAX_INPUT.
    error BSTotalVolOutOfRange(uint256 sigmaSqrtT);
    /// @dev Time to expiry above MAX_TAU seconds.
    error BSTauOutOfRange(uint256 tauSeconds);
    /// @dev |ln(S/K)| is above MAX_INPUT.
    error BSLogMoneynessOutOfRange(int256 lnSpotOverStrike);
    /// @dev Spot move x_j of spot point `index` is not in (-100%, MAX_MOVE].
    error BSMoveOutOfRange(uint256 index, int256 move);

    // --- Data ---
    /// @dev Per-(underlying, expiry) precomputation shared by every strike of that expiry.
    ///      Spot point order follows DESIGN "Margin": i = 0..8 the standard points x = R(i-4)/4,
    ///      then 9: +2R, 10: +3R, 11: -min(2R, 0.9), 12: -min(3R, 0.9). Vol states v = 0 (sigma),
    ///      1 (sigma_up), 2 (sigma_dn).
    struct Grid {
        uint256[13] spots; // S_j = S (1 + x_j), rounded down [wad USD]
        int256[13] lnSpots; // ln S_j, rounded to nearest [wad]
        uint256[3] sigmaSqrtT; // sigma_v sqrt(tau / year), rounded down [wad]
    }

    // --- Building blocks ---

    /// @dev sqrt(tau / 365 days) in wad for tau in seconds, rounded down (within 1 wei).
    function sqrtYears(uint256 tauSeconds) internal pure returns (uint256) {
        if (tauSeconds > MAX_TAU) revert BSTauOutOfRange(tauSeconds);
        // tau < 2^64, so tau * 1e36 < 2^184
        unchecked {
            return Math.sqrt((tauSeconds * 1e36) / YEAR);
        }
    }

    /// @dev Total volatility sigma sqrt(tau / year) in wad, rounded down; sigma in wad, tau in s.
    function totalVol(uint256 sigma, uint256 tauSeconds) internal pure returns (uint256) {
        return WadMath.mulWadDown(sigma, sqrtYears(tauSeconds));
    }

    // --- Single evaluation ---

    /// @dev Call and put values [wad USD, rounded down] for spot and strike in wad USD, sigma in
    ///      wad and tau in seconds; intrinsic values when sigma or tau is 0.
    function price(uint256 spot, uint256 strike, uint256 sigma, uint256 tauSeconds)
        internal
        pure
        returns (uint256 call, uint256 put)
    {
        uint256 v = totalVol(sigma, tauSeconds);
        _checkPrices(spot, strike);
        if (v > MAX_INPUT) revert BSTotalVolOutOfRange(v);
        // S, K in (0, 2^128] make both ln finite and their difference < 2^128 in size
        int256 lnSK = WadMath.lnWad(int256(spot)) - WadMath.lnWad(int256(strike));
        return _price(lnSK, v, spot, strike);
    }

    /// @dev Call and put values [wad USD, rounded down] from precomputed ln(S/K) [wad] and
    ///      sigma sqrt(tau) [wad]: the primitive that skips logs and roots.
    function priceLn(int256 lnSpotOverStrike, uint256 sigmaSqrtT, uint256 spot, uint256 strike)
        internal
        pure
        returns (uint256 call, uint256 put)
    {
        _checkPrices(spot, strike);
        if (sigmaSqrtT > MAX_INPUT) revert BSTotalVolOutOfRange(sigmaSqrtT);
        if (lnSpotOverStrike > int256(MAX_INPUT) || lnSpotOverStrike < -int256(MAX_INPUT)) {
            revert BSLogMoneynessOutOfRange(lnSpotOverStrike);
        }
        return _price(lnSpotOverStrike, sigmaSqrtT, spot, strike);
    }

    // --- Scenarios ---

    /// @dev The per-(underlying, expiry) precomputation: spot points S(1 + x_j) [wad USD] for the
    ///      13 moves x_j [wad, > -1], their logs, and sigma_v sqrt(tau) for the 3 vols [wad], tau in s.
    function grid(uint256 spot, int256[13] memory moves, uint256[3] memory sigmas, uint256 tauSeconds)
        internal
        pure
        returns (Grid memory g)
    {
        uint256 sq = sqrtYears(tauSeconds);
        for (uint256 v; v < VOL_STATES; ++v) {
            uint256 tv = WadMath.mulWadDown(sigmas[v], sq);
            if (tv > MAX_INPUT) revert BSTotalVolOutOfRange(tv);
            g.sigmaSqrtT[v] = tv;
        }
        for (uint256 j; j < SPOT_POINTS; ++j) {
            int256 x = moves[j];
            if (x <= -1e18 || x > MAX_MOVE) revert BSMoveOutOfRange(j, x);
            // -1e18 < x <= 100e18, so 0 < 1e18 + x < 2^70
            uint256 sj = WadMath.mulWadDown(spot, uint256(1e18 + x));
            _checkPrices(sj, 1);
            g.spots[j] = sj;
            g.lnSpots[j] = WadMath.lnWad(int256(sj));
        }
    }

    /// @dev Values [wad USD, rounded down] of the call (isCall) or put with this strike [wad USD]
    ///      in the 31 scenarios j of DESIGN "Margin": j = 9v + i (spot point i, vol state v) for
    ///      j < 27, then j = 27..30 at spot points 9..12 with sigma_up. `g` must come from `grid`
    ///      (its ranges are checked there, not here).
    function scenarioValues(Grid memory g, uint256 strike, bool isCall)
        internal
        pure
        returns (uint256[31] memory values)
    {
        uint256 out;
        assembly ("memory-safe") {
            out := values
        }
        scenarioValuesAt(g, strike, isCall, out);
    }

    /// @dev `scenarioValues` written to the 31 words of memory at `out` (the caller's array, so
    ///      that a risk array is built in place without a second one).
    function scenarioValuesAt(Grid memory g, uint256 strike, bool isCall, uint256 out) internal pure {
        _checkPrices(1, strike);
        int256 lnK = WadMath.lnWad(int256(strike));
        // j < 31 below, so every index and offset is tiny
        unchecked {
            for (uint256 j; j < SCENARIOS; ++j) {
                uint256 sj;
                uint256 tv;
                int256 d1;
                assembly ("memory-safe") {
                    // scenario j -> spot point i and vol state v (DESIGN "Margin"): byte j of
                    // SCENARIO_POINTS is i | v << 4 (j = 9v + i for j < 27, then spot points 9..12
                    // with sigma_up); a memory Grid holds pointers to its three static arrays, and
                    // i < 13, v < 3, so the reads need no bounds checks
                    let iv := byte(j, SCENARIO_POINTS)
                    let i := shl(5, and(iv, 15))
                    sj := mload(add(mload(g), i))
                    tv := mload(add(mload(add(g, 0x40)), shl(5, shr(4, iv))))
                    // d1 = ln(S_j / K) / v + v / 2 as _d1 computes it (ln S_j and ln K are within
                    // +-2^128 * 1e18 of 0, so is their difference); only used when v > 0
                    if tv {
                        let lnSK := sub(mload(add(mload(add(g, 0x20)), i)), lnK)
                        d1 := add(sdiv(mul(lnSK, 1000000000000000000), tv), shr(1, tv))
                    }
                }
                // the core of _price, inlined: only the value asked for, no tuple
                uint256 value;
                if (tv == 0) {
                    value = isCall ? (sj > strike ? sj - strike : 0) : (strike > sj ? strike - sj : 0);
                } else {
                    uint256 n1 = NormalCDF.cdf36(d1);
                    uint256 n2 = NormalCDF.cdf36(d1 - int256(tv));
                    value = isCall ? _call(n1, n2, sj, strike) : _put(n1, n2, sj, strike);
                }
                assembly ("memory-safe") {
                    mstore(add(out, shl(5, j)), value) // j < 31: inside the caller's 31 words
                }
            }
        }
    }

    // --- Internals ---

    /// @dev Reverts unless spot and strike are in (0, MAX_INPUT].
    function _checkPrices(uint256 spot, uint256 strike) private pure {
        if (spot == 0 || strike == 0 || spot > MAX_INPUT || strike > MAX_INPUT) {
            revert BSPriceOutOfRange(spot, strike);
        }
    }

    /// @dev The core: call and put [wad, rounded down] from ln(S/K), v = sigma sqrt(tau), S, K,
    ///      all already range-checked (|ln(S/K)|, v, S, K <= 2^128).
    function _price(int256 lnSK, uint256 v, uint256 spot, uint256 strike)
        private
        pure
        returns (uint256 call, uint256 put)
    {
        if (v == 0) {
            // no time value: intrinsic (the subtractions only run when positive)
            unchecked {
                return (spot > strike ? spot - strike : 0, strike > spot ? strike - spot : 0);
            }
        }
        int256 d1 = _d1(lnSK, v);
        uint256 n1 = NormalCDF.cdf36(d1); // N(d1) [1e36]
        // d1 and v are far inside int256 (see _d1)
        uint256 n2;
        unchecked {
            n2 = NormalCDF.cdf36(d1 - int256(v)); // N(d2) [1e36]
        }
        return (_call(n1, n2, spot, strike), _put(n1, n2, spot, strike));
    }

    /// @dev d1 = ln(S/K) / v + v / 2 in wad (division truncated toward zero, v/2 rounded down)
    ///      for ln(S/K) in wad and v = sigma sqrt(tau) > 0 in wad, |ln(S/K)|, v <= 2^128.
    function _d1(int256 lnSK, uint256 v) private pure returns (int256 d1) {
        // |lnSK| * 1e18 < 2^188 and 0 < v <= 2^128: the result is far inside int256
        assembly ("memory-safe") {
            d1 := add(sdiv(mul(lnSK, 1000000000000000000), v), shr(1, v))
        }
    }

    /// @dev Call value S N(d1) - K N(d2) [wad, rounded down, clamped at 0] from N(d1), N(d2) at
    ///      scale 1e36. Its numerator and _put's differ by exactly (S - K) 1e36, so the floors keep
    ///      call - put = S - K exact unless a value is clamped at 0.
    function _call(uint256 n1, uint256 n2, uint256 spot, uint256 strike) private pure returns (uint256 c) {
        // n1, n2 <= 1e36 < 2^120 and S, K <= 2^128: the products are < 2^248
        assembly ("memory-safe") {
            let a := mul(spot, n1)
            let b := mul(strike, n2)
            if gt(a, b) { c := div(sub(a, b), 1000000000000000000000000000000000000) }
        }
    }

    /// @dev Put value K (1 - N(d2)) - S (1 - N(d1)) [wad, rounded down, clamped at 0] from N(d1),
    ///      N(d2) at scale 1e36.
    function _put(uint256 n1, uint256 n2, uint256 spot, uint256 strike) private pure returns (uint256 p) {
        // as in _call; n1, n2 <= 1e36 so 1e36 - n is not negative
        assembly ("memory-safe") {
            let one := 1000000000000000000000000000000000000
            let a := mul(strike, sub(one, n2))
            let b := mul(spot, sub(one, n1))
            if gt(a, b) { p := div(sub(a, b), one) }
        }
    }
}
