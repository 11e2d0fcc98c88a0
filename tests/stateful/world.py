"""The attacker test's world: one Keel deployment, its actors, the market's true prices, and the
fast transaction helpers every rule uses.

Actors (anvil's dev accounts: TEST KEYS ONLY):
    0 governance (owner of every contract; through the timelock once branch `gov` lands)
    1 T0, 2 T1 honest traders;  3 T2 honest trader who granted RIGHT_TRADE to the attacker's X1
    4 keeper (honest starter / bidder / settler)
    5 MM0, 6 MM1 market makers (sign quotes at model value ± a spread)
    7 X0 attacker (owns A0, A1, A2 and any dust accounts it opens; also oracle signer 4)
    8 X1 attacker (owns A3; trade-only operator of T2's account)
    9 backstop (a deep account used to probe INV-3 with eth_call bids; never sends a bid)

Oracle: five signers, quorum 3, so f = 1 (SPEC §3). Signers 0-3 are honest and observe the true
price with a fixed small dispersion (signers 0-2: −0.1%, 0, +0.1%; signer 3: +0.2%); signer 4 is
the attacker's. The honest relayer submits signers 0-2.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from keel.deploy_engine import BTC, ETH, WAD, deploy_stack, dev_signer_keys, signing_key
from keel.orders import OPTION_INSTRUMENT_BASE
from tests.stateful.rpc import AbiTables, Contract, Receipt, Rpc
from tests.stateful.signing import (
    Signer,
    correlation_digest,
    domain_separator,
    observation_digest,
    order_digest,
)

DAY = 86_400
HOUR = 3_600
EXPIRY_TIME_OF_DAY = 8 * HOUR  # SPEC §4 [v2]: expiries at 08:00 UTC                      [s]
USDC_UNIT = 10**6
RIGHT_TRADE = 1
FEEDS = (BTC, ETH)
TRUE_RHO = 74 * WAD // 100  # the honest relayer's BTC/ETH correlation (keel.deploy_engine's) [wad]
FEED_NAME = {BTC: "BTC", ETH: "ETH"}
START_PRICES = {BTC: (60_000 * WAD, 60 * WAD // 100), ETH: (3_000 * WAD, 75 * WAD // 100)}
HONEST_DISPERSION = (-10, 0, 10, 20)  # honest signers' price offsets from the truth   [bps]
RELAYER_SIGNERS = (0, 1, 2)
ATTACKER_SIGNER = 4
FAR_EXPIRY = 2**40  # order expiry: never                                              [unix s]


def next_expiry(ts: int, days_ahead: int) -> int:
    """08:00 UTC on the `days_ahead`-th day after the day of `ts` (always after `ts`)."""
    day0 = ts - ts % DAY
    return day0 + days_ahead * DAY + EXPIRY_TIME_OF_DAY


def bs_value(is_call: bool, spot: float, strike: float, vol: float, tau: float) -> float:
    """Black-Scholes (r = 0) in floats, intrinsic at τ = 0."""
    if tau <= 0 or vol <= 0:
        return max(spot - strike, 0.0) if is_call else max(strike - spot, 0.0)
    v = vol * math.sqrt(tau)
    d1 = math.log(spot / strike) / v + v / 2
    d2 = d1 - v

    def n(x):
        return 0.5 * math.erfc(-x / math.sqrt(2))

    if is_call:
        return spot * n(d1) - strike * n(d2)
    return strike * n(-d2) - spot * n(-d1)


@dataclass
class Account:
    id: int
    owner: str  # owner address
    name: str
    attacker: bool = False


@dataclass
class Series:
    id: int
    feed: int
    strike: int  # [wad USD]
    expiry: int  # [unix s]
    is_call: bool
    listed_by_governance: bool = True

    @property
    def instrument(self) -> int:
        return OPTION_INSTRUMENT_BASE + self.id


@dataclass
class World:
    stack: object
    rpc: Rpc
    c: dict  # contract name → Contract (engine, vault, liquidator, oracle, exchange, usdc, ...)
    eoa: dict  # role → address
    accounts: dict  # name → Account
    series: list = field(default_factory=list)
    makers: dict = field(default_factory=dict)  # owner address → Signer
    oracle_signers: list = field(default_factory=list)  # Signer per oracle signer index
    exchange_sep: bytes = b""
    oracle_sep: bytes = b""
    salts: itertools.count = field(default_factory=lambda: itertools.count(1))
    truth: dict = field(default_factory=dict)  # feed → (price, vol) the honest signers see [wad]
    t0: int = 0  # the examples' start time                                      [unix s]
    timelock: Contract | None = None  # KeelTimelock owning every owner power (branch gov)
    truth_log: list = field(default_factory=list)  # (time, feed, price) of every truth change

    def set_truth(self, feed: int, price: int, vol: int, at: int) -> None:
        self.truth[feed] = (price, vol)
        self.truth_log.append((at, feed, price))

    def truth_at(self, feed: int, ts: int) -> int:
        """The true price of `feed` at time `ts` [wad USD]."""
        price = START_PRICES[feed][0]
        for at, f, p in self.truth_log:
            if f == feed and at <= ts:
                price = p
        return price

    # --- accounts ---

    def acct(self, name: str) -> Account:
        return self.accounts[name]

    def ids(self) -> list[int]:
        return [a.id for a in self.accounts.values()]

    def attacker_ids(self) -> set[int]:
        return {a.id for a in self.accounts.values() if a.attacker}

    def by_id(self, account_id: int) -> Account:
        return next(a for a in self.accounts.values() if a.id == account_id)

    # --- transactions ---

    def send(self, sender: str, contract: str, fn: str, *args) -> Receipt:
        return self.rpc.send(sender, self.c[contract].fn(fn), *args)

    def fill(
        self,
        maker: Account,
        signer: str,
        taker: Account,
        taker_sender: str,
        instrument: int,
        maker_size: int,
        price: int,
        amount: int | None = None,
    ) -> Receipt:
        """`signer` signs a maker order for `maker`; `taker_sender` fills it for `taker`."""
        order = (maker.id, instrument, maker_size, price, 0, FAR_EXPIRY, next(self.salts))
        sig = self.makers[signer].sign(order_digest(self.exchange_sep, order))
        amount = abs(maker_size) if amount is None else amount
        return self.send(
            taker_sender, "exchange", "fill", order, sig.v, sig.r, sig.s, taker.id, amount
        )

    # --- oracle ---

    def observation(self, signer: int, feed: int, round_: int, at: int, price: int, vol: int):
        """(price, vol, volFloor, v, r, s) of one signed observation (volFloor 1: σ_eff = σ)."""
        d = observation_digest(self.oracle_sep, feed, round_, at, price, vol, 1)
        sig = self.oracle_signers[signer].sign(d)
        return (price, vol, 1, sig.v, sig.r, sig.s)

    def correlation(self, signer: int, pair: tuple[int, int], round_: int, at: int, rho: int):
        """(rho, v, r, s) of one signed correlation of `pair` (feedA < feedB)."""
        sig = self.oracle_signers[signer].sign(
            correlation_digest(self.oracle_sep, *pair, round_, at, rho)
        )
        return (rho, sig.v, sig.r, sig.s)

    def honest_observation(
        self, signer: int, feed: int, round_: int, at: int, price: int | None = None
    ):
        """Honest signer `signer`'s observation of the truth (or of `price`, a past truth)."""
        truth, vol = self.truth[feed]
        p = (price or truth) * (10_000 + HONEST_DISPERSION[signer]) // 10_000
        return self.observation(signer, feed, round_, at, p, vol)

    # --- market model ---

    def option_value(self, s: Series, spot: int, vol: int, observed_at: int) -> float:
        """Model value of one unit of `s` [USD float] at the oracle's spot, vol and time."""
        tau = max(0, s.expiry - observed_at) / (365 * DAY)
        return bs_value(s.is_call, spot / WAD, s.strike / WAD, vol / WAD, tau)

    def unit_value(self, s: Series, spot: int, vol: int, observed_at: int) -> int:
        """The engine's own value of one unit of `s` (RiskArrayStore.unitValue, the centre of the
        SPEC v2 price band) [wad USD]; the float Black-Scholes value before that view existed."""
        store = self.c["store"]
        if store.has("unitValue"):
            return self.rpc.call(store.fn("unitValue"), s.id, (s.feed, spot, vol, observed_at))
        return int(self.option_value(s, spot, vol, observed_at) * WAD)


