"""App clients: CreateUserPoolClient / DescribeUserPoolClient / UpdateUserPoolClient /
ListUserPoolClients / DeleteUserPoolClient."""

import datetime
import re

import pytest

from conftest import raises_code, walk_pages

CLIENT_ID_RE = re.compile(r"^[a-z0-9]{26}$")
SECRET_RE = re.compile(r"^[a-z0-9]{51}$")

FULL_SETTINGS = dict(
    ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_PASSWORD_AUTH"],
    AccessTokenValidity=30,
    IdTokenValidity=45,
    RefreshTokenValidity=7,
    TokenValidityUnits={"AccessToken": "minutes", "IdToken": "minutes", "RefreshToken": "days"},
    PreventUserExistenceErrors="ENABLED",
    EnableTokenRevocation=True,
)


def assert_settings(client, settings):
    for key, value in settings.items():
        if isinstance(value, list):
            assert sorted(client[key]) == sorted(value), (key, client[key])
        else:
            assert client[key] == value, (key, client.get(key))


def test_create_client_with_secret_and_describe(cognito, pool, unique):
    name = unique("client")
    created = cognito.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName=name, GenerateSecret=True, **FULL_SETTINGS
    )["UserPoolClient"]
    assert CLIENT_ID_RE.match(created["ClientId"]), created["ClientId"]
    assert SECRET_RE.match(created["ClientSecret"]), created["ClientSecret"]
    assert created["UserPoolId"] == pool["Id"]
    assert created["ClientName"] == name
    assert isinstance(created["CreationDate"], datetime.datetime)
    assert isinstance(created["LastModifiedDate"], datetime.datetime)
    assert_settings(created, FULL_SETTINGS)

    described = cognito.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=created["ClientId"])[
        "UserPoolClient"
    ]
    assert described["ClientSecret"] == created["ClientSecret"]
    assert described["ClientId"] == created["ClientId"]
    assert described["ClientName"] == name
    assert described["CreationDate"] == created["CreationDate"]
    assert_settings(described, FULL_SETTINGS)


def test_client_without_secret_has_no_secret(cognito, pool, unique):
    created = cognito.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique("client"))["UserPoolClient"]
    assert CLIENT_ID_RE.match(created["ClientId"])
    assert "ClientSecret" not in created
    described = cognito.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=created["ClientId"])
    assert "ClientSecret" not in described["UserPoolClient"]


def test_client_ids_and_secrets_are_distinct(cognito, pool, unique):
    made = [
        cognito.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique("c"), GenerateSecret=True)[
            "UserPoolClient"
        ]
        for _ in range(3)
    ]
    assert len({c["ClientId"] for c in made}) == 3
    assert len({c["ClientSecret"] for c in made}) == 3


def test_update_client(cognito, pool, unique):
    created = cognito.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName=unique("client"), GenerateSecret=True, **FULL_SETTINGS
    )["UserPoolClient"]
    new_name = unique("renamed")
    new_settings = dict(
        ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_CUSTOM_AUTH"],
        AccessTokenValidity=2,
        IdTokenValidity=3,
        RefreshTokenValidity=60,
        TokenValidityUnits={"AccessToken": "hours", "IdToken": "hours", "RefreshToken": "minutes"},
        PreventUserExistenceErrors="LEGACY",
        EnableTokenRevocation=False,
    )
    updated = cognito.update_user_pool_client(
        UserPoolId=pool["Id"], ClientId=created["ClientId"], ClientName=new_name, **new_settings
    )["UserPoolClient"]
    assert updated["ClientName"] == new_name
    assert_settings(updated, new_settings)
    described = cognito.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=created["ClientId"])[
        "UserPoolClient"
    ]
    assert described["ClientName"] == new_name
    assert_settings(described, new_settings)
    # The secret and identity of the client do not change on update.
    assert described["ClientSecret"] == created["ClientSecret"]
    assert described["ClientId"] == created["ClientId"]
    assert described["CreationDate"] == created["CreationDate"]
    assert described["LastModifiedDate"] >= created["LastModifiedDate"]


