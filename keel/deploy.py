"""The one Keel deployer: every contract of a system, wired and handed to governance, from one config.

`deploy(config, deployer)` deploys, in order: collateral tokens (test tokens on a development chain,
or the addresses the config names), the Oracle (signers, quorum, feeds), the Vault (settlement
token, collateral listed with SPEC §2 haircuts), the margin engine (JointLossLib, the external
library of SPEC v2 §6's joint loss that the engine and the lens link; MarginEngine, RiskArrayStore,
Exchange; a perp per feed), the Liquidator (SPEC §7), the MarginLens (what-if margin, a view),
and the governance timelock (SPEC §8b) to which every owner power is handed. `scripts/deploy.py`, `keel deploy`, the test fixtures
(`keel.deploy_engine.deploy_stack`) and the simulation all deploy through it, so that every
deployment is the same system.

The config is YAML (config/deploy.yaml is the default, documented there): human units in the file
(USD prices, whole tokens), wad on chain. `DeployConfig.load` rejects a bad file with one line.
The result is written as an address file (`Deployment.write`), which the SDK and the CLI connect to.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "config" / "deploy.yaml"
ADDRESS_FILE_VERSION = 1
WAD = 10**18
UINT128_MAX = 2**128 - 1
ROLES = (
    "oracle", "vault", "engine", "store", "exchange", "liquidator", "lens", "jointLoss", "timelock",
)  # fmt: skip
OWNED = ("oracle", "vault", "engine", "liquidator")  # Ownable2Step: handed to the timelock
TEST_TOKEN_NAMES = {"USDC": "USD Coin", "WETH": "Wrapped Ether", "WBTC": "Wrapped Bitcoin"}


class ConfigError(ValueError):
    """A deployment config that cannot be deployed; the message is one line naming the field."""


@dataclass(frozen=True)
class FeedSpec:
    """One underlying: its oracle feed and its perp."""

    id: int  # oracle feed id, also the perp's instrument id                      [feedId]
    symbol: str
    min_price: int  # the Oracle rejects reports below                            [wad USD]
    max_price: int  # ... and above                                               [wad USD]
    max_vol: int  # ... and vols above                                            [wad]
    perp_oi_cap: int  # long open-interest cap of the perp                        [wad units]


@dataclass(frozen=True)
class TokenSpec:
    """A token the Vault holds: the settlement token (feed 0, fixed $1) or a collateral token
    priced by, and moving with, underlying `feed`."""

    symbol: str
    decimals: int
    feed: int = 0  # price feed and linked underlying (0: the settlement token)   [feedId]
    address: str | None = None  # an existing token; None: a test token (development chains)
    base_haircut: int | None = None  # h0; None: SPEC §2's default for its kind   [wad]
    cap: int = UINT128_MAX  # most the Vault accepts in total                    [token units]


@dataclass(frozen=True)
class GovernanceSpec:
    """SPEC §8b: who governs once the deployment is handed over."""

    timelock: bool = True  # hand every owner power to a KeelTimelock
    delay: int = 24 * 3600  # the timelock's delay                                [s]
    proposers: tuple[str, ...] = ()  # who schedule operations (empty: the deployer)
    guardian: str | None = None  # may pause new risk at once (None: nobody)


@dataclass(frozen=True)
class DeployConfig:
    feeds: tuple[FeedSpec, ...]
    settlement: TokenSpec
    collateral: tuple[TokenSpec, ...] = ()
    signers: tuple[str, ...] | None = None  # oracle signer addresses; None: dev signers (dev only)
    quorum: int = 3
    governance: GovernanceSpec = field(default_factory=GovernanceSpec)
    # setParam overrides applied before the hand-over: {"engine": {"mmRatio": 0.8e18}, ...} [wad / s]
    params: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    insurance: int = 0  # settlement units put into the insurance fund (minted on dev chains)
    test_tokens: bool = False  # a test network: tokens without an address are mintable test tokens

    @classmethod
    def load(cls, path: str | Path | None = None) -> DeployConfig:
        """The config in YAML file `path` (default config/deploy.yaml); ConfigError on a bad file."""
        import yaml

        path = Path(path) if path is not None else DEFAULT_CONFIG
        if not path.is_file():
            raise ConfigError(f"{path}: no such config file")
        try:
            raw = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not YAML ({str(exc).splitlines()[0]})") from None
        try:
            return cls.from_dict(raw)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    @classmethod
    def from_dict(cls, raw) -> DeployConfig:
        r = _Reader(raw, "")
        r.only(
            "feeds", "settlement", "collateral", "oracle", "governance", "params", "insurance",
            "test_tokens",
        )  # fmt: skip
        feeds = tuple(_feed(f) for f in r.items("feeds"))
        if not feeds:
            raise ConfigError("feeds: at least one feed is needed")
        ids = [f.id for f in feeds]
        if len(set(ids)) != len(ids):
            raise ConfigError(f"feeds: duplicate feed id in {ids}")
        settlement = _token(r.sub("settlement"), settlement=True)
        collateral = tuple(_token(t, settlement=False) for t in r.items("collateral", []))
        for t in collateral:
            if t.feed not in ids:
                raise ConfigError(f"collateral.{t.symbol}.feed: {t.feed} is not a listed feed")
        symbols = [settlement.symbol, *(t.symbol for t in collateral)]
        if len(set(symbols)) != len(symbols):
            raise ConfigError(f"tokens: duplicate symbol in {symbols}")
        oracle = r.sub("oracle")
        oracle.only("signers", "quorum")
        signers = oracle.get("signers", "dev")
        if signers == "dev":
            signers = None
        elif not isinstance(signers, list) or not all(_is_address(s) for s in signers):
            raise ConfigError("oracle.signers: 'dev' or a list of 0x addresses")
        quorum = oracle.integer("quorum", 3, lo=1)
        n = len(signers) if signers is not None else DEV_SIGNERS
        # the Oracle's own rule (SPEC §3 threat model), checked before anything is sent
        if quorum < 3 or n < quorum + 1 or 2 * quorum <= n:
            raise ConfigError(
                f"oracle.quorum: {quorum} of {n} signers tolerates no faulty signer "
                "(SPEC §3: quorum ≥ 3, signers ≥ quorum + 1, 2·quorum > signers)"
            )
        g = r.sub("governance", {})
        g.only("timelock", "delay", "proposers", "guardian")
        proposers = g.get("proposers", [])
        guardian = g.get("guardian")
        if not isinstance(proposers, list) or not all(_is_address(p) for p in proposers):
            raise ConfigError("governance.proposers: a list of 0x addresses")
        if guardian is not None and not _is_address(guardian):
            raise ConfigError(f"governance.guardian: not an address: {guardian!r}")
        governance = GovernanceSpec(
            timelock=bool(g.get("timelock", True)),
            delay=g.integer("delay", 24 * 3600, lo=0, hi=30 * 24 * 3600),
            proposers=tuple(proposers),
            guardian=guardian,
        )
        params = r.get("params", {}) or {}
        if not isinstance(params, dict) or not all(
            role in OWNED and isinstance(v, dict) for role, v in params.items()
        ):
            raise ConfigError(f"params: a map of {', '.join(OWNED)} to {{name: value}}")
        return cls(
            feeds=feeds,
            settlement=settlement,
            collateral=collateral,
            signers=tuple(signers) if signers is not None else None,
            quorum=quorum,
            governance=governance,
            params={role: {k: int(v) for k, v in p.items()} for role, p in params.items()},
            insurance=_units(r.get("insurance", 0), settlement.decimals, "insurance"),
            test_tokens=bool(r.get("test_tokens", False)),
        )


class _Reader:
    """Typed access to one mapping of the YAML, with one-line errors naming the field."""

    def __init__(self, raw, where: str):
        if not isinstance(raw, dict):
            raise ConfigError(f"{where or 'config'}: expected a mapping, got {type(raw).__name__}")
        self.raw, self.where = raw, where

    def _name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def only(self, *keys: str) -> None:
        unknown = sorted(set(self.raw) - set(keys))
        if unknown:
            raise ConfigError(f"{self._name(unknown[0])}: unknown key (known: {', '.join(keys)})")

    def get(self, key: str, default=None):
        return self.raw.get(key, default)

    def need(self, key: str):
        if key not in self.raw:
            raise ConfigError(f"{self._name(key)}: missing")
        return self.raw[key]

    def sub(self, key: str, default=None) -> _Reader:
        value = self.raw.get(key, default)
        if value is None:
            raise ConfigError(f"{self._name(key)}: missing")
        return _Reader(value, self._name(key))

    def items(self, key: str, default=None) -> list[_Reader]:
        value = self.raw.get(key, default)
        if value is None:
            raise ConfigError(f"{self._name(key)}: missing")
        if not isinstance(value, list):
            raise ConfigError(f"{self._name(key)}: expected a list")
        return [_Reader(v, f"{self._name(key)}[{i}]") for i, v in enumerate(value)]

    def integer(self, key: str, default=None, lo: int | None = None, hi: int | None = None) -> int:
        value = self.raw.get(key, default) if default is not None else self.need(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{self._name(key)}: expected an integer, got {value!r}")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ConfigError(f"{self._name(key)}: {value} outside [{lo}, {hi}]")
        return value

    def decimal(self, key: str, default=None) -> Decimal:
        value = self.raw.get(key, default) if default is not None else self.need(key)
        try:
            d = Decimal(str(value))
        except InvalidOperation:
            raise ConfigError(f"{self._name(key)}: not a number: {value!r}") from None
        if not d.is_finite() or d <= 0:
            raise ConfigError(f"{self._name(key)}: must be a positive number, got {value!r}")
        return d


def _is_address(x) -> bool:
    return isinstance(x, str) and x.startswith("0x") and len(x) == 42


def _wad(d: Decimal) -> int:
    return int(d * WAD)


def _units(amount, decimals: int, name: str) -> int:
    try:
        d = Decimal(str(amount))
    except InvalidOperation:
        raise ConfigError(f"{name}: not a number: {amount!r}") from None
    if not d.is_finite() or d < 0:
        raise ConfigError(f"{name}: must be a number ≥ 0, got {amount!r}")
    return int(d * 10**decimals)


def _feed(r: _Reader) -> FeedSpec:
    r.only("id", "symbol", "min_price", "max_price", "max_vol", "perp_oi_cap")
    lo, hi = r.decimal("min_price"), r.decimal("max_price")
    if lo >= hi:
        raise ConfigError(f"{r.where}: min_price {lo} is not below max_price {hi}")
    return FeedSpec(
        id=r.integer("id", lo=1, hi=2**32 - 1),
        symbol=str(r.need("symbol")),
        min_price=_wad(lo),
        max_price=_wad(hi),
        max_vol=_wad(r.decimal("max_vol")),
        perp_oi_cap=_wad(r.decimal("perp_oi_cap")),
    )


def _token(r: _Reader, settlement: bool) -> TokenSpec:
    r.only("symbol", "decimals", "feed", "address", "base_haircut", "cap")
    address = r.get("address")
    if address is not None and not _is_address(address):
        raise ConfigError(f"{r.where}.address: not an address: {address!r}")
    feed = 0 if settlement else r.integer("feed", lo=1)
    if settlement and "feed" in r.raw:
        raise ConfigError(f"{r.where}.feed: the settlement token has no feed (fixed $1)")
    decimals = r.integer("decimals", lo=0, hi=36)
    haircut = r.get("base_haircut")
    cap = r.get("cap")
    return TokenSpec(
        symbol=str(r.need("symbol")),
        decimals=decimals,
        feed=feed,
        address=address,
        base_haircut=_wad(Decimal(str(haircut))) if haircut is not None else None,
        cap=_units(cap, decimals, f"{r.where}.cap") if cap is not None else UINT128_MAX,
    )


# --- Deploying ---


@dataclass
class Deployment:
    """A deployed system: contracts by role, tokens by symbol, and the config it came from."""

    config: DeployConfig
    contracts: dict[str, object]  # role -> brownie contract (ROLES)
    tokens: dict[str, object]  # symbol -> token contract
    chain_id: int
    block: int  # block of the first deployment transaction
    pending: dict | None = None  # the timelock's hand-over while it waits out its delay

    def __getattr__(self, role: str):
        contracts = self.__dict__.get("contracts", {})
        if role in contracts:
            return contracts[role]
        raise AttributeError(role)

    def units(self, symbol: str, amount) -> int:
        """Whole-token `amount` (int, str or Decimal) of token `symbol` in the token's own units."""
        c = self.config
        spec = next(t for t in (c.settlement, *c.collateral) if t.symbol == symbol)
        return int(Decimal(str(amount)) * 10**spec.decimals)

    def addresses(self) -> dict:
        """The address file's content (format ADDRESS_FILE_VERSION, read by keel.client)."""
        c = self.config
        return {
            "version": ADDRESS_FILE_VERSION,
            "chain_id": self.chain_id,
            "block": self.block,
            "contracts": {role: str(k.address) for role, k in self.contracts.items()},
            "tokens": {
                t.symbol: {
                    "address": str(self.tokens[t.symbol].address),
                    "decimals": t.decimals,
                    "feed": t.feed,
                }
                for t in (c.settlement, *c.collateral)
            },
            "feeds": {f.symbol: f.id for f in c.feeds},
            "governance": {
                "timelock": "timelock" in self.contracts,
                "delay": c.governance.delay,
                "pending_handover": self.pending,
            },
        }

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.addresses(), indent=2) + "\n")
        return path


