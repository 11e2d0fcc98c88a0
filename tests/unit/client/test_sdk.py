"""The trader's SDK (keel.client.Keel) against the embedded chain, web3 only.

What a trader relies on, checked against the chain or the reference model, never the SDK against
itself: amounts land in exact token units; the 31 scenario P&Ls it shows give the chain's worst
loss and scenario; what-if figures equal the chain's after the trade really executes; a
liquidation price is where the chain's AE crosses MM; refusals are one line and change nothing.
"""

from decimal import Decimal

import pytest
from brownie import accounts, chain

from keel.chain import rpc_url
from keel.client import ClientError, Keel, Trade
from keel.deploy_engine import BTC, ETH, WAD, model_price, push_prices, signing_key
from keel.orders import OPTION_INSTRUMENT_BASE
from keel.risk.chain_inputs import agrees
from tests.fixtures.engine import option

USDC = 10**6


@pytest.fixture(scope="module")
def deployment(stack):
    return stack.deployment.addresses()


@pytest.fixture(scope="module")
def alice_k(stack, deployment):
    """A trader with USDC, WETH and WBTC in her wallet (test tokens), connected by key."""
    owner = accounts[1]
    stack.usdc.mint(owner, 1_000_000 * USDC, {"from": owner})
    stack.weth.mint(owner, 100 * WAD, {"from": owner})
    stack.wbtc.mint(owner, 10 * 10**8, {"from": owner})
    return Keel.connect(rpc_url(), deployment, key=signing_key(owner))


@pytest.fixture(scope="module")
def bob_k(stack, deployment):
    owner = accounts[2]
    stack.usdc.mint(owner, 1_000_000 * USDC, {"from": owner})
    return Keel.connect(rpc_url(), deployment, key=signing_key(owner))


@pytest.fixture(scope="module")
def funded(alice_k, bob_k):
    """Alice's and Bob's accounts, each with $200,000 of USDC."""
    a = alice_k.open_account()
    b = bob_k.open_account()
    alice_k.deposit(a, "USDC", "200000")
    bob_k.deposit(b, "USDC", "200000")
    return a, b


def test_open_and_list_accounts(stack, alice_k):
    acct = alice_k.open_account()
    assert stack.vault.accountOwner(acct) == alice_k.address
    assert acct in alice_k.accounts()
    assert acct not in alice_k.accounts(accounts[5].address)


def test_deposits_land_in_exact_units(stack, alice_k):
    acct = alice_k.open_account()
    alice_k.deposit(acct, "USDC", "1000.5")
    alice_k.deposit(acct, "WBTC", Decimal("0.00000001"))  # one satoshi
    alice_k.deposit(acct, "WETH", "1.25")
    assert stack.vault.cashOf(acct) == 1000_500_000_000_000_000_000  # $1,000.5 in wad
    assert stack.vault.collateralBalance(acct, stack.wbtc) == 1
    assert stack.vault.collateralBalance(acct, stack.weth) == 125 * 10**16
    shown = alice_k.account(acct)
    assert shown["collateral"] == {"WBTC": "1E-8", "WETH": "1.25"}
    assert shown["cash"] == 1000.5 and shown["owner"] == alice_k.address
    alice_k.withdraw(acct, "WETH", "0.25")
    assert stack.vault.collateralBalance(acct, stack.weth) == WAD


BAD_AMOUNTS = [
    ("USDC", "0.0000001", "USDC amount: 0.0000001 has more than 6 decimals"),
    ("USDC", "0", "USDC amount: must be positive, got 0"),
    ("USDC", "-5", "USDC amount: must be positive, got -5"),
    ("USDC", 0.1, "USDC amount: pass 0.1 as a string or Decimal, not a float"),
    ("USDC", "ten", "USDC amount: not a number: 'ten'"),
    ("USDC", "NaN", "USDC amount: not a finite number: 'NaN'"),
    ("DOGE", "1", "unknown token 'DOGE' (this deployment has USDC, WETH, WBTC)"),
    ("USDC", "2000000", "USDC: balance "),
]


@pytest.mark.parametrize("token,amount,message", BAD_AMOUNTS)
def test_bad_deposits_are_refused_and_change_nothing(stack, alice_k, token, amount, message):
    acct = alice_k.open_account()
    before = (stack.vault.cashOf(acct), stack.usdc.balanceOf(alice_k.address), chain.height)
    with pytest.raises(ClientError) as e:
        alice_k.deposit(acct, token, amount)
    assert str(e.value).startswith(message)
    assert (stack.vault.cashOf(acct), stack.usdc.balanceOf(alice_k.address), chain.height) == before


