"""Tokens and discovery (issue 4, parts 3 and 6), checked with PyJWT the way a resource server
does: issuer and jwks_uri from GET /{poolId}/.well-known/openid-configuration, keys through
PyJWKClient over TLS verified against the daemon's CA, RS256 signatures, iss, aud (ID token),
exp, and every Cognito claim: sub, cognito:username / username, token_use, auth_time, event_id,
origin_jti, jti, client_id and scope (access; no aud), attributes (ID)."""

import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import raises_code
from signin_helpers import (
    SIGNIN_SCOPE,
    TokenVerifier,
    assert_token_pair,
    attrs,
    flip_signature,
    is_uuid,
    unverified,
)


def discovery(daemon, pool_id):
    r = daemon.get(f"/{pool_id}/.well-known/openid-configuration")
    assert r.status_code == 200, f"{r.status_code} {r.text}"
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    return r.json()


def test_openid_configuration_matches_issuer_and_jwks(signin_pool):
    sp = signin_pool
    doc = discovery(sp.daemon, sp.pool_id)
    assert doc["issuer"] == f"{sp.daemon.endpoint}/{sp.pool_id}"
    assert doc["jwks_uri"] == f"{doc['issuer']}/.well-known/jwks.json"
    assert "RS256" in doc["id_token_signing_alg_values_supported"]
    assert "public" in doc["subject_types_supported"]
    # The jwks_uri it names serves the pool's keys, every one complete enough for aws-jwt-verify.
    r = sp.daemon.http().get(doc["jwks_uri"], timeout=30)
    assert r.status_code == 200
    keys = r.json()["keys"]
    assert keys and keys == sp.daemon.jwks(sp.pool_id)["keys"]
    for k in keys:
        assert {"alg", "e", "kid", "kty", "n", "use"} <= set(k), k
        assert k["kty"] == "RSA" and k["use"] == "sig" and k["alg"] == "RS256", k


def test_openid_configuration_of_missing_pool_is_404(daemon):
    r = daemon.get(f"/us-east-1_{uuid.uuid4().hex[:9]}/.well-known/openid-configuration")
    assert r.status_code == 404, r.text


def test_openid_configuration_differs_per_pool(signin_pool_factory):
    a, b = signin_pool_factory(), signin_pool_factory()
    da, db = discovery(a.daemon, a.pool_id), discovery(b.daemon, b.pool_id)
    assert da["issuer"] != db["issuer"] and da["jwks_uri"] != db["jwks_uri"]
    assert da["issuer"].endswith(a.pool_id) and db["issuer"].endswith(b.pool_id)


def test_pyjwt_verifies_tokens_with_keys_from_discovery(signin_pool):
    sp = signin_pool
    user = sp.create_user(attributes={"email": "jwt@example.com", "email_verified": "true",
                                      "name": "Jay Double-U", "given_name": "Jay"})
    name, sub = user["Username"], attrs(user["Attributes"])["sub"]
    before = int(time.time())
    result = sp.password_auth(name)["AuthenticationResult"]
    after = int(time.time())

    doc = discovery(sp.daemon, sp.pool_id)
    verifier = TokenVerifier(sp.daemon, doc["issuer"], doc["jwks_uri"])
    idc = verifier.verify_id(result["IdToken"], sp.public.client_id)
    acc = verifier.verify_access(result["AccessToken"], sp.public.client_id)

    # Headers: RS256 with a kid the JWKS has (the kid PyJWKClient just resolved).
    jwks_kids = {k["kid"] for k in sp.daemon.jwks(sp.pool_id)["keys"]}
    for token in (result["IdToken"], result["AccessToken"]):
        header, _ = unverified(token)
        assert header["alg"] == "RS256"
        assert header["kid"] in jwks_kids

    # ID token.
    assert idc["iss"] == doc["issuer"]
    assert idc["aud"] == sp.public.client_id
    assert idc["token_use"] == "id"
    assert idc["sub"] == sub and is_uuid(sub)
    assert idc["cognito:username"] == name
    assert idc["email"] == "jwt@example.com"
    assert idc["email_verified"] is True
    assert idc["name"] == "Jay Double-U" and idc["given_name"] == "Jay"
    assert "client_id" not in idc and "scope" not in idc

    # Access token: client_id and scope, no aud.
    assert acc["iss"] == doc["issuer"]
    assert acc["token_use"] == "access"
    assert acc["client_id"] == sp.public.client_id
    assert "aud" not in acc
    assert acc["scope"] == SIGNIN_SCOPE
    assert acc["username"] == name
    assert acc["sub"] == sub
    assert "email" not in acc

    # Shared between the two: one sign-in event, one origin, one auth_time; distinct jti.
    assert is_uuid(idc["event_id"]) and idc["event_id"] == acc["event_id"]
    assert is_uuid(idc["origin_jti"]) and idc["origin_jti"] == acc["origin_jti"]
    assert is_uuid(idc["jti"]) and is_uuid(acc["jti"]) and idc["jti"] != acc["jti"]
    for c in (idc, acc):
        assert before - 2 <= c["auth_time"] <= after + 2
        assert before - 2 <= c["iat"] <= after + 2
        assert c["exp"] == c["iat"] + 3600

    # A second sign-in is a new event with new ids.
    again = sp.password_auth(name)["AuthenticationResult"]
    idc2 = verifier.verify_id(again["IdToken"], sp.public.client_id)
    assert idc2["event_id"] != idc["event_id"]
    assert idc2["origin_jti"] != idc["origin_jti"]
    assert idc2["jti"] != idc["jti"]


