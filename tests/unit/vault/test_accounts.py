"""Accounts, operators and transfers (SPEC §2; INV-7: nobody outside their rights changes state)."""

from brownie import ZERO_ADDRESS

from keel.deploy_vault import RIGHT_TRADE, RIGHT_WITHDRAW
from tests.unit.vault.helpers import reverts


def test_open_account_assigns_ids_from_one(vault, alice, bob):
    tx1 = vault.openAccount({"from": alice})
    tx2 = vault.openAccount({"from": bob})
    assert (tx1.return_value, tx2.return_value) == (1, 2)
    assert vault.accountCount() == 2
    assert vault.accountOwner(1) == alice
    assert vault.accountOwner(2) == bob
    assert tx1.events["AccountOpened"] == {"accountId": 1, "owner": alice}


def test_owner_may_open_several_accounts(vault, alice):
    ids = [vault.openAccount({"from": alice}).return_value for _ in range(3)]
    assert ids == [1, 2, 3]
    assert all(vault.accountOwner(i) == alice for i in ids)


def test_unknown_account_has_no_owner(vault):
    assert vault.accountOwner(7) == ZERO_ADDRESS
    assert vault.isAuthorised(7, ZERO_ADDRESS, RIGHT_TRADE) is False


def test_set_operator_grants_rights_and_emits(vault, alice, carol, alice_account):
    tx = vault.setOperator(alice_account, carol, RIGHT_TRADE, {"from": alice})
    assert tx.events["OperatorSet"] == {
        "accountId": alice_account,
        "owner": alice,
        "operator": carol,
        "rights": RIGHT_TRADE,
    }
    assert vault.operatorRights(alice_account, carol) == RIGHT_TRADE
    assert vault.isAuthorised(alice_account, carol, RIGHT_TRADE)
    assert not vault.isAuthorised(alice_account, carol, RIGHT_WITHDRAW)
    assert not vault.isAuthorised(alice_account, carol, RIGHT_TRADE | RIGHT_WITHDRAW)


def test_owner_is_authorised_for_every_right(vault, alice, alice_account):
    for right in (0, RIGHT_TRADE, RIGHT_WITHDRAW, RIGHT_TRADE | RIGHT_WITHDRAW):
        assert vault.isAuthorised(alice_account, alice, right)


def test_operator_with_no_right_asked_is_not_authorised(vault, alice, carol, alice_account):
    vault.setOperator(alice_account, carol, RIGHT_TRADE | RIGHT_WITHDRAW, {"from": alice})
    assert not vault.isAuthorised(alice_account, carol, 0)
    assert vault.isAuthorised(alice_account, carol, RIGHT_TRADE | RIGHT_WITHDRAW)


def test_set_operator_zero_revokes(vault, alice, carol, alice_account):
    vault.setOperator(alice_account, carol, RIGHT_WITHDRAW, {"from": alice})
    vault.setOperator(alice_account, carol, 0, {"from": alice})
    assert vault.operatorRights(alice_account, carol) == 0
    assert not vault.isAuthorised(alice_account, carol, RIGHT_WITHDRAW)


def test_set_operator_reverts_for_non_owner(vault, mallory, carol, alice_account):
    with reverts("NotAccountOwner", alice_account, mallory.address):
        vault.setOperator(alice_account, carol, RIGHT_TRADE, {"from": mallory})


def test_operator_cannot_appoint_operators(vault, alice, carol, mallory, alice_account):
    vault.setOperator(alice_account, carol, RIGHT_TRADE | RIGHT_WITHDRAW, {"from": alice})
    with reverts("NotAccountOwner", alice_account, carol.address):
        vault.setOperator(alice_account, mallory, RIGHT_TRADE, {"from": carol})


def test_set_operator_reverts_for_unknown_account(vault, alice, carol):
    with reverts("UnknownAccount", 9):
        vault.setOperator(9, carol, RIGHT_TRADE, {"from": alice})


def test_set_operator_rejects_unknown_right_bits(vault, alice, carol, alice_account):
    with reverts("InvalidRights", 4):
        vault.setOperator(alice_account, carol, 4, {"from": alice})


def test_set_operator_rejects_zero_operator(vault, alice, alice_account):
    with reverts("ZeroAddress"):
        vault.setOperator(alice_account, ZERO_ADDRESS, RIGHT_TRADE, {"from": alice})


def test_transfer_account_moves_ownership_and_emits(vault, alice, bob, alice_account):
    tx = vault.transferAccount(alice_account, bob, {"from": alice})
    assert vault.accountOwner(alice_account) == bob
    assert tx.events["AccountTransferred"] == {
        "accountId": alice_account,
        "from": alice,
        "to": bob,
    }
    assert not vault.isAuthorised(alice_account, alice, RIGHT_TRADE)


def test_transfer_voids_previous_owners_operators(vault, alice, bob, carol, alice_account):
    vault.setOperator(alice_account, carol, RIGHT_TRADE | RIGHT_WITHDRAW, {"from": alice})
    vault.transferAccount(alice_account, bob, {"from": alice})
    assert vault.operatorRights(alice_account, carol) == 0
    assert not vault.isAuthorised(alice_account, carol, RIGHT_TRADE)
    assert not vault.isAuthorised(alice_account, carol, RIGHT_WITHDRAW)


def test_transfer_back_does_not_revive_operators_of_the_new_owner(
    vault, alice, bob, carol, alice_account
):
    vault.transferAccount(alice_account, bob, {"from": alice})
    vault.setOperator(alice_account, carol, RIGHT_TRADE, {"from": bob})
    vault.transferAccount(alice_account, alice, {"from": bob})
    assert not vault.isAuthorised(alice_account, carol, RIGHT_TRADE)


def test_transfer_account_reverts_for_non_owner(vault, mallory, alice_account):
    with reverts("NotAccountOwner", alice_account, mallory.address):
        vault.transferAccount(alice_account, mallory, {"from": mallory})


def test_operator_cannot_transfer_account(vault, alice, carol, alice_account):
    vault.setOperator(alice_account, carol, RIGHT_TRADE | RIGHT_WITHDRAW, {"from": alice})
    with reverts("NotAccountOwner", alice_account, carol.address):
        vault.transferAccount(alice_account, carol, {"from": carol})


def test_transfer_account_reverts_for_unknown_account(vault, alice, bob):
    with reverts("UnknownAccount", 5):
        vault.transferAccount(5, bob, {"from": alice})


def test_transfer_account_rejects_zero_owner(vault, alice, alice_account):
    with reverts("ZeroAddress"):
        vault.transferAccount(alice_account, ZERO_ADDRESS, {"from": alice})
