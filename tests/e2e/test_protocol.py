"""The AWS JSON 1.1 wire protocol, over raw HTTPS: dispatch, SerializationException,
model validation with Coral's wording, the body-size limit, response headers, HTTP/2.

Every refused request must leave the store as it was: each error test lists every pool before
and after and compares."""

import contextlib
import email.utils
import http.client
import json
import re
import ssl
import uuid

import httpx
import pytest
import requests
from botocore.exceptions import ClientError

from conftest import JSON_CT, TARGET_PREFIX, assert_error, error_code, utcnow

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ONE_MIB = 1024 * 1024


@contextlib.contextmanager
def store_unchanged(daemon):
    before = daemon.list_all_pools()
    yield
    after = daemon.list_all_pools()
    assert after == before, "a refused request changed the store"


def test_health(daemon):
    r = daemon.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_unknown_operation(daemon):
    with store_unchanged(daemon):
        r = daemon.raw("NoSuchOperation", {})
        assert_error(r, "UnknownOperationException")
        # Right operation name, wrong service prefix.
        r = daemon.raw("AWSCognitoIdentityService.ListUserPools", {"MaxResults": 1}, full_target=True)
        assert_error(r, "UnknownOperationException")
        # No X-Amz-Target at all.
        r = daemon.raw(None, {"MaxResults": 1})
        assert_error(r, "UnknownOperationException")


def test_unsupported_model_operation(daemon):
    # An operation of the model that this version does not implement yet (advanced security);
    # when it is implemented, pick another one here.
    r = daemon.raw("DescribeRiskConfiguration", {"UserPoolId": "us-east-1_NoSuchPo0"})
    assert_error(r, "UnsupportedOperationException")


@pytest.mark.parametrize(
    "body",
    [b'{"MaxResults": ', b"not json at all", b"\xff\xfe{}"],
    ids=["truncated", "text", "not-utf8"],
)
def test_malformed_json_is_serialization_exception(daemon, body):
    with store_unchanged(daemon):
        assert_error(daemon.raw("ListUserPools", body), "SerializationException")
        assert_error(daemon.raw("CreateUserPool", body), "SerializationException")


@pytest.mark.parametrize(
    "op,body",
    [
        ("ListUserPools", {"MaxResults": "10"}),
        ("ListUserPools", {"MaxResults": True}),
        ("ListUserPools", [{"MaxResults": 10}]),
        ("CreateUserPool", {"PoolName": {"a": 1}}),
        ("CreateUserPool", {"PoolName": ["p"]}),
        ("CreateUserPool", {"PoolName": "typed", "UserPoolTags": ["a", "b"]}),
        ("CreateUserPool", {"PoolName": "typed", "Policies": {"PasswordPolicy": {"MinimumLength": "8"}}}),
    ],
    ids=["string-for-int", "bool-for-int", "list-for-input", "object-for-string",
         "list-for-string", "list-for-map", "nested-string-for-int"],
)
def test_wrong_json_type_is_serialization_exception(daemon, op, body):
    with store_unchanged(daemon):
        assert_error(daemon.raw(op, json.dumps(body)), "SerializationException")


def test_missing_required_member(daemon):
    with store_unchanged(daemon):
        assert_error(
            daemon.raw("ListUserPools", {}),
            "InvalidParameterException",
            message="1 validation error detected: Value null at 'maxResults' failed to satisfy constraint: "
                    "Member must not be null",
        )
        assert_error(
            daemon.raw("CreateUserPool", {}),
            "InvalidParameterException",
            message="1 validation error detected: Value null at 'poolName' failed to satisfy constraint: "
                    "Member must not be null",
        )


def test_pattern_violation(daemon):
    with store_unchanged(daemon):
        assert_error(
            daemon.raw("DescribeUserPool", {"UserPoolId": "bad id!"}),
            "InvalidParameterException",
            message="1 validation error detected: Value 'bad id!' at 'userPoolId' failed to satisfy constraint: "
                    "Member must satisfy regular expression pattern: [\\w-]+_[0-9a-zA-Z]+",
        )
        assert_error(
            daemon.raw("CreateUserPool", {"PoolName": "semi;colon"}),
            "InvalidParameterException",
            message="1 validation error detected: Value 'semi;colon' at 'poolName' failed to satisfy constraint: "
                    "Member must satisfy regular expression pattern: [\\w\\s+=,.@-]+",
        )


