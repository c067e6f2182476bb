//! SigV4 verifier tests: botocore-generated vectors and every rejection path.
//! Vectors signed by botocore 1.44.8 itself (`SigV4Auth(Credentials('AKIDEXAMPLE', 'secret'),
//! 'cognito-idp', 'us-east-1')`, clock frozen at 2024-01-01T00:00:00Z by patching
//! `botocore.auth.get_current_datetime`); the canonical requests are the ones botocore signed.

use std::collections::HashMap;

use time::macros::datetime;

use super::*;

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "secret";
const SIGNED_AT: OffsetDateTime = datetime!(2024-01-01 0:00 UTC);
const SCOPE: &str = "Credential=AKIDEXAMPLE/20240101/us-east-1/cognito-idp/aws4_request";

struct Keys(HashMap<&'static str, &'static str>);

impl SecretLookup for Keys {
    fn secret_for(&self, access_key_id: &str) -> Option<String> {
        self.0.get(access_key_id).map(|s| (*s).to_owned())
    }
}

fn keys() -> Keys {
    Keys(HashMap::from([(AKID, SECRET)]))
}

fn verifier() -> Verifier {
    Verifier { region: "us-east-1".to_owned(), service: "cognito-idp".to_owned(), max_skew_secs: 300 }
}

/// One botocore-signed request: what went on the wire, and the canonical request botocore signed.
struct Vector {
    path: &'static str,
    query: &'static str,
    body: &'static [u8],
    headers: &'static [(&'static str, &'static str)],
    canonical: &'static str,
}

impl Vector {
    fn headers(&self) -> Vec<(String, String)> {
        owned(self.headers)
    }
}

fn owned(headers: &[(&str, &str)]) -> Vec<(String, String)> {
    headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
}

fn request<'a>(v: &Vector, headers: &'a [(String, String)], body: &'a [u8]) -> SignedRequest<'a> {
    SignedRequest { method: "POST", path: v.path, query: v.query, headers, body }
}

fn verify_at(v: &Vector, headers: &[(String, String)], body: &[u8], now: OffsetDateTime) -> Result<Caller, Error> {
    verifier().verify(&request(v, headers, body), &keys(), now)
}

fn verify(v: &Vector) -> Result<Caller, Error> {
    verify_at(v, &v.headers(), v.body, SIGNED_AT)
}

/// The vector's headers with `name` replaced by `value` (or removed when `None`).
fn with_header(v: &Vector, name: &str, value: Option<&str>) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> =
        v.headers().into_iter().filter(|(n, _)| !n.eq_ignore_ascii_case(name)).collect();
    if let Some(value) = value {
        headers.push((name.to_owned(), value.to_owned()));
    }
    headers
}

fn expect_err(result: Result<Caller, Error>, kind: ErrorKind, message: &str) {
    let err = result.expect_err("verification should fail");
    assert_eq!((err.kind, err.message.as_str()), (kind, message));
}

fn expect_kind(result: Result<Caller, Error>, kind: ErrorKind) -> String {
    let err = result.expect_err("verification should fail");
    assert_eq!(err.kind, kind, "{}", err.message);
    err.message
}

// botocore: AWSRequest(POST https://127.0.0.1:8443/, data=b'{"MaxResults": 10}', Content-Type, X-Amz-Target).
// The HTTP layer adds Host, User-Agent, Content-Length and Accept-Encoding after signing: unsigned.
const LIST_USER_POOLS: Vector = Vector {
    path: "/",
    query: "",
    body: br#"{"MaxResults": 10}"#,
    headers: &[
        ("Host", "127.0.0.1:8443"),
        ("Accept-Encoding", "identity"),
        ("Content-Type", "application/x-amz-json-1.1"),
        ("X-Amz-Target", "AWSCognitoIdentityProviderService.ListUserPools"),
        ("User-Agent", "Boto3/1.44.8 md/Botocore#1.44.8 ua/2.1 os/linux"),
        ("X-Amz-Date", "20240101T000000Z"),
        (
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/cognito-idp/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
             Signature=c79e5bed001b105fd51bb1019ee1299fd4f5615b8bb70cae8cd7b1832b570120",
        ),
        ("Content-Length", "18"),
    ],
    canonical: "POST\n/\n\n\
        content-type:application/x-amz-json-1.1\n\
        host:127.0.0.1:8443\n\
        x-amz-date:20240101T000000Z\n\
        x-amz-target:AWSCognitoIdentityProviderService.ListUserPools\n\n\
        content-type;host;x-amz-date;x-amz-target\n\
        8a9354f6dcd0e97e1f5804c376b5ed41c550757c400462c08746e820bee8250d",
};

