"""INV-4: every figure of marginBreakdown equals the reference model's (keel.risk) within SPEC §6
tolerance (1e-9 relative or $1e-6 absolute), on hypothesis-generated portfolios.

Each example opens a portfolio on chain against a deep-pocketed counterparty account, reads it back
with keel.risk_chain at one block and compares line by line (and each perp's funding owed, which
the model computes itself from the funding index inputs, with the chain's: its integer rule on the
engine's `fundingIndex`). One
chain snapshot per example. Worst-scenario indices are compared only when the runner-up scenario is
not within tolerance.

What the generator covers (docs/INVARIANTS.md, INV-4, lists the contract mutations it kills):
- perps and options, long and short, on 1–4 of the 4 underlyings, expiries 25 min–2 years, deep
  ITM/OTM strikes, random spots and vols, fill prices anywhere inside the SPEC v2 §5 bands;
- funding: the perp mark sits off the spot (the fills' skew) and accrues for up to ~1 h, at rates
  both inside and beyond the funding cap;
- collateral: none, WETH, WBTC or both (priced by and linked to BTC and ETH);
- negative cash ("debt" examples): collateral carries the account, every dollar of cash is
  withdrawn, then realised perp PnL and funding, and a long option's premium and fee, are paid
  from cash;
- an expired series whose price is fixed (settled or not), one whose settlement window passed
  without a report (no price: intrinsic at S, still in SOM), and one expired by block time but
  not yet reported (the feed's last round is before the expiry: still valued with τ > 0);
- [v2] correlations of the 6 pairs across [−1, 1] (its edges, the stress's kinks, one negative ρ
  for every pair so that 3–4 underlyings need the PSD repair), pushed with the prices;
  the breakdown's L_ρ against the model's where both computed it;
- governance parameters: SOM rate in [0, 0.2] and MM ratio in [0.5, 1] (bounds included), set through the timelock (the engine is owned by a KeelTimelock;
  every example's series are listed by the same timelock operation);
- accounts at every limit (`test_account_at_the_limits_matches_reference_model`, on a deployment
  listing keel.bench.max_account's 8 collateral tokens): 4 underlyings, a perp on each, 16 series
  over 4 expiries per underlying and all 8 tokens, with or without a debt.
Explicit examples (EXPLICIT, EXPLICIT_AT_LIMITS) put every item above in every run.

Profiles: KEEL_PROFILE=ci (default) runs 200 portfolios and 3 limit accounts, local 1,000 and 25
(KEEL_DIFF_EXAMPLES / KEEL_DIFF_LIMIT_EXAMPLES override them). KEEL_DIFF_PHASES picks hypothesis
phases by name: "explicit,generate" reports the first failing example unshrunk, "generate" runs the
generated examples alone (mutation runs, tools/mutate.py).
"""

from __future__ import annotations

import itertools
import math
import os
import random
from types import SimpleNamespace

import numpy as np
import pytest
from brownie import chain, network
from hypothesis import HealthCheck, Phase, event, example, given, settings
from hypothesis import strategies as st

from keel.bench.max_account import COLLATERAL, refresh_stale
from keel.client.chain import funding_owed
from keel.deploy_engine import WAD, deploy_stack, model_price, push_prices, trade
from keel.deploy_vault import list_asset, volatile_config
from keel.governance import call, deploy_timelock, govern, hand_over
from keel.orders import option_instrument
from keel.risk.chain_inputs import agrees
from keel.risk.margin import compute_margin
from keel.risk_chain import MARGIN_FIGURES, chain_breakdown, reference_inputs
from tests.fixtures.governance import GOV_DELAY

PROFILE = os.environ.get("KEEL_PROFILE", "ci")
EXAMPLES = int(os.environ.get("KEEL_DIFF_EXAMPLES", {"ci": 200, "local": 1000}.get(PROFILE, 200)))
LIMIT_EXAMPLES = int(
    os.environ.get("KEEL_DIFF_LIMIT_EXAMPLES", {"ci": 3, "local": 25}.get(PROFILE, 3))
)


