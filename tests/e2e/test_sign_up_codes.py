"""Sign-up with real confirmation codes and AdminCreateUser invitations, read back from the dev
outbox (GET /admin/outbox, SigV4-signed): SignUp, ConfirmSignUp, ResendConfirmationCode,
AllowAdminCreateUserOnly, PreventUserExistenceErrors, message templates, MessageAction."""
from __future__ import annotations

import re
import uuid

import pytest
from conftest import raises_code

PASSWORD = "Correct-Horse-9"


@pytest.fixture
def code_pool(signin_pool_factory):
    """A pool that auto-verifies email, with a public client."""
    return signin_pool_factory(pool_kwargs={"AutoVerifiedAttributes": ["email"]})


def sign_up(cognito, client_id: str, username: str, email: str | None = None, **extra) -> dict:
    attrs = [{"Name": "email", "Value": email}] if email else []
    return cognito.sign_up(ClientId=client_id, Username=username, Password=PASSWORD, UserAttributes=attrs, **extra)


def code_in(message: dict) -> str:
    found = re.search(r"\b(\d{6})\b", message["Body"])
    assert found, message
    return found.group(1)


def user_of(cognito, pool_id: str, username: str) -> dict:
    u = cognito.admin_get_user(UserPoolId=pool_id, Username=username)
    return {"status": u["UserStatus"], "attrs": {a["Name"]: a["Value"] for a in u["UserAttributes"]}}


def test_sign_up_sends_a_code_that_confirms_the_user_and_verifies_the_email(daemon, cognito, code_pool):
    name, email = code_pool.username(), f"{uuid.uuid4().hex[:8]}@example.com"
    out = sign_up(cognito, code_pool.public.client_id, name, email)
    assert out["UserConfirmed"] is False
    assert out["CodeDeliveryDetails"] == {
        "Destination": f"{email[0]}***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}
    message = daemon.wait_for_message(code_pool.pool_id, email)
    assert message["Medium"] == "EMAIL" and message["Purpose"] == "sign_up"
    assert message["Subject"] == "Your verification code"
    code = code_in(message)
    assert message["Body"] == f"Your verification code is {code}. "

    wrong = "000000" if code != "000000" else "111111"
    with raises_code("CodeMismatchException", "Invalid verification code provided, please try again."):
        cognito.confirm_sign_up(ClientId=code_pool.public.client_id, Username=name, ConfirmationCode=wrong)
    assert user_of(cognito, code_pool.pool_id, name)["status"] == "UNCONFIRMED"

    cognito.confirm_sign_up(ClientId=code_pool.public.client_id, Username=name, ConfirmationCode=code)
    user = user_of(cognito, code_pool.pool_id, name)
    assert user["status"] == "CONFIRMED"
    assert user["attrs"]["email_verified"] == "true"
    with raises_code("NotAuthorizedException", "User cannot be confirmed. Current status is CONFIRMED"):
        cognito.confirm_sign_up(ClientId=code_pool.public.client_id, Username=name, ConfirmationCode=code)
    # The confirmed user signs in with the password chosen at sign-up.
    tokens = cognito.initiate_auth(ClientId=code_pool.public.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                   AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD})
    assert "AccessToken" in tokens["AuthenticationResult"]


