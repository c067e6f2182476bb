//! Self-service sign-up: SignUp (with the confirmation code sent to an auto-verified attribute),
//! ConfirmSignUp and ResendConfirmationCode, with Cognito's errors and, when the app client
//! prevents user-existence errors, answers that do not tell whether the user exists.

use serde_json::{json, Value};

use super::codes::{self, CodePurpose, VERIFICATION_CODE_SECS};
use super::names::{name_new_user, NewUserName};
use super::public::{caller, no_such_user, phantom_delivery, unknown_user_code_answer, Caller};
use super::users::{alias_takeover, attributes_from, check_required, named_user};
use super::{object, str_member};
use crate::app::App;
use crate::auth::flows::sealed_verifier;
use crate::messaging::templates::{delivery_details, Medium, Purpose};
use crate::messaging::Outgoing;
use crate::protocol::error::{Error, ErrorKind, Result};
use crate::store::directory::Versioned;
use crate::store::records::{now_epoch, AppClient, User, UserPool, UserStatus};
use crate::store::users::AliasTakeover;

/// Where a sign-up code goes: an attribute of the pool's `AutoVerifiedAttributes` that the user
/// has, the phone number first (as Cognito does when both are auto-verified).
pub(super) fn verification_destination(pool: &UserPool, user: &User) -> Option<(Medium, String)> {
    [Medium::Sms, Medium::Email].into_iter().find_map(|medium| {
        let attribute = medium.attribute();
        let address = user.attributes.get(attribute).filter(|_| pool.auto_verifies(attribute))?;
        Some((medium, address.clone()))
    })
}

/// Issues a sign-up code into `user` and renders its message (with the confirmation link
/// [`confirm_by_link`] answers, for pools that send links); returns the queued message and the
/// `CodeDeliveryDetails`, or nothing when no auto-verified attribute can receive it.
fn sign_up_code(
    app: &App,
    (client, pool): (&AppClient, &UserPool),
    user: &mut User,
) -> Result<Option<(crate::store::messages::QueuedMessage, Value)>> {
    let Some((medium, to)) = verification_destination(pool, user) else { return Ok(None) };
    let code =
        codes::issue(&app.auth.data, user, CodePurpose::SignUp, Some(medium.attribute()), VERIFICATION_CODE_SECS)?;
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", client.id.as_str())
        .append_pair("user_name", &user.username)
        .append_pair("confirmation_code", &code)
        .finish();
    let link = format!("{}/confirmUser?{query}", app.config.public_url().trim_end_matches('/'));
    let out = Outgoing {
        pool,
        purpose: Purpose::SignUp,
        medium,
        to: &to,
        username: &user.username,
        code: &code,
        link: Some(&link),
    };
    let message = app.messenger.prepare(&app.auth.data, &out)?;
    Ok(Some((message, delivery_details(medium, &to))))
}

