"""An attacker in the suite (issue 8): a stateful test in which honest traders, market makers,
keepers, governance and an attacker act in any order, and nothing the attacker does pays more than
the market would.

Actors (tests/stateful/world.py): honest traders T0-T2 (T2 granted the attacker's EOA X1 the
trade right only: its "trading bot"), market makers MM0/MM1 quoting model value ± a spread, an
honest keeper (starts, bids, ends, settles), governance (listing, parameters; through the timelock
hook in tests/stateful/governance.py), the honest relayer (oracle signers 0-2 of 5, quorum 3) and the
attacker: EOA X0 with accounts A0-A2 and any dust accounts it opens, EOA X1 with account A3 and the
trade right on T2, and oracle signer 4 (f = 1). The market moves the true price and vol (jumps up to
±35%, vol ×0.7-×1.5), time passes (crossing 08:00 UTC expiries, letting feeds go stale), auctions
run. Block time only moves in market steps (anvil's timestamp interval is 0), so every other step is
read before and after at the same block time: funding does not accrue inside an action step and
value comparisons are exact up to rounding.

The attacker's rules are the ten demonstrated attacks' moves: off-market fills between its own
accounts, also below IM or in an auction (1); bids on cured accounts (2); closing a whole underlying
of a below-IM account at the most extreme price the chain accepts (3, and `atk_drain`, which searches
that price with eth_call); reports of its own signer with copied honest observations and a chosen
subset, front-running the relayer's round (4); createSeries spam (5); dust fills far from spot to
steer the mark (6); fills through the trade-only operator right on T2 (7); governance lowering
limits (8, a governance rule); realisePnl on others' accounts (9); auctions started on dust accounts
it opened itself (10); plus unauthorised calls of every kind (INV-7), ordinary trading, deposits and
withdrawals.

After every step (checks.py):
- INV-1 every token conserved: WETH/WBTC balance = Σ account balances; USDC balance =
  Σ cash + insurance fund + Σ unrealised perp PnL − Σ funding owed − Σ settled payoffs not yet
  paid by the other side, up to rounding dust kept by the vault (never owed by it).
- INV-2 a filled or withdrawing account is at/above IM after, or the fill raised neither its IM
  nor its shortfall IM − AE.
- INV-3 every account below MM with fresh prices can be liquidated: eth_call of startAuction, or of
  a bid at maxFraction (bidInsolvent when E ≤ 0) by a deep backstop account, succeeds.
- INV-4 every fresh account's breakdown equals the reference model's (keel.risk, SPEC §6 tolerance).
- INV-5 an insolvent bid socialises only once the insurance fund is empty, and the fund never
  pays more than it held; a keeper fee never exceeds the account's positive equity (SPEC §7 [v2]).
- INV-6 Σ perp sizes = 0 per perp; Σ option sizes + settled sizes = 0 per series.
- INV-7 unauthorised calls revert with a named error and change nothing; only governance lists
  series (SPEC §4 [v2]), and the oracle's expiry queue never fills up (listing liveness).
- INV-8 an account at/above IM loses no AE to a transaction its owner or operator did not commit
  (bids, third-party realisation, keeper fees), except the waterfall's socialisation.
- INV-9 every fill is inside the price band (perp 2% of S; option 0.5%·S + 10%·V); a side below IM
  after the fill, in an auction, or committed by an operator loses no equity beyond its fee.
- INV-10 every transaction uses ≤ 16,777,216 gas, every liquidation transaction ≤ 8,388,608
  (transactions are sent with the cap as gas limit; running out of gas is a violation).
- Oracle: with ≤ f faulty signers an accepted price is within maxSpread (1%) + the honest signers'
  dispersion (0.2%) of the truth; an expiry is fixed only by a report observed within the
  settlement window (15 min); the honest relayer's report lands (one retry after a front-run).
- Liveness: a below-IM honest trader can always close a perp at the oracle price (SPEC §5).
- Every revert is a named custom error, and a step whose transactions all reverted changed no
  balance, position, auction or global figure.

**The attacker's fair P&L.** Let A be the attacker's accounts, E_a their equity at oracle prices
(marginBreakdown) and W = Σ_{a∈A} max(E_a, 0) + USDC withdrawn − USDC deposited its wealth:
max(·, 0) is limited liability, an account's negative equity is a debt the attacker walks away
from (the insurance fund or the other users pay it). The ledger (checks.py) keeps τ_a, the value
moved into account a on unfair terms. In every step the attacker commits,
    τ_a += ΔE_a − φ_a,
where φ_a, a's fair change, is
    − its trading fees: a fill between its own accounts or through its operator right on T2 is fair
      only at the model price (S for a perp, Black-Scholes at the oracle's S, σ for an option);
    + f·E − payment − penalty of a solvent bid on an account that was below IM at fresh prices
      (the discount d − p legitimately earned at the running discount; on one of its own accounts
      too: any bidder could have taken that discount, so nobody else is worse off), and only
      −penalty for a bid on a cured account;
    + the bonus of an insolvent bid;
    + a keeper fee capped at the target's positive equity (and − the same for an own target);
    ± its deposits and withdrawals; − the cash index cut of a socialisation;
and all of ΔE_a when it traded at an honest market maker's own quote (the maker chose the price).
Value moved between its own accounts while every account it left stays at/above IM and out of an
auction is not taint: a withdrawal down to IM and a deposit elsewhere could do the same (SPEC §2).
Every change in market steps (oracle reports, by anyone; time passing with its funding; expiry
settlement at the fixed price) and in other actors' steps is the market's: τ is unchanged. A
withdrawal carries taint to the wallet (τ_w). After every step
    Σ_a [max(E_a, 0) − max(E_a − τ_a, 0)] + τ_w ≤ 10^12 wei · (2 + |A|)
(rounding): W never exceeds the wealth the attacker would have had if everything it did had been
on fair terms. Value moved out of an own account below IM or in an auction is no gain until that
account is insolvent: then the check fails by exactly the bad debt the move caused (attack 1,
also when a later price move crosses zero). It fails by the victim's loss on a fill through the operator right
(7), by f·E·d on a bid on a cured account (2), by the fund's part of a keeper fee on an own dust
account (10).

Profiles: KEEL_PROFILE=ci (default): a few examples, well under 5 minutes on 2 cores;
KEEL_PROFILE=local: examples until at least 10,000 steps that sent transactions, writing the figures
to reports/attacker.md and reports/attacker.json (the ci profile never writes them).
KEEL_ATTACKER_MODE=survey records violations instead of failing at the first one (one run lists
every kind of violation an unfixed protocol shows; KEEL_ATTACKER_SURVEY names its JSON output); the
default `strict` fails and lets hypothesis shrink to a minimal falsifying sequence, and
KEEL_ATTACKER_ONLY=kind[,kind] restricts that to some kinds (one attack at a time).
KEEL_ATTACKER_MIN_STEPS overrides the profile's number of steps; KEEL_ATTACKER_SKIP=rule[,rule]
leaves rules out.
"""