def test_length_violation(daemon):
    long_name = "a" * 129
    with store_unchanged(daemon):
        assert_error(
            daemon.raw("CreateUserPool", {"PoolName": long_name}),
            "InvalidParameterException",
            message=f"1 validation error detected: Value '{long_name}' at 'poolName' failed to satisfy constraint: "
                    "Member must have length less than or equal to 128",
        )
        long_id = "us-east-1_" + "A" * 46  # 56 characters, the limit is 55
        assert_error(
            daemon.raw("DescribeUserPool", {"UserPoolId": long_id}),
            "InvalidParameterException",
            message=f"1 validation error detected: Value '{long_id}' at 'userPoolId' failed to satisfy constraint: "
                    "Member must have length less than or equal to 55",
        )


def test_range_and_multiple_violations(daemon):
    with store_unchanged(daemon):
        assert_error(
            daemon.raw("ListUserPools", {"MaxResults": 61}),
            "InvalidParameterException",
            message="1 validation error detected: Value '61' at 'maxResults' failed to satisfy constraint: "
                    "Member must have value less than or equal to 60",
        )
        long_name = "b" * 129
        body = assert_error(
            daemon.raw("CreateUserPool", {"PoolName": long_name, "Policies": {"PasswordPolicy": {"MinimumLength": 100}}}),
            "InvalidParameterException",
        )
        assert body["message"].startswith("2 validation errors detected: "), body
        parts = body["message"][len("2 validation errors detected: "):].split("; ")
        assert sorted(parts) == sorted([
            f"Value '{long_name}' at 'poolName' failed to satisfy constraint: "
            "Member must have length less than or equal to 128",
            "Value '100' at 'policies.passwordPolicy.minimumLength' failed to satisfy constraint: "
            "Member must have value less than or equal to 99",
        ]), body
        # However many violations, the count in the prefix matches the list.
        body = assert_error(daemon.raw("ListUserPools", {"MaxResults": 0, "NextToken": ""}), "InvalidParameterException")
        m = re.match(r"^(\d+) validation errors? detected: (.*)$", body["message"])
        assert m, body
        assert int(m.group(1)) == len(m.group(2).split("; ")) >= 2, body
        assert "Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1" in body["message"]
        assert "Value '' at 'nextToken' failed to satisfy constraint: Member must have length greater than or equal to 1" in body["message"]


def test_enum_violation_and_nested_path(daemon):
    with store_unchanged(daemon):
        body = assert_error(
            daemon.raw("CreateUserPool", {"PoolName": "enum", "MfaConfiguration": "MAYBE"}),
            "InvalidParameterException",
        )
        prefix = ("1 validation error detected: Value 'MAYBE' at 'mfaConfiguration' failed to satisfy constraint: "
                  "Member must satisfy enum value set: [")
        assert body["message"].startswith(prefix), body
        listed = body["message"][len(prefix):].rstrip("]").split(", ")
        assert sorted(listed) == ["OFF", "ON", "OPTIONAL"], body
        assert_error(
            daemon.raw("CreateUserPool", {"PoolName": "nested", "Policies": {"PasswordPolicy": {"MinimumLength": 2}}}),
            "InvalidParameterException",
            message="1 validation error detected: Value '2' at 'policies.passwordPolicy.minimumLength' failed to "
                    "satisfy constraint: Member must have value greater than or equal to 6",
        )


def oversized_create_body(tag: str) -> bytes:
    body = json.dumps({"PoolName": f"too-big-{tag}", "UserPoolTags": {"pad": "x" * (ONE_MIB + 16)}}).encode()
    assert len(body) > ONE_MIB
    return body


