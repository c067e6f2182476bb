"""The JavaScript clients (issue 4, "how it must be shown"): amazon-cognito-identity-js signing in
with SRP from Node (CognitoUserPool({endpoint}) + authenticateUser, TLS trusted through
NODE_EXTRA_CA_CERTS = the daemon's CA), its newPasswordRequired path and refreshSession, and
aws-jwt-verify's JwtRsaVerifier checking ID tokens (audience = client id) and access tokens
(token_use, client_id) against the daemon's issuer and JWKS. The Node scripts live in
tests/e2e/js and print one JSON object that these tests assert on."""

import time
import uuid

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import raises_code
from signin_helpers import (
    NEW_PASSWORD,
    PASSWORD,
    SIGNIN_SCOPE,
    TokenVerifier,
    assert_token_pair,
    attrs,
    run_node,
    unverified,
)


def js_signin(sp, username, password=PASSWORD, client=None, **extra):
    client = client or sp.public
    payload = dict(endpoint=sp.daemon.endpoint, userPoolId=sp.pool_id, clientId=client.client_id,
                   username=username, password=password, **extra)
    return run_node(sp.daemon, "cognito_signin.mjs", payload)


def js_verify(sp, client_id, id_token=None, access_token=None, issuer=None, jwks_uri=None):
    payload = dict(issuer=issuer or sp.issuer, jwksUri=jwks_uri or sp.jwks_uri, clientId=client_id)
    if id_token:
        payload["idToken"] = id_token
    if access_token:
        payload["accessToken"] = access_token
    return run_node(sp.daemon, "verify_tokens.mjs", payload)


def check_js_tokens(sp, tokens, username, sub):
    """The JS library's tokens are genuine Cognito tokens (PyJWT + the claims check)."""
    verifier = TokenVerifier(sp.daemon, sp.issuer)
    idc = verifier.verify_id(tokens["idToken"], sp.public.client_id)
    acc = verifier.verify_access(tokens["accessToken"], sp.public.client_id)
    assert idc["sub"] == acc["sub"] == sub
    assert idc["cognito:username"] == username
    assert acc["scope"] == SIGNIN_SCOPE
    assert isinstance(tokens["refreshToken"], str) and len(tokens["refreshToken"]) >= 32
    return idc, acc


def test_js_srp_sign_in(signin_pool):
    sp = signin_pool
    user = sp.create_user(attributes={"email": "js@example.com"})
    name, sub = user["Username"], attrs(user["Attributes"])["sub"]
    out = js_signin(sp, name)
    assert out["outcome"] == "success", out
    assert out["sessionValid"] is True
    assert out["idPayload"]["sub"] == sub
    assert out["idPayload"]["email"] == "js@example.com"
    assert out["accessPayload"]["client_id"] == sp.public.client_id
    idc, _ = check_js_tokens(sp, out["tokens"], name, sub)
    # The library's session works against the server's own API.
    assert sp.cognito.get_user(AccessToken=out["tokens"]["accessToken"])["Username"] == name
    assert idc["email"] == "js@example.com"


def test_js_srp_sign_in_with_other_capitalisation(signin_pool):
    # JS answers the challenge with USER_ID_FOR_SRP, not what the user typed.
    sp = signin_pool
    user = sp.create_user()
    name, sub = user["Username"], attrs(user["Attributes"])["sub"]
    out = js_signin(sp, name.upper())
    assert out["outcome"] == "success", out
    assert out["idPayload"]["sub"] == sub


def test_js_user_password_auth(signin_pool):
    sp = signin_pool
    user = sp.create_user()
    out = js_signin(sp, user["Username"], authFlow="USER_PASSWORD_AUTH")
    assert out["outcome"] == "success", out
    check_js_tokens(sp, out["tokens"], user["Username"], attrs(user["Attributes"])["sub"])


