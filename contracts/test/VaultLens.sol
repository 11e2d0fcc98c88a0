// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IVault} from "../../interfaces/IVault.sol";

/// @title Reads everything INV-1 checks in one call (stateful tests call it after every step).
///        Tests only.
contract VaultLens {
    struct State {
        uint256[] vaultBalances;  // token => balanceOf(vault)                          [token units]
        uint256[] totals;         // token => totalDeposits                              [token units]
        uint256[] collateral;     // account * tokens + token => collateralBalance       [token units]
        bool[] held;              // account * tokens + token => listed in accountAssets
        int256[] cash;            // account => cashOf                                   [wad USD]
        int256[] cashWords;       // account => cashPrincipal                            [wad]
        uint256 cashIndex;        //                                                     [wad]
        uint256 totalPrincipal;   //                                                     [wad]
        uint256 insuranceFund;    //                                                     [wad USD]
    }

    function read(IVault vault, uint256[] calldata ids, address[] calldata tokens)
        external
        view
        returns (State memory s)
    {
        uint256 nt = tokens.length;
        s.vaultBalances = new uint256[](nt);
        s.totals = new uint256[](nt);
        s.collateral = new uint256[](ids.length * nt);
        s.held = new bool[](ids.length * nt);
        s.cash = new int256[](ids.length);
        s.cashWords = new int256[](ids.length);
        for (uint256 k; k < nt; ++k) {
            s.vaultBalances[k] = IERC20(tokens[k]).balanceOf(address(vault));
            s.totals[k] = vault.totalDeposits(tokens[k]);
        }
        for (uint256 a; a < ids.length; ++a) {
            s.cash[a] = vault.cashOf(ids[a]);
            s.cashWords[a] = vault.cashPrincipal(ids[a]);
            address[] memory assets = vault.accountAssets(ids[a]);
            for (uint256 k; k < nt; ++k) {
                s.collateral[a * nt + k] = vault.collateralBalance(ids[a], tokens[k]);
                for (uint256 m; m < assets.length; ++m) {
                    if (assets[m] == tokens[k]) s.held[a * nt + k] = true;
                }
            }
        }
        s.cashIndex = vault.cashIndex();
        s.totalPrincipal = vault.totalCashPrincipal();
        s.insuranceFund = vault.insuranceFund();
    }
}
