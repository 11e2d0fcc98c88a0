// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IMarginEngine} from "../../interfaces/IMarginEngine.sol";
import {IKeelOracle} from "../../interfaces/IOracle.sol";

/// @title Values an account, moves the oracle to a new round, and values it again, all in one
///        transaction: shows that risk arrays cached in transient storage for one round are never
///        used for the next (RiskArrayStore's cache key is the round). Tests only.
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
}
