// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title The Vault's signed cash words (DESIGN.md "Vault"), as the Vault and the margin lens use them.
/// @dev A word is a principal (≥ 0), worth principal·index / 1e18 rounded down, or a debt (< 0),
///      worth itself. Rounding is always against the account: credits become principal rounded
///      down, debits consume principal rounded up; a debt is exact and repaid before any principal.
library CashMath {
    using SafeCast for uint256;

    uint256 internal constant WAD = 1e18;

    /// @dev Effective cash of a stored word at cash index `index`.                   [wad USD]
    function effective(int256 word, uint256 index) internal pure returns (int256) {
        if (word <= 0) return word;
        return int256(Math.mulDiv(uint256(word), index, WAD)); // <= word since index <= 1e18
    }

    /// @dev The word after adding `delta` [wad USD] at cash index `index` (`delta` ≠ 0).
    function add(int256 word, uint256 index, int256 delta) internal pure returns (int256) {
        if (delta > 0) {
            uint256 credit = uint256(delta);
            if (word < 0) {
                uint256 debt = uint256(-word);
                if (credit <= debt) return word + delta; // repays part of the debt, exact
                credit -= debt;
                word = 0;
            }
            uint256 p = index == WAD ? credit : Math.mulDiv(credit, WAD, index); // down
            return word + p.toInt256();
        }
        uint256 debit = uint256(-delta); // -type(int256).min panics: not a real amount
        if (word <= 0) return word - debit.toInt256();
        uint256 principal = uint256(word);
        uint256 need = index == WAD ? debit : Math.mulDiv(debit, WAD, index, Math.Rounding.Ceil);
        if (need <= principal) return int256(principal - need);
        // the whole principal, worth `owned` (rounded down), and the rest becomes a debt; need >
        // principal implies debit > principal · index / 1e18 >= owned, so the debt is positive
        uint256 owned = Math.mulDiv(principal, index, WAD);
        return -(debit - owned).toInt256();
    }
}