def test_repeated_wrong_codes_lock_until_a_new_code_is_sent(daemon, cognito, code_pool):
    name, email = code_pool.username(), f"{uuid.uuid4().hex[:8]}@example.com"
    sign_up(cognito, code_pool.public.client_id, name, email)
    first = code_in(daemon.wait_for_message(code_pool.pool_id, email))
    wrong = "000000" if first != "000000" else "111111"
    for _ in range(5):
        with raises_code("CodeMismatchException"):
            cognito.confirm_sign_up(ClientId=code_pool.public.client_id, Username=name, ConfirmationCode=wrong)
    # Now even the right code is refused...
    with raises_code("LimitExceededException", "Attempt limit exceeded, please try after some time."):
        cognito.confirm_sign_up(ClientId=code_pool.public.client_id, Username=name, ConfirmationCode=first)
    # ...until a new one is sent; the old one is then dead.
    resent = cognito.resend_confirmation_code(ClientId=code_pool.public.client_id, Username=name)
    assert resent["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    second = code_in(daemon.wait_for_message(code_pool.pool_id, email, count=2))
    if second != first:
        with raises_code("CodeMismatchException"):
            cognito.confirm_sign_up(ClientId=code_pool.public.client_id, Username=name, ConfirmationCode=first)
    cognito.confirm_sign_up(ClientId=code_pool.public.client_id, Username=name, ConfirmationCode=second)
    assert user_of(cognito, code_pool.pool_id, name)["status"] == "CONFIRMED"
    with raises_code("InvalidParameterException", "User is already confirmed."):
        cognito.resend_confirmation_code(ClientId=code_pool.public.client_id, Username=name)


def test_pool_templates_shape_the_message(daemon, cognito, signin_pool_factory):
    sp = signin_pool_factory(pool_kwargs={
        "AutoVerifiedAttributes": ["email"],
        "VerificationMessageTemplate": {"EmailMessage": "Welcome aboard, your code: {####}",
                                        "EmailSubject": "Confirm your account"},
    })
    email = f"{uuid.uuid4().hex[:8]}@example.org"
    sign_up(cognito, sp.public.client_id, sp.username(), email)
    message = daemon.wait_for_message(sp.pool_id, email)
    assert message["Subject"] == "Confirm your account"
    assert re.fullmatch(r"Welcome aboard, your code: \d{6}", message["Body"]), message


def test_without_auto_verification_no_code_is_sent(daemon, cognito, signin_pool):
    name, email = signin_pool.username(), f"{uuid.uuid4().hex[:8]}@example.com"
    out = sign_up(cognito, signin_pool.public.client_id, name, email)
    assert "CodeDeliveryDetails" not in out
    with raises_code("InvalidParameterException", "Cannot resend codes. Auto verification not turned on."):
        cognito.resend_confirmation_code(ClientId=signin_pool.public.client_id, Username=name)
    with raises_code("ExpiredCodeException", "Invalid code provided, please request a code again."):
        cognito.confirm_sign_up(ClientId=signin_pool.public.client_id, Username=name, ConfirmationCode="123456")
    assert daemon.outbox(signin_pool.pool_id) == []


def test_admin_only_pools_refuse_sign_up(cognito, signin_pool_factory):
    sp = signin_pool_factory(pool_kwargs={"AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True}})
    with raises_code("NotAuthorizedException", "SignUp is not permitted for this user pool"):
        sign_up(cognito, sp.public.client_id, sp.username(), "a@example.com")


def test_unknown_users_are_not_revealed_when_the_client_prevents_it(cognito, signin_pool_factory):
    sp = signin_pool_factory(pool_kwargs={"AutoVerifiedAttributes": ["email"]},
                             client_settings={"PreventUserExistenceErrors": "ENABLED"})
    ghost = sp.username("ghost")
    with raises_code("CodeMismatchException"):
        cognito.confirm_sign_up(ClientId=sp.public.client_id, Username=ghost, ConfirmationCode="123456")
    first = cognito.resend_confirmation_code(ClientId=sp.public.client_id, Username=ghost)["CodeDeliveryDetails"]
    again = cognito.resend_confirmation_code(ClientId=sp.public.client_id, Username=ghost)["CodeDeliveryDetails"]
    assert first == again and first["DeliveryMedium"] == "EMAIL"
    assert re.fullmatch(r"[a-z]\*\*\*@[a-z]\*\*\*", first["Destination"]), first
    # A client that does not prevent it says the user does not exist.
    legacy = sp.add_client(PreventUserExistenceErrors="LEGACY")
    for call in (lambda: cognito.resend_confirmation_code(ClientId=legacy.client_id, Username=ghost),
                 lambda: cognito.confirm_sign_up(ClientId=legacy.client_id, Username=ghost, ConfirmationCode="123456")):
        with raises_code("UserNotFoundException", "Username/client id combination not found."):
            call()


def test_admin_create_user_invitations_carry_a_working_temporary_password(daemon, cognito, signin_pool_factory):
    sp = signin_pool_factory(pool_kwargs={"AdminCreateUserConfig": {"InviteMessageTemplate": {
        "EmailSubject": "Welcome", "EmailMessage": "Hello {username}, your temporary password is {####}"}}})
    name, email = sp.username(), f"{uuid.uuid4().hex[:8]}@example.com"
    cognito.admin_create_user(UserPoolId=sp.pool_id, Username=name, DesiredDeliveryMediums=["EMAIL"],
                              UserAttributes=[{"Name": "email", "Value": email}])
    invite = daemon.wait_for_message(sp.pool_id, email)
    assert invite["Purpose"] == "invitation" and invite["Subject"] == "Welcome"
    temporary = re.fullmatch(rf"Hello {name}, your temporary password is (\S+)", invite["Body"]).group(1)

    def sign_in(password: str) -> dict:
        return cognito.admin_initiate_auth(UserPoolId=sp.pool_id, ClientId=sp.public.client_id,
                                           AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                           AuthParameters={"USERNAME": name, "PASSWORD": password})

    assert sign_in(temporary)["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    # RESEND: a new temporary password, and the old one stops working.
    cognito.admin_create_user(UserPoolId=sp.pool_id, Username=name, MessageAction="RESEND",
                              DesiredDeliveryMediums=["EMAIL"])
    second = daemon.wait_for_message(sp.pool_id, email, count=2)
    new_temporary = re.fullmatch(r"Hello .*, your temporary password is (\S+)", second["Body"]).group(1)
    assert new_temporary != temporary
    assert sign_in(new_temporary)["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    with raises_code("NotAuthorizedException"):
        sign_in(temporary)


def test_admin_create_user_message_actions_and_mediums(daemon, cognito, signin_pool):
    pool_id = signin_pool.pool_id
    quiet = signin_pool.username()
    cognito.admin_create_user(UserPoolId=pool_id, Username=quiet, MessageAction="SUPPRESS",
                              UserAttributes=[{"Name": "email", "Value": "quiet@example.com"}])
    with raises_code("InvalidParameterException", "No email provided but desired delivery medium was Email"):
        cognito.admin_create_user(UserPoolId=pool_id, Username=signin_pool.username(), DesiredDeliveryMediums=["EMAIL"])
    with raises_code("UserNotFoundException"):
        cognito.admin_create_user(UserPoolId=pool_id, Username="nobody-here", MessageAction="RESEND")
    confirmed = signin_pool.create_user()  # SUPPRESS + permanent password: CONFIRMED
    with raises_code("UnsupportedUserStateException", "status is not FORCE_CHANGE_PASSWORD"):
        cognito.admin_create_user(UserPoolId=pool_id, Username=confirmed["Username"], MessageAction="RESEND")
    # Nothing was sent for any of these, and the refused calls created no user.
    assert daemon.outbox(pool_id) == []
    users = {u["Username"] for u in cognito.list_users(UserPoolId=pool_id)["Users"]}
    assert users == {quiet, confirmed["Username"]}


def test_the_outbox_is_admin_only(daemon, code_pool):
    r = daemon.http().get(f"{daemon.endpoint}/admin/outbox?UserPoolId={code_pool.pool_id}", timeout=30)
    assert r.status_code == 400 and r.json()["__type"] == "MissingAuthenticationTokenException", r.text
    r = daemon.outbox(code_pool.pool_id, credentials=("AKIAUNKNOWNKEY000000", "x" * 40), expect_status=400)
    assert r.json()["__type"] == "UnrecognizedClientException", r.text
    r = daemon.outbox("us-east-1_doesnotexist", expect_status=400)
    assert r.json()["__type"] == "ResourceNotFoundException", r.text


def test_codes_and_messages_are_not_stored_in_clear_and_survive_a_restart(make_daemon):
    from conftest import GENEROUS_LIMITS
    from signin_helpers import make_signin_pool

    d = make_daemon(GENEROUS_LIMITS)
    cognito = d.client()
    sp = make_signin_pool(d, cognito, {"AutoVerifiedAttributes": ["email"]})
    name, email = sp.username(), f"{uuid.uuid4().hex[:8]}@example.net"
    sign_up(cognito, sp.public.client_id, name, email)
    code = code_in(d.wait_for_message(sp.pool_id, email))
    d.stop()
    raw = b"".join(p.read_bytes() for p in (d.data_dir / "db").iterdir() if p.suffix in (".log", ".sst"))
    assert email.encode() in raw, "the user's own attribute is stored (so the search below is meaningful)"
    assert f"Your verification code is {code}".encode() not in raw
    assert f'"{code}"'.encode() not in raw
    d.start()
    cognito = d.client()
    cognito.confirm_sign_up(ClientId=sp.public.client_id, Username=name, ConfirmationCode=code)
    assert user_of(cognito, sp.pool_id, name)["status"] == "CONFIRMED"


def test_the_outbox_command_prints_the_messages(daemon, cognito, code_pool):
    import subprocess

    from conftest import BIN

    name, email = code_pool.username(), f"{uuid.uuid4().hex[:8]}@example.com"
    sign_up(cognito, code_pool.public.client_id, name, email)
    code = code_in(daemon.wait_for_message(code_pool.pool_id, email))
    run = subprocess.run([BIN, "outbox", "--pool-id", code_pool.pool_id, "--to", email,
                          "--endpoint", daemon.endpoint, "--data-dir", str(daemon.data_dir)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert f"EMAIL sign_up to {email} (user {name})" in run.stdout, run.stdout
    assert "Subject: Your verification code" in run.stdout
    assert f"Your verification code is {code}. " in run.stdout
    assert "1 message(s)" in run.stderr
    # Without the admin key it is refused with the daemon's error.
    bad = daemon.workdir / "bad-credentials"
    bad.write_text("[portcullis]\naws_access_key_id = AKIAUNKNOWNKEY000000\naws_secret_access_key = x\n")
    run = subprocess.run([BIN, "outbox", "--pool-id", code_pool.pool_id, "--endpoint", daemon.endpoint,
                          "--data-dir", str(daemon.data_dir), "--credentials", str(bad)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "UnrecognizedClientException" in run.stderr, run.stderr


def test_confirm_with_link_sends_a_link_that_confirms_the_user(daemon, cognito, signin_pool_factory):
    import html
    import urllib.parse

    sp = signin_pool_factory(pool_kwargs={
        "AutoVerifiedAttributes": ["email"],
        "VerificationMessageTemplate": {"DefaultEmailOption": "CONFIRM_WITH_LINK",
                                        "EmailMessageByLink": "Welcome! {##Confirm your account##} See you.",
                                        "EmailSubjectByLink": "Confirm please"},
    })
    name, email = sp.username(), f"{uuid.uuid4().hex[:8]}@example.com"
    sign_up(cognito, sp.public.client_id, name, email)
    message = daemon.wait_for_message(sp.pool_id, email)
    assert message["Subject"] == "Confirm please"
    found = re.fullmatch(r'Welcome! <a href="([^"]+)">Confirm your account</a> See you\.', message["Body"])
    assert found, message["Body"]
    link = html.unescape(found.group(1))
    parsed = urllib.parse.urlsplit(link)
    assert f"{parsed.scheme}://{parsed.netloc}" == daemon.endpoint and parsed.path == "/confirmUser"
    query = dict(urllib.parse.parse_qsl(parsed.query))
    assert (query["client_id"], query["user_name"]) == (sp.public.client_id, name)

    wrong = dict(query, confirmation_code="000000" if query["confirmation_code"] != "000000" else "111111")
    refused = daemon.get("/confirmUser?" + urllib.parse.urlencode(wrong))
    assert refused.status_code == 400 and "CodeMismatchException" in refused.text
    assert user_of(cognito, sp.pool_id, name)["status"] == "UNCONFIRMED"

    page = daemon.get(f"/confirmUser?{parsed.query}")
    assert page.status_code == 200 and "Your registration has been confirmed!" in page.text
    assert page.headers["content-type"].startswith("text/html")
    user = user_of(cognito, sp.pool_id, name)
    assert (user["status"], user["attrs"]["email_verified"]) == ("CONFIRMED", "true")
    again = daemon.get(f"/confirmUser?{parsed.query}")
    assert again.status_code == 400 and "Current status is CONFIRMED" in again.text
