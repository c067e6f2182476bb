"""Auth flows over boto3 (issue 4, part 2): USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH and the
legacy ADMIN_NO_SRP_AUTH, REFRESH_TOKEN_AUTH / REFRESH_TOKEN (public and admin), the
NEW_PASSWORD_REQUIRED challenge for admin-created users (with a required attribute), SECRET_HASH
on confidential clients, ExplicitAuthFlows enforcement, token lifetimes from the client's
validity settings, and GetUser with the access token. SRP is in test_signin_srp.py."""

import json
import time

import pytest

from conftest import raises_code
from signin_helpers import (
    NEW_PASSWORD,
    PASSWORD,
    AppClient,
    assert_token_pair,
    attrs,
    flip_signature,
)


def test_user_password_auth(signin_pool):
    sp = signin_pool
    user = sp.create_user(attributes={"email": "upa@example.com", "email_verified": "true"})
    name, sub = user["Username"], attrs(user["Attributes"])["sub"]
    out = sp.password_auth(name)
    assert "ChallengeName" not in out, out
    id_claims, _ = assert_token_pair(sp, out["AuthenticationResult"], sp.public, name, sub)
    assert id_claims["email"] == "upa@example.com"
    assert id_claims["email_verified"] is True


@pytest.mark.parametrize("flow", ["ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"])
def test_admin_password_flows(signin_pool, flow):
    sp = signin_pool
    user = sp.create_user()
    name, sub = user["Username"], attrs(user["Attributes"])["sub"]
    out = sp.admin_auth(name, flow=flow)
    assert "ChallengeName" not in out, out
    assert_token_pair(sp, out["AuthenticationResult"], sp.public, name, sub)


def test_confidential_client_flows_with_secret_hash(signin_pool):
    sp = signin_pool
    user = sp.create_user()
    name, sub = user["Username"], attrs(user["Attributes"])["sub"]
    for out in (sp.password_auth(name, client=sp.confidential), sp.admin_auth(name, client=sp.confidential)):
        _, access = assert_token_pair(sp, out["AuthenticationResult"], sp.confidential, name, sub)
        assert access["client_id"] == sp.confidential.client_id
    refresh = out["AuthenticationResult"]["RefreshToken"]
    again = sp.refresh(refresh, client=sp.confidential, username=name)["AuthenticationResult"]
    assert_token_pair(sp, again, sp.confidential, name, sub, expect_refresh=False)


@pytest.mark.parametrize("flow,admin", [("REFRESH_TOKEN_AUTH", False), ("REFRESH_TOKEN", False),
                                        ("REFRESH_TOKEN_AUTH", True)])
def test_refresh_token_auth(signin_pool, flow, admin):
    sp = signin_pool
    user = sp.create_user(attributes={"email": "refresh@example.com"})
    name, sub = user["Username"], attrs(user["Attributes"])["sub"]
    first = sp.tokens(name)
    first_id, first_access = assert_token_pair(sp, first, sp.public, name, sub)
    time.sleep(1.1)  # so that a re-issued iat is observably later

    out = sp.refresh(first["RefreshToken"], flow=flow, admin=admin)
    assert "ChallengeName" not in out, out
    result = out["AuthenticationResult"]
    # Cognito returns no new refresh token (rotation is off); the old one keeps working.
    assert "RefreshToken" not in result, result
    id_claims, access = assert_token_pair(sp, result, sp.public, name, sub, expect_refresh=False)
    assert id_claims["auth_time"] == first_id["auth_time"]
    assert access["auth_time"] == first_access["auth_time"]
    assert id_claims["origin_jti"] == first_id["origin_jti"]
    assert access["origin_jti"] == first_access["origin_jti"]
    assert id_claims["jti"] != first_id["jti"] and access["jti"] != first_access["jti"]
    assert access["iat"] > first_access["iat"]
    assert id_claims["email"] == "refresh@example.com"
    # The new access token works, and the refresh token can be used again.
    assert sp.cognito.get_user(AccessToken=result["AccessToken"])["Username"] == name
    assert "AuthenticationResult" in sp.refresh(first["RefreshToken"])


