"""Gas benchmark (`make bench`, or `python -m keel.bench.gas`): writes reports/gas.md and gas.json.

Measures, on the embedded anvil chain with the project's compiler settings, the gas of real
transactions (receipts' gasUsed, which includes the 21,000 base cost and calldata):
- Vault: deposit (first and repeat, 18-decimal WETH and the 6-decimal settlement USDC) and withdraw;
- Oracle: one submission updating 2 feeds with 3 and with 5 signatures each (steady state: both feeds
  already hold a report, so the packed feed slot is rewritten, not created);
- the margin engine (`keel.bench.engine_gas`: IM check, trades, risk-array refresh, gas per
  option x scenario on PM-4/16/32) and the liquidator (`keel.bench.liquidation_gas`: start, solvent
  and insolvent bids on PM-4 and PM-32); each deploys its own fresh stack;
- the largest account the limits allow (`keel.bench.max_account`, SPEC §8 INV-10): every operation
  on it in every risk-array state and slot order, against INV-10's limit (its own section);
- where the gas goes, by part, from opcode traces (`keel.bench.gas_profile`, its own section).
gas.md ends with the keeper's scan section when reports/keeper_scan.json exists (written by
`python -m keeper.scan_bench`, a separate run of several minutes); `--render` rewrites gas.md
from gas.json without a chain.
Goals come from the issues; they are reported as met or not, never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
from dataclasses import asdict, dataclass, fields
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_ACCOUNT = "Max account"  # keel.bench.max_account's section: a table of its own in gas.md
N_SIGNERS = 5
KEY_SEED = 0  # derived test keys (public), as the demo's relayer uses


@dataclass
class GasRow:
    section: str
    operation: str
    workload: str
    gas: int
    goal: int | None = None  # upper bound from the issue, if any  [gas]
    error: str = ""  # why the operation failed (e.g. "out of gas" at the cap); "" if it succeeded

    @property
    def status(self) -> str:
        if self.error:
            return f"not met ({self.error})"
        if self.goal is None:
            return ""
        return "met" if self.gas <= self.goal else "not met"


def measure_vault(system, owner) -> list[GasRow]:
    vault, weth, usdc = system.vault, system.tokens["WETH"], system.tokens["USDC"]
    tx = {"from": owner}
    first, acct = (vault.openAccount(tx).return_value for _ in range(2))
    for token, units in ((weth, 10 * 10**18), (usdc, 100_000 * 10**6)):
        token.mint(owner, units, tx)
        token.approve(vault, units, tx)
    rows = []

    def row(op, workload, receipt, goal=None):
        rows.append(GasRow("Vault", op, workload, receipt.gas_used, goal))

    # The very first deposit of a token also creates the vault's own token balance and the asset's
    # running total: measured on a separate account so the rows below are per-account costs.
    row(
        "deposit",
        "WETH (18 dec), first ever into the vault",
        vault.deposit(first, weth, 10**18, tx),
    )
    row(
        "deposit",
        "USDC cash (6 dec), first ever into the vault",
        vault.deposit(first, usdc, 10**9, tx),
    )
    # issue 9's goal: the new balance slot, the token transfer and the base cost put the floor near 74k
    row("deposit", "WETH, first into an account", vault.deposit(acct, weth, 10**18, tx), 75_000)
    row("deposit", "WETH, repeat", vault.deposit(acct, weth, 10**18, tx), 70_000)
    row("deposit", "USDC cash, first into an account", vault.deposit(acct, usdc, 10**9, tx))
    row("deposit", "USDC cash, repeat", vault.deposit(acct, usdc, 10**9, tx), 70_000)
    row(
        "withdraw",
        "WETH, partial (margin hook: an account without positions)",
        vault.withdraw(acct, weth, 10**17, owner, tx),
    )
    row("withdraw", "USDC cash, partial", vault.withdraw(acct, usdc, 10**8, owner, tx))
    return rows


def measure_oracle(system, sender, signers) -> list[GasRow]:
    import brownie

    from keel.deploy_engine import BTC, ETH, WAD
    from keel.deploy_oracle import make_correlation_report, make_report

    oracle = system.oracle
    prices = {BTC: 60_000 * WAD, ETH: 3_000 * WAD}
    vols = {BTC: 6 * WAD // 10, ETH: 75 * WAD // 100}
    # [v2] each observation carries the signer's vol floor (SPEC §6): a long-run mean EWMA vol
    floors = {BTC: 65 * WAD // 100, ETH: 80 * WAD // 100}
    rows = []

    def price_reports(n_sigs: int, now: int) -> list:
        reports = []
        for feed in (BTC, ETH):
            round_ = oracle.feed(feed)[3] + 1
            # a new vol every round, as the relayer's EWMA gives (the stored raw median changes)
            vol = vols[feed] + round_
            obs = [
                (s.key, prices[feed] + i * WAD, vol, floors[feed] + i)
                for i, s in enumerate(signers[:n_sigs])
            ]
            reports.append(make_report(oracle, feed, round_, now, obs))
        return reports

    def corr_report(n_sigs: int, now: int):
        round_ = oracle.correlation(BTC, ETH)[2] + 1
        obs = [(s.key, 8 * WAD // 10 + i) for i, s in enumerate(signers[:n_sigs])]
        return make_correlation_report(oracle, BTC, ETH, round_, now, obs)

    def now() -> int:
        brownie.chain.sleep(60)
        brownie.chain.mine()
        return brownie.chain.time() - 1

    def submit(n_sigs: int):
        return oracle.submit(price_reports(n_sigs, now()), {"from": sender})

    def submit_all(n_sigs: int, with_prices: bool = True):
        t = now()
        reports = price_reports(n_sigs, t) if with_prices else []
        return oracle.submitWithCorrelations(reports, [corr_report(n_sigs, t)], {"from": sender})

    submit_all(3)  # first reports create the feed and pair slots; measure the steady state below
    rows.append(GasRow("Oracle", "submit", "2 feeds x 3 signatures", submit(3).gas_used, 120_000))
    rows.append(GasRow("Oracle", "submit", "2 feeds x 5 signatures", submit(5).gas_used))
    rows.append(
        GasRow(
            "Oracle",
            "submitWithCorrelations",
            "2 feeds + 1 pair (BTC/ETH rho) x 3 signatures",
            submit_all(3).gas_used,
        )
    )
    rows.append(
        GasRow(
            "Oracle",
            "submitWithCorrelations",
            "1 pair (BTC/ETH rho) x 3 signatures, no prices",
            submit_all(3, with_prices=False).gas_used,
        )
    )
    return rows


def compiler_settings() -> str:
    import yaml

    cfg = yaml.safe_load((ROOT / "brownie-config.yaml").read_text())
    solc_version = json.loads((ROOT / "node_modules/solc/package.json").read_text())["version"]
    opt = cfg["compiler"]["solc"]["optimizer"]
    return (
        f"solc {solc_version} (solcjs), optimizer {'on' if opt['enabled'] else 'off'} "
        f"({opt['runs']} runs), evm {cfg['compiler']['evm_version']}"
    )


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True)
        return out.stdout.decode().strip() or "unknown"
    except OSError:
        return "unknown"


def write_reports(
    rows: list[GasRow],
    out_dir: Path,
    notes: list[str],
    max_notes: list[str] = (),
    meta: dict | None = None,
) -> None:
    """gas.json and gas.md; `meta` given when re-rendering a measurement (--render)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = meta or {
        "command": "make bench  (python -m keel.bench.gas)",
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(),
        "compiler": compiler_settings(),
        "chain": "embedded anvil (brownie network 'anvil', osaka, EIP-7825 cap enforced)",
    }
    data = {
        "meta": meta,
        "rows": [asdict(r) | {"status": r.status} for r in rows],
        "notes": notes,
        "max_account_notes": list(max_notes),
    }
    (out_dir / "gas.json").write_text(json.dumps(data, indent=2) + "\n")
    lines = [
        "# Gas",
        "",
        f"Measured {meta['date']} at commit `{meta['commit']}` with `{meta['command']}` on the "
        f"{meta['chain']}; {meta['compiler']}. Figures are receipts' `gasUsed` (including the "
        "21,000 base and calldata) unless the workload says otherwise.",
        "",
        "| component | operation | workload | gas | goal | status |",
        "|---|---|---|---:|---:|---|",
    ]
    for r in rows:
        if r.section == MAX_ACCOUNT:
            continue
        goal = f"≤ {r.goal:,}" if r.goal else ""
        lines.append(
            f"| {r.section} | {r.operation} | {r.workload} | {r.gas:,} | {goal} | {r.status} |"
        )
    if notes:
        lines += ["", *notes]
    max_rows = [r for r in rows if r.section == MAX_ACCOUNT]
    if max_rows:
        lines += [
            "",
            "## Max account (INV-10)",
            "",
            "SPEC §8 INV-10 on the largest account the limits allow (`keel.bench.max_account`): "
            "startAuction, bids and endAuction within half the EIP-7825 cap, everything else "
            "within the cap. A transaction that ran out of gas shows the gas it used.",
            "",
            "| operation | workload | gas | INV-10 limit | status |",
            "|---|---|---:|---:|---|",
        ]
        for r in max_rows:
            gas = f"{r.gas:,}" if r.gas else "—"
            lines.append(f"| {r.operation} | {r.workload} | {gas} | ≤ {r.goal:,} | {r.status} |")
        for note in max_notes:
            lines += ["", note]
    # where the gas goes (keel.bench.gas_profile, run above: reports/gas_profile.json)
    from keel.bench import gas_profile, keeper_scan

    profile = gas_profile.section(out_dir)
    if profile:
        lines += ["", profile.rstrip("\n")]
    # the keeper's scan (keeper.scan_bench, its own run: reports/keeper_scan.json)

    scan = keeper_scan.section(out_dir)
    if scan:
        lines += ["", scan.rstrip("\n")]
    (out_dir / "gas.md").write_text("\n".join(lines) + "\n")


