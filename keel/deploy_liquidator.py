"""Deploying the Dutch-auction liquidator (SPEC §7) and wiring it into a Vault and margin engine.

The liquidator becomes a Vault module (it moves cash and collateral, collects penalties, draws on
the insurance fund and socialises losses) and the engine's liquidator (the only caller of
`transferPositions`; the engine asks it whether an account is in auction before a withdrawal).
Shared by `keel.deploy_engine.deploy_stack`, tests and scripts.
"""

from __future__ import annotations


def deploy_liquidator(deployer, vault, engine):
    """Deploy a Liquidator for `vault` and `engine` and wire it in; returns the contract."""
    from keel.chain import project as _project

    tx = {"from": deployer}
    liquidator = _project().Liquidator.deploy(vault, engine, tx)
    vault.setModule(liquidator, True, tx)
    engine.setLiquidator(liquidator, tx)
    return liquidator
