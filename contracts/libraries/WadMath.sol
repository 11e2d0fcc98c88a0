// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title WadMath
/// @notice 18-decimal fixed-point ("wad") arithmetic: products and quotients whose names say the
///         rounding, and exp, ln, sqrt in wad.
/// @dev exp and ln run internally at scale 1e36 (`x36`) so that the single rounding to wad at the
///      end dominates their error; their accuracy is checked against mpmath in
///      tests/unit/math/test_wad_math.py.
library WadMath {
    // --- Constants ---
    uint256 internal constant WAD = 1e18;
    int256 internal constant IWAD = 1e18;
    int256 internal constant SCALE36 = 1e36;
    /// ln 2 at scale 1e36, rounded to nearest
    int256 internal constant LN2_36 = 693147180559945309417232121458176568;
    /// 18 ln 10 = ln(1e18) at scale 1e36, rounded to nearest
    int256 internal constant LN_WAD_36 = 41446531673892822312323846184318555737;
    /// floor(sqrt(2) * 2^96): above it a mantissa in [1, 2) is halved before the series
    uint256 internal constant SQRT2_Q96 = 112045541949572279837463876454;
    /// largest x with exp(x) * 1e18 < 2^255 [wad]
    int256 internal constant EXP_MAX = 135_305999368893231588;
    /// below this, exp(x) < 0.5e-18 and expWad returns 0 [wad]
    int256 internal constant EXP_MIN = -42_139678854452767551;

    // --- Errors ---
    /// @dev x * y does not fit in 256 bits (unsigned product).
    error MulWadOverflow(uint256 x, uint256 y);
    /// @dev x * y does not fit in int256 (signed product).
    error SMulWadOverflow(int256 x, int256 y);
    /// @dev x * 1e18 does not fit in 256 bits (unsigned quotient).
    error DivWadOverflow(uint256 x, uint256 y);
    /// @dev x * 1e18 does not fit in int256 (signed quotient).
    error SDivWadOverflow(int256 x, int256 y);
    /// @dev Division by zero in an unsigned wad quotient x / 0.
    error DivWadByZero(uint256 x);
    /// @dev Division by zero in a signed wad quotient x / 0.
    error SDivWadByZero(int256 x);
    /// @dev ln is only defined for x > 0.
    error LnNonPositive(int256 x);
    /// @dev exp(x) in wad would not fit in 255 bits (x > EXP_MAX).
    error ExpOverflow(int256 x);
    /// @dev x * 1e18 overflows in sqrtWad.
    error SqrtOverflow(uint256 x);

    // --- Unsigned products and quotients ---

    /// @dev x * y / 1e18 rounded down (toward zero), for wad x, y.
    function mulWadDown(uint256 x, uint256 y) internal pure returns (uint256) {
        // the guard rules out overflow of x * y; the division is by a nonzero constant
        unchecked {
            if (y != 0 && x > type(uint256).max / y) revert MulWadOverflow(x, y);
            return (x * y) / WAD;
        }
    }

    /// @dev x * y / 1e18 rounded up (away from zero), for wad x, y.
    function mulWadUp(uint256 x, uint256 y) internal pure returns (uint256) {
        // the guard rules out overflow of x * y; p / WAD + 1 < 2^256 since p / WAD < 2^196
        unchecked {
            if (y != 0 && x > type(uint256).max / y) revert MulWadOverflow(x, y);
            uint256 p = x * y;
            return p / WAD + (p % WAD == 0 ? 0 : 1);
        }
    }

    /// @dev x * 1e18 / y rounded down, for wad x, y (y != 0).
    function divWadDown(uint256 x, uint256 y) internal pure returns (uint256) {
        if (y == 0) revert DivWadByZero(x);
        // the guard rules out overflow of x * WAD
        unchecked {
            if (x > type(uint256).max / WAD) revert DivWadOverflow(x, y);
            return (x * WAD) / y;
        }
    }

    /// @dev x * 1e18 / y rounded up, for wad x, y (y != 0).
    function divWadUp(uint256 x, uint256 y) internal pure returns (uint256) {
        if (y == 0) revert DivWadByZero(x);
        // the guard rules out overflow of x * WAD; + 1 only happens for y >= 2, where p / y < 2^255
        unchecked {
            if (x > type(uint256).max / WAD) revert DivWadOverflow(x, y);
            uint256 p = x * WAD;
            return p / y + (p % y == 0 ? 0 : 1);
        }
    }

    // --- Signed products and quotients ---

    /// @dev x * y / 1e18 rounded down (toward -infinity), for signed wad x, y.
    function sMulWadDown(int256 x, int256 y) internal pure returns (int256 z) {
        int256 p = _sMul(x, y);
        // p / IWAD cannot overflow (|p / 1e18| < 2^196); the correction step neither
        unchecked {
            z = p / IWAD;
            if (p < 0 && p % IWAD != 0) z -= 1;
        }
    }

    /// @dev x * y / 1e18 rounded up (toward +infinity), for signed wad x, y.
    function sMulWadUp(int256 x, int256 y) internal pure returns (int256 z) {
        int256 p = _sMul(x, y);
        // as in sMulWadDown
        unchecked {
            z = p / IWAD;
            if (p > 0 && p % IWAD != 0) z += 1;
        }
    }

    /// @dev x * 1e18 / y rounded down (toward -infinity), for signed wad x, y (y != 0).
    function sDivWadDown(int256 x, int256 y) internal pure returns (int256 z) {
        (int256 q, int256 r) = _sDiv(x, y);
        // |q| <= |x * 1e18| < 2^255, so q - 1 cannot underflow
        unchecked {
            z = (r != 0 && ((r < 0) != (y < 0))) ? q - 1 : q;
        }
    }

    /// @dev x * 1e18 / y rounded up (toward +infinity), for signed wad x, y (y != 0).
    function sDivWadUp(int256 x, int256 y) internal pure returns (int256 z) {
        (int256 q, int256 r) = _sDiv(x, y);
        // |q| <= |x * 1e18| < 2^255 - 1, so q + 1 cannot overflow
        unchecked {
            z = (r != 0 && ((r < 0) == (y < 0))) ? q + 1 : q;
        }
    }

    /// @dev x * y with a custom error on int256 overflow.
    function _sMul(int256 x, int256 y) private pure returns (int256 p) {
        // the product wraps in unchecked mode; wrapping is detected by dividing back
        unchecked {
            p = x * y;
            if ((x == -1 && y == type(int256).min) || (y == -1 && x == type(int256).min)) {
                revert SMulWadOverflow(x, y);
            }
            if (x != 0 && p / x != y) revert SMulWadOverflow(x, y);
        }
    }

    /// @dev Truncated quotient and remainder of x * 1e18 / y, with custom errors.
    function _sDiv(int256 x, int256 y) private pure returns (int256 q, int256 r) {
        if (y == 0) revert SDivWadByZero(x);
        // x * IWAD is checked by dividing back; q = p / y overflows only for p = min, y = -1,
        // which x * 1e18 cannot produce (min is not a multiple of 1e18)
        unchecked {
            int256 p = x * IWAD;
            if (p / IWAD != x) revert SDivWadOverflow(x, y);
            q = p / y;
            r = p % y;
        }
    }

    // --- exp, ln, sqrt ---

    /// @dev e^x in wad for x in wad, rounded down; 0 below EXP_MIN, ExpOverflow above EXP_MAX.
    ///      Error: < 1 wei + 1e-32 relative (range reduction by ln 2 at 1e36, Taylor degree 22).
    function expWad(int256 x) internal pure returns (uint256) {
        if (x < EXP_MIN) return 0;
        if (x > EXP_MAX) revert ExpOverflow(x);
        // |x| < 136e18, so x * 1e18 < 1.4e38 and every product below stays < 2^200
        unchecked {
            int256 x36 = x * IWAD;
            // k = round(x / ln 2), r = x - k ln 2 with |r| <= ln2 / 2
            int256 k = (x36 >= 0 ? x36 + LN2_36 / 2 : x36 - LN2_36 / 2) / LN2_36;
            int256 r = x36 - k * LN2_36;
            // e^r = 1 + r(1 + r/2(1 + r/3(...(1 + r/22)))); the tail after r^22/22! is < 1e-33
            int256 p = SCALE36;
            for (int256 n = 22; n > 0; --n) {
                p = SCALE36 + (p * r) / (n * SCALE36);
            }
            // result = p * 2^k / 1e18 at scale 1e36 -> wad, rounded down
            if (k >= 0) return Math.mulDiv(uint256(p), 1 << uint256(k), WAD);
            return uint256(p) / (WAD << uint256(-k));
        }
    }

    /// @dev ln(x) at scale 1e36 for x in wad (x > 0); error < 2e-22 absolute (series tail).
    ///      Method: x = m 2^e with m in [1/sqrt2, sqrt2], ln m = 2 atanh(s), s = (m-1)/(m+1),
    ///      |s| <= 0.1716, series to s^25: the tail is < 2 |s|^27 / 27 / (1 - s^2) < 2e-22.
    function ln36(int256 x) internal pure returns (int256 r) {
        if (x <= 0) revert LnNonPositive(x);
        uint256 e = Math.log2(uint256(x)); // floor(log2 x) in [0, 254]; x > 0 so the cast is exact
        // Shifts put y in [2^96, 2^97); |y - base| < 2^97, so (y - base) 1e36 < 2^217; |s| < 0.18e36
        // and 0 <= z, p < 1.1e36 keep every product below 2^240.
        assembly ("memory-safe") {
            let one := 1000000000000000000000000000000000000 // 1e36
            let y := 0
            switch lt(e, 96)
            case 1 { y := shl(sub(96, e), x) }
            default { y := shr(sub(e, 96), x) }
            // m = y / base with base = 2^96, or 2^97 (and e + 1) when y > sqrt2 2^96
            let base := shl(96, 1)
            if gt(y, SQRT2_Q96) {
                base := shl(97, 1)
                e := add(e, 1)
            }
            let s := sdiv(mul(sub(y, base), one), add(y, base))
            let z := div(mul(s, s), one) // s^2 >= 0
            // atanh(s)/s = sum z^k / (2k + 1), k = 0..12, by Horner (constants floor(1e36 / (2k + 1)))
            let p := 40000000000000000000000000000000000 // 1/25
            p := add(43478260869565217391304347826086956, div(mul(p, z), one)) // 1/23
            p := add(47619047619047619047619047619047619, div(mul(p, z), one)) // 1/21
            p := add(52631578947368421052631578947368421, div(mul(p, z), one)) // 1/19
            p := add(58823529411764705882352941176470588, div(mul(p, z), one)) // 1/17
            p := add(66666666666666666666666666666666666, div(mul(p, z), one)) // 1/15
            p := add(76923076923076923076923076923076923, div(mul(p, z), one)) // 1/13
            p := add(90909090909090909090909090909090909, div(mul(p, z), one)) // 1/11
            p := add(111111111111111111111111111111111111, div(mul(p, z), one)) // 1/9
            p := add(142857142857142857142857142857142857, div(mul(p, z), one)) // 1/7
            p := add(200000000000000000000000000000000000, div(mul(p, z), one)) // 1/5
            p := add(333333333333333333333333333333333333, div(mul(p, z), one)) // 1/3
            p := add(one, div(mul(p, z), one))
            // x = m 2^e (up to the bits shifted out, < 2^-96 relative):
            // ln(x / 1e18) = 2 s p + e ln2 - ln 1e18
            r := sub(add(sdiv(mul(shl(1, s), p), one), mul(e, LN2_36)), LN_WAD_36)
        }
    }

    /// @dev ln(x) in wad for x in wad (x > 0), rounded to nearest (half away from zero).
    function lnWad(int256 x) internal pure returns (int256) {
        int256 r = ln36(x);
        // |r| < 200e36, far from the int256 limits
        unchecked {
            return (r >= 0 ? r + IWAD / 2 : r - IWAD / 2) / IWAD;
        }
    }

    /// @dev sqrt(x) in wad for x in wad, rounded down (exact floor of sqrt(x * 1e18)).
    function sqrtWad(uint256 x) internal pure returns (uint256) {
        if (x > type(uint256).max / WAD) revert SqrtOverflow(x);
        // the guard rules out overflow of x * WAD
        unchecked {
            return Math.sqrt(x * WAD);
        }
    }
}
