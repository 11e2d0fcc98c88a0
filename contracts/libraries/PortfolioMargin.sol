// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {WadMath} from "./WadMath.sol";

/// @title The scenario grid of SPEC §6 and the small fixed-point helpers of the margin engine.
/// @dev Scenario order and vol states exactly as docs/DESIGN.md ("Margin"). Transcendental math
///      (exp, ln, Black-Scholes) comes from the shared WadMath / BlackScholes libraries.
library PortfolioMargin {
    int256 internal constant WAD = 1e18;
    uint256 internal constant SCENARIOS = 31;
    uint256 internal constant YEAR = 365 days;                   // [s]
    int256 internal constant R_MIN = 0.16e18;                    // [wad]
    int256 internal constant R_MAX = 0.5e18;                     // [wad]
    /// @dev 2.576 · √(2/365), rounded down                        [wad]
    int256 internal constant SCAN_FACTOR = 190684074946903115;
    int256 internal constant EXTENDED_WEIGHT = 0.3e18;           // [wad]
    int256 internal constant EXTENDED_CAP = 0.9e18;              // [wad]
    int256 internal constant VOL_UP_FLOOR = 0.5e18;              // [wad]
    int256 internal constant LN2 = 693147180559945309;            // ln 2, rounded down [wad]

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
        int256 m = int256(WadMath.expWad(p * WadMath.lnWad(ratio) / WAD));
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

    /// @notice max(S − K, 0) for a call, max(K − S, 0) for a put.       [wad USD]
    function intrinsic(bool isCall, int256 spot, int256 strike) internal pure returns (int256) {
        int256 v = isCall ? spot - strike : strike - spot;
        return v > 0 ? v : int256(0);
    }
}
