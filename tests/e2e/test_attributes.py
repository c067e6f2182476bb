"""Changing attributes (admin and self-service), deleting them, and verifying a changed email with
a code read from the dev outbox."""
from __future__ import annotations

import re
import uuid

from conftest import raises_code
from signin_helpers import PASSWORD


def attrs_of(sp, name: str) -> dict:
    return {a["Name"]: a["Value"] for a in sp.get_user(name)["UserAttributes"]}


def access_token(cognito, sp, name: str) -> str:
    return cognito.initiate_auth(ClientId=sp.public.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                 AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD}
                                 )["AuthenticationResult"]["AccessToken"]


def test_admin_updates_are_checked_against_the_schema(cognito, signin_pool_factory):
    sp = signin_pool_factory(pool_kwargs={"Schema": [
        {"Name": "tenant", "AttributeDataType": "String", "Mutable": False}]})
    name = sp.create_user(attributes={"name": "Ann", "custom:tenant": "t1"})["Username"]
    cognito.admin_update_user_attributes(UserPoolId=sp.pool_id, Username=name,
                                         UserAttributes=[{"Name": "name", "Value": "Ann B."}])
    assert attrs_of(sp, name)["name"] == "Ann B."
    for attribute, why in (("nickname_x", "Attribute does not exist in the schema."),
                           ("sub", "Attribute cannot be updated."),
                           ("custom:tenant", "Attribute cannot be updated.")):
        with raises_code("InvalidParameterException", f"{attribute}: {why}"):
            cognito.admin_update_user_attributes(
                UserPoolId=sp.pool_id, Username=name,
                UserAttributes=[{"Name": "name", "Value": "changed"}, {"Name": attribute, "Value": "x"}])
    after = attrs_of(sp, name)
    assert after["name"] == "Ann B." and after["custom:tenant"] == "t1", "refused calls change nothing"
    with raises_code("UserNotFoundException"):
        cognito.admin_update_user_attributes(UserPoolId=sp.pool_id, Username="nobody-here",
                                             UserAttributes=[{"Name": "name", "Value": "x"}])