def contract_wrappers(stack) -> dict:
    names = {
        "engine": stack.engine,
        "vault": stack.vault,
        "liquidator": stack.liquidator,
        "oracle": stack.oracle,
        "exchange": stack.exchange,
        "store": stack.store,
        "usdc": stack.usdc,
        "weth": stack.weth,
        "wbtc": stack.wbtc,
    }
    return {k: Contract(v.address, v.abi) for k, v in names.items()}


def build_world(accounts, project, url: str) -> World:
    """Deploys the stack and opens every actor's accounts (brownie transactions: setup only)."""
    from brownie import chain

    from tests.stateful.governance import hand_over_to_timelock, has_timelock

    deployer = accounts[0]
    keys = dev_signer_keys(5)
    stack = deploy_stack(deployer, signer_keys=keys, quorum=3, feeds=dict(START_PRICES))
    timelock = hand_over_to_timelock(stack, deployer) if has_timelock(project) else None
    names = {
        **({timelock.address: "KeelTimelock"} if timelock is not None else {}),
        stack.engine.address: "MarginEngine",
        stack.vault.address: "Vault",
        stack.liquidator.address: "Liquidator",
        stack.oracle.address: "Oracle",
        stack.exchange.address: "Exchange",
        stack.store.address: "RiskArrayStore",
    }
    rpc = Rpc(url, AbiTables(project), names)
    # block time moves only when a rule moves it: every other block has its parent's timestamp,
    # so "before" and "after" reads of an action step see the same time (no funding accrues)
    rpc.request("anvil_setBlockTimestampInterval", [0])
    roles = dict(gov=0, T0=1, T1=2, T2=3, keeper=4, MM0=5, MM1=6, X0=7, X1=8, backstop=9)
    eoa = {role: str(accounts[i]) for role, i in roles.items()}
    world = World(stack, rpc, contract_wrappers(stack), eoa, {})
    if timelock is not None:
        world.timelock = Contract(timelock.address, timelock.abi)
        world.rpc.names[timelock.address.lower()] = "KeelTimelock"
    world.truth = dict(START_PRICES)
    world.oracle_signers = [Signer(k) for k in keys]
    world.exchange_sep = domain_separator("Keel Exchange", "1", chain.id, stack.exchange.address)
    world.oracle_sep = domain_separator("Keel Oracle", "1", chain.id, stack.oracle.address)
    for role in ("MM0", "MM1", "X0", "X1", "T0", "T1", "T2"):
        world.makers[eoa[role]] = Signer(signing_key(accounts[roles[role]]))

    # start on a fixed time of day: 09:00 UTC of the next day
    now = rpc.now()
    world.t0 = now - now % DAY + DAY + 9 * HOUR
    rpc.mine_at(world.t0)
    report_truth(world)

    # accounts: (name, role, USDC, {collateral: units}, attacker)
    plan = [
        ("T0", "T0", 300_000, {}, False),
        ("T1", "T1", 150_000, {"weth": 20 * WAD}, False),
        ("T2", "T2", 150_000, {"wbtc": 10**8}, False),
        ("K", "keeper", 200_000, {}, False),
        ("MM0", "MM0", 5_000_000, {}, False),
        ("MM1", "MM1", 5_000_000, {}, False),
        ("B", "backstop", 100_000_000, {}, False),
        ("A0", "X0", 60_000, {}, True),
        ("A1", "X0", 60_000, {}, True),
        ("A2", "X0", 60_000, {}, True),
        ("A3", "X1", 20_000, {}, True),
    ]
    for name, role, usdc, coll, attacker in plan:
        owner = eoa[role]
        r = world.send(owner, "vault", "openAccount")
        acct_id = next(e.args["accountId"] for e in r.events if e.name == "AccountOpened")
        world.accounts[name] = Account(acct_id, owner, name, attacker)
        deposit(world, world.accounts[name], "usdc", usdc * USDC_UNIT)
        for token, units in coll.items():
            deposit(world, world.accounts[name], token, units)
    # the victim's trading bot: T2 grants the attacker's X1 the trade right only
    r = world.send(eoa["T2"], "vault", "setOperator", world.acct("T2").id, eoa["X1"], RIGHT_TRADE)
    assert r.ok, r.error
    # an insurance fund that can pay a few bad debts
    mint(world, eoa["gov"], "usdc", 250_000 * USDC_UNIT)
    world.send(eoa["gov"], "usdc", "approve", world.c["vault"].address, 2**256 - 1)
    assert world.send(eoa["gov"], "vault", "fundInsurance", 250_000 * USDC_UNIT).ok
    for feed, strike_pct, days, is_call in INITIAL_SERIES:
        list_series(world, feed, strike_pct, days, is_call)
    report_truth(world)
    return world