// UTF-8 body (ensure_ascii=False): {"UserPoolId": "us-east-1_Abc", "Username": "zoë-東京",
// "UserAttributes": [{"Name": "name", "Value": "Zoë 🚀"}]}
const NON_ASCII_BODY: Vector = Vector {
    path: "/",
    query: "",
    body: "{\"UserPoolId\": \"us-east-1_Abc\", \"Username\": \"zo\u{eb}-\u{6771}\u{4eac}\", \
           \"UserAttributes\": [{\"Name\": \"name\", \"Value\": \"Zo\u{eb} \u{1f680}\"}]}"
        .as_bytes(),
    headers: &[
        ("host", "127.0.0.1:8443"),
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", "AWSCognitoIdentityProviderService.AdminCreateUser"),
        ("x-amz-date", "20240101T000000Z"),
        (
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/cognito-idp/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
             Signature=69aad8ec622e33cef1ded20ab01a60748121ec6bd4e7d532e1a597af294e36b3",
        ),
    ],
    canonical: "POST\n/\n\n\
        content-type:application/x-amz-json-1.1\n\
        host:127.0.0.1:8443\n\
        x-amz-date:20240101T000000Z\n\
        x-amz-target:AWSCognitoIdentityProviderService.AdminCreateUser\n\n\
        content-type;host;x-amz-date;x-amz-target\n\
        254bc4571215939eae8e1c22ec72681d1f998594aa094395a555c1da4ad09e8f",
};

// JS v3 style: x-amz-content-sha256, amz-sdk-invocation-id, amz-sdk-request and x-amz-user-agent signed,
// values with runs of spaces, and a header sent twice (joined with ',').
const JS_V3_STYLE: Vector = Vector {
    path: "/",
    query: "",
    body: br#"{"UserPoolId":"us-east-1_Abc","Username":"alice"}"#,
    headers: &[
        ("Host", "cognito.example.internal"),
        ("Content-Type", "application/x-amz-json-1.1"),
        ("X-Amz-Target", "AWSCognitoIdentityProviderService.AdminGetUser"),
        ("x-amz-content-sha256", "8569d76de77ca119719c5eca0cba8c70988fd2efbfba6ed2aae7fcef12090994"),
        ("amz-sdk-invocation-id", "3f1a6f1e-1b5e-4d5e-9a51-1c2d3e4f5a6b"),
        ("amz-sdk-request", "attempt=1;  max=3"),
        ("x-amz-user-agent", "  aws-sdk-js/3.600.0   ua/2.1  "),
        ("X-Custom-Repeat", "one"),
        ("X-Custom-Repeat", " two  three "),
        ("X-Amz-Date", "20240101T000000Z"),
        (
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/cognito-idp/aws4_request, \
             SignedHeaders=amz-sdk-invocation-id;amz-sdk-request;content-type;host;x-amz-content-sha256;\
             x-amz-date;x-amz-target;x-amz-user-agent;x-custom-repeat, \
             Signature=faeee8f4dfcbbb0ed6109141264bb4882459bcf0e8a98ad68eda5a934dc6b4b7",
        ),
    ],
    canonical: "POST\n/\n\n\
        amz-sdk-invocation-id:3f1a6f1e-1b5e-4d5e-9a51-1c2d3e4f5a6b\n\
        amz-sdk-request:attempt=1; max=3\n\
        content-type:application/x-amz-json-1.1\n\
        host:cognito.example.internal\n\
        x-amz-content-sha256:8569d76de77ca119719c5eca0cba8c70988fd2efbfba6ed2aae7fcef12090994\n\
        x-amz-date:20240101T000000Z\n\
        x-amz-target:AWSCognitoIdentityProviderService.AdminGetUser\n\
        x-amz-user-agent:aws-sdk-js/3.600.0 ua/2.1\n\
        x-custom-repeat:one,two three\n\n\
        amz-sdk-invocation-id;amz-sdk-request;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target;\
        x-amz-user-agent;x-custom-repeat\n\
        8569d76de77ca119719c5eca0cba8c70988fd2efbfba6ed2aae7fcef12090994",
};

