"""Users (issue 4, part 1): AdminCreateUser (temporary or generated password, attributes,
MessageAction SUPPRESS), AdminGetUser, AdminDeleteUser, AdminSetUserPassword (Permanent true and
false), AdminDisableUser / AdminEnableUser, SignUp + AdminConfirmSignUp, ListUsers with Limit and
PaginationToken, user statuses, the immutable `sub`, username case sensitivity and the password
policy on every password set. All through boto3, as Cognito documents them."""

import datetime
import json

import pytest
from botocore.exceptions import ClientError

from conftest import raises_code, walk_pages
from signin_helpers import (
    NEW_PASSWORD,
    PASSWORD,
    attrs,
    is_uuid,
    secret_hash,
)


def test_admin_create_user_with_temporary_password_and_attributes(signin_pool):
    sp, c = signin_pool, signin_pool.cognito
    name = sp.username("created")
    out = c.admin_create_user(
        UserPoolId=sp.pool_id, Username=name, TemporaryPassword=PASSWORD, MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": "created@example.com"},
                        {"Name": "email_verified", "Value": "true"},
                        {"Name": "name", "Value": "Created User"}],
    )
    user = out["User"]
    assert user["Username"] == name
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert user["Enabled"] is True
    assert isinstance(user["UserCreateDate"], datetime.datetime)
    assert isinstance(user["UserLastModifiedDate"], datetime.datetime)
    a = attrs(user["Attributes"])
    assert is_uuid(a["sub"]), a
    assert a["email"] == "created@example.com"
    assert a["email_verified"] == "true"
    assert a["name"] == "Created User"
    assert PASSWORD not in json.dumps(out, default=str)

    got = c.admin_get_user(UserPoolId=sp.pool_id, Username=name)
    assert got["Username"] == name
    assert got["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert got["Enabled"] is True
    assert attrs(got["UserAttributes"]) == a
    assert got["UserCreateDate"] == user["UserCreateDate"]
    assert PASSWORD not in json.dumps(got, default=str)

    # The temporary password is the one that works, and it leads to the NEW_PASSWORD_REQUIRED challenge.
    with raises_code("NotAuthorizedException", "Incorrect username or password."):
        sp.admin_auth(name, NEW_PASSWORD)
    challenge = sp.admin_auth(name, PASSWORD)
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert "AuthenticationResult" not in challenge


def test_admin_create_user_with_generated_password(signin_pool):
    sp, c = signin_pool, signin_pool.cognito
    name = sp.username("generated")
    user = c.admin_create_user(UserPoolId=sp.pool_id, Username=name, MessageAction="SUPPRESS")["User"]
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert is_uuid(attrs(user["Attributes"])["sub"])
    # Nobody knows the generated password; an admin sets a permanent one.
    with raises_code("NotAuthorizedException", "Incorrect username or password."):
        sp.admin_auth(name, PASSWORD)
    c.admin_set_user_password(UserPoolId=sp.pool_id, Username=name, Password=PASSWORD, Permanent=True)
    assert sp.get_user(name)["UserStatus"] == "CONFIRMED"
    assert "AuthenticationResult" in sp.admin_auth(name, PASSWORD)


def test_admin_create_user_rejects_an_existing_username(signin_pool):
    sp = signin_pool
    user = sp.create_user()
    with raises_code("UsernameExistsException"):
        sp.cognito.admin_create_user(UserPoolId=sp.pool_id, Username=user["Username"], MessageAction="SUPPRESS")
    # In a (default) case-insensitive pool another capitalisation is the same user.
    with raises_code("UsernameExistsException"):
        sp.cognito.admin_create_user(UserPoolId=sp.pool_id, Username=user["Username"].upper(), MessageAction="SUPPRESS")


def test_sub_is_fixed_at_creation(signin_pool):
    sp, c = signin_pool, signin_pool.cognito
    user = sp.create_user(attributes={"email": "sub@example.com"})
    name, sub = user["Username"], attrs(user["Attributes"])["sub"]
    assert is_uuid(sub)
    c.admin_set_user_password(UserPoolId=sp.pool_id, Username=name, Password=NEW_PASSWORD, Permanent=True)
    c.admin_disable_user(UserPoolId=sp.pool_id, Username=name)
    c.admin_enable_user(UserPoolId=sp.pool_id, Username=name)
    assert sp.sub_of(name) == sub
    # Tokens carry the same sub.
    result = sp.tokens(name, NEW_PASSWORD)
    me = c.get_user(AccessToken=result["AccessToken"])
    assert me["Username"] == name
    assert attrs(me["UserAttributes"])["sub"] == sub
    # A user deleted and created again under the same name is a different identity.
    c.admin_delete_user(UserPoolId=sp.pool_id, Username=name)
    again = sp.create_user(name)
    assert attrs(again["Attributes"])["sub"] != sub
    # Two users never share a sub.
    assert attrs(sp.create_user()["Attributes"])["sub"] not in (sub, attrs(again["Attributes"])["sub"])


def test_admin_get_user_of_unknown_user(signin_pool):
    with raises_code("UserNotFoundException", "User does not exist."):
        signin_pool.get_user("nobody-here")


def test_admin_delete_user(signin_pool):
    sp, c = signin_pool, signin_pool.cognito
    user = sp.create_user()
    name = user["Username"]
    tokens = sp.tokens(name)
    assert c.admin_delete_user(UserPoolId=sp.pool_id, Username=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    with raises_code("UserNotFoundException"):
        sp.get_user(name)
    with raises_code("UserNotFoundException"):
        c.admin_delete_user(UserPoolId=sp.pool_id, Username=name)
    with raises_code("UserNotFoundException"):
        sp.password_auth(name)
    # Tokens of a deleted user are worthless.
    for call in (lambda: sp.refresh(tokens["RefreshToken"]), lambda: c.get_user(AccessToken=tokens["AccessToken"])):
        with pytest.raises(ClientError) as info:
            call()
        assert info.value.response["Error"]["Code"] in ("NotAuthorizedException", "UserNotFoundException")


def test_admin_set_user_password_permanent_and_temporary(signin_pool):
    sp, c = signin_pool, signin_pool.cognito
    name = sp.create_user()["Username"]
    assert sp.get_user(name)["UserStatus"] == "CONFIRMED"

    c.admin_set_user_password(UserPoolId=sp.pool_id, Username=name, Password=NEW_PASSWORD, Permanent=False)
    assert sp.get_user(name)["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    with raises_code("NotAuthorizedException", "Incorrect username or password."):
        sp.admin_auth(name, PASSWORD)  # the old password is gone
    assert sp.admin_auth(name, NEW_PASSWORD)["ChallengeName"] == "NEW_PASSWORD_REQUIRED"

    c.admin_set_user_password(UserPoolId=sp.pool_id, Username=name, Password=PASSWORD, Permanent=True)
    assert sp.get_user(name)["UserStatus"] == "CONFIRMED"
    with raises_code("NotAuthorizedException", "Incorrect username or password."):
        sp.admin_auth(name, NEW_PASSWORD)
    assert "AuthenticationResult" in sp.admin_auth(name, PASSWORD)


def test_admin_set_user_password_of_unknown_user(signin_pool):
    with raises_code("UserNotFoundException"):
        signin_pool.cognito.admin_set_user_password(
            UserPoolId=signin_pool.pool_id, Username="nobody-here", Password=PASSWORD, Permanent=True
        )


def test_disable_and_enable_user(signin_pool):
    sp, c = signin_pool, signin_pool.cognito
    name = sp.create_user()["Username"]
    c.admin_disable_user(UserPoolId=sp.pool_id, Username=name)
    got = sp.get_user(name)
    assert got["Enabled"] is False
    assert got["UserStatus"] == "CONFIRMED"
    # Still listed.
    listed = {u["Username"]: u for u in c.list_users(UserPoolId=sp.pool_id)["Users"]}
    assert listed[name]["Enabled"] is False
    with raises_code("NotAuthorizedException", "User is disabled."):
        sp.password_auth(name)
    with raises_code("NotAuthorizedException", "User is disabled."):
        sp.admin_auth(name)

    c.admin_enable_user(UserPoolId=sp.pool_id, Username=name)
    assert sp.get_user(name)["Enabled"] is True
    assert "AuthenticationResult" in sp.password_auth(name)


def test_disable_unknown_user(signin_pool):
    with raises_code("UserNotFoundException"):
        signin_pool.cognito.admin_disable_user(UserPoolId=signin_pool.pool_id, Username="nobody-here")
    with raises_code("UserNotFoundException"):
        signin_pool.cognito.admin_enable_user(UserPoolId=signin_pool.pool_id, Username="nobody-here")


def test_sign_up_then_admin_confirm(signin_pool):
    sp, c = signin_pool, signin_pool.cognito
    name = sp.username("signup")
    out = c.sign_up(ClientId=sp.public.client_id, Username=name, Password=PASSWORD,
                    UserAttributes=[{"Name": "email", "Value": "signup@example.com"}])
    assert out["UserConfirmed"] is False
    assert is_uuid(out["UserSub"])
    got = sp.get_user(name)
    assert got["UserStatus"] == "UNCONFIRMED"
    assert got["Enabled"] is True
    a = attrs(got["UserAttributes"])
    assert a["sub"] == out["UserSub"]
    assert a["email"] == "signup@example.com"

    with raises_code("UserNotConfirmedException", "User is not confirmed."):
        sp.password_auth(name)

    c.admin_confirm_sign_up(UserPoolId=sp.pool_id, Username=name)
    assert sp.get_user(name)["UserStatus"] == "CONFIRMED"
    result = sp.password_auth(name)["AuthenticationResult"]
    assert attrs(c.get_user(AccessToken=result["AccessToken"])["UserAttributes"])["sub"] == out["UserSub"]


def test_sign_up_existing_username(signin_pool):
    sp = signin_pool
    name = sp.create_user()["Username"]
    with raises_code("UsernameExistsException"):
        sp.cognito.sign_up(ClientId=sp.public.client_id, Username=name, Password=PASSWORD)


def test_sign_up_with_confidential_client_needs_secret_hash(signin_pool):
    sp, c = signin_pool, signin_pool.cognito
    name = sp.username("signup-secret")
    with raises_code("NotAuthorizedException"):
        c.sign_up(ClientId=sp.confidential.client_id, Username=name, Password=PASSWORD)
    with raises_code("NotAuthorizedException"):
        c.sign_up(ClientId=sp.confidential.client_id, Username=name, Password=PASSWORD,
                  SecretHash=secret_hash(name, sp.confidential.client_id, "not-the-secret"))
    with raises_code("UserNotFoundException"):
        sp.get_user(name)
    out = c.sign_up(ClientId=sp.confidential.client_id, Username=name, Password=PASSWORD,
                    SecretHash=sp.confidential.hash_for(name))
    assert out["UserConfirmed"] is False
    assert sp.get_user(name)["UserStatus"] == "UNCONFIRMED"


def test_admin_confirm_unknown_user(signin_pool):
    with raises_code("UserNotFoundException"):
        signin_pool.cognito.admin_confirm_sign_up(UserPoolId=signin_pool.pool_id, Username="nobody-here")


def test_list_users_with_limit_and_pagination_token(signin_pool):
    sp, c = signin_pool, signin_pool.cognito
    made = {}
    for i in range(5):
        u = sp.create_user(sp.username(f"list{i}"), attributes={"email": f"list{i}@example.com"})
        made[u["Username"]] = attrs(u["Attributes"])["sub"]
    unconfirmed = sp.username("list-unconfirmed")
    made[unconfirmed] = c.sign_up(ClientId=sp.public.client_id, Username=unconfirmed, Password=PASSWORD)["UserSub"]

    pages = walk_pages(c.list_users, "PaginationToken", max_pages=10, UserPoolId=sp.pool_id, Limit=2)
    seen = []
    for page in pages:
        assert len(page["Users"]) <= 2
        seen.extend(page["Users"])
    assert len(pages) >= 3
    names = [u["Username"] for u in seen]
    assert len(names) == len(set(names)), names
    assert set(names) == set(made)
    for u in seen:
        a = attrs(u["Attributes"])
        assert a["sub"] == made[u["Username"]]
        assert u["Enabled"] is True
        assert isinstance(u["UserCreateDate"], datetime.datetime)
        assert u["UserStatus"] == ("UNCONFIRMED" if u["Username"] == unconfirmed else "CONFIRMED")
        if u["Username"] != unconfirmed:
            assert a["email"].endswith("@example.com")

    everything = c.list_users(UserPoolId=sp.pool_id)["Users"]
    assert {u["Username"] for u in everything} == set(made)


def test_list_users_of_empty_pool(signin_pool):
    out = signin_pool.cognito.list_users(UserPoolId=signin_pool.pool_id)
    assert out["Users"] == []
    assert "PaginationToken" not in out


def test_usernames_are_case_insensitive_by_default(signin_pool):
    sp, c = signin_pool, signin_pool.cognito
    assert c.describe_user_pool(UserPoolId=sp.pool_id)["UserPool"]["UsernameConfiguration"]["CaseSensitive"] is False
    name = sp.username("MixedCase")
    sub = attrs(sp.create_user(name)["Attributes"])["sub"]
    assert sp.sub_of(name.upper()) == sub
    assert sp.sub_of(name.lower()) == sub
    result = sp.password_auth(name.upper())["AuthenticationResult"]
    assert attrs(c.get_user(AccessToken=result["AccessToken"])["UserAttributes"])["sub"] == sub
    c.admin_disable_user(UserPoolId=sp.pool_id, Username=name.lower())
    assert sp.get_user(name)["Enabled"] is False


def test_case_sensitive_pool_keeps_capitalisations_apart(signin_pool_factory):
    sp = signin_pool_factory({"UsernameConfiguration": {"CaseSensitive": True}})
    name = sp.username("Casey")
    first = attrs(sp.create_user(name)["Attributes"])["sub"]
    with raises_code("UserNotFoundException"):
        sp.get_user(name.upper())
    with raises_code("UserNotFoundException"):
        sp.password_auth(name.upper())
    second = attrs(sp.create_user(name.upper(), password=NEW_PASSWORD)["Attributes"])["sub"]
    assert second != first
    assert sp.sub_of(name) == first and sp.sub_of(name.upper()) == second


# ----- password policy, enforced on every way a password is set -----

STRICT_POLICY = {"Policies": {"PasswordPolicy": {"MinimumLength": 12, "RequireUppercase": True,
                                                 "RequireLowercase": True, "RequireNumbers": True,
                                                 "RequireSymbols": True}}}
WEAK = ["Sh0rt!x", "alllowercase-12!", "ALLUPPERCASE-12!", "NoNumbersHere-!", "NoSymbols12345ab"]
STRONG = "Long-Enough-Passw0rd"


def assert_invalid_password(call):
    with raises_code("InvalidPasswordException") as info:
        call()
    assert info.value.response["Error"]["Message"].startswith("Password did not conform with policy"), \
        info.value.response["Error"]


def test_password_policy_on_admin_create_user(signin_pool_factory):
    sp = signin_pool_factory(STRICT_POLICY)
    for i, weak in enumerate(WEAK):
        name = sp.username(f"weak{i}")
        assert_invalid_password(lambda: sp.cognito.admin_create_user(
            UserPoolId=sp.pool_id, Username=name, TemporaryPassword=weak, MessageAction="SUPPRESS"))
        with raises_code("UserNotFoundException"):
            sp.get_user(name)
    name = sp.username("strong")
    sp.cognito.admin_create_user(UserPoolId=sp.pool_id, Username=name, TemporaryPassword=STRONG, MessageAction="SUPPRESS")
    assert sp.get_user(name)["UserStatus"] == "FORCE_CHANGE_PASSWORD"


def test_password_policy_on_admin_set_user_password(signin_pool_factory):
    sp = signin_pool_factory(STRICT_POLICY)
    name = sp.create_user(password=STRONG)["Username"]
    for weak in WEAK:
        for permanent in (True, False):
            assert_invalid_password(lambda: sp.cognito.admin_set_user_password(
                UserPoolId=sp.pool_id, Username=name, Password=weak, Permanent=permanent))
    # Nothing changed: the old password still signs in, the status is unchanged.
    assert sp.get_user(name)["UserStatus"] == "CONFIRMED"
    assert "AuthenticationResult" in sp.admin_auth(name, STRONG)


def test_password_policy_on_sign_up(signin_pool_factory):
    sp = signin_pool_factory(STRICT_POLICY)
    for weak in WEAK:
        name = sp.username("signup-weak")
        assert_invalid_password(lambda: sp.cognito.sign_up(ClientId=sp.public.client_id, Username=name, Password=weak))
        with raises_code("UserNotFoundException"):
            sp.get_user(name)


def test_password_policy_on_new_password_challenge(signin_pool_factory):
    sp = signin_pool_factory(STRICT_POLICY)
    name = sp.create_user(password=STRONG, permanent=False)["Username"]
    challenge = sp.admin_auth(name, STRONG)
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert_invalid_password(lambda: sp.cognito.admin_respond_to_auth_challenge(
        UserPoolId=sp.pool_id, ClientId=sp.public.client_id, ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=challenge["Session"], ChallengeResponses={"USERNAME": name, "NEW_PASSWORD": "weak"}))
    assert sp.get_user(name)["UserStatus"] == "FORCE_CHANGE_PASSWORD"


def test_default_policy_applies_without_policies(signin_pool):
    # Default Cognito policy: 8+ characters with upper, lower, number and symbol.
    sp = signin_pool
    name = sp.create_user()["Username"]
    for weak in ["Aa1!aaa", "alllower1!", "ALLUPPER1!", "NoDigits!!", "NoSymbol12"]:
        assert_invalid_password(lambda: sp.cognito.admin_set_user_password(
            UserPoolId=sp.pool_id, Username=name, Password=weak, Permanent=True))
