"""ListUsers on 10,000 users (bulk-loaded with `portcullis seed`): filters answered from the
`user_index` table, paging that stays exact while users are created, changed and deleted
between pages, the index following attribute changes, EstimatedNumberOfUsers, and bad filters
and tokens refused with InvalidParameterException."""

import subprocess

import pytest
from conftest import BIN, GENEROUS_LIMITS, Daemon, raises_code, wait_for_binary, walk_pages

USERS = 10_000


@pytest.fixture(scope="module")
def seeded(workroot):
    """A daemon with one pool of USERS seeded users user0000000..user0009999 (email
    {username}@example.com, CONFIRMED)."""
    wait_for_binary()
    d = Daemon(workroot / "list-users-10k", GENEROUS_LIMITS, name="list10k")
    try:
        yield from _seeded(d)
    finally:
        d.close()


def _seeded(d):
    d.start()
    c = d.client()
    pool_id = c.create_user_pool(PoolName="ten-thousand")["UserPool"]["Id"]
    assert d.stop() == 0
    cmd = [BIN, "seed", "--data-dir", str(d.data_dir), "--pool-id", pool_id, "--users", str(USERS),
           "--real-passwords", "0"]
    if d.config_path is not None:
        cmd += ["--config", str(d.config_path)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    d.start()
    yield d, d.client(), pool_id


def names(pages) -> list[str]:
    return [u["Username"] for page in pages for u in page["Users"]]


def test_filters_find_exactly_the_matching_users(seeded):
    d, c, pool_id = seeded
    prefix = names(walk_pages(c.list_users, "PaginationToken", UserPoolId=pool_id, Filter='email ^= "user00042"',
                              Limit=7))
    assert prefix == [f"user00042{i:02}" for i in range(100)]
    exact = c.list_users(UserPoolId=pool_id, Filter='email = "user0004242@example.com"')["Users"]
    assert [u["Username"] for u in exact] == ["user0004242"]
    assert c.list_users(UserPoolId=pool_id, Filter='email = "user0004242"')["Users"] == []
    by_username = c.list_users(UserPoolId=pool_id, Filter='username ^= "user000999"', Limit=60)
    assert names([by_username]) == [f"user000999{i}" for i in range(10)]
    # AttributesToGet trims each user's attributes.
    trimmed = c.list_users(UserPoolId=pool_id, Filter='email = "user0000001@example.com"', AttributesToGet=["email"])
    assert trimmed["Users"][0]["Attributes"] == [{"Name": "email", "Value": "user0000001@example.com"}]


def test_estimated_number_of_users_counts_and_follows_changes(seeded):
    d, c, pool_id = seeded
    before = c.describe_user_pool(UserPoolId=pool_id)["UserPool"]["EstimatedNumberOfUsers"]
    assert before >= USERS
    c.admin_create_user(UserPoolId=pool_id, Username="counted-extra", MessageAction="SUPPRESS")
    assert c.describe_user_pool(UserPoolId=pool_id)["UserPool"]["EstimatedNumberOfUsers"] == before + 1
    c.admin_delete_user(UserPoolId=pool_id, Username="counted-extra")
    assert c.describe_user_pool(UserPoolId=pool_id)["UserPool"]["EstimatedNumberOfUsers"] == before


def test_filtered_paging_is_exact_across_concurrent_writes(seeded):
    """Paging through `email ^= "user0001"` (1,000 users, 25 a page) while, between pages,
    users ahead of the cursor are deleted, new matching users appear ahead of it and matched
    users change unrelated attributes: nobody is listed twice, every user present throughout
    is listed once, deleted ones ahead are not listed, new ones ahead are."""
    d, c, pool_id = seeded
    kw = dict(UserPoolId=pool_id, Filter='email ^= "user0001"', Limit=25)
    page = c.list_users(**kw)
    seen, deleted, added, step = names([page]), [], [], 0
    while "PaginationToken" in page:
        step += 1
        if step <= 20:  # the cursor is below user0001525 then: these are far ahead of it
            doomed = f"user0001{999 - step:03}"
            c.admin_delete_user(UserPoolId=pool_id, Username=doomed)
            deleted.append(doomed)
        new = f"late{step:03}"
        c.admin_create_user(UserPoolId=pool_id, Username=new, MessageAction="SUPPRESS",
                            UserAttributes=[{"Name": "email", "Value": f"user0001zz{step:03}@example.com"}])
        added.append(new)
        c.admin_update_user_attributes(UserPoolId=pool_id, Username=seen[-1],
                                       UserAttributes=[{"Name": "name", "Value": f"touched {step}"}])
        page = c.list_users(**kw, PaginationToken=page["PaginationToken"])
        seen += names([page])
    assert len(seen) == len(set(seen))
    expected = [f"user0001{i:03}" for i in range(1000) if f"user0001{i:03}" not in deleted] + added
    assert sorted(seen) == sorted(expected)
    for username in added + deleted:  # leave the pool as the other tests expect it
        try:
            c.admin_delete_user(UserPoolId=pool_id, Username=username)
        except c.exceptions.UserNotFoundException:
            pass


def test_the_index_follows_attribute_and_status_changes(seeded):
    d, c, pool_id = seeded
    user = "user0000005"

    def listed(expr):
        return names([c.list_users(UserPoolId=pool_id, Filter=expr)])

    c.admin_update_user_attributes(UserPoolId=pool_id, Username=user,
                                   UserAttributes=[{"Name": "email", "Value": "moved@example.org"},
                                                   {"Name": "given_name", "Value": 'Quote "Q" Person'}])
    assert listed('email = "user0000005@example.com"') == []
    assert listed('email = "moved@example.org"') == [user]
    assert listed(r'given_name = "Quote \"Q\" Person"') == [user]
    c.admin_disable_user(UserPoolId=pool_id, Username=user)
    assert user in listed('status = "disabled"') and user not in listed('status ^= "Ena"')
    c.admin_enable_user(UserPoolId=pool_id, Username=user)
    assert user not in listed('status = "Disabled"')
    c.admin_delete_user_attributes(UserPoolId=pool_id, Username=user, UserAttributeNames=["given_name"])
    assert listed('given_name ^= "Quote"') == []


@pytest.mark.parametrize("expr", ['custom:tier = "gold"', 'email ^ "x"', 'email = "unterminated', 'nickname = "x"'])
def test_bad_filters_change_nothing(seeded, expr):
    d, c, pool_id = seeded
    with raises_code("InvalidParameterException"):
        c.list_users(UserPoolId=pool_id, Filter=expr)


def test_a_token_only_continues_its_own_listing(seeded):
    d, c, pool_id = seeded
    token = c.list_users(UserPoolId=pool_id, Filter='email ^= "user0002"', Limit=5)["PaginationToken"]
    with raises_code("InvalidParameterException"):
        c.list_users(UserPoolId=pool_id, Filter='email ^= "user0003"', PaginationToken=token)
    with raises_code("InvalidParameterException"):
        c.list_users(UserPoolId=pool_id, PaginationToken=token)
