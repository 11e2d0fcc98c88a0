// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {JointLossLib} from "../libraries/JointLossLib.sol";

/// @title JointLossHarness
/// @notice Test-only: calls the linked JointLossLib as the engine would (DELEGATECALL), times that
///         call with gasleft() (ABI encoding and the call included), and exposes the library's
///         internal steps.
contract JointLossHarness {
    /// @dev JointLossLib.scanRisk through the linked library.
    function scanRisk(int256[31][] memory pnl, int256[] memory rho, uint256 sumLoss, uint256 jointLoss)
        external
        pure
        returns (uint256 sr, uint256 lossRho)
    {
        return JointLossLib.scanRisk(pnl, rho, sumLoss, jointLoss);
    }

    /// @dev JointLossLib.correlatedLoss through the linked library.
    function correlatedLoss(int256[31][] memory pnl, int256[] memory rho) external pure returns (uint256) {
        return JointLossLib.correlatedLoss(pnl, rho);
    }

    /// @dev Gas of the linked scanRisk call as the engine's call site would pay it (argument
    ///      encoding, DELEGATECALL, decoding the result).
    function scanRiskGas(int256[31][] memory pnl, int256[] memory rho, uint256 sumLoss, uint256 jointLoss)
        external
        view
        returns (uint256 sr, uint256 lossRho, uint256 gasUsed)
    {
        uint256 before = gasleft();
        (sr, lossRho) = JointLossLib.scanRisk(pnl, rho, sumLoss, jointLoss);
        gasUsed = before - gasleft();
    }

    /// @dev JointLossLib.stressed: 4e18·ρ_s.
    function stressed(int256 rho) external pure returns (int256) {
        return JointLossLib.stressed(rho);
    }

    /// @dev JointLossLib.majorants: (a, b) at index (u·3 + v)·2 + s.
    function majorants(int256[31][] memory pnl) external pure returns (int256[24] memory a, int256[24] memory b) {
        return JointLossLib.majorants(pnl);
    }

    /// @dev JointLossLib.repairShift on the stressed g of `rho` (pair order).
    function repairShift(int256[] memory rho) external pure returns (int256 cLo, int256 cHi) {
        uint256 n = rho.length == 3 ? 3 : rho.length == 6 ? 4 : 2;
        return JointLossLib.repairShift(_g(rho), n);
    }

    /// @dev JointLossLib.correlationBounds on the stressed g of `rho` with shifts cLo, cHi.
    function correlationBounds(int256[] memory rho, int256 cLo, int256 cHi)
        external
        pure
        returns (int256[6] memory hi, int256[6] memory lo)
    {
        return JointLossLib.correlationBounds(_g(rho), rho.length, cLo, cHi);
    }

    /// @dev JointLossLib.det3.
    function det3(int256 d, int256 x, int256 y, int256 z) external pure returns (int256) {
        return JointLossLib.det3(d, x, y, z);
    }

    /// @dev JointLossLib.det4.
    function det4(int256 d, int256[6] memory g) external pure returns (int256) {
        return JointLossLib.det4(d, g);
    }

    function _g(int256[] memory rho) private pure returns (int256[6] memory g) {
        for (uint256 p; p < rho.length; ++p) g[p] = JointLossLib.stressed(rho[p]);
    }
}
