"""The `keel` command line as a trader runs it: a real process against the embedded chain.

Each command's effect is checked on the chain (brownie), each refusal is one line on stderr with
a non-zero exit and no transaction, and `--help` works for every command.
"""

import json
import os
import subprocess
import sys

import pytest
from brownie import accounts, chain

from keel.chain import free_port, rpc_url
from keel.deploy_engine import WAD, signing_key

USDC = 10**6
COMMANDS = [
    [], ["deploy"], ["account"], ["account", "open"], ["account", "list"], ["account", "show"],
    ["account", "operator"], ["account", "transfer"], ["deposit"], ["withdraw"], ["order"],
    ["order", "sign"], ["order", "fill"], ["order", "cancel"], ["margin"], ["whatif"],
    ["liqprice"], ["auctions"], ["params"], ["bid"], ["settle"],
]  # fmt: skip


def keel(*args, env=None, key=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    e.update(env or {})
    if key:
        e["KEEL_KEY"] = key
    # run where the deployment file is: the sender's state file goes to ./.keel there
    cwd = os.path.dirname(e["KEEL_DEPLOYMENT"]) if e.get("KEEL_DEPLOYMENT") else None
    return subprocess.run([sys.executable, "-m", "keel.cli", *args], capture_output=True,
                          text=True, env=e, timeout=120, cwd=cwd)  # fmt: skip


@pytest.fixture(scope="module")
def env(stack, tmp_path_factory):
    path = stack.deployment.write(tmp_path_factory.mktemp("dep") / "deployment.json")
    return {"KEEL_RPC": rpc_url(), "KEEL_DEPLOYMENT": str(path)}


@pytest.fixture(scope="module")
def trader(stack):
    owner = accounts[3]
    stack.usdc.mint(owner, 100_000 * USDC, {"from": owner})
    return owner, signing_key(owner)


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c) or "keel")
def test_help_everywhere(cmd):
    r = keel(*cmd, "--help")
    assert r.returncode == 0 and "usage: keel" in r.stdout and r.stderr == ""


def test_a_trader_opens_deposits_and_reads_margin(stack, env, trader):
    owner, key = trader
    r = keel("--json", "account", "open", env=env, key=key)
    assert r.returncode == 0, r.stderr
    acct = json.loads(r.stdout)["account"]
    assert stack.vault.accountOwner(acct) == owner
    r = keel("deposit", str(acct), "USDC", "2500.25", env=env, key=key)
    assert r.returncode == 0, r.stderr
    assert stack.vault.cashOf(acct) == 2500_250_000_000_000_000_000
    r = keel("--json", "account", "list", env=env, key=key)
    assert acct in json.loads(r.stdout)["accounts"]
    r = keel("--json", "margin", str(acct), env=env)
    m = json.loads(r.stdout)
    assert m["equity"] == stack.engine.marginBreakdown(acct)[0] / WAD
    assert m["initial_margin"] == 0 and not m["liquidatable"]
    r = keel("margin", str(acct), env=env)
    assert "adjusted equity AE" in r.stdout and r.returncode == 0


def test_params_file(stack, env, tmp_path):
    out = tmp_path / "risk.json"
    r = keel("params", "--out", str(out), env=env)
    assert r.returncode == 0, r.stderr
    p = json.loads(out.read_text())
    assert p["margin"]["mmRatio"] == "0.8" and p["block"] <= chain.height


REFUSALS = [
    (["deposit", "1", "USDC", "5"], {}, None, "keel: error: this command signs: set $KEEL_KEY"),
    (["margin", "1"], {"KEEL_DEPLOYMENT": ""}, None, "keel: error: no deployment: pass"),
    (["margin", "999"], {}, None, "keel: error: unknown account 999"),
    (["deposit", "1", "USDC", "1.0000001"], {}, "key", "keel: error: USDC amount: 1.0000001 has"),
    (["whatif", "1", "--trade", "SOL", "1", "1"], {}, None, "keel: error: unknown account 1"),
    (
        ["order", "fill", "/nonexistent.json", "--taker", "1"],
        {},
        "key",
        "keel: error: /nonexistent",
    ),
]


@pytest.mark.parametrize("args,extra,signed,message", REFUSALS, ids=lambda x: str(x)[:30])
def test_refusals_are_one_line(stack, env, trader, args, extra, signed, message):
    height = chain.height
    r = keel(*args, env={**env, **extra}, key=trader[1] if signed else None)
    assert r.returncode == 1
    assert r.stderr.startswith(message), r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert chain.height == height


def test_an_unreachable_rpc_is_one_line(env):
    url = f"http://127.0.0.1:{free_port()}"
    r = keel("--timeout", "0.5", "margin", "1", env={**env, "KEEL_RPC": url})
    assert r.returncode == 1 and r.stderr.startswith(f"keel: error: {url}: no answer (")
    assert r.stderr.count("\n") == 1


def test_bad_usage_exits_2():
    r = keel("margin")
    assert r.returncode == 2 and "the following arguments are required: account" in r.stderr
    r = keel("frobnicate")
    assert r.returncode == 2 and "invalid choice: 'frobnicate'" in r.stderr
