"""Tags (TagResource / UntagResource / ListTagsForResource by pool ARN) and groups
(CreateGroup / GetGroup / UpdateGroup / ListGroups / DeleteGroup), including racing creates."""

import datetime
import threading

from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, error_code, raises_code, walk_pages


def arn_of(pool_id):
    return f"arn:aws:cognito-idp:us-east-1:{ACCOUNT_ID}:userpool/{pool_id}"


# ----- tags -----


def test_tag_untag_list(cognito, unique):
    pool_id = cognito.create_user_pool(PoolName=unique("tags"), UserPoolTags={"a": "1"})["UserPool"]["Id"]
    arn = arn_of(pool_id)
    try:
        assert cognito.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"a": "1"}
        cognito.tag_resource(ResourceArn=arn, Tags={"b": "2", "c": "3"})
        assert cognito.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"a": "1", "b": "2", "c": "3"}
        # Tagging an existing key overwrites its value.
        cognito.tag_resource(ResourceArn=arn, Tags={"b": "two"})
        assert cognito.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"a": "1", "b": "two", "c": "3"}
        cognito.untag_resource(ResourceArn=arn, TagKeys=["a", "c", "never-set"])
        assert cognito.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"b": "two"}
        # DescribeUserPool shows the same tags.
        assert cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]["UserPoolTags"] == {"b": "two"}
        cognito.untag_resource(ResourceArn=arn, TagKeys=["b"])
        assert cognito.list_tags_for_resource(ResourceArn=arn).get("Tags", {}) == {}
    finally:
        cognito.delete_user_pool(UserPoolId=pool_id)


def test_tags_of_missing_pool(cognito):
    arn = arn_of("us-east-1_NoSuchPo0")
    with raises_code("ResourceNotFoundException"):
        cognito.tag_resource(ResourceArn=arn, Tags={"a": "1"})
    with raises_code("ResourceNotFoundException"):
        cognito.list_tags_for_resource(ResourceArn=arn)
    with raises_code("ResourceNotFoundException"):
        cognito.untag_resource(ResourceArn=arn, TagKeys=["a"])


def test_tags_with_malformed_arn(cognito):
    # 20+ characters, so that botocore's own min-length check lets it through to the server.
    with raises_code("InvalidParameterException"):
        cognito.list_tags_for_resource(ResourceArn="this-is-not-an-arn-at-all")
    with raises_code("InvalidParameterException"):
        cognito.tag_resource(ResourceArn="this-is-not-an-arn-at-all", Tags={"a": "1"})


def test_invalid_tag_is_refused_and_changes_nothing(cognito, unique):
    pool_id = cognito.create_user_pool(PoolName=unique("tagv"), UserPoolTags={"keep": "me"})["UserPool"]["Id"]
    try:
        # botocore does not check maximum lengths; the server does (tag values are 0..256).
        with raises_code("InvalidParameterException"):
            cognito.tag_resource(ResourceArn=arn_of(pool_id), Tags={"ok": "1", "long": "v" * 257})
        assert cognito.list_tags_for_resource(ResourceArn=arn_of(pool_id))["Tags"] == {"keep": "me"}
    finally:
        cognito.delete_user_pool(UserPoolId=pool_id)


def test_concurrent_tagging_keeps_every_tag(daemon, cognito, unique):
    """TagResource adds tags; concurrent calls adding different keys must all succeed and all
    keys must be there afterwards (ConcurrentModificationException is not an error TagResource
    can return, and the SDKs do not retry it)."""
    pool_id = cognito.create_user_pool(PoolName=unique("tagrace"))["UserPool"]["Id"]
    try:
        n = 8
        clients = [daemon.client() for _ in range(n)]
        barrier = threading.Barrier(n)
        results = [None] * n

        def worker(i):
            barrier.wait()
            try:
                clients[i].tag_resource(ResourceArn=arn_of(pool_id), Tags={f"key{i}": f"value{i}"})
                results[i] = "ok"
            except ClientError as e:
                results[i] = error_code(e)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        tags = cognito.list_tags_for_resource(ResourceArn=arn_of(pool_id))["Tags"]
        assert results == ["ok"] * n, results
        assert tags == {f"key{i}": f"value{i}" for i in range(n)}, tags
    finally:
        cognito.delete_user_pool(UserPoolId=pool_id)