def _phases(spec: str) -> tuple:
    """Hypothesis phases named in `spec` (comma-separated, e.g. "explicit,generate"); all if empty."""
    names = [p for p in spec.split(",") if p]
    unknown = [p for p in names if p not in Phase.__members__]
    if unknown:
        raise ValueError(
            f"KEEL_DIFF_PHASES: unknown {unknown}, known: {', '.join(Phase.__members__)}"
        )
    return tuple(Phase[p] for p in names) or tuple(Phase)


PHASES = _phases(os.environ.get("KEEL_DIFF_PHASES", ""))
# each example is a chain snapshot: no deadline, no example database, no health checks
SETTINGS = dict(
    deadline=None, suppress_health_check=list(HealthCheck), database=None, phases=PHASES
)
YEAR = 365 * 86_400
HEARTBEAT = 3_600  # the oracle's freshness bound (Oracle heartbeat default)       [s]
SETTLEMENT_WINDOW = 900  # the oracle's settlement window default                  [s]
# a distinct gas price per example keeps transaction hashes unique across snapshot reverts (anvil
# and brownie lose track of a transaction whose hash was already seen in a reverted block)
GAS_PRICES = itertools.count(1)
FEEDS = {1: 60_000.0, 2: 3_000.0, 3: 150.0, 4: 15.0}  # BTC, ETH, SOL, LINK: reference spots [USD]
# collateral tokens (keel.bench.max_account's 8: two linked to each underlying)
TOKEN_FEED = {name: feed for name, _, feed in COLLATERAL}
TOKEN_DECIMALS = {"USDC": 6} | {name: dec for name, dec, _ in COLLATERAL}
ETH_BTC = ("WETH", "WBTC")  # deploy_stack's own, all the portfolio test lists (reads stay cheap)
# engine parameters (wad) and their SPEC / MarginEngine.setParam bounds
PARAM_BOUNDS = {
    "somRate": (0, 2 * 10**17),
    "mmRatio": (5 * 10**17, WAD),
}
MAX_UNDERLYINGS, MAX_EXPIRIES, MAX_SERIES = 4, 4, 16  # SPEC §4 per-account limits


def key(name: str) -> bytes:
    return name.encode().ljust(32, b"\0")


def wad(x: float) -> int:
    return int(round(x * WAD))


class Env(SimpleNamespace):
    """A deployment (short repr: hypothesis prints it with every failing example)."""

    def __init__(self, stack, tokens, cp, owner, timelock, proposer):
        super().__init__(
            stack=stack, tokens=tokens, cp=cp, owner=owner, timelock=timelock, proposer=proposer
        )
        self.market = {}  # the current example's {feed: (spot, vol)}
        self.pushed_at = 0  # observedAt of the last price push                      [unix s]

    def __repr__(self) -> str:
        return f"Env({', '.join(self.tokens)})"


