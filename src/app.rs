//! The running appliance's shared state: configuration, directory, key vault, worker pool,
//! rate limits and admin credentials, handed to every request handler.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::auth::AuthKeys;
use crate::config::Config;
use crate::hsm::{HsmError, KeyVault};
use crate::ids::KeyId;
use crate::messaging::Messenger;
use crate::protocol::error::{Error, Result};
use crate::ratelimit::RateLimits;
use crate::sigv4::{SecretLookup, Verifier};
use crate::store::Directory;
use crate::workers::{SubmitError, WorkerPool};

/// Admin access keys (id → secret) accepted on SigV4 operations.
#[derive(Default)]
pub struct AdminKeys(HashMap<String, String>);

impl AdminKeys {
    pub fn new(keys: HashMap<String, String>) -> Self {
        Self(keys)
    }
}

impl SecretLookup for AdminKeys {
    fn secret_for(&self, access_key_id: &str) -> Option<String> {
        self.0.get(access_key_id).cloned()
    }
}

pub struct App {
    pub config: Config,
    pub directory: Directory,
    pub vault: Arc<dyn KeyVault>,
    pub workers: WorkerPool,
    pub limits: RateLimits,
    pub verifier: Verifier,
    pub admin_keys: AdminKeys,
    /// Session, verifier and phantom-user keys of the sign-in path.
    pub auth: AuthKeys,
    /// Outgoing codes and invitations (queued with the change, sent in the background).
    pub messenger: Messenger,
    /// JWKS entries by key id; public halves never change, so they are read from the HSM once.
    jwk_cache: Mutex<HashMap<KeyId, Value>>,
}

impl App {
    pub fn new(
        config: Config,
        directory: Directory,
        vault: Arc<dyn KeyVault>,
        workers: WorkerPool,
        admin_keys: AdminKeys,
        auth: AuthKeys,
        messenger: Messenger,
    ) -> Self {
        let limits = RateLimits::new(&config.rate_limits);
        let verifier =
            Verifier { region: config.server.region.clone(), service: "cognito-idp".to_owned(), max_skew_secs: 300 };
        Self {
            config,
            directory,
            vault,
            workers,
            limits,
            verifier,
            admin_keys,
            auth,
            messenger,
            jwk_cache: Mutex::new(HashMap::new()),
        }
    }

    /// Runs blocking work on the worker pool; a full queue is `TooManyRequestsException`.
    pub async fn on_worker<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce() -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        match self.workers.run(f).await {
            Ok(result) => result,
            Err(SubmitError::QueueFull) => Err(Error::too_many_requests("Too many requests")),
            Err(SubmitError::Stopped) => Err(Error::internal("worker pool", "stopped")),
        }
    }

    /// Runs a key-vault call on the worker pool.
    pub async fn with_vault<T, F>(&self, what: &'static str, f: F) -> Result<T>
    where
        F: FnOnce(&dyn KeyVault) -> std::result::Result<T, HsmError> + Send + 'static,
        T: Send + 'static,
    {
        let vault = self.vault.clone();
        self.on_worker(move || f(vault.as_ref()).map_err(|e| Error::internal(what, e))).await
    }

    /// The JWKS entry of a signing key.
    pub async fn jwk(&self, kid: &KeyId) -> Result<Value> {
        if let Some(jwk) = self.jwk_cache.lock().ok().and_then(|c| c.get(kid).cloned()) {
            return Ok(jwk);
        }
        let id = kid.clone();
        let public = self.with_vault("reading public key", move |v| v.public_key(id.as_str())).await?;
        let jwk = public.to_jwk(kid.as_str());
        if let Ok(mut cache) = self.jwk_cache.lock() {
            cache.insert(kid.clone(), jwk.clone());
        }
        Ok(jwk)
    }

    /// Forgets cached public keys of destroyed signing keys.
    pub fn forget_jwks(&self, kids: &[KeyId]) {
        if let Ok(mut cache) = self.jwk_cache.lock() {
            for k in kids {
                cache.remove(k);
            }
        }
    }

    /// `arn:aws:cognito-idp:{region}:{account}:userpool/{id}`.
    pub fn pool_arn(&self, pool_id: &str) -> String {
        format!(
            "arn:aws:cognito-idp:{}:{}:userpool/{pool_id}",
            self.config.server.region, self.config.server.account_id
        )
    }
}
