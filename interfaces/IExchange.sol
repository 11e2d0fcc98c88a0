// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Keel exchange: EIP-712 signed maker orders filled by takers (SPEC §5).
/// @dev Domain: name "Keel Exchange", version "1", chainId, verifyingContract = the exchange.
///      Order(uint256 makerAccount,uint256 instrument,int256 size,uint256 limitPrice,uint256 nonce,
///            uint256 expiry,uint256 salt)
///      `size` is signed from the maker's side (+ buy / − sell); a fill executes at `limitPrice`.
///      The engine settles each fill and applies the post-trade margin rule to both accounts.
interface IExchange {
    struct Order {
        uint256 makerAccount; // account the order trades for                   [id]
        uint256 instrument;   // perp feed id or OPTION_INSTRUMENT_BASE + seriesId
        int256 size;          // maker's signed size                            [wad units]
        uint256 limitPrice;   // execution price (perp) or premium (option)     [wad USD]
        uint256 nonce;        // invalid once below the maker's nonce floor     [count]
        uint256 expiry;       // last second the order can be filled            [unix s]
        uint256 salt;         // makes otherwise equal orders distinct
    }

    event OrderFilled(
        bytes32 indexed orderHash,
        uint256 indexed makerAccount,
        uint256 indexed takerAccount,
        uint256 amount,
        uint256 filledTotal
    );
    event OrderCancelled(bytes32 indexed orderHash, uint256 indexed makerAccount);
    event NonceFloorRaised(uint256 indexed makerAccount, uint256 floor);

    /// @dev INV-7: the caller is neither the owner nor a RIGHT_TRADE operator of `accountId`.
    error NotAuthorised(uint256 accountId, address caller);
    /// @dev The signature recovers to no address or has a high s.
    error InvalidSignature(bytes32 orderHash);
    /// @dev The signer is neither the owner nor a RIGHT_TRADE operator of the maker account.
    error UnauthorisedSigner(uint256 makerAccount, address signer);
    error OrderExpired(bytes32 orderHash, uint256 expiry, uint256 nowTs);
    error OrderIsCancelled(bytes32 orderHash);
    error NonceBelowFloor(bytes32 orderHash, uint256 nonce, uint256 floor);
    /// @dev The fill would take the order past its size.
    error OrderOverfilled(bytes32 orderHash, uint256 filled, uint256 amount, uint256 size);
    error ZeroFill();
    error NonceFloorNotRaised(uint256 makerAccount, uint256 floor, uint256 current);

    /// @notice Fills `amount` (> 0, unsigned) of a signed maker order for `takerAccount`; the caller
    ///         must own it or hold RIGHT_TRADE on it. Returns the fees paid by maker and taker.
    function fill(Order calldata order, uint8 v, bytes32 r, bytes32 s, uint256 takerAccount, uint256 amount)
        external
        returns (uint256 makerFee, uint256 takerFee);
    /// @notice Cancels one order (owner or RIGHT_TRADE operator of the maker account).
    function cancel(Order calldata order) external;
    /// @notice Invalidates every order of `makerAccount` with nonce < `floor` (floor only rises).
    function raiseNonceFloor(uint256 makerAccount, uint256 floor) external;

    function orderHash(Order calldata order) external view returns (bytes32);
    function filled(bytes32 orderHash) external view returns (uint256);
    function cancelled(bytes32 orderHash) external view returns (bool);
    function nonceFloor(uint256 makerAccount) external view returns (uint256);
    function domainSeparator() external view returns (bytes32);
}
