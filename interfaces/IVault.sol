// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Keel Vault: accounts, multi-asset collateral and the signed cash balance.
/// @dev See docs/SPEC.md §2 and docs/DESIGN.md ("Vault"). Cash is wad USD backed by the settlement
///      asset; other collateral is held in token units. Modules (margin engine, liquidator) are
///      contracts authorised by governance to move value between accounts.
interface IVault {
    // --- Types ---

    /// @notice Governance configuration of a collateral asset (SPEC §2).
    struct AssetConfig {
        uint256 priceFeed;        // oracle feed pricing the token (0: fixed $1)        [feedId]
        uint256 linkedUnderlying; // underlying whose scenarios move it (0: none)        [feedId]
        uint64 baseHaircut;       // h0                                                  [wad]
        uint64 maxHaircut;        // h_max                                               [wad]
        uint64 refVol;            // sigma_ref                                           [wad]
        uint128 cap;              // max total deposits of the token                     [token units]
        bool enabled;             // deposits allowed
    }

    /// @notice One collateral holding of an account, valued at the oracle's current price.
    struct CollateralValue {
        address token;
        uint256 amount;           // balance                                             [token units]
        uint256 linkedUnderlying; // feed id of the linked underlying (0: none)          [feedId]
        uint256 price;            // token price                                         [wad USD]
        uint256 value;            // amount * price, rounded down                        [wad USD]
        uint256 haircut;          // value * h, rounded up                               [wad USD]
    }

    // --- Account management ---

    /// @notice Opens a new account owned by the caller and returns its id (ids start at 1).
    function openAccount() external returns (uint256 accountId);

    /// @notice Grants `operator` the `rights` bitmask (RIGHT_TRADE = 1, RIGHT_WITHDRAW = 2) on an
    ///         account for as long as the caller owns it; 0 revokes. Owner only.
    function setOperator(uint256 accountId, address operator, uint8 rights) external;

    /// @notice Transfers ownership of an account; the previous owner's operators lose their rights.
    function transferAccount(uint256 accountId, address newOwner) external;

    // --- Collateral ---

    /// @notice Deposits `amount` of an enabled `token` into `accountId` (anyone may deposit).
    ///         The settlement asset credits cash; other tokens credit the collateral balance.
    function deposit(uint256 accountId, address token, uint256 amount) external;

    /// @notice Withdraws `amount` of `token` from `accountId` to `to` (owner or withdraw operator);
    ///         the account must pass the margin hook afterwards.
    function withdraw(uint256 accountId, address token, uint256 amount, address to) external;

    // --- Views ---

    function accountOwner(uint256 accountId) external view returns (address);
    function isAuthorised(uint256 accountId, address caller, uint8 right) external view returns (bool);
    /// @notice Effective cash of an account after the socialisation index                [wad USD]
    function cashOf(uint256 accountId) external view returns (int256);
    function collateralBalance(uint256 accountId, address token) external view returns (uint256);
    /// @notice Tokens (other than the settlement asset) with a non-zero balance in the account.
    function accountAssets(uint256 accountId) external view returns (address[] memory);
    function settlementAsset() external view returns (address);
    function assetConfig(address token) external view returns (AssetConfig memory);
    /// @notice Current haircut h of `token` (SPEC §2, dynamic with the linked underlying's vol) [wad]
    function haircut(address token) external view returns (uint256);
    /// @notice Every collateral holding of the account valued now, plus the haircut of positive
    ///         cash (settlement asset haircut applied to max(cash, 0)). Reverts `StalePrice` when a
    ///         needed feed is stale.
    function valuation(uint256 accountId)
        external
        view
        returns (int256 cash, CollateralValue[] memory collateral, uint256 cashHaircut);
    function insuranceFund() external view returns (uint256);
    /// @notice Global index applied to positive cash (1e18 until a loss is socialised)      [wad]
    function cashIndex() external view returns (uint256);

    // --- Modules (margin engine, liquidator) ---

    /// @notice Moves `amount` of cash from one account to another (amount may be negative).
    function moveCash(uint256 from, uint256 to, int256 amount) external;
    /// @notice Adds `delta` to an account's cash against the pool (e.g. realised perp PnL).
    function adjustCash(uint256 accountId, int256 delta) external;
    /// @notice Moves `amount` cash from an account to the insurance fund (fees, penalties).
    function collectFee(uint256 accountId, uint256 amount) external;
    /// @notice Pays up to `amount` from the insurance fund to an account; returns what was paid.
    function payFromInsurance(uint256 accountId, uint256 amount) external returns (uint256 paid);
    /// @notice Spreads a loss over every positive cash balance by lowering the cash index.
    function socialiseLoss(uint256 amount) external;
    /// @notice Moves `amount` of a collateral token between accounts.
    function moveCollateral(uint256 from, uint256 to, address token, uint256 amount) external;
}