DEV_SIGNERS = 5  # the relayer's `--dev-keys 5 --key-seed 0`


def dev_signer_keys(n: int = DEV_SIGNERS) -> list[str]:
    """The relayer's deterministic development keys (`keel-relayer run --dev-keys n`, seed 0):
    TEST KEYS ONLY, never for real funds; config `oracle.signers: dev` authorises them."""
    from keel.client.keys import derive_keys

    return [s.key for s in derive_keys(n, "0")]


def deploy(config: DeployConfig, deployer, *, development: bool | None = None) -> Deployment:
    """Deploy the whole system of `config` from `deployer` (a brownie account) on the connected
    network. `development` (default: brownie's view of the network) allows test tokens, dev
    signers and time travel past the timelock's delay; elsewhere they are refused."""
    from brownie import chain, network

    from keel.chain import project
    from keel.deploy_vault import DEFAULT_STABLE_HAIRCUT, DEFAULT_VOLATILE_HAIRCUT

    p = project()
    if development is None:
        development = network.show_active() in ("development", "anvil")
    missing = [t.symbol for t in (config.settlement, *config.collateral) if t.address is None]
    if missing and not (development or config.test_tokens):
        raise ConfigError(
            f"tokens {', '.join(missing)}: an address is needed off development chains "
            "(or test_tokens: true on a test network)"
        )
    if config.signers is None and not development:
        raise ConfigError("oracle.signers: dev signers are for development chains only")
    tx = {"from": deployer}
    block = chain.height + 1

    tokens = {}
    for t in (config.settlement, *config.collateral):
        if t.address is not None:
            # an existing ERC-20: MockERC20's ABI is a superset of the calls made on it
            tokens[t.symbol] = p.MockERC20.at(t.address)
            if tokens[t.symbol].decimals() != t.decimals:
                raise ConfigError(
                    f"{t.symbol}.decimals: {t.decimals}, but the token at {t.address} has "
                    f"{tokens[t.symbol].decimals()}"
                )
        else:  # a mintable test token: development chains or test_tokens (checked above)
            name = TEST_TOKEN_NAMES.get(t.symbol, f"Test {t.symbol}")
            tokens[t.symbol] = p.MockERC20.deploy(name, t.symbol, t.decimals, tx)

    from eth_account import Account

    from keel.deploy_liquidator import deploy_liquidator
    from keel.deploy_oracle import deploy_oracle
    from keel.deploy_vault import deploy_vault, list_asset, volatile_config

    signers = (
        list(config.signers)
        if config.signers is not None
        else [Account.from_key(k).address for k in dev_signer_keys()]
    )
    feeds = {f.id: (f.min_price, f.max_price, f.max_vol) for f in config.feeds}
    oracle = deploy_oracle(deployer, signers, config.quorum, feeds, container=p.Oracle)

    s = config.settlement
    h0 = s.base_haircut if s.base_haircut is not None else DEFAULT_STABLE_HAIRCUT
    vault = deploy_vault(deployer, oracle, tokens[s.symbol], base_haircut=h0, cap=s.cap)
    for t in config.collateral:
        h = t.base_haircut if t.base_haircut is not None else DEFAULT_VOLATILE_HAIRCUT
        list_asset(
            vault,
            tokens[t.symbol],
            volatile_config(t.feed, base_haircut=h, cap=t.cap),
            sender=deployer,
        )

    # the margin engine: a Vault module (it moves cash), the Vault's margin hook, and an Oracle
    # expiry registrar (series register their expiries for settlement prices)
    # SPEC v2 §6's joint loss, an external library the engine and the lens link (brownie links
    # the library deployed last into every contract deployed after it)
    joint_loss = p.JointLossLib.deploy(tx)
    engine = p.MarginEngine.deploy(vault, oracle, tx)
    store = p.RiskArrayStore.deploy(engine, oracle, tx)
    engine.setStore(store, tx)
    exchange = p.Exchange.deploy(vault, engine, tx)
    engine.setExchange(exchange, tx)
    vault.setModule(engine, True, tx)
    vault.setMarginHook(engine, tx)
    oracle.setRegistrar(engine, True, tx)
    for f in config.feeds:
        engine.listPerp(f.id, f.perp_oi_cap, tx)
    liquidator = deploy_liquidator(deployer, vault, engine)
    lens = p.MarginLens.deploy(
        engine, tx
    )  # what-if margin (a view: reads the engine, owns nothing)

    contracts = {
        "oracle": oracle,
        "vault": vault,
        "engine": engine,
        "store": store,
        "exchange": exchange,
        "liquidator": liquidator,
        "lens": lens,
        "jointLoss": joint_loss,
    }
    from keel.governance import param_key

    for role, params in config.params.items():
        for name, value in params.items():
            contracts[role].setParam(param_key(name), value, tx)
    if config.governance.guardian is not None:
        engine.setGuardian(config.governance.guardian, tx)
    if config.insurance:
        usdc = tokens[s.symbol]
        if s.address is None:
            usdc.mint(deployer, config.insurance, tx)
        usdc.approve(vault, config.insurance, tx)
        vault.fundInsurance(config.insurance, tx)

    deployment = Deployment(config, contracts, tokens, chain.id, block)
    if config.governance.timelock:
        _hand_over(deployment, deployer, development)
    return deployment


