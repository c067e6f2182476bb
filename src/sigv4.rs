//! AWS Signature V4 verification of signed `POST /` JSON requests, with AWS's error names and messages.
//! Owns parsing, scope, clock and signature checks; keys come through [`SecretLookup`], operations live elsewhere.

#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use ring::{digest, hmac};
use subtle::ConstantTimeEq;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use crate::protocol::error::{Error, ErrorKind};

/// What the verifier needs from an HTTP request. Header names are compared case-insensitively.
///
/// The transport passes the request as received: `path` and `query` still percent-encoded, every header
/// occurrence in `headers`. Over HTTP/2 it must supply the `:authority` as a `host` header, since clients
/// sign `host`.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// Raw path, e.g. `/`.
    pub path: &'a str,
    /// Raw query string without `?`, usually empty.
    pub query: &'a str,
    /// `(name, value)` as received; may contain repeats.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// The verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub access_key_id: String,
}

/// Looks up the secret for an access key id; `None` = unknown key.
pub trait SecretLookup {
    fn secret_for(&self, access_key_id: &str) -> Option<String>;
}

/// Verifies SigV4 for one region and service (`cognito-idp`, or `cognito-identity` for identity pools).
pub struct Verifier {
    pub region: String,
    pub service: String,
    /// Allowed distance between `X-Amz-Date` and the server clock; AWS allows 300 (5 minutes).
    pub max_skew_secs: i64,
}

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const TERMINATOR: &str = "aws4_request";
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

const MISSING_TOKEN: &str = "Missing Authentication Token";
const UNRECOGNIZED_CLIENT: &str = "The security token included in the request is invalid.";
const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. \
     Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
const HOST_NOT_SIGNED: &str = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.";
const CONTENT_SHA256_MISMATCH: &str = "The provided 'x-amz-content-sha256' header does not match what was computed.";

impl Verifier {
    /// Checks the request's signature and returns who signed it.
    ///
    /// Checks run in this order, each failing with the error AWS sends: the `Authorization` header is present
    /// (`MissingAuthenticationToken`) and well formed with `X-Amz-Date` (`IncompleteSignature`); the credential
    /// scope names this date, region and service (`InvalidSignature`); the clock is within `max_skew_secs`
    /// (`InvalidSignature`); `host` is signed (`InvalidSignature`) and every signed header is present
    /// (`IncompleteSignature`); the key is known and no session token is sent (`UnrecognizedClient`); then the
    /// body hash and the signature itself (`InvalidSignature`). Everything before the key lookup needs no secret.
    pub fn verify(
        &self,
        req: &SignedRequest<'_>,
        keys: &dyn SecretLookup,
        now: OffsetDateTime,
    ) -> Result<Caller, Error> {
        let Some(authorization) = single_header(req.headers, "Authorization")? else {
            return Err(Error::new(ErrorKind::MissingAuthenticationToken, MISSING_TOKEN));
        };
        let amz_date = single_header(req.headers, "X-Amz-Date")?;
        let auth = AuthHeader::parse(authorization, amz_date.is_some())?;
        // `parse` has already reported a missing X-Amz-Date together with any missing parameter.
        let amz_date = amz_date.ok_or_else(|| incomplete(missing_parts(&[], false, authorization)))?;

        let scope = Scope::parse(auth.credential)?;
        let request_time = parse_amz_date(amz_date).ok_or_else(|| {
            incomplete(format!(
                "Date must be in ISO-8601 'basic format'. Got '{amz_date}'. See http://en.wikipedia.org/wiki/ISO_8601"
            ))
        })?;
        self.check_scope(&scope, amz_date)?;
        self.check_clock(amz_date, request_time, now)?;

        let signed_headers = parse_signed_headers(auth.signed_headers)?;
        let payload_hash = hex::encode(digest::digest(&digest::SHA256, req.body));
        let canonical = canonical_request(req, &signed_headers, &payload_hash)?;

        let secret = keys
            .secret_for(scope.access_key_id)
            .ok_or_else(|| Error::new(ErrorKind::UnrecognizedClient, UNRECOGNIZED_CLIENT))?;
        if !header_values(req.headers, "x-amz-security-token").is_empty() {
            // Portcullis issues no session credentials, so no session token can be valid.
            return Err(Error::new(ErrorKind::UnrecognizedClient, UNRECOGNIZED_CLIENT));
        }
        // JS v3 and S3-style signers send the body hash they signed. The canonical request always carries the
        // hash computed here, so a body that does not match fails even if its header was signed, and an
        // `UNSIGNED-PAYLOAD` request (whose body nothing authenticates) fails as a signature mismatch.
        for claimed in header_values(req.headers, "x-amz-content-sha256") {
            let claimed = claimed.trim();
            if claimed != UNSIGNED_PAYLOAD && claimed != payload_hash {
                return Err(Error::new(ErrorKind::InvalidSignature, CONTENT_SHA256_MISMATCH));
            }
        }

        let string_to_sign = format!(
            "{ALGORITHM}\n{amz_date}\n{}/{}/{}/{}\n{}",
            scope.date,
            scope.region,
            scope.service,
            scope.terminator,
            hex::encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
        );
        let expected = signature(&secret, &scope, &string_to_sign);
        // `ct_eq` on slices of different lengths is a (non-secret) mismatch.
        if bool::from(expected.as_bytes().ct_eq(auth.signature.as_bytes())) {
            Ok(Caller { access_key_id: scope.access_key_id.to_owned() })
        } else {
            Err(Error::new(ErrorKind::InvalidSignature, SIGNATURE_MISMATCH))
        }
    }

