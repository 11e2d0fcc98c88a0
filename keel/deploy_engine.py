"""Deploying the margin engine (MarginEngine + RiskArrayStore + Exchange + MarginLens) and wiring it.

`deploy_engine` wires an engine into an existing Vault and Oracle: the engine becomes a Vault module
(it moves cash), the Vault's margin hook and an Oracle expiry registrar. `deploy_stack` builds a
whole test/benchmark deployment (oracle with signed feeds, USDC/WETH/WBTC, vault, engine) and the
helpers below drive it (price pushes, funded accounts, signed trades). Shared by tests and scripts.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from eth_account import Account
from eth_utils import keccak

from keel.deploy_liquidator import deploy_liquidator
from keel.deploy_oracle import deploy_oracle, make_report
from keel.orders import Order, exchange_domain, fill_args

WAD = 10**18
BTC, ETH = 1, 2
DEFAULT_FEEDS = {BTC: (60_000 * WAD, 6 * WAD // 10), ETH: (3_000 * WAD, 75 * WAD // 100)}
DEFAULT_OI_CAP = 10**30  # [wad units]
FEED_BOUNDS = (10**12, 10**30, 10 * WAD)  # minPrice, maxPrice [wad USD], maxVol [wad]


def send(fn, *args):
    """`fn(*args)` for a brownie contract transaction, riding out brownie's spurious
    "Tx dropped without known replacement" (anvil can report the sender's nonce as advanced before
    the transaction is retrievable by hash; brownie then gives up on a transaction that was mined).
    A reverting transaction fails brownie's gas estimate before it is sent, so a "dropped" one was
    mined: its receipt is fetched by hash and returned."""
    from brownie.exceptions import TransactionError

    try:
        return fn(*args)
    except TransactionError as exc:
        msg = str(exc)
        if "dropped without known replacement" not in msg:
            raise
        from brownie import web3
        from brownie.network.transaction import TransactionReceipt

        txid = msg.rsplit(" ", 1)[-1]
        receipt = web3.eth.wait_for_transaction_receipt(txid, timeout=60)
        if receipt["status"] != 1:
            raise
        return TransactionReceipt(txid)


def dev_signer_keys(n: int = 5) -> list[str]:
    """Deterministic oracle signer keys for local chains: TEST KEYS ONLY, never for real funds."""
    return [
        "0x" + keccak(text=f"keel-engine-dev-signer:{i}").hex().removeprefix("0x") for i in range(n)
    ]


def _project():
    from brownie import project

    loaded = project.get_loaded_projects()
    if not loaded:
        raise RuntimeError("no brownie project loaded: call keel.chain.connect() first")
    return loaded[0]


@dataclass
class EngineDeployment:
    engine: object
    store: object
    exchange: object
    lens: object  # MarginLens: what-if margin of proposed fills (a view; no wiring)


def deploy_engine(
    deployer, vault, oracle, perps: Mapping[int, int] | None = None
) -> EngineDeployment:
    """Deploy and wire the engine; list a perp (with its open-interest cap) per entry of `perps`."""
    p = _project()
    tx = {"from": deployer}
    engine = p.MarginEngine.deploy(vault, oracle, tx)
    store = p.RiskArrayStore.deploy(engine, oracle, tx)
    engine.setStore(store, tx)
    exchange = p.Exchange.deploy(vault, engine, tx)
    engine.setExchange(exchange, tx)
    vault.setModule(engine, True, tx)
    vault.setMarginHook(engine, tx)
    oracle.setRegistrar(engine, True, tx)
    for feed_id, cap in (perps or {}).items():
        engine.listPerp(feed_id, cap, tx)
    lens = p.MarginLens.deploy(engine, tx)
    return EngineDeployment(engine, store, exchange, lens)


@dataclass
class Stack:
    """A whole deployment plus the keys that drive it."""

    deployer: object
    oracle: object
    vault: object
    engine: object
    store: object
    exchange: object
    usdc: object
    weth: object
    wbtc: object
    signer_keys: Sequence[str]
    quorum: int
    salts: itertools.count = field(default_factory=lambda: itertools.count(1))
    liquidator: object = None  # Liquidator (SPEC §7), wired by deploy_stack
    tokens: dict = field(default_factory=dict)  # more listed tokens by name (for deposit())
    lens: object = None  # MarginLens (what-if margin), deployed by deploy_engine

    def token(self, name: str):
        return {"USDC": self.usdc, "WETH": self.weth, "WBTC": self.wbtc, **self.tokens}[name]

    def domain(self):
        from brownie import chain

        return exchange_domain(chain.id, self.exchange.address)


def deploy_stack(
    deployer,
    signer_keys: Sequence[str] | None = None,
    quorum: int = 3,
    feeds: Mapping[int, tuple[int, int]] | None = None,
    oi_cap: int = DEFAULT_OI_CAP,
) -> Stack:
    """Oracle (feeds reported now), USDC/WETH/WBTC, vault, engine with a perp per feed, liquidator."""
    from keel.deploy_vault import deploy_vault, list_asset, volatile_config

    p = _project()
    keys = list(signer_keys or dev_signer_keys())
    feeds = dict(feeds or DEFAULT_FEEDS)
    tx = {"from": deployer}
    oracle = deploy_oracle(
        deployer,
        [Account.from_key(k).address for k in keys],
        quorum,
        dict.fromkeys(feeds, FEED_BOUNDS),
        container=p.Oracle,
    )
    usdc = p.MockERC20.deploy("USD Coin", "USDC", 6, tx)
    weth = p.MockERC20.deploy("Wrapped Ether", "WETH", 18, tx)
    wbtc = p.MockERC20.deploy("Wrapped Bitcoin", "WBTC", 8, tx)
    vault = deploy_vault(deployer, oracle, usdc)
    list_asset(vault, weth, volatile_config(ETH))
    list_asset(vault, wbtc, volatile_config(BTC))
    dep = deploy_engine(deployer, vault, oracle, dict.fromkeys(feeds, oi_cap))
    stack = Stack(
        deployer, oracle, vault, dep.engine, dep.store, dep.exchange, usdc, weth, wbtc, keys, quorum
    )
    stack.liquidator = deploy_liquidator(deployer, vault, dep.engine)
    stack.lens = dep.lens
    push_prices(stack, feeds)
    return stack


def push_prices(
    stack: Stack, prices: Mapping[int, tuple[int, int]], observed_at: int | None = None
):
    """Submit one signed report per feed {feedId: (price, vol)} observed at `observed_at` (default:
    the last block's time)."""
    from brownie import chain

    if observed_at is None:
        chain.mine()  # after a snapshot revert the next block's time can be far ahead of the last
    reports = []
    for feed_id, (price, vol) in prices.items():
        state = stack.oracle.feed(feed_id)
        round_ = state[3] + 1
        # the last block's time, strictly newer than the stored report (two pushes may fall in one second)
        when = observed_at if observed_at is not None else max(chain[-1].timestamp, state[2] + 1)
        obs = [(k, price, vol) for k in stack.signer_keys[: stack.quorum]]
        reports.append(make_report(stack.oracle, feed_id, round_, when, obs))
    return send(stack.oracle.submit, reports, {"from": stack.deployer})


def refresh_feeds(stack: Stack, feeds: Sequence[int] = (BTC, ETH)):
    """Re-report every feed at its current price and vol (keeps them fresh after time travel)."""
    prices = {}
    for f in feeds:
        st = stack.oracle.feed(f)
        prices[f] = (st[0], st[1])
    return push_prices(stack, prices)


def token_units(amount, decimals: int) -> int:
    from decimal import Decimal

    return int(Decimal(str(amount)) * 10**decimals)


def open_account(stack: Stack, owner, deposits: Mapping[str, object] | None = None) -> int:
    """Open an account for `owner` and deposit {token name: whole tokens}; returns its id."""
    acct = send(stack.vault.openAccount, {"from": owner}).return_value
    for name, amount in (deposits or {}).items():
        deposit(stack, acct, owner, name, amount)
    return acct


def deposit(stack: Stack, account_id: int, owner, token_name: str, amount) -> None:
    token = stack.token(token_name)
    units = token_units(amount, token.decimals())
    if units == 0:
        return
    send(token.mint, owner, units, {"from": owner})
    send(token.approve, stack.vault, units, {"from": owner})
    send(stack.vault.deposit, account_id, token, units, {"from": owner})


# anvil's default dev accounts derive from this public mnemonic: TEST KEYS ONLY.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
_DEV_KEYS: dict[str, str] = {}


def signing_key(account) -> str:
    """Private key of a brownie account: its own if local, else anvil's dev-mnemonic key."""
    key = getattr(account, "private_key", None)
    if key:
        return key
    if not _DEV_KEYS:
        Account.enable_unaudited_hdwallet_features()
        for i in range(20):
            acct = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}")
            _DEV_KEYS[acct.address.lower()] = acct.key.hex()
    return _DEV_KEYS[str(account).lower()]