def _hand_over(d: Deployment, deployer, development: bool) -> None:
    """SPEC §8b: a KeelTimelock becomes the owner of the Oracle, Vault, engine and Liquidator.

    Each starts a two-step transfer; one timelock operation accepts them all. It runs at once when
    the delay is 0 or the chain is a development one (time travel); otherwise the address file
    records it as pending, for anyone to execute once ready (`keel governance execute`)."""
    from brownie import chain

    from keel import governance as gov

    g = d.config.governance
    proposers = list(g.proposers) or [deployer]
    timelock = gov.deploy_timelock(deployer, g.delay, proposers=proposers, executors=[gov.ANYONE])
    d.contracts["timelock"] = timelock
    owned = [d.contracts[r] for r in OWNED]
    for c in owned:
        c.transferOwnership(timelock, {"from": deployer})
    if str(proposers[0]).lower() != str(deployer).lower():
        # the proposers are elsewhere (a multisig): they schedule the acceptance themselves
        d.pending = {"calls": [str(c.address) for c in owned], "scheduled": False}
        return
    op = gov.schedule(timelock, [gov.call(c.acceptOwnership) for c in owned], deployer)
    if g.delay == 0 or development:
        if chain[-1].timestamp < op.ready_at:
            gov.wait(op)
        gov.execute(timelock, op, deployer)
        for c in owned:
            if c.owner() != timelock.address:
                raise RuntimeError(f"{c.address}: owner {c.owner()} after hand-over")
        return
    d.pending = {
        "operation": op.id,
        "ready_at": op.ready_at,
        "calls": [str(c.address) for c in owned],
        "salt": "0x" + op.salt.hex(),
        "scheduled": True,
    }


