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
pub fn amz_timestamp(unix: i64) -> String {
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

pub mod sign;
#[cfg(test)]
mod tests;
