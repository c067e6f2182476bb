//! Minting a sign-in's tokens: the ID and access tokens signed inside the HSM and the sign-in
//! record that makes them revocable, all on one worker job, plus the refresh token.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::tokens::{self, GroupClaims, TokenContext, TokenLifetimes};
use crate::app::App;
use crate::hsm::KeyVault;
use crate::ids::KeyId;
use crate::protocol::error::{Error, Result};
use crate::store::records::{unix_now, AppClient, SignIn, User, UserPool};
use crate::store::users::SignInKey;
use crate::store::Directory;

/// Where a set of tokens comes from: a fresh authentication, or a refresh of an earlier one.
pub enum Origin {
    Fresh,
    Refresh { origin_jti: String, auth_time: i64 },
}

/// The pool's issuer: `{public base URL}/{pool id}`.
pub fn issuer(app: &App, pool: &UserPool) -> String {
    format!("{}/{}", app.config.public_url().trim_end_matches('/'), pool.id)
}

/// A sign-in's tokens, prepared on the reactor (claims, signing inputs, refresh token); [`run`]
/// does the blocking rest on a worker thread: both HSM signatures and, for a fresh
/// authentication, the sign-in record. Callers that already run a worker job for the sign-in
/// (the password check) run it inside that job, so a sign-in crosses threads once.
///
/// [`run`]: Minting::run
pub struct Minting {
    kid: KeyId,
    id_input: String,
    access_input: String,
    access_expires_in: i64,
    /// Fresh authentications only: the refresh token handed out and the record behind it.
    sign_in: Option<(String, SignInKey, SignIn)>,
    vault: Arc<dyn KeyVault>,
    directory: Directory,
}

impl Minting {
    pub fn prepare(
        app: &App,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        user_key: &str,
        origin: Origin,
    ) -> Result<Self> {
        let kid =
            pool.signing_keys.first().cloned().ok_or_else(|| Error::internal("issuing tokens", "pool has no key"))?;
        let lifetimes = TokenLifetimes::of_client(&client.settings);
        let now = unix_now();
        let (origin_jti, auth_time, fresh) = match origin {
            Origin::Fresh => (uuid::Uuid::new_v4().to_string(), now, true),
            Origin::Refresh { origin_jti, auth_time } => (origin_jti, auth_time, false),
        };
        let groups = group_claims(app, pool, user_key)?;
        let readable = client.read_attributes();
        let ctx = TokenContext {
            issuer: issuer(app, pool),
            client_id: client.id.as_str(),
            user,
            groups: &groups,
            readable: readable.as_deref(),
            origin_jti: &origin_jti,
            auth_time,
            event_id: uuid::Uuid::new_v4().to_string(),
            now,
            lifetimes,
        };
        let id_input = tokens::signing_input(kid.as_str(), &tokens::id_token_claims(&ctx));
        let access_input = tokens::signing_input(kid.as_str(), &tokens::access_token_claims(&ctx));
        let sign_in = if fresh {
            let (refresh_token, refresh_hash) = tokens::new_refresh_token()?;
            let key = SignInKey { pool_id: pool.id.clone(), user_key: user_key.to_owned(), origin_jti };
            let record = SignIn {
                client_id: client.id.clone(),
                sub: user.sub.clone(),
                auth_time,
                refresh_hash,
                refresh_expires: now.saturating_add(lifetimes.refresh),
            };
            Some((refresh_token, key, record))
        } else {
            None
        };
        Ok(Self {
            kid,
            id_input,
            access_input,
            access_expires_in: lifetimes.access,
            sign_in,
            vault: app.vault.clone(),
            directory: app.directory.clone(),
        })
    }

    /// [`Minting::run`] as a job of its own on the worker pool.
    pub async fn on_worker(self, app: &App) -> Result<Value> {
        app.on_worker(move || self.run()).await
    }

    /// Signs both tokens and records the sign-in; blocking, for a worker thread. The result is
    /// Cognito's `AuthenticationResult`.
    pub fn run(self) -> Result<Value> {
        let sign = |input: &str| {
            let signature = self
                .vault
                .sign_rs256(self.kid.as_str(), input.as_bytes())
                .map_err(|e| Error::internal("signing tokens", e))?;
            Ok::<_, Error>(tokens::compact_jws(input, &signature))
        };
        let id_token = sign(&self.id_input)?;
        let access_token = sign(&self.access_input)?;
        let mut result = Map::new();
        result.insert("AccessToken".into(), json!(access_token));
        result.insert("ExpiresIn".into(), json!(self.access_expires_in));
        result.insert("TokenType".into(), json!("Bearer"));
        if let Some((refresh_token, key, record)) = &self.sign_in {
            self.directory.record_sign_in(key, record)?;
            result.insert("RefreshToken".into(), json!(refresh_token));
        }
        result.insert("IdToken".into(), json!(id_token));
        Ok(Value::Object(result))
    }
}

/// The user's group claims, read from the directory (most users are in no group: one empty
/// prefix scan).
fn group_claims(app: &App, pool: &UserPool, user_key: &str) -> Result<GroupClaims> {
    let names = app.directory.groups_of_user(&pool.id, user_key)?;
    let mut groups = Vec::with_capacity(names.len());
    for name in names {
        match app.directory.group(&pool.id, &name) {
            Ok(g) => groups.push((g.record.name, g.record.precedence, g.record.role_arn)),
            // Deleted after the memberships were read: it no longer counts.
            Err(e) if e.kind == crate::protocol::error::ErrorKind::ResourceNotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(GroupClaims::new(groups))
}
