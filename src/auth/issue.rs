//! Minting a sign-in's tokens: the ID and access tokens signed inside the HSM (both on one worker
//! job), the refresh token and the sign-in record that makes them revocable.

use serde_json::{json, Map, Value};

use super::tokens::{self, TokenContext, TokenLifetimes};
use crate::app::App;
use crate::protocol::error::{Error, Result};
use crate::store::records::{unix_now, AppClient, SignIn, User, UserPool};
use crate::store::users::SignInKey;

/// Where a set of tokens comes from: a fresh authentication, or a refresh of an earlier one.
pub enum Origin {
    Fresh,
    Refresh { origin_jti: String, auth_time: i64 },
}

/// The pool's issuer: `{public base URL}/{pool id}`.
pub fn issuer(app: &App, pool: &UserPool) -> String {
    format!("{}/{}", app.config.public_url().trim_end_matches('/'), pool.id)
}

/// Signs ID and access tokens for `user` and, for a fresh authentication, records the sign-in
/// and returns a refresh token too. The result is Cognito's `AuthenticationResult`.
pub async fn issue_tokens(
    app: &App,
    pool: &UserPool,
    client: &AppClient,
    user: &User,
    user_key: &str,
    origin: Origin,
) -> Result<Value> {
    let kid = pool.signing_keys.first().cloned().ok_or_else(|| Error::internal("issuing tokens", "pool has no key"))?;
    let lifetimes = TokenLifetimes::of_client(&client.settings);
    let now = unix_now();
    let (origin_jti, auth_time, fresh) = match origin {
        Origin::Fresh => (uuid::Uuid::new_v4().to_string(), now, true),
        Origin::Refresh { origin_jti, auth_time } => (origin_jti, auth_time, false),
    };
    let ctx = TokenContext {
        issuer: issuer(app, pool),
        client_id: client.id.as_str(),
        user,
        groups: &[],
        origin_jti: &origin_jti,
        auth_time,
        event_id: uuid::Uuid::new_v4().to_string(),
        now,
        lifetimes,
    };
    let id_input = tokens::signing_input(kid.as_str(), &tokens::id_token_claims(&ctx));
    let access_input = tokens::signing_input(kid.as_str(), &tokens::access_token_claims(&ctx));
    let (id_token, access_token) = app
        .with_vault("signing tokens", move |vault| {
            let id_sig = vault.sign_rs256(kid.as_str(), id_input.as_bytes())?;
            let access_sig = vault.sign_rs256(kid.as_str(), access_input.as_bytes())?;
            Ok((tokens::compact_jws(&id_input, &id_sig), tokens::compact_jws(&access_input, &access_sig)))
        })
        .await?;

    let mut result = Map::new();
    result.insert("AccessToken".into(), json!(access_token));
    result.insert("ExpiresIn".into(), json!(lifetimes.access));
    result.insert("TokenType".into(), json!("Bearer"));
    if fresh {
        let (refresh_token, refresh_hash) = tokens::new_refresh_token()?;
        let key = SignInKey { pool_id: pool.id.clone(), user_key: user_key.to_owned(), origin_jti };
        let sign_in = SignIn {
            client_id: client.id.clone(),
            sub: user.sub.clone(),
            auth_time,
            refresh_hash,
            refresh_expires: now.saturating_add(lifetimes.refresh),
        };
        app.directory.record_sign_in(&key, &sign_in)?;
        result.insert("RefreshToken".into(), json!(refresh_token));
    }
    result.insert("IdToken".into(), json!(id_token));
    Ok(Value::Object(result))
}