def test_a_changed_email_is_unverified_until_its_code_is_entered(daemon, cognito, signin_pool_factory):
    sp = signin_pool_factory(pool_kwargs={"AutoVerifiedAttributes": ["email"]})
    old = f"{uuid.uuid4().hex[:8]}@example.com"
    name = sp.create_user(attributes={"email": old, "email_verified": "true"})["Username"]
    token = access_token(cognito, sp, name)
    new = f"{uuid.uuid4().hex[:8]}@example.org"
    out = cognito.update_user_attributes(AccessToken=token, UserAttributes=[{"Name": "email", "Value": new}])
    assert out["CodeDeliveryDetailsList"] == [{"Destination": f"{new[0]}***@e***", "DeliveryMedium": "EMAIL",
                                               "AttributeName": "email"}]
    assert attrs_of(sp, name)["email"] == new and attrs_of(sp, name)["email_verified"] == "false"
    message = daemon.wait_for_message(sp.pool_id, new)
    assert message["Purpose"] == "attribute_verification"
    code = re.search(r"\d{6}", message["Body"]).group(0)
    wrong = "000000" if code != "000000" else "111111"
    with raises_code("CodeMismatchException"):
        cognito.verify_user_attribute(AccessToken=token, AttributeName="email", Code=wrong)
    cognito.verify_user_attribute(AccessToken=token, AttributeName="email", Code=code)
    assert attrs_of(sp, name)["email_verified"] == "true"
    # A code on request, for an attribute the user has; none for one they lack.
    details = cognito.get_user_attribute_verification_code(AccessToken=token, AttributeName="email")
    assert details["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    assert daemon.wait_for_message(sp.pool_id, new, count=2)["Purpose"] == "attribute_verification"
    with raises_code("InvalidParameterException"):
        cognito.get_user_attribute_verification_code(AccessToken=token, AttributeName="phone_number")
    # An admin change that sets email_verified itself sends nothing and stays verified.
    third = f"{uuid.uuid4().hex[:8]}@example.net"
    cognito.admin_update_user_attributes(UserPoolId=sp.pool_id, Username=name, UserAttributes=[
        {"Name": "email", "Value": third}, {"Name": "email_verified", "Value": "true"}])
    assert attrs_of(sp, name)["email_verified"] == "true"
    assert daemon.outbox(sp.pool_id, third) == []


def test_deleting_attributes(cognito, signin_pool_factory):
    sp = signin_pool_factory(pool_kwargs={"Schema": [{"Name": "email", "AttributeDataType": "String",
                                                      "Required": True, "Mutable": True}]})
    name = sp.create_user(attributes={"email": "a@example.com", "email_verified": "true",
                                      "nickname": "nick", "phone_number": "+12065550100"})["Username"]
    with raises_code("InvalidParameterException", "email: The attribute is required"):
        cognito.admin_delete_user_attributes(UserPoolId=sp.pool_id, Username=name, UserAttributeNames=["email"])
    cognito.admin_delete_user_attributes(UserPoolId=sp.pool_id, Username=name, UserAttributeNames=["nickname"])
    token = access_token(cognito, sp, name)
    cognito.delete_user_attributes(AccessToken=token, UserAttributeNames=["phone_number"])
    after = attrs_of(sp, name)
    assert "nickname" not in after and "phone_number" not in after and after["email"] == "a@example.com"


def test_app_client_read_and_write_permissions(cognito, signin_pool):
    from signin_helpers import TokenVerifier

    sp = signin_pool
    limited = sp.add_client(ReadAttributes=["email", "name"], WriteAttributes=["name"])
    name = sp.create_user(attributes={"email": "p@example.com", "name": "Pat", "nickname": "pp"})["Username"]
    tokens = cognito.initiate_auth(ClientId=limited.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                   AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD})["AuthenticationResult"]
    seen = {a["Name"] for a in cognito.get_user(AccessToken=tokens["AccessToken"])["UserAttributes"]}
    assert seen == {"sub", "email", "name"}
    id_claims = TokenVerifier(sp.daemon, sp.issuer).verify_id(tokens["IdToken"], limited.client_id)
    assert id_claims["name"] == "Pat" and "nickname" not in id_claims
    with raises_code("NotAuthorizedException", "A client attempted to write unauthorized attribute"):
        cognito.update_user_attributes(AccessToken=tokens["AccessToken"],
                                       UserAttributes=[{"Name": "nickname", "Value": "x"}])
    with raises_code("NotAuthorizedException", "A client attempted to write unauthorized attribute"):
        cognito.delete_user_attributes(AccessToken=tokens["AccessToken"], UserAttributeNames=["nickname"])
    cognito.update_user_attributes(AccessToken=tokens["AccessToken"], UserAttributes=[{"Name": "name", "Value": "P."}])
    after = attrs_of(sp, name)
    assert after["name"] == "P." and after["nickname"] == "pp"
    # The unrestricted client still reads everything.
    full = access_token(cognito, sp, name)
    assert "nickname" in {a["Name"] for a in cognito.get_user(AccessToken=full)["UserAttributes"]}


