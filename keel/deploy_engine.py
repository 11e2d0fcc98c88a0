"""A whole system for tests, benchmarks and the simulation, and the helpers that drive it.

`deploy_stack` deploys through the one deployer (keel.deploy: test tokens USDC/WETH/WBTC, a perp
per feed, the deployer keeping every owner power so that tests set parameters directly) and reports
every feed and the correlation of every pair ([v2] SPEC §3); the helpers below drive it (price and
correlation pushes, funded accounts, signed trades).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from eth_account import Account

from keel.deploy import TokenSpec, deploy, dev_signer_keys, test_config
from keel.deploy_oracle import make_correlation_report, make_report
from keel.orders import Order, exchange_domain, fill_args

WAD = 10**18
BTC, ETH = 1, 2
DEFAULT_FEEDS = {BTC: (60_000 * WAD, 6 * WAD // 10), ETH: (3_000 * WAD, 75 * WAD // 100)}
DEFAULT_OI_CAP = 10**30  # [wad units]
FEED_BOUNDS = (10**12, 10**30, 10 * WAD)  # minPrice, maxPrice [wad USD], maxVol [wad]
# ρ of a pair pushed with the prices unless set: 0.74, the median of the relayer's EWMA ρ of BTC/ETH
# over the 2016-19 price history (docs/CORRELATION.md §4); a fixture value, not a margin parameter
DEFAULT_RHO = 74 * WAD // 100  # [wad]


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
    lens: object = None  # MarginLens (what-if margin of proposed fills: a view, no wiring)
    tokens: dict = field(default_factory=dict)  # more listed tokens by name (for deposit())
    deployment: object = None  # the keel.deploy.Deployment (its address file: .addresses())
    # ρ of each pair (feedA < feedB) that push_prices reports with the prices; None: none [wad]
    correlations: dict | None = field(default_factory=dict)

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
    """The whole system through keel.deploy (test tokens USDC/WETH/WBTC, a perp per feed, the
    deployer keeping every owner power), with every feed reported now at {feedId: (price, vol)}."""
    keys = list(signer_keys or dev_signer_keys())
    feeds = dict(feeds or DEFAULT_FEEDS)
    config = test_config(
        {f: (*FEED_BOUNDS, oi_cap) for f in feeds},
        signers=[Account.from_key(k).address for k in keys],
        quorum=quorum,
        collateral=(TokenSpec("WETH", 18, ETH), TokenSpec("WBTC", 8, BTC)),
    )
    d = deploy(config, deployer, development=True)
    t = d.tokens
    stack = Stack(
        deployer,
        d.oracle,
        d.vault,
        d.engine,
        d.store,
        d.exchange,
        t["USDC"],
        t["WETH"],
        t["WBTC"],
        keys,
        quorum,
    )
    stack.liquidator = d.liquidator
    stack.lens = d.lens
    stack.deployment = d
    push_prices(stack, feeds)
    return stack


def push_prices(
    stack: Stack,
    prices: Mapping[int, tuple[int, ...]],
    observed_at: int | None = None,
    correlations: Mapping[tuple[int, int], int] | None = None,
):
    """Submit one signed report per feed {feedId: (price, vol)} or {feedId: (price, vol, volFloor)}
    (without a floor: none, σ_eff = σ) observed at `observed_at` (default: the last block's time),
    and with them a correlation report of every pair in `stack.correlations` whose feeds have been
    reported, as the relayer keeps them fresh (a hedge's margin needs its pair's ρ: SPEC v2 §6).
    Pairs of the feeds in `prices` join it at DEFAULT_RHO; `correlations` {(feedA, feedB): ρ wad}
    sets values first."""
    from brownie import chain

    if observed_at is None:
        chain.mine()  # after a snapshot revert the next block's time can be far ahead of the last
    keys = stack.signer_keys[: stack.quorum]
    reports = []
    for feed_id, (price, vol, *floor) in prices.items():
        state = stack.oracle.feed(feed_id)
        round_ = state[3] + 1
        # the last block's time, strictly newer than the stored report (two pushes may fall in one second)
        when = observed_at if observed_at is not None else max(chain[-1].timestamp, state[2] + 1)
        obs = [(k, price, vol, *floor) for k in keys]
        reports.append(make_report(stack.oracle, feed_id, round_, when, obs))
    known = getattr(stack, "correlations", None)
    if known is None:
        known = {}  # a partial stack (an Oracle and its keys), or a stack told to push none
    else:  # every pair of the feeds reported together has a ρ (DEFAULT_RHO unless set)
        for pair in itertools.combinations(sorted(prices), 2):
            known.setdefault(pair, DEFAULT_RHO)
    known.update(correlations or {})
    pairs = []
    for (a, b), rho in sorted(known.items()):
        if not all(f in prices or stack.oracle.feed(f)[3] for f in (a, b)):
            continue  # a feed not listed or not reported yet
        _, seen, round_ = stack.oracle.correlation(a, b)
        when = observed_at if observed_at is not None else max(chain[-1].timestamp, seen + 1)
        if when > seen:  # an older observation than the stored one is never accepted
            obs = [(k, rho) for k in keys]
            pairs.append(make_correlation_report(stack.oracle, a, b, round_ + 1, when, obs))
    return stack.oracle.submitWithCorrelations(reports, pairs, {"from": stack.deployer})


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
    acct = stack.vault.openAccount({"from": owner}).return_value
    for name, amount in (deposits or {}).items():
        deposit(stack, acct, owner, name, amount)
    return acct


def deposit(stack: Stack, account_id: int, owner, token_name: str, amount) -> None:
    token = stack.token(token_name)
    units = token_units(amount, token.decimals())
    if units == 0:
        return
    token.mint(owner, units, {"from": owner})
    token.approve(stack.vault, units, {"from": owner})
    stack.vault.deposit(account_id, token, units, {"from": owner})


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
    return stack.exchange.fill(
        *fill_args(order, sig, taker[0], amount if amount is not None else abs(size)),
        {"from": taker[1]},
    )
