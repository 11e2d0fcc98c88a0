"""Deploy Keel on the active brownie network: `brownie run scripts/deploy.py --network <name>`.

On a development network (the embedded anvil) it deploys mintable test tokens, signs with anvil's
dev account 0 and authorises the relayer's derived dev signer keys (TEST KEYS ONLY). On any other
network it needs:
  KEEL_DEPLOYER       name of a brownie account (`brownie accounts new <name>`), unlocked on load
  KEEL_SIGNERS        comma-separated oracle signer addresses (the relayer's public addresses)
  KEEL_TOKENS         USDC=0x...,WETH=0x...,WBTC=0x...   (existing token contracts)
The deployed addresses are written to .keel/deployment-<network>.json (ignored by git).
"""

import json
import os
from pathlib import Path

from brownie import accounts, network

from keel.system import deploy_system

DEV_SIGNERS = 5


def main():
    name = network.show_active()
    dev = network.is_development() if hasattr(network, "is_development") else "anvil" in name
    if dev:
        from oracle.signers import derive_keys

        deployer = accounts[0]
        signers = [s.address for s in derive_keys(DEV_SIGNERS, 0)]
        tokens = None
    else:
        deployer = accounts.load(os.environ["KEEL_DEPLOYER"])
        signers = [a.strip() for a in os.environ["KEEL_SIGNERS"].split(",") if a.strip()]
        tokens = dict(kv.split("=", 1) for kv in os.environ["KEEL_TOKENS"].split(","))
    system = deploy_system(deployer, signers, quorum=3, tokens=tokens)
    out = Path(".keel") / f"deployment-{name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(system.addresses(), indent=2) + "\n")
    print(f"deployed on {name}: {system.addresses()} -> {out}")
    return system