def test_a_refused_transaction_names_the_keel_error_and_sends_nothing(stack, alice_k):
    acct = alice_k.open_account()
    alice_k.deposit(acct, "USDC", "100")
    height = chain.height
    with pytest.raises(ClientError, match=r"^withdraw: WithdrawalBelow|^withdraw: Insufficient"):
        alice_k.withdraw(acct, "USDC", "100.000001")
    assert chain.height == height
    with pytest.raises(ClientError, match=r"^this needs a key"):
        Keel.connect(rpc_url(), alice_k.deployment).open_account()


def _trade(maker: Keel, maker_acct, taker: Keel, taker_acct, instrument, size, price):
    """The taker trades `size` (its own side: + buys) against the maker's signed order."""
    order, sig = maker.order(maker_acct, instrument, -Decimal(str(size)), price)
    return taker.fill(order, sig, taker_acct)


def _chain_figures(stack, acct) -> dict:
    b = stack.engine.marginBreakdown(acct)
    return {"equity": b[0], "adjusted_equity": b[1], "initial_margin": b[2],
            "maintenance_margin": b[3], "scan_risk": b[4], "short_option_minimum": b[5]}  # fmt: skip


def _assert_agree(model, chain_wad: dict):
    for name, wad in chain_wad.items():
        assert agrees(getattr(model, name), wad / WAD), (name, getattr(model, name), wad / WAD)


def test_margin_scenarios_give_the_chains_worst_losses(stack, alice_k, bob_k, funded):
    """The chain returns each underlying's worst loss and scenario; the SDK's 31 P&Ls (reference
    model) must reproduce both."""
    a, b = funded
    series = option(stack, BTC, 64_000 * WAD, 20, True) - OPTION_INSTRUMENT_BASE
    _trade(bob_k, b, alice_k, a, "BTC", "0.4", "60000")  # Alice buys 0.4 BTC perp
    _trade(bob_k, b, alice_k, a, "ETH", "-3", "3000")
    price = Decimal(model_price(stack, OPTION_INSTRUMENT_BASE + series)) / WAD
    _trade(bob_k, b, alice_k, a, f"series:{series}", "-1", str(price.quantize(Decimal("0.01"))))
    m = alice_k.margin(a)
    raw = stack.engine.marginBreakdown(a)
    assert m.initial_margin == raw[2] / WAD and m.maintenance_margin == raw[3] / WAD
    assert {u.feed_id for u in m.underlyings} == {BTC, ETH}
    for u, (feed, _rng, loss, worst) in zip(m.underlyings, raw[8], strict=True):
        assert u.feed_id == feed
        assert agrees(max(0.0, -min(u.pnl)), loss / WAD)
        assert u.pnl.index(min(u.pnl)) == worst
    joint = [sum(u.pnl[j] for u in m.underlyings) for j in range(31)]
    assert joint.index(min(joint)) == raw[7]