def test_config(
    feeds: Mapping[int, tuple[int, int, int, int]],
    *,
    signers: Sequence[str] | None = None,
    quorum: int = 3,
    collateral: Sequence[TokenSpec] = (),
    settlement: TokenSpec = TokenSpec("USDC", 6),
    timelock: bool = False,
) -> DeployConfig:
    """A config built in code (tests and benchmarks): {feedId: (minPrice, maxPrice, maxVol,
    perpOiCap)} [wad], test tokens, the deployer keeping every owner power unless `timelock`."""
    names = {1: "BTC", 2: "ETH"}
    return DeployConfig(
        feeds=tuple(
            FeedSpec(fid, names.get(fid, f"F{fid}"), lo, hi, vol, cap)
            for fid, (lo, hi, vol, cap) in feeds.items()
        ),
        settlement=settlement,
        collateral=tuple(collateral),
        signers=tuple(signers) if signers is not None else None,
        quorum=quorum,
        governance=replace(GovernanceSpec(), timelock=timelock),
    )


def address_file(network: str) -> Path:
    """Where `keel deploy` writes a network's address file (ignored by git)."""
    return ROOT / ".keel" / f"deployment-{network}.json"


def deployer_account(development: bool):
    """Who deploys: anvil's dev account 0 on a development chain (TEST KEY); elsewhere the brownie
    account named by $KEEL_DEPLOYER, or the key in $KEEL_DEPLOYER_KEY (never in a file here)."""
    import os

    from brownie import accounts

    if development:
        return accounts[0]
    if os.environ.get("KEEL_DEPLOYER_KEY"):
        return accounts.add(os.environ["KEEL_DEPLOYER_KEY"])
    if os.environ.get("KEEL_DEPLOYER"):
        return accounts.load(os.environ["KEEL_DEPLOYER"])
    raise ConfigError("deployer: set KEEL_DEPLOYER (a brownie account) or KEEL_DEPLOYER_KEY")


def deploy_from_cli(config: str | Path | None = None, out: str | Path | None = None) -> Deployment:
    """Deploy `config` on the connected brownie network from its deployer; write the address file
    (default .keel/deployment-<network>.json) and print where everything went."""
    from brownie import network

    cfg = DeployConfig.load(config)
    name = network.show_active()
    development = name in ("development", "anvil")
    d = deploy(cfg, deployer_account(development), development=development)
    path = d.write(out or address_file(name))
    for role, c in d.contracts.items():
        print(f"  {role:<11}{c.address}")
    for symbol, t in d.tokens.items():
        print(f"  {symbol:<11}{t.address}")
    if d.pending:
        print(f"timelock hand-over pending: {d.pending}")
    print(f"deployed on {name} (chain id {d.chain_id}) -> {path}")
    return d
