// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title The scenario grid of SPEC §6 and the fixed-point helpers the margin engine needs.
/// @dev Scenario order and vol states exactly as docs/DESIGN.md ("Margin"). The transcendental
///      helpers (ln, exp, normal CDF, Black-Scholes) work internally at 1e36 precision so that a
///      unit option value is accurate to well below 1e-12·S over the SPEC's accuracy domain.
library PortfolioMargin {
    int256 internal constant WAD = 1e18;
    int256 internal constant E36 = 1e36;
    uint256 internal constant SCENARIOS = 31;
    uint256 internal constant YEAR = 365 days;                   // [s]
    int256 internal constant R_MIN = 0.16e18;                    // [wad]
    int256 internal constant R_MAX = 0.5e18;                     // [wad]
    /// @dev 2.576 · √(2/365), rounded down                        [wad]
    int256 internal constant SCAN_FACTOR = 190684074946903115;
    int256 internal constant EXTENDED_WEIGHT = 0.3e18;           // [wad]
    int256 internal constant EXTENDED_CAP = 0.9e18;              // [wad]
    int256 internal constant VOL_UP_FLOOR = 0.5e18;              // [wad]
    int256 internal constant LN2_36 = 693147180559945309417232121458176568; // ln 2 [1e36]
    /// @dev 1/√(2π)                                               [1e36]
    int256 internal constant INV_SQRT_2PI_36 = 398942280401432677939946059934381868;

    error LnOfNonPositive(int256 x);
    error ExpOverflow(int256 x);

    // --- Scenario grid ---

    /// @notice R_u = clamp(2.576·σ·√(2/365), R_min, R_max)             [wad]
    function scanRange(uint256 vol) internal pure returns (int256 r) {
        r = int256(vol) * SCAN_FACTOR / WAD;
        if (r < R_MIN) r = R_MIN;
        if (r > R_MAX) r = R_MAX;
    }

    /// @notice Spot fraction x_j of scenario j for scan range r.       [wad]
    function spotMove(uint256 j, int256 r) internal pure returns (int256) {
        if (j < 27) return r * (int256(j % 9) - 4) / 4;
        if (j == 27) return 2 * r;
        if (j == 28) return 3 * r;
        int256 down = j == 29 ? 2 * r : 3 * r;
        return -(down < EXTENDED_CAP ? down : EXTENDED_CAP);
    }

    /// @notice The 31 spot fractions of a scan range.
    function spotMoves(int256 r) internal pure returns (int256[31] memory x) {
        for (uint256 j; j < 31; ++j) x[j] = spotMove(j, r);
    }

    /// @notice Vol states (σ_up, σ_dn) of an option with τ = `tauSeconds` (DESIGN.md).   [wad]
    /// @dev m = (30 / max(τ_days, 1))^p, p = 0.30 if τ_days ≤ 30 else 0.13.
    function volStates(uint256 vol, uint256 tauSeconds) internal pure returns (int256 up, int256 dn) {
        int256 tauDays = int256(tauSeconds) * WAD / 1 days;
        int256 p = tauDays <= 30e18 ? int256(0.3e18) : int256(0.13e18);
        int256 ratio = 30e18 * WAD / (tauDays > WAD ? tauDays : WAD);
        int256 m = expWad(p * lnWad(ratio) / WAD);
        int256 s = int256(vol);
        up = s * (WAD + m / 2) / WAD;
        if (up < VOL_UP_FLOOR) up = VOL_UP_FLOOR;
        dn = s * (WAD - m / 4) / WAD;
    }

    // --- Fixed point ---

    /// @notice floor(a·b / 1e18) for signed a, b (rounds toward −∞).
    function mulWadFloor(int256 a, int256 b) internal pure returns (int256 c) {
        int256 p = a * b;
        c = p / WAD;
        if (p % WAD < 0) c -= 1;
    }

    /// @notice Natural log of a positive wad.                            [wad]
    function lnWad(int256 x) internal pure returns (int256) {
        return ln36(x) / WAD;
    }

    /// @notice ln x at 1e36 precision for a positive wad x.             [1e36]
    /// @dev x = y·2^k with y ∈ [1, 2); ln y = 2·atanh(z), z = (y−1)/(y+1) ≤ 1/3.
    function ln36(int256 x) internal pure returns (int256 r) {
        if (x <= 0) revert LnOfNonPositive(x);
        int256 k = int256(Math.log2(uint256(x))) - 59; // 2^59 ≤ 1e18 < 2^60
        // y = x / 2^k in [1e18, 2e18) after the correction below, held at 1e36
        int256 y = k >= 0 ? (x * WAD) >> uint256(k) : (x * WAD) << uint256(-k);
        while (y >= 2 * E36) {
            y >>= 1;
            ++k;
        }
        while (y < E36) {
            y <<= 1;
            --k;
        }
        int256 z = (y - E36) * E36 / (y + E36);
        int256 z2 = z * z / E36;
        int256 term = z;
        int256 sum;
        for (int256 n = 1; term != 0; n += 2) {
            sum += term / n;
            term = term * z2 / E36;
        }
        r = 2 * sum + k * LN2_36;
    }

    /// @notice e^x for a wad x (0 below −42).                           [wad]
    function expWad(int256 x) internal pure returns (int256) {
        if (x < -42e18) return 0;
        return exp36(x * WAD) / WAD;
    }

    /// @notice e^x at 1e36 precision for x given at 1e36 (x ≤ 40).      [1e36]
    /// @dev x = k·ln 2 + r with |r| ≤ ln2/2; Taylor series of e^r; then scale by 2^k.
    function exp36(int256 x) internal pure returns (int256) {
        if (x > 40 * E36) revert ExpOverflow(x);
        if (x < -85 * E36) return 0;
        int256 k = (x + (x >= 0 ? LN2_36 / 2 : -LN2_36 / 2)) / LN2_36;
        int256 r = x - k * LN2_36;
        int256 term = E36;
        int256 sum = E36;
        for (int256 n = 1; term != 0; ++n) {
            term = term * r / E36 / n;
            sum += term;
        }
        return k >= 0 ? sum << uint256(k) : sum >> uint256(-k);
    }

    /// @notice √x for a wad x.                                          [wad]
    function sqrtWad(uint256 x) internal pure returns (uint256) {
        return Math.sqrt(x * 1e18);
    }

    /// @notice Standard normal CDF Φ(d) for a wad d.                     [1e36]
    /// @dev Marsaglia's series Φ(a) = ½ + φ(a)·Σ a^(2n+1)/(2n+1)!! for a = |d| (all terms positive,
    ///      no cancellation); Φ(−a) = 1 − Φ(a). |d| ≥ 9 saturates (1 − Φ(9) < 1.2e-19).
    function normCdf36(int256 d) internal pure returns (int256) {
        int256 a = d < 0 ? -d : d;
        if (a >= 9e18) return d < 0 ? int256(0) : E36;
        int256 a2 = a * a / WAD; // [wad]
        int256 term = a * WAD; // [1e36]
        int256 sum = term;
        for (int256 n = 3; term > sum >> 80; n += 2) {
            term = term * a2 / WAD / n;
            sum += term;
        }
        int256 pdf = exp36(-(a2 * WAD) / 2) * INV_SQRT_2PI_36 / E36;
        int256 half = int256(Math.mulDiv(uint256(pdf), uint256(sum), uint256(E36)));
        int256 upper = E36 / 2 + half;
        if (upper > E36) upper = E36;
        return d < 0 ? E36 - upper : upper;
    }

    /// @notice Black-Scholes value (r = 0) of one unit of a call or put; intrinsic when τ or σ is 0.
    /// @param lnSK ln(S/K) [1e36]; sigmaRootTau σ√τ [wad]; halfVar σ²τ/2 [1e36].   Returns [wad USD]
    function blackScholes(bool isCall, int256 spot, int256 strike, int256 lnSK, int256 sigmaRootTau, int256 halfVar)
        internal
        pure
        returns (int256)
    {
        if (sigmaRootTau == 0) return intrinsic(isCall, spot, strike);
        int256 d1 = (lnSK + halfVar) / sigmaRootTau; // [wad]
        int256 d2 = d1 - sigmaRootTau;
        if (isCall) {
            int256 v = (spot * normCdf36(d1) - strike * normCdf36(d2)) / E36;
            return v > 0 ? v : int256(0);
        }
        int256 p = (strike * normCdf36(-d2) - spot * normCdf36(-d1)) / E36;
        return p > 0 ? p : int256(0);
    }

    /// @notice max(S − K, 0) for a call, max(K − S, 0) for a put.       [wad USD]
    function intrinsic(bool isCall, int256 spot, int256 strike) internal pure returns (int256) {
        int256 v = isCall ? spot - strike : strike - spot;
        return v > 0 ? v : int256(0);
    }
}
