//! Sign-in operations: InitiateAuth, AdminInitiateAuth, RespondToAuthChallenge and
//! AdminRespondToAuthChallenge, over the state machine in `auth::flows`.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{object, pool_id_of, str_member};
use crate::app::App;
use crate::auth::flows::{self, SignInRequest};
use crate::auth::srp;
use crate::protocol::error::{Error, ErrorKind, Result};
use crate::store::records::{AppClient, UserPool};

/// An app client's secret, unsealed through the HSM once and then cached.
pub async fn client_secret(app: &App, client: &AppClient) -> Result<Option<String>> {
    let Some(sealed) = client.sealed_secret.clone() else { return Ok(None) };
    if let Some(secret) = app.auth.cached_client_secret(&client.id, &sealed) {
        return Ok(Some(secret));
    }
    let context = client.id.as_str().as_bytes().to_vec();
    let sealed_copy = sealed.clone();
    let secret = app.with_vault("unsealing client secret", move |v| v.open(&context, &sealed_copy)).await?;
    let secret = String::from_utf8(secret).map_err(|e| Error::internal("client secret", e))?;
    app.auth.cache_client_secret(&client.id, sealed, secret.clone());
    Ok(Some(secret))
}

/// `SecretHash` of SignUp and the like: required and checked when the client has a secret.
pub async fn check_client_secret_hash(
    app: &App,
    client: &AppClient,
    presented: Option<&str>,
    username: &str,
) -> Result<()> {
    let Some(secret) = client_secret(app, client).await? else { return Ok(()) };
    let id = client.id.as_str();
    match presented {
        Some(p) if srp::secret_hash_matches(&secret, username, id, p) => Ok(()),
        Some(_) => Err(Error::new(ErrorKind::NotAuthorized, format!("Unable to verify secret hash for client {id}"))),
        None => Err(Error::new(
            ErrorKind::NotAuthorized,
            format!("Client {id} is configured for secret but secret was not received"),
        )),
    }
}

/// The pool and client of a sign-in call: public calls name only the client; Admin calls name
/// both, and the client must belong to the pool.
fn pool_and_client(app: &App, input: &Map<String, Value>, admin: bool) -> Result<(Arc<UserPool>, Arc<AppClient>)> {
    let client_id = str_member(input, "ClientId");
    let client = if admin {
        app.directory.client_shared_in(&pool_id_of(input), client_id)?
    } else {
        app.directory.client_shared(client_id)?
    };
    let pool = app.directory.pool_shared(&client.pool_id)?;
    Ok((pool, client))
}

fn string_map<'a>(input: &'a Map<String, Value>, member: &str) -> &'a Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    input.get(member).and_then(Value::as_object).unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

async fn initiate(app: &App, body: Value, admin: bool) -> Result<Value> {
    let input = object(body);
    let (pool, client) = pool_and_client(app, &input, admin)?;
    let client_secret = client_secret(app, &client).await?;
    let req = SignInRequest { app, pool: &pool, client: &client, client_secret, admin };
    let step = flows::initiate(&req, str_member(&input, "AuthFlow"), string_map(&input, "AuthParameters")).await?;
    Ok(step.into_response())
}

async fn respond(app: &App, body: Value, admin: bool) -> Result<Value> {
    let input = object(body);
    let (pool, client) = pool_and_client(app, &input, admin)?;
    let client_secret = client_secret(app, &client).await?;
    let req = SignInRequest { app, pool: &pool, client: &client, client_secret, admin };
    let session = input.get("Session").and_then(Value::as_str);
    let step =
        flows::respond(&req, str_member(&input, "ChallengeName"), string_map(&input, "ChallengeResponses"), session)
            .await?;
    Ok(step.into_response())
}

pub async fn initiate_auth(app: &App, body: Value) -> Result<Value> {
    initiate(app, body, false).await
}

pub async fn admin_initiate_auth(app: &App, body: Value) -> Result<Value> {
    initiate(app, body, true).await
}

pub async fn respond_to_auth_challenge(app: &App, body: Value) -> Result<Value> {
    respond(app, body, false).await
}

pub async fn admin_respond_to_auth_challenge(app: &App, body: Value) -> Result<Value> {
    respond(app, body, true).await
}