def test_js_wrong_password(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    out = js_signin(sp, name, password=NEW_PASSWORD)
    assert out["outcome"] == "failure", out
    assert out["error"]["code"] == "NotAuthorizedException", out
    assert out["error"]["message"] == "Incorrect username or password.", out


def test_js_unknown_user_and_disabled_user(signin_pool):
    sp = signin_pool
    out = js_signin(sp, "nobody-" + sp.username())
    assert out["outcome"] == "failure" and out["error"]["code"] == "UserNotFoundException", out
    name = sp.create_user()["Username"]
    sp.cognito.admin_disable_user(UserPoolId=sp.pool_id, Username=name)
    out = js_signin(sp, name)
    assert out["outcome"] == "failure", out
    assert out["error"]["code"] == "NotAuthorizedException" and out["error"]["message"] == "User is disabled.", out


def test_js_unknown_client(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    out = run_node(sp.daemon, "cognito_signin.mjs", dict(
        endpoint=sp.daemon.endpoint, userPoolId=sp.pool_id, clientId="1234567890abcdefghijklmnop",
        username=name, password=PASSWORD))
    assert out["outcome"] == "failure", out
    assert out["error"]["code"] == "ResourceNotFoundException", out


def test_js_new_password_required_then_complete(signin_pool_factory):
    sp = signin_pool_factory({"Schema": [{"Name": "name", "AttributeDataType": "String", "Required": True,
                                          "Mutable": True}]})
    user = sp.create_user(attributes={"email": "jsnew@example.com", "email_verified": "true"}, permanent=False)
    name, sub = user["Username"], attrs(user["Attributes"])["sub"]

    # Without an answer the script stops at the callback: it reports what the library parsed.
    out = js_signin(sp, name)
    assert out["outcome"] == "newPasswordRequired", out
    assert out["challenge"]["requiredAttributes"] == ["name"], out
    assert out["challenge"]["userAttributes"]["email"] == "jsnew@example.com", out

    # Missing the required attribute: the server refuses.
    out = js_signin(sp, name, newPassword=NEW_PASSWORD)
    assert out["outcome"] == "failure" and out["step"] == "newPassword", out
    assert out["error"]["code"] == "InvalidParameterException", out
    assert sp.get_user(name)["UserStatus"] == "FORCE_CHANGE_PASSWORD"

    out = js_signin(sp, name, newPassword=NEW_PASSWORD, newAttributes={"name": "Js Person"})
    assert out["outcome"] == "success", out
    idc, _ = check_js_tokens(sp, out["tokens"], name, sub)
    assert idc["name"] == "Js Person"
    got = sp.get_user(name)
    assert got["UserStatus"] == "CONFIRMED" and attrs(got["UserAttributes"])["name"] == "Js Person"
    # The new password is now the password.
    assert js_signin(sp, name, password=NEW_PASSWORD)["outcome"] == "success"
    assert js_signin(sp, name, password=PASSWORD)["error"]["code"] == "NotAuthorizedException"


def test_js_refresh_session(signin_pool):
    sp = signin_pool
    user = sp.create_user()
    name, sub = user["Username"], attrs(user["Attributes"])["sub"]
    out = js_signin(sp, name, refresh=True)
    assert out["outcome"] == "success", out
    first, refreshed = out["tokens"], out["refreshed"]
    assert refreshed["sessionValid"] is True
    # No new refresh token from Cognito: the library keeps the one it had.
    assert refreshed["refreshToken"] == first["refreshToken"]
    assert refreshed["accessToken"] != first["accessToken"]
    idc, acc = check_js_tokens(sp, refreshed, name, sub)
    old_id, old_acc = unverified(first["idToken"])[1], unverified(first["accessToken"])[1]
    assert idc["auth_time"] == old_id["auth_time"] and acc["origin_jti"] == old_acc["origin_jti"]
    assert sp.cognito.get_user(AccessToken=refreshed["accessToken"])["Username"] == name


def test_js_refresh_after_global_sign_out_fails(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    out = js_signin(sp, name)
    assert out["outcome"] == "success", out
    sp.cognito.admin_user_global_sign_out(UserPoolId=sp.pool_id, Username=name)
    with raises_code("NotAuthorizedException", "Refresh Token has been revoked"):
        sp.refresh(out["tokens"]["refreshToken"])


# ----- aws-jwt-verify -----


def test_aws_jwt_verify_accepts_both_tokens(signin_pool):
    sp = signin_pool
    user = sp.create_user(attributes={"email": "verify@example.com"})
    name, sub = user["Username"], attrs(user["Attributes"])["sub"]
    for client, result in ((sp.public, sp.password_auth(name)["AuthenticationResult"]),
                           (sp.confidential, sp.admin_auth(name, client=sp.confidential)["AuthenticationResult"])):
        assert_token_pair(sp, result, client, name, sub)
        out = js_verify(sp, client.client_id, result["IdToken"], result["AccessToken"])
        assert out["id"]["ok"] is True, out
        assert out["access"]["ok"] is True, out
        assert out["id"]["payload"]["aud"] == client.client_id
        assert out["id"]["payload"]["token_use"] == "id"
        assert out["id"]["payload"]["email"] == "verify@example.com"
        assert out["access"]["payload"]["client_id"] == client.client_id
        assert out["access"]["payload"]["token_use"] == "access"
        assert out["access"]["payload"]["sub"] == sub
        # Both kids are in the JWKS aws-jwt-verify fetched.
        for token in (result["IdToken"], result["AccessToken"]):
            assert unverified(token)[0]["kid"] in out["jwksKids"]


def test_aws_jwt_verify_accepts_js_srp_tokens(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    out = js_signin(sp, name)
    assert out["outcome"] == "success", out
    verified = js_verify(sp, sp.public.client_id, out["tokens"]["idToken"], out["tokens"]["accessToken"])
    assert verified["id"]["ok"] and verified["access"]["ok"], verified


def test_aws_jwt_verify_refuses_wrong_audience_and_swapped_tokens(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    result = sp.password_auth(name)["AuthenticationResult"]
    # The right tokens for another client id.
    out = js_verify(sp, sp.confidential.client_id, result["IdToken"], result["AccessToken"])
    assert out["id"]["ok"] is False and out["access"]["ok"] is False, out
    # The ID token offered as an access token and vice versa.
    out = js_verify(sp, sp.public.client_id, id_token=result["AccessToken"], access_token=result["IdToken"])
    assert out["id"]["ok"] is False and out["access"]["ok"] is False, out
    # A wrong issuer.
    out = js_verify(sp, sp.public.client_id, result["IdToken"], result["AccessToken"],
                    issuer=f"https://cognito-idp.us-east-1.amazonaws.com/{sp.pool_id}")
    assert out["id"]["ok"] is False and out["access"]["ok"] is False, out


def test_aws_jwt_verify_fetches_the_daemon_jwks_and_refuses_forgeries(signin_pool):
    """Needs no sign-in: aws-jwt-verify reaches the daemon's JWKS over verified TLS, accepts its
    shape, and refuses a token signed by another key under a genuine kid."""
    sp = signin_pool
    keys = sp.daemon.jwks(sp.pool_id)["keys"]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {"sub": str(uuid.uuid4()), "iss": sp.issuer, "aud": sp.public.client_id, "token_use": "id",
              "iat": now, "exp": now + 600, "auth_time": now, "jti": str(uuid.uuid4())}
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": keys[0]["kid"]})
    out = js_verify(sp, sp.public.client_id, id_token=token)
    assert out["jwksKids"] == [k["kid"] for k in keys], out
    assert out["id"]["ok"] is False, out
    assert "signature" in out["id"]["error"]["message"].lower(), out
