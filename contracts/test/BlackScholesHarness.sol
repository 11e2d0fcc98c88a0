// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {BlackScholes} from "../libraries/BlackScholes.sol";
import {NormalCDF} from "../libraries/NormalCDF.sol";
import {WadMath} from "../libraries/WadMath.sol";

/// @title BlackScholesHarness
/// @notice Test-only: exposes the math libraries as external functions, and gas probes that time
///         the internal calls with gasleft() so that the figures exclude call and ABI overhead.
contract BlackScholesHarness {
    // --- WadMath ---

    /// @dev WadMath.mulWadDown.
    function mulWadDown(uint256 x, uint256 y) external pure returns (uint256) {
        return WadMath.mulWadDown(x, y);
    }

    /// @dev WadMath.mulWadUp.
    function mulWadUp(uint256 x, uint256 y) external pure returns (uint256) {
        return WadMath.mulWadUp(x, y);
    }

    /// @dev WadMath.divWadDown.
    function divWadDown(uint256 x, uint256 y) external pure returns (uint256) {
        return WadMath.divWadDown(x, y);
    }

    /// @dev WadMath.divWadUp.
    function divWadUp(uint256 x, uint256 y) external pure returns (uint256) {
        return WadMath.divWadUp(x, y);
    }

    /// @dev WadMath.sMulWadDown.
    function sMulWadDown(int256 x, int256 y) external pure returns (int256) {
        return WadMath.sMulWadDown(x, y);
    }

    /// @dev WadMath.sMulWadUp.
    function sMulWadUp(int256 x, int256 y) external pure returns (int256) {
        return WadMath.sMulWadUp(x, y);
    }

    /// @dev WadMath.sDivWadDown.
    function sDivWadDown(int256 x, int256 y) external pure returns (int256) {
        return WadMath.sDivWadDown(x, y);
    }

    /// @dev WadMath.sDivWadUp.
    function sDivWadUp(int256 x, int256 y) external pure returns (int256) {
        return WadMath.sDivWadUp(x, y);
    }

    /// @dev WadMath.expWad.
    function expWad(int256 x) external pure returns (uint256) {
        return WadMath.expWad(x);
    }

    /// @dev WadMath.lnWad.
    function lnWad(int256 x) external pure returns (int256) {
        return WadMath.lnWad(x);
    }

    /// @dev WadMath.ln36.
    function ln36(int256 x) external pure returns (int256) {
        return WadMath.ln36(x);
    }

    /// @dev WadMath.sqrtWad.
    function sqrtWad(uint256 x) external pure returns (uint256) {
        return WadMath.sqrtWad(x);
    }

    /// @dev lnWad of each x, in one call (dense accuracy tests).
    function lnWadMany(int256[] calldata xs) external pure returns (int256[] memory out) {
        out = new int256[](xs.length);
        for (uint256 i; i < xs.length; ++i) {
            out[i] = WadMath.lnWad(xs[i]);
        }
    }

    /// @dev expWad of each x, in one call (dense accuracy tests).
    function expWadMany(int256[] calldata xs) external pure returns (uint256[] memory out) {
        out = new uint256[](xs.length);
        for (uint256 i; i < xs.length; ++i) {
            out[i] = WadMath.expWad(xs[i]);
        }
    }

    // --- NormalCDF ---

    /// @dev NormalCDF.cdf.
    function cdf(int256 x) external pure returns (uint256) {
        return NormalCDF.cdf(x);
    }

    /// @dev NormalCDF.cdf36 of each x, in one call (dense accuracy tests).
    function cdf36Many(int256[] calldata xs) external pure returns (uint256[] memory out) {
        out = new uint256[](xs.length);
        for (uint256 i; i < xs.length; ++i) {
            out[i] = NormalCDF.cdf36(xs[i]);
        }
    }

    // --- BlackScholes ---

    /// @dev BlackScholes.sqrtYears.
    function sqrtYears(uint256 tauSeconds) external pure returns (uint256) {
        return BlackScholes.sqrtYears(tauSeconds);
    }

    /// @dev BlackScholes.totalVol.
    function totalVol(uint256 sigma, uint256 tauSeconds) external pure returns (uint256) {
        return BlackScholes.totalVol(sigma, tauSeconds);
    }

    /// @dev BlackScholes.price.
    function price(uint256 spot, uint256 strike, uint256 sigma, uint256 tauSeconds)
        external
        pure
        returns (uint256 call, uint256 put)
    {
        return BlackScholes.price(spot, strike, sigma, tauSeconds);
    }

    /// @dev BlackScholes.price for many inputs at once: row k = (S, K, sigma, tau).
    function priceMany(uint256[4][] calldata rows) external pure returns (uint256[2][] memory out) {
        out = new uint256[2][](rows.length);
        for (uint256 k; k < rows.length; ++k) {
            (out[k][0], out[k][1]) = BlackScholes.price(rows[k][0], rows[k][1], rows[k][2], rows[k][3]);
        }
    }

    /// @dev BlackScholes.priceLn.
    function priceLn(int256 lnSpotOverStrike, uint256 sigmaSqrtT, uint256 spot, uint256 strike)
        external
        pure
        returns (uint256 call, uint256 put)
    {
        return BlackScholes.priceLn(lnSpotOverStrike, sigmaSqrtT, spot, strike);
    }

    /// @dev BlackScholes.grid.
    function grid(uint256 spot, int256[13] calldata moves, uint256[3] calldata sigmas, uint256 tauSeconds)
        external
        pure
        returns (BlackScholes.Grid memory)
    {
        return BlackScholes.grid(spot, moves, sigmas, tauSeconds);
    }

    /// @dev BlackScholes.scenarioValues.
    function scenarioValues(BlackScholes.Grid calldata g, uint256 strike, bool isCall)
        external
        pure
        returns (uint256[31] memory)
    {
        return BlackScholes.scenarioValues(g, strike, isCall);
    }

    // --- Gas probes ---

    /// @dev Gas of one BlackScholes.price call (ln S, ln K, sqrt, two N), with its result.
    function gasPrice(uint256 spot, uint256 strike, uint256 sigma, uint256 tauSeconds)
        external
        view
        returns (uint256 call, uint256 put, uint256 gasUsed)
    {
        uint256 g0 = gasleft();
        (call, put) = BlackScholes.price(spot, strike, sigma, tauSeconds);
        gasUsed = g0 - gasleft();
    }

    /// @dev Gas of one BlackScholes.priceLn call (two N, no logs or roots), with its result.
    function gasPriceLn(int256 lnSpotOverStrike, uint256 sigmaSqrtT, uint256 spot, uint256 strike)
        external
        view
        returns (uint256 call, uint256 put, uint256 gasUsed)
    {
        uint256 g0 = gasleft();
        (call, put) = BlackScholes.priceLn(lnSpotOverStrike, sigmaSqrtT, spot, strike);
        gasUsed = g0 - gasleft();
    }

    /// @dev Gas of one N(x) evaluation, and gas of lnWad, expWad, sqrtWad on the same input.
    function gasPrimitives(int256 x)
        external
        view
        returns (uint256 gasCdf, uint256 gasLn, uint256 gasExp, uint256 gasSqrt)
    {
        uint256 g0 = gasleft();
        NormalCDF.cdf36(x);
        gasCdf = g0 - gasleft();
        uint256 ax = x >= 0 ? uint256(x) : uint256(-x);
        g0 = gasleft();
        WadMath.lnWad(int256(ax) + 1);
        gasLn = g0 - gasleft();
        g0 = gasleft();
        WadMath.expWad(x);
        gasExp = g0 - gasleft();
        g0 = gasleft();
        WadMath.sqrtWad(ax);
        gasSqrt = g0 - gasleft();
    }

    /// @dev Values `strikes.length` options of one (underlying, expiry) in all 31 scenarios: the
    ///      grid is built once, then each strike costs one ln and 62 N. Returns the values and the
    ///      gas of the grid and of all the strikes.
    function gasScenarios(
        uint256 spot,
        int256[13] calldata moves,
        uint256[3] calldata sigmas,
        uint256 tauSeconds,
        uint256[] calldata strikes,
        bool isCall
    ) external view returns (uint256[31][] memory values, uint256 gasGrid, uint256 gasStrikes) {
        values = new uint256[31][](strikes.length);
        uint256 g0 = gasleft();
        BlackScholes.Grid memory g = BlackScholes.grid(spot, moves, sigmas, tauSeconds);
        gasGrid = g0 - gasleft();
        g0 = gasleft();
        for (uint256 k; k < strikes.length; ++k) {
            values[k] = BlackScholes.scenarioValues(g, strikes[k], isCall);
        }
        gasStrikes = g0 - gasleft();
    }
}
