"""Usernames and aliases: UsernameAttributes (email / phone as the username, a generated UUID
username), AliasAttributes (sign in with a verified email or a preferred_username), alias
uniqueness and moves (ForceAliasCreation, AdminUpdateUserAttributes), case sensitivity, and
exactly one winner when many users race for one name. Every sign-in flow is tried with the
alias: USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH and SRP through pycognito (USER_ID_FOR_SRP)."""
from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError
from conftest import raises_code
from signin_helpers import PASSWORD, attrs, is_uuid, unverified


def email() -> str:
    return f"{uuid.uuid4().hex[:10]}@example.com"


def code_in(message: dict) -> str:
    found = re.search(r"\b(\d{6})\b", message["Body"])
    assert found, message
    return found.group(1)


def claims_of(result: dict) -> tuple[dict, dict]:
    auth = result["AuthenticationResult"]
    return unverified(auth["IdToken"])[1], unverified(auth["AccessToken"])[1]


def get(sp, name: str) -> dict:
    u = sp.cognito.admin_get_user(UserPoolId=sp.pool_id, Username=name)
    return {"username": u["Username"], "status": u["UserStatus"], "attrs": attrs(u["UserAttributes"])}


def set_attrs(sp, username: str, **values) -> None:
    sp.cognito.admin_update_user_attributes(
        UserPoolId=sp.pool_id, Username=username, UserAttributes=[{"Name": k, "Value": v} for k, v in values.items()]
    )


# ----- email as username -----


@pytest.fixture
def email_pool(signin_pool_factory):
    return signin_pool_factory(pool_kwargs={"UsernameAttributes": ["email"], "AutoVerifiedAttributes": ["email"]})


def test_email_as_username_signs_up_confirms_and_signs_in_by_email(daemon, cognito, email_pool):
    sp, address = email_pool, email()
    typed = address.replace("@", "@EX").replace("@EXexample", "@Example")  # mixed case domain
    out = cognito.sign_up(ClientId=sp.public.client_id, Username=typed, Password=PASSWORD)
    sub = out["UserSub"]
    # The username is a generated UUID, the user's sub; the address became the email attribute.
    user = get(sp, typed)
    assert user["username"] == sub and is_uuid(sub)
    assert user["attrs"]["email"] == typed and user["attrs"]["sub"] == sub
    assert get(sp, sub)["username"] == sub

    code = code_in(daemon.wait_for_message(sp.pool_id, typed))
    cognito.confirm_sign_up(ClientId=sp.public.client_id, Username=address, ConfirmationCode=code)
    assert get(sp, address)["status"] == "CONFIRMED"

    for result in (sp.password_auth(address), sp.admin_auth(typed.upper())):
        id_claims, access_claims = claims_of(result)
        assert id_claims["cognito:username"] == sub and id_claims["email"] == typed
        assert access_claims["username"] == sub
    # SRP: pycognito signs in with the address and proves the password under USER_ID_FOR_SRP.
    signed_in = sp.pycognito_user(address)
    signed_in.authenticate(password=PASSWORD)
    assert unverified(signed_in.id_token)[1]["cognito:username"] == sub
    assert cognito.list_users(UserPoolId=sp.pool_id, Filter=f'email = "{typed}"')["Users"][0]["Username"] == sub


def test_email_as_username_is_unique_and_must_be_an_email(cognito, email_pool):
    sp, address = email_pool, email()
    with raises_code("InvalidParameterException", "Username should be an email."):
        cognito.sign_up(ClientId=sp.public.client_id, Username="plainname", Password=PASSWORD)
    with raises_code("InvalidParameterException", "Username should be an email."):
        cognito.admin_create_user(UserPoolId=sp.pool_id, Username="plainname", MessageAction="SUPPRESS")
    first = cognito.admin_create_user(UserPoolId=sp.pool_id, Username=address, MessageAction="SUPPRESS")["User"]
    assert is_uuid(first["Username"])
    for attempt in (
        lambda: cognito.sign_up(ClientId=sp.public.client_id, Username=address.upper(), Password=PASSWORD),
        lambda: cognito.admin_create_user(UserPoolId=sp.pool_id, Username=address, MessageAction="SUPPRESS"),
    ):
        with raises_code("UsernameExistsException", "An account with the given email already exists."):
            attempt()
    # Changing another user's email to a taken one is refused and changes nothing.
    other = email()
    second = cognito.admin_create_user(UserPoolId=sp.pool_id, Username=other, MessageAction="SUPPRESS")["User"]
    with raises_code("AliasExistsException", "An account with the email already exists."):
        set_attrs(sp, second["Username"], email=address)
    assert get(sp, second["Username"])["attrs"]["email"] == other
    assert get(sp, address)["username"] == first["Username"]
    # Deleting the holder frees the address.
    cognito.admin_delete_user(UserPoolId=sp.pool_id, Username=address)
    cognito.admin_create_user(UserPoolId=sp.pool_id, Username=address, MessageAction="SUPPRESS")


