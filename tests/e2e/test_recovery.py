"""Password recovery with real codes read from the dev outbox: ForgotPassword, ConfirmForgotPassword,
AdminResetUserPassword, AccountRecoverySetting, and what unknown users see."""
from __future__ import annotations

import re
import uuid

from conftest import raises_code
from signin_helpers import PASSWORD

NEW_PASSWORD = "Brand-New-Passw0rd"


def code_in(message: dict) -> str:
    return re.fullmatch(r"Your password reset code is (\d{6})", message["Body"]).group(1)


def verified_user(sp, **attributes) -> tuple[str, str]:
    """A CONFIRMED user with a verified email (and whatever else is given); returns (name, email)."""
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    attrs = {"email": email, "email_verified": "true", **attributes}
    return sp.create_user(attributes=attrs)["Username"], email


def sign_in(cognito, sp, name: str, password: str) -> dict:
    return cognito.initiate_auth(ClientId=sp.public.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                 AuthParameters={"USERNAME": name, "PASSWORD": password})


def test_forgot_password_sends_a_code_that_sets_a_new_password(daemon, cognito, signin_pool):
    sp = signin_pool
    name, email = verified_user(sp)
    out = cognito.forgot_password(ClientId=sp.public.client_id, Username=name)
    assert out["CodeDeliveryDetails"] == {"Destination": f"{email[0]}***@e***", "DeliveryMedium": "EMAIL",
                                          "AttributeName": "email"}
    message = daemon.wait_for_message(sp.pool_id, email)
    assert message["Purpose"] == "password_reset"
    code = code_in(message)
    # A password the policy refuses does not use the code up.
    with raises_code("InvalidPasswordException"):
        cognito.confirm_forgot_password(ClientId=sp.public.client_id, Username=name, ConfirmationCode=code,
                                        Password="short")
    wrong = "000000" if code != "000000" else "111111"
    with raises_code("CodeMismatchException", "Invalid verification code provided, please try again."):
        cognito.confirm_forgot_password(ClientId=sp.public.client_id, Username=name, ConfirmationCode=wrong,
                                        Password=NEW_PASSWORD)
    assert "AccessToken" in sign_in(cognito, sp, name, PASSWORD)["AuthenticationResult"], "nothing changed yet"
    cognito.confirm_forgot_password(ClientId=sp.public.client_id, Username=name, ConfirmationCode=code,
                                    Password=NEW_PASSWORD)
    assert "AccessToken" in sign_in(cognito, sp, name, NEW_PASSWORD)["AuthenticationResult"]
    with raises_code("NotAuthorizedException", "Incorrect username or password."):
        sign_in(cognito, sp, name, PASSWORD)
    with raises_code("ExpiredCodeException"):  # used up
        cognito.confirm_forgot_password(ClientId=sp.public.client_id, Username=name, ConfirmationCode=code,
                                        Password=PASSWORD)


def test_without_a_verified_address_there_is_no_reset(cognito, signin_pool_factory):
    sp = signin_pool_factory()
    name = sp.create_user(attributes={"email": "unverified@example.com"})["Username"]
    with raises_code("InvalidParameterException",
                     "Cannot reset password for the user as there is no registered/verified email or phone_number"):
        cognito.forgot_password(ClientId=sp.public.client_id, Username=name)
    with raises_code("ExpiredCodeException", "Invalid code provided, please request a code again."):
        cognito.confirm_forgot_password(ClientId=sp.public.client_id, Username=name, ConfirmationCode="123456",
                                        Password=NEW_PASSWORD)
    temporary = sp.create_user(password=None)["Username"]  # FORCE_CHANGE_PASSWORD
    with raises_code("NotAuthorizedException", "User password cannot be reset in the current state."):
        cognito.forgot_password(ClientId=sp.public.client_id, Username=temporary)


def test_unknown_users_get_a_simulated_delivery_only_when_the_client_prevents_errors(daemon, cognito,
                                                                                    signin_pool_factory):
    sp = signin_pool_factory(client_settings={"PreventUserExistenceErrors": "ENABLED"})
    ghost = sp.username("ghost")
    details = cognito.forgot_password(ClientId=sp.public.client_id, Username=ghost)["CodeDeliveryDetails"]
    assert details["DeliveryMedium"] == "EMAIL" and re.fullmatch(r"[a-z]\*\*\*@[a-z]\*\*\*", details["Destination"])
    with raises_code("CodeMismatchException"):
        cognito.confirm_forgot_password(ClientId=sp.public.client_id, Username=ghost, ConfirmationCode="123456",
                                        Password=NEW_PASSWORD)
    # A real user without a verified address looks the same.
    name = sp.create_user(attributes={"email": "nope@example.com"})["Username"]
    assert set(cognito.forgot_password(ClientId=sp.public.client_id, Username=name)["CodeDeliveryDetails"]) == \
        {"Destination", "DeliveryMedium", "AttributeName"}
    assert daemon.outbox(sp.pool_id) == [], "nothing was really sent"
    legacy = sp.add_client(PreventUserExistenceErrors="LEGACY")
    with raises_code("UserNotFoundException", "Username/client id combination not found."):
        cognito.forgot_password(ClientId=legacy.client_id, Username=ghost)


