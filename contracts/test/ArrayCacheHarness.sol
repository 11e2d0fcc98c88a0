// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IOracle} from "../../interfaces/IOracle.sol";
import {RiskArrayStore} from "../RiskArrayStore.sol";

/// @title Exposes RiskArrayStore's transient cache (`_cache`, `_readCache`, `_word`) on
///        arbitrary arrays, within one call. Tests only.
contract ArrayCacheHarness is RiskArrayStore {
    constructor(IOracle oracle_) RiskArrayStore(msg.sender, oracle_) {}

    /// @notice Caches each array in order (same tx), then reads `seriesId` back at `readAt`.
    function roundTrip(
        uint256[] calldata ids,
        uint256[] calldata obs,
        int256[33][] calldata arrays,
        uint256 seriesId,
        uint256 readAt
    )
        external
        returns (bool hit, bool packed, int256[33] memory out)
    {
        for (uint256 k; k < ids.length; ++k) {
            int256[33] memory a = arrays[k];
            _cache(ids[k], obs[k], a);
        }
        int256[33] memory buf;
        for (uint256 k; k < 33; ++k) {
            buf[k] = int256(0xdead); // dirty buffer, as _optionRisk's shared one is
        }
        (hit, packed) = _readCache(seriesId, readAt, buf);
        if (hit) {
            for (uint256 k; k < 33; ++k) {
                out[k] = _word(buf, packed, k);
            }
        }
    }
}
