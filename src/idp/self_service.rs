//! What signed-in users do to their own account with their access token: ChangePassword and
//! DeleteUser. (GetUser and GlobalSignOut live with the other session operations.)

use serde_json::{json, Value};

use super::{object, str_member};
use crate::app::App;
use crate::auth::access;
use crate::auth::flows::{sealed_verifier, verifier_context};
use crate::auth::password::PasswordOf;
use crate::protocol::error::{Error, ErrorKind, Result};
use crate::store::records::now_epoch;

pub async fn change_password(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let bearer = access::authenticate(app, str_member(&input, "AccessToken")).await?;
    let pool = bearer.pool.clone();
    let user = &bearer.user.record;
    let previous = str_member(&input, "PreviousPassword").to_owned();
    let sealed =
        user.password.clone().ok_or_else(|| Error::new(ErrorKind::NotAuthorized, "Incorrect username or password."))?;
    let check = app.auth.data.check_of(app.auth.data.open(&verifier_context(&pool, &bearer.user_key), &sealed)?);
    let (short, id) = (pool.name_short().to_owned(), user.username.clone());
    let matches = app
        .on_worker(move || {
            Ok(check.matches(PasswordOf { pool_short: &short, user_id_for_srp: &id, password: &previous }))
        })
        .await?;
    if !matches {
        return Err(Error::new(ErrorKind::NotAuthorized, "Incorrect username or password."));
    }
    let proposed = str_member(&input, "ProposedPassword");
    let mut changed = user.clone();
    changed.password = Some(sealed_verifier(app, &pool, &bearer.user_key, &user.username, proposed).await?);
    changed.modified = now_epoch();
    app.directory.replace_user(&bearer.user_key, &bearer.user, &changed)?;
    Ok(json!({}))
}

/// Deletes the caller's own user; every token of it stops working with it.
pub async fn delete_user(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let bearer = access::authenticate(app, str_member(&input, "AccessToken")).await?;
    app.directory.delete_user(&bearer.user_key, &bearer.user)?;
    Ok(json!({}))
}
