"""The cover-2 fund requirement of a deployment beside its insurance fund (`keel-keeper cover2`, the
simulation).

Every account the Vault has opened (ids 1..accountCount) is read at one block with the keeper's
batched reader (keel.client.chain.Reader: effective cash, funding owed at that block), the market
with it, and the reference model (keel.risk.cover2) computes each account's loss beyond equity in
every scenario and the fund that covers the two largest: see that module for the scenarios and the
choices. The insurance fund is `Vault.insuranceFund()` at the same block.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from keel.client.chain import Reader
from keel.risk.chain_inputs import market_from_reader, portfolios_from_chain
from keel.risk.cover2 import JointDay, cover2, cover2_scenarios, describe_moves

WAD = 10**18


def measure(reader: Reader, block: int, days: Sequence[JointDay] = ()) -> dict:
    """The requirement, the fund and every scenario's two largest losses at `block`, as JSON."""
    n = int(reader.batch.values([reader.c("vault", "accountCount")], block)[0])
    accounts = reader.accounts(range(1, n + 1), block)
    market = market_from_reader(reader.market(accounts, block))
    result = cover2(market, portfolios_from_chain(accounts, market), cover2_scenarios(market, days))
    fund = reader.insurance_fund(block) / WAD  # [USD]
    return {
        "block": int(block),
        "insurance_fund": fund,
        **result.to_json(),
        "met": result.requirement <= fund,
        "historical_days": [
            {"kind": d.kind, "day": d.day, "previous": d.previous, "returns": d.returns}
            for d in days
        ],
    }


def text(report: dict, prices: Path | str | None = None) -> str:
    """The report as a table for a terminal."""
    lines = [
        f"cover-2 at block {report['block']}: {report['accounts']} accounts"
        + (f"; historical days from {prices}" if prices else ""),
        f"  {'scenario':<22} {'moves':<26} {'two largest losses beyond equity':<38} {'sum':>14}",
    ]
    for s in report["scenarios"]:
        losses = ", ".join(
            f"#{a} ${x:,.2f}" for a, x in zip(s["accounts"], s["losses_beyond_equity"], strict=True)
        )
        lines.append(
            f"  {s['scenario']:<22} {describe_moves(s['moves']):<26} {losses or '-':<38} "
            f"{'$' + format(s['requirement'], ',.2f'):>14}"
        )
    req, fund = report["requirement"], report["insurance_fund"]
    lines += [
        f"requirement     ${req:,.2f} ({report['binding_scenario']})",
        f"insurance fund  ${fund:,.2f}",
        "met: the fund covers the two largest losses beyond equity"
        if report["met"]
        else f"NOT MET: the fund is ${req - fund:,.2f} short of the requirement",
    ]
    return "\n".join(lines)
