"""Keeper scan benchmark (`python -m keeper.scan_bench`): reports/keeper_scan.json and .md.

The report's rendering (also a section of reports/gas.md) is `keel.bench.keeper_scan`.

Issue 9: "a full scan of 5,000 PM-32-shaped accounts takes 24.8 s on main (37 s with stale arrays)
against a 30 s interval ... Goal: <= 5 s for 5,000 PM-32 accounts with stale arrays".

What runs (all on the embedded anvil chain, Osaka rules):
1. A stack with the bench market. `--bases` PM-32 books (bench/portfolios.json) are opened by real
   signed trades, each against its own mirror counterparty (also a PM-32-shaped account), one hour
   of chain time apart so that every base has its own 32 series.
2. The population is completed to `--accounts` accounts: each extra account is opened by a real
   `openAccount` transaction (its AccountOpened event is what the keeper discovers), then given a
   base's storage with anvil_setStorageAt: the Vault's held-asset bitmap, collateral balances and
   cash principal, and the engine's underlyings, perps, option slots, slot indices and expiry
   counts (slots from the compiler's storage layout). Cash is varied so that the population spans
   AE/MM from 0.9 to 4. Totals the clones would have added (the Vault's deposits and cash
   principal total, open interest) are not written: no scan reads them. Every clone is verified
   through the contracts' views: the keeper's cold read of each clone equals its base's apart from
   id and cash, and `marginBreakdown` of sample clones equals their base's with the cash moved.
3. The keeper (this branch; dry run, and its actions switched off: a scan is what is measured)
   starts cold (one batched read of every account into its index), then runs `--scans` full scans,
   each right after a new oracle round with a price move, so that every risk array is stale. A
   scan is `Keeper.step` from the logs to the chain's confirmation of the candidates (phases from
   the cycle's timings). Then: a full scan in the same round, and a cycle after 100 accounts
   changed (marked dirty as events naming them would).
4. The baseline: the keeper package of `--baseline-ref` (main before this work) is extracted with
   git archive and run in a subprocess against the same chain: its full scan (re-read every
   account, model, marginBreakdown of every account), after a new round (stale arrays) and after
   every array was refreshed (current arrays).
Timings are wall-clock on a shared machine (the load average is recorded); tests never assert them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

from keel.bench.keeper_scan import GOAL_S, SCAN_PHASES, markdown

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "reports"
BASELINE_REF = "a4f612f"  # main before issue 9's keeper work (the keeper this branch replaces)
WAD = 10**18
OWNER_MASK = (1 << 160) - 1


# --- storage layout and slots ---


def storage_layout() -> dict[str, dict[str, int]]:
    """{contract: {variable: slot}} of the Vault and the MarginEngine, from the compiler."""
    import yaml
    from brownie.project import compiler
    from brownie.project.compiler import solidity

    cfg = yaml.safe_load((ROOT / "brownie-config.yaml").read_text())
    solc = cfg["compiler"]["solc"]
    solidity.set_solc_version(
        json.loads((ROOT / "node_modules/solc/package.json").read_text())["version"]
    )
    sources = {
        str(p.relative_to(ROOT)): p.read_text()
        for d in ("contracts", "interfaces")
        for p in (ROOT / d).rglob("*.sol")
        if "test" not in p.relative_to(ROOT).parts
    }
    inp = compiler.generate_input_json(
        sources,
        optimizer=solc["optimizer"],
        evm_version=cfg["compiler"]["evm_version"],
        remappings=solc["remappings"],
    )
    want = {"Vault": "contracts/Vault.sol", "MarginEngine": "contracts/MarginEngine.sol"}
    inp["settings"]["outputSelection"] = {
        path: {name: ["storageLayout"]} for name, path in want.items()
    }
    cwd = os.getcwd()
    os.chdir(ROOT)  # remappings and imports are relative to the project
    try:
        out = compiler.compile_from_input_json(inp, silent=True, allow_paths=str(ROOT))
    finally:
        os.chdir(cwd)
    layout = {}
    for name, path in want.items():
        entries = out["contracts"][path][name]["storageLayout"]["storage"]
        layout[name] = {e["label"]: int(e["slot"]) for e in entries}
    return layout


def _word(x: int | str) -> bytes:
    if isinstance(x, str):  # an address
        return bytes.fromhex(x.removeprefix("0x")).rjust(32, b"\0")
    return int(x).to_bytes(32, "big")


def mslot(key, slot: int) -> int:
    """Storage slot of mapping entry `key` of the mapping at `slot`."""
    from eth_utils import keccak

    return int.from_bytes(keccak(_word(key) + _word(slot)), "big")


def data_slot(slot: int) -> int:
    """First element of the dynamic array whose length is at `slot`."""
    from eth_utils import keccak

    return int.from_bytes(keccak(_word(slot)), "big")


class Rpc:
    """Raw JSON-RPC batches (eth_getStorageAt, anvil_setStorageAt, eth_sendTransaction)."""

    def __init__(self, url: str):
        import requests

        self.url, self.session, self.n = url, requests.Session(), 0

    def batch(self, calls: list[tuple[str, list]], chunk: int = 2_000) -> list:
        out = []
        for i in range(0, len(calls), chunk):
            part = calls[i : i + chunk]
            payload = [
                {"jsonrpc": "2.0", "id": self.n + j, "method": m, "params": p}
                for j, (m, p) in enumerate(part)
            ]
            self.n += len(part)
            body = self.session.post(self.url, json=payload, timeout=600).json()
            by_id = {r["id"]: r for r in body}
            for j in range(len(part)):
                r = by_id[payload[j]["id"]]
                if "error" in r:
                    raise RuntimeError(f"{part[j][0]}: {r['error']}")
                out.append(r["result"])
        return out

    def call(self, method: str, params: list):
        return self.batch([(method, params)])[0]


class Template:
    """A base account's storage words, as functions of the account id (to write them under
    another id): [(contract address, slot of account a, value)]."""

    def __init__(self, stack, layout, base: int):
        v, e = layout["Vault"], layout["MarginEngine"]
        va, ea = stack.vault.address, stack.engine.address
        self.base = base
        self.entries: list[tuple[str, callable]] = []
        self.may_be_zero: set[int] = set()  # cash, perp words (no perp, no funding accrued yet)
        add = self.entries.append
        add((va, lambda a: mslot(a, v["accounts"])))  # owner | heldAssets << 160
        for token in stack.vault.accountAssets(base):
            add((va, lambda a, t=str(token): mslot(t, mslot(a, v["balances"]))))
        self.cash_at = len(self.entries)
        self.may_be_zero.add(self.cash_at)
        add((va, lambda a: mslot(a, v["cashWord"])))
        und = [int(f) for f in stack.engine.accountUnderlyings(base)]
        add((ea, lambda a: mslot(a, e["_underlyings"])))
        for k in range(len(und)):
            add((ea, lambda a, k=k: data_slot(mslot(a, e["_underlyings"])) + k))
        for f in und:
            for k in range(3):  # PerpPosition: size, entryPrice, fundingIndexAtEntry
                self.may_be_zero.add(len(self.entries))
                add((ea, lambda a, f=f, k=k: mslot(f, mslot(a, e["_perps"])) + k))
            series = [int(s) for s in stack.engine.accountSeries(base, f)]
            add((ea, lambda a, f=f: mslot(f, mslot(a, e["_options"]))))
            for k in range(len(series)):
                add((ea, lambda a, f=f, k=k: data_slot(mslot(f, mslot(a, e["_options"]))) + k))
            # an option slot holds (series, expiry, size): nothing else is written per position
        self.values: list[int] = []

    def read(self, rpc: Rpc) -> None:
        raw = rpc.batch(
            [("eth_getStorageAt", [c, hex(fn(self.base)), "latest"]) for c, fn in self.entries]
        )
        self.values = [int(x, 16) for x in raw]
        zero = {i for i, x in enumerate(self.values) if not x} - self.may_be_zero
        assert not zero, "a base slot read as zero: the storage layout does not match the contracts"

    def writes(self, acct: int, owner: str, principal: int) -> list[tuple[str, list]]:
        out = []
        for i, ((contract, fn), value) in enumerate(zip(self.entries, self.values, strict=True)):
            if i == 0:
                value = (value & ~OWNER_MASK) | int(owner, 16)
            elif i == self.cash_at:
                value = principal % 2**256  # int256 two's complement
            out.append(("anvil_setStorageAt", [contract, hex(fn(acct)), "0x" + _word(value).hex()]))
        return out


# --- population ---


def build_bases(stack, bench, n_bases: int) -> list[tuple[int, int]]:
    """`n_bases` PM-32 books by real trades, each against its own mirror counterparty; returns
    [(base account, counterparty account)]."""
    import brownie

    from keel.bench.engine_gas import build_portfolio
    from keel.deploy_engine import open_account, refresh_feeds

    accts = brownie.accounts
    out = []
    for i in range(n_bases):
        if i:  # an hour later: new expiries, so each base holds its own 32 series
            brownie.web3.provider.make_request("evm_increaseTime", [3_600])
            refresh_feeds(stack)
        whale = accts[9]
        cp = (open_account(stack, whale, {"USDC": 10**11}), whale)
        acct, _ = build_portfolio(stack, "PM-32", accts[1 + i % 3], cp, bench)
        out.append((acct, cp[0]))
        print(f"  base {i + 1}/{n_bases}: account {acct} (counterparty {cp[0]})", flush=True)
    return out


def open_accounts(stack, rpc: Rpc, owner: str, n: int) -> list[int]:
    """`n` real openAccount transactions from `owner`, mined a block at a time."""
    first = int(stack.vault.accountCount()) + 1
    data = stack.vault.openAccount.encode_input()
    rpc.call("evm_setAutomine", [False])
    try:
        nonce = int(rpc.call("eth_getTransactionCount", [owner, "pending"]), 16)
        tx = {"from": owner, "to": stack.vault.address, "data": data, "gas": hex(120_000)}
        # explicit nonces: a batch's requests may be served concurrently
        rpc.batch(
            [("eth_sendTransaction", [{**tx, "nonce": hex(nonce + i)}]) for i in range(n)], 500
        )
        while int(rpc.call("txpool_status", [])["pending"], 16):
            rpc.call("evm_mine", [])
    finally:
        rpc.call("evm_setAutomine", [True])
    last = int(stack.vault.accountCount())
    assert last == first + n - 1, (first, n, last)
    return list(range(first, last + 1))


def _non_cash_ae(stack, base: int) -> tuple[int, int]:
    """(AE without the cash's contribution, MM) of `base` [wad]: AE is linear in cash (the cash
    index is 1; 1% of positive cash is haircut, a debt counts in full) and MM does not depend on it."""
    b = stack.engine.marginBreakdown(base)
    cash = int(stack.vault.cashOf(base))
    return int(b[1]) - (cash * 99 // 100 if cash > 0 else cash), int(b[3])


def clone_population(stack, rpc, layout, bases, n_total: int, owner: str, seed: int) -> dict:
    """Opens accounts up to `n_total` and writes a base's storage into each, with the cash
    principal that puts it at AE = r·MM: r ~ U[1.3, 4] for 90%, U[0.9, 1.3] for the rest."""
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    ids = open_accounts(stack, rpc, owner, n_total - int(stack.vault.accountCount()))
    t_open = time.perf_counter() - t0
    templates = [Template(stack, layout, b) for b, _ in bases]
    for t in templates:
        t.read(rpc)
    ae_mm = {t.base: _non_cash_ae(stack, t.base) for t in templates}
    n = len(ids)
    ratios = np.where(rng.random(n) < 0.9, rng.uniform(1.3, 4.0, n), rng.uniform(0.9, 1.3, n))
    writes, clone_of, principal = [], {}, {}
    for i, acct in enumerate(ids):
        t = templates[i % len(templates)]
        other, mm = ae_mm[t.base]
        want = int(float(ratios[i]) * mm) - other
        principal[acct] = want * 100 // 99 if want > 0 else want
        clone_of[acct] = t.base
        writes += t.writes(acct, owner, principal[acct])
    t1 = time.perf_counter()
    rpc.batch(writes, chunk=5_000)
    return {
        "ids": ids,
        "clone_of": clone_of,
        "principal": principal,
        "slots_per_clone": [len(t.entries) for t in templates],
        "open_s": t_open,
        "clone_s": time.perf_counter() - t1,
        "storage_writes": len(writes),
    }


# --- measurements ---


def keeper_config(stack, account: int, key: str, url: str, **kw):
    from keel.client.rpc import RetryPolicy
    from keeper.keeper import KeeperConfig

    return KeeperConfig(
        rpc_url=url,
        engine=stack.engine.address,
        liquidator=stack.liquidator.address,
        vault=stack.vault.address,
        oracle=stack.oracle.address,
        account=account,
        key=key,
        scan_interval=0.0,  # every cycle a full scan
        poll_interval=0.0,
        rpc_timeout=600.0,
        retry=RetryPolicy(base=0.05, cap=0.5, max_attempts=3, max_elapsed=600.0),
        dry_run=True,
        **kw,
    )


def verify_clones(keeper, stack, pop: dict, sample: int = 20) -> dict:
    """Every clone's indexed state equals its base's (apart from id and cash), read through the
    contracts' views by the keeper's cold start; marginBreakdown of a sample of clones equals the
    base's shifted by the cash difference."""
    from keeper.index import words

    def strip(rec):
        w = words(rec)
        w.pop("id")
        w.pop("cashPrincipal")
        return w

    bases = {b: strip(keeper.index.get(b)) for b in set(pop["clone_of"].values())}
    for acct, b in pop["clone_of"].items():
        rec = keeper.index.get(acct)
        assert rec is not None, f"clone {acct} not indexed"
        assert strip(rec) == bases[b], f"clone {acct} differs from base {b}"
        assert rec["cashPrincipal"] == pop["principal"][acct], acct
    checked = 0
    for acct in list(pop["clone_of"])[:: max(1, len(pop["clone_of"]) // sample)]:
        b = pop["clone_of"][acct]
        mine, theirs = stack.engine.marginBreakdown(acct), stack.engine.marginBreakdown(b)
        assert int(mine[2]) == int(theirs[2]) and int(mine[3]) == int(theirs[3]), acct  # IM, MM
        d_cash = int(stack.vault.cashOf(acct)) - int(stack.vault.cashOf(b))
        assert int(mine[0]) - int(theirs[0]) == d_cash, acct  # E moves with the cash only
        checked += 1
    return {"clones": len(pop["clone_of"]), "breakdowns_compared": checked}


def new_round(stack, move: float) -> None:
    """One oracle update moving both underlyings by `move` (every risk array becomes stale)."""
    from keel.deploy_engine import BTC, ETH, push_prices

    prices = {}
    for f in (BTC, ETH):
        price, vol, _, _ = stack.oracle.feed(f)
        prices[f] = (int(price * (1 + move)), vol)
    import brownie

    brownie.web3.provider.make_request("evm_increaseTime", [60])
    push_prices(stack, prices)


def stale_share(stack, series: list[int]) -> float:
    from keel.deploy_engine import BTC, ETH

    rounds = {f: int(stack.oracle.feed(f)[2]) for f in (BTC, ETH)}
    stale = 0
    for s in series:
        feed = int(stack.store.series(s)[0])
        stale += int(stack.store.storedRiskArray(s)[0]) != rounds[feed]
    return stale / max(1, len(series))


def scan_record(k, wall: float, move: float | None, stale: float | None) -> dict:
    c = k.last_cycle
    ms = c["ms"]
    return {
        "move": move,
        "stale_share": stale,
        "accounts": c["accounts"],
        "reread": c["reread"],
        "screened": c["screened"],
        "candidates": c["candidates"],
        "checked": c["checked"],
        "audited": c["audited"],
        "liquidatable": c["liquidatable"],
        "ms": ms,
        "scan_s": sum(ms.get(p, 0.0) for p in SCAN_PHASES) / 1e3,
        "step_s": wall,
    }


def measure_keeper(stack, url, own, key, n_scans: int, moves, series: list[int]) -> dict:
    from keeper.keeper import Keeper

    k = Keeper(keeper_config(stack, own, key, url))
    # the scan only: what follows it (refreshes, starts, bids: transactions, one account after the
    # other) is not part of a scan and is not run here
    k._act = lambda b, head: None
    t = time.perf_counter()
    k.step()
    cold = scan_record(k, time.perf_counter() - t, None, None)
    scans = []
    for i in range(n_scans):
        move = moves[i % len(moves)]
        new_round(stack, move)
        stale = stale_share(stack, series)
        t = time.perf_counter()
        k.step()
        scans.append(scan_record(k, time.perf_counter() - t, move, stale))
        print(f"  scan {i + 1}: {scans[-1]['scan_s']:.2f} s {scans[-1]['ms']}", flush=True)
    # incremental: 100 accounts changed (as if events had named them), no price move
    sample = sorted(k.state.accounts)[:: max(1, len(k.state.accounts) // 100)][:100]
    k.dirty |= set(sample)
    k.cfg.scan_interval = 1e9  # not a full scan: only what changed
    t = time.perf_counter()
    k.step()
    incremental = scan_record(k, time.perf_counter() - t, None, None)
    k.cfg.scan_interval = 0.0
    t = time.perf_counter()
    k.step()  # arrays still stale, no new round: a full scan on the same round
    same_round = scan_record(k, time.perf_counter() - t, 0.0, stale_share(stack, series))
    return {"keeper": k, "cold": cold, "scans": scans, "incremental_100": incremental,
            "same_round": same_round}  # fmt: skip


BASELINE_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from keeper.keeper import Keeper, KeeperConfig
    from keel.client.rpc import RetryPolicy
    a = json.loads(sys.argv[1])
    cfg = KeeperConfig(rpc_url=a["url"], engine=a["engine"], liquidator=a["liquidator"],
                       vault=a["vault"], oracle=a["oracle"], account=a["account"], key=a["key"],
                       scan_interval=0.0, rpc_timeout=600.0,
                       retry=RetryPolicy(base=0.05, cap=0.5, max_attempts=3, max_elapsed=600.0))
    k = Keeper(cfg)
    k.start()
    out = {}
    def lap(name, t):
        now = time.perf_counter(); out[name] = now - t; return now
    # cold start: logs, then every account read (main's _refresh after AccountOpened)
    t = time.perf_counter()
    block = k.reader.block()["number"]
    k._follow_logs(block)
    t = lap("cold_logs_s", t)
    k._refresh(block, True)
    t = lap("cold_read_s", t)
    # one full scan as main's Keeper.step runs it (without acting): every account re-read,
    # model, marginBreakdown + auction of every account
    t0 = t = time.perf_counter()
    block = k.reader.block()["number"]
    k._follow_logs(block)
    k.dirty |= set(k.state.accounts)
    t = lap("logs_s", t)
    k._refresh(block, True)
    t = lap("read_s", t)
    screen = k._screen()
    t = lap("model_s", t)
    check = set(screen.candidates) | k.auctions | set(k.state.accounts)
    check.discard(cfg.account)
    chain = k.reader.breakdowns(sorted(check), block)
    t = lap("confirm_s", t)
    out["scan_s"] = t - t0
    out["accounts"] = len(k.state.accounts)
    out["checked"] = len(check)
    out["candidates"] = len(screen.candidates)
    out["liquidatable"] = sum(b.liquidatable for b in chain.values())
    print(json.dumps(out))
    """
)


def baseline(ref: str, stack, url: str, own: int, key: str) -> dict:
    """Main's keeper (`ref`) on the same chain, in a subprocess with its own package tree."""
    with tempfile.TemporaryDirectory(prefix="keel-baseline-") as tmp:
        archive = subprocess.run(
            ["git", "archive", ref, "keeper", "oracle", "keel"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        args = {
            "url": url,
            "engine": stack.engine.address,
            "liquidator": stack.liquidator.address,
            "vault": stack.vault.address,
            "oracle": stack.oracle.address,
            "account": own,
            "key": key,
        }
        env = dict(os.environ, PYTHONPATH=tmp)
        proc = subprocess.run(
            [sys.executable, "-c", BASELINE_SCRIPT, json.dumps(args)],
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"baseline failed: {proc.stderr[-2000:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])


def refresh_all(stack, series: list[int], sender) -> int:
    """Every series' risk array for the current round, in transactions under half the cap."""

    by_feed: dict[int, list[int]] = {}
    for s in series:
        by_feed.setdefault(int(stack.store.series(s)[0]), []).append(s)
    n = 0
    for ids in by_feed.values():
        for i in range(0, len(ids), 20):  # ~340k gas a series: ~7M a transaction
            stack.store.refreshRiskArrays(ids[i : i + 20], {"from": sender})
            n += 1
    return n


# --- reports ---


def _machine() -> dict:
    from keel.bench.reference_speed import cpu_model

    return {
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    }


def _commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True)
    return out.stdout.decode().strip() or "unknown"


# --- main ---


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="keel-bench-keeper-scan", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--accounts", type=int, default=5_000, help="population (5,000)")
    ap.add_argument("--bases", type=int, default=8, help="PM-32 books built by trades (8)")
    ap.add_argument("--scans", type=int, default=5, help="full scans after new rounds (5)")
    ap.add_argument(
        "--baseline-ref", default=BASELINE_REF, help="git ref of the baseline keeper ('' for none)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=REPORTS)
    args = ap.parse_args(argv)

    import brownie

    from keel.bench.engine_gas import FEED_OF, _load, _wad
    from keel.chain import connect, rpc_url
    from keel.deploy_engine import deploy_stack, open_account, signing_key

    connect()
    url = rpc_url()
    rpc = Rpc(url)
    bench = _load()
    und = bench["market"]["underlyings"]
    accts = brownie.accounts
    t0 = time.perf_counter()
    stack = deploy_stack(
        accts[0], feeds={FEED_OF[u]: (_wad(v["spot"]), _wad(v["vol"])) for u, v in und.items()}
    )
    print("storage layout (solc)...", flush=True)
    layout = storage_layout()
    print(f"building {args.bases} PM-32 books by trades...", flush=True)
    bases = build_bases(stack, bench, args.bases)
    t_build = time.perf_counter() - t0
    own = open_account(stack, accts[4], {"USDC": 1_000_000})
    series = sorted(
        {int(s) for b, _ in bases for f in (1, 2) for s in stack.engine.accountSeries(b, f)}
    )
    print(f"opening and cloning up to {args.accounts:,} accounts...", flush=True)
    pop = clone_population(stack, rpc, layout, bases, args.accounts, accts[8].address, args.seed)
    print(
        f"  opened in {pop['open_s']:.1f} s, {pop['storage_writes']:,} slots written in {pop['clone_s']:.1f} s"
    )
    key = signing_key(accts[4])
    moves = [-0.03, 0.03]
    print("keeper (this branch): cold start and full scans...", flush=True)
    res = measure_keeper(stack, url, own, key, args.scans, moves, series)
    k = res.pop("keeper")
    verification = verify_clones(k, stack, pop)
    scan_s = [r["scan_s"] for r in res["scans"]]
    summary = {
        "scans": len(scan_s),
        "median_scan_s": statistics.median(scan_s),
        "max_scan_s": max(scan_s),
        "goal_s": GOAL_S,
        "met": max(scan_s) <= GOAL_S,
    }
    base = None
    if args.baseline_ref:
        print(f"baseline keeper ({args.baseline_ref}) on the same chain...", flush=True)
        new_round(stack, moves[0])
        stale = baseline(args.baseline_ref, stack, url, own, key)
        print(f"  stale arrays: {stale['scan_s']:.1f} s", flush=True)
        n_tx = refresh_all(stack, series, accts[9])
        current = baseline(args.baseline_ref, stack, url, own, key)
        print(
            f"  current arrays ({n_tx} refresh transactions): {current['scan_s']:.1f} s", flush=True
        )
        base = {"ref": args.baseline_ref, "stale": stale, "current": current}
    command = "python -m keeper.scan_bench" + "".join(
        f" --{name.replace('_', '-')} {getattr(args, name)}"
        for name, default in (("accounts", 5_000), ("bases", 8), ("scans", 5), ("seed", 0))
        if getattr(args, name) != default
    )
    report = {
        "meta": {
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": _commit(),
            "command": command,
            "machine": _machine(),
            "chain": "embedded anvil, Osaka rules (--enable-tx-gas-limit)",
        },
        "population": {
            "accounts": len(k.state.accounts),
            "real": 2 * len(bases),
            "bases": len(bases),
            "clones": len(pop["ids"]),
            "keeper_own": own,
            "distinct_series": len(series),
            "slots_per_clone": pop["slots_per_clone"],
            "build_s": round(t_build, 1),
            "open_s": round(pop["open_s"], 1),
            "clone_s": round(pop["clone_s"], 1),
        },
        "verification": verification,
        "keeper": {**res, "summary": summary, "audit_size": k.cfg.audit_size},
        "baseline": base,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "keeper_scan.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "keeper_scan.md").write_text(markdown(report))
    print(markdown(report))
    print(f"wrote {args.out / 'keeper_scan.json'} and {args.out / 'keeper_scan.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