pub async fn sign_up(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let Caller { client, pool, username, .. } = caller(app, &input).await?;
    let admin_only = pool
        .settings
        .get("AdminCreateUserConfig")
        .and_then(|c| c.get("AllowAdminCreateUserOnly"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if admin_only {
        return Err(Error::new(ErrorKind::NotAuthorized, "SignUp is not permitted for this user pool"));
    }
    let mut attributes = attributes_from(&pool, input.get("UserAttributes"))?;
    let name = name_new_user(&pool, &username, &mut attributes)?;
    check_required(&pool, &attributes)?;
    let password = str_member(&input, "Password");
    let mut user = named_user(&pool, &name, attributes, UserStatus::Unconfirmed);
    if app.directory.find_user(&pool, &username)?.is_some() {
        return Err(taken(&name));
    }
    user.password = Some(sealed_verifier(app, &pool, &name.user_key, &user.username, password).await?);
    let code = sign_up_code(app, (&client, &pool), &mut user)?;
    let messages: Vec<_> = code.iter().map(|(m, _)| m.clone()).collect();
    app.directory.create_user_and_send(&name.user_key, &user, &messages, AliasTakeover::Refuse).map_err(|e| match e
        .kind
    {
        ErrorKind::UsernameExists if name.username_attribute.is_none() => taken(&name),
        _ => e,
    })?;
    let mut out = json!({"UserConfirmed": false, "UserSub": user.sub});
    if let Some((_, details)) = code {
        app.messenger.wake();
        out["CodeDeliveryDetails"] = details;
    }
    Ok(out)
}

/// SignUp's answer for a name in use: a taken username, or with email / phone usernames, the
/// address (as Cognito words each).
fn taken(name: &NewUserName) -> Error {
    match name.username_attribute {
        None => Error::new(ErrorKind::UsernameExists, "User already exists"),
        Some(attribute) => {
            Error::new(ErrorKind::UsernameExists, format!("An account with the given {attribute} already exists."))
        }
    }
}

pub async fn confirm_sign_up(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let who = caller(app, &input).await?;
    let code = str_member(&input, "ConfirmationCode");
    confirm(app, (&who.client, &who.pool), &who.username, code, alias_takeover(&input))?;
    Ok(json!({}))
}

/// `GET /confirmUser?client_id=..&user_name=..&confirmation_code=..`: the link of a
/// `CONFIRM_WITH_LINK` sign-up email (no SECRET_HASH, as in Cognito).
pub fn confirm_by_link(app: &App, client_id: &str, user_name: &str, code: &str) -> Result<()> {
    let client = app.directory.client_shared(client_id)?;
    let pool = app.directory.pool(&client.pool_id)?.record;
    confirm(app, (&client, &pool), user_name, code, AliasTakeover::Refuse)
}

/// Confirms the user `name` with a sign-up code: CONFIRMED, and the attribute the code went to
/// verified.
fn confirm(
    app: &App,
    (client, pool): (&AppClient, &UserPool),
    name: &str,
    code: &str,
    takeover: AliasTakeover,
) -> Result<()> {
    let Some((user_key, current)) = app.directory.find_user(pool, name)? else {
        return Err(unknown_user_code_answer(app, client));
    };
    if current.record.status != UserStatus::Unconfirmed {
        return Err(Error::new(
            ErrorKind::NotAuthorized,
            format!("User cannot be confirmed. Current status is {}", current.record.status.wire_name()),
        ));
    }
    let mut user = current.record.clone();
    let attribute = codes::redeem(app, pool, &user_key, &mut user, CodePurpose::SignUp, code)?.attribute;
    user.status = UserStatus::Confirmed;
    if let Some(attribute) = attribute {
        user.attributes.insert(format!("{attribute}_verified"), "true".into());
    }
    user.modified = now_epoch();
    app.directory.replace_user_and_send(&user_key, &current, &user, &[], takeover)
}

pub async fn resend_confirmation_code(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let who = caller(app, &input).await?;
    let Some((user_key, current)) = who.find(app)? else {
        if who.client.prevents_user_existence_errors() {
            return Ok(json!({"CodeDeliveryDetails": phantom_delivery(app, &who.pool, &who.user_key)?}));
        }
        return Err(no_such_user());
    };
    if current.record.status == UserStatus::Confirmed {
        return Err(Error::invalid_parameter("User is already confirmed."));
    }
    resend(app, (&who.client, &who.pool), &user_key, &current)
}

fn resend(
    app: &App,
    (client, pool): (&AppClient, &UserPool),
    user_key: &str,
    current: &Versioned<User>,
) -> Result<Value> {
    let mut user = current.record.clone();
    let Some((message, details)) = sign_up_code(app, (client, pool), &mut user)? else {
        return Err(Error::invalid_parameter("Cannot resend codes. Auto verification not turned on."));
    };
    user.modified = now_epoch();
    app.directory.replace_user_and_send(user_key, current, &user, &[message], AliasTakeover::Refuse)?;
    app.messenger.wake();
    Ok(json!({"CodeDeliveryDetails": details}))
}
