"""SigV4 on the management operations, as raw HTTP and as boto3 / aws-cli users see it; public
operations are not refused for lack of a signature."""

import datetime
import json

import botocore
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import TARGET_PREFIX, assert_error, error_code, raises_code, utcnow

LIST = {"MaxResults": 1}
SIGNATURE_MISMATCH = "The request signature we calculated does not match"
BAD_TOKEN = "The security token included in the request is invalid."
UNKNOWN_KEY = ("AKIAE2EUNKNOWNKEY000", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
PUBLIC_OP_OUTCOMES = {"UnsupportedOperationException", "ResourceNotFoundException"}
AUTH_ERRORS = {
    "MissingAuthenticationTokenException", "IncompleteSignatureException", "UnrecognizedClientException",
    "InvalidSignatureException", "AccessDeniedException", "ExpiredTokenException",
}


def test_signed_call_succeeds(daemon):
    r = daemon.raw("ListUserPools", LIST)
    assert r.status_code == 200, r.text


def test_unsigned_admin_call_is_missing_authentication_token(daemon):
    before = daemon.list_all_pools()
    assert_error(daemon.raw("ListUserPools", LIST, sign=False), "MissingAuthenticationTokenException")
    assert_error(daemon.raw("CreateUserPool", {"PoolName": "unsigned"}, sign=False),
                 "MissingAuthenticationTokenException")
    assert daemon.list_all_pools() == before


def test_wrong_secret_is_invalid_signature(daemon):
    ak, _ = daemon.credentials()
    r = daemon.raw("ListUserPools", LIST, credentials=(ak, "x" * 40))
    assert_error(r, "InvalidSignatureException", message_startswith=SIGNATURE_MISMATCH)


def test_unknown_key_is_unrecognized_client(daemon):
    r = daemon.raw("ListUserPools", LIST, credentials=UNKNOWN_KEY)
    assert_error(r, "UnrecognizedClientException", message=BAD_TOKEN)


def test_body_changed_after_signing_is_invalid_signature(daemon):
    before = daemon.list_all_pools()
    signed_body = json.dumps({"PoolName": "signed-name"}).encode()
    r = daemon.raw("CreateUserPool", signed_body, data_override=json.dumps({"PoolName": "other-name"}).encode())
    assert_error(r, "InvalidSignatureException", message_startswith=SIGNATURE_MISMATCH)
    assert daemon.list_all_pools() == before


def test_target_changed_after_signing_is_invalid_signature(daemon):
    r = daemon.raw("DescribeUserPool", {"UserPoolId": "us-east-1_NoSuchPo0"})
    assert_error(r, "ResourceNotFoundException")  # control: the signed request itself is fine
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = json.dumps({"UserPoolId": "us-east-1_NoSuchPo0"}).encode()
    req = AWSRequest(method="POST", url=daemon.endpoint + "/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"{TARGET_PREFIX}.DescribeUserPool"})
    SigV4Auth(Credentials(*daemon.credentials()), "cognito-idp", "us-east-1").add_auth(req)
    headers = dict(req.headers.items())
    headers["X-Amz-Target"] = f"{TARGET_PREFIX}.DeleteUserPool"
    r = daemon.http().post(daemon.endpoint + "/", data=body, headers=headers, timeout=30)
    assert_error(r, "InvalidSignatureException", message_startswith=SIGNATURE_MISMATCH)


def test_stale_date_is_signature_expired(daemon):
    r = daemon.raw("ListUserPools", LIST, signing_time=utcnow() - datetime.timedelta(minutes=10))
    assert r.request.headers["X-Amz-Date"] < utcnow().strftime("%Y%m%dT%H%M%SZ")
    assert_error(r, "InvalidSignatureException", message_startswith="Signature expired: ")


def test_future_date_is_signature_not_yet_current(daemon):
    r = daemon.raw("ListUserPools", LIST, signing_time=utcnow() + datetime.timedelta(minutes=10))
    assert_error(r, "InvalidSignatureException", message_startswith="Signature not yet current: ")


def test_small_clock_skew_is_accepted(daemon):
    r = daemon.raw("ListUserPools", LIST, signing_time=utcnow() - datetime.timedelta(minutes=3))
    assert r.status_code == 200, r.text
    r = daemon.raw("ListUserPools", LIST, signing_time=utcnow() + datetime.timedelta(minutes=3))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("region,service", [("eu-west-1", "cognito-idp"), ("us-east-1", "cognito-identity")],
                         ids=["wrong-region", "wrong-service"])
def test_wrong_credential_scope_is_refused(daemon, region, service):
    r = daemon.raw("ListUserPools", LIST, region=region, service=service)
    assert_error(r, "InvalidSignatureException")


def test_authorization_without_signature_is_incomplete(daemon):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = json.dumps(LIST).encode()
    req = AWSRequest(method="POST", url=daemon.endpoint + "/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"{TARGET_PREFIX}.ListUserPools"})
    SigV4Auth(Credentials(*daemon.credentials()), "cognito-idp", "us-east-1").add_auth(req)
    headers = dict(req.headers.items())
    auth = headers["Authorization"]
    headers["Authorization"] = auth.split(", Signature=")[0]
    r = daemon.http().post(daemon.endpoint + "/", data=body, headers=headers, timeout=30)
    assert_error(r, "IncompleteSignatureException")


# ----- as boto3 and aws-cli users see it -----


def test_boto3_wrong_secret(daemon):
    ak, _ = daemon.credentials()
    client = daemon.client(access_key=ak, secret_key="y" * 40)
    with raises_code("InvalidSignatureException", SIGNATURE_MISMATCH) as info:
        client.list_user_pools(MaxResults=1)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert info.value.response["ResponseMetadata"]["RequestId"]


def test_boto3_unknown_key(daemon):
    client = daemon.client(access_key=UNKNOWN_KEY[0], secret_key=UNKNOWN_KEY[1])
    with raises_code("UnrecognizedClientException", BAD_TOKEN):
        client.describe_user_pool(UserPoolId="us-east-1_NoSuchPo0")


def test_session_token_is_unrecognized(daemon):
    """Portcullis issues no temporary credentials, so a request carrying a session token is
    refused like an unknown one, even when the key and secret are the admin's."""
    import boto3

    ak, sk = daemon.credentials()
    session = boto3.session.Session(aws_access_key_id=ak, aws_secret_access_key=sk,
                                    aws_session_token="FwoGZXIvYXdzEXAMPLETOKEN", region_name="us-east-1")
    client = session.client("cognito-idp", endpoint_url=daemon.endpoint, verify=daemon.ca,
                            config=Config(retries={"total_max_attempts": 1}))
    with raises_code("UnrecognizedClientException", BAD_TOKEN):
        client.list_user_pools(MaxResults=1)


def test_boto3_stale_clock(daemon, monkeypatch):
    stale = (utcnow() - datetime.timedelta(minutes=10)).replace(tzinfo=None)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda remove_tzinfo=True: stale)
    with raises_code("InvalidSignatureException", "Signature expired"):
        daemon.client().list_user_pools(MaxResults=1)


def test_aws_cli_unknown_key(daemon, tmp_path):
    creds = tmp_path / "credentials"
    creds.write_text(f"[portcullis]\naws_access_key_id = {UNKNOWN_KEY[0]}\naws_secret_access_key = {UNKNOWN_KEY[1]}\n")
    out = daemon.aws("list-user-pools", "--max-results", "1", check=False,
                     env_extra={"AWS_SHARED_CREDENTIALS_FILE": str(creds)})
    assert out.returncode != 0
    # aws-cli words it "... operation (reached max retries: 0): ..." when retries are configured.
    assert "An error occurred (UnrecognizedClientException) when calling the ListUserPools operation" in out.stderr, out.stderr
    assert BAD_TOKEN in out.stderr, out.stderr


# ----- public operations -----


def test_public_operation_is_not_refused_for_lack_of_signature(daemon):
    body = {
        "AuthFlow": "USER_PASSWORD_AUTH",
        "ClientId": "a" * 26,
        "AuthParameters": {"USERNAME": "alice", "PASSWORD": "Passw0rd!"},
    }
    r = daemon.raw("InitiateAuth", body, sign=False)
    assert r.status_code == 400, r.text
    got = r.json()["__type"]
    assert got not in AUTH_ERRORS, r.text
    assert got in PUBLIC_OP_OUTCOMES, r.text


def test_public_operation_through_boto3(daemon):
    # boto3 sends InitiateAuth unsigned (smithy.api#noAuth), as it would to real Cognito.
    client = daemon.client(signature_version=botocore.UNSIGNED)
    with pytest.raises(ClientError) as info:
        client.initiate_auth(
            AuthFlow="USER_PASSWORD_AUTH", ClientId="a" * 26,
            AuthParameters={"USERNAME": "alice", "PASSWORD": "Passw0rd!"},
        )
    assert error_code(info.value) in PUBLIC_OP_OUTCOMES, info.value.response