@pytest.mark.parametrize(
    "trades",
    [
        [("BTC", "0.25", "60000")],  # adds to a long: realised PnL into cash, one entry
        [("BTC", "-0.65", "60000")],  # flips the long to a short
        [("ETH", "3", "3000"), ("BTC", "-0.4", "60000")],  # closes both
        [("series", "2", None)],  # an option: premium and the capped fee
    ],
    ids=["add", "flip", "close-two", "option"],
)
def test_what_if_is_what_executing_gives(stack, alice_k, bob_k, funded, trades):
    """What-if (reference model + the engine's fill rules, nothing sent) agrees with the chain's
    breakdown after the same trades really execute. Funding accrues every second between a
    what-if and its fills, so the funding cap is 0 here: both see one funding index."""
    a, b = funded
    stack.engine.setParam(b"fundingCapPerHour".ljust(32, b"\0"), 0, {"from": stack.deployer})
    series = option(stack, BTC, 62_000 * WAD, 30, False) - OPTION_INSTRUMENT_BASE
    _trade(bob_k, b, alice_k, a, "BTC", "0.4", "60000")
    _trade(bob_k, b, alice_k, a, "ETH", "-3", "3000")
    push_prices(stack, {BTC: (60_500 * WAD, 6 * WAD // 10), ETH: (2_990 * WAD, 75 * WAD // 100)})
    concrete = []
    for inst, size, price in trades:
        if inst == "series":
            inst = f"series:{series}"
            price = str((Decimal(model_price(stack, OPTION_INSTRUMENT_BASE + series)) / WAD)
                        .quantize(Decimal("0.01")))  # fmt: skip
        elif inst == "BTC":
            price = "60500"
        else:
            price = "2990"
        concrete.append(Trade(inst, size, price))
    w = alice_k.what_if(a, concrete)
    _assert_agree(w.before, _chain_figures(stack, a))
    for t in concrete:
        _trade(bob_k, b, alice_k, a, t.instrument, t.size, t.price)
    after = _chain_figures(stack, a)
    _assert_agree(w.after, after)  # the reference model's what-if
    for name, wad in after.items():  # the chain's MarginLens view: to the wei
        assert getattr(w.chain_after, name) == wad / WAD, name


def test_what_if_refuses_nonsense(alice_k, funded):
    a, _ = funded
    with pytest.raises(ClientError, match=r"^what-if: no trade given"):
        alice_k.what_if(a, [])
    with pytest.raises(ClientError, match=r"^trade size: must not be 0"):
        alice_k.what_if(a, [Trade("BTC", "0", "60000")])
    with pytest.raises(ClientError, match=r"^unknown underlying 'SOL'"):
        alice_k.what_if(a, [Trade("SOL", "1", "100")])
    with pytest.raises(ClientError, match=r"^series: UnknownSeries\(999\)"):
        alice_k.what_if(a, [Trade("series:999", "1", "100")])
    with pytest.raises(ClientError, match=r"^unknown account 4242"):
        alice_k.what_if(4242, [Trade("BTC", "1", "60000")])


def test_liquidation_price_is_where_the_chain_crosses_mm(stack, alice_k, bob_k):
    """A leveraged BTC long: the SDK's liquidation spot S* (reference model) is where the chain's
    AE falls below MM: a millionth above S* the account is not liquidatable, a millionth below it
    is. (Funding capped at 0: the price pushes take seconds, over which funding would move E.)"""
    stack.engine.setParam(b"fundingCapPerHour".ljust(32, b"\0"), 0, {"from": stack.deployer})
    a = alice_k.open_account()
    alice_k.deposit(a, "USDC", "6000")
    b = bob_k.open_account()
    bob_k.deposit(b, "USDC", "100000")
    _trade(bob_k, b, alice_k, a, "BTC", "0.5", "60000")
    lp = alice_k.liquidation_price(a, "BTC")
    assert lp.above is None and not lp.liquidatable_now
    assert 50_000 < lp.below < 60_000
    vol, eth = 6 * WAD // 10, (3_000 * WAD, 75 * WAD // 100)
    for factor, liquidatable in ((1 + 1e-6, False), (1 - 1e-6, True)):
        push_prices(stack, {BTC: (int(lp.below * factor * WAD), vol), ETH: eth})
        ae, mm = stack.engine.marginBreakdown(a)[1], stack.engine.marginBreakdown(a)[3]
        assert (ae < mm) is liquidatable, (factor, ae, mm)


def test_a_wrong_chain_or_file_is_refused(tmp_path, deployment):
    with pytest.raises(ClientError, match=r"is chain 1337, the deployment is on chain 5$"):
        Keel.connect(rpc_url(), {**deployment, "chain_id": 5})
    with pytest.raises(ClientError, match=r"nope.json: no deployment address file"):
        Keel.connect(rpc_url(), tmp_path / "nope.json")
    broken = {k: v for k, v in deployment.items() if k != "contracts"}
    with pytest.raises(ClientError, match=r"^deployment file: missing contracts, contracts.oracle"):
        Keel.connect(rpc_url(), broken)


def test_an_unreachable_rpc_is_one_line(deployment):
    from keel.chain import free_port
    from keel.client.rpc import RetryPolicy

    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ClientError) as e:
        Keel(url, deployment, retry=RetryPolicy(base=0.01, cap=0.02, max_attempts=2))
    assert str(e.value).startswith(f"{url}: no answer (") and "\n" not in str(e.value)


def test_params_publish_every_risk_parameter(stack, alice_k):
    p = alice_k.params()
    assert p["margin"]["mmRatio"] == str(Decimal(stack.engine.mmRatio()) / WAD)
    assert p["margin"]["maxSeriesPerUnderlying"] == stack.engine.maxSeriesPerUnderlying()
    assert p["liquidation"]["keeperFee"] == str(Decimal(stack.liquidator.keeperFee()) / WAD)
    assert p["oracle"]["quorum"] == stack.oracle.quorum()
    assert set(p["underlyings"]) == {"BTC", "ETH"}
    assert p["collateral"]["WBTC"]["decimals"] == 8
    assert p["collateral"]["WETH"]["base_haircut"] == "0.05"
