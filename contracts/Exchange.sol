// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IVault} from "../interfaces/IVault.sol";
import {IMarginEngine} from "../interfaces/IMarginEngine.sol";
import {IExchange} from "../interfaces/IExchange.sol";

/// @title Keel exchange: authenticates signed maker orders and hands fills to the margin engine.
/// @dev Order state machine: live → (partially filled)* → fully filled | cancelled | expired |
///      below the nonce floor. Only the fill amount is tracked here; settlement, fees and the
///      post-trade margin rule live in the engine.
contract Exchange is IExchange, EIP712 {
    // --- Constants ---

    bytes32 public constant ORDER_TYPEHASH = keccak256(
        "Order(uint256 makerAccount,uint256 instrument,int256 size,uint256 limitPrice,uint256 nonce,uint256 expiry,uint256 salt)"
    );
    uint8 public constant RIGHT_TRADE = 1;

    // --- Data ---

    IVault public immutable vault;               // account owners and operators
    IMarginEngine public immutable engine;       // settles fills

    mapping(bytes32 => uint256) public filled;   // order hash → filled amount       [wad units]
    mapping(bytes32 => bool) public cancelled;   // order hash → cancelled
    mapping(uint256 => uint256) public nonceFloor; // maker account → min valid nonce [count]

    constructor(IVault vault_, IMarginEngine engine_) EIP712("Keel Exchange", "1") {
        vault = vault_;
        engine = engine_;
    }

    // --- Orders ---

    /// @inheritdoc IExchange
    function fill(Order calldata order, uint8 v, bytes32 r, bytes32 s, uint256 takerAccount, uint256 amount)
        external
        returns (uint256 makerFee, uint256 takerFee)
    {
        // INV-7: only the taker account's owner or trade operator fills for it
        _auth(takerAccount);
        if (amount == 0) revert ZeroFill();
        (bytes32 h, address signer) = _verify(order, v, r, s);
        uint256 size = uint256(order.size > 0 ? order.size : -order.size);
        // fills tracked per order hash: never more than the signed size (no replay)
        if (filled[h] + amount > size) revert OrderOverfilled(h, filled[h], amount, size);
        filled[h] += amount;
        (makerFee, takerFee) = engine.executeFill(_fill(order, signer, takerAccount, amount));
        emit OrderFilled(h, order.makerAccount, takerAccount, amount, filled[h]);
    }

    /// @dev The engine's view of a fill of `amount` of `order`, signed by `signer`, sent by the caller.
    function _fill(Order calldata order, address signer, uint256 takerAccount, uint256 amount)
        internal
        view
        returns (IMarginEngine.Fill memory)
    {
        return IMarginEngine.Fill(
            order.makerAccount,
            takerAccount,
            order.instrument,
            order.size > 0 ? int256(amount) : -int256(amount),
            order.limitPrice,
            // SPEC v2 §5 equity rule: an operator's side may not give equity away (attack 7)
            signer != vault.accountOwner(order.makerAccount),
            msg.sender != vault.accountOwner(takerAccount)
        );
    }

    /// @dev The order is live and signed by the maker's owner or trade operator; returns its hash
    ///      and signer.
    function _verify(Order calldata order, uint8 v, bytes32 r, bytes32 s)
        internal
        view
        returns (bytes32 h, address signer)
    {
        h = orderHash(order);
        if (block.timestamp > order.expiry) revert OrderExpired(h, order.expiry, block.timestamp);
        if (cancelled[h]) revert OrderIsCancelled(h);
        if (order.nonce < nonceFloor[order.makerAccount]) {
            revert NonceBelowFloor(h, order.nonce, nonceFloor[order.makerAccount]);
        }
        // INV-7: the maker's owner or trade operator signed this exact order
        ECDSA.RecoverError err;
        (signer, err,) = ECDSA.tryRecover(h, v, r, s);
        if (err != ECDSA.RecoverError.NoError) revert InvalidSignature(h);
        if (!_mayTrade(order.makerAccount, signer)) revert UnauthorisedSigner(order.makerAccount, signer);
    }

    /// @inheritdoc IExchange
    function cancel(Order calldata order) external {
        _auth(order.makerAccount);
        bytes32 h = orderHash(order);
        cancelled[h] = true;
        emit OrderCancelled(h, order.makerAccount);
    }

    /// @inheritdoc IExchange
    function raiseNonceFloor(uint256 makerAccount, uint256 floor) external {
        _auth(makerAccount);
        if (floor <= nonceFloor[makerAccount]) revert NonceFloorNotRaised(makerAccount, floor, nonceFloor[makerAccount]);
        nonceFloor[makerAccount] = floor;
        emit NonceFloorRaised(makerAccount, floor);
    }

    // --- Views ---

    /// @inheritdoc IExchange
    function orderHash(Order calldata o) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(ORDER_TYPEHASH, o.makerAccount, o.instrument, o.size, o.limitPrice, o.nonce, o.expiry, o.salt)
            )
        );
    }

    /// @inheritdoc IExchange
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // --- Auth ---

    function _auth(uint256 accountId) internal view {
        if (!_mayTrade(accountId, msg.sender)) revert NotAuthorised(accountId, msg.sender);
    }

    function _mayTrade(uint256 accountId, address who) internal view returns (bool) {
        return who != address(0)
            && (vault.accountOwner(accountId) == who || vault.isAuthorised(accountId, who, RIGHT_TRADE));
    }
}
