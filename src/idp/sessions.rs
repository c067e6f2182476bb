//! Session control: GetUser (self-service, by access token), GlobalSignOut,
//! AdminUserGlobalSignOut and RevokeToken.

use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use super::users::attribute_list;
use super::{object, str_member};
use crate::app::App;
use crate::auth::access;
use crate::auth::tokens::refresh_token_hash;
use crate::protocol::error::{Error, ErrorKind, Result};
use crate::store::users::RefreshLookup;

pub async fn get_user(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let bearer = access::authenticate(app, str_member(&input, "AccessToken")).await?;
    // Only what the app client may read (`sub` always).
    let readable = app.directory.client_shared(&bearer.claims.client_id)?.read_attributes().map(|mut names| {
        names.push("sub".into());
        names
    });
    let user = bearer.user.record;
    Ok(json!({"Username": user.username, "UserAttributes": attribute_list(&user, readable.as_deref())}))
}

pub async fn global_sign_out(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let bearer = access::authenticate(app, str_member(&input, "AccessToken")).await?;
    app.directory.revoke_all_sign_ins(&bearer.pool.id, &bearer.user_key)?;
    Ok(json!({}))
}

pub async fn admin_user_global_sign_out(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let t = super::users::target(app, &input)?;
    app.directory.revoke_all_sign_ins(&t.pool.id, &t.user_key)?;
    Ok(json!({}))
}

/// Revokes a refresh token and every access token minted from its sign-in. As RFC 7009 asks,
/// a token that is unknown or already revoked is not an error.
pub async fn revoke_token(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let client = app.directory.client_shared(str_member(&input, "ClientId"))?;
    if let Some(secret) = super::sign_in::client_secret(app, &client).await? {
        let presented = input.get("ClientSecret").and_then(Value::as_str).unwrap_or_default();
        if !bool::from(secret.as_bytes().ct_eq(presented.as_bytes())) {
            return Err(Error::new(ErrorKind::NotAuthorized, "Client secret is wrong or missing."));
        }
    }
    if client.settings.get("EnableTokenRevocation").and_then(Value::as_bool) == Some(false) {
        return Err(Error::new(ErrorKind::UnsupportedOperation, "Token revocation is not enabled for this client."));
    }
    let token = str_member(&input, "Token");
    if token.split('.').count() == 3 {
        // A JWT: only refresh tokens can be revoked.
        return Err(Error::new(ErrorKind::UnsupportedTokenType, "The token type is not supported."));
    }
    match app.directory.sign_in_by_refresh_hash(&refresh_token_hash(token))? {
        RefreshLookup::Active(key, sign_in) => {
            if sign_in.client_id != client.id {
                return Err(Error::new(ErrorKind::Unauthorized, "The token was not issued to this client."));
            }
            app.directory.revoke_sign_in(&key)?;
        }
        RefreshLookup::Revoked | RefreshLookup::Unknown => {}
    }
    Ok(json!({}))
}