def test_pyjwt_checks_audience_issuer_and_token_use(signin_pool_factory):
    sp = signin_pool_factory()
    name = sp.create_user()["Username"]
    result = sp.password_auth(name)["AuthenticationResult"]
    verifier = TokenVerifier(sp.daemon, sp.issuer)
    key = verifier.jwks.get_signing_key_from_jwt(result["IdToken"]).key
    # The ID token's audience is the client: another client id is refused.
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(result["IdToken"], key, algorithms=["RS256"], audience=sp.confidential.client_id, issuer=sp.issuer)
    # The issuer is this daemon's URL plus the pool id, nothing else.
    with pytest.raises(jwt.InvalidIssuerError):
        jwt.decode(result["IdToken"], key, algorithms=["RS256"], audience=sp.public.client_id,
                   issuer=f"https://cognito-idp.us-east-1.amazonaws.com/{sp.pool_id}")
    # An access token is not an ID token, and vice versa.
    with pytest.raises((AssertionError, jwt.PyJWTError)):
        verifier.verify_id(result["AccessToken"], sp.public.client_id)
    with pytest.raises((AssertionError, jwt.PyJWTError)):
        verifier.verify_access(result["IdToken"], sp.public.client_id)
    # Tokens of one pool do not verify with another pool's keys.
    other = signin_pool_factory()
    other_verifier = TokenVerifier(other.daemon, other.issuer)
    with pytest.raises(jwt.PyJWKClientError):
        other_verifier.verify_id(result["IdToken"], sp.public.client_id)


def test_assert_token_pair_on_every_sign_in_path(signin_pool):
    sp = signin_pool
    user = sp.create_user()
    name, sub = user["Username"], attrs(user["Attributes"])["sub"]
    results = [
        sp.password_auth(name)["AuthenticationResult"],
        sp.admin_auth(name)["AuthenticationResult"],
        sp.srp(name).authenticate_user()["AuthenticationResult"],
    ]
    ids = [assert_token_pair(sp, r, sp.public, name, sub)[0] for r in results]
    assert len({c["event_id"] for c in ids}) == 3


def test_refresh_token_is_opaque(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    result = sp.password_auth(name)["AuthenticationResult"]
    refresh = result["RefreshToken"]
    assert refresh not in (result["AccessToken"], result["IdToken"])
    parts = refresh.split(".")
    if len(parts) == 3:  # if it looks like a JWS it must not carry readable claims
        with pytest.raises(Exception):
            unverified(refresh)
    # Each sign-in gets its own.
    assert sp.password_auth(name)["AuthenticationResult"]["RefreshToken"] != refresh


# ----- the verifier itself refuses what is not the daemon's (no server sign-in needed) -----


def forged(kid: str, issuer: str, client_id: str) -> str:
    """A token with the right shape, signed by a key that is not the pool's."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {"sub": str(uuid.uuid4()), "iss": issuer, "aud": client_id, "token_use": "id", "iat": now,
              "exp": now + 3600, "auth_time": now, "jti": str(uuid.uuid4()), "cognito:username": "mallory"}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def test_forged_tokens_do_not_verify(signin_pool):
    sp = signin_pool
    kid = sp.daemon.jwks(sp.pool_id)["keys"][0]["kid"]
    verifier = TokenVerifier(sp.daemon, sp.issuer)
    with pytest.raises(jwt.InvalidSignatureError):
        verifier.verify_id(forged(kid, sp.issuer, sp.public.client_id), sp.public.client_id)
    with pytest.raises(jwt.PyJWKClientError):
        verifier.verify_id(forged("no-such-kid", sp.issuer, sp.public.client_id), sp.public.client_id)


def test_server_refuses_forged_and_altered_access_tokens(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    result = sp.password_auth(name)["AuthenticationResult"]
    kid = unverified(result["AccessToken"])[0]["kid"]
    header, payload = unverified(result["AccessToken"])
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    resigned = jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})
    for bad in (resigned, flip_signature(result["AccessToken"])):
        with raises_code("NotAuthorizedException"):
            sp.cognito.get_user(AccessToken=bad)
    # alg=none with the genuine claims.
    unsigned = jwt.encode(payload, None, algorithm="none", headers={"kid": kid})
    with raises_code("NotAuthorizedException"):
        sp.cognito.get_user(AccessToken=unsigned)
