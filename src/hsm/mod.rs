//! The key seam: every private or secret key lives in an HSM and is used only through
//! [`KeyVault`]. The PKCS#11 implementation is in `pkcs11`; nothing else touches the token.
//!
//! All calls block (they cross into the PKCS#11 module): callers run them on the worker pool,
//! never on the async reactor.

mod pkcs11;

use base64::Engine;
/// One SoftHSM token shared by the unit tests of a test process.
#[cfg(test)]
pub(crate) use pkcs11::tests::VAULT as TEST_VAULT;
pub use pkcs11::{HsmSettings, Pkcs11Vault};

/// A failure inside the HSM or its module: always an internal fault for the client.
#[derive(Debug, thiserror::Error)]
#[error("hsm: {0}")]
pub struct HsmError(pub String);

/// The public half of an RSA signing key, as read back from the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaPublicKey {
    /// Big-endian modulus `n`.
    pub modulus: Vec<u8>,
    /// Big-endian public exponent `e`.
    pub exponent: Vec<u8>,
}

impl RsaPublicKey {
    /// The JWKS entry Cognito serves for a key: `{"alg","e","kid","kty","n","use"}`.
    pub fn to_jwk(&self, kid: &str) -> serde_json::Value {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        serde_json::json!({
            "alg": "RS256",
            "e": b64.encode(strip_leading_zeros(&self.exponent)),
            "kid": kid,
            "kty": "RSA",
            "n": b64.encode(strip_leading_zeros(&self.modulus)),
            "use": "sig",
        })
    }
}

fn strip_leading_zeros(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len().saturating_sub(1));
    b.get(first..).unwrap_or(b)
}

/// Keys held in a hardware (or SoftHSM) token. Identified by `kid`, which is also the JWT
/// header `kid` and the object's `CKA_ID`.
pub trait KeyVault: Send + Sync + 'static {
    /// Generates an RSA-2048 signing key pair inside the token (sensitive, never extractable).
    fn generate_signing_key(&self, kid: &str) -> Result<RsaPublicKey, HsmError>;
    /// Reads the public half of a signing key.
    fn public_key(&self, kid: &str) -> Result<RsaPublicKey, HsmError>;
    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message` (a JWT's signing input).
    fn sign_rs256(&self, kid: &str, message: &[u8]) -> Result<Vec<u8>, HsmError>;
    /// Destroys both halves of a signing key. Destroying a missing key is not an error.
    fn destroy_signing_key(&self, kid: &str) -> Result<(), HsmError>;
    /// Encrypts a secret for storage at rest under the token's AES key (AES-256-GCM);
    /// `context` is bound as associated data and must be given again to open it.
    fn seal(&self, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, HsmError>;
    /// Decrypts what [`KeyVault::seal`] produced for the same `context`.
    fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, HsmError>;
    /// Closes every session (graceful shutdown).
    fn close(&self);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwk_encodes_without_leading_zero_bytes() {
        let k = RsaPublicKey { modulus: vec![0, 0xc1, 0x02], exponent: vec![1, 0, 1] };
        let jwk = k.to_jwk("kid1");
        assert_eq!(jwk["e"], "AQAB");
        assert_eq!(jwk["n"], "wQI");
        assert_eq!(jwk["kid"], "kid1");
    }
}
