// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IOracle} from "../../interfaces/IOracle.sol";

/// @title IOracle with settable feeds, for Vault tests until the real Oracle lands. Tests only.
contract VaultTestOracle is IOracle {
    uint256 public heartbeat = 1 hours;           // staleness limit                   [s]
    mapping(uint256 => FeedState) internal feeds; // feed id => last state

    function setFeed(uint256 feedId, uint128 price, uint64 vol, uint32 observedAt) external {
        FeedState storage f = feeds[feedId];
        f.price = price;
        f.vol = vol;
        f.observedAt = observedAt;
        f.round += 1;
    }

    function setHeartbeat(uint256 heartbeat_) external {
        heartbeat = heartbeat_;
    }

    function feed(uint256 feedId) external view returns (FeedState memory) {
        return feeds[feedId];
    }

    function freshFeed(uint256 feedId) external view returns (uint256, uint256, uint256) {
        FeedState memory f = feeds[feedId];
        if (_stale(f)) revert StalePrice(feedId, f.observedAt, block.timestamp);
        return (f.price, f.vol, f.observedAt);
    }

    function isStale(uint256 feedId) external view returns (bool) {
        return _stale(feeds[feedId]);
    }

    function isReduceOnly(uint256) external pure returns (bool) {
        return false;
    }

    function settlementPrice(uint256, uint256) external pure returns (uint256) {
        return 0;
    }

    function _stale(FeedState memory f) internal view returns (bool) {
        // a report from the future (test clocks) counts as fresh
        return f.observedAt == 0 || (block.timestamp > f.observedAt && block.timestamp - f.observedAt > heartbeat);
    }
}