from __future__ import annotations

import os
import time
from collections import Counter, defaultdict

import pytest
from brownie import chain
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from keel.orders import OPTION_INSTRUMENT_BASE
from tests.stateful import snapshot
from tests.stateful.checks import Checker, Step
from tests.stateful.governance import govern
from tests.stateful.rpc import RpcError
from tests.stateful.signing import order_digest
from tests.stateful.world import (
    ATTACKER_SIGNER,
    DAY,
    FEEDS,
    HOUR,
    RELAYER_SIGNERS,
    RIGHT_TRADE,
    START_PRICES,
    USDC_UNIT,
    WAD,
    Account,
    Series,
    World,
    deposit,
    list_series,
    next_expiry,
    report_truth,
)

PROFILE = os.environ.get("KEEL_PROFILE", "ci")
MODE = os.environ.get("KEEL_ATTACKER_MODE", "strict")
# examples per hypothesis run, steps per example, runs until this many steps sent transactions
DEPTH = {
    "ci": dict(examples=40, steps=30, min_acted_steps=0),
    "local": dict(examples=20, steps=120, min_acted_steps=10_000),
}[PROFILE if PROFILE in ("ci", "local") else "ci"]
if os.environ.get("KEEL_ATTACKER_MIN_STEPS"):  # ad-hoc depth (surveys of an unfixed protocol)
    DEPTH = dict(DEPTH, min_acted_steps=int(os.environ["KEEL_ATTACKER_MIN_STEPS"]))
INV4_EVERY = 5  # the reference model runs every this many steps (and at each example's end)