// https://127.0.0.1:8443/a%20b/./c//d~e/../f/?b=2&a=x%2Fy%20z&a=0 — dot segments, empty segments, an
// encoded space (double-encoded in the canonical URI) and an unsorted query with a repeated name.
const ODD_PATH_AND_QUERY: Vector = Vector {
    path: "/a%20b/./c//d~e/../f/",
    query: "b=2&a=x%2Fy%20z&a=0",
    body: b"{}",
    headers: &[
        ("Host", "127.0.0.1:8443"),
        ("Content-Type", "application/x-amz-json-1.1"),
        ("X-Amz-Target", "AWSCognitoIdentityProviderService.ListUserPools"),
        ("X-Amz-Date", "20240101T000000Z"),
        (
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/cognito-idp/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
             Signature=55a7e339934f0a94fe03d8099f424eceeebed2e1c7a9aaec84fde1455c31b32d",
        ),
    ],
    canonical: "POST\n/a%2520b/c/f/\na=0&a=x%2Fy%20z&b=2\n\
        content-type:application/x-amz-json-1.1\n\
        host:127.0.0.1:8443\n\
        x-amz-date:20240101T000000Z\n\
        x-amz-target:AWSCognitoIdentityProviderService.ListUserPools\n\n\
        content-type;host;x-amz-date;x-amz-target\n\
        44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
};

// Session credentials: Credentials('AKIDEXAMPLE', 'secret', 'FQoGZXIvYXdzEXAMPLETOKEN').
const SESSION_TOKEN: Vector = Vector {
    path: "/",
    query: "",
    body: br#"{"MaxResults": 10}"#,
    headers: &[
        ("Host", "127.0.0.1:8443"),
        ("Content-Type", "application/x-amz-json-1.1"),
        ("X-Amz-Target", "AWSCognitoIdentityProviderService.ListUserPools"),
        ("X-Amz-Date", "20240101T000000Z"),
        ("X-Amz-Security-Token", "FQoGZXIvYXdzEXAMPLETOKEN"),
        (
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/cognito-idp/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, \
             Signature=8f3e369c8fd870e26089dd48e503fa23322ce24237d7ff9598c8fb77d0e8fe00",
        ),
    ],
    canonical: "POST\n/\n\n\
        content-type:application/x-amz-json-1.1\n\
        host:127.0.0.1:8443\n\
        x-amz-date:20240101T000000Z\n\
        x-amz-security-token:FQoGZXIvYXdzEXAMPLETOKEN\n\
        x-amz-target:AWSCognitoIdentityProviderService.ListUserPools\n\n\
        content-type;host;x-amz-date;x-amz-security-token;x-amz-target\n\
        8a9354f6dcd0e97e1f5804c376b5ed41c550757c400462c08746e820bee8250d",
};

// payload_signing_enabled=False: botocore signs the literal UNSIGNED-PAYLOAD instead of the body hash.
const UNSIGNED: Vector = Vector {
    path: "/",
    query: "",
    body: br#"{"MaxResults": 10}"#,
    headers: &[
        ("Host", "127.0.0.1:8443"),
        ("Content-Type", "application/x-amz-json-1.1"),
        ("X-Amz-Target", "AWSCognitoIdentityProviderService.ListUserPools"),
        ("X-Amz-Date", "20240101T000000Z"),
        ("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD"),
        (
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/cognito-idp/aws4_request, \
             SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target, \
             Signature=3894564b6593bc95713520d0ef60b181fa52205b1bb4b5d1990fc756dae2e585",
        ),
    ],
    canonical: "POST\n/\n\n\
        content-type:application/x-amz-json-1.1\n\
        host:127.0.0.1:8443\n\
        x-amz-content-sha256:UNSIGNED-PAYLOAD\n\
        x-amz-date:20240101T000000Z\n\
        x-amz-target:AWSCognitoIdentityProviderService.ListUserPools\n\n\
        content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target\n\
        UNSIGNED-PAYLOAD",
};

const SIGNED_VECTORS: [&Vector; 4] = [&LIST_USER_POOLS, &NON_ASCII_BODY, &JS_V3_STYLE, &ODD_PATH_AND_QUERY];

fn signed_header_list(v: &Vector) -> Vec<String> {
    let headers = v.headers();
    let auth = header_values(&headers, "authorization").first().map(|s| (*s).to_owned()).unwrap_or_default();
    let list = auth.split("SignedHeaders=").nth(1).and_then(|s| s.split(',').next()).unwrap_or_default();
    list.split(';').map(str::to_owned).collect()
}