# (feed, strike as % of spot, expiry in days at 08:00 UTC, call)
INITIAL_SERIES = (
    (BTC, 100, 1, True),
    (BTC, 95, 1, False),
    (BTC, 90, 3, False),
    (BTC, 110, 7, True),
    (ETH, 100, 1, True),
    (ETH, 93, 7, False),
)


def mint(world: World, owner: str, token: str, units: int) -> None:
    assert world.send(owner, token, "mint", owner, units).ok


def deposit(world: World, acct: Account, token: str, units: int) -> Receipt:
    mint(world, acct.owner, token, units)
    world.send(acct.owner, token, "approve", world.c["vault"].address, units)
    r = world.send(acct.owner, "vault", "deposit", acct.id, world.c[token].address, units)
    assert r.ok, r.error
    return r


def list_series(world: World, feed: int, strike_pct: int, days: int, is_call: bool):
    """Governance lists a series (08:00 UTC expiry, strike rounded to $100 / $10): as the lister it
    named (SPEC §4 [v2]) when there is a timelock, else as the owner."""
    from tests.stateful.governance import govern

    spot = world.truth[feed][0]
    tick = 100 * WAD if feed == BTC else 10 * WAD
    strike = spot * strike_pct // 100 // tick * tick
    expiry = next_expiry(world.rpc.now(), days)
    existing = world.rpc.call(world.c["store"].fn("seriesIdOf"), feed, strike, expiry, is_call)
    if existing:
        return None
    if world.timelock is not None:  # the governance EOA is a lister: no delay
        receipts = [
            world.send(world.eoa["gov"], "engine", "createSeries", feed, strike, expiry, is_call)
        ]
    else:
        receipts = govern(world, "engine", "createSeries", feed, strike, expiry, is_call)
    r = receipts[-1]
    if not r.ok:
        return r
    for e in r.events:
        if e.name == "SeriesCreated":
            world.series.append(Series(e.args["seriesId"], feed, strike, expiry, is_call))
    return r


