"""The keeper's use of the reference model: pre-filter (screen) and what-if of an absorbed slice."""

import pytest

from keel.risk import Account, CollateralToken, MarketState, Perp, Portfolios, compute_margin
from keeper.model import absorb, carry, screen

BTC, ETH = 1, 2


@pytest.fixture
def market():
    feeds = {BTC: (60_000.0, 0.6, 1_700_000_000), ETH: (3_000.0, 0.75, 1_700_000_000)}
    weth = CollateralToken("WETH", 3_000.0, 18, ETH, 0.05, 0.25, 0.80)
    return MarketState.build(feeds, [weth])


def perp_account(i, cash, size=1.0, entry=60_000.0):
    return Account(account_id=i, cash=cash, perps=[Perp(BTC, size, entry)])


def test_screen_flags_exactly_the_accounts_below_maintenance_plus_tolerance(market):
    # 1 BTC long: scan range clamp(2.576·0.6·√(2/365)) = 0.16·60,000 → IM 9,600, MM 7,680;
    # AE = cash − 1% haircut of positive cash
    accounts = [perp_account(1, 20_000.0), perp_account(2, 7_000.0), perp_account(3, 7_900.0)]
    s = screen(market, accounts, tolerance=0.05, slack=1.0)
    assert s.im == pytest.approx([9_600.0] * 3)
    assert s.mm == pytest.approx([7_680.0] * 3)
    # account 3: AE 7,821 < 7,680·1.05 + 1 = 8,065 -> a candidate though above MM
    assert s.candidates == [2, 3]


def test_flat_accounts_are_never_candidates(market):
    s = screen(market, [Account(account_id=9, cash=10.0), Account(account_id=8, cash=-5.0)])
    assert s.candidates == [8]  # a debt with no positions: E <= 0


def test_absorb_takes_the_fraction_of_everything_and_moves_the_cash(market):
    keeper = Account(account_id=7, cash=100_000.0, collateral={"WETH": 1.0})
    victim = Account(
        account_id=2, cash=5_000.0, collateral={"WETH": 10.0}, perps=[Perp(BTC, 2.0, 50_000.0, 4.0)]
    )
    after = absorb(keeper, victim, 0.25, -1_000.0)
    assert after.cash == pytest.approx(100_000.0 + 1_250.0 - 1_000.0)
    assert after.collateral == {"WETH": pytest.approx(3.5)}
    assert after.perps == [Perp(BTC, 0.5, 50_000.0, 1.0)]
    # the equity moved is f·E_victim plus the cash delta
    r = compute_margin(market, Portfolios.from_accounts([keeper, victim, after], market))
    assert r.equity[2] == pytest.approx(r.equity[0] + 0.25 * r.equity[1] - 1_000.0)


def test_carry_reports_the_keepers_margin_before_and_after(market):
    keeper = Account(account_id=7, cash=100_000.0)
    victim = perp_account(2, 7_000.0)
    c = carry(market, keeper, victim, 0.5, -3_000.0)
    assert c.im_before == 0.0
    assert c.im_after == pytest.approx(4_800.0)  # half a BTC: 0.5·9,600
    assert c.delta_im == pytest.approx(4_800.0)
    # AE after: cash 100,000 + 3,500 − 3,000 less 1% haircut of positive cash
    assert c.ae_after == pytest.approx(100_500.0 * 0.99)
