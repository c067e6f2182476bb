//! The sign-in domain: Cognito's SRP, password policy and verifier sealing, the sealed values
//! passed between sign-in steps, tokens, and the sign-in state machine (`flows`).
//! [`AuthKeys`] holds the in-memory keys these need, unsealed from the HSM at start-up.

pub mod access;
mod fixed_base;
pub mod flows;
pub mod issue;
pub mod lockout;
mod modexp;
pub mod password;
pub mod session;
pub mod srp;
pub mod srp_client;
pub mod tokens;

use std::collections::HashMap;
use std::sync::Mutex;

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use crate::hsm::KeyVault;
use crate::ids::ClientId;
use crate::protocol::error::{Error, Result};
use crate::store::Directory;
use password::{DataCipher, PasswordCheck};
use session::SessionSealer;
use srp::SrpVerifier;

/// `meta` key of the data key that seals secrets at rest (verifiers, codes, messages), itself sealed by the HSM.
const VERIFIER_DATA_KEY: &str = "verifier_data_key";
/// HSM sealing context of that data key.
const VERIFIER_DATA_KEY_CONTEXT: &[u8] = b"portcullis/verifier-data-key/v1";
/// `meta` key present when every verifier of the directory is sealed with a check tag (see
/// `password`): written with a fresh directory's data key, never for an older one.
const PASSWORD_CHECK_TAGS: &str = "password_check_tags";

/// Keys and caches of the sign-in path, built once at start-up.
pub struct AuthKeys {
    pub sessions: SessionSealer,
    pub data: DataCipher,
    /// Derives the stable fake salt shown for users that do not exist (when the client prevents
    /// user-existence errors), so that repeated probes see the same salt.
    phantom_salt: hmac::Key,
    /// The verifier used for users that do not exist: same work, never matches.
    phantom_verifier: SrpVerifier,
    /// The check tag of users that do not exist: random, never matches.
    phantom_tag: [u8; 32],
    /// Unsealed app-client secrets, keyed by client id, with the sealed bytes they came from
    /// (a changed client record misses the cache).
    client_secrets: Mutex<HashMap<ClientId, (Vec<u8>, String)>>,
    /// Failed sign-ins of names that do not exist (see `lockout`).
    pub phantom_failures: lockout::PhantomFailures,
}

impl AuthKeys {
    /// Loads (or on first start creates) the verifier data key through the HSM. Start-up only.
    pub fn load(directory: &Directory, vault: &dyn KeyVault) -> Result<Self> {
        let sealed = match directory.meta(VERIFIER_DATA_KEY)? {
            Some(sealed) => sealed,
            None => {
                // No data key yet, so no verifier yet: every one will carry a check tag. (Written
                // first: a crash before the data key leaves a directory that is still fresh.)
                directory.meta_put_if_absent(PASSWORD_CHECK_TAGS, b"1".to_vec())?;
                let fresh = DataCipher::generate_data_key()?;
                let sealed = vault
                    .seal(VERIFIER_DATA_KEY_CONTEXT, &fresh)
                    .map_err(|e| Error::internal("sealing verifier data key", e))?;
                directory.meta_put_if_absent(VERIFIER_DATA_KEY, sealed)?
            }
        };
        let data_key = vault
            .open(VERIFIER_DATA_KEY_CONTEXT, &sealed)
            .map_err(|e| Error::internal("opening verifier data key", e))?;
        let rng = SystemRandom::new();
        let mut salt_key = [0u8; 32];
        rng.fill(&mut salt_key).map_err(|_| Error::internal("phantom salt key", "no randomness"))?;
        let mut phantom_password = [0u8; 32];
        rng.fill(&mut phantom_password).map_err(|_| Error::internal("phantom verifier", "no randomness"))?;
        let phantom_verifier = SrpVerifier::generate("phantom", "phantom", &hex::encode(phantom_password))
            .map_err(|e| Error::internal("phantom verifier", e))?;
        let mut phantom_tag = [0u8; 32];
        rng.fill(&mut phantom_tag).map_err(|_| Error::internal("phantom check tag", "no randomness"))?;
        let checks_by_tag = directory.meta(PASSWORD_CHECK_TAGS)?.is_some();
        if !checks_by_tag {
            tracing::info!("this directory has verifiers from before check tags: passwords are checked by g^x");
        }
        Ok(Self {
            sessions: SessionSealer::new()?,
            data: DataCipher::new(&data_key, checks_by_tag)?,
            phantom_salt: hmac::Key::new(hmac::HMAC_SHA256, &salt_key),
            phantom_verifier,
            phantom_tag,
            client_secrets: Mutex::new(HashMap::new()),
            phantom_failures: Default::default(),
        })
    }

    /// The verifier shown for a user that does not exist: a salt stable per (pool, username)
    /// and a verifier nobody knows the password of.
    pub fn phantom_verifier(&self, pool_id: &str, user_key: &str) -> SrpVerifier {
        let tag = hmac::sign(&self.phantom_salt, format!("{pool_id}\0{user_key}").as_bytes());
        let salt = tag.as_ref().get(..16).unwrap_or_default();
        SrpVerifier { salt: salt.to_vec(), verifier: self.phantom_verifier.verifier.clone() }
    }

    /// The password check of a user that does not exist (the same work as a real one).
    pub fn phantom_check(&self, pool_id: &str, user_key: &str) -> PasswordCheck {
        self.data.phantom_check(self.phantom_verifier(pool_id, user_key), self.phantom_tag)
    }

    /// A cached client secret, if the client record still holds the same sealed bytes.
    pub fn cached_client_secret(&self, client_id: &ClientId, sealed: &[u8]) -> Option<String> {
        let cache = self.client_secrets.lock().ok()?;
        cache.get(client_id).filter(|(s, _)| s.as_slice() == sealed).map(|(_, secret)| secret.clone())
    }

    pub fn cache_client_secret(&self, client_id: &ClientId, sealed: Vec<u8>, secret: String) {
        if let Ok(mut cache) = self.client_secrets.lock() {
            cache.insert(client_id.clone(), (sealed, secret));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hsm::TEST_VAULT;

    #[test]
    fn a_fresh_directory_checks_passwords_by_tag_and_an_older_one_by_g_to_the_x() {
        let vault = &TEST_VAULT.1;
        let fresh = tempfile::tempdir().unwrap();
        let keys = AuthKeys::load(&Directory::in_dir(fresh.path()), vault).unwrap();
        assert!(matches!(keys.phantom_check("pool", "alice"), PasswordCheck::Tag { .. }));
        // Loaded again: the same directory, still by tag.
        let again = AuthKeys::load(&Directory::in_dir(fresh.path()), vault).unwrap();
        assert!(matches!(again.phantom_check("pool", "alice"), PasswordCheck::Tag { .. }));

        // A directory whose data key was written before the tags (as an older version did).
        let older = tempfile::tempdir().unwrap();
        let d = Directory::in_dir(older.path());
        let sealed = vault.seal(VERIFIER_DATA_KEY_CONTEXT, &DataCipher::generate_data_key().unwrap()).unwrap();
        d.meta_put_if_absent(VERIFIER_DATA_KEY, sealed).unwrap();
        let keys = AuthKeys::load(&d, vault).unwrap();
        assert!(matches!(keys.phantom_check("pool", "alice"), PasswordCheck::Verifier(_)));
    }
}
