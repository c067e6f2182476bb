"""User pools: CreateUserPool / DescribeUserPool / UpdateUserPool / ListUserPools / DeleteUserPool,
through boto3 and aws-cli."""

import datetime
import re

import pytest

from conftest import ACCOUNT_ID, raises_code, utcnow, walk_pages

POOL_ID_RE = re.compile(r"^us-east-1_[A-Za-z0-9]{9}$")


def arn_of(pool_id: str) -> str:
    return f"arn:aws:cognito-idp:us-east-1:{ACCOUNT_ID}:userpool/{pool_id}"


def assert_recent(ts, slack=datetime.timedelta(minutes=5)):
    assert isinstance(ts, datetime.datetime), f"{ts!r} is not a datetime"
    assert ts.tzinfo is not None
    assert abs(utcnow() - ts) < slack, ts


def attrs_by_name(pool):
    return {a["Name"]: a for a in pool["SchemaAttributes"]}


def test_create_describe_round_trip(cognito, unique):
    name = unique("pool")
    created = cognito.create_user_pool(
        PoolName=name,
        Policies={
            "PasswordPolicy": {
                "MinimumLength": 12,
                "RequireUppercase": True,
                "RequireLowercase": True,
                "RequireNumbers": False,
                "RequireSymbols": False,
                "TemporaryPasswordValidityDays": 3,
            }
        },
        Schema=[
            {"Name": "email", "AttributeDataType": "String", "Required": True, "Mutable": True},
            {
                "Name": "x",
                "AttributeDataType": "String",
                "Mutable": True,
                "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "64"},
            },
        ],
        AutoVerifiedAttributes=["email"],
        UserPoolTags={"team": "identity", "env": "e2e"},
    )["UserPool"]
    pool_id = created["Id"]
    try:
        assert POOL_ID_RE.match(pool_id), pool_id
        assert created["Name"] == name
        assert created["Arn"] == arn_of(pool_id)
        assert_recent(created["CreationDate"])

        resp = cognito.describe_user_pool(UserPoolId=pool_id)
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert resp["ResponseMetadata"]["RequestId"]
        described = resp["UserPool"]
        assert described["Id"] == pool_id
        assert described["Name"] == name
        assert described["Arn"] == arn_of(pool_id)
        assert_recent(described["CreationDate"])
        assert isinstance(described["LastModifiedDate"], datetime.datetime)
        assert described["CreationDate"] == created["CreationDate"]

        attrs = attrs_by_name(described)
        assert {"sub", "email", "custom:x"} <= set(attrs), sorted(attrs)
        assert attrs["sub"]["Required"] is True and attrs["sub"]["Mutable"] is False
        assert attrs["email"]["Required"] is True
        assert attrs["custom:x"]["AttributeDataType"] == "String"
        assert attrs["custom:x"]["StringAttributeConstraints"] == {"MinLength": "1", "MaxLength": "64"}
        assert "x" not in attrs  # custom attributes carry the prefix

        pw = described["Policies"]["PasswordPolicy"]
        assert pw["MinimumLength"] == 12
        assert pw["RequireUppercase"] is True and pw["RequireNumbers"] is False
        assert pw["TemporaryPasswordValidityDays"] == 3
        assert described["AutoVerifiedAttributes"] == ["email"]
        assert described["UserPoolTags"] == {"team": "identity", "env": "e2e"}
        assert described["MfaConfiguration"] == "OFF"
    finally:
        cognito.delete_user_pool(UserPoolId=pool_id)


def test_defaults_of_a_minimal_pool(cognito, pool):
    described = cognito.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
    assert described["Policies"]["PasswordPolicy"]["MinimumLength"] == 8
    assert described["MfaConfiguration"] == "OFF"
    assert described["UsernameConfiguration"]["CaseSensitive"] is False
    assert described.get("DeletionProtection", "INACTIVE") == "INACTIVE"
    attrs = attrs_by_name(described)
    assert "sub" in attrs and "email" in attrs
    assert not any(n.startswith("custom:") for n in attrs)


