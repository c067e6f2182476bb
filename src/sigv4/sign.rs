//! The client side of SigV4: signing requests as botocore's `SigV4Auth` does, and reading an access
//! key from an AWS shared-credentials file (the daemon's `{data_dir}/credentials`). Used by the
//! load generator's admin calls and by `portcullis outbox`.

use std::path::Path;

use ring::{digest, hmac};
use time::OffsetDateTime;

/// An access key pair from a shared-credentials profile.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

impl Credentials {
    /// Reads `aws_access_key_id` and `aws_secret_access_key` of `[profile]` from an INI-style
    /// shared-credentials file.
    pub fn from_file(path: &Path, profile: &str) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text, profile).ok_or_else(|| {
            format!("{}: no [{profile}] with aws_access_key_id and aws_secret_access_key", path.display())
        })
    }

    fn parse(text: &str, profile: &str) -> Option<Self> {
        let (mut section, mut id, mut secret) = (String::new(), None, None);
        for line in text.lines().map(str::trim) {
            if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.trim().to_owned();
                continue;
            }
            if section != profile {
                continue;
            }
            if let Some((key, value)) = line.split_once('=') {
                match key.trim() {
                    "aws_access_key_id" => id = Some(value.trim().to_owned()),
                    "aws_secret_access_key" => secret = Some(value.trim().to_owned()),
                    _ => {}
                }
            }
        }
        Some(Self { access_key_id: id?, secret_access_key: secret? })
    }
}

/// Signs requests for one region and service, as botocore's `SigV4Auth` does for cognito-idp.
#[derive(Debug, Clone)]
pub struct Signer {
    pub credentials: Credentials,
    pub region: String,
    pub service: String,
}

impl Signer {
    /// The `X-Amz-Date` and `Authorization` headers for `POST /` with these headers and body.
    /// `host` is the value sent in the `Host` header; content type, host, date and target are signed.
    pub fn sign(&self, host: &str, target: &str, body: &[u8], now: OffsetDateTime) -> [(&'static str, String); 2] {
        let headers = [("content-type", JSON_CONTENT_TYPE), ("host", host), ("x-amz-target", target)];
        self.sign_request("POST", "/", "", &headers, body, now)
    }

    /// The `X-Amz-Date` and `Authorization` headers for any request. `query` is the query string
    /// as sent, already in canonical form (names sorted, values URI-encoded); `headers` are the
    /// other signed headers with lower-case names, `host` among them.
    pub fn sign_request(
        &self,
        method: &str,
        path: &str,
        query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        now: OffsetDateTime,
    ) -> [(&'static str, String); 2] {
        let amz_date = amz_date(now);
        let date = &amz_date[..8];
        let mut signed: Vec<(&str, &str)> = headers.to_vec();
        signed.push(("x-amz-date", &amz_date));
        signed.sort_by(|a, b| a.0.cmp(b.0));
        let canonical_headers: String = signed.iter().map(|(n, v)| format!("{n}:{}\n", v.trim())).collect();
        let signed_names = signed.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(";");
        let canonical = format!("{method}\n{path}\n{query}\n{canonical_headers}\n{signed_names}\n{}", sha256_hex(body));
        let scope = format!("{date}/{}/{}/aws4_request", self.region, self.service);
        let string_to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", sha256_hex(canonical.as_bytes()));
        let mut key = hmac_sha256(format!("AWS4{}", self.credentials.secret_access_key).as_bytes(), date.as_bytes());
        for part in [self.region.as_str(), self.service.as_str(), "aws4_request"] {
            key = hmac_sha256(&key, part.as_bytes());
        }
        let signature = hex::encode(hmac_sha256(&key, string_to_sign.as_bytes()));
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_names}, Signature={signature}",
            self.credentials.access_key_id
        );
        [("x-amz-date", amz_date), ("authorization", authorization)]
    }
}

/// The content type of cognito-idp's JSON 1.1 requests.
pub const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// `name=value&...` in SigV4's canonical form: names sorted, both URI-encoded (unreserved kept).
pub fn canonical_query(params: &[(&str, &str)]) -> String {
    let encode = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(b).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let mut pairs: Vec<(String, String)> = params.iter().map(|(n, v)| (encode(n), encode(v))).collect();
    pairs.sort();
    pairs.into_iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("&")
}

fn amz_date(t: OffsetDateTime) -> String {
    super::amz_timestamp(t.unix_timestamp())
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, data))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data).as_ref().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn signer(secret: &str) -> Signer {
        Signer {
            credentials: Credentials { access_key_id: "AKIDEXAMPLE".into(), secret_access_key: secret.into() },
            region: "us-east-1".into(),
            service: "cognito-idp".into(),
        }
    }

    /// The botocore 1.44.8 vectors of the server's verifier tests (src/sigv4/tests.rs).
    #[test]
    fn matches_botocore_vectors() {
        let [(_, date), (_, auth)] = signer("secret").sign(
            "127.0.0.1:8443",
            "AWSCognitoIdentityProviderService.ListUserPools",
            br#"{"MaxResults": 10}"#,
            datetime!(2024-01-01 0:00 UTC),
        );
        assert_eq!(date, "20240101T000000Z");
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/cognito-idp/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
             Signature=c79e5bed001b105fd51bb1019ee1299fd4f5615b8bb70cae8cd7b1832b570120"
        );
        let body = "{\"UserPoolId\": \"us-east-1_Abc\", \"Username\": \"zo\u{eb}-\u{6771}\u{4eac}\", \
                    \"UserAttributes\": [{\"Name\": \"name\", \"Value\": \"Zo\u{eb} \u{1f680}\"}]}";
        let [_, (_, auth)] = signer("secret").sign(
            "127.0.0.1:8443",
            "AWSCognitoIdentityProviderService.AdminCreateUser",
            body.as_bytes(),
            datetime!(2024-01-01 0:00 UTC),
        );
        assert!(auth.ends_with("Signature=69aad8ec622e33cef1ded20ab01a60748121ec6bd4e7d532e1a597af294e36b3"), "{auth}");
    }

    #[test]
    fn reads_shared_credentials() {
        let text = "[default]\naws_access_key_id = A\naws_secret_access_key = B\n\n# dev\n[portcullis]\n\
                    aws_access_key_id=AKIAPORT\naws_secret_access_key = s3cr3t/+x\nregion = us-east-1\n";
        let c = Credentials::parse(text, "portcullis").unwrap();
        assert_eq!((c.access_key_id.as_str(), c.secret_access_key.as_str()), ("AKIAPORT", "s3cr3t/+x"));
        assert!(Credentials::parse(text, "other").is_none());
    }
}