def test_oversized_declared_length_is_413_before_the_body_is_sent(daemon):
    """A Content-Length over server.max_body_bytes is refused from the headers alone."""
    ctx = ssl.create_default_context(cafile=daemon.ca)
    for _ in range(3):
        conn = http.client.HTTPSConnection("127.0.0.1", daemon.port, context=ctx, timeout=15)
        try:
            conn.putrequest("POST", "/")
            conn.putheader("Content-Type", JSON_CT)
            conn.putheader("X-Amz-Target", f"{TARGET_PREFIX}.CreateUserPool")
            conn.putheader("Content-Length", str(2 * ONE_MIB))
            conn.endheaders()
            resp = conn.getresponse()  # no body sent: the server must answer anyway
            payload = resp.read()
        finally:
            conn.close()
        assert resp.status == 413, (resp.status, payload)
        assert resp.getheader("Content-Type") == JSON_CT
        assert resp.getheader("x-amzn-RequestId")
        assert json.loads(payload)["__type"] == "RequestEntityTooLargeException"


def test_oversized_body_is_413(daemon):
    """What a client that sends the whole body (every SDK) receives: the 413 JSON error, every
    time, not a connection torn down under it. Repeated because the failure is a race."""
    with store_unchanged(daemon):
        outcomes = []
        for i in range(5):
            try:
                r = daemon.raw("CreateUserPool", oversized_create_body(f"cl{i}"), session=daemon.new_http_session())
                outcomes.append((r.status_code, r.json().get("__type")))
            except requests.RequestException as e:
                outcomes.append(("connection error", type(e).__name__))
        assert outcomes == [(413, "RequestEntityTooLargeException")] * 5, outcomes


def test_oversized_chunked_body_is_413(daemon):
    """Without Content-Length (chunked transfer) the limit still holds while reading."""
    def chunks(body):
        for i in range(0, len(body), 64 * 1024):
            yield body[i:i + 64 * 1024]

    with store_unchanged(daemon):
        outcomes = []
        for i in range(5):
            body = oversized_create_body(f"ch{i}")
            try:
                r = daemon.raw("CreateUserPool", body, data_override=chunks(body), session=daemon.new_http_session())
                assert r.request.headers.get("Transfer-Encoding") == "chunked"
                outcomes.append((r.status_code, r.json().get("__type")))
            except requests.RequestException as e:
                outcomes.append(("connection error", type(e).__name__))
        assert outcomes == [(413, "RequestEntityTooLargeException")] * 5, outcomes


def test_oversized_request_through_boto3(cognito):
    """botocore does not check maximum lengths, so an oversized request reaches the server; the
    caller must get RequestEntityTooLargeException (an SSLError would also be retried by SDKs)."""
    outcomes = []
    for i in range(3):
        try:
            cognito.create_user_pool(PoolName=f"too-big-boto-{i}", UserPoolTags={"pad": "x" * (ONE_MIB + 16)})
            outcomes.append("created")
        except ClientError as e:
            outcomes.append((e.response["ResponseMetadata"]["HTTPStatusCode"], error_code(e)))
        except Exception as e:  # noqa: BLE001 - the assertion shows it
            outcomes.append(type(e).__name__)
    assert outcomes == [(413, "RequestEntityTooLargeException")] * 3, outcomes


def test_body_just_under_the_limit_is_accepted(daemon):
    """The limit is on the body size, not below it: a large but legal request is processed."""
    pad = "z" * (ONE_MIB - 200)
    # Members the model does not know are ignored, as Cognito's front end does.
    body = json.dumps({"MaxResults": 1, "Padding": pad}).encode()
    assert len(body) <= ONE_MIB
    r = daemon.raw("ListUserPools", body)
    assert r.status_code == 200, r.text[:500]
    assert "UserPools" in r.json()


def test_success_response_headers(daemon):
    r1 = daemon.raw("ListUserPools", {"MaxResults": 1})
    r2 = daemon.raw("ListUserPools", {"MaxResults": 1})
    for r in (r1, r2):
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"] == JSON_CT
        assert UUID_RE.match(r.headers["x-amzn-RequestId"]), r.headers
        assert r.headers.get("Date")
        assert "UserPools" in r.json()
    assert r1.headers["x-amzn-RequestId"] != r2.headers["x-amzn-RequestId"]
    # JS v3 corrects its clock from Date after a skew error: it must be a real, current HTTP date.
    date = email.utils.parsedate_to_datetime(r1.headers["Date"])
    assert abs((utcnow() - date).total_seconds()) < 120, r1.headers["Date"]


