//! Opaque, tamper-proof, expiring values handed to clients between sign-in steps: the `Session`
//! and the SRP `SECRET_BLOCK`. Each is AES-256-GCM over a typed payload under a key that lives only
//! in this process's memory; its purpose is bound as associated data, and single use is enforced
//! by remembering consumed ids until they expire.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::protocol::error::{Error, ErrorKind, Result};
use crate::store::records::unix_now;

/// What a sealed value is for; a value sealed for one purpose never opens as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The `Session` member of challenge responses.
    Session,
    /// SRP's `SECRET_BLOCK` challenge parameter.
    SecretBlock,
}

impl Purpose {
    fn aad(self) -> &'static [u8] {
        match self {
            Purpose::Session => b"portcullis/session/v1",
            Purpose::SecretBlock => b"portcullis/secret-block/v1",
        }
    }
}

/// A unique id per sealed value, used to enforce single use.
pub type SealId = [u8; 16];

#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    id: SealId,
    /// Epoch seconds after which the value is refused.
    exp: i64,
    body: T,
}

/// A value opened and checked for expiry, not yet consumed.
pub struct Opened<T> {
    pub id: SealId,
    pub expires: i64,
    pub body: T,
}

pub struct SessionSealer {
    key: LessSafeKey,
    rng: SystemRandom,
    /// Consumed ids and their expiry; pruned as it grows.
    consumed: Mutex<HashMap<SealId, i64>>,
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// Consumed ids are pruned of expired entries whenever the set reaches this size (and doubles).
const PRUNE_AT: usize = 4096;

/// Cognito's answer to a Session that does not open.
pub fn invalid_session() -> Error {
    Error::new(ErrorKind::NotAuthorized, "Invalid session for the user.")
}

impl SessionSealer {
    /// A sealer with a fresh random key (values sealed before a restart no longer open).
    pub fn new() -> Result<Self> {
        let rng = SystemRandom::new();
        let mut key = [0u8; 32];
        rng.fill(&mut key).map_err(|_| Error::internal("session key", "no randomness"))?;
        let unbound = UnboundKey::new(&AES_256_GCM, &key).map_err(|_| Error::internal("session key", "aead"))?;
        Ok(Self { key: LessSafeKey::new(unbound), rng, consumed: Mutex::new(HashMap::new()) })
    }

    /// Seals `body` for `purpose`, valid for `ttl_secs`; the result is standard base64.
    pub fn seal<T: Serialize>(&self, purpose: Purpose, body: T, ttl_secs: i64) -> Result<String> {
        let mut id = [0u8; 16];
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut id).map_err(|_| Error::internal("sealing session", "no randomness"))?;
        self.rng.fill(&mut nonce).map_err(|_| Error::internal("sealing session", "no randomness"))?;
        let envelope = Envelope { id, exp: unix_now() + ttl_secs, body };
        let mut buf = serde_json::to_vec(&envelope).map_err(|e| Error::internal("sealing session", e))?;
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(purpose.aad()), &mut buf)
            .map_err(|_| Error::internal("sealing session", "aead"))?;
        let mut out = Vec::with_capacity(NONCE_LEN + buf.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Ok(B64.encode(out))
    }

    /// Opens a sealed value: `None` when it was not sealed here for `purpose` or was altered;
    /// `Err` (Cognito's expired-session error) when it is past its lifetime.
    pub fn open<T: DeserializeOwned>(&self, purpose: Purpose, sealed: &str) -> Result<Opened<T>> {
        let raw = B64.decode(sealed.trim()).map_err(|_| invalid_session())?;
        if raw.len() < NONCE_LEN {
            return Err(invalid_session());
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| invalid_session())?;
        let mut buf = ciphertext.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::from(purpose.aad()), &mut buf).map_err(|_| invalid_session())?;
        let envelope: Envelope<T> = serde_json::from_slice(plain).map_err(|_| invalid_session())?;
        if envelope.exp < unix_now() {
            return Err(Error::new(ErrorKind::NotAuthorized, "Invalid session for the user, session is expired."));
        }
        Ok(Opened { id: envelope.id, expires: envelope.exp, body: envelope.body })
    }

    /// Marks a value used; a second use is refused with Cognito's message.
    pub fn consume<T>(&self, opened: &Opened<T>) -> Result<()> {
        let mut consumed = self.consumed.lock().map_err(|_| Error::internal("session replay set", "poisoned"))?;
        if consumed.len() >= PRUNE_AT {
            let t = unix_now();
            consumed.retain(|_, exp| *exp >= t);
        }
        if consumed.insert(opened.id, opened.expires).is_some() {
            return Err(Error::new(
                ErrorKind::NotAuthorized,
                "Invalid session for the user, session can only be used once.",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Step {
        user: String,
    }

    #[test]
    fn sealed_values_round_trip_once_and_only_for_their_purpose() {
        let sealer = SessionSealer::new().unwrap();
        let s = sealer.seal(Purpose::Session, Step { user: "alice".into() }, 180).unwrap();
        assert!(!s.contains("alice"));
        let opened: Opened<Step> = sealer.open(Purpose::Session, &s).unwrap();
        assert_eq!(opened.body, Step { user: "alice".into() });
        assert!(sealer.open::<Step>(Purpose::SecretBlock, &s).is_err());
        sealer.consume(&opened).unwrap();
        let again: Opened<Step> = sealer.open(Purpose::Session, &s).unwrap();
        assert_eq!(sealer.consume(&again).unwrap_err().kind, ErrorKind::NotAuthorized);
    }

    #[test]
    fn altered_foreign_and_expired_values_are_refused() {
        let sealer = SessionSealer::new().unwrap();
        let other = SessionSealer::new().unwrap();
        let s = sealer.seal(Purpose::Session, Step { user: "bob".into() }, 180).unwrap();
        let mut raw = B64.decode(&s).unwrap();
        raw[20] ^= 0x40;
        assert!(sealer.open::<Step>(Purpose::Session, &B64.encode(raw)).is_err());
        assert!(other.open::<Step>(Purpose::Session, &s).is_err());
        assert!(sealer.open::<Step>(Purpose::Session, "not base64!").is_err());
        let expired = sealer.seal(Purpose::Session, Step { user: "carol".into() }, -1).unwrap();
        let err = sealer.open::<Step>(Purpose::Session, &expired).err().unwrap();
        assert_eq!(err.message, "Invalid session for the user, session is expired.");
    }
}
