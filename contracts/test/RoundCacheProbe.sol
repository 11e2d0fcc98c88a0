// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IMarginEngine} from "../../interfaces/IMarginEngine.sol";
import {IKeelOracle} from "../../interfaces/IOracle.sol";

/// @title Values an account, changes the market (a new oracle round, or any call such as a price
///        fixed by governance), and values it again, all in one transaction: shows that risk arrays
///        cached in transient storage are never used for a market they no longer describe. Tests only.
contract RoundCacheProbe {
    IMarginEngine public immutable engine;
    IKeelOracle public immutable oracle;

    constructor(IMarginEngine engine_, IKeelOracle oracle_) {
        engine = engine_;
        oracle = oracle_;
    }

    function acrossRound(uint256 accountId, IKeelOracle.Report[] calldata reports)
        external
        returns (IMarginEngine.MarginBreakdown memory first, IMarginEngine.MarginBreakdown memory second)
    {
        first = engine.cachedMarginBreakdown(accountId);
        oracle.submit(reports);
        second = engine.cachedMarginBreakdown(accountId);
    }

    function acrossCall(uint256 accountId, address target, bytes calldata data)
        external
        returns (IMarginEngine.MarginBreakdown memory first, IMarginEngine.MarginBreakdown memory second)
    {
        first = engine.cachedMarginBreakdown(accountId);
        execute(target, data);
        second = engine.cachedMarginBreakdown(accountId);
    }

    /// @notice Any call from this contract (so that it can hold a role, e.g. the Oracle's owner).
    function execute(address target, bytes calldata data) public {
        (bool ok, bytes memory ret) = target.call(data);
        if (!ok) {
            assembly {
                revert(add(ret, 0x20), mload(ret))
            }
        }
    }
}
