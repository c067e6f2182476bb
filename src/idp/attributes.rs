//! Changing a user's attributes: AdminUpdateUserAttributes, UpdateUserAttributes,
//! AdminDeleteUserAttributes, DeleteUserAttributes, and verifying an email address or phone
//! number with a code: GetUserAttributeVerificationCode, VerifyUserAttribute.
//!
//! A changed email or phone number is no longer verified (unless the same call sets its
//! `*_verified`); when the pool auto-verifies it, a verification code goes to the new address.
//! With `AttributesRequireVerificationBeforeUpdate`, a verified address stays in use (and
//! verified) until the new one is verified: the new value is held with the code.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::codes::{self, CodePurpose, VERIFICATION_CODE_SECS};
use super::users::{attributes_from, target};
use super::{object, str_member};
use crate::app::App;
use crate::auth::access;
use crate::messaging::templates::{delivery_details, Medium, Purpose};
use crate::messaging::Outgoing;
use crate::protocol::error::{Error, ErrorKind, Result};
use crate::store::directory::Versioned;
use crate::store::messages::QueuedMessage;
use crate::store::records::{now_epoch, User, UserPool};
use crate::store::users::AliasTakeover;

fn nonconforming(name: &str, why: &str) -> Error {
    Error::invalid_parameter(format!("Attributes did not conform to the schema: {name}: {why}\n"))
}

/// The requested changes, checked against the schema (declared, not `sub`, mutable).
fn changes_of(pool: &UserPool, list: Option<&Value>) -> Result<BTreeMap<String, String>> {
    let changes = attributes_from(pool, list)?;
    if let Some(name) = changes.keys().find(|n| pool.schema_flag(n, "Mutable") == Some(false)) {
        return Err(nonconforming(name, "Attribute cannot be updated."));
    }
    Ok(changes)
}

/// A changed address that needs verifying, and the new value when it is held until then.
struct ToVerify {
    medium: Medium,
    held: Option<String>,
}

/// Applies `changes` to `user`; returns the addresses that changed and are not verified.
fn apply(pool: &UserPool, user: &mut User, mut changes: BTreeMap<String, String>) -> Vec<ToVerify> {
    let mut to_verify = Vec::new();
    for medium in [Medium::Email, Medium::Sms] {
        let attribute = medium.attribute();
        let flag = format!("{attribute}_verified");
        let Some(new) = changes.get(attribute).cloned() else { continue };
        if user.attributes.get(attribute) == Some(&new) || changes.contains_key(&flag) {
            continue;
        }
        let verified = user.attributes.get(&flag).is_some_and(|v| v == "true");
        if verified && pool.requires_verification_before_update(attribute) && pool.auto_verifies(attribute) {
            changes.remove(attribute);
            to_verify.push(ToVerify { medium, held: Some(new) });
        } else {
            user.attributes.insert(flag, "false".into());
            to_verify.push(ToVerify { medium, held: None });
        }
    }
    user.attributes.extend(changes);
    to_verify
}

/// Issues a verification code for `medium`'s attribute and renders its message: to `held` (a
/// new address that takes effect when verified) or else the stored address.
fn verification_code(
    app: &App,
    pool: &UserPool,
    user: &mut User,
    medium: Medium,
    held: Option<&str>,
) -> Result<(QueuedMessage, Value)> {
    let attribute = medium.attribute();
    let to = held.map(str::to_owned).or_else(|| user.attributes.get(attribute).cloned()).unwrap_or_default();
    let purpose = CodePurpose::Verify(attribute);
    let code = codes::issue(&app.auth.data, user, purpose, Some(attribute), VERIFICATION_CODE_SECS)?;
    if let Some(value) = held {
        codes::hold_value(user, purpose, value);
    }
    let message = app.messenger.prepare(
        &app.auth.data,
        &Outgoing {
            pool,
            purpose: Purpose::AttributeVerification,
            medium,
            to: &to,
            username: &user.username,
            code: &code,
            link: None,
        },
    )?;
    Ok((message, delivery_details(medium, &to)))
}

/// Stores the updated user with a verification code for each changed auto-verified address;
/// returns their `CodeDeliveryDetails`.
fn update(
    app: &App,
    pool: &UserPool,
    (user_key, current): (&str, &Versioned<User>),
    list: Option<&Value>,
    takeover: AliasTakeover,
) -> Result<Vec<Value>> {
    let changes = changes_of(pool, list)?;
    let mut user = current.record.clone();
    let to_verify = apply(pool, &mut user, changes);
    let mut messages = Vec::new();
    let mut details = Vec::new();
    for ToVerify { medium, held } in to_verify.into_iter().filter(|v| pool.auto_verifies(v.medium.attribute())) {
        let (message, detail) = verification_code(app, pool, &mut user, medium, held.as_deref())?;
        messages.push(message);
        details.push(detail);
    }
    user.modified = now_epoch();
    app.directory.replace_user_and_send(user_key, current, &user, &messages, takeover)?;
    if !messages.is_empty() {
        app.messenger.wake();
    }
    Ok(details)
}