    /// Date, region, service and terminator of the credential scope; AWS reports every mismatch at once.
    fn check_scope(&self, scope: &Scope<'_>, amz_date: &str) -> Result<(), Error> {
        let mut problems = Vec::new();
        let http_date = amz_date.get(..8).unwrap_or(amz_date);
        if scope.date != http_date {
            problems.push(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: \
                 '{}' != '{http_date}', from '{amz_date}'.",
                scope.date
            ));
        }
        if scope.region != self.region {
            problems.push(format!("Credential should be scoped to a valid region, not '{}'.", scope.region));
        }
        if scope.service != self.service {
            problems.push(format!("Credential should be scoped to correct service: '{}'.", self.service));
        }
        if scope.terminator != TERMINATOR {
            problems.push(format!(
                "Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{}'.",
                scope.terminator
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::InvalidSignature, problems.join(" ")))
        }
    }

    /// `X-Amz-Date` within `max_skew_secs` of `now`, both ways, in AWS's wording (whole seconds; the bounds
    /// themselves are allowed).
    fn check_clock(&self, amz_date: &str, request_time: i64, now: OffsetDateTime) -> Result<(), Error> {
        let skew = self.max_skew_secs.max(0);
        let now = now.unix_timestamp();
        let earliest = now.saturating_sub(skew);
        let latest = now.saturating_add(skew);
        let window = skew_label(skew);
        if request_time < earliest {
            return Err(Error::new(
                ErrorKind::InvalidSignature,
                format!(
                    "Signature expired: {amz_date} is now earlier than {} ({} - {window})",
                    amz_timestamp(earliest),
                    amz_timestamp(now)
                ),
            ));
        }
        if request_time > latest {
            return Err(Error::new(
                ErrorKind::InvalidSignature,
                format!(
                    "Signature not yet current: {amz_date} is still later than {} ({} + {window})",
                    amz_timestamp(latest),
                    amz_timestamp(now)
                ),
            ));
        }
        Ok(())
    }
}

/// The three parameters of `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
struct AuthHeader<'h> {
    credential: &'h str,
    signed_headers: &'h str,
    signature: &'h str,
}

impl<'h> AuthHeader<'h> {
    /// Parses the header as AWS does: the algorithm, then `key=value` tokens separated by commas and/or
    /// whitespace. A missing parameter or missing `X-Amz-Date` is reported in one message naming each.
    fn parse(value: &'h str, has_amz_date: bool) -> Result<Self, Error> {
        let value_trimmed = value.trim();
        let (algorithm, params) = value_trimmed.split_once([' ', '\t']).unwrap_or((value_trimmed, ""));
        if algorithm != ALGORITHM {
            // Another scheme (SigV2, a bearer token, ...): AWS answers as if every parameter were missing.
            return Err(incomplete(missing_parts(&["Credential", "Signature", "SignedHeaders"], has_amz_date, value)));
        }
        let (mut credential, mut signed_headers, mut signature) = (None, None, None);
        for token in params.split([',', ' ', '\t']).filter(|t| !t.is_empty()) {
            let Some((key, val)) = token.split_once('=') else {
                return Err(incomplete(format!(
                    "'{token}' not a valid key=value pair (missing equal-sign) in Authorization header: '{value}'."
                )));
            };
            let slot = match key {
                "Credential" => &mut credential,
                "SignedHeaders" => &mut signed_headers,
                "Signature" => &mut signature,
                _ => continue,
            };
            if slot.replace(val).is_some() {
                return Err(incomplete(format!(
                    "Authorization header has a repeated '{key}' parameter. Authorization={value}"
                )));
            }
        }
        match (credential, signed_headers, signature) {
            (Some(credential), Some(signed_headers), Some(signature)) if has_amz_date => {
                Ok(Self { credential, signed_headers, signature })
            }
            (credential, signed_headers, signature) => {
                let missing: Vec<&str> = [
                    ("Credential", credential.is_none()),
                    ("Signature", signature.is_none()),
                    ("SignedHeaders", signed_headers.is_none()),
                ]
                .into_iter()
                .filter_map(|(name, absent)| absent.then_some(name))
                .collect();
                Err(incomplete(missing_parts(&missing, has_amz_date, value)))
            }
        }
    }
}