def test_phone_or_email_as_username(cognito, signin_pool_factory):
    sp = signin_pool_factory(pool_kwargs={"UsernameAttributes": ["email", "phone_number"]})
    phone = "+1555" + str(uuid.uuid4().int)[:7]
    user = sp.create_user(phone)
    assert is_uuid(user["Username"]) and attrs(user["Attributes"])["phone_number"] == phone
    assert claims_of(sp.password_auth(phone))[1]["username"] == user["Username"]
    with raises_code("InvalidParameterException", "Username should be either an email or a phone number."):
        cognito.admin_create_user(UserPoolId=sp.pool_id, Username="neither", MessageAction="SUPPRESS")


# ----- aliases -----


@pytest.fixture
def alias_pool(signin_pool_factory):
    return signin_pool_factory(
        pool_kwargs={"AliasAttributes": ["email", "preferred_username"], "AutoVerifiedAttributes": ["email"]}
    )


def test_a_verified_email_alias_signs_in_with_every_flow(cognito, alias_pool):
    sp, address = alias_pool, email()
    with raises_code("InvalidParameterException",
                     "Username cannot be of email format, since user pool is configured for email alias."):
        cognito.admin_create_user(UserPoolId=sp.pool_id, Username=address, MessageAction="SUPPRESS")
    alice = sp.username("alice")
    sp.create_user(alice, attributes={"email": address, "email_verified": "true"})
    for result in (sp.password_auth(address.upper()), sp.admin_auth(address)):
        assert claims_of(result)[0]["cognito:username"] == alice
    signed_in = sp.pycognito_user(address)
    signed_in.authenticate(password=PASSWORD)
    assert unverified(signed_in.access_token)[1]["username"] == alice
    # Admin operations accept the alias too.
    assert get(sp, address)["username"] == alice

    # An unverified copy of the address is allowed, and is not a sign-in name.
    bob = sp.username("bob")
    sp.create_user(bob, attributes={"email": address})
    assert claims_of(sp.password_auth(address))[0]["cognito:username"] == alice


def test_an_unverified_email_is_not_an_alias(cognito, alias_pool):
    sp, address = alias_pool, email()
    sp.create_user(sp.username(), attributes={"email": address})
    with pytest.raises(ClientError) as info:
        sp.password_auth(address)
    assert info.value.response["Error"]["Code"] in ("NotAuthorizedException", "UserNotFoundException")