def test_update_user_pool(cognito, unique):
    pool_id = cognito.create_user_pool(
        PoolName=unique("pool"), AutoVerifiedAttributes=["email"], UserPoolTags={"a": "1"}
    )["UserPool"]["Id"]
    try:
        before = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
        cognito.update_user_pool(
            UserPoolId=pool_id,
            Policies={"PasswordPolicy": {"MinimumLength": 10, "RequireSymbols": True}},
            MfaConfiguration="OFF",
            DeletionProtection="INACTIVE",
            UserPoolTags={"b": "2"},
        )
        after = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
        assert after["Id"] == pool_id and after["Name"] == before["Name"]
        assert after["Policies"]["PasswordPolicy"]["MinimumLength"] == 10
        assert after["Policies"]["PasswordPolicy"]["RequireSymbols"] is True
        assert after["UserPoolTags"] == {"b": "2"}
        # UpdateUserPool resets every omitted mutable setting to its default.
        assert not after.get("AutoVerifiedAttributes")
        assert after["CreationDate"] == before["CreationDate"]
        assert after["LastModifiedDate"] >= before["LastModifiedDate"]
        # Create-only settings survive.
        assert after["UsernameConfiguration"] == before["UsernameConfiguration"]
        assert [a["Name"] for a in after["SchemaAttributes"]] == [a["Name"] for a in before["SchemaAttributes"]]
    finally:
        cognito.delete_user_pool(UserPoolId=pool_id)


def test_update_missing_pool_is_resource_not_found(cognito):
    with raises_code("ResourceNotFoundException"):
        cognito.update_user_pool(UserPoolId="us-east-1_NoSuchPo0", MfaConfiguration="OFF")


def test_list_user_pools_pagination(cognito, unique):
    prefix = unique("page")
    mine = {}
    for i in range(5):
        p = cognito.create_user_pool(PoolName=f"{prefix}-{i}")["UserPool"]
        mine[p["Id"]] = p["Name"]
    try:
        pages = walk_pages(cognito.list_user_pools, max_pages=1000, MaxResults=2)
        seen = []
        for page in pages:
            assert len(page["UserPools"]) <= 2
            for p in page["UserPools"]:
                assert POOL_ID_RE.match(p["Id"])
                assert isinstance(p["CreationDate"], datetime.datetime)
                assert isinstance(p["LastModifiedDate"], datetime.datetime)
                seen.append(p["Id"])
                if p["Id"] in mine:
                    assert p["Name"] == mine[p["Id"]]
        assert len(seen) == len(set(seen)), "a pool was listed twice"
        assert set(mine) <= set(seen), "a pool was never listed"
        assert len(pages) >= 3

        # The botocore paginator (what most applications use) sees the same set.
        paginated = [
            p["Id"]
            for page in cognito.get_paginator("list_user_pools").paginate(MaxResults=2)
            for p in page["UserPools"]
        ]
        assert sorted(paginated) == sorted(seen)
    finally:
        for pool_id in mine:
            cognito.delete_user_pool(UserPoolId=pool_id)


def test_delete_user_pool(cognito, unique):
    pool_id = cognito.create_user_pool(PoolName=unique("pool"))["UserPool"]["Id"]
    cognito.delete_user_pool(UserPoolId=pool_id)
    with raises_code("ResourceNotFoundException"):
        cognito.describe_user_pool(UserPoolId=pool_id)
    with raises_code("ResourceNotFoundException"):
        cognito.delete_user_pool(UserPoolId=pool_id)
    listed = [p["Id"] for page in cognito.get_paginator("list_user_pools").paginate(MaxResults=60)
              for p in page["UserPools"]]
    assert pool_id not in listed


def test_deletion_protection(cognito, unique):
    pool_id = cognito.create_user_pool(PoolName=unique("pool"), DeletionProtection="ACTIVE")["UserPool"]["Id"]
    assert cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]["DeletionProtection"] == "ACTIVE"
    with raises_code("InvalidParameterException"):
        cognito.delete_user_pool(UserPoolId=pool_id)
    assert cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]["Id"] == pool_id
    cognito.update_user_pool(UserPoolId=pool_id, DeletionProtection="INACTIVE")
    cognito.delete_user_pool(UserPoolId=pool_id)
    with raises_code("ResourceNotFoundException"):
        cognito.describe_user_pool(UserPoolId=pool_id)


