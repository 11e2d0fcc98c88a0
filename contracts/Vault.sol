// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IVault, RIGHT_TRADE, RIGHT_WITHDRAW} from "../interfaces/IVault.sol";
import {CashMath} from "./libraries/CashMath.sol";
import {IOracle} from "../interfaces/IOracle.sol";
import {IMarginHook} from "../interfaces/IMarginHook.sol";

/// @title Keel Vault: accounts, operators, multi-asset collateral, signed cash and the insurance fund.
/// @notice SPEC §2 and DESIGN.md ("Vault").
///         - Accounts are ids from 1, owned by an address that may appoint operators; operator rights
///           are keyed by (account, owner, operator), so transferring an account voids them.
///         - The settlement asset (USDC-like, <= 18 decimals, fixed $1) backs a signed cash balance in
///           wad USD. Positive cash is stored as a principal scaled by a global cash index that loss
///           socialisation lowers; negative cash (a debt to the pool) is stored unscaled.
///         - Other collateral is held per account in token units, at most 8 tokens per account,
///           tracked as a bitmap over asset indices packed beside the account owner.
///         - Modules (margin engine, liquidator), authorised by governance, move cash and collateral.
///         Rounding is always against the account: down for what it owns, up for what it owes.
contract Vault is IVault, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    // --- Constants ---

    uint256 internal constant WAD = 1e18;
    /// @dev At most this many collateral tokens per account (SPEC §4: keeps margin checks bounded).
    uint256 public constant MAX_ACCOUNT_ASSETS = 8;
    /// @dev Listed assets (settlement included): one bit each in the 96-bit held-asset bitmap.
    uint256 public constant MAX_ASSETS = 96;
    /// @dev Token decimals bound: at 36 decimals the uint128 cap still holds ~340 whole tokens;
    ///      beyond it a cap could not express a meaningful amount.
    uint8 public constant MAX_DECIMALS = 36;
    /// @dev Cash is wad: the settlement asset needs <= 18 decimals to convert exactly.
    uint8 public constant MAX_SETTLEMENT_DECIMALS = 18;
    /// @dev Haircuts stay below 100%: a 100% haircut values collateral at zero (disable it instead).
    uint256 public constant HAIRCUT_LIMIT = WAD;
    /// @dev sigma_ref bounds = the vol range the oracle and Black-Scholes support (SPEC §4); a smaller
    ///      reference would make the haircut multiplier sigma/sigma_ref explode on ordinary vol moves.
    uint256 public constant MIN_REF_VOL = 0.05e18;
    uint256 public constant MAX_REF_VOL = 5e18;
    /// @dev Feed ids are packed in 16 bits so that an asset's configuration fits one slot.
    uint256 public constant MAX_FEED_ID = type(uint16).max;

    // --- Data ---

    struct Account {
        address owner;     // current owner (0: never opened)                          [address]
        uint96 heldAssets; // bit i set: the account holds listed asset i (i >= 1)     [bitmap]
    }

    struct Asset {
        // slot 0: what a deposit reads and writes
        uint128 cap;              // max total deposits                                 [token units]
        uint128 deposits;         // net deposits counted against the cap               [token units]
        // slot 1: what a deposit and a valuation read
        uint64 baseHaircut;       // h0                                                 [wad]
        uint64 maxHaircut;        // h_max                                              [wad]
        uint64 refVol;            // sigma_ref                                          [wad]
        uint16 priceFeed;         // oracle feed pricing the token (0: fixed $1)        [feedId]
        uint16 linkedUnderlying;  // underlying whose scenarios move it (0: none)       [feedId]
        uint8 decimals;           // token decimals                                     [count]
        uint8 index;              // bit in Account.heldAssets (0: settlement asset)    [index]
        bool listed;              // listed by governance
        bool enabled;             // deposits allowed
    }

    struct CashState {
        uint192 totalPrincipal;   // sum of the positive cash principals                [wad]
        uint64 index;             // positive cash = principal * index / 1e18           [wad]
    }

    IOracle internal immutable ORACLE;          // prices and vols of collateral
    address internal immutable SETTLEMENT;      // the settlement asset (cash)
    uint256 internal immutable CASH_SCALE;      // 10^(18 - settlement decimals)         [wad / token unit]

    address public marginHook;                                    // called after withdrawals (0: none)
    mapping(address => bool) public isModule;                     // authorised modules
    uint256 public accountCount;                                  // last account id     [count]
    mapping(uint256 => Account) internal accounts;                // account id => owner, held set
    mapping(uint256 => mapping(address => mapping(address => uint8))) internal operators; // id => owner => operator => rights [bitmask]
    mapping(uint256 => mapping(address => uint256)) internal balances; // id => token => collateral [token units]
    mapping(uint256 => int256) internal cashWord;                 // principal (>= 0) or debt (< 0)   [wad]
    CashState internal cashState;                                 // cash principal total and index
    uint256 public insuranceFund;                                 // insurance fund      [wad USD]
    mapping(address => Asset) internal assets;                    // token => configuration, totals
    address[] internal assetList;                                 // index => token (0: settlement)

    // --- Init ---

    /// @param oracle_ Oracle pricing the collateral.
    /// @param settlement_ Settlement asset (USDC-like, <= 18 decimals, fixed $1): backs cash.
    /// @param config Its configuration (priceFeed and linkedUnderlying 0; h = baseHaircut).
    constructor(address oracle_, address settlement_, AssetConfig memory config) Ownable(msg.sender) {
        if (oracle_ == address(0) || settlement_ == address(0)) revert ZeroAddress();
        uint8 dec = IERC20Metadata(settlement_).decimals();
        // cash is wad: 10^(18 - decimals) must be an integer so deposits convert exactly
        if (dec > MAX_SETTLEMENT_DECIMALS) revert DecimalsOutOfBounds(settlement_, dec, MAX_SETTLEMENT_DECIMALS);
        ORACLE = IOracle(oracle_);
        SETTLEMENT = settlement_;
        CASH_SCALE = 10 ** (MAX_SETTLEMENT_DECIMALS - dec);
        cashState.index = uint64(WAD);
        _list(settlement_, dec, config);
    }

    // --- Auth ---

    modifier onlyModule() {
        if (!isModule[msg.sender]) revert NotModule(msg.sender);
        _;
    }

    /// @dev The owner of an existing account, or revert `UnknownAccount`.
    function _owner(uint256 accountId) internal view returns (address owner_) {
        owner_ = accounts[accountId].owner;
        if (owner_ == address(0)) revert UnknownAccount(accountId);
    }

    // --- Account management ---

    /// @inheritdoc IVault
    function openAccount() external returns (uint256 accountId) {
        accountId = ++accountCount;
        accounts[accountId].owner = msg.sender;
        emit AccountOpened(accountId, msg.sender);
    }

    /// @inheritdoc IVault
    function setOperator(uint256 accountId, address operator, uint8 rights) external {
        address owner_ = _owner(accountId);
        if (msg.sender != owner_) revert NotAccountOwner(accountId, msg.sender);
        if (operator == address(0)) revert ZeroAddress();
        if (rights & ~(RIGHT_TRADE | RIGHT_WITHDRAW) != 0) revert InvalidRights(rights);
        // keyed by the current owner: a transfer leaves these rights behind with the old owner
        operators[accountId][owner_][operator] = rights;
        emit OperatorSet(accountId, owner_, operator, rights);
    }

    /// @inheritdoc IVault
    function transferAccount(uint256 accountId, address newOwner) external {
        address owner_ = _owner(accountId);
        if (msg.sender != owner_) revert NotAccountOwner(accountId, msg.sender);
        if (newOwner == address(0)) revert ZeroAddress();
        accounts[accountId].owner = newOwner;
        emit AccountTransferred(accountId, owner_, newOwner);
    }

    // --- Collateral ---

    /// @inheritdoc IVault
    function deposit(uint256 accountId, address token, uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        address owner_ = _owner(accountId);
        Asset storage a = assets[token];
        if (!a.listed) revert UnknownAsset(token);
        if (!a.enabled) revert AssetDisabled(token);
        // Attack 12: collateral changes the account's risk (a linked token adds its underlying
        // to the margin, SPEC v2 §6: its ρ, no credit above 4 underlyings; a priced one makes
        // every margin check need its feed; each takes one of the account's asset slots): only
        // the owner or an operator with the trade right adds it. Cash, anyone.
        if (
            token != SETTLEMENT && msg.sender != owner_
                && operators[accountId][owner_][msg.sender] & RIGHT_TRADE == 0
        ) revert NotAuthorised(accountId, msg.sender, RIGHT_TRADE);
        uint256 total = a.deposits;
        uint256 cap = a.cap;
        // the cap bounds net deposits; written so that no amount can overflow
        if (amount > cap || total > cap - amount) revert DepositCapExceeded(token, amount, total, cap);
        a.deposits = uint128(total + amount); // <= cap <= type(uint128).max, checked just above

        if (token == SETTLEMENT) {
            // exact: amount <= uint128 and CASH_SCALE <= 1e18
            _addCash(accountId, (amount * CASH_SCALE).toInt256());
        } else {
            _credit(accountId, token, a.index, amount);
        }

        // balance-delta check: rejects fee-on-transfer (and any token that delivers another amount)
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        uint256 afterBal = IERC20(token).balanceOf(address(this));
        uint256 received = afterBal > before ? afterBal - before : 0;
        if (received != amount) revert TransferAmountMismatch(token, amount, received);
        emit Deposited(accountId, token, msg.sender, amount);
    }

    /// @inheritdoc IVault
    function withdraw(uint256 accountId, address token, uint256 amount, address to) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        if (to == address(0)) revert ZeroAddress();
        address owner_ = _owner(accountId);
        // INV-7: only the owner or an operator holding RIGHT_WITHDRAW (granted by this owner)
        if (msg.sender != owner_ && operators[accountId][owner_][msg.sender] & RIGHT_WITHDRAW == 0) {
            revert NotAuthorised(accountId, msg.sender, RIGHT_WITHDRAW);
        }
        Asset storage a = assets[token];
        if (!a.listed) revert UnknownAsset(token);

        if (token == SETTLEMENT) {
            // only positive cash can be withdrawn (SPEC §2); saturate so a huge amount reports, not panics
            uint256 debit = Math.saturatingMul(amount, CASH_SCALE);
            int256 cash = _cashOf(cashWord[accountId], cashState.index);
            if (cash < 0 || uint256(cash) < debit) revert InsufficientCash(accountId, cash, debit);
            // ... and only what the vault holds (other accounts' debts are not in the vault)
            uint256 held = IERC20(token).balanceOf(address(this));
            if (held < amount) revert InsufficientVaultBalance(token, held, amount);
            _addCash(accountId, -int256(debit)); // debit <= cash <= type(int256).max
            // net user deposits: cash also moves between accounts and through the insurance fund,
            // so an account may take out more than the deposits counted here; saturate at 0
            a.deposits = uint128(Math.saturatingSub(a.deposits, amount));
        } else {
            _debit(accountId, token, a.index, amount);
            a.deposits -= uint128(amount); // Σ balances = deposits, and amount <= a balance
            // no hook: collateral cannot leave an account that owes the pool (DESIGN.md)
            if (marginHook == address(0)) {
                int256 cash = _cashOf(cashWord[accountId], cashState.index);
                if (cash < 0) revert NegativeCash(accountId, cash);
            }
        }
        emit Withdrawn(accountId, token, to, amount);

        IERC20(token).safeTransfer(to, amount);
        // the margin engine checks the account after the transfer (DESIGN.md)
        address hook = marginHook;
        if (hook != address(0)) IMarginHook(hook).checkWithdrawal(accountId);
    }

    /// @inheritdoc IVault
    function fundInsurance(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 before = IERC20(SETTLEMENT).balanceOf(address(this));
        IERC20(SETTLEMENT).safeTransferFrom(msg.sender, address(this), amount);
        uint256 afterBal = IERC20(SETTLEMENT).balanceOf(address(this));
        uint256 received = afterBal > before ? afterBal - before : 0;
        if (received != amount) revert TransferAmountMismatch(SETTLEMENT, amount, received);
        uint256 credit = amount * CASH_SCALE;
        insuranceFund += credit;
        emit InsuranceFunded(msg.sender, credit);
    }

    // --- Modules ---

    /// @inheritdoc IVault
    function moveCash(uint256 from, uint256 to, int256 amount) external onlyModule {
        _owner(from);
        _owner(to);
        // debit first: rounding on both legs is against the accounts, the dust stays in the vault
        _addCash(from, -amount);
        _addCash(to, amount);
        emit CashMoved(from, to, amount);
    }

    /// @inheritdoc IVault
    function adjustCash(uint256 accountId, int256 delta) external onlyModule {
        _owner(accountId);
        _addCash(accountId, delta);
        emit CashAdjusted(accountId, delta);
    }

    /// @inheritdoc IVault
    function collectFee(uint256 accountId, uint256 amount) external onlyModule {
        _owner(accountId);
        _addCash(accountId, -amount.toInt256());
        insuranceFund += amount;
        emit FeeCollected(accountId, amount);
    }

    /// @inheritdoc IVault
    function payFromInsurance(uint256 accountId, uint256 amount) external onlyModule returns (uint256 paid) {
        _owner(accountId);
        uint256 fund = insuranceFund;
        paid = amount < fund ? amount : fund;
        insuranceFund = fund - paid;
        _addCash(accountId, paid.toInt256());
        emit InsurancePaid(accountId, paid);
    }

    /// @inheritdoc IVault
    function socialiseLoss(uint256 amount) external onlyModule {
        if (amount == 0) return;
        CashState memory s = cashState;
        uint256 positive = Math.mulDiv(s.totalPrincipal, s.index, WAD);
        // index cut rounded up: positive cash falls by at least `amount` (against the accounts)
        uint256 cut = s.totalPrincipal == 0
            ? type(uint256).max
            : Math.mulDiv(amount, WAD, s.totalPrincipal, Math.Rounding.Ceil);
        // the index must stay positive, or no principal could be computed again
        if (cut >= s.index) revert LossExceedsCash(amount, positive);
        uint64 newIndex = s.index - uint64(cut); // cut < index <= 1e18
        cashState.index = newIndex;
        emit LossSocialised(amount, s.index, newIndex, positive);
    }

    /// @inheritdoc IVault
    function moveCollateral(uint256 from, uint256 to, address token, uint256 amount) external onlyModule {
        _owner(from);
        _owner(to);
        Asset storage a = assets[token];
        if (!a.listed) revert UnknownAsset(token);
        if (token == SETTLEMENT) revert SettlementAssetNotCollateral(token);
        uint8 index = a.index;
        _debit(from, token, index, amount);
        _credit(to, token, index, amount);
        emit CollateralMoved(from, to, token, amount);
    }

    // --- Governance ---

    /// @inheritdoc IVault
    function listAsset(address token, AssetConfig calldata config) external onlyOwner {
        if (token == address(0)) revert ZeroAddress();
        if (assets[token].listed) revert AssetAlreadyListed(token);
        if (assetList.length >= MAX_ASSETS) revert TooManyAssets(MAX_ASSETS);
        uint8 dec = IERC20Metadata(token).decimals();
        if (dec > MAX_DECIMALS) revert DecimalsOutOfBounds(token, dec, MAX_DECIMALS);
        _list(token, dec, config);
    }

    /// @inheritdoc IVault
    function setAssetConfig(address token, AssetConfig calldata config) external onlyOwner {
        if (!assets[token].listed) revert UnknownAsset(token);
        _configure(token, config);
    }

    /// @inheritdoc IVault
    function setModule(address module, bool authorised) external onlyOwner {
        if (module == address(0)) revert ZeroAddress();
        isModule[module] = authorised;
        emit ModuleSet(module, authorised);
    }

    /// @inheritdoc IVault
    function setMarginHook(address hook) external onlyOwner {
        marginHook = hook;
        emit MarginHookSet(hook);
    }

    // --- Views ---

    /// @inheritdoc IVault
    function oracle() external view returns (address) {
        return address(ORACLE);
    }

    /// @inheritdoc IVault
    function settlementAsset() external view returns (address) {
        return SETTLEMENT;
    }

    /// @inheritdoc IVault
    function accountOwner(uint256 accountId) external view returns (address) {
        return accounts[accountId].owner;
    }

    /// @inheritdoc IVault
    function isAuthorised(uint256 accountId, address caller, uint8 right) external view returns (bool) {
        address owner_ = accounts[accountId].owner;
        if (owner_ == address(0)) return false;
        if (caller == owner_) return true;
        return right != 0 && operators[accountId][owner_][caller] & right == right;
    }

    /// @inheritdoc IVault
    function operatorRights(uint256 accountId, address operator) external view returns (uint8) {
        return operators[accountId][accounts[accountId].owner][operator];
    }

    /// @inheritdoc IVault
    function cashOf(uint256 accountId) external view returns (int256) {
        return _cashOf(cashWord[accountId], cashState.index);
    }

    /// @inheritdoc IVault
    function cashPrincipal(uint256 accountId) external view returns (int256) {
        return cashWord[accountId];
    }

    /// @inheritdoc IVault
    function cashIndex() external view returns (uint256) {
        return cashState.index;
    }

    /// @inheritdoc IVault
    function totalCashPrincipal() external view returns (uint256) {
        return cashState.totalPrincipal;
    }

    /// @inheritdoc IVault
    function collateralBalance(uint256 accountId, address token) external view returns (uint256) {
        return balances[accountId][token];
    }

    /// @inheritdoc IVault
    function accountAssets(uint256 accountId) external view returns (address[] memory tokens) {
        uint256 held = accounts[accountId].heldAssets;
        tokens = new address[](_popcount(held));
        for (uint256 n; held != 0; ++n) {
            uint256 i = Math.log2(held & (~held + 1)); // lowest set bit
            tokens[n] = assetList[i];
            held &= held - 1;
        }
    }

    /// @inheritdoc IVault
    function listedAssets() external view returns (address[] memory) {
        return assetList;
    }

    /// @inheritdoc IVault
    function assetConfig(address token) external view returns (AssetConfig memory config) {
        Asset storage a = assets[token];
        config = AssetConfig({
            priceFeed: a.priceFeed,
            linkedUnderlying: a.linkedUnderlying,
            baseHaircut: a.baseHaircut,
            maxHaircut: a.maxHaircut,
            refVol: a.refVol,
            cap: a.cap,
            enabled: a.enabled
        });
    }

    /// @inheritdoc IVault
    function assetDecimals(address token) external view returns (uint8) {
        if (!assets[token].listed) revert UnknownAsset(token);
        return assets[token].decimals;
    }

    /// @inheritdoc IVault
    function totalDeposits(address token) external view returns (uint256) {
        return assets[token].deposits;
    }

    /// @inheritdoc IVault
    /// @dev Reads the linked underlying's last vol without a staleness check (informational);
    ///      `valuation` is the one that requires fresh feeds.
    function haircut(address token) external view returns (uint256) {
        Asset memory a = assets[token];
        if (!a.listed) revert UnknownAsset(token);
        if (a.linkedUnderlying == 0) return a.baseHaircut;
        return _haircut(a, ORACLE.feed(a.linkedUnderlying).vol);
    }

    /// @inheritdoc IVault
    function valuation(uint256 accountId)
        external
        view
        returns (int256 cash, CollateralValue[] memory collateral, uint256 cashHaircut)
    {
        cash = _cashOf(cashWord[accountId], cashState.index);
        // the settlement asset's h0 applies to the USDC the account holds; a debt counts in full
        if (cash > 0) cashHaircut = Math.mulDiv(uint256(cash), assets[SETTLEMENT].baseHaircut, WAD, Math.Rounding.Ceil);

        uint256 held = accounts[accountId].heldAssets;
        collateral = new CollateralValue[](_popcount(held));
        for (uint256 n; held != 0; ++n) {
            address token = assetList[Math.log2(held & (~held + 1))]; // lowest set bit
            held &= held - 1;
            collateral[n] = _value(token, balances[accountId][token]);
        }
    }

    // --- Internals: valuation ---

    /// @dev Values `amount` of `token` at the oracle's fresh price (fixed $1 without a feed):
    ///      value rounded down, haircut rounded up. Reverts `StalePrice` via `freshFeed`.
    function _value(address token, uint256 amount) internal view returns (CollateralValue memory v) {
        Asset memory a = assets[token];
        uint256 price = WAD;
        uint256 vol;
        if (a.priceFeed != 0) (price, vol,) = ORACLE.freshFeed(a.priceFeed);
        uint256 h = a.baseHaircut;
        if (a.linkedUnderlying != 0) {
            if (a.linkedUnderlying != a.priceFeed) (, vol,) = ORACLE.freshFeed(a.linkedUnderlying);
            h = _haircut(a, vol);
        }
        v.token = token;
        v.amount = amount;
        v.linkedUnderlying = a.linkedUnderlying;
        v.price = price;
        v.value = Math.mulDiv(amount, price, 10 ** a.decimals);
        v.haircut = Math.mulDiv(v.value, h, WAD, Math.Rounding.Ceil);
    }

    /// @dev h = min(h_max, h0 * max(1, vol / sigma_ref)), rounded up (SPEC §2).
    function _haircut(Asset memory a, uint256 vol) internal pure returns (uint256) {
        if (vol <= a.refVol) return a.baseHaircut;
        uint256 h = Math.mulDiv(a.baseHaircut, vol, a.refVol, Math.Rounding.Ceil);
        return h < a.maxHaircut ? h : a.maxHaircut;
    }

    // --- Internals: cash ---

    /// @dev Effective cash of a stored word: principal * index rounded down, or the debt as is.
    function _cashOf(int256 word, uint256 index) internal pure returns (int256) {
        return CashMath.effective(word, index);
    }

    /// @dev Adds `delta` [wad USD] to an account's cash (CashMath: credits become principal rounded
    ///      down, debits consume principal rounded up; a debt is exact and repaid before any
    ///      principal). The principal total follows the account's positive word.
    function _addCash(uint256 accountId, int256 delta) internal {
        if (delta == 0) return;
        int256 word = cashWord[accountId];
        CashState memory s = cashState;
        int256 newWord = CashMath.add(word, s.index, delta);
        cashWord[accountId] = newWord;
        uint256 was = word > 0 ? uint256(word) : 0; // principal before                     [wad]
        uint256 now_ = newWord > 0 ? uint256(newWord) : 0; // principal after                [wad]
        // a debt carries no principal; was <= totalPrincipal, so the sum cannot underflow
        if (now_ != was) cashState.totalPrincipal = (s.totalPrincipal + now_ - was).toUint192();
    }

    // --- Internals: collateral ---

    /// @dev Adds `amount` of `token` (held-set bit `index`) to an account, enforcing the 8-token limit.
    function _credit(uint256 accountId, address token, uint8 index, uint256 amount) internal {
        if (amount == 0) return;
        uint256 bal = balances[accountId][token];
        if (bal == 0) {
            Account storage acct = accounts[accountId];
            uint96 held = acct.heldAssets;
            uint96 bit = uint96(1) << index;
            if (held & bit == 0) {
                // SPEC §4: at most 8 collateral assets per account
                if (_popcount(held) >= MAX_ACCOUNT_ASSETS) revert TooManyCollateralAssets(accountId, MAX_ACCOUNT_ASSETS);
                acct.heldAssets = held | bit;
            }
        }
        balances[accountId][token] = bal + amount;
    }

    /// @dev Removes `amount` of `token` from an account; clears its held-set bit at zero.
    function _debit(uint256 accountId, address token, uint8 index, uint256 amount) internal {
        uint256 bal = balances[accountId][token];
        if (bal < amount) revert InsufficientCollateral(accountId, token, bal, amount);
        if (amount == 0) return;
        // cannot underflow: bal >= amount checked above
        unchecked {
            bal -= amount;
        }
        balances[accountId][token] = bal;
        if (bal == 0) accounts[accountId].heldAssets &= ~(uint96(1) << index);
    }

    /// @dev Number of set bits (Kernighan: one iteration per set bit, at most 8 here).
    function _popcount(uint256 x) internal pure returns (uint256 n) {
        while (x != 0) {
            x &= x - 1;
            // cannot overflow: at most 256 iterations
            unchecked {
                ++n;
            }
        }
    }

    // --- Internals: governance ---

    function _list(address token, uint8 dec, AssetConfig memory config) internal {
        uint8 index = uint8(assetList.length); // < MAX_ASSETS = 96
        assetList.push(token);
        Asset storage a = assets[token];
        a.listed = true;
        a.decimals = dec;
        a.index = index;
        emit AssetListed(token, index, dec);
        _configure(token, config);
    }

    /// @dev Checks every bound of `config` and stores it.
    function _configure(address token, AssetConfig memory config) internal {
        if (token == SETTLEMENT) {
            // the settlement asset is cash: fixed $1, moves with no underlying, h = h0
            if (config.priceFeed != 0 || config.linkedUnderlying != 0) {
                revert SettlementAssetNotFixed(config.priceFeed, config.linkedUnderlying);
            }
        }
        // feed ids are packed in 16 bits (DESIGN.md: small ids, 1 = BTC, 2 = ETH)
        if (config.priceFeed > MAX_FEED_ID) revert FeedIdOutOfBounds(config.priceFeed, MAX_FEED_ID);
        if (config.linkedUnderlying > MAX_FEED_ID) revert FeedIdOutOfBounds(config.linkedUnderlying, MAX_FEED_ID);
        // a fixed-$1 token does not move with an underlying: linking one would invent scenario P&L
        if (config.linkedUnderlying != 0 && config.priceFeed == 0) {
            revert LinkedAssetNeedsPriceFeed(token, config.linkedUnderlying);
        }
        // h0 <= h_max (the dynamic haircut never goes below h0) and h_max < 100% (collateral keeps value)
        if (config.baseHaircut > config.maxHaircut || config.maxHaircut >= HAIRCUT_LIMIT) {
            revert HaircutOutOfBounds(config.baseHaircut, config.maxHaircut, HAIRCUT_LIMIT);
        }
        // sigma_ref within the vol range the oracle and the pricer support (SPEC §4)
        if (config.refVol < MIN_REF_VOL || config.refVol > MAX_REF_VOL) {
            revert RefVolOutOfBounds(config.refVol, MIN_REF_VOL, MAX_REF_VOL);
        }
        Asset storage a = assets[token];
        a.priceFeed = uint16(config.priceFeed);
        a.linkedUnderlying = uint16(config.linkedUnderlying);
        a.baseHaircut = config.baseHaircut;
        a.maxHaircut = config.maxHaircut;
        a.refVol = config.refVol;
        a.cap = config.cap;
        a.enabled = config.enabled;
        emit AssetConfigSet(
            token,
            config.priceFeed,
            config.linkedUnderlying,
            config.baseHaircut,
            config.maxHaircut,
            config.refVol,
            config.cap,
            config.enabled
        );
    }
}
