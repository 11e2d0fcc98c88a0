// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IMarginEngine} from "../../interfaces/IMarginEngine.sol";
import {IRiskArrayStore} from "../../interfaces/IRiskArrayStore.sol";

/// @title Stands in for the engine of a RiskArrayStore and values the same positions twice in one
///        transaction through the caching path: the first call computes and caches the arrays, the
///        second reads them back from transient storage. Tests only.
contract StoreCacheProbe {
    IRiskArrayStore public store;

    /// @notice One valuation: what optionRiskCached returned and the gas it took.
    struct Valuation {
        int256 value;
        int256[31] pnl;
        uint256 shortSize;
        uint256 gasUsed;
    }

    function setStore(IRiskArrayStore store_) external {
        store = store_;
    }

    function addSeries(IMarginEngine.Series calldata s) external returns (uint256) {
        return store.addSeries(s);
    }

    function twice(IRiskArrayStore.Market calldata m, uint256[] calldata ids, int256[] calldata sizes)
        external
        returns (Valuation memory first, Valuation memory second)
    {
        first = _value(m, ids, sizes);
        second = _value(m, ids, sizes);
    }

    function _value(IRiskArrayStore.Market calldata m, uint256[] calldata ids, int256[] calldata sizes)
        internal
        returns (Valuation memory v)
    {
        uint256 g = gasleft();
        (v.value, v.pnl, v.shortSize) = store.optionRiskCached(m, ids, sizes);
        v.gasUsed = g - gasleft();
    }
}