def make_env(deployer, accounts, tokens: tuple[str, ...]) -> Env:
    """4 underlyings, collateral `tokens` listed, a counterparty, the engine owned by a timelock."""
    stack = deploy_stack(deployer, feeds={f: (wad(s), 6 * WAD // 10) for f, s in FEEDS.items()})
    tx = {"from": deployer}
    # random spots jump freely between examples: keep the breaker's reduce-only short
    stack.oracle.setParam(key("jumpThreshold"), WAD, tx)
    stack.oracle.setParam(key("coolDown"), 60, tx)
    stack.engine.setParam(key("defaultSeriesOiCap"), 10**30, tx)
    project = __import__("brownie").project.get_loaded_projects()[0]
    for name, dec, feed in COLLATERAL:
        if name in tokens and name not in ETH_BTC:
            token = project.MockERC20.deploy(name, name, dec, tx)
            list_asset(stack.vault, token, volatile_config(feed))
            stack.tokens[name] = token
    owner, whale, proposer = accounts[8], accounts[7], accounts[6]
    for who in (owner, whale):  # deposits need no minting per example
        for name in ("USDC", *tokens):
            token = stack.token(name)
            token.mint(who, 10**40, {"from": who})
            token.approve(stack.vault, 2**256 - 1, {"from": who})
    cp = stack.vault.openAccount({"from": whale}).return_value
    stack.vault.deposit(cp, stack.usdc, 10**12 * 10**6, {"from": whale})
    timelock = deploy_timelock(deployer, GOV_DELAY, [proposer], [proposer])
    hand_over(timelock, [stack.engine], proposer, owner=deployer)
    return Env(stack, tokens, (cp, whale), owner, timelock, proposer)


@pytest.fixture(scope="module")
def diff_env(deployer, accounts):
    return make_env(deployer, accounts, ETH_BTC)


@pytest.fixture(scope="module")
def limits_env(deployer, accounts):
    return make_env(deployer, accounts, tuple(TOKEN_FEED))


# --- Strategies ---


def st_wad_in(lo: int, hi: int):
    """A wad in [lo, hi], the bounds themselves often."""
    return st.one_of(st.sampled_from((lo, hi)), st.integers(lo, hi))


@st.composite
def st_params(draw):
    """None (the defaults) or {param: wad} for the engine's margin parameters."""
    if draw(st.booleans()):
        return None
    return {name: draw(st_wad_in(*b)) for name, b in PARAM_BOUNDS.items()}


PAIRS = tuple(itertools.combinations(FEEDS, 2))
# [v2] ρ where the rule changes shape: ±1 and a wei inside, the kink of max(2ρ − 1, 0.75ρ) at 0.8,
# ρ_s = −1 from −0.8 down, −0.4 (three pairs at −0.4: ρ_s −0.5, a singular 3×3), 0
RHO_EDGES = (-WAD, -WAD + 1, -8 * WAD // 10, -4 * WAD // 10, 0, 8 * WAD // 10, WAD - 1, WAD)


@st.composite
def st_correlations(draw):
    """ρ of every pair of the 4 underlyings [wad] across [−1, 1]: one value for all pairs (a
    negative one needs the PSD repair from 3 underlyings) or each its own."""
    rho = st.one_of(st.sampled_from(RHO_EDGES), st.integers(-WAD, WAD))
    if draw(st.booleans()):
        same = draw(rho)
        return dict.fromkeys(PAIRS, same)
    return {pair: draw(rho) for pair in PAIRS}


@st.composite
def st_market(draw):
    market = {}
    for f in FEEDS:
        spot = FEEDS[f] * math.exp(draw(st.floats(-1.5, 1.5)))
        vol = math.exp(draw(st.floats(math.log(0.05), math.log(5.0))))
        market[f] = (spot, vol)
    return market


def st_option(feed, pool, size_usd=(1e3, 2e6)):
    return st.fixed_dictionaries(
        {
            "feed": st.just(feed),
            "tau": st.sampled_from(pool),
            "moneyness": st.floats(math.log(1 / 3), math.log(3)).map(math.exp),
            "call": st.booleans(),
            "sign": st.sampled_from((-1, 1)),
            "usd": st.floats(math.log(size_usd[0]), math.log(size_usd[1])).map(math.exp),
            # premium = model value · (1 + skew), inside the option band (SPEC v2 §5)
            "skew": st.floats(-0.09, 0.09),
        }
    )


@st.composite
def st_collateral(draw, debt: bool):
    """{token: USD worth}: none, WETH, WBTC or both (a debt needs some)."""
    names = draw(st.lists(st.sampled_from(ETH_BTC), min_size=int(debt), max_size=2, unique=True))
    return {n: draw(st.floats(math.log(1e3), math.log(1e6)).map(math.exp)) for n in names}


def st_perp(feed, usd_max=3e6):
    return st.fixed_dictionaries(
        {
            "feed": st.just(feed),
            "sign": st.sampled_from((-1, 1)),
            "usd": st.floats(math.log(1e3), math.log(usd_max)).map(math.exp),
            # fill price skew inside the 2% perp band (SPEC v2 §5)
            "skew": st.floats(-0.019, 0.019),
        }
    )


def st_debt(option, tokens):
    """How the account runs into debt: top up one of `tokens`, then buy more of `option`."""
    return st.fixed_dictionaries(
        {
            "option": st.just({**option, "sign": 1}),
            "premium_of_cushion": st.floats(0.05, 0.3),
            "top_up": st.sampled_from(tokens),
        }
    )


@st.composite
def st_portfolio(draw):
    feeds = sorted(draw(st.sets(st.sampled_from(tuple(FEEDS)), min_size=1, max_size=4)))
    perps, options, pools = [], [], {}
    for f in feeds:
        if draw(st.booleans()):
            perps.append(draw(st_perp(f)))
        # ≤ 3 expiries here and 1 expiring below: within the 4-expiry limit (SPEC §4)
        # the first expiry outlives every example (a debt buys it last); the others may expire
        pools[f] = [draw(st.integers(7_200, 2 * YEAR - 7_200))]
        pools[f] += draw(st.lists(st.integers(3_600, 2 * YEAR - 7_200), max_size=2))
        pools[f] = list(dict.fromkeys(pools[f]))
        options += draw(st.lists(st_option(f, pools[f]), max_size=5))
    expire = draw(st.sampled_from((None, "fixed", "missed", "unreported")))
    if expire:
        # fixed / missed: a report after the expiry, inside / outside the settlement window;
        # unreported: block time passes the expiry, the feed's last round stays before it
        tau = 1_500 if expire == "unreported" else HEARTBEAT
        o = draw(st_option(draw(st.sampled_from(feeds)), [tau], (1e5, 1e5)))
        options.append({**o, "moneyness": math.exp(draw(st.floats(-0.2, 0.2))), "expiring": True})
    debt = None
    if draw(st.booleans()):
        f = draw(st.sampled_from(feeds))
        debt = draw(st_debt(draw(st_option(f, pools[f][:1])), ETH_BTC))
    return {
        "market": draw(st_market()),
        "correlations": draw(st_correlations()),
        "params": draw(st_params()),
        "perps": perps,
        "options": options,
        "collateral": draw(st_collateral(debt is not None)),
        "expire": expire,
        "settle": draw(st.booleans()),
        "debt": debt,
        "sleep": draw(st.integers(0, 1_800)),
        "keep": draw(st.floats(0.2, 0.95) if debt else st.floats(0.0, 0.95)),
        "reprice": draw(st.floats(-0.3, 0.3)),
    }


# --- Building on chain ---


def series_terms(env, o, observed) -> tuple:
    """(feed, strike wad, expiry, is call) of option `o` priced off the market just pushed."""
    spot = env.market[o["feed"]][0]
    return (o["feed"], wad(spot * o["moneyness"]), observed + o["tau"], o["call"])


def govern_example(env, params, terms) -> bool:
    """One timelock operation per example: the margin parameters, then every series it needs."""
    engine = env.stack.engine
    calls = [call(engine.setParam, key(k), v) for k, v in (params or {}).items()]
    calls += [call(engine.createSeries, *t) for t in dict.fromkeys(terms)]
    if calls:
        govern(env.timelock, calls, env.proposer)
    return bool(calls)


def deposit(env, acct, amounts: dict) -> None:
    """Deposit {token: USD worth} (USDC at $1, the others at their feed's spot)."""
    for name, usd in amounts.items():
        price = 1.0 if name == "USDC" else env.stack.oracle.feed(TOKEN_FEED[name])[0] / WAD
        units = int(usd / price * 10 ** TOKEN_DECIMALS[name])
        if units:
            env.stack.vault.deposit(acct, env.stack.token(name), units, {"from": env.owner})


def open_at(env, pf) -> tuple[int, dict]:
    """Push the example's market, govern (parameters, series), open and fund the account."""
    env.market = pf["market"]
    prices = {f: (wad(s), wad(v)) for f, (s, v) in env.market.items()}
    push_prices(env.stack, prices, correlations=pf["correlations"])
    env.pushed_at = int(env.stack.oracle.feed(1)[2])
    terms = {id(o): series_terms(env, o, env.pushed_at) for o in pf["options"]}
    if not govern_example(env, pf["params"], list(terms.values())):
        # a spot may have jumped beyond the breaker's threshold: wait out its reduce-only period
        # (the timelock's delay does when there was an operation)
        chain.sleep(61)
        chain.mine()
    acct = env.stack.vault.openAccount({"from": env.owner}).return_value
    deposit(env, acct, {"USDC": 1e10, **pf["collateral"]})
    return acct, terms


def trade_perp(env, acct, p) -> None:
    spot = env.market[p["feed"]][0]
    size = p["sign"] * p["usd"] / spot
    trade(env.stack, (acct, env.owner), env.cp, p["feed"], wad(size), wad(spot * (1 + p["skew"])))


def trade_option(env, acct, o, terms, usd=None) -> int:
    """Trade option `o` (of USD notional `usd`, default its own); returns the series id."""
    sid = env.stack.store.seriesIdOf(*terms)
    inst = option_instrument(sid)
    price = model_price(env.stack, inst) * (10**9 + round(o["skew"] * 1e9)) // 10**9
    size = o["sign"] * (usd if usd is not None else o["usd"]) / env.market[o["feed"]][0]
    trade(env.stack, (acct, env.owner), env.cp, inst, wad(size), price)
    return sid


def breakdown(env, acct):
    b = env.stack.engine.marginBreakdown(acct)
    return SimpleNamespace(ae=int(b[1]), im=int(b[2]), cash=int(env.stack.vault.cashOf(acct)))


def withdraw_to_cushion(env, acct, keep: float) -> int:
    """Withdraw USDC cash down to AE = IM + keep·max(IM, $10k) (all of it if the rest covers
    that); returns the cushion [wad USD]."""
    b = breakdown(env, acct)
    cushion = int(keep * max(b.im, 10_000 * WAD))
    # AE falls by 99% of what leaves (the 1% settlement haircut of positive cash goes with it)
    room = int(max(0, b.ae - b.im - cushion) * 100 // 99 * 0.999)
    units = min(max(b.cash, 0), room) // 10**12
    if units > 0:
        env.stack.vault.withdraw(acct, env.stack.usdc, units, env.owner, {"from": env.owner})
    return cushion


def run_into_debt(env, acct, pf, debt_terms) -> None:
    """Make the account's cash negative: collateral carries it, all cash leaves, then realised
    perp PnL and funding and a long option's premium and fee are paid from cash (`debt_terms`:
    that option's series)."""
    d = pf["debt"]
    b = breakdown(env, acct)
    cushion = int(pf["keep"] * max(b.im, 10_000 * WAD))
    # linked collateral of value V adds ≥ V·(1 − h_max − R_max) = V/4 to AE − IM
    need = max(0, b.im + cushion - (b.ae - max(b.cash, 0))) / WAD
    deposit(env, acct, {d["top_up"]: 4 * need + 2_000})
    cushion = withdraw_to_cushion(env, acct, pf["keep"])
    for p in pf["perps"]:
        env.stack.engine.realisePnl(acct, p["feed"], {"from": env.owner})
    o = {**d["option"], "sign": 1}
    unit = model_price(env.stack, option_instrument(env.stack.store.seriesIdOf(*debt_terms)))
    spot = env.market[o["feed"]][0]
    usd = min(d["premium_of_cushion"] * cushion / max(unit, 1) * spot, 2e6)
    trade_option(env, acct, o, debt_terms, usd)


def pass_expiry(env, pf, expiring) -> None:
    """Move past the expiring series' expiry as its mode says (module docstring)."""
    (_, _, expiry, _), mode = expiring, pf["expire"]
    now = chain[-1].timestamp
    after = {"unreported": 60, "fixed": 100, "missed": SETTLEMENT_WINDOW + 100}[mode]
    chain.sleep(max(0, expiry + after - now))
    chain.mine()
    if mode != "unreported":
        moved = {f: (wad(s * (1 + pf["reprice"])), wad(v)) for f, (s, v) in env.market.items()}
        push_prices(env.stack, moved)  # |reprice| ≤ 30%: inside the breaker's threshold
        env.pushed_at = int(env.stack.oracle.feed(1)[2])
    fixed = env.stack.oracle.settlementPrice(expiring[0], expiry)
    assert (fixed != 0) == (mode == "fixed"), (mode, fixed)


def sleep_fresh(env, seconds: int) -> None:
    """Sleep up to `seconds`, keeping every feed inside the heartbeat."""
    chain.sleep(max(0, min(seconds, env.pushed_at + HEARTBEAT - 120 - chain[-1].timestamp)))
    chain.mine()


def assert_at_limits(env, acct) -> None:
    """The account holds as much as SPEC §4 lets it open (and the Vault lets it deposit)."""
    engine, vault = env.stack.engine, env.stack.vault
    assert len(engine.accountUnderlyings(acct)) == MAX_UNDERLYINGS
    for f in FEEDS:
        ids = engine.accountSeries(acct, f)
        assert len(ids) == MAX_SERIES
        assert len({env.stack.store.series(s)[1] for s in ids}) == MAX_EXPIRIES
    assert len(vault.accountAssets(acct)) == vault.MAX_ACCOUNT_ASSETS()


def build(env, pf, at_limits: bool = False) -> int:
    """Open `pf` on chain for a new account of the owner; returns its id."""
    debt = pf["debt"]
    options = pf["options"] + ([debt["option"]] if debt else [])
    acct, terms = open_at(env, {**pf, "options": options})
    if at_limits:  # every new series' first risk array, as a keeper would (keel.bench.max_account)
        ids = [env.stack.store.seriesIdOf(*t) for t in set(terms.values())]
        refresh_stale(env.stack, ids, env.owner)
    for p in pf["perps"]:
        trade_perp(env, acct, p)
    for o in pf["options"]:
        trade_option(env, acct, o, terms[id(o)])
    if at_limits:
        assert_at_limits(env, acct)
    expiring = [terms[id(o)] for o in pf["options"] if o.get("expiring")]
    if expiring:
        pass_expiry(env, pf, expiring[0])
        if pf["expire"] == "fixed" and pf["settle"]:
            env.stack.engine.settle(acct, env.stack.store.seriesIdOf(*expiring[0]))
    if debt:
        run_into_debt(env, acct, pf, terms[id(debt["option"])])
    else:
        withdraw_to_cushion(env, acct, pf["keep"])
    sleep_fresh(env, pf["sleep"])
    return acct


# --- The comparison ---


def tol(a: float, b: float) -> float:
    return max(1e-6, 1e-9 * max(abs(a), abs(b)))


def check_worst(pnl: np.ndarray, chain_worst: int, what: str, errors: list):
    """Compare argmin only when the runner-up scenario is not within tolerance of the minimum."""
    order = np.argsort(pnl, kind="stable")
    lo, runner = pnl[order[0]], pnl[order[1]]
    if lo >= -1e-6:
        return
    if runner - lo > tol(lo, runner) and int(order[0]) != chain_worst:
        errors.append(f"{what}: reference {int(order[0])} chain {chain_worst}")


def assert_matches_reference(env, acct) -> None:
    """Every breakdown figure, each L_u with its worst scenario, the joint worst scenario and each
    perp's funding owed: chain = reference model (SPEC §6 tolerance)."""
    stack = env.stack
    block = chain.height
    got = chain_breakdown(stack.engine, acct, block)
    market, books = reference_inputs(stack.engine, stack.vault, stack.oracle, [acct], block)
    res = compute_margin(market, books)
    ref = res.account(0)
    errors = []
    noise = rho_noise(res.scenario_pnl[0][res.exposed[0]])
    for name in MARGIN_FIGURES:
        r, c = getattr(ref, name), got[name] / WAD
        if not agrees(r, c) and not (name in RHO_FIGURES and abs(r - c) <= noise):
            errors.append(f"{name}: reference {r!r} chain {c!r}")
    # [v2] L_ρ: both sides compute it where SR needs it (0 elsewhere); one side may skip it only
    # where L_J = Σ L_u within rounding (keel.risk.correlation.needs_correlated_loss)
    c, r_rho = got["correlated_loss"] / WAD, ref.correlated_loss or 0.0
    skipped_by_one = (c == 0.0) != (r_rho == 0.0)
    directional = agrees(ref.joint_loss, sum(loss for loss, _ in ref.underlyings.values()))
    if not (agrees(r_rho, c) or abs(r_rho - c) <= noise) and not (skipped_by_one and directional):
        errors.append(f"correlated_loss: reference {r_rho!r} chain {c!r}")
    for f, owed in zip(books.perp_feed, books.perp_funding_owed, strict=True):
        # the chain's funding owed: MarginEngine's integer rule on its funding index at the block
        size, _, at_entry = stack.engine.perpPosition.call(acct, int(f), block_identifier=block)
        idx = stack.engine.fundingIndex.call(int(f), block_identifier=block)
        c = funding_owed(int(size), int(at_entry), int(idx)) / WAD
        if not agrees(float(owed), c):
            errors.append(f"funding_{int(f)}: reference {float(owed)!r} chain {c!r}")
    assert set(got["underlyings"]) == set(ref.underlyings), (got, ref)
    for u, f in enumerate(res.feed_ids):
        f = int(f)
        if f not in got["underlyings"]:
            continue
        loss, worst = got["underlyings"][f]
        if not agrees(ref.underlyings[f][0], loss / WAD):
            errors.append(f"L_{f}: reference {ref.underlyings[f][0]!r} chain {loss / WAD!r}")
        check_worst(res.scenario_pnl[0, u], worst, f"worst_{f}", errors)
    check_worst(res.scenario_pnl[0].sum(axis=0), got["joint_worst"], "joint_worst", errors)
    assert not errors, "\n".join(errors) + f"\n{ref}\n{got}"
    # what the example exercised (pytest --hypothesis-show-statistics)
    event("cash < 0" if books.cash[0] < 0 else "cash >= 0")
    event(f"{len(res.feed_ids[res.exposed[0]])} underlyings")
    event("funding owed" if np.any(books.perp_funding_owed != 0) else "no funding owed")


# figures L_ρ can set, and the float model's noise on them: where the quadratic form of L_ρ nearly
# cancels (a hedge at ρ_s = ±1, a book along the repaired matrix's null direction) the model's
# float √Q is off by up to ≈ 4·√ε·S, S = Σ_u max|b_u| (docs/CORRELATION.md §8, "Agreement"); the
# chain's integers never fall below the exact value (tests/unit/math/test_joint_loss.py)
RHO_FIGURES = ("scan_risk", "im", "mm")
RHO_NOISE = 6e-8  # [per USD of S]


def rho_noise(pnl: np.ndarray) -> float:
    """6e-8·S [USD] for the held underlyings' scenario P&Ls (n, 31): S = Σ_u max |b_u| over the
    sides and vol states, b = P(centre) − P(edge) the chord of a side's loss."""
    centre = pnl[:, [4, 13, 22]]
    edges = np.stack([pnl[:, [0, 9, 18]], pnl[:, [8, 17, 26]]])
    return RHO_NOISE * float(np.abs(centre[None] - edges).max(axis=(0, 2)).sum())


def in_snapshot(env, body) -> None:
    chain.snapshot()
    network.gas_price(next(GAS_PRICES))
    try:
        body()
    finally:
        chain.revert()
        network.gas_price(0)


# Explicit examples: every blind spot of docs/INVARIANTS.md (INV-4) runs in every profile.
_MARKET = {f: (s * 1.1, 0.8) for f, s in FEEDS.items()}
_OPT = {"moneyness": 1.05, "call": True, "sign": -1, "usd": 2e5, "skew": 0.05}
EXPLICIT = [
    {  # a debt on 4 underlyings, funding above the cap, non-default parameters at their bounds
        "market": _MARKET,
        "correlations": dict.fromkeys(PAIRS, -WAD // 2),  # ρ_s −0.625: the PSD repair (t = 0.47)
        "params": {"somRate": 2 * 10**17, "mmRatio": WAD},
        "perps": [{"feed": f, "sign": 1, "usd": 1e6, "skew": 0.015} for f in FEEDS],
        "options": [{**_OPT, "feed": f, "tau": 30 * 86_400} for f in FEEDS],
        "collateral": {"WETH": 5e5},
        "expire": None,
        "settle": False,
        "debt": {
            "option": {**_OPT, "feed": 1, "tau": 86_400, "sign": 1},
            "premium_of_cushion": 0.2,
            "top_up": "WBTC",
        },
        "sleep": 1_800,
        "keep": 0.5,
        "reprice": 0.0,
    },
    {  # expired by block time, not yet reported; funding inside the cap; parameters mid-range
        "market": _MARKET,
        "correlations": dict.fromkeys(PAIRS, WAD),  # ρ_s = 1: the 80% floor
        "params": {"somRate": 5 * 10**16, "mmRatio": 6 * 10**17},
        "perps": [{"feed": 2, "sign": -1, "usd": 2e6, "skew": -0.002}],
        "options": [
            {**_OPT, "feed": 2, "tau": 1_500, "moneyness": 0.95, "expiring": True},
            {**_OPT, "feed": 3, "tau": 7 * 86_400, "sign": 1},
        ],
        "collateral": {},
        "expire": "unreported",
        "settle": False,
        "debt": None,
        "sleep": 1_800,
        "keep": 0.3,
        "reprice": 0.0,
    },
]


def _explicit(f):
    for pf in reversed(EXPLICIT):
        f = example(pf=pf)(f)
    return f


@settings(max_examples=EXAMPLES, **SETTINGS)
@given(pf=st_portfolio())
@_explicit
def test_margin_breakdown_matches_reference_model(diff_env, pf):
    """INV-4: chain figures = reference model figures (SPEC §6 tolerance)."""
    in_snapshot(diff_env, lambda: assert_matches_reference(diff_env, build(diff_env, pf)))


# --- Accounts at the limits ---


def limit_options(seed: int) -> list[dict]:
    """16 series over 4 expiries on each underlying, from `seed` (drawing each of the 64 from
    hypothesis would overrun its example buffer)."""
    rng = random.Random(seed)
    options = []
    for f in FEEDS:
        for tau in rng.sample(range(3_600, 2 * YEAR - 7_200), MAX_EXPIRIES):
            # distinct (strike, kind) per expiry: strikes on a 1% grid of the spot in [S/3, 3S]
            grid = [(k, c) for k in range(34, 300) for c in (False, True)]
            for pct, is_call in rng.sample(grid, MAX_SERIES // MAX_EXPIRIES):
                options.append(
                    {
                        "feed": f,
                        "tau": tau,
                        "moneyness": pct / 100,
                        "call": is_call,
                        "sign": rng.choice((-1, 1)),
                        "usd": math.exp(rng.uniform(math.log(1e3), math.log(3e5))),
                        "skew": rng.uniform(-0.09, 0.09),
                    }
                )
    return options


@st.composite
def st_limit_account(draw):
    """4 underlyings each with a perp and 16 series over 4 expiries, 8 collateral tokens."""
    options = limit_options(draw(st.integers(0, 2**32 - 1)))
    # a debt buys more of a series the account holds: no new slot at the limit
    debt = draw(st.none() | st_debt(draw(st.sampled_from(options)), tuple(TOKEN_FEED)))
    return {
        "market": draw(st_market()),
        "correlations": draw(st_correlations()),
        "params": draw(st_params()),
        "perps": [draw(st_perp(f, 1e6)) for f in FEEDS],
        "options": options,
        "collateral": {n: draw(st.floats(1e3, 1e6)) for n in TOKEN_FEED},
        "expire": None,
        "settle": False,
        "debt": debt,
        "keep": draw(st.floats(0.2, 0.95)),
        "sleep": draw(st.integers(0, 1_800)),
    }


_LIMIT_OPTIONS = limit_options(11)
EXPLICIT_AT_LIMITS = {  # a debt, funding on every perp, non-default parameters
    "market": _MARKET,
    "correlations": dict(zip(PAIRS, RHO_EDGES[1:7], strict=True)),
    "params": {"somRate": 2 * 10**16, "mmRatio": 9 * 10**17},
    "perps": [{"feed": f, "sign": (-1) ** f, "usd": 5e5, "skew": 0.01 * (-1) ** f} for f in FEEDS],
    "options": _LIMIT_OPTIONS,
    "collateral": {n: 2e5 for n in TOKEN_FEED},
    "expire": None,
    "settle": False,
    "debt": {
        "option": {**_LIMIT_OPTIONS[0], "sign": 1},
        "premium_of_cushion": 0.2,
        "top_up": "cbBTC",
    },
    "keep": 0.5,
    "sleep": 1_800,
}


@settings(max_examples=LIMIT_EXAMPLES, **SETTINGS)
@given(pf=st_limit_account())
@example(pf=EXPLICIT_AT_LIMITS)
def test_account_at_the_limits_matches_reference_model(limits_env, pf):
    """INV-4 on the largest account the limits allow (SPEC §4)."""
    env = limits_env
    in_snapshot(env, lambda: assert_matches_reference(env, build(env, pf, at_limits=True)))
