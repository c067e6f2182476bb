//! Access tokens presented to Portcullis's own APIs (GetUser, GlobalSignOut, ...): signature,
//! issuer and expiry, then revocation (the sign-in must still exist) and the user's state.

use std::sync::Arc;

use super::issue::issuer;
use super::tokens::{self, invalid_access_token, AccessClaims};
use crate::app::App;
use crate::ids::{KeyId, PoolId};
use crate::protocol::error::{Error, ErrorKind, Result};
use crate::store::directory::Versioned;
use crate::store::records::{User, UserPool};
use crate::store::users::SignInKey;

/// Who an accepted access token speaks for.
pub struct Bearer {
    pub pool: Arc<UserPool>,
    pub user_key: String,
    pub user: Versioned<User>,
    pub claims: AccessClaims,
}

/// Verifies an access token and loads its user; every refusal is `NotAuthorizedException`.
pub async fn authenticate(app: &App, token: &str) -> Result<Bearer> {
    let (kid, iss) = tokens::unverified_kid_and_issuer(token)?;
    let base = format!("{}/", app.config.public_url().trim_end_matches('/'));
    let pool_id = iss.strip_prefix(&base).ok_or_else(invalid_access_token)?;
    let pool = match app.directory.pool_shared(&PoolId::from(pool_id.to_owned())) {
        Ok(p) => p,
        Err(e) if e.kind == ErrorKind::ResourceNotFound => return Err(invalid_access_token()),
        Err(e) => return Err(e),
    };
    let kid = KeyId::from(kid);
    if !pool.signing_keys.contains(&kid) {
        return Err(invalid_access_token());
    }
    let jwk = app.jwk(&kid).await?;
    let claims = tokens::verify_access_token(token, &jwk, &issuer(app, &pool))?;
    let user_key = pool.user_key(&claims.username);
    let key = SignInKey { pool_id: pool.id.clone(), user_key: user_key.clone(), origin_jti: claims.origin_jti.clone() };
    if app.directory.sign_in(&key)?.is_none() {
        return Err(Error::new(ErrorKind::NotAuthorized, "Access Token has been revoked"));
    }
    let user = app
        .directory
        .user(&pool.id, &user_key)?
        .filter(|u| u.record.sub == claims.sub)
        .ok_or_else(|| Error::new(ErrorKind::NotAuthorized, "User does not exist."))?;
    if !user.record.enabled {
        return Err(Error::new(ErrorKind::NotAuthorized, "User is disabled."));
    }
    Ok(Bearer { pool, user_key, user, claims })
}
