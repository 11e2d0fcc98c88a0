"""A market crash liquidated by the keeper running as a real, separate process (SPEC §7, INV-3, INV-5).

On anvil: a population of accounts holding realistic books (bench/portfolios.json's strategy books
and PM portfolios, plus directional traders: leveraged perps, perps on their own coin as collateral,
short puts), every position opened by a signed trade against a market maker, each account left
between 1.05× and 4× its initial margin by withdrawing its spare cash. The keeper
(`python -m keeper run ...`) is started as a subprocess and follows the chain. Then one oracle update
crashes ETH by 40% and BTC by 35% (the circuit breaker trips: liquidations must keep working).
The test only moves time (5 min per step, feeds re-reported at the crash prices) and watches.

Checked afterwards, from the chain and its events:
  - every account below MM after the crash had an auction started, and no account is left below
    MM or in auction (INV-3: an account below MM with fresh prices can always be liquidated);
  - every account that was above IM before the crash and whose portfolio absorbs the move (its
    equity at the crash prices, by the reference model, is positive) ends solvent (E > 0);
  - the keeper's reference-model pre-filter never missed an account the chain found below MM;
  - waterfall (INV-5): each insolvent bid's receipt −E + bonus = paid by the fund + socialised;
    the fund paid out what the vault's InsurancePaid events record; a socialised loss lowered the
    cash index, and only then did it move.
The bad debt, insurance-fund usage and socialised loss are printed. Funding is switched off so that
E does not drift with the time the test moves. Every loop and wait is bounded (well under 5 min).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import brownie
import pytest
from brownie import chain

from keel.deploy_engine import BTC, ETH, WAD, deploy_stack, open_account, push_prices
from keel.risk import compute_margin
from keel.risk_chain import reference_inputs
from tests.fixtures.keeper import crash, events_of, load_books, open_book

ROOT = Path(__file__).resolve().parents[2]
USDC = 10**6
MOVES = {ETH: -0.40, BTC: -0.35}
STEP = 300  # [s] chain time per watch step
MAX_STEPS = 60  # 5 h of chain time at most
WALL_BUDGET = 240.0  # [s] for the watch loop


def key(name: str) -> bytes:
    return name.encode().ljust(32, b"\0")


def trim_to(stack, acct: int, owner, multiple: float) -> None:
    """Withdraws spare USDC cash so that AE ≈ multiple·IM (never below IM)."""
    e, ae, im = (int(x) for x in stack.engine.marginBreakdown(acct)[:3])
    cash = int(stack.vault.cashOf(acct))
    spare = (ae - int(multiple * im)) * 100 // 99  # positive cash carries a 1% haircut
    amount = min(spare, cash) // 10**12  # USDC units, rounded down
    if amount > 0:
        stack.vault.withdraw(acct, stack.usdc, amount, owner, {"from": owner})


def directional_books() -> dict:
    perp = lambda u, q: {"type": "perp", "underlying": u, "size": q}  # noqa: E731
    put = {"type": "option", "underlying": "ETH", "expiry_days": 14, "strike": 0.9, "kind": "put"}
    return {
        "long_btc_5x": {"collateral": {"USDC": 40_000}, "positions": [perp("BTC", 3)]},
        "long_eth_3x": {"collateral": {"USDC": 60_000}, "positions": [perp("ETH", 60)]},
        "short_btc": {"collateral": {"USDC": 30_000}, "positions": [perp("BTC", -2)]},
        "long_eth_on_weth": {"collateral": {"WETH": 20}, "positions": [perp("ETH", 30)]},
        "long_btc_on_wbtc": {"collateral": {"WBTC": 1}, "positions": [perp("BTC", 1)]},
        "short_eth_puts": {"collateral": {"USDC": 60_000}, "positions": [put | {"size": -40}]},
    }


@pytest.fixture(scope="module")
def crash_stack(deployer):
    s = deploy_stack(deployer)
    s.engine.setParam(key("fundingCapPerHour"), 0, {"from": deployer})
    units = 25_000 * USDC  # a small insurance fund: a crash this size may exhaust it
    s.usdc.mint(deployer, units, {"from": deployer})
    s.usdc.approve(s.vault, units, {"from": deployer})
    s.vault.fundInsurance(units, {"from": deployer})
    return s


@pytest.fixture(scope="module")
def population(crash_stack, accounts):
    """{account id: (name, owner)}; makers and the keeper's account are not in it."""
    s = crash_stack
    maker_owner = accounts[7]
    maker = (open_account(s, maker_owner, {"USDC": 200_000_000}), maker_owner)
    books = load_books()
    plan = [(n, books[n]) for n in books if n != "PM-32"] + list(directional_books().items())
    multiples = [1.05, 1.3, 1.8, 2.5, 4.0]
    owners = [accounts[i] for i in (1, 2, 3, 5, 8)]
    out = {}
    for i, (name, book) in enumerate(plan):
        owner = owners[i % len(owners)]
        extra = {"USDC": 300_000}  # room to open the book; trimmed afterwards
        merged = {**book, "collateral": {**book["collateral"]}}
        for k, v in extra.items():
            merged["collateral"][k] = merged["collateral"].get(k, 0) + v
        acct = open_book(s, owner, merged, maker)
        trim_to(s, acct, owner, multiples[i % len(multiples)])
        out[acct] = (name, owner)
    return {"accounts": out, "maker": maker}


