"""Brute-force protection: five wrong passwords lock a user out for 1 s, doubling per further
failure (NotAuthorizedException "Password attempts exceeded", even with the right password);
a correct sign-in after the lockout forgets the failures; SRP sign-in honours the lockout; other
users are unaffected; and with PreventUserExistenceErrors a name that does not exist locks out
exactly like a real user, so lockouts reveal nothing."""
import time

import pytest
from botocore.exceptions import ClientError
from signin_helpers import PASSWORD

LOCKED = ("NotAuthorizedException", "Password attempts exceeded")
WRONG = ("NotAuthorizedException", "Incorrect username or password.")


def answer(call) -> tuple[str, str]:
    try:
        call()
        return ("ok", "")
    except ClientError as e:
        return (e.response["Error"]["Code"], e.response["Error"]["Message"])


def fail(sp, name, times):
    return [answer(lambda: sp.password_auth(name, "Wrong-Passw0rd!")) for _ in range(times)]


def test_five_failures_lock_out_with_doubling_and_success_resets(signin_pool):
    sp = signin_pool
    victim, bystander = sp.create_user()["Username"], sp.create_user()["Username"]
    assert fail(sp, victim, 5) == [WRONG] * 5
    # Locked: the right password is refused too, with Admin and SRP flows alike.
    assert answer(lambda: sp.password_auth(victim)) == LOCKED
    assert answer(lambda: sp.admin_auth(victim)) == LOCKED
    assert answer(lambda: sp.pycognito_user(victim).authenticate(password=PASSWORD)) == LOCKED
    assert answer(lambda: sp.password_auth(bystander)) == ("ok", "")
    time.sleep(1.2)
    # The sixth failure locks for 2 s.
    assert fail(sp, victim, 1) == [WRONG]
    time.sleep(1.2)
    assert answer(lambda: sp.password_auth(victim)) == LOCKED
    time.sleep(1.0)
    # A correct password after the lockout signs in and forgets the failures.
    assert answer(lambda: sp.pycognito_user(victim).authenticate(password=PASSWORD)) == ("ok", "")
    assert fail(sp, victim, 4) == [WRONG] * 4
    assert answer(lambda: sp.password_auth(victim)) == ("ok", "")


def test_wrong_srp_proofs_count_as_failures(signin_pool):
    sp = signin_pool
    victim = sp.create_user()["Username"]
    for _ in range(5):
        assert answer(lambda: sp.pycognito_user(victim).authenticate(password="Wrong-Passw0rd!")) == WRONG
    assert answer(lambda: sp.password_auth(victim)) == LOCKED


@pytest.mark.parametrize("prevent", [True, False])
def test_unknown_names_lock_out_like_real_users_when_existence_is_hidden(signin_pool, prevent):
    sp = signin_pool
    client = sp.add_client(PreventUserExistenceErrors="ENABLED" if prevent else "LEGACY")
    real = sp.create_user()["Username"]
    ghost = sp.username("ghost")
    real_answers = [answer(lambda: sp.password_auth(real, "Wrong-Passw0rd!", client=client)) for _ in range(6)]
    ghost_answers = [answer(lambda: sp.password_auth(ghost, "Wrong-Passw0rd!", client=client)) for _ in range(6)]
    assert real_answers == [WRONG] * 5 + [LOCKED]
    if prevent:
        assert ghost_answers == real_answers
    else:
        assert {a[0] for a in ghost_answers} == {"UserNotFoundException"}
