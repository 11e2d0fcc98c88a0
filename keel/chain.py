"""Connecting to the chain Keel runs on: the embedded anvil by default, any brownie network by name."""

from __future__ import annotations

import difflib
import os
import socket

EMBEDDED_NETWORK = "anvil"


# Ethereum's current rules on the embedded chain (SPEC §9): brownie-config.yaml sets the Osaka
# hardfork (`evm_version: osaka` becomes `--hardfork osaka`); this flag makes anvil enforce EIP-7825's
# per-transaction cap of 16,777,216 gas, as mainnet does. brownie merges only `cmd_settings` from a
# project's config (never `cmd`), and its anvil launcher passes no flag it does not know, so the flag
# goes on the command here.
# `--max-persisted-states 0`: anvil keeps its recent states in memory (its default 500 blocks) and
# by default writes older ones to ~/.foundry/anvil/tmp, which it does not remove when it is killed:
# a test suite or a long simulation left gigabytes there per run, until the disk filled. Nothing
# here reads state that old; the chain is thrown away after every run.
EMBEDDED_CMD = "anvil --enable-tx-gas-limit --max-persisted-states 0"
TX_GAS_CAP = 16_777_216  # EIP-7825


def free_port() -> int:
    """A TCP port on 127.0.0.1 that the OS reports free now (bind to port 0, then release it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def network_name(name: str) -> str:
    """An argparse type: a network brownie knows (`brownie networks list`), checked before anything
    compiles or launches; the embedded chain is `anvil`."""
    import argparse

    from brownie._config import CONFIG

    if name not in CONFIG.networks:
        near = difflib.get_close_matches(name, list(CONFIG.networks), n=3)
        hint = f"; did you mean {', '.join(near)}?" if near else "; see `brownie networks list`"
        raise argparse.ArgumentTypeError(f"{name!r} is not a brownie network{hint}")
    return name


def configure_embedded_chain(genesis_timestamp: int | None = None) -> None:
    """Set up brownie's embedded network before it launches anvil: Osaka's cap, the port, and
    the genesis block's timestamp when given (anvil `--timestamp`; else anvil's wall clock).

    The port is $KEEL_ANVIL_PORT when set, else one the OS reports free: no fixed port, so two
    suites, or a suite beside a demo, never share or fight over a chain (brownie would attach to
    whatever already listens on a configured port). Everything that needs the chain's URL takes it
    from the connected provider (`rpc_url`).
    """
    from brownie._config import CONFIG

    network = CONFIG.networks[EMBEDDED_NETWORK]
    network["cmd"] = EMBEDDED_CMD
    if genesis_timestamp is not None:
        network["cmd"] += f" --timestamp {int(genesis_timestamp)}"
    port = os.environ.get("KEEL_ANVIL_PORT") or free_port()
    network.setdefault("cmd_settings", {})["port"] = int(port)


def connect(network: str | None = None, *, quiet: bool = True, genesis_timestamp=None):
    """Connect brownie to `network` (default: the embedded anvil chain, launched if needed, its
    genesis block stamped `genesis_timestamp` [unix s] when given).

    Loads the project as `brownie run` does (its settings, and its contracts importable as
    `from brownie import Vault`), with keel.brownie_fix installed (brownie's false "Tx dropped").
    `quiet` silences brownie's line-per-transaction output.
    """
    import brownie
    from brownie import project
    from brownie._config import CONFIG

    from keel import brownie_fix

    brownie_fix.install()

    if not project.get_loaded_projects():
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        loaded = project.load(root, name="KeelProject")
        # brownie applies a project's network settings (anvil's gas limit, chain id, ...) only here
        loaded.load_config()
        loaded._add_to_main_namespace()
    CONFIG.argv["silent"] = quiet
    _no_brownie_deployment_records(project.get_loaded_projects()[0])
    name = network or EMBEDDED_NETWORK
    if name == EMBEDDED_NETWORK:
        configure_embedded_chain(genesis_timestamp)
    if not brownie.network.is_connected():
        brownie.network.connect(name)
    return project.get_loaded_projects()[0]


def _no_brownie_deployment_records(loaded) -> None:
    """Keel's address file (keel.deploy) is the one record of a deployment. brownie's own records
    of live-network deployments (build/deployments/<chain id>/) are neither read nor written: a
    chain that was reset keeps its chain id, and brownie refuses to connect to it while a record
    names an address without code there ("No contract deployed at ...")."""
    from brownie.network.contract import ProjectContract

    loaded._load_deployments = lambda: None
    ProjectContract._save_deployment = lambda self: None


def project():
    """The loaded brownie project (its ContractContainers: `project().Vault`, ...)."""
    from brownie import project as brownie_project

    loaded = brownie_project.get_loaded_projects()
    if not loaded:
        raise RuntimeError("no brownie project loaded: call keel.chain.connect() first")
    return loaded[0]


def rpc_url() -> str:
    """JSON-RPC URL of the connected chain (for separate processes such as the relayer)."""
    import brownie

    return brownie.web3.provider.endpoint_uri