BTC, ETH = FEEDS
PERP_SIZES = {
    BTC: (WAD // 20, WAD // 5, WAD // 2, WAD, 3 * WAD),
    ETH: tuple(n * WAD for n in (1, 4, 10, 25, 60)),
}
OPTION_SIZES = {
    BTC: (WAD // 10, WAD // 2, WAD, 2 * WAD, 4 * WAD),
    ETH: tuple(n * WAD for n in (2, 10, 25, 50, 80)),
}
MM_SPREAD_PERP = 10  # market makers quote ± this                                  [bps]
MM_SPREAD_OPTION = 300  # ... of the model value                                    [bps]
OFF_MARKET = (5, 50, 190, 500, 2_000, 5_000, 9_000)  # off-market price offsets      [bps]
DRAIN_LADDER = (9_000, 5_000, 3_000, 2_000, 1_000, 500, 200, 100, 50)  # [bps], extreme first
MOVES = (-3_500, -2_000, -1_200, -600, -300, -100, 100, 300, 600, 1_200, 2_000, 3_500)  # [bps]
ADVANCES = (60, 600, 1_800, 3_500, 4 * HOUR, DAY)  # [s]
GOV_PARAMS = (
    ("engine", "maxUnderlyings", (1, 2, 4)),
    ("engine", "maxSeriesPerUnderlying", (1, 2, 16)),
    ("engine", "maxExpiriesPerUnderlying", (1, 2, 4)),
    ("engine", "takerFeeRate", (0, 5 * 10**14, 2 * 10**15)),
    ("engine", "fundingCapPerHour", (0, 5 * 10**14, 5 * 10**15)),
    ("engine", "mmRatio", (7 * 10**17, 8 * 10**17, 9 * 10**17)),
    ("liquidator", "keeperFee", (0, 5 * WAD, 50 * WAD)),
)
MAX_DUST_ACCOUNTS = 3
ATTACKERS = ("A0", "A1", "A2", "A3")
TRADERS = ("T0", "T1", "T2")
MMS = ("MM0", "MM1")


def b32(name: str) -> bytes:
    return name.encode().ljust(32, b"\0")


class Run:
    """Figures across every example of the test."""

    def __init__(self):
        self.rules = defaultdict(Counter)
        self.examples = 0
        self.steps = 0
        self.acted_steps = 0
        self.txs = 0
        self.start = time.monotonic()


def test_attacker_stateful(attacker_world: World):
    """INV-1…INV-10, the oracle's f-tolerance and settlement window, liveness, and the attacker's
    fair P&L, after every step of random sequences of honest, market, governance and attacker
    moves (module docstring)."""
    world = attacker_world
    base_accounts = dict(world.accounts)
    base_series = list(world.series)
    only = os.environ.get("KEEL_ATTACKER_ONLY")
    checker = Checker(world, MODE, set(only.split(",")) if only else None)
    run = Run()
    chain.snapshot()

    machine = _machine(world, checker, run, base_accounts, base_series)
    for name in filter(None, os.environ.get("KEEL_ATTACKER_SKIP", "").split(",")):
        delattr(
            machine, name
        )  # KEEL_ATTACKER_SKIP=rule[,rule]: leave rules out (one attack at a time)
    cfg = settings(
        max_examples=DEPTH["examples"],
        stateful_step_count=DEPTH["steps"],
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        # CI replays the same examples on every push (a failure there is the code's, never the
        # draw's); the local profile draws new ones each run and is where new attacks are found
        derandomize=PROFILE != "local",
    )
    while True:
        run_state_machine_as_test(machine, settings=cfg)
        if run.acted_steps >= DEPTH["min_acted_steps"]:
            break
    duration = time.monotonic() - run.start
    figures = {
        "profile": PROFILE,
        "mode": MODE,
        "examples": run.examples,
        "steps": run.steps,
        "steps_acted": run.acted_steps,
        "transactions": run.txs,
        "violations": sum(checker.counts.values()),
        "violation_kinds": dict(checker.counts),
        "rules": {k: dict(v) for k, v in run.rules.items()},
        "checks": dict(checker.stats),
        "max_gas": dict(checker.max_gas),
        "max_liquidation_gas": max(
            [
                g
                for f, g in checker.max_gas.items()
                if f in ("startAuction", "bid", "bidInsolvent", "endAuction")
            ]
            or [0]
        ),
        "duration_s": round(duration, 1),
        "seconds_per_step": duration / max(run.steps, 1),
    }
    print(_summary(figures, checker))
    if MODE == "survey":
        _write_survey(checker, figures)
    elif PROFILE == "local":
        from tests.stateful.report import write

        write(figures)
    assert sum(checker.counts.values()) == 0, dict(checker.counts)


def _summary(f: dict, checker: Checker) -> str:
    lines = [
        f"attacker test: {f['examples']} examples, {f['steps']} steps ({f['steps_acted']} with "
        f"transactions, {f['transactions']} transactions) in {f['duration_s']} s "
        f"({f['seconds_per_step']:.3f} s/step); violations {f['violation_kinds'] or 0}; "
        f"max gas {f['max_gas'].get('*', 0)}, liquidation {f['max_liquidation_gas']}"
    ]
    for rule_, outcomes in sorted(f["rules"].items()):
        lines.append(f"  {rule_}: {dict(outcomes)}")
    return "\n".join(lines)


def _write_survey(checker: Checker, figures: dict) -> None:
    """KEEL_ATTACKER_MODE=survey: every violation kind with its first occurrences."""
    import json
    from pathlib import Path

    out = Path(os.environ.get("KEEL_ATTACKER_SURVEY", "/tmp/attacker_survey.json"))
    by_rule: dict = {}
    for r in checker.records:
        entry = by_rule.setdefault(f"{r.kind} <- {r.rule}", {"count": 0, "first": []})
        entry["count"] += 1
        if len(entry["first"]) < 3:
            entry["first"].append({"detail": r.detail, "steps": r.trace})
    out.write_text(json.dumps({"figures": figures, "violations": by_rule}, indent=2))


@pytest.fixture(scope="module")
def attacker_world(accounts):
    from brownie import project, web3

    from tests.stateful.world import build_world

    world = build_world(accounts, project.get_loaded_projects()[0], web3.provider.endpoint_uri)
    yield world
    # other modules' tests move time with evm_increaseTime, which the interval would override
    world.rpc.request("anvil_removeBlockTimestampInterval", [])


def _machine(world: World, checker: Checker, run: Run, base_accounts: dict, base_series: list):
    rpc = world.rpc

    class AttackerMachine(RuleBasedStateMachine):
        """One example: a fresh copy of the deployment and a sequence of moves."""

        def __init__(self):
            super().__init__()
            chain.revert()
            world.accounts = dict(base_accounts)
            world.series = list(base_series)
            world.truth = dict(START_PRICES)
            world.truth_log = []
            self.dust = 0
            self.step: Step | None = None
            self.n_steps = 0
            run.examples += 1
            checker.start_example(snapshot.read(world))

        # --- helpers ---

        @property
        def snap(self):
            return checker.prev

        def begin(self, rule_name: str, actor: str, kind: str = "action") -> Step:
            self.step = Step(rule_name, actor, kind)
            return self.step

        def tx(self, receipt):
            self.step.receipts.append(receipt)
            return receipt

        def acct(self, name: str) -> Account:
            return world.acct(name)

        def now(self) -> int:
            return self.snap.ts

        def spot(self, feed: int) -> int:
            return self.snap.feeds[feed][0]

        def live_series(self) -> list[Series]:
            out = []
            for s in world.series:
                if not s.listed_by_governance or s.expiry <= self.now() + 60:
                    continue
                spot, vol, at, _ = self.snap.feeds[s.feed]
                if world.option_value(s, spot, vol, at) * WAD >= WAD:  # worth at least $1
                    out.append(s)
            return out

        def instruments(self) -> list:
            return [BTC, ETH, *self.live_series()]

        def pick_instrument(self, k: int):
            insts = self.instruments()
            return insts[k % len(insts)]

        def model(self, inst) -> int:
            """Model value of one unit [wad USD]: S for a perp, Black-Scholes for an option."""
            if isinstance(inst, Series):
                spot, vol, at, _ = self.snap.feeds[inst.feed]
                return world.unit_value(inst, spot, vol, at)
            return self.spot(inst)

        def size(self, inst, k: int, acct: Account | None = None) -> int:
            """A size from the menu; k = 5 with `acct`: ~95% of the account's free margin (a perp
            at a 16% scan range; an option at ~20% of the spot), the most leverage allowed."""
            if k == 5 and acct is not None:
                s = self.snap.accounts[acct.id]
                feed = inst.feed if isinstance(inst, Series) else inst
                if s.fresh and s.AE > s.IM:
                    per_unit = self.spot(feed) * (20 if isinstance(inst, Series) else 16) // 100
                    q = (s.AE - s.IM) * WAD * 95 // 100 // per_unit
                    return max(q // 10**16 * 10**16, 10**16)
                k = 2
            if isinstance(inst, Series):
                sizes = OPTION_SIZES[inst.feed]
            else:
                sizes = PERP_SIZES[inst]
            return sizes[k % len(sizes)]

        @staticmethod
        def inst_id(inst) -> int:
            return inst.instrument if isinstance(inst, Series) else inst

        def mm_fill(self, mm: Account, taker: Account, inst, taker_size: int):
            """taker buys (size > 0) or sells at MM's quote: model ± the MM's spread."""
            m = self.model(inst)
            spread = MM_SPREAD_OPTION if isinstance(inst, Series) else MM_SPREAD_PERP
            price = m * (10_000 + (spread if taker_size > 0 else -spread)) // 10_000
            if price <= 0:
                return None
            self.step.consent |= {mm.id, taker.id}
            return self.tx(
                world.fill(mm, mm.owner, taker, taker.owner, self.inst_id(inst), -taker_size, price)
            )

        def fresh_accounts(self, cond) -> list:
            return [s for s in self.snap.accounts.values() if s.fresh and cond(s)]

        def pick(self, items: list, k: int):
            return items[k % len(items)] if items else None

        def market_advance(self, dt: int) -> None:
            """Time passes (a market step of its own, checked before the rule's action)."""
            step = self.begin("time passes", "market", "market")
            rpc.mine_at(self.now() + dt)
            checker.after_step(step, snapshot.read(world))

        # --- the checks after every step ---

        @invariant()
        def inv1_to_inv10_oracle_liveness_and_attacker_pnl(self):
            step = self.step
            if step is None:
                return
            self.step = None
            self.n_steps += 1
            run.steps += 1
            if step.kind == "noop":
                run.rules[step.rule]["noop"] += 1
                return
            run.acted_steps += 1
            run.txs += len(step.receipts) + len(step.relayer)
            errs = [r.error for r in step.receipts if not r.ok]
            if not step.receipts:
                outcome = "ok" if step.relayer else "time moved"
            elif len(errs) < len(step.receipts):
                outcome = "ok"
            else:
                outcome = f"revert {errs[-1]}"
            run.rules[step.rule][outcome] += 1
            checker.dust += 10 * (len(step.receipts) + len(step.relayer))
            snap = snapshot.read(world)
            checker.after_step(step, snap)
            if self.n_steps % INV4_EVERY == 0:
                checker.check_reference(step, snap)

        def teardown(self):
            if checker.prev is not None and self.step is None and self.n_steps % INV4_EVERY:
                checker.check_reference(Step("end of example", "market", "market"), checker.prev)

        # --- market ---

        @rule(
            feed=st.sampled_from(FEEDS),
            move=st.sampled_from(MOVES) | st.integers(-3_500, 3_500),
            vol_pct=st.sampled_from((70, 90, 100, 100, 110, 150)),
            dt=st.sampled_from((1, 30, 300, 900)),
            report=st.booleans() | st.just(True),
        )
        def market_move(self, feed, move, vol_pct, dt, report):
            """The true price jumps and the vol moves; the relayer reports it (or is late)."""
            step = self.begin("market_move", "market", "market")
            price, vol = world.truth[feed]
            lo, hi = START_PRICES[feed][0] // 4, START_PRICES[feed][0] * 4
            price = min(max(price * (10_000 + move) // 10_000, lo), hi)
            vol = min(max(vol * vol_pct // 100, WAD // 10), 3 * WAD)
            world.set_truth(feed, price, vol, self.now() + dt)
            step.note = f"{'BTC' if feed == BTC else 'ETH'} {move:+d} bps, vol x{vol_pct}%"
            if report:
                step.relayer.append(report_truth(world, at=self.now() + dt))
            else:
                rpc.mine_at(self.now() + dt)

        @rule(dt=st.sampled_from(ADVANCES), report=st.booleans())
        def advance_time(self, dt, report):
            """Time passes, crossing expiries. A running relayer reports a minute after each
            expiry it crosses (inside the settlement window) and at the end; a relayer outage
            (report False) leaves the feeds to go stale and the expiries unfixed."""
            step = self.begin("advance_time", "market", "market")
            step.note = f"{dt} s{'' if report else ', relayer down'}"
            end = self.now() + dt
            if report:
                crossed = sorted({s.expiry for s in world.series if self.now() < s.expiry < end})
                for e in crossed:
                    if e + 60 < end:
                        step.relayer.append(report_truth(world, at=e + 60))
                step.relayer.append(report_truth(world, at=end))
            else:
                rpc.mine_at(end)

        @rule(k=st.integers(0, 20), ratio=st.sampled_from((-20, 40, 70, 90, 105, 112)))
        def market_stress(self, k, ratio):
            """The market moves one underlying so that one account with perps lands near a chosen
            AE/IM ratio [%]: insolvent, below MM, between MM and IM, or cured within the auction's
            15% buffer (linear estimate; the relayer reports it)."""
            step = self.begin("market_stress", "market", "market")
            cands = [
                s
                for s in self.snap.accounts.values()
                if s.fresh and s.IM > 0 and any(s.perps[f][0] for f in FEEDS)
            ]
            cands.sort(key=lambda s: not s.in_auction)  # auctions first: cured, or deeper
            s = self.pick(cands, k)
            if s is None:
                step.kind = "noop"
                return
            feed = max(FEEDS, key=lambda f: abs(s.perps[f][0]) * self.spot(f))
            q, spot = s.perps[feed][0], self.spot(feed)
            target = ratio
            ratio = target * WAD // 100
            # AE + q(S' − S) = ratio·IM·S'/S, solved for S' (IM ∝ S for a linear book)
            denom = q - ratio * s.IM // spot
            if denom == 0:
                step.kind = "noop"
                return
            new = (q * spot // WAD - s.AE) * WAD // denom
            lo, hi = spot * 65 // 100, spot * 135 // 100
            new = min(max(new, lo), hi)
            world.set_truth(feed, new, world.truth[feed][1], self.now() + 1)
            step.note = f"account {s.id} to AE/IM {target}%: {'BTC' if feed == BTC else 'ETH'} "
            step.note += f"{(new - spot) * 10_000 // spot:+d} bps"
            step.relayer.append(report_truth(world, at=self.now() + 1))

        @rule()
        def relayer_report(self):
            step = self.begin("relayer_report", "market", "market")
            step.relayer.append(report_truth(world, at=self.now() + 1))

        # --- governance ---

        @rule(
            feed=st.sampled_from(FEEDS),
            strike_pct=st.sampled_from((85, 95, 100, 105, 115)),
            days=st.integers(1, 10),
            is_call=st.booleans(),
        )
        def gov_list_series(self, feed, strike_pct, days, is_call):
            self.begin("gov_list_series", "gov", "market")
            r = list_series(world, feed, strike_pct, days, is_call)
            if r is not None:
                self.tx(r)

        @rule(which=st.integers(0, len(GOV_PARAMS) - 1), k=st.integers(0, 2))
        def gov_set_param(self, which, k):
            """Governance changes a parameter (attack 8 when it lowers a limit below holdings)."""
            contract, name, values = GOV_PARAMS[which]
            step = self.begin("gov_set_param", "gov", "market")
            step.note = f"{name}={values[k]}"
            for r in govern(world, contract, "setParam", b32(name), values[k]):
                self.tx(r)

        @rule(k=st.integers(0, 20))
        def gov_fix_settlement(self, k):
            """SPEC §3 [v2]: an expiry no report fixed inside its settlement window is fixed by
            governance from honest observations of the window (the truth at the expiry)."""
            step = self.begin("gov_fix_settlement", "gov", "market")
            oracle = world.c["oracle"]
            if not oracle.has("fixSettlementPrice"):
                step.kind = "noop"
                return
            window = rpc.call(oracle.fn("settlementWindow"))
            missed = sorted(
                {
                    (s.feed, s.expiry)
                    for s in world.series
                    if not self.snap.settlement_price.get(s.id) and self.now() > s.expiry + window
                }
            )
            item = self.pick(missed, k)
            if item is None:
                step.kind = "noop"
                return
            feed, expiry = item
            at = expiry + 60
            price = world.truth_at(feed, expiry)
            obs = [world.honest_observation(i, feed, 0, at, price) for i in RELAYER_SIGNERS]
            step.note = f"feed {feed} expiry {expiry}"
            for r in govern(
                world, "oracle", "fixSettlementPrice", feed, expiry, (feed, 0, at, obs)
            ):
                self.tx(r)

        @rule(on=st.booleans())
        def guardian_pause(self, on):
            """The guardian pauses (or resumes) new risk: deposits, risk-free withdrawals,
            risk-reducing trades, liquidations and settlement must go on (SPEC §8b)."""
            step = self.begin("guardian_pause", "gov", "market")
            if not world.c["engine"].has("setPaused"):
                step.kind = "noop"
                return
            step.note = "pause" if on else "resume"
            self.tx(world.send(world.eoa["gov"], "engine", "setPaused", on))

        # --- honest traders and keeper ---

        @rule(
            t=st.sampled_from(TRADERS),
            mm=st.sampled_from(MMS),
            inst=st.integers(0, 15),
            k=st.integers(0, 5),
            buy=st.booleans(),
        )
        def trader_trade(self, t, mm, inst, k, buy):
            """A trader takes a market maker's quote (k = 5: as much as its margin allows)."""
            self.begin("trader_trade", "honest")
            i = self.pick_instrument(inst)
            q = self.size(i, k, self.acct(t))
            self.mm_fill(self.acct(mm), self.acct(t), i, q if buy else -q)

        @rule(t=st.sampled_from(TRADERS), feed=st.sampled_from(FEEDS))
        def trader_close_at_oracle_price(self, t, feed):
            """A trader closes its perp at exactly S against a market maker. Below IM, this
            risk-reducing close must always be accepted (SPEC §5; attack 3's liveness half)."""
            step = self.begin("trader_close_at_oracle_price", "honest")
            trader = self.acct(t)
            s = self.snap.accounts[trader.id]
            q = s.perps[feed][0]
            if q == 0:
                step.kind = "noop"
                return
            mm = self.acct("MM0")
            step.consent |= {mm.id, trader.id}
            r = self.tx(world.fill(mm, mm.owner, trader, trader.owner, feed, q, self.spot(feed)))
            if s.fresh and s.AE < s.IM:
                step.must_succeed.append(("risk-reducing close", r, trader.id))

        @rule(t=st.sampled_from(TRADERS), amount=st.sampled_from((1_000, 10_000, 50_000)))
        def trader_deposit(self, t, amount):
            step = self.begin("trader_deposit", "honest")
            a = self.acct(t)
            step.consent.add(a.id)
            self.tx(deposit(world, a, "usdc", amount * USDC_UNIT))

        @rule(t=st.sampled_from(TRADERS), pct=st.sampled_from((10, 50, 100)))
        def trader_withdraw(self, t, pct):
            step = self.begin("trader_withdraw", "honest")
            a = self.acct(t)
            cash = self.snap.accounts[a.id].cash
            units = max(cash, 0) * pct // 100 // 10**12
            if units == 0:
                step.kind = "noop"
                return
            step.consent.add(a.id)
            self.tx(
                world.send(
                    a.owner, "vault", "withdraw", a.id, world.c["usdc"].address, units, a.owner
                )
            )

        @rule(t=st.sampled_from(TRADERS))
        def trader_cure(self, t):
            """A trader below IM (or in an auction) deposits enough to be back above IM."""
            step = self.begin("trader_cure", "honest")
            a = self.acct(t)
            s = self.snap.accounts[a.id]
            if not s.fresh or (s.AE >= s.IM and not s.in_auction):
                step.kind = "noop"
                return
            need = max(s.IM - s.AE, 0) * 11 // 10 // 10**12 + USDC_UNIT
            step.consent.add(a.id)
            self.tx(deposit(world, a, "usdc", need))

        @rule(k=st.integers(0, 20))
        def keeper_start(self, k):
            step = self.begin("keeper_start", "keeper")
            target = self.pick(self.fresh_accounts(lambda s: s.AE < s.MM and not s.in_auction), k)
            if target is None:
                step.kind = "noop"
                return
            keeper = self.acct("K")
            step.consent.add(keeper.id)
            self.tx(world.send(keeper.owner, "liquidator", "startAuction", target.id, keeper.id))

        @rule(k=st.integers(0, 20), pct=st.sampled_from((10, 50, 100)))
        def keeper_bid(self, k, pct):
            """The honest keeper bids only on accounts below IM."""
            step = self.begin("keeper_bid", "keeper")
            target = self.pick(self.fresh_accounts(lambda s: s.in_auction and s.AE < s.IM), k)
            keeper = self.acct("K")
            if target is None or target.id == keeper.id:
                step.kind = "noop"
                return
            step.consent.add(keeper.id)
            self.tx(self._bid(keeper, target, pct))

        def _bid(self, bidder: Account, target, pct: int):
            liq = world.c["liquidator"]
            if target.E <= 0:
                return world.send(
                    bidder.owner,
                    "liquidator",
                    "bidInsolvent",
                    target.id,
                    target.auction[0],
                    bidder.id,
                    0,
                )
            try:
                f_max = rpc.call(liq.fn("maxFraction"), target.id)
            except RpcError:
                f_max = WAD
            fraction = max(f_max * pct // 100, 1) if f_max else WAD // 10
            return world.send(
                bidder.owner,
                "liquidator",
                "bid",
                target.id,
                target.auction[0],
                bidder.id,
                fraction,
                2**256 - 1,
            )

        @rule(k=st.integers(0, 20))
        def keeper_end(self, k):
            step = self.begin("keeper_end", "keeper")
            target = self.pick(self.fresh_accounts(lambda s: s.in_auction and s.AE >= s.IM), k)
            if target is None:
                step.kind = "noop"
                return
            self.tx(world.send(world.eoa["keeper"], "liquidator", "endAuction", target.id))

        @rule(k=st.integers(0, 50))
        def settle_expired(self, k):
            """Anyone settles an expired position at the fixed price (the market, INV-8)."""
            step = self.begin("settle_expired", "keeper", "market")
            fixed = {s.id for s in world.series if self.snap.settlement_price.get(s.id)}
            todo = [
                (a, sid)
                for a, s in self.snap.accounts.items()
                for sid, q in s.options.items()
                if q and sid in fixed
            ]
            item = self.pick(todo, k)
            if item is None:
                step.kind = "noop"
                return
            r = self.tx(world.send(world.eoa["keeper"], "engine", "settle", *item))
            step.must_succeed.append(("settlement", r, item[0]))  # never paused (SPEC §8b)

        # --- the attacker ---

        def attacker(self, i: int) -> Account:
            names = [n for n, a in world.accounts.items() if a.attacker]
            return world.acct(names[i % len(names)])

        def own_pair(self, i: int, j: int) -> tuple[Account, Account]:
            """Two distinct attacker accounts with the same owner (X0's A0-A2 and dust, or A3
            with nobody: then A0)."""
            a = self.attacker(i)
            x0 = [acc for acc in world.accounts.values() if acc.attacker and acc.owner == a.owner]
            b = x0[j % len(x0)]
            if b.id == a.id:
                b = x0[(j + 1) % len(x0)]
            if b.id == a.id:  # A3 alone: pair A0 (X0) with A3 through X1 is not "own" signing
                a, b = self.acct("A0"), self.acct("A1")
            return a, b

        def internal_fill(self, maker: Account, taker: Account, inst, maker_size: int, price: int):
            self.step.consent |= {maker.id, taker.id}
            return self.tx(
                world.fill(
                    maker, maker.owner, taker, taker.owner, self.inst_id(inst), maker_size, price
                )
            )

        @rule(
            a=st.integers(0, 3),
            mm=st.sampled_from(MMS),
            inst=st.integers(0, 15),
            k=st.integers(0, 5),
            buy=st.booleans(),
        )
        def atk_trade_mm(self, a, mm, inst, k, buy):
            """The attacker trades at a market maker's quote (its edge is the maker's choice)."""
            step = self.begin("atk_trade_mm", "attacker")
            step.consented_edge = True
            i = self.pick_instrument(inst)
            q = self.size(i, k, self.attacker(a))
            self.mm_fill(self.acct(mm), self.attacker(a), i, q if buy else -q)

        @rule(
            i=st.integers(0, 3),
            j=st.integers(0, 3),
            inst=st.integers(0, 15),
            k=st.integers(0, 5),
            buy=st.booleans(),
        )
        def atk_pair(self, i, j, inst, k, buy):
            """A hedged pair between own accounts at the model price; k = 5: as large as the
            maker's margin allows (the set-up of attack 1)."""
            self.begin("atk_pair", "attacker")
            mk, tk = self.own_pair(i, j)
            ins = self.pick_instrument(inst)
            q = self.size(ins, k, mk)
            self.internal_fill(mk, tk, ins, q if buy else -q, self.model(ins))

        @rule(
            i=st.integers(0, 3),
            j=st.integers(0, 3),
            inst=st.integers(0, 15),
            k=st.integers(0, 5),
            off=st.sampled_from(OFF_MARKET),
            up=st.booleans(),
        )
        def atk_offmarket(self, i, j, inst, k, off, up):
            """Attack 1: a fill between own accounts far from the model price; k = 5 closes the
            maker's whole position in the instrument (below IM or in an auction: the shortfall
            goes to the friend)."""
            step = self.begin("atk_offmarket", "attacker")
            mk, tk = self.own_pair(i, j)
            ins = self.pick_instrument(inst)
            if k == 5:
                s = self.snap.accounts[mk.id]
                q = -s.options.get(ins.id, 0) if isinstance(ins, Series) else -s.perps[ins][0]
                if q == 0:
                    q = self.size(ins, 1)
            else:
                q = self.size(ins, k) * (1 if up else -1)
            m = self.model(ins)
            # the maker loses: it buys above / sells below the model price
            price = m * (10_000 + off) // 10_000 if q > 0 else m * (10_000 - off) // 10_000
            step.note = f"{off} bps"
            self.internal_fill(mk, tk, ins, q, max(price, 1))

        def _search_and_fill(
            self, maker, maker_signer, taker, taker_sender, inst_id, q, m, maker_loses=True
        ):
            """Sends the fill at the most extreme price (against the maker, or the taker) that the
            chain accepts, found by eth_call down DRAIN_LADDER; the mildest if none is accepted."""
            ex = world.c["exchange"].fn("fill")
            chosen = None
            for off in DRAIN_LADDER:
                # the maker loses when it buys above / sells below the model price
                up = (q > 0) == maker_loses
                price = m * (10_000 + off) // 10_000 if up else m * (10_000 - off) // 10_000
                price = max(price, 1)
                order = (maker.id, inst_id, q, price, 0, 2**40, next(world.salts))
                sig = world.makers[maker_signer].sign(order_digest(world.exchange_sep, order))
                args = (order, sig.v, sig.r, sig.s, taker.id, abs(q))
                try:
                    rpc.call(ex, *args, sender=taker_sender)
                except RpcError:
                    chosen = args
                    continue
                chosen = args
                self.step.note += f" {off} bps"
                break
            return self.tx(rpc.send(taker_sender, ex, *chosen))

        @rule(
            i=st.integers(0, 3),
            j=st.integers(0, 3),
            feed=st.sampled_from(FEEDS),
            part=st.sampled_from((50, 90, 100)),
        )
        def atk_drain(self, i, j, feed, part):
            """Attacks 1 and 3: an own account (preferably below IM or in an auction) closes part
            or all of a perp to another own account at the most extreme price the chain accepts:
            a partial close may lose as much AE as it frees IM; a whole underlying's close is
            checked against a "before" state that forgot that underlying."""
            step = self.begin("atk_drain", "attacker")
            mk, tk = self.own_pair(i, j)
            cands = [
                a
                for a in world.accounts.values()
                if a.attacker
                and a.owner == mk.owner
                and a.id != tk.id
                and self.snap.accounts[a.id].fresh
                and any(self.snap.accounts[a.id].perps[f][0] for f in FEEDS)
            ]
            weak = [a for a in cands if self.snap.accounts[a.id].AE < self.snap.accounts[a.id].IM]
            mk = (weak or cands or [mk])[0]
            s = self.snap.accounts[mk.id]
            f = feed if s.perps[feed][0] else (BTC if s.perps[BTC][0] else ETH)
            q = -s.perps[f][0] * part // 100
            if q == 0 or mk.id == tk.id:
                step.kind = "noop"
                return
            step.consent |= {mk.id, tk.id}
            step.note = f"{part}%"
            self._search_and_fill(mk, mk.owner, tk, tk.owner, f, q, self.spot(f))

        @rule(feed=st.sampled_from(FEEDS), up=st.booleans(), first=st.booleans())
        def atk_dust_mark(self, feed, up, first):
            """Attack 6: a 1-wei perp fill between own accounts at 100× (or 1/100 of) spot, as the
            first fill after time moved, to pin the mark and with it the funding rate."""
            if first:
                self.market_advance(120)
            step = self.begin("atk_dust_mark", "attacker")
            a0, a1 = self.acct("A0"), self.acct("A1")
            price = self.spot(feed) * 100 if up else max(self.spot(feed) // 100, 1)
            step.note = "x100" if up else "/100"
            self.internal_fill(a0, a1, feed, 1 if up else -1, price)

        @rule(
            inst=st.integers(0, 15),
            k=st.integers(0, 5),
            victim_maker=st.booleans(),
        )
        def atk_operator_drain(self, inst, k, victim_maker):
            """Attack 7: X1 holds only the trade right on T2's account; it fills T2 against its own
            A3 at the most extreme price the chain accepts (k = 5: T2's whole perp)."""
            step = self.begin("atk_operator_drain", "attacker")
            victim, a3, x1 = self.acct("T2"), self.acct("A3"), world.eoa["X1"]
            ins = self.pick_instrument(inst)
            s = self.snap.accounts[victim.id]
            if k == 5 and not isinstance(ins, Series) and s.perps[ins][0]:
                q = -s.perps[ins][0]  # the victim closes its position
            else:
                q = self.size(ins, min(k, 4)) * (1 if k % 2 else -1)
            step.consent |= {victim.id, a3.id}
            step.operator_sides.add(victim.id)
            m = self.model(ins)
            if victim_maker:  # X1 signs T2's order; A3 takes it
                self._search_and_fill(victim, x1, a3, x1, self.inst_id(ins), q, m)
            else:  # X1 signs A3's order and takes it for T2
                self._search_and_fill(a3, x1, victim, x1, self.inst_id(ins), -q, m, False)

        @rule(k=st.integers(0, 20), feed=st.sampled_from(FEEDS))
        def atk_realise_others(self, k, feed):
            """Attack 9: realisePnl on an honest account (its profit into cash, under the haircut)."""
            step = self.begin("atk_realise_others", "attacker")
            mine = world.attacker_ids()
            targets = [
                a for a, s in self.snap.accounts.items() if a not in mine and s.perps[feed][0]
            ]
            target = self.pick(targets, k)
            if target is None:
                step.kind = "noop"
                return
            self.tx(world.send(world.eoa["X0"], "engine", "realisePnl", target, feed))

        @rule(feed=st.sampled_from(FEEDS), n=st.integers(1, 4), seed=st.integers(0, 10**6))
        def atk_spam_series(self, feed, n, seed):
            """Attack 5: far-dated series at odd times, to fill the oracle's expiry queue."""
            self.begin("atk_spam_series", "attacker")
            spot = self.spot(feed)
            for m in range(n):
                expiry = self.now() + 30 * DAY + (seed * 7_919 + m * 104_729) % (690 * DAY)
                r = self.tx(
                    world.send(
                        world.eoa["X0"], "engine", "createSeries", feed, spot, expiry, bool(m % 2)
                    )
                )
                for e in r.events:
                    if e.name == "SeriesCreated":
                        world.series.append(
                            Series(e.args["seriesId"], feed, spot, expiry, bool(m % 2), False)
                        )
                if not r.ok:
                    break

        @rule(feed=st.sampled_from(FEEDS), k=st.integers(0, 2))
        def atk_open_dust(self, feed, k):
            """Attack 10's set-up: a new own account with a few dollars and a tiny perp against A0,
            right at IM, so that a small move puts it below MM with less equity than the fee."""
            step = self.begin("atk_open_dust", "attacker")
            if self.dust >= MAX_DUST_ACCOUNTS:
                step.kind = "noop"
                return
            x0 = world.eoa["X0"]
            r = self.tx(world.send(x0, "vault", "openAccount"))
            acct_id = next(e.args["accountId"] for e in r.events if e.name == "AccountOpened")
            self.dust += 1
            dust = Account(acct_id, x0, f"D{self.dust}", True)
            world.accounts[dust.name] = dust
            notional = (30, 60, 120)[k] * WAD  # [wad USD]
            q = notional * WAD // self.spot(feed)
            im = notional * 17 // 100  # a little above the 16% scan range
            units = im // 10**12 + 1
            self.tx(deposit(world, dust, "usdc", units))
            a0 = self.acct("A0")
            step.consent |= {dust.id, a0.id}
            self.internal_fill(a0, dust, feed, -q, self.spot(feed))

        @rule(k=st.integers(0, 20))
        def atk_start_auction(self, k):
            """The attacker starts auctions (as keeper, account A0) on any account below MM,
            its own dust accounts included (attack 10); none: on anyone (must revert)."""
            step = self.begin("atk_start_auction", "attacker")
            starter = self.acct("A0")
            cands = self.fresh_accounts(lambda s: s.AE < s.MM and not s.in_auction)
            cands = [c for c in cands if c.id != starter.id]
            target = self.pick(cands, k) or self.pick(list(self.snap.accounts.values()), k)
            step.consent.add(starter.id)
            self.tx(world.send(starter.owner, "liquidator", "startAuction", target.id, starter.id))

        @rule(k=st.integers(0, 20), pct=st.sampled_from((25, 100)), b=st.integers(0, 2))
        def atk_bid(self, k, pct, b):
            """Attack 2: the attacker bids on any account in auction, cured ones included."""
            step = self.begin("atk_bid", "attacker")
            # the own account with the most free margin bids (b = 0), or A1/A2
            own = [a for a in world.accounts.values() if a.attacker and a.owner == world.eoa["X0"]]
            free = sorted(
                own,
                key=lambda a: (
                    -(
                        self.snap.accounts[a.id].AE - self.snap.accounts[a.id].IM
                        if self.snap.accounts[a.id].fresh
                        else -(10**40)
                    )
                ),
            )
            bidder = free[0] if b == 0 else self.attacker(b)
            target = self.pick(self.fresh_accounts(lambda s: s.in_auction and s.id != bidder.id), k)
            if target is None:
                step.kind = "noop"
                return
            step.consent.add(bidder.id)
            self.tx(self._bid(bidder, target, pct))

        @rule(k=st.integers(0, 20))
        def atk_end_auction(self, k):
            step = self.begin("atk_end_auction", "attacker")
            target = self.pick([s for s in self.snap.accounts.values() if s.in_auction], k)
            if target is None:
                step.kind = "noop"
                return
            self.tx(world.send(world.eoa["X0"], "liquidator", "endAuction", target.id))

        @rule(
            feed=st.sampled_from(FEEDS),
            mask=st.integers(0, 15),
            own_bps=st.sampled_from((-5_000, -1_000, -300, -90, 90, 300, 1_000, 5_000)),
            vol_pct=st.sampled_from((10, 100, 300)),
            lead=st.sampled_from((1, 1, 30, 60)),
        )
        def atk_oracle(self, feed, mask, own_bps, vol_pct, lead):
            """Attack 4 with f = 1: the attacker's signer reports an off price and vol, joined by
            a subset of the honest observations copied from the relayer's pending round, and the
            attacker submits first (front-running the relayer, which then has to sign again)."""
            step = self.begin("atk_oracle", "attacker", "market")
            st_ = rpc.call(world.c["oracle"].fn("feed"), feed)
            round_, at = st_[3] + 1, max(self.now() + lead, st_[2] + 1)
            honest = [i for i in range(4) if mask >> i & 1]
            for i in range(4):  # at least quorum: copy more honest observations if needed
                if len(honest) >= 2:
                    break
                if i not in honest:
                    honest.append(i)
            price, vol = world.truth[feed]
            obs = [world.honest_observation(i, feed, round_, at) for i in sorted(honest)]
            obs.append(
                world.observation(
                    ATTACKER_SIGNER,
                    feed,
                    round_,
                    at,
                    price * (10_000 + own_bps) // 10_000,
                    vol * vol_pct // 100,
                )
            )
            step.note = f"own {own_bps:+d} bps with honest {sorted(honest)}"
            rpc.next_block_at(self.now() + 1)
            self.tx(world.send(world.eoa["X0"], "oracle", "submit", [(feed, round_, at, obs)]))

        @rule(a=st.integers(0, 3), amount=st.sampled_from((1_000, 20_000)))
        def atk_deposit(self, a, amount):
            step = self.begin("atk_deposit", "attacker")
            acct = self.attacker(a)
            step.consent.add(acct.id)
            self.tx(deposit(world, acct, "usdc", amount * USDC_UNIT))

        @rule(a=st.integers(0, 3), pct=st.sampled_from((10, 50, 100)))
        def atk_withdraw(self, a, pct):
            step = self.begin("atk_withdraw", "attacker")
            acct = self.attacker(a)
            cash = self.snap.accounts[acct.id].cash
            units = max(cash, 0) * pct // 100 // 10**12
            if units == 0:
                step.kind = "noop"
                return
            step.consent.add(acct.id)
            self.tx(
                world.send(
                    acct.owner,
                    "vault",
                    "withdraw",
                    acct.id,
                    world.c["usdc"].address,
                    units,
                    acct.owner,
                )
            )

        @rule(kind=st.integers(0, 11), k=st.integers(0, 20))
        def atk_unauthorised(self, kind, k):
            """INV-7: calls outside the attacker's rights revert with a named error and change
            nothing (checked by the revert rule of checks.py)."""
            step = self.begin("atk_unauthorised", "attacker")
            x0, x1 = world.eoa["X0"], world.eoa["X1"]
            t0, t2, a0 = self.acct("T0"), self.acct("T2"), self.acct("A0")
            usdc = world.c["usdc"].address
            step.note = str(kind)
            if kind == 0:  # the trade-only operator withdraws
                r = world.send(x1, "vault", "withdraw", t2.id, usdc, USDC_UNIT, x1)
            elif kind == 1:  # fills as taker for an account it has no right on
                mm = self.acct("MM0")
                r = world.fill(mm, mm.owner, t0, x0, BTC, WAD // 10, self.spot(BTC))
            elif kind == 2:
                r = world.send(x0, "engine", "setParam", b32("maxUnderlyings"), 1)
            elif kind == 3:
                r = world.send(x0, "vault", "moveCash", t0.id, a0.id, 1_000 * WAD)
            elif kind == 4:
                r = world.send(x0, "engine", "transferPositions", t0.id, a0.id, WAD)
            elif kind == 5:
                r = world.send(x0, "liquidator", "setParam", b32("keeperFee"), 100 * WAD)
            elif kind == 6:
                r = world.send(x0, "oracle", "setSigner", x0, True)
            elif kind == 7:  # a quorum made of its own signature three times
                st_ = rpc.call(world.c["oracle"].fn("feed"), BTC)
                at = self.now() + 1
                obs = [
                    world.observation(
                        ATTACKER_SIGNER, BTC, st_[3] + 1, at, self.spot(BTC) // 2, WAD
                    )
                ] * 3
                r = world.send(x0, "oracle", "submit", [(BTC, st_[3] + 1, at, obs)])
            elif kind == 8:  # signs an order for an account it has no right on
                r = world.fill(t0, x0, a0, x0, BTC, WAD, self.spot(BTC) // 2)
            elif kind == 9:  # the trade-only operator grants itself the withdraw right
                r = world.send(x1, "vault", "setOperator", t2.id, x1, 3)
            elif kind == 10:
                r = world.send(x0, "oracle", "registerExpiry", BTC, next_expiry(self.now(), 3) + 1)
            else:
                r = world.send(x0, "vault", "transferAccount", t0.id, x0)
            self.tx(r)
            if r.ok:
                checker.flag("INV-7", step, f"{r.fn} by the attacker succeeded (kind {kind})")

    return AttackerMachine


def test_fast_signing_matches_reference_encoders(attacker_world: World):
    """The attacker test's digests equal keel.orders / oracle.report's EIP-712 encoders."""
    from keel.observations import CorrelationObservation, Observation, oracle_domain
    from keel.orders import Order, exchange_domain
    from tests.stateful.signing import correlation_digest, observation_digest, order_digest

    w = attacker_world
    o = Order(3, OPTION_INSTRUMENT_BASE + 2, -5 * 10**17, 1_234 * WAD, 0, 2**40, 77)
    assert order_digest(w.exchange_sep, o.as_tuple()) == o.digest(
        exchange_domain(chain.id, w.c["exchange"].address)
    )
    ob = Observation(1, 9, 1_800_000_000, 61_000 * WAD, 6 * WAD // 10)
    assert observation_digest(w.oracle_sep, 1, 9, 1_800_000_000, 61_000 * WAD, 6 * WAD // 10) == (
        ob.digest(oracle_domain(chain.id, w.c["oracle"].address))
    )
    co = CorrelationObservation(1, 2, 4, 1_800_000_000, -7 * WAD // 10)
    assert correlation_digest(w.oracle_sep, 1, 2, 4, 1_800_000_000, -7 * WAD // 10) == (
        co.digest(oracle_domain(chain.id, w.c["oracle"].address))
    )
    assert w.rpc.call(w.c["vault"].fn("isAuthorised"), w.acct("T2").id, w.eoa["X1"], RIGHT_TRADE)