def test_list_clients_with_pagination(cognito, pool, unique):
    names = {}
    for i in range(5):
        c = cognito.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique(f"c{i}"))["UserPoolClient"]
        names[c["ClientId"]] = c["ClientName"]
    pages = walk_pages(cognito.list_user_pool_clients, UserPoolId=pool["Id"], MaxResults=2)
    seen = []
    for page in pages:
        assert len(page["UserPoolClients"]) <= 2
        for c in page["UserPoolClients"]:
            assert c["UserPoolId"] == pool["Id"]
            assert c["ClientName"] == names[c["ClientId"]]
            assert "ClientSecret" not in c
            seen.append(c["ClientId"])
    assert len(pages) >= 3
    assert len(seen) == len(set(seen))
    assert set(seen) == set(names)


def test_list_clients_is_scoped_to_the_pool(cognito, pool, unique):
    other = cognito.create_user_pool(PoolName=unique("other"))["UserPool"]["Id"]
    try:
        mine = cognito.create_user_pool_client(UserPoolId=pool["Id"], ClientName="mine")["UserPoolClient"]["ClientId"]
        theirs = cognito.create_user_pool_client(UserPoolId=other, ClientName="theirs")["UserPoolClient"]["ClientId"]
        listed = [c["ClientId"] for c in cognito.list_user_pool_clients(UserPoolId=pool["Id"], MaxResults=60)["UserPoolClients"]]
        assert listed == [mine]
        listed = [c["ClientId"] for c in cognito.list_user_pool_clients(UserPoolId=other, MaxResults=60)["UserPoolClients"]]
        assert listed == [theirs]
    finally:
        cognito.delete_user_pool(UserPoolId=other)


def test_delete_client(cognito, pool, unique):
    keep = cognito.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique("keep"))["UserPoolClient"]
    gone = cognito.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique("gone"))["UserPoolClient"]
    cognito.delete_user_pool_client(UserPoolId=pool["Id"], ClientId=gone["ClientId"])
    with raises_code("ResourceNotFoundException"):
        cognito.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=gone["ClientId"])
    with raises_code("ResourceNotFoundException"):
        cognito.delete_user_pool_client(UserPoolId=pool["Id"], ClientId=gone["ClientId"])
    listed = [c["ClientId"] for c in cognito.list_user_pool_clients(UserPoolId=pool["Id"], MaxResults=60)["UserPoolClients"]]
    assert listed == [keep["ClientId"]]


@pytest.mark.parametrize(
    "settings",
    [
        # 2 days of access token: Cognito allows 5 minutes to 1 day.
        dict(AccessTokenValidity=2, TokenValidityUnits={"AccessToken": "days"}),
        # 1 minute of ID token: below the 5-minute minimum.
        dict(IdTokenValidity=1, TokenValidityUnits={"IdToken": "minutes"}),
        # 11 years of refresh token: above the 10-year maximum.
        dict(RefreshTokenValidity=4015, TokenValidityUnits={"RefreshToken": "days"}),
        # Beyond the model's range (1..86400): rejected by the server's model validation.
        dict(AccessTokenValidity=86401),
    ],
    ids=["access-2-days", "id-1-minute", "refresh-11-years", "model-range"],
)
def test_invalid_token_validity(cognito, pool, unique, settings):
    with raises_code("InvalidParameterException"):
        cognito.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique("bad"), **settings)
    assert cognito.list_user_pool_clients(UserPoolId=pool["Id"], MaxResults=60)["UserPoolClients"] == []
    # Update refuses it too and leaves the client as it was.
    ok = cognito.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique("ok"))["UserPoolClient"]
    with raises_code("InvalidParameterException"):
        cognito.update_user_pool_client(UserPoolId=pool["Id"], ClientId=ok["ClientId"], **settings)
    after = cognito.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=ok["ClientId"])["UserPoolClient"]
    assert after["LastModifiedDate"] == ok["LastModifiedDate"]
    for key in ("AccessTokenValidity", "IdTokenValidity", "RefreshTokenValidity", "TokenValidityUnits"):
        assert after.get(key) == ok.get(key), key