/// AWS's message for an incomplete `Authorization` header. AWS also accepts a `Date` header and says so
/// ("either a 'X-Amz-Date' or a 'Date' header"); Portcullis requires `X-Amz-Date`, which every SDK sends.
fn missing_parts(params: &[&str], has_amz_date: bool, authorization: &str) -> String {
    let mut parts: Vec<String> =
        params.iter().map(|p| format!("Authorization header requires '{p}' parameter.")).collect();
    if !has_amz_date {
        parts.push("Authorization header requires existence of a 'X-Amz-Date' header.".to_owned());
    }
    parts.push(format!("Authorization={authorization}"));
    parts.join(" ")
}

/// `Credential=<AKID>/<YYYYMMDD>/<region>/<service>/aws4_request`.
struct Scope<'c> {
    access_key_id: &'c str,
    date: &'c str,
    region: &'c str,
    service: &'c str,
    terminator: &'c str,
}

impl<'c> Scope<'c> {
    fn parse(credential: &'c str) -> Result<Self, Error> {
        let parts: Vec<&str> = credential.split('/').collect();
        match parts.as_slice() {
            [access_key_id, date, region, service, terminator] => {
                Ok(Self { access_key_id, date, region, service, terminator })
            }
            _ => Err(incomplete(format!(
                "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, \
                 got '{credential}'"
            ))),
        }
    }
}

/// Lower-cased names from `SignedHeaders`, in the order given. `host` (or HTTP/2's `:authority`) must be
/// among them: AWS answers InvalidSignatureException with the message below when it is not.
fn parse_signed_headers(list: &str) -> Result<Vec<String>, Error> {
    let names: Vec<String> = list.split(';').map(str::to_ascii_lowercase).collect();
    if names.iter().any(|n| n == "host" || n == ":authority") {
        Ok(names)
    } else {
        Err(Error::new(ErrorKind::InvalidSignature, HOST_NOT_SIGNED))
    }
}

/// The SigV4 canonical request: method, canonical URI, canonical query, the signed headers' canonical lines,
/// the signed-header list and the payload hash, joined by newlines.
fn canonical_request(req: &SignedRequest<'_>, signed_headers: &[String], payload_hash: &str) -> Result<String, Error> {
    let mut out = String::with_capacity(256 + req.path.len() + req.query.len());
    out.push_str(req.method);
    out.push('\n');
    out.push_str(&canonical_uri(req.path));
    out.push('\n');
    out.push_str(&canonical_query(req.query));
    out.push('\n');
    for name in signed_headers {
        let values = header_values(req.headers, name);
        if values.is_empty() {
            return Err(incomplete(format!(
                "'{name}' is named as a SignedHeader, but it does not exist in the HTTP request."
            )));
        }
        out.push_str(name);
        out.push(':');
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            // Trimmed, with inner runs of whitespace collapsed to one space (botocore's `' '.join(v.split())`).
            for (j, word) in value.split_whitespace().enumerate() {
                if j > 0 {
                    out.push(' ');
                }
                out.push_str(word);
            }
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(payload_hash);
    Ok(out)
}

/// The path as the SDKs sign it for every service but S3: dot segments and empty segments removed (a
/// trailing slash kept), then URI-encoded once more. The raw path is already percent-encoded, so `%20` on
/// the wire becomes `%2520` here: the "double encoding" of non-S3 SigV4.
fn canonical_uri(raw_path: &str) -> String {
    if raw_path.is_empty() {
        return "/".to_owned();
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in raw_path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut path = String::with_capacity(raw_path.len() + 1);
    if raw_path.starts_with('/') {
        path.push('/');
    }
    path.push_str(&segments.join("/"));
    if raw_path.ends_with('/') && !segments.is_empty() {
        path.push('/');
    }
    uri_encode(path.as_bytes(), true)
}

/// Query parameters decoded, re-encoded with SigV4's rules and sorted by name, then value.
fn canonical_query(raw_query: &str) -> String {
    let mut pairs: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (uri_encode(&percent_decode(key), false), uri_encode(&percent_decode(value), false))
        })
        .collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// SigV4 URI encoding: unreserved characters (`A-Z a-z 0-9 - _ . ~`) as is, every other byte as `%XX`
/// (upper-case hex); `/` kept when encoding a path.
fn uri_encode(bytes: &[u8], keep_slash: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0')));
            out.push(char::from(HEX.get(usize::from(b & 0x0f)).copied().unwrap_or(b'0')));
        }
    }
    out
}