def test_tags_are_per_pool(cognito, unique):
    a = cognito.create_user_pool(PoolName=unique("ta"))["UserPool"]["Id"]
    b = cognito.create_user_pool(PoolName=unique("tb"))["UserPool"]["Id"]
    try:
        cognito.tag_resource(ResourceArn=arn_of(a), Tags={"owner": "a"})
        assert cognito.list_tags_for_resource(ResourceArn=arn_of(a))["Tags"] == {"owner": "a"}
        assert cognito.list_tags_for_resource(ResourceArn=arn_of(b)).get("Tags", {}) == {}
    finally:
        cognito.delete_user_pool(UserPoolId=a)
        cognito.delete_user_pool(UserPoolId=b)


# ----- groups -----


def test_groups_crud(cognito, pool):
    pid = pool["Id"]
    role = f"arn:aws:iam::{ACCOUNT_ID}:role/e2e-admins"
    created = cognito.create_group(
        UserPoolId=pid, GroupName="admins", Description="Administrators", Precedence=1, RoleArn=role
    )["Group"]
    assert created["GroupName"] == "admins"
    assert created["UserPoolId"] == pid
    assert created["Description"] == "Administrators"
    assert created["Precedence"] == 1
    assert created["RoleArn"] == role
    assert isinstance(created["CreationDate"], datetime.datetime)

    got = cognito.get_group(UserPoolId=pid, GroupName="admins")["Group"]
    assert got == created

    with raises_code("GroupExistsException"):
        cognito.create_group(UserPoolId=pid, GroupName="admins")

    updated = cognito.update_group(UserPoolId=pid, GroupName="admins", Description="Admins", Precedence=5)["Group"]
    assert updated["Description"] == "Admins"
    assert updated["Precedence"] == 5
    got = cognito.get_group(UserPoolId=pid, GroupName="admins")["Group"]
    assert got["Description"] == "Admins" and got["Precedence"] == 5
    assert got["CreationDate"] == created["CreationDate"]
    assert got["LastModifiedDate"] >= created["LastModifiedDate"]

    cognito.delete_group(UserPoolId=pid, GroupName="admins")
    with raises_code("ResourceNotFoundException"):
        cognito.get_group(UserPoolId=pid, GroupName="admins")
    with raises_code("ResourceNotFoundException"):
        cognito.delete_group(UserPoolId=pid, GroupName="admins")
    with raises_code("ResourceNotFoundException"):
        cognito.update_group(UserPoolId=pid, GroupName="admins", Description="x")
    # The name is free again.
    cognito.create_group(UserPoolId=pid, GroupName="admins")


def test_list_groups_with_pagination(cognito, pool):
    pid = pool["Id"]
    names = {f"group-{i}" for i in range(5)}
    for n in names:
        cognito.create_group(UserPoolId=pid, GroupName=n, Description=n.upper())
    pages = walk_pages(cognito.list_groups, UserPoolId=pid, Limit=2)
    seen = []
    for page in pages:
        assert len(page["Groups"]) <= 2
        for g in page["Groups"]:
            assert g["UserPoolId"] == pid
            assert g["Description"] == g["GroupName"].upper()
            seen.append(g["GroupName"])
    assert len(pages) >= 3
    assert len(seen) == len(set(seen))
    assert set(seen) == names
    via_paginator = [g["GroupName"] for p in cognito.get_paginator("list_groups").paginate(UserPoolId=pid) for g in p["Groups"]]
    assert sorted(via_paginator) == sorted(names)