def test_client_of_another_pool_is_not_found(cognito, pool, unique):
    other = cognito.create_user_pool(PoolName=unique("other"))["UserPool"]["Id"]
    try:
        client = cognito.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique("c"), GenerateSecret=True)[
            "UserPoolClient"
        ]
        with raises_code("ResourceNotFoundException"):
            cognito.describe_user_pool_client(UserPoolId=other, ClientId=client["ClientId"])
        with raises_code("ResourceNotFoundException"):
            cognito.update_user_pool_client(UserPoolId=other, ClientId=client["ClientId"], ClientName="stolen")
        with raises_code("ResourceNotFoundException"):
            cognito.delete_user_pool_client(UserPoolId=other, ClientId=client["ClientId"])
        still = cognito.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=client["ClientId"])["UserPoolClient"]
        assert still["ClientName"] == client["ClientName"]
        assert still["ClientSecret"] == client["ClientSecret"]
    finally:
        cognito.delete_user_pool(UserPoolId=other)


def test_client_in_missing_pool(cognito):
    with raises_code("ResourceNotFoundException"):
        cognito.create_user_pool_client(UserPoolId="us-east-1_NoSuchPo0", ClientName="c")
    with raises_code("ResourceNotFoundException"):
        cognito.describe_user_pool_client(UserPoolId="us-east-1_NoSuchPo0", ClientId="a" * 26)


def test_deleting_the_pool_deletes_its_clients(cognito, unique):
    pool_id = cognito.create_user_pool(PoolName=unique("pool"))["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(UserPoolId=pool_id, ClientName="c")["UserPoolClient"]["ClientId"]
    cognito.delete_user_pool(UserPoolId=pool_id)
    with raises_code("ResourceNotFoundException"):
        cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)


SECONDS_PER = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
# Cognito's documented default unit of each validity when TokenValidityUnits does not name one.
DEFAULT_UNIT = {"AccessToken": "hours", "IdToken": "hours", "RefreshToken": "days"}
BOUNDS = {"AccessToken": (300, 86400), "IdToken": (300, 86400), "RefreshToken": (3600, 315360000)}


def effective_seconds(client, token):
    value = client[f"{token}Validity"]
    unit = (client.get("TokenValidityUnits") or {}).get(token, DEFAULT_UNIT[token])
    return value * SECONDS_PER[unit]


def test_token_validity_without_units_is_in_the_default_units(cognito, pool, unique):
    """AccessTokenValidity=2 with no TokenValidityUnits means 2 hours (the API's default unit for
    access and ID tokens). What Describe reports must describe that same, valid lifetime, not e.g.
    2 minutes (below the 5-minute minimum)."""
    created = cognito.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName=unique("units"), AccessTokenValidity=2, IdTokenValidity=3,
        RefreshTokenValidity=10,
    )["UserPoolClient"]
    described = cognito.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=created["ClientId"])["UserPoolClient"]
    for c in (created, described):
        assert effective_seconds(c, "AccessToken") == 2 * 3600, c
        assert effective_seconds(c, "IdToken") == 3 * 3600, c
        assert effective_seconds(c, "RefreshToken") == 10 * 86400, c
        for token, (low, high) in BOUNDS.items():
            assert low <= effective_seconds(c, token) <= high, (token, c)


def test_update_token_validity_without_units_is_in_the_default_units(cognito, pool, unique):
    created = cognito.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName=unique("units"), AccessTokenValidity=30,
        TokenValidityUnits={"AccessToken": "minutes"},
    )["UserPoolClient"]
    assert effective_seconds(created, "AccessToken") == 30 * 60
    updated = cognito.update_user_pool_client(UserPoolId=pool["Id"], ClientId=created["ClientId"],
                                              AccessTokenValidity=4)["UserPoolClient"]
    described = cognito.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=created["ClientId"])["UserPoolClient"]
    for c in (updated, described):
        assert effective_seconds(c, "AccessToken") == 4 * 3600, c


def test_default_token_validity_is_within_bounds(cognito, pool, unique):
    created = cognito.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique("defaults"))["UserPoolClient"]
    described = cognito.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=created["ClientId"])["UserPoolClient"]
    for token, (low, high) in BOUNDS.items():
        if f"{token}Validity" in described:
            assert low <= effective_seconds(described, token) <= high, (token, described)
    assert described["RefreshTokenValidity"] == 30  # Cognito's default: 30 days
