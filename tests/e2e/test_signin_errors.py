"""Sign-in errors as Cognito returns them (issue 4, part 5) and the challenge Session (part 2):
wrong password, unknown user with PreventUserExistenceErrors LEGACY and ENABLED, unconfirmed and
disabled users, missing or wrong SECRET_HASH, missing parameters, and a Session that is replayed,
tampered with, forged, or used by another user or client. The wire form (400, `__type`, message) is
checked on raw unsigned requests, which is how InitiateAuth reaches Cognito."""

import base64
import secrets
import time

import pytest
from botocore.exceptions import ClientError

from conftest import assert_error, raises_code
from signin_helpers import NEW_PASSWORD, PASSWORD, error_of, make_signin_pool, secret_hash, tamper

INCORRECT = "Incorrect username or password."
NO_USER = "User does not exist."


# ----- credentials -----


def test_wrong_password_on_every_password_flow(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    calls = [
        lambda: sp.password_auth(name, NEW_PASSWORD),
        lambda: sp.admin_auth(name, NEW_PASSWORD),
        lambda: sp.admin_auth(name, NEW_PASSWORD, flow="ADMIN_NO_SRP_AUTH"),
        lambda: sp.password_auth(name, NEW_PASSWORD, client=sp.confidential),
        lambda: sp.password_auth(name, PASSWORD.lower()),  # passwords are case-sensitive
    ]
    for call in calls:
        with raises_code("NotAuthorizedException", INCORRECT):
            call()
    # Five failures lock the user out for a second (test_lockout.py); then the password works.
    time.sleep(1.2)
    assert "AuthenticationResult" in sp.password_auth(name)


def test_unknown_user_legacy(signin_pool):
    sp = signin_pool
    ghost = "nobody-" + sp.username()
    for call in (lambda: sp.password_auth(ghost), lambda: sp.admin_auth(ghost),
                 lambda: sp.password_auth(ghost, client=sp.confidential)):
        with raises_code("UserNotFoundException", NO_USER):
            call()


def test_unknown_user_with_prevent_user_existence_errors(signin_pool):
    sp = signin_pool
    hidden = sp.add_client(PreventUserExistenceErrors="ENABLED")
    hidden_secret = sp.add_client(secret=True, PreventUserExistenceErrors="ENABLED")
    ghost = "nobody-" + sp.username()
    real = sp.create_user()["Username"]
    for call in (lambda: sp.password_auth(ghost, client=hidden),
                 lambda: sp.admin_auth(ghost, client=hidden),
                 lambda: sp.password_auth(ghost, client=hidden_secret),
                 lambda: sp.password_auth(real, NEW_PASSWORD, client=hidden)):
        with raises_code("NotAuthorizedException", INCORRECT):
            call()
    assert "AuthenticationResult" in sp.password_auth(real, client=hidden)


def test_unconfirmed_user(signin_pool):
    sp = signin_pool
    name = sp.username("pending")
    sp.cognito.sign_up(ClientId=sp.public.client_id, Username=name, Password=PASSWORD)
    with raises_code("UserNotConfirmedException", "User is not confirmed."):
        sp.password_auth(name)
    with raises_code("UserNotConfirmedException", "User is not confirmed."):
        sp.admin_auth(name)
    # A wrong password is just a wrong password.
    with raises_code("NotAuthorizedException", INCORRECT):
        sp.password_auth(name, NEW_PASSWORD)


def test_disabled_user(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    sp.cognito.admin_disable_user(UserPoolId=sp.pool_id, Username=name)
    for call in (lambda: sp.password_auth(name), lambda: sp.admin_auth(name),
                 lambda: sp.admin_auth(name, flow="ADMIN_NO_SRP_AUTH")):
        with raises_code("NotAuthorizedException", "User is disabled."):
            call()


def test_missing_auth_parameters(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    c = sp.cognito
    for flow, params in (("USER_PASSWORD_AUTH", {"USERNAME": name}),
                         ("USER_PASSWORD_AUTH", {"PASSWORD": PASSWORD}),
                         ("USER_SRP_AUTH", {"USERNAME": name}),
                         ("REFRESH_TOKEN_AUTH", {"USERNAME": name})):
        with raises_code("InvalidParameterException"):
            c.initiate_auth(ClientId=sp.public.client_id, AuthFlow=flow, AuthParameters=params)
    with raises_code("InvalidParameterException"):
        c.admin_initiate_auth(UserPoolId=sp.pool_id, ClientId=sp.public.client_id,
                              AuthFlow="ADMIN_USER_PASSWORD_AUTH", AuthParameters={"USERNAME": name})


def test_admin_flows_are_not_public_flows(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    with raises_code("InvalidParameterException"):
        sp.cognito.initiate_auth(ClientId=sp.public.client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                 AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD})


# ----- SECRET_HASH -----


def test_secret_hash_missing_or_wrong(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    c = sp.confidential
    missing = [lambda: sp.password_auth(name, client=c, with_hash=False),
               lambda: sp.admin_auth(name, client=c, with_hash=False)]
    for call in missing:
        with raises_code("NotAuthorizedException") as info:
            call()
        assert c.client_id in error_of(info.value)[1], info.value.response["Error"]

    wrong_hashes = [secret_hash(name, c.client_id, "not-the-secret"),
                    secret_hash(name.upper() + "x", c.client_id, c.secret),
                    secret_hash(name, sp.public.client_id, c.secret),
                    tamper(c.hash_for(name))]
    for wrong in wrong_hashes:
        for op in ("initiate", "admin"):
            params = {"USERNAME": name, "PASSWORD": PASSWORD, "SECRET_HASH": wrong}
            with raises_code("NotAuthorizedException", f"Unable to verify secret hash for client {c.client_id}"):
                if op == "initiate":
                    sp.cognito.initiate_auth(ClientId=c.client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters=params)
                else:
                    sp.cognito.admin_initiate_auth(UserPoolId=sp.pool_id, ClientId=c.client_id,
                                                   AuthFlow="ADMIN_USER_PASSWORD_AUTH", AuthParameters=params)
    # The hash is checked before the password: a right hash with a wrong password is a wrong password.
    with raises_code("NotAuthorizedException", INCORRECT):
        sp.password_auth(name, NEW_PASSWORD, client=c)
    assert "AuthenticationResult" in sp.password_auth(name, client=c)


def test_secret_hash_on_public_client_is_not_needed(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    assert "AuthenticationResult" in sp.password_auth(name)


# ----- the challenge Session -----


def new_password_challenge(sp, client=None, admin=True):
    name = sp.create_user(permanent=False)["Username"]
    out = sp.admin_auth(name, client=client) if admin else sp.password_auth(name, client=client)
    assert out["ChallengeName"] == "NEW_PASSWORD_REQUIRED", out
    return name, out["Session"]


def respond_new_password(sp, name, session, client=None, admin=True, password=NEW_PASSWORD):
    client = client or sp.public
    responses = {"USERNAME": name, "NEW_PASSWORD": password}
    if client.secret:
        responses["SECRET_HASH"] = client.hash_for(name)
    kwargs = dict(ClientId=client.client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=session,
                  ChallengeResponses=responses)
    if admin:
        return sp.cognito.admin_respond_to_auth_challenge(UserPoolId=sp.pool_id, **kwargs)
    return sp.cognito.respond_to_auth_challenge(**kwargs)


def assert_invalid_session(call):
    with raises_code("NotAuthorizedException") as info:
        call()
    assert error_of(info.value)[1].startswith("Invalid session for the user"), info.value.response["Error"]


@pytest.mark.parametrize("admin", [True, False], ids=["admin", "public"])
def test_session_is_single_use(signin_pool, admin):
    sp = signin_pool
    name, session = new_password_challenge(sp, admin=admin)
    assert "AuthenticationResult" in respond_new_password(sp, name, session, admin=admin)
    assert_invalid_session(lambda: respond_new_password(sp, name, session, admin=admin, password=PASSWORD + "2"))
    # The replay changed nothing: the first new password is the password.
    assert "AuthenticationResult" in sp.admin_auth(name, NEW_PASSWORD)
    with raises_code("NotAuthorizedException", INCORRECT):
        sp.admin_auth(name, PASSWORD + "2")


@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_tampered_session(signin_pool, where):
    sp = signin_pool
    name, session = new_password_challenge(sp)
    index = {"start": 0, "middle": len(session) // 2, "end": len(session) - 6}[where]
    bad = tamper(session, index)
    assert bad != session and len(bad) == len(session)
    assert_invalid_session(lambda: respond_new_password(sp, name, bad))
    # The genuine session still works afterwards: a forgery does not burn it.
    assert "AuthenticationResult" in respond_new_password(sp, name, session)


def test_forged_and_truncated_sessions(signin_pool):
    sp = signin_pool
    name, session = new_password_challenge(sp)
    forged = [
        base64.b64encode(secrets.token_bytes(len(session) * 3 // 4)).decode()[: len(session)],
        session[: len(session) // 2],
        session + "AAAA",
        "A" * 64,
    ]
    for bad in forged:
        assert_invalid_session(lambda: respond_new_password(sp, name, bad))
    assert "AuthenticationResult" in respond_new_password(sp, name, session)


def test_session_is_bound_to_the_user(signin_pool):
    sp = signin_pool
    alice, alice_session = new_password_challenge(sp)
    bob, _ = new_password_challenge(sp)
    with raises_code("NotAuthorizedException"):
        respond_new_password(sp, bob, alice_session)
    assert sp.get_user(bob)["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert "AuthenticationResult" in respond_new_password(sp, alice, alice_session)


def test_session_is_bound_to_the_client(signin_pool):
    sp = signin_pool
    other = sp.add_client()
    name, session = new_password_challenge(sp)
    with pytest.raises(ClientError) as info:
        respond_new_password(sp, name, session, client=other)
    assert error_of(info.value)[0] in ("NotAuthorizedException", "InvalidParameterException"), info.value.response
    assert sp.get_user(name)["UserStatus"] == "FORCE_CHANGE_PASSWORD"


def test_session_of_public_flow_with_confidential_client_hash(signin_pool):
    sp = signin_pool
    name, session = new_password_challenge(sp, client=sp.confidential, admin=False)
    responses = {"USERNAME": name, "NEW_PASSWORD": NEW_PASSWORD,
                 "SECRET_HASH": secret_hash(name, sp.confidential.client_id, "not-the-secret")}
    with raises_code("NotAuthorizedException", f"Unable to verify secret hash for client {sp.confidential.client_id}"):
        sp.cognito.respond_to_auth_challenge(ClientId=sp.confidential.client_id, ChallengeName="NEW_PASSWORD_REQUIRED",
                                             Session=session, ChallengeResponses=responses)
    assert "AuthenticationResult" in respond_new_password(sp, name, session, client=sp.confidential, admin=False)


def test_wrong_challenge_name_for_session(signin_pool):
    sp = signin_pool
    name, session = new_password_challenge(sp)
    with pytest.raises(ClientError) as info:
        sp.cognito.respond_to_auth_challenge(ClientId=sp.public.client_id, ChallengeName="SMS_MFA", Session=session,
                                             ChallengeResponses={"USERNAME": name, "SMS_MFA_CODE": "123456"})
    assert error_of(info.value)[0] in ("NotAuthorizedException", "InvalidParameterException",
                                       "CodeMismatchException"), info.value.response
    assert sp.get_user(name)["UserStatus"] == "FORCE_CHANGE_PASSWORD"


SHORT_SESSIONS = "[auth]\nmax_session_secs = 2\n"
EXPIRED = "Invalid session for the user, session is expired."


def test_expired_new_password_session_is_refused(make_daemon):
    """A Session past its lifetime (here capped at 2 s by `auth.max_session_secs`) is refused with
    Cognito's expiry message, and the user is left as they were."""
    d = make_daemon(SHORT_SESSIONS)
    sp = make_signin_pool(d, d.client())
    name = sp.create_user(permanent=False)["Username"]
    challenge = sp.admin_auth(name)
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    time.sleep(3.5)
    with pytest.raises(ClientError) as info:
        sp.cognito.admin_respond_to_auth_challenge(
            UserPoolId=sp.pool_id, ClientId=sp.public.client_id, ChallengeName="NEW_PASSWORD_REQUIRED",
            Session=challenge["Session"], ChallengeResponses={"USERNAME": name, "NEW_PASSWORD": NEW_PASSWORD})
    assert error_of(info.value) == ("NotAuthorizedException", EXPIRED)
    assert sp.get_user(name)["UserStatus"] == "FORCE_CHANGE_PASSWORD"


def test_expired_srp_secret_block_is_refused(make_daemon):
    """The SRP SECRET_BLOCK expires like a Session: a correct proof sent too late is refused."""
    d = make_daemon(SHORT_SESSIONS)
    sp = make_signin_pool(d, d.client())
    name = sp.create_user()["Username"]
    aws = sp.srp(name)
    auth_params, resp = sp.srp_challenge(aws)
    responses = aws.process_challenge(resp["ChallengeParameters"], auth_params)
    time.sleep(3.5)
    with pytest.raises(ClientError) as info:
        sp.respond_password_verifier(aws, responses)
    assert error_of(info.value) == ("NotAuthorizedException", EXPIRED)


# ----- the wire form, as unmodified SDKs see it -----


def test_error_wire_form_of_unsigned_initiate_auth(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    body = {"ClientId": sp.public.client_id, "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": name, "PASSWORD": NEW_PASSWORD}}
    assert_error(sp.daemon.raw("InitiateAuth", body, sign=False), "NotAuthorizedException", message=INCORRECT)
    body["AuthParameters"]["USERNAME"] = "nobody-" + name
    assert_error(sp.daemon.raw("InitiateAuth", body, sign=False), "UserNotFoundException", message=NO_USER)
    # Success needs no SigV4 either.
    body["AuthParameters"] = {"USERNAME": name, "PASSWORD": PASSWORD}
    r = sp.daemon.raw("InitiateAuth", body, sign=False)
    assert r.status_code == 200, r.text
    result = r.json()["AuthenticationResult"]
    assert result["TokenType"] == "Bearer" and result["ExpiresIn"] == 3600


def test_admin_initiate_auth_needs_sigv4(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    body = {"UserPoolId": sp.pool_id, "ClientId": sp.public.client_id, "AuthFlow": "ADMIN_USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": name, "PASSWORD": PASSWORD}}
    r = sp.daemon.raw("AdminInitiateAuth", body, sign=False)
    assert r.status_code == 400 and r.json()["__type"] == "MissingAuthenticationTokenException", r.text
    assert sp.daemon.call("AdminInitiateAuth", body)["AuthenticationResult"]["TokenType"] == "Bearer"