def test_invalid_refresh_token(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    refresh = sp.tokens(name)["RefreshToken"]
    with raises_code("NotAuthorizedException"):
        sp.refresh("not-a-refresh-token-" + "x" * 40)
    with raises_code("NotAuthorizedException"):
        sp.refresh(refresh[:-8] + ("A" * 8 if not refresh.endswith("A" * 8) else "B" * 8))


def test_new_password_required_via_admin_challenge(signin_pool):
    sp = signin_pool
    user = sp.create_user(attributes={"email": "npr@example.com"}, permanent=False)
    name, sub = user["Username"], attrs(user["Attributes"])["sub"]
    assert sp.get_user(name)["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    challenge = sp.admin_auth(name)
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert "AuthenticationResult" not in challenge
    session = challenge["Session"]
    assert isinstance(session, str) and 20 <= len(session) <= 4096
    params = challenge["ChallengeParameters"]
    assert params["USER_ID_FOR_SRP"] == name
    assert json.loads(params["userAttributes"])["email"] == "npr@example.com"
    assert json.loads(params["requiredAttributes"]) == []

    out = sp.cognito.admin_respond_to_auth_challenge(
        UserPoolId=sp.pool_id, ClientId=sp.public.client_id, ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=session, ChallengeResponses={"USERNAME": name, "NEW_PASSWORD": NEW_PASSWORD},
    )
    assert "ChallengeName" not in out, out
    assert_token_pair(sp, out["AuthenticationResult"], sp.public, name, sub)
    assert sp.get_user(name)["UserStatus"] == "CONFIRMED"
    with raises_code("NotAuthorizedException", "Incorrect username or password."):
        sp.admin_auth(name, PASSWORD)
    assert "AuthenticationResult" in sp.admin_auth(name, NEW_PASSWORD)


def required_name_pool(factory):
    return factory({"Schema": [{"Name": "name", "AttributeDataType": "String", "Required": True, "Mutable": True}]})


def test_new_password_required_with_required_attribute(signin_pool_factory):
    sp = required_name_pool(signin_pool_factory)
    # AdminCreateUser does not insist on required attributes; the challenge asks for them.
    user = sp.create_user(attributes={"email": "named@example.com"}, permanent=False)
    name = user["Username"]
    challenge = sp.password_auth(name)
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    params = challenge["ChallengeParameters"]
    assert "userAttributes.name" in json.loads(params["requiredAttributes"])
    assert json.loads(params["userAttributes"])["email"] == "named@example.com"

    base = dict(ClientId=sp.public.client_id, ChallengeName="NEW_PASSWORD_REQUIRED")
    with raises_code("InvalidParameterException") as info:
        sp.cognito.respond_to_auth_challenge(
            Session=challenge["Session"], ChallengeResponses={"USERNAME": name, "NEW_PASSWORD": NEW_PASSWORD}, **base
        )
    assert "name" in info.value.response["Error"]["Message"]
    assert sp.get_user(name)["UserStatus"] == "FORCE_CHANGE_PASSWORD"

    challenge = sp.password_auth(name)  # a fresh session
    out = sp.cognito.respond_to_auth_challenge(
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": name, "NEW_PASSWORD": NEW_PASSWORD, "userAttributes.name": "Ada Lovelace"},
        **base,
    )
    id_claims, _ = assert_token_pair(sp, out["AuthenticationResult"], sp.public, name)
    assert id_claims["name"] == "Ada Lovelace"
    got = sp.get_user(name)
    assert got["UserStatus"] == "CONFIRMED"
    assert attrs(got["UserAttributes"])["name"] == "Ada Lovelace"


def test_sign_up_enforces_required_attributes(signin_pool_factory):
    sp = required_name_pool(signin_pool_factory)
    name = sp.username("signup-required")
    with raises_code("InvalidParameterException"):
        sp.cognito.sign_up(ClientId=sp.public.client_id, Username=name, Password=PASSWORD)
    out = sp.cognito.sign_up(ClientId=sp.public.client_id, Username=name, Password=PASSWORD,
                             UserAttributes=[{"Name": "name", "Value": "Grace Hopper"}])
    assert out["UserConfirmed"] is False


def test_new_password_required_on_confidential_client(signin_pool):
    sp = signin_pool
    name = sp.create_user(permanent=False)["Username"]
    challenge = sp.password_auth(name, client=sp.confidential)
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    base = dict(ClientId=sp.confidential.client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=challenge["Session"])
    with raises_code("NotAuthorizedException"):
        sp.cognito.respond_to_auth_challenge(ChallengeResponses={"USERNAME": name, "NEW_PASSWORD": NEW_PASSWORD}, **base)
    out = sp.cognito.respond_to_auth_challenge(
        ChallengeResponses={"USERNAME": name, "NEW_PASSWORD": NEW_PASSWORD,
                            "SECRET_HASH": sp.confidential.hash_for(name)}, **base)
    assert_token_pair(sp, out["AuthenticationResult"], sp.confidential, name)


# ----- ExplicitAuthFlows -----


def test_explicit_auth_flows_are_enforced(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    srp_only = sp.add_client(ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    with raises_code("InvalidParameterException", "USER_PASSWORD_AUTH flow not enabled for this client"):
        sp.password_auth(name, client=srp_only)
    for flow in ("ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"):
        with raises_code("InvalidParameterException") as info:
            sp.admin_auth(name, client=srp_only, flow=flow)
        assert "not enabled" in info.value.response["Error"]["Message"], info.value.response["Error"]
    # SRP is allowed on it.
    tokens = sp.srp(name, client=srp_only).authenticate_user()
    assert "AuthenticationResult" in tokens

    password_only = sp.add_client(ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    with raises_code("InvalidParameterException") as info:
        sp.srp_challenge(sp.srp(name, client=password_only))
    assert "not enabled" in info.value.response["Error"]["Message"], info.value.response["Error"]
    with raises_code("InvalidParameterException"):
        sp.admin_auth(name, client=password_only)
    assert "AuthenticationResult" in sp.password_auth(name, client=password_only)

    admin_only = sp.add_client(ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    with raises_code("InvalidParameterException", "USER_PASSWORD_AUTH flow not enabled for this client"):
        sp.password_auth(name, client=admin_only)
    # ALLOW_ADMIN_USER_PASSWORD_AUTH also admits the legacy ADMIN_NO_SRP_AUTH.
    assert "AuthenticationResult" in sp.admin_auth(name, client=admin_only, flow="ADMIN_NO_SRP_AUTH")
    assert "AuthenticationResult" in sp.admin_auth(name, client=admin_only)


def test_client_without_explicit_flows_allows_srp_and_refresh_only(signin_pool):
    # Cognito's default for a client created without ExplicitAuthFlows: SRP, refresh, custom.
    sp = signin_pool
    name = sp.create_user()["Username"]
    made = sp.cognito.create_user_pool_client(UserPoolId=sp.pool_id, ClientName="defaults")["UserPoolClient"]
    default = AppClient(made["ClientId"])
    with raises_code("InvalidParameterException"):
        sp.password_auth(name, client=default)
    with raises_code("InvalidParameterException"):
        sp.admin_auth(name, client=default)
    tokens = sp.srp(name, client=default).authenticate_user()["AuthenticationResult"]
    assert "AuthenticationResult" in sp.refresh(tokens["RefreshToken"], client=default)


def test_unknown_client_id(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    with raises_code("ResourceNotFoundException"):
        sp.cognito.initiate_auth(ClientId="1234567890abcdefghijklmnop", AuthFlow="USER_PASSWORD_AUTH",
                                 AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD})
    with raises_code("ResourceNotFoundException"):
        sp.cognito.admin_initiate_auth(UserPoolId=sp.pool_id, ClientId="1234567890abcdefghijklmnop",
                                       AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                       AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD})


def test_client_of_another_pool_is_refused_by_admin_initiate_auth(signin_pool_factory):
    a, b = signin_pool_factory(), signin_pool_factory()
    name = a.create_user()["Username"]
    with raises_code("ResourceNotFoundException"):
        a.cognito.admin_initiate_auth(UserPoolId=a.pool_id, ClientId=b.public.client_id,
                                      AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                      AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD})


# ----- token lifetimes -----


def test_token_lifetimes_follow_client_validity(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    short = sp.add_client(AccessTokenValidity=5, IdTokenValidity=2,
                          TokenValidityUnits={"AccessToken": "minutes", "IdToken": "hours", "RefreshToken": "days"})
    result = sp.password_auth(name, client=short)["AuthenticationResult"]
    assert result["ExpiresIn"] == 300
    id_claims, access = assert_token_pair(sp, result, short, name)
    assert access["exp"] - access["iat"] == 300
    assert id_claims["exp"] - id_claims["iat"] == 7200
    refreshed = sp.refresh(result["RefreshToken"], client=short)["AuthenticationResult"]
    assert refreshed["ExpiresIn"] == 300

    default = sp.password_auth(name)["AuthenticationResult"]
    assert default["ExpiresIn"] == 3600
    id_claims, access = assert_token_pair(sp, default, sp.public, name)
    assert id_claims["exp"] - id_claims["iat"] == 3600

    hours = sp.add_client(AccessTokenValidity=1, IdTokenValidity=1)  # no units: hours
    assert sp.password_auth(name, client=hours)["AuthenticationResult"]["ExpiresIn"] == 3600


def test_updated_validity_applies_to_new_tokens(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    client = sp.add_client()
    sp.cognito.update_user_pool_client(
        UserPoolId=sp.pool_id, ClientId=client.client_id, ExplicitAuthFlows=client.settings["ExplicitAuthFlows"],
        AccessTokenValidity=10, TokenValidityUnits={"AccessToken": "minutes"},
    )
    assert sp.password_auth(name, client=client)["AuthenticationResult"]["ExpiresIn"] == 600


# ----- GetUser -----


def test_get_user_with_access_token(signin_pool):
    sp = signin_pool
    user = sp.create_user(attributes={"email": "me@example.com", "name": "Me Myself"})
    name, sub = user["Username"], attrs(user["Attributes"])["sub"]
    result = sp.password_auth(name)["AuthenticationResult"]
    me = sp.cognito.get_user(AccessToken=result["AccessToken"])
    assert me["Username"] == name
    a = attrs(me["UserAttributes"])
    assert a["sub"] == sub and a["email"] == "me@example.com" and a["name"] == "Me Myself"


def test_get_user_refuses_bad_tokens(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    result = sp.password_auth(name)["AuthenticationResult"]
    for bad in ("garbage", result["IdToken"], flip_signature(result["AccessToken"])):
        with raises_code("NotAuthorizedException"):
            sp.cognito.get_user(AccessToken=bad)
    # The genuine token still works.
    assert sp.cognito.get_user(AccessToken=result["AccessToken"])["Username"] == name