def test_aws_cli_round_trip(daemon, unique):
    name = unique("cli")
    created = daemon.aws(
        "create-user-pool", "--pool-name", name,
        "--policies", '{"PasswordPolicy": {"MinimumLength": 9}}',
        "--user-pool-tags", "origin=cli",
    ).json["UserPool"]
    pool_id = created["Id"]
    try:
        assert POOL_ID_RE.match(pool_id)
        assert created["Arn"] == arn_of(pool_id)
        described = daemon.aws("describe-user-pool", "--user-pool-id", pool_id).json["UserPool"]
        assert described["Id"] == pool_id and described["Name"] == name
        assert described["Policies"]["PasswordPolicy"]["MinimumLength"] == 9
        assert described["UserPoolTags"] == {"origin": "cli"}
        # aws-cli v1 prints timestamps as received: JSON 1.1 sends epoch seconds (a number).
        assert isinstance(described["CreationDate"], (int, float)), described["CreationDate"]
        created_at = datetime.datetime.fromtimestamp(described["CreationDate"], datetime.timezone.utc)
        assert abs(utcnow() - created_at) < datetime.timedelta(minutes=5)

        listed = daemon.aws("list-user-pools", "--max-results", "10").json
        ids = [p["Id"] for p in listed["UserPools"]]
        assert pool_id in ids  # aws-cli follows NextToken itself
        assert len(ids) == len(set(ids))
        assert "NextToken" not in listed

        missing = daemon.aws("describe-user-pool", "--user-pool-id", "us-east-1_NoSuchPo0", check=False)
        assert missing.returncode != 0
        assert "(ResourceNotFoundException)" in missing.stderr
    finally:
        daemon.aws("delete-user-pool", "--user-pool-id", pool_id)
    gone = daemon.aws("describe-user-pool", "--user-pool-id", pool_id, check=False)
    assert gone.returncode != 0 and "ResourceNotFoundException" in gone.stderr


def test_username_and_alias_attributes(cognito, unique):
    pool_id = cognito.create_user_pool(PoolName=unique("uname"), UsernameAttributes=["email"],
                                       UsernameConfiguration={"CaseSensitive": True})["UserPool"]["Id"]
    try:
        described = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
        assert described["UsernameAttributes"] == ["email"]
        assert described["UsernameConfiguration"] == {"CaseSensitive": True}
    finally:
        cognito.delete_user_pool(UserPoolId=pool_id)
    with raises_code("InvalidParameterException"):
        cognito.create_user_pool(PoolName=unique("both"), UsernameAttributes=["email"], AliasAttributes=["phone_number"])


def test_schema_rules(cognito, unique):
    name = unique("schema")
    with raises_code("InvalidParameterException"):
        cognito.create_user_pool(PoolName=name, Schema=[{"Name": "tenant", "AttributeDataType": "String", "Required": True}])
    with raises_code("InvalidParameterException"):
        cognito.create_user_pool(PoolName=name, Schema=[{"Name": "email", "AttributeDataType": "Number"}])
    assert name not in {p["Name"] for p in cognito.list_user_pools(MaxResults=60)["UserPools"]}
    pool_id = cognito.create_user_pool(PoolName=name, Schema=[
        {"Name": "level", "AttributeDataType": "Number", "Mutable": False,
         "NumberAttributeConstraints": {"MinValue": "1", "MaxValue": "10"}},
        {"Name": "secret", "AttributeDataType": "String", "DeveloperOnlyAttribute": True},
    ])["UserPool"]["Id"]
    try:
        attrs = attrs_by_name(cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"])
        assert attrs["custom:level"]["AttributeDataType"] == "Number"
        assert attrs["custom:level"]["Mutable"] is False
        assert attrs["custom:level"]["NumberAttributeConstraints"] == {"MinValue": "1", "MaxValue": "10"}
        assert attrs["dev:custom:secret"]["DeveloperOnlyAttribute"] is True
    finally:
        cognito.delete_user_pool(UserPoolId=pool_id)


def test_unused_account_validity_days_sets_the_temporary_password_validity(cognito, unique):
    pid = cognito.create_user_pool(PoolName=unique("pool"),
                                   AdminCreateUserConfig={"UnusedAccountValidityDays": 3})["UserPool"]["Id"]
    try:
        pool = cognito.describe_user_pool(UserPoolId=pid)["UserPool"]
        assert pool["Policies"]["PasswordPolicy"]["TemporaryPasswordValidityDays"] == 3
        assert pool["AdminCreateUserConfig"]["UnusedAccountValidityDays"] == 3
        # The policy member, when given, wins.
        cognito.update_user_pool(UserPoolId=pid, AdminCreateUserConfig={"UnusedAccountValidityDays": 5},
                                 Policies={"PasswordPolicy": {"MinimumLength": 8, "TemporaryPasswordValidityDays": 2}})
        pool = cognito.describe_user_pool(UserPoolId=pid)["UserPool"]
        assert pool["Policies"]["PasswordPolicy"]["TemporaryPasswordValidityDays"] == 2
    finally:
        cognito.delete_user_pool(UserPoolId=pid)
