"""Deploy the whole of Keel on the active brownie network (keel.deploy, driven by one config).

    brownie run scripts/deploy.py --network <name>                      # config/deploy.yaml
    brownie run scripts/deploy.py main path/to/config.yaml --network <name>

`keel deploy --network <name> [--config FILE]` does the same. On a development network the
config's test tokens and dev signers are allowed (TEST KEYS ONLY) and the deployer is anvil's dev
account 0; on any other network the deployer is the brownie account named by $KEEL_DEPLOYER
(`brownie accounts new <name>`), and the config must name every token address and signer.
The address file goes to .keel/deployment-<network>.json (ignored by git); the SDK and the CLI
connect with it.
"""

from keel.deploy import deploy_from_cli


def main(config: str | None = None):
    return deploy_from_cli(config)