def _log_events(log: Path) -> list[dict]:
    out = []
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


def _chain_state(s, ids):
    out = {}
    for a in ids:
        b = s.engine.marginBreakdown(a)
        out[a] = {"E": int(b[0]), "AE": int(b[1]), "IM": int(b[2]), "MM": int(b[3])}
        out[a]["auction"] = bool(s.liquidator.inAuction(a))
    return out


def _refresh(s, prices):
    chain.sleep(STEP)
    chain.mine()
    push_prices(s, prices)


@pytest.mark.slow
def test_crash_is_liquidated_by_the_keeper_process(crash_stack, population, accounts, tmp_path):
    s = crash_stack
    ids = sorted(population["accounts"])
    keeper_owner = accounts[4]
    keeper_acct = open_account(s, keeper_owner, {"USDC": 30_000_000})

    before = _chain_state(s, ids)
    assert all(b["AE"] >= b["IM"] for b in before.values()), "every book starts above IM"
    # what each portfolio is worth at the crash prices (reference model, positions as they are)
    market, portfolios = reference_inputs(s.engine, s.vault, s.oracle, ids)
    spot = {int(f): float(p) for f, p in zip(market.feed_ids, market.spot, strict=True)}
    crashed = market.with_feeds(
        spot=[spot[int(f)] * (1 + MOVES.get(int(f), 0.0)) for f in market.feed_ids]
    )
    # collateral tokens move with their own price feed
    crashed = replace(
        crashed,
        tokens=tuple(
            replace(t, price=t.price * (1 + MOVES.get(t.linked_feed, 0.0))) for t in crashed.tokens
        ),
    )
    e_crash = dict(zip(ids, compute_margin(crashed, portfolios).equity, strict=True))
    absorbs = {a for a in ids if e_crash[a] > 100.0}

    start_block = chain.height
    fund0, index0 = int(s.vault.insuranceFund()), int(s.vault.cashIndex())
    log = tmp_path / "keeper.log"
    args = [
        sys.executable, "-m", "keeper", "run", "--rpc", brownie.web3.provider.endpoint_uri,
        "--engine", s.engine.address, "--liquidator", s.liquidator.address,
        "--vault", s.vault.address, "--oracle", s.oracle.address,
        "--account", str(keeper_acct), "--anvil-index", "4", "--min-profit", "1",
        "--poll-interval", "0.2", "--scan-interval", "5", "--max-runtime", "280",
        "--state-file", str(tmp_path / "keeper-state.json"), "--log-format", "json",
    ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with open(log, "w") as fh:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not any(e["event"] == "cycle" for e in _log_events(log)):
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "keeper never completed a cycle"
            time.sleep(0.1)

        tx = crash(s, MOVES)
        assert "CircuitBreakerTripped" in tx.events  # the breaker tripped; liquidations go on
        prices = {f: tuple(s.oracle.feed(f)[:2]) for f in (BTC, ETH)}
        after = _chain_state(s, ids)
        below = {a for a, b in after.items() if b["AE"] < b["MM"]}
        assert below, "the crash should put accounts below MM"

        wall = time.monotonic() + WALL_BUDGET
        for _ in range(MAX_STEPS):
            time.sleep(2.0)  # let the keeper act on this chain time
            assert proc.poll() is None, log.read_text()[-3000:]
            state = _chain_state(s, ids)
            if not any(b["auction"] or b["AE"] < b["MM"] for b in state.values()):
                break
            assert time.monotonic() < wall, "liquidations did not finish in the wall budget"
            _refresh(s, prices)
        final = _chain_state(s, ids)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()

    liq = s.liquidator
    started = events_of(liq, "AuctionStarted", start_block)
    solvent = events_of(liq, "SolventBid", start_block)
    insolvent = events_of(liq, "InsolventBid", start_block)
    socialised_ev = events_of(liq, "LossSocialised", start_block)
    paid_ev = events_of(s.vault, "InsurancePaid", start_block)
    liquidated = {e["accountId"] for e in solvent + insolvent}
    bad_debt = sum(-e["equity"] for e in insolvent) / WAD
    bonus = sum(e["bonus"] for e in insolvent) / WAD
    from_fund = sum(e["fromFund"] for e in insolvent) / WAD
    socialised = sum(e["socialised"] for e in insolvent) / WAD
    penalties = sum(e["penalty"] for e in solvent) / WAD
    fund1, index1 = int(s.vault.insuranceFund()), int(s.vault.cashIndex())
    records = _log_events(log)
    print(
        f"\ncrash ETH {MOVES[ETH]:+.0%} BTC {MOVES[BTC]:+.0%}: {len(ids)} accounts, "
        f"{len(below)} below MM, {len(started)} auctions started, {len(liquidated)} liquidated "
        f"({len(solvent)} solvent bids, {len(insolvent)} insolvent bids)\n"
        f"bad debt ${bad_debt:,.2f} (+ bonuses ${bonus:,.2f}); insurance fund paid "
        f"${from_fund:,.2f} (fund ${fund0 / WAD:,.2f} -> ${fund1 / WAD:,.2f}, penalties in "
        f"${penalties:,.2f}); socialised ${socialised:,.2f} (cash index {index0 / WAD:.6f} -> "
        f"{index1 / WAD:.6f}); keeper decisions logged: "
        f"{sum(e['event'] == 'decision' for e in records)}"
    )

    print(
        f"{'account':>7} {'book':<22} {'AE/IM before':>12} {'E at crash':>12} {'E final':>12}  fate"
    )
    for a in ids:
        fate = "insolvent bid" if a in {e["accountId"] for e in insolvent} else (
            "solvent bid" if a in {e["accountId"] for e in solvent} else (
                "auctioned" if a in {e["accountId"] for e in started} else "-"))  # fmt: skip
        b = before[a]
        ratio = f"{b['AE'] / b['IM']:.2f}" if b["IM"] else "no risk"
        print(
            f"{a:>7} {population['accounts'][a][0]:<22} {ratio:>12} {e_crash[a]:>12,.0f}"
            f" {final[a]['E'] / WAD:>12,.0f}  {fate}"
        )
    print(f"{len(absorbs)} accounts absorb the move (model E at crash prices > $100)")

    # INV-3: every account below MM was auctioned, and none is left below MM or in auction
    assert below <= {e["accountId"] for e in started}
    stuck = {a: b for a, b in final.items() if b["auction"] or b["AE"] < b["MM"]}
    assert not stuck, stuck
    # accounts above IM before whose portfolio absorbs the move end solvent
    for a in absorbs:
        assert final[a]["E"] > 0, (a, population["accounts"][a][0], final[a], e_crash[a])
    # INV-5: receipts = fund + socialised; fund usage and socialisation seen by the vault
    for e in insolvent:
        assert e["fromFund"] + e["socialised"] == -e["equity"] + e["bonus"]
    assert sum(e["amount"] for e in paid_ev) / WAD == pytest.approx(from_fund, abs=1e-9)
    assert sum(e["amount"] for e in socialised_ev) / WAD == pytest.approx(socialised, abs=1e-9)
    assert (index1 < index0) == (socialised > 0)
    # the keeper's own account stays above IM and the keeper never crashed
    kb = s.engine.marginBreakdown(keeper_acct)
    assert kb[1] >= kb[2]
    assert not any(e["event"] == "cycle-failed" for e in records)
    # the reference-model pre-filter never missed an account the chain found below MM
    assert not any(e["event"] == "prefilter-miss" for e in records)
