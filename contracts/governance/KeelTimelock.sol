// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title Keel governance timelock (SPEC §8b).
/// @dev OpenZeppelin's TimelockController, unchanged but for a bound on the delay it is deployed with.
///      It owns the Vault, Oracle, MarginEngine and Liquidator (each Ownable2Step: the timelock
///      accepts ownership through one of its own operations), so every owner power (parameters,
///      signer set and quorum, listing, modules, the guardian) runs no sooner than `getMinDelay()`
///      after it was scheduled, in public: users see each change coming and can leave first.
///      The guardian's pause is not an owner power and never waits here; it can only stop new risk.
///
///      Roles (OpenZeppelin's): proposers schedule and cancel, executors execute (granting the
///      executor role to address(0) lets anyone execute a ready operation), and the admin role is
///      held by the timelock itself, so roles change only through a delayed operation. An extra
///      admin passed to the constructor bypasses the delay: deployments pass address(0).
///
///      Operation lifecycle: Unset --schedule--> Waiting --delay--> Ready --execute--> Done;
///      cancel returns Waiting or Ready to Unset. `updateDelay` is itself an operation, so a
///      shorter delay takes effect only after the current one has run out.
contract KeelTimelock is TimelockController {
    // --- Constants ---

    /// @dev SPEC §8b's default delay: a day for users to see a change before it applies.
    uint256 public constant DEFAULT_DELAY = 24 hours; // [s]
    /// @dev Longest delay accepted at deployment: a mistyped delay (milliseconds for seconds would be
    ///      1,000 days) would freeze every parameter, since lowering the delay waits the delay itself.
    uint256 public constant MAX_DELAY = 30 days; // [s]

    // --- Errors ---

    /// @dev The delay `delay` [s] asked for at deployment is above `maxDelay` [s].
    error KeelTimelockDelayTooLong(uint256 delay, uint256 maxDelay);

    // --- Init ---

    /// @param minDelay delay of every operation (DEFAULT_DELAY in production; tests use less) [s]
    /// @param proposers accounts that schedule and cancel operations (governance's multisig)
    /// @param executors accounts that execute ready operations (address(0): anyone)
    /// @param admin extra admin that can grant roles without delay: address(0) in deployments
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors, address admin)
        TimelockController(minDelay, proposers, executors, admin)
    {
        // Delay bound: a deployment can never freeze governance for longer than MAX_DELAY
        if (minDelay > MAX_DELAY) revert KeelTimelockDelayTooLong(minDelay, MAX_DELAY);
    }
}
