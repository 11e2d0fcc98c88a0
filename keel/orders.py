"""Exchange orders (docs/SPEC.md §5): the EIP-712 `Order` message, instrument ids and signing.

Shared by tests, the benchmark and scripts. Instruments are one uint256 (interfaces/IMarginEngine.sol):
a perpetual is its feed id, an option series is OPTION_INSTRUMENT_BASE + seriesId.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from keel.eip712 import Domain, Signature, sign_typed, typed_digest

DOMAIN_NAME = "Keel Exchange"
DOMAIN_VERSION = "1"
OPTION_INSTRUMENT_BASE = 1 << 128

ORDER_TYPES = {
    "Order": [
        {"name": "makerAccount", "type": "uint256"},
        {"name": "instrument", "type": "uint256"},
        {"name": "size", "type": "int256"},
        {"name": "limitPrice", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "expiry", "type": "uint256"},
        {"name": "salt", "type": "uint256"},
    ]
}


def perp_instrument(feed_id: int) -> int:
    return feed_id


def option_instrument(series_id: int) -> int:
    return OPTION_INSTRUMENT_BASE + series_id


def exchange_domain(chain_id: int, exchange_address: str) -> Domain:
    return Domain(DOMAIN_NAME, DOMAIN_VERSION, chain_id, str(exchange_address))


@dataclass(frozen=True)
class Order:
    """A maker order. Sizes signed from the maker's side (+ buy / − sell), wad units; price wad USD."""

    maker_account: int
    instrument: int
    size: int  # [wad units]
    limit_price: int  # execution price (perp) or premium per unit (option)  [wad USD]
    nonce: int = 0
    expiry: int = 2**40  # [unix s]
    salt: int = 0

    def message(self) -> dict:
        return {
            "makerAccount": self.maker_account,
            "instrument": self.instrument,
            "size": self.size,
            "limitPrice": self.limit_price,
            "nonce": self.nonce,
            "expiry": self.expiry,
            "salt": self.salt,
        }

    def as_tuple(self) -> tuple:
        """ABI tuple of IExchange.Order."""
        return (
            self.maker_account,
            self.instrument,
            self.size,
            self.limit_price,
            self.nonce,
            self.expiry,
            self.salt,
        )

    def digest(self, domain: Domain) -> bytes:
        return typed_digest(domain, ORDER_TYPES, "Order", self.message())

    def sign(self, private_key: str | bytes, domain: Domain) -> Signature:
        return sign_typed(private_key, domain, ORDER_TYPES, "Order", self.message())

    def replace(self, **changes) -> Order:
        return replace(self, **changes)


def fill_args(order: Order, sig: Signature, taker_account: int, amount: int) -> tuple:
    """Positional arguments of `Exchange.fill`."""
    return (order.as_tuple(), sig.v, sig.r, sig.s, taker_account, amount)