def test_account_recovery_setting_picks_the_medium(daemon, cognito, signin_pool_factory):
    sp = signin_pool_factory(pool_kwargs={"AccountRecoverySetting": {"RecoveryMechanisms": [
        {"Name": "verified_phone_number", "Priority": 2}, {"Name": "verified_email", "Priority": 1}]}})
    name, email = verified_user(sp, phone_number="+12065550142", phone_number_verified="true")
    details = cognito.forgot_password(ClientId=sp.public.client_id, Username=name)["CodeDeliveryDetails"]
    assert details["DeliveryMedium"] == "EMAIL"
    # Cognito's legacy order without the setting: a verified phone first.
    legacy = signin_pool_factory()
    name, _ = verified_user(legacy, phone_number="+12065550143", phone_number_verified="true")
    details = cognito.forgot_password(ClientId=legacy.public.client_id, Username=name)["CodeDeliveryDetails"]
    assert details == {"Destination": "+*******0143", "DeliveryMedium": "SMS", "AttributeName": "phone_number"}
    assert daemon.wait_for_message(legacy.pool_id, "+12065550143")["Medium"] == "SMS"
    admin_only = signin_pool_factory(pool_kwargs={"AccountRecoverySetting": {"RecoveryMechanisms": [
        {"Name": "admin_only", "Priority": 1}]}})
    name, _ = verified_user(admin_only)
    with raises_code("NotAuthorizedException", "Contact administrator to reset password."):
        cognito.forgot_password(ClientId=admin_only.public.client_id, Username=name)


def test_admin_reset_requires_the_code_before_the_next_sign_in(daemon, cognito, signin_pool):
    sp = signin_pool
    name, email = verified_user(sp)
    cognito.admin_reset_user_password(UserPoolId=sp.pool_id, Username=name)
    assert sp.get_user(name)["UserStatus"] == "RESET_REQUIRED"
    with raises_code("PasswordResetRequiredException", "Password reset required for the user"):
        sign_in(cognito, sp, name, PASSWORD)
    code = code_in(daemon.wait_for_message(sp.pool_id, email))
    cognito.confirm_forgot_password(ClientId=sp.public.client_id, Username=name, ConfirmationCode=code,
                                    Password=NEW_PASSWORD)
    assert sp.get_user(name)["UserStatus"] == "CONFIRMED"
    assert "AccessToken" in sign_in(cognito, sp, name, NEW_PASSWORD)["AuthenticationResult"]
    with raises_code("UserNotFoundException"):
        cognito.admin_reset_user_password(UserPoolId=sp.pool_id, Username="nobody-here")


def test_change_password_needs_the_current_one_and_delete_user_removes_the_caller(cognito, signin_pool):
    sp = signin_pool
    name, _ = verified_user(sp)
    access = sign_in(cognito, sp, name, PASSWORD)["AuthenticationResult"]["AccessToken"]
    with raises_code("NotAuthorizedException", "Incorrect username or password."):
        cognito.change_password(AccessToken=access, PreviousPassword="Wrong-Passw0rd!", ProposedPassword=NEW_PASSWORD)
    with raises_code("InvalidPasswordException"):
        cognito.change_password(AccessToken=access, PreviousPassword=PASSWORD, ProposedPassword="short")
    cognito.change_password(AccessToken=access, PreviousPassword=PASSWORD, ProposedPassword=NEW_PASSWORD)
    with raises_code("NotAuthorizedException"):
        sign_in(cognito, sp, name, PASSWORD)
    access = sign_in(cognito, sp, name, NEW_PASSWORD)["AuthenticationResult"]["AccessToken"]
    cognito.delete_user(AccessToken=access)
    with raises_code("UserNotFoundException"):
        sp.get_user(name)
    with raises_code("NotAuthorizedException"):
        cognito.get_user(AccessToken=access)
