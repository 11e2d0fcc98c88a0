// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IMarginHook} from "../../interfaces/IMarginHook.sol";

/// @title Margin hook that rejects withdrawals from accounts flagged by the test. Tests only.
contract MockMarginHook is IMarginHook {
    error HookRejected(uint256 accountId);

    mapping(uint256 => bool) public rejected; // account id => withdrawals fail

    function setRejected(uint256 accountId, bool rejected_) external {
        rejected[accountId] = rejected_;
    }

    function checkWithdrawal(uint256 accountId) external view {
        if (rejected[accountId]) revert HookRejected(accountId);
    }
}
