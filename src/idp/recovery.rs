//! Password recovery: ForgotPassword and ConfirmForgotPassword (a code to a verified email or
//! phone number, chosen by the pool's `AccountRecoverySetting`) and AdminResetUserPassword.

use serde_json::{json, Value};

use super::codes::{self, CodePurpose, RESET_CODE_SECS};
use super::public::{caller, no_such_user, phantom_delivery, unknown_user_code_answer, Caller};
use super::users::target;
use super::{object, str_member};
use crate::app::App;
use crate::auth::flows::sealed_verifier;
use crate::auth::password::PasswordPolicy;
use crate::messaging::templates::{delivery_details, Medium, Purpose};
use crate::messaging::Outgoing;
use crate::protocol::error::{Error, ErrorKind, Result};
use crate::store::directory::Versioned;
use crate::store::records::{now_epoch, User, UserPool, UserStatus};
use crate::store::users::AliasTakeover;

/// Where a reset code goes: the first of the pool's `AccountRecoverySetting.RecoveryMechanisms`
/// (by `Priority`) that the user has verified; without that setting a verified phone number,
/// then a verified email (Cognito's legacy order). `Err` for `admin_only` pools.
fn recovery_destination(pool: &UserPool, user: &User) -> Result<Option<(Medium, String)>> {
    let mut mechanisms: Vec<(i64, String)> = pool
        .settings
        .get("AccountRecoverySetting")
        .and_then(|s| s.get("RecoveryMechanisms"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| Some((m.get("Priority")?.as_i64()?, m.get("Name")?.as_str()?.to_owned())))
        .collect();
    mechanisms.sort();
    let names: Vec<String> = if mechanisms.is_empty() {
        vec!["verified_phone_number".into(), "verified_email".into()]
    } else {
        mechanisms.into_iter().map(|(_, name)| name).collect()
    };
    for name in names {
        let medium = match name.as_str() {
            "verified_phone_number" => Medium::Sms,
            "verified_email" => Medium::Email,
            _ => return Err(Error::new(ErrorKind::NotAuthorized, "Contact administrator to reset password.")),
        };
        let attribute = medium.attribute();
        let verified = user.attributes.get(&format!("{attribute}_verified")).is_some_and(|v| v == "true");
        if let Some(address) = user.attributes.get(attribute).filter(|_| verified) {
            return Ok(Some((medium, address.clone())));
        }
    }
    Ok(None)
}

fn no_recovery_address() -> Error {
    Error::invalid_parameter(
        "Cannot reset password for the user as there is no registered/verified email or phone_number",
    )
}

fn not_resettable() -> Error {
    Error::new(ErrorKind::NotAuthorized, "User password cannot be reset in the current state.")
}

/// Issues a reset code into `user`, stores it with its message, and returns the delivery details.
fn send_reset_code(
    app: &App,
    pool: &UserPool,
    user_key: &str,
    current: &Versioned<User>,
    mut user: User,
    (medium, to): (Medium, String),
) -> Result<Value> {
    let code = codes::issue(&app.auth.data, &mut user, CodePurpose::PasswordReset, None, RESET_CODE_SECS)?;
    let message = app.messenger.prepare(
        &app.auth.data,
        &Outgoing {
            pool,
            purpose: Purpose::PasswordReset,
            medium,
            to: &to,
            username: &user.username,
            code: &code,
            link: None,
        },
    )?;
    user.modified = now_epoch();
    app.directory.replace_user_and_send(user_key, current, &user, &[message], AliasTakeover::Refuse)?;
    app.messenger.wake();
    Ok(delivery_details(medium, &to))
}

pub async fn forgot_password(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let who = caller(app, &input).await?;
    let found = who.find(app)?;
    let Caller { client, pool, user_key: typed_key, .. } = who;
    let prevent = client.prevents_user_existence_errors();
    let simulated = || Ok(json!({"CodeDeliveryDetails": phantom_delivery(app, &pool, &typed_key)?}));
    let Some((user_key, current)) = found else { return if prevent { simulated() } else { Err(no_such_user()) } };
    let user = current.record.clone();
    if !user.enabled {
        return if prevent { simulated() } else { Err(Error::new(ErrorKind::NotAuthorized, "User is disabled.")) };
    }
    if user.status == UserStatus::ForceChangePassword {
        return Err(not_resettable());
    }
    let Some(destination) = recovery_destination(&pool, &user)? else {
        return if prevent { simulated() } else { Err(no_recovery_address()) };
    };
    let details = send_reset_code(app, &pool, &user_key, &current, user, destination)?;
    Ok(json!({"CodeDeliveryDetails": details}))
}

pub async fn confirm_forgot_password(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let who = caller(app, &input).await?;
    let found = who.find(app)?;
    let Caller { client, pool, username, .. } = who;
    let code = str_member(&input, "ConfirmationCode");
    let password = str_member(&input, "Password");
    let prevent = client.prevents_user_existence_errors();
    let Some((user_key, current)) = found.filter(|(_, u)| u.record.enabled || !prevent) else {
        return Err(unknown_user_code_answer(app, &client));
    };
    PasswordPolicy::of_pool(&pool.settings).check(password)?;
    let mut user = current.record.clone();
    codes::redeem(app, &pool, &user_key, &mut user, CodePurpose::PasswordReset, code)?;
    user.password = Some(sealed_verifier(app, &pool, &user_key, &user.username.clone(), password).await?);
    user.status = UserStatus::Confirmed;
    user.temporary_password_expires = None;
    user.modified = now_epoch();
    app.directory.replace_user(&user_key, &current, &user)?;
    tracing::info!(pool = %pool.id, user = %username, "password reset with a code");
    Ok(json!({}))
}

pub async fn admin_reset_user_password(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let t = target(app, &input)?;
    let mut user = t.user.record.clone();
    if matches!(user.status, UserStatus::ForceChangePassword | UserStatus::Unconfirmed) {
        return Err(not_resettable());
    }
    let destination = recovery_destination(&t.pool, &user)?.ok_or_else(no_recovery_address)?;
    user.status = UserStatus::ResetRequired;
    send_reset_code(app, &t.pool, &t.user_key, &t.user, user, destination)?;
    Ok(json!({}))
}