def report_truth(world: World, feeds=FEEDS, at: int | None = None) -> Receipt:
    """The honest relayer reports `feeds` at the truth, observed at the next block's time, and
    [v2] the pair's correlation with them (TRUE_RHO: a hedge's margin needs it fresh).

    A round taken by someone else in between (the attacker front-running with copied
    observations) makes the first try fail `WrongRound`; the relayer then signs the next round.
    """
    at = at if at is not None else world.rpc.now() + 1
    for _ in range(2):
        when = at
        reports = []
        for f in feeds:
            st = world.rpc.call(world.c["oracle"].fn("feed"), f)
            round_ = st[3] + 1
            t = max(when, st[2] + 1)
            obs = [world.honest_observation(i, f, round_, t) for i in RELAYER_SIGNERS]
            reports.append((f, round_, t, obs))
        pairs = []
        for pair in itertools.combinations(sorted(feeds), 2):
            _, seen, round_ = world.rpc.call(world.c["oracle"].fn("correlation"), *pair)
            t = max(when, seen + 1)
            obs = [world.correlation(i, pair, round_ + 1, t, TRUE_RHO) for i in RELAYER_SIGNERS]
            pairs.append((*pair, round_ + 1, t, obs))
        world.rpc.next_block_at(at)
        r = world.send(world.eoa["gov"], "oracle", "submitWithCorrelations", reports, pairs)
        if r.ok or r.error not in ("WrongRound", "ObservationNotNewer"):
            return r
    return r
