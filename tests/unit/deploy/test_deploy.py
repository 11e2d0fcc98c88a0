"""The one deployer (keel.deploy): the whole system from config/deploy.yaml, wired, governed.

What a deployment must be, checked on the chain: every contract present and wired to the others
(modules, hook, registrar, store, exchange, liquidator), the feeds, perps and collateral of the
config, and every owner power behind the timelock (the deployer keeps none). A bad config is
refused with one line naming the field, before anything is sent.
"""

import json
from dataclasses import replace

import pytest
from brownie import ZERO_ADDRESS, accounts, chain

from keel.deploy import (
    DEFAULT_CONFIG,
    OWNED,
    ConfigError,
    DeployConfig,
    GovernanceSpec,
    deploy,
)
from keel.governance import ANYONE, execute, param_key, wait
from tests.support import reverts
from tests.unit.governance.helpers import READY, b32, state_bitmap

WAD = 10**18


@pytest.fixture(scope="module")
def config():
    return DeployConfig.load()


@pytest.fixture(scope="module")
def deployed(config):
    return deploy(config, accounts[0], development=True)


def test_the_default_config_is_the_documented_one(config):
    assert [(f.id, f.symbol) for f in config.feeds] == [(1, "BTC"), (2, "ETH")]
    assert config.feeds[0].min_price == 10 * WAD and config.feeds[0].max_price == 10**7 * WAD
    assert config.feeds[1].min_price == WAD // 10 and config.feeds[1].perp_oi_cap == 200_000 * WAD
    assert (config.settlement.symbol, config.settlement.decimals) == ("USDC", 6)
    assert [(t.symbol, t.decimals, t.feed) for t in config.collateral] == [
        ("WETH", 18, 2),
        ("WBTC", 8, 1),
    ]
    assert config.signers is None and config.quorum == 3
    assert config.governance == GovernanceSpec(True, 86_400, (), None)