/// `%XX` sequences decoded; a `%` not followed by two hex digits stays literal (and is re-encoded as `%25`).
fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = bytes.get(i + 1).and_then(|c| char::from(*c).to_digit(16));
            let lo = bytes.get(i + 2).and_then(|c| char::from(*c).to_digit(16));
            if let (Some(hi), Some(lo)) = (hi, lo) {
                // Two hex digits are at most 0xff.
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'%'));
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// The hex signature: HMAC chain `"AWS4"+secret → date → region → service → "aws4_request"`, then the
/// string to sign.
fn signature(secret: &str, scope: &Scope<'_>, string_to_sign: &str) -> String {
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in [scope.date, scope.region, scope.service, scope.terminator] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    hex::encode(hmac_sha256(&key, string_to_sign.as_bytes()))
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), message).as_ref().to_vec()
}

/// All values of a header, in the order received.
fn header_values<'r>(headers: &'r [(String, String)], name: &str) -> Vec<&'r str> {
    headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
}

/// The value of a header that must not repeat (`Authorization`, `X-Amz-Date`): a repeat makes it ambiguous
/// which one was meant, so it is refused.
fn single_header<'r>(headers: &'r [(String, String)], name: &str) -> Result<Option<&'r str>, Error> {
    match header_values(headers, name).as_slice() {
        [] => Ok(None),
        [value] => Ok(Some(value)),
        _ => Err(incomplete(format!("The request has more than one '{name}' header."))),
    }
}

/// `YYYYMMDDTHHMMSSZ` (ISO 8601 basic format, UTC) as Unix seconds.
fn parse_amz_date(s: &str) -> Option<i64> {
    let bytes = s.as_bytes();
    if bytes.len() != 16 || bytes.get(8) != Some(&b'T') || bytes.get(15) != Some(&b'Z') {
        return None;
    }
    let field = |from: usize, to: usize| -> Option<u16> {
        let digits = s.get(from..to)?;
        if digits.bytes().all(|b| b.is_ascii_digit()) {
            digits.parse().ok()
        } else {
            None
        }
    };
    let small = |from: usize, to: usize| field(from, to).and_then(|v| u8::try_from(v).ok());
    let date =
        Date::from_calendar_date(i32::from(field(0, 4)?), Month::try_from(small(4, 6)?).ok()?, small(6, 8)?).ok()?;
    let time = Time::from_hms(small(9, 11)?, small(11, 13)?, small(13, 15)?).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc().unix_timestamp())
}

/// Unix seconds as `YYYYMMDDTHHMMSSZ` (falls back to the number outside the calendar's range).
fn amz_timestamp(unix: i64) -> String {
    match OffsetDateTime::from_unix_timestamp(unix) {
        Ok(t) => format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => unix.to_string(),
    }
}

/// The skew as AWS writes it in clock errors: `5 min.`.
fn skew_label(secs: i64) -> String {
    if secs % 60 == 0 {
        format!("{} min.", secs / 60)
    } else {
        format!("{secs} sec.")
    }
}

fn incomplete(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::IncompleteSignature, message)
}

#[cfg(test)]
mod tests {
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
        let expected =
            "Authorization header requires existence of a 'X-Amz-Date' header. Authorization=AWS4-HMAC-SHA256 ";
        assert!(message.starts_with(expected), "{message}");

        for bad in
            ["2024-01-01T00:00:00Z", "20240101T000000", "20241301T000000Z", "20240101T246000Z", "２0240101T000000Z"]
        {
            let headers = with_header(v, "X-Amz-Date", Some(bad));
            expect_err(
                verify_at(v, &headers, v.body, SIGNED_AT),
                ErrorKind::IncompleteSignature,
                &format!(
                    "Date must be in ISO-8601 'basic format'. Got '{bad}'. See http://en.wikipedia.org/wiki/ISO_8601"
                ),
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
        let auth =
            format!("AWS4-HMAC-SHA256 {SCOPE}, SignedHeaders=content-type;x-amz-date;x-amz-target, Signature=00");
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
}