def test_values_must_fit_type_and_constraints_and_custom_attributes_can_be_added(cognito, signin_pool_factory):
    sp = signin_pool_factory(pool_kwargs={"Schema": [
        {"Name": "tier", "AttributeDataType": "String", "StringAttributeConstraints": {"MinLength": "2", "MaxLength": "6"}},
        {"Name": "age", "AttributeDataType": "Number", "NumberAttributeConstraints": {"MinValue": "18", "MaxValue": "130"}},
    ]})
    name = sp.create_user(attributes={"custom:tier": "gold", "custom:age": "30", "email": "ok@example.com"})["Username"]
    bad = [
        ("custom:tier", "platinum", "custom:tier: String must be no longer than 6 characters."),
        ("custom:tier", "x", "custom:tier: String is shorter than the minimum length."),
        ("custom:age", "12", "custom:age: Number is below the minimum value."),
        ("custom:age", "old", "custom:age: Number must be a number."),
        ("email_verified", "yes", "email_verified: Boolean must be true or false."),
        ("email", "not-an-address", "Invalid email address format."),
        ("phone_number", "555-0100", "Invalid phone number format."),
        # Over 2048 characters the request fails the model's own length check first, as in Cognito.
        ("name", "n" * 2049, "Member must have length less than or equal to 2048"),
    ]
    for attribute, value, message in bad:
        with raises_code("InvalidParameterException", message):
            cognito.admin_update_user_attributes(UserPoolId=sp.pool_id, Username=name,
                                                 UserAttributes=[{"Name": attribute, "Value": value}])
        with raises_code("InvalidParameterException", message):
            cognito.admin_create_user(UserPoolId=sp.pool_id, Username=sp.username(), MessageAction="SUPPRESS",
                                      UserAttributes=[{"Name": attribute, "Value": value}])
    after = attrs_of(sp, name)
    assert (after["custom:tier"], after["custom:age"], after["email"]) == ("gold", "30", "ok@example.com")

    # AddCustomAttributes: a new attribute becomes usable; an existing name is refused.
    with raises_code("InvalidParameterException", "custom:plan: Attribute does not exist in the schema."):
        cognito.admin_update_user_attributes(UserPoolId=sp.pool_id, Username=name,
                                             UserAttributes=[{"Name": "custom:plan", "Value": "pro"}])
    cognito.add_custom_attributes(UserPoolId=sp.pool_id, CustomAttributes=[
        {"Name": "plan", "AttributeDataType": "String", "Mutable": True}])
    schema = cognito.describe_user_pool(UserPoolId=sp.pool_id)["UserPool"]["SchemaAttributes"]
    assert "custom:plan" in [a["Name"] for a in schema]
    cognito.admin_update_user_attributes(UserPoolId=sp.pool_id, Username=name,
                                         UserAttributes=[{"Name": "custom:plan", "Value": "pro"}])
    assert attrs_of(sp, name)["custom:plan"] == "pro"
    with raises_code("InvalidParameterException", "Existing attribute already has name custom:tier."):
        cognito.add_custom_attributes(UserPoolId=sp.pool_id, CustomAttributes=[{"Name": "tier"}])


def test_an_update_waits_for_verification_when_the_pool_requires_it(daemon, cognito, signin_pool_factory):
    sp = signin_pool_factory(pool_kwargs={
        "AutoVerifiedAttributes": ["email"],
        "UserAttributeUpdateSettings": {"AttributesRequireVerificationBeforeUpdate": ["email"]},
    })
    old, new = f"{uuid.uuid4().hex[:8]}@example.com", f"{uuid.uuid4().hex[:8]}@example.org"
    name = sp.create_user(attributes={"email": old, "email_verified": "true"})["Username"]
    token = access_token(cognito, sp, name)
    out = cognito.update_user_attributes(AccessToken=token, UserAttributes=[{"Name": "email", "Value": new}])
    assert out["CodeDeliveryDetailsList"][0]["AttributeName"] == "email"
    # Until the new address is verified, the old one stays, verified.
    held = attrs_of(sp, name)
    assert (held["email"], held["email_verified"]) == (old, "true")
    code = re.search(r"\b(\d{6})\b", daemon.wait_for_message(sp.pool_id, new)["Body"]).group(1)
    cognito.verify_user_attribute(AccessToken=token, AttributeName="email", Code=code)
    done = attrs_of(sp, name)
    assert (done["email"], done["email_verified"]) == (new, "true")
    with raises_code("InvalidParameterException", "phone_number is in AttributesRequireVerificationBeforeUpdate"):
        cognito.create_user_pool(PoolName="held-phone", AutoVerifiedAttributes=["email"],
                                 UserAttributeUpdateSettings={"AttributesRequireVerificationBeforeUpdate": ["phone_number"]})