pub async fn admin_update_user_attributes(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let t = target(app, &input)?;
    // An administrator verifying an address another user holds as an alias moves the alias
    // (Cognito does; the other user's address becomes unverified).
    update(app, &t.pool, (&t.user_key, &t.user), input.get("UserAttributes"), AliasTakeover::Move)?;
    Ok(json!({}))
}

/// Self-service changes are limited to the app client's `WriteAttributes`.
fn check_writable<'a>(app: &App, bearer: &access::Bearer, names: impl IntoIterator<Item = &'a str>) -> Result<()> {
    let client = app.directory.client_shared(&bearer.claims.client_id)?;
    if names.into_iter().all(|n| client.can_write(n)) {
        Ok(())
    } else {
        Err(Error::new(ErrorKind::NotAuthorized, "A client attempted to write unauthorized attribute"))
    }
}

/// The attribute names of `UserAttributes` (`[{Name, Value}]`) or `UserAttributeNames` (`[name]`).
fn names_in(list: Option<&Value>) -> Vec<&str> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.get("Name").or(Some(v)).and_then(Value::as_str))
        .collect()
}

pub async fn update_user_attributes(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let bearer = access::authenticate(app, str_member(&input, "AccessToken")).await?;
    check_writable(app, &bearer, names_in(input.get("UserAttributes")))?;
    let details = update(
        app,
        &bearer.pool,
        (&bearer.user_key, &bearer.user),
        input.get("UserAttributes"),
        AliasTakeover::Refuse,
    )?;
    let mut out = json!({});
    if !details.is_empty() {
        out["CodeDeliveryDetailsList"] = json!(details);
    }
    Ok(out)
}

/// Removes the named attributes (declared, not `sub`, not required); with an address its
/// `*_verified` goes too.
fn delete(
    app: &App,
    pool: &UserPool,
    user_key: &str,
    current: &Versioned<User>,
    input: &Map<String, Value>,
) -> Result<()> {
    let names = names_in(input.get("UserAttributeNames"));
    let declared: Vec<&str> = pool.schema_attribute_names().collect();
    let mut user = current.record.clone();
    for name in names {
        if name == "sub" || pool.schema_flag(name, "Mutable") == Some(false) {
            return Err(nonconforming(name, "Attribute cannot be updated."));
        }
        if !declared.contains(&name) {
            return Err(nonconforming(name, "Attribute does not exist in the schema."));
        }
        if pool.schema_flag(name, "Required") == Some(true) {
            return Err(nonconforming(name, "The attribute is required"));
        }
        user.attributes.remove(name);
        if Medium::of_attribute(name).is_some() {
            user.attributes.remove(&format!("{name}_verified"));
        }
    }
    user.modified = now_epoch();
    app.directory.replace_user(user_key, current, &user)
}

pub async fn admin_delete_user_attributes(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let t = target(app, &input)?;
    delete(app, &t.pool, &t.user_key, &t.user, &input)?;
    Ok(json!({}))
}

pub async fn delete_user_attributes(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let bearer = access::authenticate(app, str_member(&input, "AccessToken")).await?;
    check_writable(app, &bearer, names_in(input.get("UserAttributeNames")))?;
    delete(app, &bearer.pool, &bearer.user_key, &bearer.user, &input)?;
    Ok(json!({}))
}

/// The medium of a verifiable attribute the user has, or Cognito's error.
fn verifiable(user: &User, name: &str) -> Result<Medium> {
    Medium::of_attribute(name)
        .filter(|m| user.attributes.contains_key(m.attribute()))
        .ok_or_else(|| Error::invalid_parameter(format!("Invalid attribute name: {name}")))
}

pub async fn get_user_attribute_verification_code(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let bearer = access::authenticate(app, str_member(&input, "AccessToken")).await?;
    let medium = verifiable(&bearer.user.record, str_member(&input, "AttributeName"))?;
    let mut user = bearer.user.record.clone();
    let held = codes::held_value(&user, CodePurpose::Verify(medium.attribute()));
    let (message, details) = verification_code(app, &bearer.pool, &mut user, medium, held.as_deref())?;
    user.modified = now_epoch();
    app.directory.replace_user_and_send(&bearer.user_key, &bearer.user, &user, &[message], AliasTakeover::Refuse)?;
    app.messenger.wake();
    Ok(json!({"CodeDeliveryDetails": details}))
}

pub async fn verify_user_attribute(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let bearer = access::authenticate(app, str_member(&input, "AccessToken")).await?;
    let medium = verifiable(&bearer.user.record, str_member(&input, "AttributeName"))?;
    let purpose = CodePurpose::Verify(medium.attribute());
    let code = str_member(&input, "Code");
    let mut user = bearer.user.record.clone();
    let used = codes::redeem(app, &bearer.pool, &bearer.user_key, &mut user, purpose, code)?;
    if let Some(value) = used.held_value {
        user.attributes.insert(medium.attribute().to_owned(), value);
    }
    user.attributes.insert(format!("{}_verified", medium.attribute()), "true".into());
    user.modified = now_epoch();
    app.directory.replace_user(&bearer.user_key, &bearer.user, &user)?;
    Ok(json!({}))
}