#[test]
fn canonical_requests_match_what_botocore_signed() {
    for v in SIGNED_VECTORS.into_iter().chain([&SESSION_TOKEN]) {
        let headers = v.headers();
        let hash = hex::encode(digest::digest(&digest::SHA256, v.body));
        let canonical = canonical_request(&request(v, &headers, v.body), &signed_header_list(v), &hash);
        assert_eq!(canonical.expect("canonical request"), v.canonical);
    }
    let headers = UNSIGNED.headers();
    let canonical = canonical_request(
        &request(&UNSIGNED, &headers, UNSIGNED.body),
        &signed_header_list(&UNSIGNED),
        UNSIGNED_PAYLOAD,
    );
    assert_eq!(canonical.expect("canonical request"), UNSIGNED.canonical);
}

#[test]
fn botocore_signed_requests_verify() {
    for v in SIGNED_VECTORS {
        assert_eq!(verify(v).expect("botocore vector verifies"), Caller { access_key_id: AKID.to_owned() });
    }
}

#[test]
fn header_names_match_case_insensitively_and_separators_are_flexible() {
    let upper: Vec<(String, String)> =
        LIST_USER_POOLS.headers().into_iter().map(|(n, v)| (n.to_ascii_uppercase(), v)).collect();
    assert!(verify_at(&LIST_USER_POOLS, &upper, LIST_USER_POOLS.body, SIGNED_AT).is_ok());

    let sig = "c79e5bed001b105fd51bb1019ee1299fd4f5615b8bb70cae8cd7b1832b570120";
    for auth in [
        format!("AWS4-HMAC-SHA256 {SCOPE},SignedHeaders=content-type;host;x-amz-date;x-amz-target,Signature={sig}"),
        format!(
            "AWS4-HMAC-SHA256  Signature={sig},  {SCOPE} , SignedHeaders=content-type;host;x-amz-date;x-amz-target"
        ),
    ] {
        let headers = with_header(&LIST_USER_POOLS, "Authorization", Some(&auth));
        assert!(verify_at(&LIST_USER_POOLS, &headers, LIST_USER_POOLS.body, SIGNED_AT).is_ok(), "{auth}");
    }
}

#[test]
fn wrong_secret_is_a_signature_mismatch() {
    let other = Keys(HashMap::from([(AKID, "not-the-secret")]));
    let headers = LIST_USER_POOLS.headers();
    let req = request(&LIST_USER_POOLS, &headers, LIST_USER_POOLS.body);
    expect_err(verifier().verify(&req, &other, SIGNED_AT), ErrorKind::InvalidSignature, SIGNATURE_MISMATCH);
}

#[test]
fn tampering_is_a_signature_mismatch() {
    let v = &NON_ASCII_BODY;
    let tampered = String::from_utf8_lossy(v.body).replace("zoë", "zoe");
    expect_err(
        verify_at(v, &v.headers(), tampered.as_bytes(), SIGNED_AT),
        ErrorKind::InvalidSignature,
        SIGNATURE_MISMATCH,
    );

    let v = &LIST_USER_POOLS;
    let target = with_header(v, "X-Amz-Target", Some("AWSCognitoIdentityProviderService.DeleteUserPool"));
    expect_err(verify_at(v, &target, v.body, SIGNED_AT), ErrorKind::InvalidSignature, SIGNATURE_MISMATCH);

    let mut path_changed = LIST_USER_POOLS;
    path_changed.path = "/other";
    expect_err(verify(&path_changed), ErrorKind::InvalidSignature, SIGNATURE_MISMATCH);

    // A signature that is a prefix, upper-cased, or empty never matches.
    let sig = "c79e5bed001b105fd51bb1019ee1299fd4f5615b8bb70cae8cd7b1832b570120";
    for bad in [&sig[..63], &sig.to_ascii_uppercase(), ""] {
        let auth = format!(
            "AWS4-HMAC-SHA256 {SCOPE}, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={bad}"
        );
        let headers = with_header(v, "Authorization", Some(&auth));
        expect_err(verify_at(v, &headers, v.body, SIGNED_AT), ErrorKind::InvalidSignature, SIGNATURE_MISMATCH);
    }
}

#[test]
fn a_body_that_does_not_match_its_signed_hash_is_refused() {
    let v = &JS_V3_STYLE;
    let body = br#"{"UserPoolId":"us-east-1_Abc","Username":"mallory"}"#;
    expect_err(verify_at(v, &v.headers(), body, SIGNED_AT), ErrorKind::InvalidSignature, CONTENT_SHA256_MISMATCH);
}

