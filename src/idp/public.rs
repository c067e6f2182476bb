//! Who calls a public (client-id, no token) user operation: the app client, its pool and the
//! user key after the SECRET_HASH check, and what an unknown user is told (masking included).

use std::sync::Arc;

use serde_json::{Map, Value};

use super::str_member;
use crate::app::App;
use crate::messaging::templates::{delivery_details, Medium};
use crate::protocol::error::{Error, ErrorKind, Result};
use crate::store::directory::Versioned;
use crate::store::records::{AppClient, User, UserPool};

/// The app client, its pool and the username of a public user operation, after the client's
/// SECRET_HASH check.
pub(super) struct Caller {
    pub client: Arc<AppClient>,
    pub pool: Arc<UserPool>,
    pub username: String,
    /// The username as the pool compares it (what an unknown user's simulated answers derive from).
    pub user_key: String,
}

pub(super) async fn caller(app: &App, input: &Map<String, Value>) -> Result<Caller> {
    let client = app.directory.client_shared(str_member(input, "ClientId"))?;
    let pool = app.directory.pool_shared(&client.pool_id)?;
    let username = str_member(input, "Username").to_owned();
    super::sign_in::check_client_secret_hash(app, &client, input.get("SecretHash").and_then(Value::as_str), &username)
        .await?;
    let user_key = pool.user_key(&username);
    Ok(Caller { client, pool, username, user_key })
}

impl Caller {
    /// The user the call names (by username or a sign-in name the pool allows) and their key.
    pub fn find(&self, app: &App) -> Result<Option<(String, Versioned<User>)>> {
        app.directory.find_user(&self.pool, &self.username)
    }
}

/// The public operations' error for an unknown user when the client allows saying so.
pub(super) fn no_such_user() -> Error {
    Error::new(ErrorKind::UserNotFound, "Username/client id combination not found.")
}

/// What ForgotPassword and ResendConfirmationCode show for a user that does not exist when the client prevents
/// user-existence errors: a masked address stable per username, never a real one, after the
/// synced write a real answer makes (so that it takes as long).
pub(super) fn phantom_delivery(app: &App, pool: &UserPool, user_key: &str) -> Result<Value> {
    app.directory.timing_pad()?;
    let salt = app.auth.phantom_verifier(pool.id.as_str(), user_key).salt;
    let letter = |i: usize| char::from(b'a' + salt.get(i).copied().unwrap_or(0) % 26);
    let address = format!("{}@{}.com", letter(0), letter(1));
    Ok(delivery_details(Medium::Email, &address))
}

/// What a code check (ConfirmSignUp, ConfirmForgotPassword) answers for a user that does not
/// exist: UserNotFound, or when the client hides existence, CodeMismatch after the synced write
/// a real wrong guess makes.
pub(super) fn unknown_user_code_answer(app: &App, client: &AppClient) -> Error {
    if !client.prevents_user_existence_errors() {
        return no_such_user();
    }
    match app.directory.timing_pad() {
        Ok(()) => super::codes::code_mismatch(),
        Err(e) => e,
    }
}
