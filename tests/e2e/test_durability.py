"""Durability: everything survives a graceful restart, and an acknowledged write survives kill -9
right after its 200."""

from conftest import ACCOUNT_ID, raises_code
from signin_helpers import make_signin_pool


def strip_metadata(resp):
    resp = dict(resp)
    resp.pop("ResponseMetadata", None)
    return resp


def test_restart_keeps_pool_client_group_tags_and_jwks(make_daemon):
    d = make_daemon()
    c = d.client()
    pool = c.create_user_pool(PoolName="durable", UserPoolTags={"k": "v"},
                              Policies={"PasswordPolicy": {"MinimumLength": 11}})["UserPool"]
    pid = pool["Id"]
    client = c.create_user_pool_client(UserPoolId=pid, ClientName="app", GenerateSecret=True,
                                       ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]
    group = c.create_group(UserPoolId=pid, GroupName="ops", Description="Operators", Precedence=3)["Group"]
    c.tag_resource(ResourceArn=pool["Arn"], Tags={"added": "later"})

    pool_before = strip_metadata(c.describe_user_pool(UserPoolId=pid))
    client_before = strip_metadata(c.describe_user_pool_client(UserPoolId=pid, ClientId=client["ClientId"]))
    group_before = strip_metadata(c.get_group(UserPoolId=pid, GroupName="ops"))
    jwks_before = d.jwks(pid)
    listing_before = d.list_all_pools()

    d.restart()
    c = d.client()

    assert strip_metadata(c.describe_user_pool(UserPoolId=pid)) == pool_before
    client_after = strip_metadata(c.describe_user_pool_client(UserPoolId=pid, ClientId=client["ClientId"]))
    assert client_after == client_before
    assert client_after["UserPoolClient"]["ClientSecret"] == client["ClientSecret"]
    assert strip_metadata(c.get_group(UserPoolId=pid, GroupName="ops")) == group_before
    assert group_before["Group"]["Description"] == group["Description"]
    assert c.list_tags_for_resource(ResourceArn=pool["Arn"])["Tags"] == {"k": "v", "added": "later"}
    assert d.jwks(pid) == jwks_before
    assert d.list_all_pools() == listing_before
    assert pool["Arn"] == f"arn:aws:cognito-idp:us-east-1:{ACCOUNT_ID}:userpool/{pid}"


def test_kill9_right_after_create_keeps_the_pool(make_daemon):
    d = make_daemon()
    created = []
    for round_ in range(3):
        c = d.client()
        pool = c.create_user_pool(PoolName=f"crash-{round_}")["UserPool"]
        group = c.create_group(UserPoolId=pool["Id"], GroupName=f"g{round_}")["Group"]
        created.append((pool, group))
        # The 200 is back: SIGKILL at once (no flush, no graceful shutdown), start again.
        d.kill9()
        c = d.client()
        for p, g in created:
            described = c.describe_user_pool(UserPoolId=p["Id"])["UserPool"]
            assert described["Name"] == p["Name"]
            assert c.get_group(UserPoolId=p["Id"], GroupName=g["GroupName"])["Group"]["GroupName"] == g["GroupName"]
            # The pool's signing key in the HSM survived as well.
            keys = d.jwks(p["Id"])["keys"]
            assert len(keys) == 1
    assert {p["Id"] for p, _ in created} <= {p["Id"] for p in d.list_all_pools()}


def test_kill9_right_after_delete_keeps_it_deleted(make_daemon):
    d = make_daemon()
    c = d.client()
    keep = c.create_user_pool(PoolName="keep")["UserPool"]["Id"]
    drop = c.create_user_pool(PoolName="drop")["UserPool"]["Id"]
    c.delete_user_pool(UserPoolId=drop)
    d.kill9()
    c = d.client()
    with raises_code("ResourceNotFoundException"):
        c.describe_user_pool(UserPoolId=drop)
    assert c.describe_user_pool(UserPoolId=keep)["UserPool"]["Id"] == keep
    assert [p["Id"] for p in d.list_all_pools()] == [keep]


def test_jwks_identical_across_restart_and_kill(make_daemon):
    d = make_daemon()
    c = d.client()
    pools = [c.create_user_pool(PoolName=f"jwks-{i}")["UserPool"]["Id"] for i in range(2)]
    before = {p: d.jwks(p) for p in pools}
    assert before[pools[0]]["keys"][0]["kid"] != before[pools[1]]["keys"][0]["kid"]
    assert before[pools[0]]["keys"][0]["n"] != before[pools[1]]["keys"][0]["n"]
    d.restart()
    assert {p: d.jwks(p) for p in pools} == before
    d.kill9()
    assert {p: d.jwks(p) for p in pools} == before


def test_kill9_right_after_sign_in_keeps_its_tokens_and_revocations(make_daemon):
    """Sign-in records are written without an fsync (a power loss may drop them, which only makes
    their tokens stop working), but an acknowledged sign-in still survives the daemon's SIGKILL;
    a sign-out (synced) does too."""
    d = make_daemon()
    sp = make_signin_pool(d, d.client())
    kept, signed_out = sp.create_user(), sp.create_user()
    first = sp.password_auth(kept["Username"])["AuthenticationResult"]
    second = sp.password_auth(signed_out["Username"])["AuthenticationResult"]
    sp.cognito.global_sign_out(AccessToken=second["AccessToken"])
    d.kill9()
    sp.cognito = d.client()
    assert sp.cognito.get_user(AccessToken=first["AccessToken"])["Username"] == kept["Username"]
    refreshed = sp.refresh(first["RefreshToken"])["AuthenticationResult"]
    assert sp.cognito.get_user(AccessToken=refreshed["AccessToken"])["Username"] == kept["Username"]
    with raises_code("NotAuthorizedException", "Refresh Token has been revoked"):
        sp.refresh(second["RefreshToken"])
    with raises_code("NotAuthorizedException"):
        sp.cognito.get_user(AccessToken=second["AccessToken"])
