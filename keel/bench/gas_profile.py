"""Where the gas goes (`python -m keel.bench.gas_profile`, also run by `make bench`).

Traces four workloads of issue 9 opcode by opcode on the embedded chain (anvil's
debug_traceCall on the state the transaction would run on) and sums each step's own cost by part:
- PM-4 solvent bid (bid of f_max/2, risk arrays current, a bidder that held nothing);
- PM-32 perp fill (0.01 BTC, both sides margin-checked, arrays current);
- refresh of one series (PM-32's series after a new oracle round, total / series count);
- PM-32 IM check (marginBreakdown, arrays current).
A call's or create's own cost is what the caller lost across it minus what the callee's steps
cost, so nothing is counted twice; the intrinsic cost (21,000 and calldata) is what the steps leave.
Writes reports/gas_profile.json; keel.bench.gas adds its section to reports/gas.md.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from keel.bench.engine_gas import FEED_OF, ROOT, WAD, _load, _wad, build_portfolio

REPORTS = ROOT / "reports"
WORKLOADS = ("PM-4 solvent bid", "PM-32 perp fill", "refresh / series", "PM-32 IM check")
PARTS = (
    "cold SLOAD",
    "warm SLOAD",
    "SSTORE to a new slot",
    "SSTORE, other",
    "EXTCODECOPY / EXTCODESIZE",
    "CREATE + code deposit",
    "TSTORE / TLOAD",
    "calls (CALL, STATICCALL: access and stipend)",
    "logs",
    "arithmetic, memory, control flow",
    "intrinsic (21,000 + calldata)",
)
# Issue 9's per-opcode trace of main (k gas), the "before" of this report.
MAIN_TRACE = {
    "cold SLOAD": (132, 334, 4.5, 214),
    "SSTORE to a new slot": (348, 20, None, None),
    "q·ΔV accumulate loop": (51, 362, None, 181),
    "31-scenario loops with checked math": (161, 227, None, 114),
    "EXTCODECOPY of risk arrays": (9, 93, None, 86),
    "CREATE + code deposit (SSTORE2)": (None, None, 244, None),
    "Black-Scholes (62 N(d) at ~640 each)": (None, None, 75, None),
}


def _part(op: str, cost: int) -> str:
    if op == "SLOAD":
        return "cold SLOAD" if cost >= 2_100 else "warm SLOAD"
    if op == "SSTORE":
        return "SSTORE to a new slot" if cost >= 20_000 else "SSTORE, other"
    if op in ("EXTCODECOPY", "EXTCODESIZE", "EXTCODEHASH"):
        return "EXTCODECOPY / EXTCODESIZE"
    if op in ("CREATE", "CREATE2"):
        return "CREATE + code deposit"
    if op in ("TSTORE", "TLOAD"):
        return "TSTORE / TLOAD"
    if op in ("CALL", "STATICCALL", "DELEGATECALL", "CALLCODE"):
        return "calls (CALL, STATICCALL: access and stipend)"
    if op.startswith("LOG"):
        return "logs"
    return "arithmetic, memory, control flow"


def own_costs(logs: list[dict]) -> list[int]:
    """Each step's own gas: a call's is the caller's loss across it minus its callee's steps."""
    costs = [0] * len(logs)
    n = len(logs)

    def frame(k: int, depth: int) -> tuple[int, int]:
        total = 0
        while k < n and logs[k]["depth"] == depth:
            if k + 1 < n and logs[k + 1]["depth"] > depth:
                j, inner = frame(k + 1, depth + 1)
                own = logs[k]["gas"] - logs[j]["gas"] - inner if j < n else logs[k]["gasCost"]
                costs[k] = own
                total += own + inner
                k = j
                continue
            same = k + 1 < n and logs[k + 1]["depth"] == depth
            own = logs[k]["gas"] - logs[k + 1]["gas"] if same else logs[k]["gasCost"]
            costs[k] = own
            total += own
            k += 1
        return k, total

    if logs:
        frame(0, logs[0]["depth"])
    return costs


def by_part(result: dict, per: int = 1) -> dict[str, float]:
    """Gas by part of one trace (`result` of a debug trace), divided by `per`."""
    logs = result["structLogs"]
    costs = own_costs(logs)
    parts: Counter = Counter()
    for step, cost in zip(logs, costs, strict=True):
        parts[_part(step["op"], cost)] += cost
    parts["intrinsic (21,000 + calldata)"] = result["gas"] - sum(costs)
    return {p: parts.get(p, 0) / per for p in PARTS} | {"total": result["gas"] / per}


def _trace(fn, *args, sender) -> dict:
    """The trace of transaction `fn(*args)` from `sender`, executed as a call on the latest state
    (anvil keeps no step traces of mined transactions unless launched with --steps-tracing)."""
    from brownie import web3

    opts = {"disableStorage": True, "disableMemory": True, "disableStack": True}
    call = {
        "from": str(sender),
        "to": fn._address,
        "data": fn.encode_input(*args),
        "gas": hex(16_777_216),
    }
    result = web3.provider.make_request("debug_traceCall", [call, "latest", opts])["result"]
    if result.get("failed"):
        raise RuntimeError(f"traced call {fn._name} reverted")
    return result


def measure(verbose: bool = True) -> dict:
    """Deploys fresh stacks, traces the four workloads; returns {workload: {part: gas}}."""
    import brownie

    from keel.bench import liquidation_gas as lg
    from keel.deploy_engine import deploy_stack, open_account, refresh_feeds, sign_order
    from keel.orders import Order, fill_args

    bench = _load()
    und = bench["market"]["underlyings"]
    base = {FEED_OF[u]: (_wad(v["spot"]), _wad(v["vol"])) for u, v in und.items()}
    out: dict[str, dict] = {}

    # PM-4 solvent bid: liquidation_gas's scenario, a bidder that held nothing
    stack, acct, _series, keeper, bidder, _label = lg._scenario("PM-4", "solvent", bench, base)
    aid = stack.liquidator.startAuction(acct, keeper[0], {"from": keeper[1]}).return_value
    f = stack.liquidator.maxFraction(acct) // 2
    out["PM-4 solvent bid"] = by_part(
        _trace(stack.liquidator.bid, acct, aid, bidder[0], f, lg.MAX, sender=bidder[1])
    )

    # PM-32: refresh per series, fill, IM check
    accts = brownie.accounts
    stack = deploy_stack(accts[0], feeds=base)
    cp = (open_account(stack, accts[9], {"USDC": 10**11}), accts[9])
    owner = accts[3]
    acct, series = build_portfolio(stack, "PM-32", owner, cp, bench)
    refresh_feeds(stack, tuple(FEED_OF.values()))
    out["refresh / series"] = by_part(
        _trace(stack.store.refreshRiskArrays, series, sender=accts[9]), per=len(series)
    )
    stack.store.refreshRiskArrays(series, {"from": accts[9]})
    order = Order(acct, 1, WAD // 100, _wad(und["BTC"]["spot"]), salt=next(stack.salts))
    args = fill_args(order, sign_order(stack, order, owner), cp[0], WAD // 100)
    out["PM-32 perp fill"] = by_part(_trace(stack.exchange.fill, *args, sender=cp[1]))
    out["PM-32 IM check"] = by_part(_trace(stack.engine.marginBreakdown, acct, sender=owner))
    if verbose:
        print(markdown(out))
    return out


def markdown(profile: dict, level: int = 2) -> str:
    head = "#" * level
    cols = [w for w in WORKLOADS if w in profile]
    lines = [
        f"{head} Where the gas goes (opcode trace)",
        "",
        "`python -m keel.bench.gas_profile` (run by `make bench`): each step's own cost summed by "
        "part, from anvil's debug traces; k gas. Refresh is per series of a 32-series batch. "
        "Before: issue 9's trace of main, whose parts are not all opcode classes.",
        "",
        "| part | " + " | ".join(cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    for part in (*PARTS, "total"):
        cells = [f"{profile[w][part] / 1000:,.1f}" for w in cols]
        name = f"**{part}**" if part == "total" else part
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Before (main, issue 9's trace, k gas):",
        "",
        "| part | PM-4 bid | PM-32 fill | refresh/series | PM-32 IM |",
        "|---|---:|---:|---:|---:|",
    ]
    for part, vals in MAIN_TRACE.items():
        cells = ["–" if v is None else f"{v:g}" for v in vals]
        lines.append(f"| {part} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write(profile: dict, out_dir: Path = REPORTS) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "gas_profile.json"
    path.write_text(json.dumps(profile, indent=2) + "\n")
    return path


def section(out_dir: Path = REPORTS) -> str | None:
    """The profile as a section of reports/gas.md (None before it has run)."""
    path = Path(out_dir) / "gas_profile.json"
    if not path.exists():
        return None
    return markdown(json.loads(path.read_text()))


def main() -> int:
    from keel.chain import connect

    connect()
    path = write(measure())
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