def render(out_dir: Path) -> None:
    """Re-renders gas.md from gas.json (no chain): the sections of other benchmarks included."""
    data = json.loads((out_dir / "gas.json").read_text())
    names = {f.name for f in fields(GasRow)}
    rows = [GasRow(**{k: v for k, v in r.items() if k in names}) for r in data["rows"]]
    write_reports(
        rows, out_dir, data.get("notes", []), data.get("max_account_notes", []), data["meta"]
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="keel-bench-gas", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "reports", help="output folder (reports/)")
    ap.add_argument("--network", default=None, help="brownie network (embedded anvil)")
    ap.add_argument(
        "--render",
        action="store_true",
        help="only re-render gas.md from gas.json (with the keeper scan section), no chain",
    )
    args = ap.parse_args(argv)
    if args.render:
        render(args.out)
        print(f"wrote {args.out / 'gas.md'}")
        return 0

    from keel.chain import connect

    connect(args.network)
    from dataclasses import replace

    import brownie

    from keel.client.keys import derive_keys
    from keel.deploy import DeployConfig, GovernanceSpec, deploy

    deployer, owner, sender = brownie.accounts[0], brownie.accounts[1], brownie.accounts[2]
    signers = derive_keys(N_SIGNERS, KEY_SEED)
    # the deployment `keel deploy` makes (config/deploy.yaml), the deployer keeping the owner powers
    config = replace(
        DeployConfig.load(),
        signers=tuple(s.address for s in signers),
        governance=GovernanceSpec(timelock=False),
    )
    system = deploy(config, deployer)
    rows = measure_vault(system, owner) + measure_oracle(system, sender, signers)
    notes: list[str] = []
    # Each component's benchmark deploys its own fresh stack and returns (rows, notes).
    from keel.bench import engine_gas, liquidation_gas, max_account

    max_notes: list[str] = []
    for component in (engine_gas, liquidation_gas, max_account):
        component_rows, component_notes = component.measure(verbose=False)
        rows += [GasRow(**r) if isinstance(r, dict) else r for r in component_rows]
        (max_notes if component is max_account else notes).extend(component_notes)
    from keel.bench import gas_profile

    gas_profile.write(gas_profile.measure(verbose=False), args.out)
    write_reports(rows, args.out, notes, max_notes)
    for r in rows:
        print(f"{r.section:<12}{r.operation:<36}{r.workload:<60}{r.gas:>12,} {r.status}")
    print(f"wrote {args.out / 'gas.md'} and {args.out / 'gas.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
