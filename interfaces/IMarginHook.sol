// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title The margin check the Vault calls after every withdrawal.
/// @dev Implemented by the margin engine; until one is set, the Vault applies its own rule
///      (no withdrawal of collateral while the account's cash is negative).
interface IMarginHook {
    /// @notice Reverts (with the engine's custom error) unless `accountId` may withdraw:
    ///         AE >= IM after the withdrawal, or the account holds no positions and no debt.
    function checkWithdrawal(uint256 accountId) external view;
}
