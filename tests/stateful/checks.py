"""The invariants of the attacker test and the attacker's fair-P&L ledger (see test_attacker.py's
docstring for the definitions). One `Checker` per test run; `after_step` runs after every step.

Violations are raised at once in the default `strict` mode (hypothesis then shrinks to a minimal
falsifying sequence); with KEEL_ATTACKER_MODE=survey they are recorded and the example goes on,
so that one run lists every kind of violation an unfixed protocol shows. KEEL_ATTACKER_ONLY (a
comma-separated list of kinds, e.g. "ATTACKER-PNL,INV-3") keeps strict mode for those kinds only,
to let hypothesis find and shrink one attack at a time.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from tests.stateful.rpc import TX_GAS_CAP, Receipt, RpcError
from tests.stateful.snapshot import Snapshot
from tests.stateful.world import FEEDS, WAD, World

LIQUIDATION_GAS_CAP = TX_GAS_CAP // 2  # INV-10: liquidation ops use at most half the cap [gas]
LIQUIDATION_FNS = {"startAuction", "bid", "bidInsolvent", "endAuction"}
MAX_INV3_PROBES = 4  # accounts probed per step (the first ones below MM)
NEVER_PAUSED = LIQUIDATION_FNS | {
    "deposit", "withdraw", "settle", "fundInsurance", "submit", "submitWithCorrelations",
}  # fmt: skip
BAND_PERP = WAD * 2 // 100  # SPEC §5 [v2] bandPerp default                            [wad]
BAND_OPT_ABS = WAD * 5 // 1000  # bandOptAbs                                           [wad]
BAND_OPT_REL = WAD // 10  # bandOptRel                                                 [wad]
MAX_SPREAD = 0.01  # SPEC §3 [v2] maxSpread default                                    [fraction]
HONEST_SPREAD = 0.002  # honest signers' largest offset from the truth (world.py)      [fraction]
SETTLEMENT_WINDOW = 15 * 60  # SPEC §3 [v2] settlementWindow default                    [s]
MAX_PENDING_EXPIRIES = 32  # Oracle.MAX_PENDING_EXPIRIES
ROUNDING = 10**6  # rounding tolerance of a value comparison per account and step      [wad]
# taint below this per account and step is rounding of the model price, not a transfer: the float
# Black-Scholes price before RiskArrayStore.unitValue existed is within ~1e-12·S of the engine's
TAINT_DUST = 10**12  # ($0.000001)                                                      [wad]
# reverts that are not custom errors (a bare revert, a panic, running out of gas)
UNNAMED = {"", "Panic", "Error", "OutOfGas"}


class Violation(AssertionError):
    pass


@dataclass
class Step:
    """What one rule did, for the checks that follow it."""

    rule: str
    actor: str  # attacker | honest | keeper | market | gov
    kind: str = "action"  # market: every change of value is the market's | action | noop
    receipts: list = field(default_factory=list)
    consent: set = field(default_factory=set)  # accounts whose owner/operator committed them
    operator_sides: set = field(default_factory=set)  # committed by an operator, not the owner
    consented_edge: bool = False  # the attacker traded at an honest party's own quote
    must_succeed: list = field(default_factory=list)  # (what, receipt, account) liveness probes
    relayer: list = field(default_factory=list)  # honest relayer receipts
    note: str = ""

    @property
    def ok_receipts(self) -> list[Receipt]:
        return [r for r in self.receipts if r.ok]

    def events(self, name: str):
        return [e for r in self.ok_receipts for e in r.events if e.name == name]


@dataclass
class Record:
    kind: str
    rule: str
    detail: str
    trace: list


class Checker:
    def __init__(self, world: World, mode: str = "strict", only: set[str] | None = None):
        self.world = world
        self.mode = mode
        self.only = only  # strict on these kinds only (the others are recorded), None: all
        self.records: list[Record] = []
        self.counts = Counter()  # violations by kind
        self.max_gas: dict[str, int] = defaultdict(int)
        self.stats = Counter()  # checks performed by kind
        self.trace: list[str] = []  # steps of the running example
        self.prev: Snapshot | None = None
        self.taint: dict[int, int] = {}  # unfair value moved into each attacker account [wad USD]
        self.taint_wallet = 0  # ... and withdrawn to the attacker's wallets              [wad USD]
        self.dust = 0  # INV-1 rounding dust the vault may have kept                   [wad USD]

    # --- lifecycle ---

    def start_example(self, snap: Snapshot) -> None:
        self.prev = snap
        self.taint, self.taint_wallet = {}, 0
        self.dust = 0
        self.trace = []
        self.check_conservation(snap)

    def flag(self, kind: str, step: Step, detail: str) -> None:
        self.counts[kind] += 1
        text = f"{kind} after rule {step.rule}: {detail}"
        if len(self.records) < 5000:
            self.records.append(Record(kind, step.rule, detail, list(self.trace[-12:])))
        if self.mode == "strict" and (self.only is None or kind in self.only):
            raise Violation(text + "\n  steps: " + " | ".join(self.trace[-12:]))

    # --- the checks, in order ---

    def after_step(self, step: Step, snap: Snapshot) -> None:
        prev = self.prev
        self.trace.append(f"{step.rule}{'(' + step.note + ')' if step.note else ''}")
        self.check_gas(step)
        self.check_reverts(step, prev, snap)
        # the waterfall first: a socialisation in this step raises INV-1's dust bound by its index
        # cut's rounding before INV-1 compares the vault's USDC with what it owes
        self.check_waterfall(step, prev, snap)
        self.check_conservation(snap)
        self.check_positions(snap)
        if step.kind == "action":
            self.check_fills(step, prev, snap)
            self.check_withdrawals(step, snap)
            self.check_third_party(step, prev, snap)
            self.check_keeper_fee(step, prev, snap)
        self.check_oracle(step, snap)
        self.check_listing(step, snap)
        self.check_liveness(step)
        self.check_attacker_pnl(step, prev, snap)
        self.check_liquidatable(step, snap)
        self.prev = snap

    # INV-10
    def check_gas(self, step: Step) -> None:
        for r in step.receipts + step.relayer:
            self.max_gas[r.fn] = max(self.max_gas[r.fn], r.gas_used)
            self.max_gas["*"] = max(self.max_gas["*"], r.gas_used)
            self.stats["INV-10 tx"] += 1
            if r.error == "OutOfGas" or r.gas_used > TX_GAS_CAP:
                self.flag("INV-10", step, f"{r.fn} used {r.gas_used} gas (cap {TX_GAS_CAP})")
            if r.fn in LIQUIDATION_FNS and r.gas_used > LIQUIDATION_GAS_CAP:
                self.flag("INV-10", step, f"{r.fn} used {r.gas_used} gas > {LIQUIDATION_GAS_CAP}")

    # every revert is a named custom error, and a reverted step changes nothing
    def check_reverts(self, step: Step, prev: Snapshot, snap: Snapshot) -> None:
        for r in step.receipts + step.relayer:
            if not r.ok and (r.error in UNNAMED or r.error.startswith("0x")):
                self.flag("UNNAMED-REVERT", step, f"{r.fn} reverted with {r.error!r}")
        if step.receipts and not step.ok_receipts and not step.relayer:
            self.stats["revert leaves state unchanged"] += 1
            before = {a: s.holdings() for a, s in prev.accounts.items()}
            after = {a: s.holdings() for a, s in snap.accounts.items() if a in before}
            changed = [a for a in before if before[a] != after.get(a)]
            if changed or prev.globals() != snap.globals():
                self.flag(
                    "REVERT-CHANGED-STATE",
                    step,
                    f"reverted {[r.fn + ':' + str(r.error) for r in step.receipts]} but "
                    f"accounts {changed} / globals changed",
                )
            for a in before:
                pa, sa = prev.accounts[a], snap.accounts[a]
                if prev.ts == snap.ts and pa.fresh and sa.fresh and (pa.E, pa.AE) != (sa.E, sa.AE):
                    self.flag("REVERT-CHANGED-STATE", step, f"account {a} E/AE moved")

    # INV-1
    def check_conservation(self, snap: Snapshot) -> None:
        self.stats["INV-1"] += 1
        accts = snap.accounts.values()
        for token in ("weth", "wbtc"):
            total = sum(getattr(a, token) for a in accts)
            if snap.vault_balance[token] != total:
                raise Violation(
                    f"INV-1 {token}: vault holds {snap.vault_balance[token]}, owes {total}"
                )
        cash = sum(a.cash for a in accts)
        pnl = 0
        funding = 0
        for a in accts:
            for f in FEEDS:
                q, entry, _ = a.perps[f]
                if q:
                    pnl += _mul_floor(q, snap.feeds[f][0] - entry)
                funding += a.funding_owed[f]
        settled = 0
        for s in self.world.series:
            price = snap.settlement_price.get(s.id, 0)
            if price and snap.settled.get(s.id, 0):
                payoff = max(price - s.strike, 0) if s.is_call else max(s.strike - price, 0)
                settled += snap.settled[s.id] * payoff // WAD
        held = snap.vault_balance["usdc"] * 10**12
        owed = cash + snap.insurance + pnl - funding - settled
        slack = held - owed
        # dust only, in the vault's favour: a few wei per account and position, plus the index
        # cut's rounding after a socialisation
        bound = self.dust + 20 * len(snap.accounts) * (1 + len(self.world.series))
        if not 0 <= slack <= bound:
            raise Violation(f"INV-1 USDC: held {held} owed {owed} (slack {slack}, bound {bound})")

    # INV-6
    def check_positions(self, snap: Snapshot) -> None:
        self.stats["INV-6"] += 1
        for f in FEEDS:
            total = sum(a.perps[f][0] for a in snap.accounts.values())
            if total != 0:
                raise Violation(f"INV-6 perp {f}: Σ size = {total}")
        totals = Counter()
        for a in snap.accounts.values():
            for sid, q in a.options.items():
                totals[sid] += q
        for s in self.world.series:
            if totals[s.id] + snap.settled.get(s.id, 0) != 0:
                raise Violation(
                    f"INV-6 series {s.id}: Σ size {totals[s.id]} + settled {snap.settled[s.id]}"
                )

    # INV-2 and INV-9 on every fill
    def check_fills(self, step: Step, prev: Snapshot, snap: Snapshot) -> None:
        fills = step.events("Traded")
        if not fills:
            return
        single = len(step.ok_receipts) == 1
        series = {s.instrument: s for s in self.world.series}
        for ev in fills:
            self.stats["INV-9 band"] += 1
            inst, price = ev.args["instrument"], ev.args["price"]
            if inst in series:
                s = series[inst]
                spot, vol, at, _ = snap.feeds[s.feed]
                v = self.world.unit_value(s, spot, vol, at)
                band = (BAND_OPT_ABS * spot + BAND_OPT_REL * v) // WAD
                if abs(price - v) > band + 1e-9 * spot:
                    self.flag(
                        "INV-9 band",
                        step,
                        f"option {s.id} filled at {price / WAD:.6f}, model {v / WAD:.6f}",
                    )
            else:
                spot = snap.feeds[inst][0]
                if abs(price - spot) * WAD > BAND_PERP * spot:
                    self.flag(
                        "INV-9 band", step, f"perp {inst} filled at {price / WAD} vs S {spot / WAD}"
                    )
            if not single:
                continue
            sides = (
                (ev.args["makerAccount"], ev.args["makerFee"]),
                (ev.args["takerAccount"], ev.args["takerFee"]),
            )
            for acct, fee in sides:
                b, a = prev.accounts.get(acct), snap.accounts[acct]
                if b is None or not (b.fresh and a.fresh):
                    continue
                self.stats["INV-2 fill"] += 1
                # INV-2: at/above IM after, or the fill raised neither IM nor the shortfall
                if a.AE < a.IM and not (a.IM <= b.IM and a.IM - a.AE <= b.IM - b.AE):
                    self.flag(
                        "INV-2",
                        step,
                        f"account {acct}: AE/IM {b.AE}/{b.IM} -> {a.AE}/{a.IM}",
                    )
                # INV-9 equity rule: below IM after, in an auction, or operator-committed
                if a.AE < a.IM or b.in_auction or acct in step.operator_sides:
                    self.stats["INV-9 equity"] += 1
                    if a.E < b.E - fee - TAINT_DUST:
                        self.flag(
                            "INV-9 equity",
                            step,
                            f"account {acct} lost {(b.E - a.E - fee) / WAD:.6f} USD beyond its fee "
                            f"(E {b.E / WAD:.4f} -> {a.E / WAD:.4f}, AE/IM after "
                            f"{a.AE / WAD:.2f}/{a.IM / WAD:.2f}, in auction {b.in_auction}, "
                            f"operator {acct in step.operator_sides})",
                        )

    # INV-2 on withdrawals
    def check_withdrawals(self, step: Step, snap: Snapshot) -> None:
        for ev in step.events("Withdrawn"):
            a = snap.accounts[ev.args["accountId"]]
            self.stats["INV-2 withdrawal"] += 1
            if a.fresh and a.AE < a.IM:
                self.flag("INV-2", step, f"withdrawal left account {a.id} at AE {a.AE} < IM {a.IM}")

    # INV-8: nobody but the owner/operator lowers the AE of an account at or above IM
    def check_third_party(self, step: Step, prev: Snapshot, snap: Snapshot) -> None:
        if step.events("LossSocialised"):
            return  # the waterfall's last step scales every positive cash balance (SPEC §7)
        for acct, b in prev.accounts.items():
            if acct in step.consent or not b.fresh or b.AE < b.IM:
                continue
            a = snap.accounts[acct]
            if not a.fresh:
                continue
            self.stats["INV-8"] += 1
            if a.AE < b.AE - ROUNDING:
                self.flag(
                    "INV-8",
                    step,
                    f"account {acct} at/above IM (AE {b.AE / WAD:.4f} >= IM {b.IM / WAD:.4f}) "
                    f"lost {(b.AE - a.AE) / WAD:.6f} AE to {step.rule} by a third party",
                )

    # SPEC §7 [v2]: the keeper fee never exceeds the account's positive equity
    def check_keeper_fee(self, step: Step, prev: Snapshot, snap: Snapshot) -> None:
        for ev in step.events("AuctionStarted"):
            acct = ev.args["accountId"]
            b, a = prev.accounts.get(acct), snap.accounts[acct]
            if b is None or not (b.fresh and a.fresh):
                continue
            self.stats["keeper fee <= E+"] += 1
            paid = b.E - a.E
            if paid > max(b.E, 0) + ROUNDING:
                self.flag(
                    "INV-5 keeper fee",
                    step,
                    f"start on account {acct} took {paid / WAD:.4f} USD with E {b.E / WAD:.4f} "
                    "(the insurance fund pays the rest)",
                )

    # INV-5: losses follow the waterfall
    def check_waterfall(self, step: Step, prev: Snapshot, snap: Snapshot) -> None:
        for ev in step.events("InsolventBid"):
            self.stats["INV-5"] += 1
            if ev.args["socialised"] > 0 and snap.insurance != 0:
                self.flag("INV-5", step, f"socialised {ev.args['socialised']} with fund left")
            if ev.args["fromFund"] > prev.insurance:
                self.flag("INV-5", step, "fund paid more than it held")
        for ev in step.events("LossSocialised"):
            if "positiveCash" in ev.args:  # the Vault's event: index cut rounding dust
                self.dust += prev.principal // WAD + 2 + 10 * len(snap.accounts)

    # SPEC §3 [v2]: f colluding signers move the price by at most ~maxSpread; expiries settle only
    # from a report inside the settlement window
    def check_oracle(self, step: Step, snap: Snapshot) -> None:
        for r in step.ok_receipts + step.relayer:
            if not r.ok:
                continue
            observed = {}
            for ev in r.events:
                if ev.name == "FeedUpdated":
                    f = ev.args["feedId"]
                    observed[f] = ev.args["observedAt"]
                    truth = self.world.truth[f][0]
                    self.stats["oracle f-tolerance"] += 1
                    dev = abs(ev.args["price"] / truth - 1)
                    if dev > HONEST_SPREAD + MAX_SPREAD + 1e-12:
                        self.flag(
                            "ORACLE-F",
                            step,
                            f"feed {f} accepted {ev.args['price'] / WAD} vs truth {truth / WAD} "
                            f"({dev:.2%}) with at most f faulty signers",
                        )
            for ev in r.events:
                if ev.name == "SettlementPriceFixedByGovernance":
                    self.stats["settlement window"] += 1
                    f, expiry, at = ev.args["feedId"], ev.args["expiry"], ev.args["observedAt"]
                    truth = self.world.truth_at(f, expiry)
                    if (
                        not expiry <= at <= expiry + SETTLEMENT_WINDOW
                        or abs(ev.args["price"] / truth - 1) > HONEST_SPREAD + MAX_SPREAD
                    ):
                        self.flag(
                            "SETTLEMENT-WINDOW",
                            step,
                            f"governance fixed feed {f} expiry {expiry} at {ev.args['price'] / WAD}"
                            f" observed {at - expiry} s after it (truth {truth / WAD})",
                        )
                if ev.name == "SettlementPriceFixed":
                    self.stats["settlement window"] += 1
                    f, expiry = ev.args["feedId"], ev.args["expiry"]
                    at = observed.get(f, snap.feeds[f][2])
                    if at - expiry > SETTLEMENT_WINDOW:
                        self.flag(
                            "SETTLEMENT-WINDOW",
                            step,
                            f"feed {f} expiry {expiry} fixed by a report observed "
                            f"{(at - expiry) / 60:.0f} min after it",
                        )

    # SPEC §4 [v2]: only governance lists; nobody exhausts the expiry slots
    def check_listing(self, step: Step, snap: Snapshot) -> None:
        gov = self.world.eoa["gov"].lower()
        for r in step.ok_receipts:
            for ev in r.events:
                if ev.name == "SeriesCreated" and r.sender.lower() != gov:
                    self.flag(
                        "INV-7 listing",
                        step,
                        f"{r.sender} (not governance) listed series {ev.args['seriesId']}",
                    )
        for f, n in snap.pending_expiries.items():
            self.stats["listing liveness"] += 1
            if n >= MAX_PENDING_EXPIRIES:
                self.flag("LISTING-LIVENESS", step, f"feed {f}: {n} pending expiries: full")

    def check_liveness(self, step: Step) -> None:
        for r in step.receipts:
            # SPEC §8b: no pause ever stops deposits, withdrawals, liquidation or settlement
            if r.error in ("Paused", "NewRiskPaused") and r.fn in NEVER_PAUSED:
                self.flag("LIVENESS paused", step, f"{r.fn} reverted {r.error} while paused")
        for what, r, acct in step.must_succeed:
            self.stats[f"liveness {what}"] += 1
            if r.ok:
                continue
            if what == "risk-reducing close" and not (
                r.error == "Paused"
                or (
                    r.error in ("BelowInitialMargin", "EquityLoss", "NewRiskPaused")
                    and r.error_args
                    and r.error_args[0] == acct
                )
            ):
                continue  # refused for another reason (stale feed, the counterparty's margin)
            if what == "settlement" and r.error not in ("Paused", "NewRiskPaused"):
                continue  # e.g. a position another step settled first
            self.flag(f"LIVENESS {what}", step, f"{r.fn} reverted {r.error}{tuple(r.error_args)}")
        for r in step.relayer:
            self.stats["liveness relayer"] += 1
            if not r.ok:
                self.flag("LIVENESS relayer", step, f"honest report reverted {r.error}")

    # the attacker's equity never grows by more than its fair P&L (test_attacker.py docstring)
    def fair_changes(self, step: Step, prev: Snapshot, snap: Snapshot, delta: dict) -> dict:
        """φ_a: the fair change of each attacker account's E in an action step of the attacker."""
        mine = self.world.attacker_ids()
        phi = dict.fromkeys(delta, 0)
        usdc = self.world.c["usdc"].address.lower()
        for ev in step.events("Traded"):
            for side, fee in (("makerAccount", "makerFee"), ("takerAccount", "takerFee")):
                if ev.args[side] in mine:
                    phi[ev.args[side]] -= ev.args[fee]  # a fill at the model price costs its fee
        for ev in step.events("SolventBid"):
            bidder, target = ev.args["bidderAccount"], ev.args["accountId"]
            gain = ev.args["fraction"] * ev.args["equity"] // WAD - ev.args["payment"]
            b = prev.accounts.get(target)
            below_im = b is not None and b.fresh and b.AE < b.IM
            if bidder in mine:
                phi[bidder] -= ev.args["penalty"]
                if below_im:
                    # the discount earned on an account below IM. Also on one of its own: any
                    # bidder could have taken the same discount at the same moment, so the fund
                    # and the other users are no worse off than after an honest bid
                    phi[bidder] += gain
            if target in mine and (bidder not in mine or below_im):
                phi[target] += delta.get(target, 0)  # sold at the auction's price: the market's
        for ev in step.events("InsolventBid"):
            bidder, target = ev.args["bidderAccount"], ev.args["accountId"]
            if bidder in mine:
                phi[bidder] += ev.args[
                    "bonus"
                ]  # the portfolio (E ≤ 0) and −E + bonus from the fund
            if target in mine:
                phi[target] += delta.get(target, 0)  # its debt was paid: judged when it arose
        for ev in step.events("AuctionStarted"):
            starter, target = ev.args["starterAccount"], ev.args["accountId"]
            b, a = prev.accounts.get(target), snap.accounts[target]
            if b is None or not (b.fresh and a.fresh):
                continue
            fee = min(b.E - a.E, max(b.E, 0))  # a keeper fee within the account's equity
            if starter in mine:
                phi[starter] += fee
            if target in mine:
                phi[target] -= fee
        for ev in step.events("Deposited") + step.events("Withdrawn"):
            acct = ev.args["accountId"]
            if acct in mine:
                assert str(ev.args["token"]).lower() == usdc, "the attacker moves only USDC"
                amount = ev.args["amount"] * 10**12
                phi[acct] += amount if ev.name == "Deposited" else -amount
        for ev in step.events("LossSocialised"):
            if "newIndex" in ev.args:  # the Vault's event: every positive cash balance is cut
                old, new = ev.args["oldIndex"], ev.args["newIndex"]
                for acct in phi:
                    cash = prev.accounts[acct].cash if acct in prev.accounts else 0
                    if cash > 0:
                        phi[acct] -= cash - cash * new // old
        return phi

    def check_attacker_pnl(self, step: Step, prev: Snapshot, snap: Snapshot) -> None:
        mine = self.world.attacker_ids()
        if any(a in snap.accounts and not snap.accounts[a].fresh for a in mine) or any(
            a in prev.accounts and not prev.accounts[a].fresh for a in mine
        ):
            self.stats["attacker P&L skipped (stale feed)"] += 1
            return
        delta = {
            a: snap.accounts[a].E - (prev.accounts[a].E if a in prev.accounts else 0)
            for a in mine
            if a in snap.accounts
        }
        unfair = step.kind == "action" and step.actor == "attacker" and not step.consented_edge
        if unfair:
            phi = self.fair_changes(step, prev, snap, delta)
            moved = {a: d - phi[a] for a, d in delta.items() if abs(d - phi[a]) > TAINT_DUST}
            if sum(moved.values()) <= TAINT_DUST and all(
                snap.accounts[a].AE >= snap.accounts[a].IM
                and not (a in prev.accounts and prev.accounts[a].in_auction)
                for a, t in moved.items()
                if t < 0
            ):
                # value moved between its own accounts, every giver still at/above IM and not in
                # an auction: the same as withdrawing it down to IM and depositing it elsewhere,
                # which the rules allow (SPEC §2, §5 [v2]); not a gain
                moved = {}
            for a, t in moved.items():  # value moved into `a` on unfair terms
                self.taint[a] = self.taint.get(a, 0) + t
            for ev in step.events("Withdrawn"):  # taint leaves with the money it came with
                a = ev.args["accountId"]
                moved = min(max(self.taint.get(a, 0), 0), ev.args["amount"] * 10**12)
                if a in mine and moved:
                    self.taint[a] -= moved
                    self.taint_wallet += moved
        self.stats["attacker P&L"] += 1
        excess = self.taint_wallet
        for a in delta:
            e = snap.accounts[a].E
            excess += max(e, 0) - max(e - self.taint.get(a, 0), 0)
        tol = TAINT_DUST * (2 + len(delta))
        if excess > tol:
            detail = ", ".join(
                f"{self.world.by_id(a).name}: E {snap.accounts[a].E / WAD:.2f} unfair "
                f"{t / WAD:+.2f}"
                for a, t in sorted(self.taint.items())
                if t and a in snap.accounts
            )
            detail += f"; withdrawn unfairly {self.taint_wallet / WAD:+.2f}"
            self.taint, self.taint_wallet = {}, 0  # survey mode goes on from a clean ledger
            self.flag(
                "ATTACKER-PNL",
                step,
                f"attacker wealth exceeds its fair P&L by {excess / WAD:.6f} USD ({detail})",
            )

    # INV-4: the chain's breakdown equals the reference model's (keel.risk)
    def check_reference(self, step: Step, snap: Snapshot) -> None:
        from keel.risk.chain_inputs import (
            compare_breakdown,
            market_from_chain,
            portfolios_from_chain,
        )
        from keel.risk.margin import compute_margin

        w = self.world
        if not hasattr(self, "_tokens"):
            self._tokens, self._settle_haircut = _token_table(w)
        series = {s.id: s for s in w.series}
        accounts, chain = [], {}
        for a in snap.accounts.values():
            if not a.fresh:
                continue
            accounts.append(
                {
                    "id": a.id,
                    "cash": a.cash,
                    "collateral": {
                        t["token"]: units
                        for t, units in zip(self._tokens, (a.weth, a.wbtc), strict=True)
                        if units
                    },
                    "perps": [
                        {
                            "feedId": f,
                            "size": a.perps[f][0],
                            "entryPrice": a.perps[f][1],
                            "fundingOwed": a.funding_owed[f],
                        }
                        for f in FEEDS
                        if a.perps[f][0]
                    ],
                    "options": [
                        {
                            "feedId": series[sid].feed,
                            "strike": series[sid].strike,
                            "expiry": series[sid].expiry,
                            "isCall": series[sid].is_call,
                            "size": q,
                        }
                        for sid, q in a.options.items()
                        if q
                    ],
                }
            )
            b = a.breakdown
            chain[a.id] = {
                "equity": b[0],
                "adjusted_equity": b[1],
                "im": b[2],
                "mm": b[3],
                "scan_risk": b[4],
                "som": b[5],
                "joint_loss": b[6],
                "joint_worst": b[7],
                "underlyings": {int(u[0]): (int(u[2]), int(u[3])) for u in b[8]},
                "correlated_loss": b[9],
            }
        if not accounts:
            return
        fixed = {
            (s.feed, s.expiry): snap.settlement_price[s.id]
            for s in w.series
            if snap.settlement_price.get(s.id)
        }
        feeds = {f: snap.feeds[f][:3] for f in FEEDS}
        market = market_from_chain(
            feeds, self._tokens, self._settle_haircut, fixed, snap.params, snap.correlations
        )
        result = compute_margin(market, portfolios_from_chain(accounts, market))
        for k, acc in enumerate(accounts):
            self.stats["INV-4"] += 1
            # figures only: a worst-scenario index can differ on a near-tie (chain integers vs
            # floats, e.g. j = 0 and j = 9 of a book with almost no vega); the differential test
            # (tests/integration/test_margin_differential.py) compares indices on controlled books
            diffs = [
                d
                for d in compare_breakdown(result.account(k), chain[acc["id"]])
                if not d.startswith(("joint_worst", "worst_"))
            ]
            if diffs:
                self.flag("INV-4", step, f"account {acc['id']}: " + "; ".join(diffs[:4]))

    # INV-3: every account below MM with fresh prices can be liquidated. Probed for real and
    # undone: under an EVM snapshot the backstop starts the auction (unless one runs) and bids
    # (maxFraction, or bidInsolvent when E ≤ 0); both must succeed, within INV-10's gas.
    def check_liquidatable(self, step: Step, snap: Snapshot) -> None:
        w = self.world
        backstop = w.acct("B")
        sender = w.eoa["backstop"]
        liq = w.c["liquidator"]
        below = [
            s for a, s in snap.accounts.items() if a != backstop.id and s.fresh and s.AE < s.MM
        ]
        for s in below[:MAX_INV3_PROBES]:
            self.stats["INV-3 probe"] += 1
            snapshot_id = w.rpc.request("evm_snapshot", [])
            try:
                probes = []
                auction = s.auction[0]
                if not s.in_auction:
                    r = w.rpc.send(sender, liq.fn("startAuction"), s.id, backstop.id)
                    probes.append(r)
                    auction = next(
                        (e.args["auctionId"] for e in r.events if e.name == "AuctionStarted"), 0
                    )
                if all(r.ok for r in probes):
                    equity = w.rpc.call(w.c["engine"].fn("marginBreakdown"), s.id)[0]
                    if equity <= 0:
                        fn, args = "bidInsolvent", (s.id, auction, backstop.id, 0)
                    else:
                        f = w.rpc.call(liq.fn("maxFraction"), s.id)
                        fn, args = "bid", (s.id, auction, backstop.id, max(f, 1), 2**256 - 1)
                    probes.append(w.rpc.send(sender, liq.fn(fn), *args))
            except RpcError as exc:  # a view the bid needs reverted
                self.flag("INV-3", step, f"account {s.id}: liquidation views reverted: {exc}")
            finally:
                w.rpc.request("evm_revert", [snapshot_id])
            for r in probes:
                self.max_gas[f"{r.fn} (INV-3 probe)"] = max(
                    self.max_gas[f"{r.fn} (INV-3 probe)"], r.gas_used
                )
                if r.gas_used > LIQUIDATION_GAS_CAP:
                    self.flag("INV-10", step, f"{r.fn} probe used {r.gas_used} gas")
            failed = [r for r in probes if not r.ok]
            if failed:
                r = failed[0]
                self.flag(
                    "INV-3",
                    step,
                    f"account {s.id} below MM (AE {s.AE / WAD:.2f} < MM {s.MM / WAD:.2f}, in "
                    f"auction {s.in_auction}) cannot be liquidated: {r.fn} reverted {r.error}"
                    f"{tuple(r.error_args)}",
                )


def _token_table(world: World) -> tuple[list[dict], int]:
    """The collateral tokens (WETH, WBTC) as keel.risk.chain_inputs wants them, and USDC's h0."""
    vault = world.c["vault"]
    out = []
    for name in ("weth", "wbtc"):
        addr = world.c[name].address
        cfg = world.rpc.call(vault.fn("assetConfig"), addr)
        out.append(
            {
                "token": addr,
                "decimals": world.rpc.call(vault.fn("assetDecimals"), addr),
                "priceFeed": cfg[0],
                "linkedUnderlying": cfg[1],
                "baseHaircut": cfg[2],
                "maxHaircut": cfg[3],
                "refVol": cfg[4],
            }
        )
    usdc = world.rpc.call(vault.fn("assetConfig"), world.c["usdc"].address)
    return out, usdc[2]


def _mul_floor(a: int, b: int) -> int:
    """PortfolioMargin.mulWadFloor: a·b / 1e18 rounded towards −∞."""
    return (a * b) // WAD


def isclose(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
