// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @dev Operator right: may trade for the account (checked by the margin engine).
uint8 constant RIGHT_TRADE = 1;
/// @dev Operator right: may withdraw from the account.
uint8 constant RIGHT_WITHDRAW = 2;

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

    // --- Events ---

    /// @notice A new account was opened.
    event AccountOpened(uint256 indexed accountId, address indexed owner);
    /// @notice The owner of `accountId` set `operator`'s rights (0 = revoked).
    event OperatorSet(uint256 indexed accountId, address indexed owner, address indexed operator, uint8 rights);
    /// @notice Ownership of `accountId` moved; the previous owner's operators lost their rights.
    event AccountTransferred(uint256 indexed accountId, address indexed from, address indexed to);
    /// @notice `amount` [token units] of `token` entered `accountId`, paid by `from`.
    event Deposited(uint256 indexed accountId, address indexed token, address indexed from, uint256 amount);
    /// @notice `amount` [token units] of `token` left `accountId` for `to`.
    event Withdrawn(uint256 indexed accountId, address indexed token, address indexed to, uint256 amount);
    /// @notice A module moved `amount` [wad USD] of cash from `from` to `to` (negative: to -> from).
    event CashMoved(uint256 indexed from, uint256 indexed to, int256 amount);
    /// @notice A module added `delta` [wad USD] to an account's cash against the pool.
    event CashAdjusted(uint256 indexed accountId, int256 delta);
    /// @notice A module moved `amount` [wad USD] of an account's cash to the insurance fund.
    event FeeCollected(uint256 indexed accountId, uint256 amount);
    /// @notice Someone paid `amount` [wad USD] of settlement tokens straight into the insurance fund.
    event InsuranceFunded(address indexed from, uint256 amount);
    /// @notice The insurance fund paid `amount` [wad USD] to an account.
    event InsurancePaid(uint256 indexed accountId, uint256 amount);
    /// @notice A loss of `amount` [wad USD] was spread over all positive cash: the cash index
    ///         went from `oldIndex` to `newIndex` [wad]; `positiveCash` [wad USD] was the total
    ///         positive cash before (at the old index).
    event LossSocialised(uint256 amount, uint256 oldIndex, uint256 newIndex, uint256 positiveCash);
    /// @notice A module moved `amount` [token units] of collateral `token` between accounts.
    event CollateralMoved(uint256 indexed from, uint256 indexed to, address indexed token, uint256 amount);
    /// @notice Governance listed a collateral asset at bit `index` of the held-asset bitmap.
    event AssetListed(address indexed token, uint8 index, uint8 decimals);
    /// @notice Governance set the configuration of `token` (also emitted on listing).
    event AssetConfigSet(
        address indexed token,
        uint256 priceFeed,
        uint256 linkedUnderlying,
        uint64 baseHaircut,
        uint64 maxHaircut,
        uint64 refVol,
        uint128 cap,
        bool enabled
    );
    /// @notice Governance (de)authorised a module.
    event ModuleSet(address indexed module, bool authorised);
    /// @notice Governance set the margin hook called after withdrawals (0: none).
    event MarginHookSet(address indexed hook);

    // --- Errors ---

    /// @notice `accountId` was never opened.
    error UnknownAccount(uint256 accountId);
    /// @notice `caller` is not the owner of `accountId`.
    error NotAccountOwner(uint256 accountId, address caller);
    /// @notice `caller` holds neither ownership of `accountId` nor operator right `right` on it.
    error NotAuthorised(uint256 accountId, address caller, uint8 right);
    /// @notice `rights` has bits outside RIGHT_TRADE | RIGHT_WITHDRAW.
    error InvalidRights(uint8 rights);
    /// @notice An address argument was zero where an address is required.
    error ZeroAddress();
    /// @notice An amount argument was zero where a positive amount is required.
    error ZeroAmount();
    /// @notice `token` is not a listed asset.
    error UnknownAsset(address token);
    /// @notice `token` is listed but deposits are disabled.
    error AssetDisabled(address token);
    /// @notice Depositing `amount` [token units] on top of `total` would exceed the cap.
    error DepositCapExceeded(address token, uint256 amount, uint256 total, uint256 cap);
    /// @notice The vault's balance of `token` grew by `received` instead of `expected` (fee-on-transfer).
    error TransferAmountMismatch(address token, uint256 expected, uint256 received);
    /// @notice The account would hold more than `max` collateral tokens.
    error TooManyCollateralAssets(uint256 accountId, uint256 max);
    /// @notice The account holds `balance` [token units] of `token`, less than `amount`.
    error InsufficientCollateral(uint256 accountId, address token, uint256 balance, uint256 amount);
    /// @notice The account's cash `cash` [wad USD] is below the `amount` [wad USD] to withdraw.
    error InsufficientCash(uint256 accountId, int256 cash, uint256 amount);
    /// @notice The vault holds `held` [token units] of `token`, less than `amount`.
    error InsufficientVaultBalance(address token, uint256 held, uint256 amount);
    /// @notice Without a margin hook, collateral cannot leave an account whose cash is negative.
    error NegativeCash(uint256 accountId, int256 cash);
    /// @notice `caller` is not an authorised module.
    error NotModule(address caller);
    /// @notice The operation is for collateral tokens; the settlement asset is cash.
    error SettlementAssetNotCollateral(address token);
    /// @notice Socialising `amount` [wad USD] would consume all `positiveCash` [wad USD].
    error LossExceedsCash(uint256 amount, uint256 positiveCash);
    /// @notice `token` is listed already.
    error AssetAlreadyListed(address token);
    /// @notice `max` assets are listed already (the held-asset bitmap has `max` bits).
    error TooManyAssets(uint256 max);
    /// @notice `token` has `decimals` decimals, more than the `max` the vault supports.
    error DecimalsOutOfBounds(address token, uint8 decimals, uint8 max);
    /// @notice Haircuts must satisfy baseHaircut <= maxHaircut < `limit` [wad].
    error HaircutOutOfBounds(uint256 baseHaircut, uint256 maxHaircut, uint256 limit);
    /// @notice The reference vol `refVol` is outside [`min`, `max`] [wad].
    error RefVolOutOfBounds(uint256 refVol, uint256 min, uint256 max);
    /// @notice A feed id above `max` (feed ids are packed in 16 bits).
    error FeedIdOutOfBounds(uint256 feedId, uint256 max);
    /// @notice A collateral linked to an underlying needs a price feed (a fixed-$1 token does not move).
    error LinkedAssetNeedsPriceFeed(address token, uint256 linkedUnderlying);
    /// @notice The settlement asset is fixed at $1 and linked to no underlying.
    error SettlementAssetNotFixed(uint256 priceFeed, uint256 linkedUnderlying);

    // --- Account management ---

    /// @notice Opens a new account owned by the caller and returns its id (ids start at 1).
    function openAccount() external returns (uint256 accountId);

    /// @notice Grants `operator` the `rights` bitmask (RIGHT_TRADE = 1, RIGHT_WITHDRAW = 2) on an
    ///         account for as long as the caller owns it; 0 revokes. Owner only.
    function setOperator(uint256 accountId, address operator, uint8 rights) external;

    /// @notice Transfers ownership of an account; the previous owner's operators lose their rights.
    function transferAccount(uint256 accountId, address newOwner) external;

    // --- Collateral ---

    /// @notice Deposits `amount` of an enabled `token` into `accountId`. Anyone may deposit the
    ///         settlement asset (it credits cash); other collateral changes the account's risk
    ///         (SPEC v2 §6), so only the owner or an operator with RIGHT_TRADE may deposit it
    ///         (else `NotAuthorised`).
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

    // --- Additions beyond the margin engine's surface (governance, insurance, views) ---

    /// @notice Pays `amount` [token units] of the settlement asset into the insurance fund (anyone).
    function fundInsurance(uint256 amount) external;

    /// @notice Lists `token` as collateral with `config` (governance). Reads the token's decimals.
    function listAsset(address token, AssetConfig calldata config) external;
    /// @notice Replaces the configuration of a listed asset (governance).
    function setAssetConfig(address token, AssetConfig calldata config) external;
    /// @notice Authorises (or de-authorises) a module (governance).
    function setModule(address module, bool authorised) external;
    /// @notice Sets the margin hook called after every withdrawal; 0 removes it (governance).
    function setMarginHook(address hook) external;

    /// @notice The oracle pricing collateral.
    function oracle() external view returns (address);
    /// @notice The margin hook called after withdrawals (0: none).
    function marginHook() external view returns (address);
    /// @notice True when `module` may call the module functions.
    function isModule(address module) external view returns (bool);
    /// @notice Number of accounts opened so far (the last id).
    function accountCount() external view returns (uint256);
    /// @notice Rights of `operator` on `accountId` granted by its current owner.
    function operatorRights(uint256 accountId, address operator) external view returns (uint8);
    /// @notice Listed assets, the settlement asset first (index = bit in the held-asset bitmap).
    function listedAssets() external view returns (address[] memory);
    /// @notice Decimals of a listed token.
    function assetDecimals(address token) external view returns (uint8);
    /// @notice Net deposits of `token` counted against its cap                        [token units]
    function totalDeposits(address token) external view returns (uint256);
    /// @notice Sum of the positive cash principals (cash = principal * cashIndex / 1e18)  [wad]
    function totalCashPrincipal() external view returns (uint256);
    /// @notice Stored cash word of an account: principal when >= 0, debt in wad USD when < 0.
    function cashPrincipal(uint256 accountId) external view returns (int256);
}