def test_admin_verification_moves_an_alias_and_force_alias_creation(daemon, cognito, alias_pool):
    sp, address = alias_pool, email()
    alice, bob, carol = sp.username("alice"), sp.username("bob"), sp.username("carol")
    sp.create_user(alice, attributes={"email": address, "email_verified": "true"})
    sp.create_user(bob, attributes={"email": address})
    # An administrator verifying bob's copy moves the alias: alice's address is now unverified.
    set_attrs(sp, bob, email_verified="true")
    assert get(sp, alice)["attrs"]["email_verified"] == "false"
    assert claims_of(sp.password_auth(address))[0]["cognito:username"] == bob

    verified = [{"Name": "email", "Value": address}, {"Name": "email_verified", "Value": "true"}]
    with raises_code("UsernameExistsException", "An account with the given email already exists."):
        cognito.admin_create_user(UserPoolId=sp.pool_id, Username=carol, MessageAction="SUPPRESS",
                                  UserAttributes=verified)
    with pytest.raises(ClientError):
        get(sp, carol)
    cognito.admin_create_user(UserPoolId=sp.pool_id, Username=carol, MessageAction="SUPPRESS",
                              UserAttributes=verified, ForceAliasCreation=True)
    assert get(sp, bob)["attrs"]["email_verified"] == "false"
    assert get(sp, address)["username"] == carol

    # ConfirmSignUp verifies the address: refused while it is carol's alias, moved when forced.
    dave = sp.username("dave")
    cognito.sign_up(ClientId=sp.public.client_id, Username=dave, Password=PASSWORD,
                    UserAttributes=[{"Name": "email", "Value": address}])
    code = code_in(daemon.wait_for_message(sp.pool_id, address))
    with raises_code("AliasExistsException", "An account with the email already exists."):
        cognito.confirm_sign_up(ClientId=sp.public.client_id, Username=dave, ConfirmationCode=code)
    assert get(sp, dave)["status"] == "UNCONFIRMED"
    cognito.confirm_sign_up(ClientId=sp.public.client_id, Username=dave, ConfirmationCode=code,
                            ForceAliasCreation=True)
    assert get(sp, dave)["status"] == "CONFIRMED"
    assert get(sp, address)["username"] == dave
    assert get(sp, carol)["attrs"]["email_verified"] == "false"


def test_preferred_username_is_unique_and_signs_in(cognito, alias_pool):
    sp = alias_pool
    alice, bob = sp.username("alice"), sp.username("bob")
    sp.create_user(alice)
    sp.create_user(bob)
    nickname = f"ally-{uuid.uuid4().hex[:6]}"
    set_attrs(sp, alice, preferred_username=nickname)
    assert claims_of(sp.password_auth(nickname.upper()))[0]["cognito:username"] == alice
    with raises_code("AliasExistsException", "An account with the preferred_username already exists."):
        set_attrs(sp, bob, preferred_username=nickname.upper(), name="Bob")
    assert "preferred_username" not in get(sp, bob)["attrs"] and "name" not in get(sp, bob)["attrs"]
    # A changed nickname releases the old one.
    set_attrs(sp, alice, preferred_username=nickname + "-2")
    set_attrs(sp, bob, preferred_username=nickname)
    assert claims_of(sp.password_auth(nickname))[0]["cognito:username"] == bob


def test_case_sensitive_pool_compares_aliases_exactly(cognito, signin_pool_factory):
    sp = signin_pool_factory(pool_kwargs={"AliasAttributes": ["preferred_username"],
                                          "UsernameConfiguration": {"CaseSensitive": True}})
    upper, lower = sp.username("Upper"), sp.username("lower")
    sp.create_user(upper, attributes={"preferred_username": "Nick"})
    sp.create_user(lower, attributes={"preferred_username": "nick"})
    assert claims_of(sp.password_auth("Nick"))[0]["cognito:username"] == upper
    assert claims_of(sp.password_auth("nick"))[0]["cognito:username"] == lower


# ----- races -----


def outcomes(calls) -> list[str]:
    def run(call):
        try:
            call()
            return "ok"
        except ClientError as e:
            return e.response["Error"]["Code"]

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_one_winner_when_many_sign_up_with_one_email(cognito, email_pool):
    sp, address = email_pool, email()
    calls = [lambda: cognito.sign_up(ClientId=sp.public.client_id, Username=address, Password=PASSWORD)
             for _ in range(12)]
    results = outcomes(calls)
    assert results.count("ok") == 1, results
    assert set(results) == {"ok", "UsernameExistsException"}, results
    listed = cognito.list_users(UserPoolId=sp.pool_id, Filter=f'email = "{address}"')["Users"]
    assert len(listed) == 1


def test_one_winner_when_many_users_claim_one_preferred_username(cognito, alias_pool):
    sp = alias_pool
    names = [sp.username("racer") for _ in range(12)]
    for n in names:
        sp.create_user(n, password=None)
    nickname = f"prize-{uuid.uuid4().hex[:6]}"
    results = outcomes([lambda n=n: set_attrs(sp, n, preferred_username=nickname) for n in names])
    assert results.count("ok") == 1, results
    assert set(results) <= {"ok", "AliasExistsException"}, results
    holders = [n for n in names if get(sp, n)["attrs"].get("preferred_username") == nickname]
    assert len(holders) == 1
    assert get(sp, nickname)["username"] == holders[0]
