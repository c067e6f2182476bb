"""Enumeration safety in time as well as in content: with PreventUserExistenceErrors ENABLED,
ForgotPassword, ResendConfirmationCode and ConfirmForgotPassword answer an unknown username
after the same kind of durable (fsynced) write a real user's answer makes, so the two take
about as long. Calls are interleaved and medians compared with a wide margin (the suite runs on
a shared machine); the point is that no answer skips the write, which costs far more than 2x."""
import statistics
import time
import uuid

import pytest
from botocore.exceptions import ClientError

SAMPLES = 15


def timed(call) -> float:
    started = time.perf_counter()
    try:
        call()
    except ClientError:
        pass
    return time.perf_counter() - started


@pytest.fixture
def hidden(signin_pool_factory):
    sp = signin_pool_factory(pool_kwargs={"AutoVerifiedAttributes": ["email"]},
                             client_settings={"PreventUserExistenceErrors": "ENABLED"})
    return sp


def medians(real_call, ghost_call, before_real=lambda: None) -> tuple[float, float]:
    real, ghost = [], []
    for _ in range(SAMPLES):
        before_real()
        real.append(timed(real_call))
        ghost.append(timed(ghost_call))
    return statistics.median(real), statistics.median(ghost)


def assert_alike(real: float, ghost: float) -> None:
    assert 0.5 <= ghost / real <= 2.0, f"real user {real * 1000:.2f} ms, unknown user {ghost * 1000:.2f} ms"


def test_forgot_password_takes_as_long_for_unknown_users(cognito, hidden):
    sp = hidden
    real = sp.create_user(attributes={"email": f"{uuid.uuid4().hex[:8]}@example.com", "email_verified": "true"})
    client = sp.public.client_id
    a, b = medians(lambda: cognito.forgot_password(ClientId=client, Username=real["Username"]),
                   lambda: cognito.forgot_password(ClientId=client, Username=f"ghost-{uuid.uuid4().hex[:8]}"))
    assert_alike(a, b)
    # A wrong code for a real user is counted (a write); a fresh code before each keeps it below
    # the attempt limit.
    c, d = medians(
        lambda: cognito.confirm_forgot_password(ClientId=client, Username=real["Username"],
                                                ConfirmationCode="000000", Password="Another-Passw0rd!"),
        lambda: cognito.confirm_forgot_password(ClientId=client, Username=f"ghost-{uuid.uuid4().hex[:8]}",
                                                ConfirmationCode="000000", Password="Another-Passw0rd!"),
        before_real=lambda: cognito.forgot_password(ClientId=client, Username=real["Username"]))
    assert_alike(c, d)


def test_resend_confirmation_code_takes_as_long_for_unknown_users(cognito, hidden):
    sp = hidden
    name = sp.username()
    cognito.sign_up(ClientId=sp.public.client_id, Username=name, Password="Correct-Horse-9!",
                    UserAttributes=[{"Name": "email", "Value": f"{uuid.uuid4().hex[:8]}@example.com"}])
    client = sp.public.client_id
    a, b = medians(lambda: cognito.resend_confirmation_code(ClientId=client, Username=name),
                   lambda: cognito.resend_confirmation_code(ClientId=client, Username=f"ghost-{uuid.uuid4().hex[:8]}"))
    assert_alike(a, b)
