"""USER_SRP_AUTH -> PASSWORD_VERIFIER with pycognito's own client code (issue 4, parts 2 and 5):
pycognito.Cognito.authenticate with and without a client secret (its built-in token verification
runs against the daemon's issuer and JWKS), pycognito's NEW_PASSWORD_REQUIRED path, refresh and
sign-out through pycognito, and the negative cases built from AWSSRP's helpers by hand: a wrong
PASSWORD_CLAIM_SIGNATURE, a tampered SECRET_BLOCK or TIMESTAMP, a replayed challenge response,
missing or wrong SECRET_HASH, unknown users with and without PreventUserExistenceErrors."""

import base64
import re

import pytest
from botocore.exceptions import ClientError
from pycognito.exceptions import ForceChangePasswordException

from conftest import raises_code
from signin_helpers import (
    NEW_PASSWORD,
    PASSWORD,
    assert_token_pair,
    attrs,
    is_uuid,
    secret_hash,
    tamper,
)

INCORRECT = "Incorrect username or password."


@pytest.mark.parametrize("confidential", [False, True], ids=["public-client", "client-with-secret"])
def test_pycognito_srp_sign_in(signin_pool, confidential):
    sp = signin_pool
    client = sp.confidential if confidential else sp.public
    user = sp.create_user(attributes={"email": "srp@example.com", "email_verified": "true"})
    name, sub = user["Username"], attrs(user["Attributes"])["sub"]

    u = sp.pycognito_user(name, client)
    u.authenticate(password=PASSWORD)  # raises unless pycognito verifies both tokens (RS256, iss, aud, token_use)
    assert u.token_type == "Bearer"
    assert u.id_claims["sub"] == sub and u.access_claims["sub"] == sub
    assert u.id_claims["cognito:username"] == name
    assert u.id_claims["aud"] == client.client_id
    assert u.access_claims["client_id"] == client.client_id
    assert u.id_claims["email"] == "srp@example.com"
    assert isinstance(u.refresh_token, str) and u.refresh_token

    # GetUser through pycognito with the access token.
    me = u.get_user()
    assert me.sub == sub
    assert me.email == "srp@example.com"

    # Refresh through pycognito (SECRET_HASH over the username when the client has a secret).
    old_access = u.access_token
    u.renew_access_token()
    assert u.access_token != old_access
    assert u.access_claims["origin_jti"] is not None and u.access_claims["sub"] == sub


@pytest.mark.parametrize("confidential", [False, True], ids=["public-client", "client-with-secret"])
def test_aws_srp_authenticate_user_result(signin_pool, confidential):
    sp = signin_pool
    client = sp.confidential if confidential else sp.public
    user = sp.create_user()
    name, sub = user["Username"], attrs(user["Attributes"])["sub"]
    out = sp.srp(name, client=client).authenticate_user()
    assert "ChallengeName" not in out, out
    assert_token_pair(sp, out["AuthenticationResult"], client, name, sub)