#[test]
fn unsigned_payload_is_not_accepted() {
    // The body carries the operation's parameters, so an unauthenticated body is not accepted.
    expect_err(verify(&UNSIGNED), ErrorKind::InvalidSignature, SIGNATURE_MISMATCH);
}

#[test]
fn unknown_keys_and_session_tokens_are_unrecognized() {
    let nobody = Keys(HashMap::new());
    let headers = LIST_USER_POOLS.headers();
    let req = request(&LIST_USER_POOLS, &headers, LIST_USER_POOLS.body);
    expect_err(verifier().verify(&req, &nobody, SIGNED_AT), ErrorKind::UnrecognizedClient, UNRECOGNIZED_CLIENT);
    expect_err(verify(&SESSION_TOKEN), ErrorKind::UnrecognizedClient, UNRECOGNIZED_CLIENT);
}

#[test]
fn missing_authorization_is_a_missing_token() {
    let v = &LIST_USER_POOLS;
    let headers = with_header(v, "authorization", None);
    expect_err(verify_at(v, &headers, v.body, SIGNED_AT), ErrorKind::MissingAuthenticationToken, MISSING_TOKEN);
}

#[test]
fn malformed_authorization_is_an_incomplete_signature() {
    let v = &LIST_USER_POOLS;
    let check = |auth: &str, message: &str| {
        let headers = with_header(v, "Authorization", Some(auth));
        expect_err(verify_at(v, &headers, v.body, SIGNED_AT), ErrorKind::IncompleteSignature, message);
    };
    let auth = format!("AWS4-HMAC-SHA256 {SCOPE}");
    check(
        &auth,
        &format!(
            "Authorization header requires 'Signature' parameter. Authorization header requires \
             'SignedHeaders' parameter. Authorization={auth}"
        ),
    );
    check(
        "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
        "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' \
         parameter. Authorization header requires 'SignedHeaders' parameter. \
         Authorization=Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
    );
    check(
        "AWS4-HMAC-SHA512 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00",
        "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' \
         parameter. Authorization header requires 'SignedHeaders' parameter. \
         Authorization=AWS4-HMAC-SHA512 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00",
    );
    let auth = "AWS4-HMAC-SHA256 Credential= AKIDEXAMPLE/20240101/us-east-1/cognito-idp/aws4_request, \
                SignedHeaders=host, Signature=00";
    check(
        auth,
        &format!(
            "'AKIDEXAMPLE/20240101/us-east-1/cognito-idp/aws4_request' not a valid key=value pair \
             (missing equal-sign) in Authorization header: '{auth}'."
        ),
    );
    check(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/aws4_request, SignedHeaders=host, Signature=00",
        "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, \
         got 'AKIDEXAMPLE/20240101/us-east-1/aws4_request'",
    );
    let auth = format!("AWS4-HMAC-SHA256 {SCOPE}, {SCOPE}, SignedHeaders=host, Signature=00");
    let headers = with_header(v, "Authorization", Some(&auth));
    expect_kind(verify_at(v, &headers, v.body, SIGNED_AT), ErrorKind::IncompleteSignature);
}

#[test]
fn x_amz_date_is_required_and_must_be_basic_iso_8601() {
    let v = &LIST_USER_POOLS;
    let headers = with_header(v, "X-Amz-Date", None);
    let message = expect_kind(verify_at(v, &headers, v.body, SIGNED_AT), ErrorKind::IncompleteSignature);
    let expected = "Authorization header requires existence of a 'X-Amz-Date' header. Authorization=AWS4-HMAC-SHA256 ";
    assert!(message.starts_with(expected), "{message}");

    for bad in ["2024-01-01T00:00:00Z", "20240101T000000", "20241301T000000Z", "20240101T246000Z", "２0240101T000000Z"]
    {
        let headers = with_header(v, "X-Amz-Date", Some(bad));
        expect_err(
            verify_at(v, &headers, v.body, SIGNED_AT),
            ErrorKind::IncompleteSignature,
            &format!("Date must be in ISO-8601 'basic format'. Got '{bad}'. See http://en.wikipedia.org/wiki/ISO_8601"),
        );
    }

    let mut twice = v.headers();
    twice.push(("x-amz-date".to_owned(), "20240101T000000Z".to_owned()));
    expect_kind(verify_at(v, &twice, v.body, SIGNED_AT), ErrorKind::IncompleteSignature);
}