def sign_order(stack: Stack, order: Order, signer) -> tuple:
    """Signature of `order` by brownie account `signer` (local account or anvil dev account)."""
    return order.sign(signing_key(signer), stack.domain())


def model_price(stack: Stack, instrument: int) -> int:
    """The engine's model value per unit of `instrument` at the fresh feed [wad USD]: the spot of a
    perp, V(S, σ, τ) of an option series (the centre of the SPEC v2 §5 price band)."""
    from keel.orders import OPTION_INSTRUMENT_BASE

    if instrument < OPTION_INSTRUMENT_BASE:
        return int(stack.oracle.freshFeed(instrument)[0])
    sid = instrument - OPTION_INSTRUMENT_BASE
    feed = int(stack.store.series(sid)[0])
    spot, vol, observed = stack.oracle.freshFeed(feed)
    return int(stack.store.unitValue(sid, (feed, spot, vol, observed)))


def trade(
    stack: Stack,
    maker: tuple[int, object],
    taker: tuple[int, object],
    instrument: int,
    size: int,
    price: int,
    amount: int | None = None,
    **order_fields,
):
    """Maker (account, owner) signs an order of signed `size` at `price`; taker (account, owner)
    fills `amount` (default all). Returns the fill transaction."""
    order = Order(
        maker[0],
        instrument,
        size,
        price,
        salt=order_fields.pop("salt", next(stack.salts)),
        **order_fields,
    )
    sig = sign_order(stack, order, maker[1])
    return send(
        stack.exchange.fill,
        *fill_args(order, sig, taker[0], amount if amount is not None else abs(size)),
        {"from": taker[1]},
    )