def test_srp_challenge_parameters(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    aws = sp.srp(name)
    _, resp = sp.srp_challenge(aws)
    assert resp["ChallengeName"] == "PASSWORD_VERIFIER"
    p = resp["ChallengeParameters"]
    assert p["USERNAME"] == name
    assert p["USER_ID_FOR_SRP"] == name
    assert re.fullmatch(r"[0-9a-f]+", p["SALT"]), p["SALT"]
    assert re.fullmatch(r"[0-9a-fA-F]+", p["SRP_B"]), p["SRP_B"]
    assert int(p["SRP_B"], 16) % aws.big_n != 0
    assert len(base64.b64decode(p["SECRET_BLOCK"], validate=True)) >= 16
    # Two challenges never share B or the secret block.
    _, again = sp.srp_challenge(sp.srp(name))
    assert again["ChallengeParameters"]["SRP_B"] != p["SRP_B"]
    assert again["ChallengeParameters"]["SECRET_BLOCK"] != p["SECRET_BLOCK"]
    # ... but the salt is the user's.
    assert again["ChallengeParameters"]["SALT"] == p["SALT"]


def test_srp_with_session_forwarded_like_js(signin_pool):
    """amazon-cognito-identity-js forwards the Session of the PASSWORD_VERIFIER challenge when
    there is one; pycognito does not. Both must work."""
    sp = signin_pool
    name = sp.create_user()["Username"]
    aws = sp.srp(name)
    auth_params, resp = sp.srp_challenge(aws)
    responses = aws.process_challenge(resp["ChallengeParameters"], auth_params)
    out = sp.respond_password_verifier(aws, responses, session=resp.get("Session"))
    assert "AuthenticationResult" in out


def test_pycognito_new_password_challenge(signin_pool):
    sp = signin_pool
    user = sp.create_user(permanent=False)
    name, sub = user["Username"], attrs(user["Attributes"])["sub"]
    u = sp.pycognito_user(name)
    with pytest.raises(ForceChangePasswordException):
        u.authenticate(password=PASSWORD)
    u.new_password_challenge(password=PASSWORD, new_password=NEW_PASSWORD)
    assert u.access_claims["sub"] == sub
    assert sp.get_user(name)["UserStatus"] == "CONFIRMED"
    fresh = sp.pycognito_user(name)
    fresh.authenticate(password=NEW_PASSWORD)
    assert fresh.id_claims["sub"] == sub


def test_pycognito_new_password_challenge_with_secret(signin_pool):
    sp = signin_pool
    name = sp.create_user(permanent=False)["Username"]
    u = sp.pycognito_user(name, sp.confidential)
    u.new_password_challenge(password=PASSWORD, new_password=NEW_PASSWORD)
    assert u.id_claims["aud"] == sp.confidential.client_id
    assert sp.get_user(name)["UserStatus"] == "CONFIRMED"


def test_pycognito_logout_revokes_refresh(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    u = sp.pycognito_user(name)
    u.authenticate(password=PASSWORD)
    refresh, access = u.refresh_token, u.access_token
    u.logout()  # GlobalSignOut
    with raises_code("NotAuthorizedException", "Refresh Token has been revoked"):
        sp.refresh(refresh)
    with raises_code("NotAuthorizedException", "Access Token has been revoked"):
        sp.cognito.get_user(AccessToken=access)


# ----- the PASSWORD_VERIFIER step built by hand from pycognito's helpers -----


def verifier_responses(sp, name, password=PASSWORD, client=None):
    aws = sp.srp(name, password, client)
    auth_params, resp = sp.srp_challenge(aws)
    assert resp["ChallengeName"] == "PASSWORD_VERIFIER", resp
    return aws, resp, aws.process_challenge(resp["ChallengeParameters"], auth_params)


def test_srp_wrong_password(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    u = sp.pycognito_user(name)
    with raises_code("NotAuthorizedException", INCORRECT):
        u.authenticate(password=NEW_PASSWORD)


def test_srp_wrong_password_claim_signature(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    aws, _, responses = verifier_responses(sp, name)
    sig = bytearray(base64.b64decode(responses["PASSWORD_CLAIM_SIGNATURE"]))
    sig[0] ^= 0x80
    bad = dict(responses, PASSWORD_CLAIM_SIGNATURE=base64.b64encode(bytes(sig)).decode())
    with raises_code("NotAuthorizedException", INCORRECT):
        sp.respond_password_verifier(aws, bad)
    for junk in ("AAAA", base64.b64encode(b"\0" * 31).decode(), base64.b64encode(b"\0" * 64).decode()):
        aws, _, responses = verifier_responses(sp, name)
        with raises_code("NotAuthorizedException"):
            sp.respond_password_verifier(aws, dict(responses, PASSWORD_CLAIM_SIGNATURE=junk))


def test_srp_tampered_secret_block(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    aws, resp, responses = verifier_responses(sp, name)
    block = bytearray(base64.b64decode(responses["PASSWORD_CLAIM_SECRET_BLOCK"]))
    block[len(block) // 2] ^= 0x01
    forged_block = base64.b64encode(bytes(block)).decode()
    # Re-sign over the forged block with the right key, so only the block's integrity can catch it.
    forged = aws.process_challenge(dict(resp["ChallengeParameters"], SECRET_BLOCK=forged_block), {"USERNAME": name})
    assert forged["PASSWORD_CLAIM_SECRET_BLOCK"] == forged_block
    with raises_code("NotAuthorizedException"):
        sp.respond_password_verifier(aws, forged)
    # A truncated block, signed correctly over what is sent.
    aws, resp, _ = verifier_responses(sp, name)
    short = base64.b64encode(base64.b64decode(resp["ChallengeParameters"]["SECRET_BLOCK"])[:16]).decode()
    forged = aws.process_challenge(dict(resp["ChallengeParameters"], SECRET_BLOCK=short), {"USERNAME": name})
    with raises_code("NotAuthorizedException"):
        sp.respond_password_verifier(aws, forged)


def test_srp_timestamp_is_covered_by_signature(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    aws, _, responses = verifier_responses(sp, name)
    ts = responses["TIMESTAMP"]
    second = int(ts.split(":")[2][:2])
    other = ts.replace(f":{second:02d} ", f":{(second + 1) % 60:02d} ", 1)
    assert other != ts
    with raises_code("NotAuthorizedException"):
        sp.respond_password_verifier(aws, dict(responses, TIMESTAMP=other))


def test_srp_secret_block_is_single_use(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    aws, _, responses = verifier_responses(sp, name)
    assert "AuthenticationResult" in sp.respond_password_verifier(aws, responses)
    with raises_code("NotAuthorizedException"):
        sp.respond_password_verifier(aws, responses)


def test_srp_secret_block_is_bound_to_the_user(signin_pool):
    sp = signin_pool
    alice = sp.create_user()["Username"]
    bob = sp.create_user()["Username"]
    aws, _, responses = verifier_responses(sp, alice)
    with raises_code("NotAuthorizedException"):
        sp.respond_password_verifier(aws, dict(responses, USERNAME=bob))


def test_srp_secret_block_is_bound_to_the_client(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    other = sp.add_client()
    aws, _, responses = verifier_responses(sp, name)
    with pytest.raises(ClientError) as info:
        sp.cognito.respond_to_auth_challenge(ClientId=other.client_id, ChallengeName="PASSWORD_VERIFIER",
                                             ChallengeResponses=responses)
    assert info.value.response["Error"]["Code"] in ("NotAuthorizedException", "InvalidParameterException")


def test_srp_rejects_degenerate_a(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    n_hex = f"{sp.srp(name).big_n:x}"
    for a in ("0", n_hex, f"{2 * sp.srp(name).big_n:x}"):
        with pytest.raises(ClientError) as info:
            sp.cognito.initiate_auth(ClientId=sp.public.client_id, AuthFlow="USER_SRP_AUTH",
                                     AuthParameters={"USERNAME": name, "SRP_A": a})
        assert info.value.response["Error"]["Code"] in ("NotAuthorizedException", "InvalidParameterException"), a


def test_srp_secret_hash_required_and_checked(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    client = sp.confidential
    base = dict(ClientId=client.client_id, AuthFlow="USER_SRP_AUTH")
    a_hex = f"{sp.srp(name).large_a_value:x}"
    with raises_code("NotAuthorizedException") as info:
        sp.cognito.initiate_auth(AuthParameters={"USERNAME": name, "SRP_A": a_hex}, **base)
    assert client.client_id in info.value.response["Error"]["Message"]
    with raises_code("NotAuthorizedException", f"Unable to verify secret hash for client {client.client_id}"):
        sp.cognito.initiate_auth(AuthParameters={"USERNAME": name, "SRP_A": a_hex,
                                                 "SECRET_HASH": secret_hash(name, client.client_id, "wrong")}, **base)
    # A hash over another username does not fit either.
    with raises_code("NotAuthorizedException", f"Unable to verify secret hash for client {client.client_id}"):
        sp.cognito.initiate_auth(AuthParameters={"USERNAME": name, "SRP_A": a_hex,
                                                 "SECRET_HASH": client.hash_for(name + "x")}, **base)
    # On the PASSWORD_VERIFIER step too.
    aws, _, responses = verifier_responses(sp, name, client=client)
    without = {k: v for k, v in responses.items() if k != "SECRET_HASH"}
    with raises_code("NotAuthorizedException"):
        sp.respond_password_verifier(aws, without)
    aws, _, responses = verifier_responses(sp, name, client=client)
    with raises_code("NotAuthorizedException", f"Unable to verify secret hash for client {client.client_id}"):
        sp.respond_password_verifier(aws, dict(responses, SECRET_HASH=tamper(responses["SECRET_HASH"])))


def test_srp_unknown_user_legacy(signin_pool):
    sp = signin_pool
    with raises_code("UserNotFoundException", "User does not exist."):
        sp.srp_challenge(sp.srp("nobody-" + sp.username()))


def test_srp_unknown_user_with_prevent_user_existence_errors(signin_pool):
    sp = signin_pool
    client = sp.add_client(PreventUserExistenceErrors="ENABLED")
    ghost = "nobody-" + sp.username()
    # The first step looks like any other user's ...
    aws = sp.srp(ghost, client=client)
    auth_params, resp = sp.srp_challenge(aws)
    assert resp["ChallengeName"] == "PASSWORD_VERIFIER"
    assert {"SALT", "SRP_B", "SECRET_BLOCK", "USER_ID_FOR_SRP"} <= set(resp["ChallengeParameters"])
    # ... and the second fails exactly like a wrong password.
    responses = aws.process_challenge(resp["ChallengeParameters"], auth_params)
    with raises_code("NotAuthorizedException", INCORRECT):
        sp.respond_password_verifier(aws, responses)
    # The whole pycognito sign-in, for a real user with a wrong password, fails the same way.
    real = sp.create_user()["Username"]
    with raises_code("NotAuthorizedException", INCORRECT):
        sp.pycognito_user(real, client).authenticate(password=NEW_PASSWORD)


def test_srp_disabled_and_unconfirmed_users(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    sp.cognito.admin_disable_user(UserPoolId=sp.pool_id, Username=name)
    with pytest.raises(ClientError) as info:
        sp.srp(name).authenticate_user()
    assert info.value.response["Error"]["Code"] == "NotAuthorizedException"
    assert info.value.response["Error"]["Message"] == "User is disabled."

    pending = sp.username("pending")
    sp.cognito.sign_up(ClientId=sp.public.client_id, Username=pending, Password=PASSWORD)
    with raises_code("UserNotConfirmedException"):
        sp.srp(pending).authenticate_user()


def test_srp_tokens_identify_the_user(signin_pool):
    sp = signin_pool
    users = [sp.create_user() for _ in range(2)]
    for user in users:
        out = sp.srp(user["Username"]).authenticate_user()["AuthenticationResult"]
        id_claims, access = assert_token_pair(sp, out, sp.public, user["Username"], attrs(user["Attributes"])["sub"])
        assert is_uuid(id_claims["sub"])