def test_everything_is_deployed_and_wired(deployed, config):
    d = deployed
    assert set(d.contracts) == {
        "oracle", "vault", "engine", "store", "exchange", "liquidator", "lens", "jointLoss", "timelock",
    }  # fmt: skip
    assert d.engine.store() == d.store and d.engine.exchange() == d.exchange
    assert d.engine.liquidator() == d.liquidator
    assert d.vault.isModule(d.engine) and d.vault.isModule(d.liquidator)
    assert not d.vault.isModule(d.exchange)
    assert d.vault.marginHook() == d.engine
    assert d.oracle.isRegistrar(d.engine)
    assert d.lens.engine() == d.engine
    assert d.engine.settlementAsset() == d.tokens["USDC"]
    for f in config.feeds:
        assert d.engine.perpMarkets(f.id)[0]  # listed
        assert d.engine.openInterest(f.id)[1] == f.perp_oi_cap
    for t in config.collateral:
        cfg = d.vault.assetConfig(d.tokens[t.symbol])
        assert (cfg[0], cfg[1], cfg[2]) == (t.feed, t.feed, WAD // 20)  # SPEC §2 h0 5%
        assert d.tokens[t.symbol].decimals() == t.decimals


def test_every_owner_power_is_the_timelocks(deployed):
    d = deployed
    for role in OWNED:
        assert d.contracts[role].owner() == d.timelock
        assert d.contracts[role].pendingOwner() == ZERO_ADDRESS
    assert d.timelock.getMinDelay() == 86_400
    # the deployer keeps nothing: its owner call fails with OpenZeppelin's exact error
    with reverts("OwnableUnauthorizedAccount", accounts[0]):
        d.engine.setParam(param_key("mmRatio"), WAD // 2, {"from": accounts[0]})
    # anyone may execute a ready operation (executor role of address(0))
    assert d.timelock.hasRole(d.timelock.EXECUTOR_ROLE(), ANYONE)
    assert d.timelock.hasRole(d.timelock.PROPOSER_ROLE(), accounts[0])


def test_the_address_file_names_everything(deployed, tmp_path):
    d = deployed
    data = json.loads(d.write(tmp_path / "deployment.json").read_text())
    assert data["version"] == 1 and data["chain_id"] == chain.id
    assert data["contracts"] == {role: c.address for role, c in d.contracts.items()}
    assert data["tokens"]["WBTC"] == {"address": d.tokens["WBTC"].address, "decimals": 8, "feed": 1}
    assert data["feeds"] == {"BTC": 1, "ETH": 2}
    assert data["governance"] == {"timelock": True, "delay": 86_400, "pending_handover": None}


def test_params_are_set_before_the_hand_over(config):
    cfg = replace(config, params={"engine": {"mmRatio": 8 * WAD // 10}}, insurance=1_000 * 10**6)
    d = deploy(cfg, accounts[0], development=True)
    assert d.engine.mmRatio() == 8 * WAD // 10
    assert d.vault.insuranceFund() == 1_000 * WAD  # $1,000 in wad USD
    assert d.tokens["USDC"].balanceOf(d.vault) == 1_000 * 10**6


def test_off_a_development_chain_the_hand_over_waits_its_delay(config):
    """Live networks: no time travel, so the acceptance is scheduled and recorded as pending; it
    runs once the delay has passed, and only then does the timelock own the contracts."""
    dev = deploy(replace(config, governance=GovernanceSpec(timelock=False)), accounts[0],
                 development=True)  # fmt: skip
    tokens = tuple(
        replace(t, address=dev.tokens[t.symbol].address)
        for t in (config.settlement, *config.collateral)
    )
    live = replace(
        config,
        settlement=tokens[0],
        collateral=tokens[1:],
        signers=tuple(a.address for a in accounts[5:9]),  # 3 of 4
        governance=GovernanceSpec(delay=3_600),
    )
    d = deploy(live, accounts[0], development=False)
    assert d.pending["scheduled"] and d.pending["ready_at"] >= chain[-1].timestamp + 3_600
    for role in OWNED:
        assert d.contracts[role].owner() == accounts[0]
        assert d.contracts[role].pendingOwner() == d.timelock
    from keel.governance import Operation, call

    op = Operation(
        tuple(call(d.contracts[r].acceptOwnership) for r in OWNED),
        b"\0" * 32,
        bytes.fromhex(d.pending["salt"][2:]),
        d.pending["operation"],
        d.pending["ready_at"],
    )
    with reverts("TimelockUnexpectedOperationState", b32(op.id), state_bitmap(READY)):
        execute(d.timelock, op, accounts[9])  # not before the delay
    wait(op)
    execute(d.timelock, op, accounts[9])  # anyone
    assert all(d.contracts[r].owner() == d.timelock for r in OWNED)


def test_live_networks_refuse_test_tokens_and_dev_signers(config):
    with pytest.raises(ConfigError, match=r"^tokens USDC, WETH, WBTC: an address is needed"):
        deploy(config, accounts[0], development=False)
    with_tokens = replace(
        config,
        settlement=replace(config.settlement, address=accounts[1].address),
        collateral=tuple(replace(t, address=accounts[1].address) for t in config.collateral),
    )
    with pytest.raises(ConfigError, match=r"^oracle.signers: dev signers are for development"):
        deploy(with_tokens, accounts[0], development=False)


BAD = [
    ("feeds: []", "feeds: at least one feed is needed"),
    ("bogus: 1", "bogus: unknown key"),
    (
        "feeds: [{id: 1, symbol: BTC, min_price: 10, max_price: 10, max_vol: 1, perp_oi_cap: 1}]",
        "feeds[0]: min_price 10 is not below max_price 10",
    ),
    (
        "feeds: [{id: 1, symbol: BTC, min_price: -1, max_price: 10, max_vol: 1, perp_oi_cap: 1}]",
        "feeds[0].min_price: must be a positive number, got -1",
    ),
    (
        "feeds: [{id: 1, symbol: BTC, min_price: 1, max_price: 10, max_vol: 1, perp_oi_cap: 1},"
        " {id: 1, symbol: ETH, min_price: 1, max_price: 10, max_vol: 1, perp_oi_cap: 1}]",
        "feeds: duplicate feed id in [1, 1]",
    ),
    ("collateral: [{symbol: SOL, decimals: 9, feed: 7}]", "collateral.SOL.feed: 7 is not a listed"),
    ("oracle: {signers: dev, quorum: 0}", "oracle.quorum: 0 outside [1, None]"),
    ("oracle: {signers: dev, quorum: 2}", "oracle.quorum: 2 of 5 signers tolerates no faulty"),
    ("oracle: {signers: dev, quorum: 5}", "oracle.quorum: 5 of 5 signers tolerates no faulty"),
    (
        "oracle: {signers: ['0x" + "11" * 20 + "', '0x" + "22" * 20 + "', '0x" + "33" * 20 + "'],"
        " quorum: 3}",
        "oracle.quorum: 3 of 3 signers tolerates no faulty",
    ),
    ("oracle: {signers: [alice], quorum: 1}", "oracle.signers: 'dev' or a list of 0x addresses"),
    ("governance: {delay: 2600000}", "governance.delay: 2600000 outside [0, 2592000]"),
    ("governance: {guardian: bob}", "governance.guardian: not an address: 'bob'"),
    ("params: {exchange: {x: 1}}", "params: a map of oracle, vault, engine, liquidator"),
    ("insurance: -5", "insurance: must be a number ≥ 0, got -5"),
    ("settlement: {symbol: USDC, decimals: 6, feed: 1}", "settlement.feed: the settlement token"),
]


@pytest.mark.parametrize("change,message", BAD, ids=[m.split(":")[0] for _, m in BAD])
def test_a_bad_config_is_refused_in_one_line(tmp_path, change, message):
    import yaml

    base = yaml.safe_load(DEFAULT_CONFIG.read_text())
    base.update(yaml.safe_load(change))
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(base))
    with pytest.raises(ConfigError) as e:
        DeployConfig.load(path)
    assert str(e.value).startswith(f"{path}: {message}")
    assert "\n" not in str(e.value)


def test_a_missing_or_broken_file_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"nope.yaml: no such config file$"):
        DeployConfig.load(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("feeds: [\n")
    with pytest.raises(ConfigError, match=r"broken.yaml: not YAML"):
        DeployConfig.load(broken)