#[test]
fn clock_skew_is_refused_both_ways_with_aws_messages() {
    let v = &LIST_USER_POOLS;
    let headers = v.headers();
    expect_err(
        verify_at(v, &headers, v.body, datetime!(2024-01-01 0:10 UTC)),
        ErrorKind::InvalidSignature,
        "Signature expired: 20240101T000000Z is now earlier than 20240101T000500Z (20240101T001000Z - 5 min.)",
    );
    expect_err(
        verify_at(v, &headers, v.body, datetime!(2023-12-31 23:50 UTC)),
        ErrorKind::InvalidSignature,
        "Signature not yet current: 20240101T000000Z is still later than 20231231T235500Z (20231231T235000Z + 5 min.)",
    );
    // The bounds are inclusive, sub-second clock parts are ignored, and any offset of `now` works.
    assert!(verify_at(v, &headers, v.body, datetime!(2024-01-01 0:05:00.999 UTC)).is_ok());
    assert!(verify_at(v, &headers, v.body, datetime!(2023-12-31 23:55 UTC)).is_ok());
    assert!(verify_at(v, &headers, v.body, datetime!(2024-01-01 2:05 +02:00)).is_ok());
    expect_kind(verify_at(v, &headers, v.body, datetime!(2024-01-01 0:05:01 UTC)), ErrorKind::InvalidSignature);
}

#[test]
fn credential_scope_must_name_this_region_service_and_date() {
    let v = &LIST_USER_POOLS;
    let headers = v.headers();
    let req = request(v, &headers, v.body);
    let other = |region: &str, service: &str| Verifier {
        region: region.to_owned(),
        service: service.to_owned(),
        max_skew_secs: 300,
    };
    expect_err(
        other("eu-west-1", "cognito-idp").verify(&req, &keys(), SIGNED_AT),
        ErrorKind::InvalidSignature,
        "Credential should be scoped to a valid region, not 'us-east-1'.",
    );
    expect_err(
        other("us-east-1", "cognito-identity").verify(&req, &keys(), SIGNED_AT),
        ErrorKind::InvalidSignature,
        "Credential should be scoped to correct service: 'cognito-identity'.",
    );

    let check = |credential: &str, message: &str| {
        let auth = format!("AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host, Signature=00");
        let headers = with_header(v, "Authorization", Some(&auth));
        expect_err(verify_at(v, &headers, v.body, SIGNED_AT), ErrorKind::InvalidSignature, message);
    };
    check(
        "AKIDEXAMPLE/20240102/us-east-1/cognito-idp/aws4_request",
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: \
         '20240102' != '20240101', from '20240101T000000Z'.",
    );
    check(
        "AKIDEXAMPLE/20240101/us-east-1/cognito-idp/aws5_request",
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'.",
    );
    check(
        "AKIDEXAMPLE/20240101/eu-west-1/s3/aws4_request",
        "Credential should be scoped to a valid region, not 'eu-west-1'. \
         Credential should be scoped to correct service: 'cognito-idp'.",
    );
}

#[test]
fn host_must_be_signed_and_signed_headers_must_exist() {
    let v = &LIST_USER_POOLS;
    let auth = format!("AWS4-HMAC-SHA256 {SCOPE}, SignedHeaders=content-type;x-amz-date;x-amz-target, Signature=00");
    let headers = with_header(v, "Authorization", Some(&auth));
    expect_err(verify_at(v, &headers, v.body, SIGNED_AT), ErrorKind::InvalidSignature, HOST_NOT_SIGNED);

    let headers = with_header(v, "X-Amz-Target", None);
    expect_err(
        verify_at(v, &headers, v.body, SIGNED_AT),
        ErrorKind::IncompleteSignature,
        "'x-amz-target' is named as a SignedHeader, but it does not exist in the HTTP request.",
    );
}

#[test]
fn uri_and_query_canonicalisation() {
    assert_eq!(canonical_uri(""), "/");
    assert_eq!(canonical_uri("/"), "/");
    assert_eq!(canonical_uri("//"), "/");
    assert_eq!(canonical_uri("/a/../.."), "/");
    assert_eq!(canonical_uri("/caf%C3%A9/é"), "/caf%25C3%25A9/%C3%A9");
    assert_eq!(canonical_query(""), "");
    assert_eq!(canonical_query("b=&a&c=%7e%zz+"), "a=&b=&c=~%25zz%2B");
    assert_eq!(percent_decode("%41%4a%"), b"AJ%");
    assert_eq!(skew_label(300), "5 min.");
    assert_eq!(skew_label(90), "90 sec.");
    assert_eq!(amz_timestamp(0), "19700101T000000Z");
    assert_eq!(parse_amz_date("19700101T000000Z"), Some(0));
}
