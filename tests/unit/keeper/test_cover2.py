"""`keel-keeper cover2` on a real chain: every account read off the chain, the requirement checked
against a hand computation from the chain's own equity (MarginEngine.marginBreakdown) and the
positions, beside the insurance fund."""

import csv
import json
import math

import brownie
import pytest

from keel.deploy_engine import BTC, ETH, WAD, open_account, push_prices, trade
from keel.pricefile import DEFAULT_PRICE_FILE
from keeper.cli import main
from tests.support import console_script, run_tool

USDC = 10**6
FUND = 20_000  # [USD] paid into the insurance fund after the population opened
FEES = 0.0007 * (60_000 + 60_000 + 30_000)  # maker 2 + taker 5 bps of the three trades' notional
ETH_VOL = 1.2  # R_ETH = 22.88%, R_BTC = 16% (BTC vol 60%)


def scan(vol: float) -> float:
    return min(max(2.576 * vol * math.sqrt(2 / 365), 0.16), 0.50)


@pytest.fixture(scope="module")
def c2(stack, accounts, alice, bob, carol, deployer):
    """A maker and three linear books: alice long 1 BTC on $12k, bob short 20 ETH on $30k, carol
    long 10 ETH perp on 10 WETH and $9k. Returns the addresses and the block before the fund."""
    push_prices(stack, {BTC: (60_000 * WAD, 6 * WAD // 10), ETH: (3_000 * WAD, 12 * WAD // 10)})
    maker = (open_account(stack, accounts[7], {"USDC": 50_000_000}), accounts[7])
    books = {
        "alice": (open_account(stack, alice, {"USDC": 12_000}), alice, BTC, WAD),
        "bob": (open_account(stack, bob, {"USDC": 30_000}), bob, ETH, -20 * WAD),
        "carol": (open_account(stack, carol, {"USDC": 9_000, "WETH": 10}), carol, ETH, 10 * WAD),
    }
    for acct, owner, feed, size in books.values():
        trade(stack, maker, (acct, owner), feed, -size, stack.oracle.feed(feed)[0])
    unfunded = brownie.chain.height
    stack.usdc.mint(deployer, FUND * USDC, {"from": deployer})
    stack.usdc.approve(stack.vault, FUND * USDC, {"from": deployer})
    stack.vault.fundInsurance(FUND * USDC, {"from": deployer})
    brownie.chain.mine()
    return {"maker": maker[0], **{k: v[0] for k, v in books.items()}, "unfunded": unfunded}


def argv(stack, *extra):
    return [
        "cover2", "--rpc", brownie.web3.provider.endpoint_uri, "--engine", stack.engine.address,
        "--vault", stack.vault.address, "--oracle", stack.oracle.address, *extra,
    ]  # fmt: skip


def hand(stack, ids, block) -> dict[str, float]:
    """Scenario → the two largest max(0, −(E + exposure·x)), E from the chain's breakdown."""
    spot = {f: stack.oracle.feed(f, block_identifier=block)[0] / WAD for f in (BTC, ETH)}
    exposure, equity = {}, {}
    for a in ids:
        equity[a] = stack.engine.marginBreakdown(a, block_identifier=block)[0] / WAD
        exposure[a] = {
            f: stack.engine.perpPosition(a, f, block_identifier=block)[0] / WAD * spot[f]
            for f in (BTC, ETH)
        }
        weth = stack.vault.collateralBalance(a, stack.weth, block_identifier=block) / 1e18
        exposure[a][ETH] += weth * spot[ETH]
    rb, re = 3 * scan(0.6), 3 * scan(ETH_VOL)
    rows = list(csv.DictReader(DEFAULT_PRICE_FILE.open()))
    day = {r["date"]: (float(r["btc_usd"]), float(r["eth_usd"])) for r in rows}

    def ret(d, prev):
        return {BTC: day[d][0] / day[prev][0] - 1, ETH: day[d][1] / day[prev][1] - 1}

    moves = {
        "+3R all": {BTC: rb, ETH: re},
        "−3R all": {BTC: -rb, ETH: -re},
        "+3R BTC": {BTC: rb, ETH: 0.0},
        "−3R BTC": {BTC: -rb, ETH: 0.0},
        "+3R ETH": {BTC: 0.0, ETH: re},
        "−3R ETH": {BTC: 0.0, ETH: -re},
        "2017-09-14 joint fall": ret("2017-09-14", "2017-09-13"),
        "2019-04-02 joint rise": ret("2019-04-02", "2019-04-01"),
    }
    out = {}
    for name, x in moves.items():
        beyond = [max(0.0, -(equity[a] + sum(exposure[a][f] * x[f] for f in x))) for a in ids]
        out[name] = sum(sorted(beyond)[-2:])
    return out


def test_the_requirement_is_the_hand_computed_two_largest_losses(stack, c2, capsys):
    assert main([*argv(stack, "--json")]) == 0
    report = json.loads(capsys.readouterr().out)
    ids = list(range(1, stack.vault.accountCount() + 1))
    assert report["accounts"] == len(ids) == 4
    expected = hand(stack, ids, report["block"])
    got = {s["scenario"]: s["requirement"] for s in report["scenarios"]}
    assert list(got) == list(expected)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-9, abs=1e-6), name
    # −3R all: alice loses 28,800 on ≈ 11,970 and carol 41,190 on ≈ 38,995; bob gains
    assert report["binding_scenario"] == "−3R all"
    assert report["requirement"] == pytest.approx(max(expected.values()), rel=1e-9)
    assert 18_000 < report["requirement"] < FUND
    binding = next(s for s in report["scenarios"] if s["scenario"] == "−3R all")
    assert binding["accounts"] == [c2["alice"], c2["carol"]]
    assert report["insurance_fund"] == pytest.approx(FUND + FEES, abs=1e-9)
    assert report["met"] is True
    assert [d["day"] for d in report["historical_days"]] == ["2017-09-14", "2019-04-02"]


def test_the_console_script_prints_the_fund_beside_the_requirement(stack, c2, tmp_path):
    base = argv(stack)
    funded = run_tool([console_script("keel-keeper"), *base], cwd=tmp_path)
    assert funded.returncode == 0, funded.stderr
    lines = funded.stdout.splitlines()
    req = next(x for x in lines if x.startswith("requirement"))
    assert req.endswith("(−3R all)") and lines[-2] == f"insurance fund  ${FUND + FEES:,.2f}"
    assert lines[-1] == "met: the fund covers the two largest losses beyond equity"
    # the block before the fund was paid: the same books, only the fees in the fund
    early = run_tool(
        [console_script("keel-keeper"), *base, "--block", str(c2["unfunded"])], cwd=tmp_path
    )
    assert early.returncode == 0, early.stderr
    *_, req_line, fund_line, verdict = early.stdout.splitlines()
    assert fund_line == f"insurance fund  ${FEES:,.2f}"
    shown = float(req_line.split("$")[1].split()[0].replace(",", ""))
    assert verdict == f"NOT MET: the fund is ${shown - FEES:,.2f} short of the requirement"


def test_bad_input_is_one_line(stack, c2, tmp_path, capsys):
    assert main([*argv(stack, "--prices", str(tmp_path / "none.csv"))]) == 2
    assert capsys.readouterr().err == (
        f"keel-keeper cover2: error: {tmp_path / 'none.csv'}: no such file\n"
    )
    head = brownie.chain.height
    assert main([*argv(stack, "--block", str(head + 1))]) == 2
    assert capsys.readouterr().err == (
        f"keel-keeper cover2: error: --block {head + 1} is above the head {head}\n"
    )
    assert main([*argv(stack, "--block", str(head))]) == 0  # just inside


class FakeReader:
    """keel.client.chain.Reader's answers for one account: 1 BTC long (entry $60,000) on `cash`
    USD, BTC at $60,000 and 60% vol (R = 16%), and an insurance fund of `fund_wad`."""

    def __init__(self, cash: int, fund_wad: int):
        self.acc = {
            "id": 1, "cash": cash * WAD, "collateral": {},
            "perps": [{"feedId": BTC, "size": WAD, "entryPrice": 60_000 * WAD, "fundingOwed": 0}],
            "options": [],
        }  # fmt: skip
        self.fund_wad = fund_wad
        self.batch = self

    def c(self, *call):
        return call

    def values(self, calls, block):
        assert calls == [("vault", "accountCount")]
        return [1]

    def accounts(self, ids, block):
        assert list(ids) == [1]
        return [self.acc]

    def market(self, accounts, block):
        feeds = {BTC: {"price": 60_000 * WAD, "vol": 6 * WAD // 10, "observedAt": 1}}
        return feeds, [], 10**16, {}, {}, {}  # Reader.market: ..., params, correlations

    def insurance_fund(self, block):
        return self.fund_wad


def test_met_is_requirement_at_most_the_fund_just_inside_and_outside():
    from keel.client.cover2 import measure

    # −3R BTC: the long loses 60,000 · 48% = 28,800 on equity 20,000: 8,800 beyond
    need = measure(FakeReader(20_000, 0), 7)["requirement"]
    assert need == pytest.approx(8_800.0, rel=1e-12)
    need_wad = round(need * WAD)  # the wad nearest the requirement; ±1e-11 USD is resolvable
    inside = measure(FakeReader(20_000, need_wad + 10**7), 7)
    outside = measure(FakeReader(20_000, need_wad - 10**7), 7)
    assert inside["met"] is True and outside["met"] is False
    assert inside["block"] == 7 and inside["binding_scenario"] == "−3R all"
