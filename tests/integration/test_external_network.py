"""Keel on a network brownie did not launch, as a user would run it (issue 10).

A separate anvil (its own process, chain id 31337, Osaka rules with the EIP-7825 cap) stands in for
an external network. Everything then goes through the user-facing tools, each a real process:
- `keel deploy --network keel-ext`: the whole system through brownie's network list (the network
  added with `brownie networks add`, in a private brownie home), the deployer's key from the
  environment, mintable test tokens (`test_tokens: true`), governance handed to the timelock;
- `keel-relayer run` pointed at it by URL, replaying a CSV: first calm prices, later a 10% drop;
- two traders with the `keel` CLI: open, deposit, sign and fill an order, what-if, margin;
- `keel-keeper run` pointed at it by URL, which liquidates the leveraged trader after the drop.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from eth_account import Account
from web3 import Web3

from keel.abi import load
from keel.chain import free_port
from keel.client.keys import anvil_dev_keys, derive_keys

ROOT = Path(__file__).resolve().parents[2]
CHAIN_ID = 31_337  # not the embedded chain's 1337
USDC, WAD = 10**6, 10**18
# anvil's well-known dev accounts: TEST KEYS ONLY (public mnemonic)
DEV = anvil_dev_keys(10)
DEPLOYER, ALICE, BOB, KEEPER, RELAYER = DEV[0], DEV[1], DEV[2], DEV[3], DEV[8]


def _rpc(url: str, method: str, params=()):
    r = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)},
                      timeout=5)  # fmt: skip
    return r.json()["result"]


@pytest.fixture(scope="module")
def ext(tmp_path_factory):
    """A separate anvil on an OS-free port, and a brownie home that knows it as `keel-ext`."""
    home = tmp_path_factory.mktemp("home")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    anvil = shutil.which("anvil")
    assert anvil, "anvil is installed by make install (.toolchain/bin)"
    proc = subprocess.Popen(
        [anvil, "--port", str(port), "--chain-id", str(CHAIN_ID), "--hardfork", "osaka",
         "--enable-tx-gas-limit", "--gas-limit", "60000000", "--block-base-fee-per-gas", "0",
         "--accounts", "10", "--quiet", "--max-persisted-states", "0"],  # keel.chain: no disk states
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.time() + 30
    while True:
        try:
            assert int(_rpc(url, "eth_chainId"), 16) == CHAIN_ID
            break
        except requests.ConnectionError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)
    env = {**os.environ, "HOME": str(home)}
    add = subprocess.run(
        [str(Path(sys.executable).with_name("brownie")), "networks", "add", "Ethereum", "keel-ext",
         f"host={url}", f"chainid={CHAIN_ID}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert add.returncode == 0, add.stdout + add.stderr
    yield {"url": url, "env": env, "dir": tmp_path_factory.mktemp("work")}
    proc.terminate()
    proc.wait(timeout=10)


def _run(args, env, cwd, timeout=300, check=True):
    r = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check:
        assert r.returncode == 0, f"{args[:3]} failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
    return r


def _keel(ext, *args, key=None, deployment=None):
    env = {**ext["env"], "KEEL_RPC": ext["url"]}
    if deployment:
        env["KEEL_DEPLOYMENT"] = str(deployment)
    if key:
        env["KEEL_KEY"] = key
    r = _run([sys.executable, "-m", "keel.cli", "--json", *args], env, ext["dir"])
    return json.loads(r.stdout) if r.stdout.strip() else None


@pytest.fixture(scope="module")
def deployed(ext):
    signers = [s.address for s in derive_keys(5, "0")]  # keel-relayer --dev-keys 5 --key-seed 0
    cfg = ext["dir"] / "deploy.yaml"
    cfg.write_text(
        (ROOT / "config" / "deploy.yaml").read_text()
        .replace("oracle: {signers: dev, quorum: 3}", f"oracle: {{signers: {signers}, quorum: 3}}")
        .replace("delay: 86400", "delay: 0")
        .replace("test_tokens: false", "test_tokens: true")
    )  # fmt: skip
    out = ext["dir"] / "deployment.json"
    env = {**ext["env"], "KEEL_DEPLOYER_KEY": DEPLOYER.key}
    _run([sys.executable, "-m", "keel.cli", "deploy", "--network", "keel-ext", "--config", str(cfg),
          "--out", str(out)], env, ROOT, timeout=600)  # fmt: skip
    return json.loads(out.read_text()), out


def _relay(ext, d, csv: Path, start: int, rounds: int):
    state = ext["dir"] / "relayer-state.json"
    _run([sys.executable, "-m", "oracle", "run", "--rpc", ext["url"],
          "--oracle", d["contracts"]["oracle"], "--dev-keys", "5", "--key-seed", "0",
          "--sender-anvil-index", "8", "--source", "csv", "--csv", str(csv),
          "--csv-start", str(start), "--rounds", str(rounds), "--advance-time", "60",
          "--interval", "0", "--state-file", str(state), "--log-format", "json"],
         ext["env"], ext["dir"], timeout=300)  # fmt: skip


def test_deploy_trade_and_liquidate_on_an_external_network(ext, deployed):
    d, dep_file = deployed
    w3 = Web3(Web3.HTTPProvider(ext["url"]))
    c = {r: w3.eth.contract(address=a, abi=load(n)) for r, a, n in (
        ("vault", d["contracts"]["vault"], "Vault"),
        ("engine", d["contracts"]["engine"], "MarginEngine"),
        ("oracle", d["contracts"]["oracle"], "Oracle"),
        ("timelock", d["contracts"]["timelock"], "KeelTimelock"),
    )}  # fmt: skip
    assert d["chain_id"] == CHAIN_ID
    # governance went to the timelock (delay 0: the hand-over ran at once)
    assert c["engine"].functions.owner().call() == d["contracts"]["timelock"]
    assert d["governance"]["pending_handover"] is None

    # calm prices: two CSV rows at $60,000 / $3,000
    csv = ext["dir"] / "prices.csv"
    csv.write_text("date,btc_usd,eth_usd\n2024-01-01,60000,3000\n2024-01-02,60000,3000\n"
                   "2024-01-03,54000,2700\n2024-01-04,54000,2700\n")  # fmt: skip
    _relay(ext, d, csv, 0, 2)
    assert c["oracle"].functions.feed(1).call()[0] == 60_000 * WAD

    # test tokens for the traders and the keeper (anyone may mint them: test_tokens)
    usdc = w3.eth.contract(address=d["tokens"]["USDC"]["address"], abi=load("MockERC20"))
    for who, amount in ((ALICE, 12_000), (BOB, 500_000), (KEEPER, 500_000)):
        tx = usdc.functions.mint(who.address, amount * USDC).build_transaction(
            {"from": who.address, "nonce": w3.eth.get_transaction_count(who.address),
             "gasPrice": 0, "chainId": CHAIN_ID})  # fmt: skip
        w3.eth.send_raw_transaction(Account.sign_transaction(tx, who.key).raw_transaction)

    a = _keel(ext, "account", "open", key=ALICE.key, deployment=dep_file)["account"]
    b = _keel(ext, "account", "open", key=BOB.key, deployment=dep_file)["account"]
    k = _keel(ext, "account", "open", key=KEEPER.key, deployment=dep_file)["account"]
    _keel(ext, "deposit", str(a), "USDC", "12000", key=ALICE.key, deployment=dep_file)
    _keel(ext, "deposit", str(b), "USDC", "500000", key=BOB.key, deployment=dep_file)
    _keel(ext, "deposit", str(k), "USDC", "500000", key=KEEPER.key, deployment=dep_file)
    assert c["vault"].functions.cashOf(a).call() == 12_000 * WAD

    # Bob sells 1 BTC perp at $60,000 by signed order; Alice takes it after asking what it does
    order = ext["dir"] / "order.json"
    _keel(ext, "order", "sign", "--maker", str(b), "--instrument", "BTC", "--size", "-1",
          "--price", "60000", "--out", str(order), key=BOB.key, deployment=dep_file)  # fmt: skip
    w = _keel(ext, "whatif", str(a), "--trade", "BTC", "1", "60000", deployment=dep_file)
    assert w["before"]["initial_margin"] == 0 and w["passes_im"]
    _keel(ext, "order", "fill", str(order), "--taker", str(a), key=ALICE.key, deployment=dep_file)
    assert c["engine"].functions.perpPosition(a, 1).call()[0] == WAD
    m = _keel(ext, "margin", str(a), deployment=dep_file)
    chain_im = c["engine"].functions.marginBreakdown(a).call()[2]
    assert m["initial_margin"] == chain_im / WAD
    assert abs(w["after"]["initial_margin"] - m["initial_margin"]) <= 1e-9 * m["initial_margin"]
    assert not m["liquidatable"]

    # the keeper watches by URL; the relayer then replays the 10% drop
    keeper = subprocess.Popen(
        [sys.executable, "-m", "keeper", "run", "--rpc", ext["url"],
         "--engine", d["contracts"]["engine"], "--liquidator", d["contracts"]["liquidator"],
         "--vault", d["contracts"]["vault"], "--oracle", d["contracts"]["oracle"],
         "--account", str(k), "--anvil-index", "3", "--poll-interval", "0.2",
         "--state-file", str(ext["dir"] / "keeper-state.json")],
        cwd=ext["dir"], env=ext["env"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        _relay(ext, d, csv, 0, 4)  # resumes from its state file at row 2: the drop
        assert c["oracle"].functions.feed(1).call()[0] == 54_000 * WAD
        deadline = time.time() + 120
        while c["engine"].functions.perpPosition(a, 1).call()[0] == WAD:
            assert keeper.poll() is None, keeper.stdout.read()[-3000:]
            assert time.time() < deadline, "the keeper did not liquidate within 120 s"
            time.sleep(0.5)
    finally:
        keeper.send_signal(signal.SIGTERM)
        keeper.wait(timeout=30)
    # Alice's long went (in part) to the keeper's account: sizes are moved, not created (INV-6)
    left = c["engine"].functions.perpPosition(a, 1).call()[0]
    taken = c["engine"].functions.perpPosition(k, 1).call()[0]
    assert 0 <= left < WAD and taken > 0 and left + taken == WAD
    auctions = _keel(ext, "auctions", deployment=dep_file)["auctions"]
    assert all(x["account"] == a for x in auctions)