def test_timestamps_are_epoch_seconds_on_the_wire(daemon, pool):
    """JSON 1.1 has no timestampFormat here: dates are JSON numbers (seconds), never strings."""
    out = daemon.call("DescribeUserPool", {"UserPoolId": pool["Id"]})["UserPool"]
    for key in ("CreationDate", "LastModifiedDate"):
        assert isinstance(out[key], (int, float)) and not isinstance(out[key], bool), out[key]
        assert abs(out[key] - utcnow().timestamp()) < 600
    listed = daemon.call("ListUserPools", {"MaxResults": 60})["UserPools"]
    assert all(isinstance(p["CreationDate"], (int, float)) for p in listed)


def test_error_response_headers(daemon):
    r = daemon.raw("DescribeUserPool", {"UserPoolId": "us-east-1_NoSuchPo0"})
    assert_error(r, "ResourceNotFoundException")
    assert r.headers["Content-Type"] == JSON_CT
    assert UUID_RE.match(r.headers["x-amzn-RequestId"])
    assert set(r.json()) <= {"__type", "message"}


def test_request_id_reaches_boto3(cognito):
    resp = cognito.list_user_pools(MaxResults=1)
    assert UUID_RE.match(resp["ResponseMetadata"]["RequestId"])


def test_empty_body_counts_as_empty_object(daemon):
    assert_error(
        daemon.raw("ListUserPools", b""),
        "InvalidParameterException",
        message="1 validation error detected: Value null at 'maxResults' failed to satisfy constraint: "
                "Member must not be null",
    )


def test_http2(daemon, unique):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    name = unique("h2")
    body = json.dumps({"PoolName": name}).encode()
    req = AWSRequest(
        method="POST", url=daemon.endpoint + "/", data=body,
        headers={"Content-Type": JSON_CT, "X-Amz-Target": f"{TARGET_PREFIX}.CreateUserPool"},
    )
    SigV4Auth(Credentials(*daemon.credentials()), "cognito-idp", "us-east-1").add_auth(req)
    ctx = ssl.create_default_context(cafile=daemon.ca)
    with httpx.Client(http2=True, verify=ctx, trust_env=False, timeout=30) as h2:
        health = h2.get(daemon.endpoint + "/health")
        assert health.http_version == "HTTP/2"
        assert health.json() == {"status": "ok"}
        r = h2.post(daemon.endpoint + "/", content=body, headers=dict(req.headers.items()))
        assert r.http_version == "HTTP/2"
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == JSON_CT
        assert UUID_RE.match(r.headers["x-amzn-requestid"])
        pool_id = r.json()["UserPool"]["Id"]
        # An error over HTTP/2 is the same JSON error.
        bad = h2.post(daemon.endpoint + "/", content=b"{", headers={
            "Content-Type": JSON_CT, "X-Amz-Target": f"{TARGET_PREFIX}.InitiateAuth"})
        assert bad.status_code == 400
        assert bad.json()["__type"] == "SerializationException"
    assert daemon.call("DescribeUserPool", {"UserPoolId": pool_id})["UserPool"]["Name"] == name
    daemon.call("DeleteUserPool", {"UserPoolId": pool_id})


def test_jwks_of_missing_pool_is_404(daemon):
    r = daemon.get(f"/us-east-1_{uuid.uuid4().hex[:9]}/.well-known/jwks.json")
    assert r.status_code == 404


def test_jwks_shape(daemon, pool):
    jwks = daemon.jwks(pool["Id"])
    assert len(jwks["keys"]) == 1
    key = jwks["keys"][0]
    assert set(key) == {"alg", "e", "kid", "kty", "n", "use"}
    assert key["alg"] == "RS256" and key["kty"] == "RSA" and key["use"] == "sig"
    assert key["e"] == "AQAB"
    assert re.match(r"^[A-Za-z0-9_-]+$", key["n"])  # base64url, no padding
    assert len(key["n"]) in (342, 343)  # 2048-bit modulus
