"""Sign-out and revocation (issue 4, part 4): GlobalSignOut, AdminUserGlobalSignOut and RevokeToken
invalidate refresh tokens, and access tokens issued before them stop working on the server's own
API (GetUser -> NotAuthorizedException "Access Token has been revoked"); refresh tokens are bound to
their client; disabled users can neither sign in nor refresh."""

import pytest
from botocore.exceptions import ClientError

from conftest import raises_code
from signin_helpers import error_of

ACCESS_REVOKED = "Access Token has been revoked"
REFRESH_REVOKED = "Refresh Token has been revoked"


def assert_access_revoked(sp, access_token):
    with raises_code("NotAuthorizedException", ACCESS_REVOKED):
        sp.cognito.get_user(AccessToken=access_token)


def assert_refresh_revoked(sp, refresh_token, client=None, username=None):
    with raises_code("NotAuthorizedException", REFRESH_REVOKED):
        sp.refresh(refresh_token, client=client, username=username)


def assert_works(sp, tokens, name, client=None):
    assert sp.cognito.get_user(AccessToken=tokens["AccessToken"])["Username"] == name
    assert "AuthenticationResult" in sp.refresh(tokens["RefreshToken"], client=client, username=name)


def test_global_sign_out(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    bystander = sp.create_user()["Username"]
    first, second = sp.tokens(name), sp.tokens(name)
    refreshed = sp.refresh(first["RefreshToken"])["AuthenticationResult"]
    other = sp.tokens(bystander)

    out = sp.cognito.global_sign_out(AccessToken=first["AccessToken"])
    assert set(out) == {"ResponseMetadata"}

    # Every session of the user ends: access tokens from sign-in and from refresh, all refresh tokens.
    for access in (first["AccessToken"], second["AccessToken"], refreshed["AccessToken"]):
        assert_access_revoked(sp, access)
    for refresh in (first["RefreshToken"], second["RefreshToken"]):
        assert_refresh_revoked(sp, refresh)
    # Signing out again with a revoked token is refused.
    with raises_code("NotAuthorizedException"):
        sp.cognito.global_sign_out(AccessToken=first["AccessToken"])
    # Other users are untouched; the user can sign in again and the new session works.
    assert_works(sp, other, bystander)
    assert_works(sp, sp.tokens(name), name)


def test_admin_user_global_sign_out(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    public = sp.tokens(name)
    confidential = sp.tokens(name, client=sp.confidential)
    out = sp.cognito.admin_user_global_sign_out(UserPoolId=sp.pool_id, Username=name)
    assert set(out) == {"ResponseMetadata"}
    assert_access_revoked(sp, public["AccessToken"])
    assert_access_revoked(sp, confidential["AccessToken"])
    assert_refresh_revoked(sp, public["RefreshToken"])
    assert_refresh_revoked(sp, confidential["RefreshToken"], client=sp.confidential, username=name)
    assert_works(sp, sp.tokens(name), name)


def test_admin_user_global_sign_out_of_unknown_user(signin_pool):
    with raises_code("UserNotFoundException"):
        signin_pool.cognito.admin_user_global_sign_out(UserPoolId=signin_pool.pool_id, Username="nobody-here")


def test_revoke_token(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    revoked, kept = sp.tokens(name), sp.tokens(name)
    from_refresh = sp.refresh(revoked["RefreshToken"])["AuthenticationResult"]

    out = sp.cognito.revoke_token(Token=revoked["RefreshToken"], ClientId=sp.public.client_id)
    assert set(out) == {"ResponseMetadata"}

    assert_refresh_revoked(sp, revoked["RefreshToken"])
    # The access tokens issued with that refresh token, and from it, are revoked with it ...
    assert_access_revoked(sp, revoked["AccessToken"])
    assert_access_revoked(sp, from_refresh["AccessToken"])
    # ... but not the user's other session.
    assert_works(sp, kept, name)


def test_revoke_token_on_confidential_client_needs_the_secret(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    tokens = sp.tokens(name, client=sp.confidential)
    for kwargs in ({}, {"ClientSecret": "wrong" + sp.confidential.secret[5:]}):
        with pytest.raises(ClientError) as info:
            sp.cognito.revoke_token(Token=tokens["RefreshToken"], ClientId=sp.confidential.client_id, **kwargs)
        assert error_of(info.value)[0] in ("NotAuthorizedException", "UnauthorizedException"), info.value.response
    assert_works(sp, tokens, name, client=sp.confidential)

    sp.cognito.revoke_token(Token=tokens["RefreshToken"], ClientId=sp.confidential.client_id,
                            ClientSecret=sp.confidential.secret)
    assert_refresh_revoked(sp, tokens["RefreshToken"], client=sp.confidential, username=name)
    assert_access_revoked(sp, tokens["AccessToken"])


def test_revoke_token_refuses_access_tokens(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    tokens = sp.tokens(name)
    with raises_code("UnsupportedTokenTypeException"):
        sp.cognito.revoke_token(Token=tokens["AccessToken"], ClientId=sp.public.client_id)
    assert_works(sp, tokens, name)


def test_revoke_token_needs_revocation_enabled(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    client = sp.add_client(EnableTokenRevocation=False)
    tokens = sp.tokens(name, client=client)
    with raises_code("UnsupportedOperationException"):
        sp.cognito.revoke_token(Token=tokens["RefreshToken"], ClientId=client.client_id)
    assert_works(sp, tokens, name, client=client)


def test_refresh_token_is_bound_to_its_client(signin_pool_factory):
    sp = signin_pool_factory()
    name = sp.create_user()["Username"]
    tokens = sp.tokens(name)
    other = sp.add_client()
    with raises_code("NotAuthorizedException"):
        sp.refresh(tokens["RefreshToken"], client=other)
    with raises_code("NotAuthorizedException"):
        sp.refresh(tokens["RefreshToken"], client=sp.confidential, username=name)
    # A client of another pool.
    elsewhere = signin_pool_factory()
    with raises_code("NotAuthorizedException"):
        elsewhere.refresh(tokens["RefreshToken"])
    # Revoking it through another client (refused or ignored) leaves it working.
    try:
        sp.cognito.revoke_token(Token=tokens["RefreshToken"], ClientId=other.client_id)
    except ClientError:
        pass
    assert_works(sp, tokens, name)


def test_refresh_with_secret_hash(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    tokens = sp.tokens(name, client=sp.confidential)
    c = sp.confidential
    with raises_code("NotAuthorizedException") as info:
        sp.refresh(tokens["RefreshToken"], client=c)  # no SECRET_HASH
    assert c.client_id in error_of(info.value)[1]
    with raises_code("NotAuthorizedException", f"Unable to verify secret hash for client {c.client_id}"):
        sp.cognito.initiate_auth(ClientId=c.client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={
            "REFRESH_TOKEN": tokens["RefreshToken"], "SECRET_HASH": sp.public.client_id + "=="})
    assert "AuthenticationResult" in sp.refresh(tokens["RefreshToken"], client=c, username=name)


def test_disabled_user_cannot_sign_in_or_refresh(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    tokens = sp.tokens(name)
    sp.cognito.admin_disable_user(UserPoolId=sp.pool_id, Username=name)
    with raises_code("NotAuthorizedException"):
        sp.refresh(tokens["RefreshToken"])
    with raises_code("NotAuthorizedException"):
        sp.refresh(tokens["RefreshToken"], admin=True)
    # AdminDisableUser revokes the user's access tokens.
    with raises_code("NotAuthorizedException"):
        sp.cognito.get_user(AccessToken=tokens["AccessToken"])
    with raises_code("NotAuthorizedException", "User is disabled."):
        sp.password_auth(name)
    with raises_code("NotAuthorizedException", "User is disabled."):
        sp.srp(name).authenticate_user()

    sp.cognito.admin_enable_user(UserPoolId=sp.pool_id, Username=name)
    assert_works(sp, sp.tokens(name), name)