def test_groups_are_per_pool(cognito, pool, unique):
    other = cognito.create_user_pool(PoolName=unique("other"))["UserPool"]["Id"]
    try:
        cognito.create_group(UserPoolId=pool["Id"], GroupName="shared-name", Description="first")
        # The same name in another pool is a different group.
        cognito.create_group(UserPoolId=other, GroupName="shared-name", Description="second")
        assert cognito.get_group(UserPoolId=pool["Id"], GroupName="shared-name")["Group"]["Description"] == "first"
        assert cognito.get_group(UserPoolId=other, GroupName="shared-name")["Group"]["Description"] == "second"
        assert [g["GroupName"] for g in cognito.list_groups(UserPoolId=other)["Groups"]] == ["shared-name"]
    finally:
        cognito.delete_user_pool(UserPoolId=other)


def test_group_names_are_unicode_and_counted_in_utf16(cognito, pool):
    """botocore sends non-ASCII as \\uXXXX escapes; lengths are counted as Java does (UTF-16 units)."""
    pid = pool["Id"]
    name = "Админы-✓"
    created = cognito.create_group(UserPoolId=pid, GroupName=name, Description="Ünïcødé 😀")["Group"]
    assert created["GroupName"] == name
    got = cognito.get_group(UserPoolId=pid, GroupName=name)["Group"]
    assert got["Description"] == "Ünïcødé 😀"
    emoji_64 = "😀" * 64  # 64 code points, 128 UTF-16 units: the maximum
    cognito.create_group(UserPoolId=pid, GroupName=emoji_64)
    assert cognito.get_group(UserPoolId=pid, GroupName=emoji_64)["Group"]["GroupName"] == emoji_64
    with raises_code("InvalidParameterException"):
        cognito.create_group(UserPoolId=pid, GroupName="😀" * 65)  # 130 UTF-16 units
    with raises_code("InvalidParameterException"):
        cognito.create_group(UserPoolId=pid, GroupName="has space")  # \p{Z} is not in the pattern
    names = sorted(g["GroupName"] for g in cognito.list_groups(UserPoolId=pid)["Groups"])
    assert names == sorted([name, emoji_64])


def test_group_in_missing_pool(cognito):
    with raises_code("ResourceNotFoundException"):
        cognito.create_group(UserPoolId="us-east-1_NoSuchPo0", GroupName="g")
    with raises_code("ResourceNotFoundException"):
        cognito.list_groups(UserPoolId="us-east-1_NoSuchPo0")


def test_deleting_the_pool_deletes_its_groups(cognito, unique):
    pool_id = cognito.create_user_pool(PoolName=unique("pool"))["UserPool"]["Id"]
    cognito.create_group(UserPoolId=pool_id, GroupName="g")
    cognito.delete_user_pool(UserPoolId=pool_id)
    with raises_code("ResourceNotFoundException"):
        cognito.get_group(UserPoolId=pool_id, GroupName="g")


def test_concurrent_create_group_has_exactly_one_winner(daemon, pool):
    pid = pool["Id"]
    n = 8
    clients = [daemon.client() for _ in range(n)]
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def worker(i):
        barrier.wait()
        try:
            clients[i].create_group(UserPoolId=pid, GroupName="race", Description=f"writer-{i}", Precedence=i)
            results[i] = "ok"
        except ClientError as e:
            results[i] = error_code(e)
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            results[i] = repr(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results.count("ok") == 1, results
    assert results.count("GroupExistsException") == n - 1, results
    winner = results.index("ok")
    group = cognito_get(daemon, pid)
    assert group["Description"] == f"writer-{winner}"
    assert group["Precedence"] == winner
    listed = daemon.client().list_groups(UserPoolId=pid)["Groups"]
    assert [g["GroupName"] for g in listed] == ["race"]


def cognito_get(daemon, pid):
    return daemon.client().get_group(UserPoolId=pid, GroupName="race")["Group"]
