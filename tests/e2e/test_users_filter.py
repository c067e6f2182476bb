"""ListUsers with a Filter: exact and prefix matches on attributes, status and username, paging
through a filtered listing, and Cognito's refusal of attributes it cannot filter on."""

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, walk_pages
from signin_helpers import make_signin_pool, delete_pool


@pytest.fixture
def pool(daemon, cognito, unique):
    sp = make_signin_pool(daemon, cognito)
    yield sp
    delete_pool(cognito, sp.pool_id)


def usernames(response):
    return sorted(u["Username"] for u in response["Users"])


def test_filter_by_attribute_status_and_username(pool, cognito):
    for name, email in (("ann", "ann@example.com"), ("anna", "anna@example.org"), ("bob", "bob@example.com")):
        cognito.admin_create_user(UserPoolId=pool.pool_id, Username=name, MessageAction="SUPPRESS",
                                  UserAttributes=[{"Name": "email", "Value": email}])
    cognito.admin_set_user_password(UserPoolId=pool.pool_id, Username="bob", Password="Correct-Horse-9!",
                                    Permanent=True)
    cognito.admin_disable_user(UserPoolId=pool.pool_id, Username="anna")

    def listed(expr, **kw):
        return usernames(cognito.list_users(UserPoolId=pool.pool_id, Filter=expr, **kw))

    assert listed('email = "ann@example.com"') == ["ann"]
    assert listed('email ^= "ann"') == ["ann", "anna"]
    assert listed('username ^= "an"') == ["ann", "anna"]
    assert listed('"cognito:user_status" = "CONFIRMED"') == ["bob"]
    assert listed('cognito:user_status = "FORCE_CHANGE_PASSWORD"') == ["ann", "anna"]
    assert listed('status = "Disabled"') == ["anna"]
    assert listed('email = "nobody@example.com"') == []
    sub = cognito.admin_get_user(UserPoolId=pool.pool_id, Username="bob")["UserAttributes"][0]["Value"]
    assert listed(f'sub = "{sub}"') == ["bob"]


def test_filtered_listing_pages(pool, cognito):
    for i in range(7):
        cognito.admin_create_user(UserPoolId=pool.pool_id, Username=f"p{i}", MessageAction="SUPPRESS",
                                  UserAttributes=[{"Name": "email", "Value": f"{'x' if i % 2 else 'y'}{i}@e.com"}])
    seen = []
    for page in walk_pages(cognito.list_users, "PaginationToken", UserPoolId=pool.pool_id, Filter='email ^= "x"', Limit=2):
        assert len(page["Users"]) <= 2
        seen += usernames(page)
    assert sorted(seen) == ["p1", "p3", "p5"]


@pytest.mark.parametrize("expr", ['custom:tier = "gold"', "email", 'email = unquoted'])
def test_bad_filters_are_invalid_parameter(pool, cognito, expr):
    with pytest.raises(ClientError) as info:
        cognito.list_users(UserPoolId=pool.pool_id, Filter=expr)
    assert error_code(info.value) == "InvalidParameterException"
