//! User operations: AdminCreateUser (with its invitation), AdminGetUser, AdminDeleteUser,
//! AdminSetUserPassword, AdminDisableUser, AdminEnableUser, AdminConfirmSignUp and ListUsers.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::names::{name_new_user, NewUserName};
use super::{object, page_size, pool_id_of, str_member};
use crate::app::App;
use crate::auth::flows::sealed_verifier;
use crate::auth::password::PasswordPolicy;
use crate::messaging::templates::{Medium, Purpose};
use crate::messaging::Outgoing;
use crate::protocol::error::{Error, ErrorKind, Result};
use crate::store::directory::Versioned;
use crate::store::messages::QueuedMessage;
use crate::store::records::{now_epoch, User, UserPool, UserStatus};
use crate::store::user_index::SEARCHABLE;
use crate::store::users::AliasTakeover;

const DAY_SECS: f64 = 86_400.0;

pub(super) fn user_missing() -> Error {
    Error::new(ErrorKind::UserNotFound, "User does not exist.")
}

/// `[{Name, Value}]` as a map, checked against the pool's schema: every name must be a schema
/// attribute, each value must fit its entry (`schema::check_value`), and `sub` is never set by
/// a caller.
pub(super) fn attributes_from(pool: &UserPool, list: Option<&Value>) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for entry in list.and_then(Value::as_array).into_iter().flatten() {
        let name = entry.get("Name").and_then(Value::as_str).unwrap_or_default();
        let value = entry.get("Value").and_then(Value::as_str).unwrap_or_default();
        if name == "sub" {
            return Err(Error::invalid_parameter(
                "Attributes did not conform to the schema: sub: Attribute cannot be updated.\n",
            ));
        }
        let Some(entry) = pool.schema_attribute(name) else {
            return Err(Error::invalid_parameter(format!(
                "Attributes did not conform to the schema: {name}: Attribute does not exist in the schema.\n"
            )));
        };
        super::schema::check_value(entry, name, value)?;
        out.insert(name.to_owned(), value.to_owned());
    }
    Ok(out)
}

/// Required schema attributes (other than `sub`) missing from `attributes`, as SignUp reports them.
pub(super) fn check_required(pool: &UserPool, attributes: &BTreeMap<String, String>) -> Result<()> {
    let missing: Vec<String> = pool
        .required_attribute_names()
        .filter(|n| !attributes.contains_key(*n))
        .map(|n| format!("{n}: The attribute {n} is required"))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid_parameter(format!("Attributes did not conform to the schema: {}", missing.join(", "))))
    }
}

/// `UserAttributes` with `sub` first.
pub fn attribute_list(user: &User, only: Option<&[String]>) -> Vec<Value> {
    let wanted = |name: &str| only.is_none_or(|names| names.iter().any(|n| n == name));
    let mut list = Vec::with_capacity(user.attributes.len() + 1);
    if wanted("sub") {
        list.push(json!({"Name": "sub", "Value": user.sub}));
    }
    list.extend(user.attributes.iter().filter(|(n, _)| wanted(n)).map(|(n, v)| json!({"Name": n, "Value": v})));
    list
}

/// `UserType` (AdminCreateUser, ListUsers).
pub(super) fn user_type(user: &User, only: Option<&[String]>) -> Value {
    json!({
        "Username": user.username,
        "Attributes": attribute_list(user, only),
        "UserCreateDate": user.created,
        "UserLastModifiedDate": user.modified,
        "Enabled": user.enabled,
        "UserStatus": user.status.wire_name(),
    })
}

pub(super) struct Target {
    pub pool: UserPool,
    pub user_key: String,
    pub user: Versioned<User>,
}

/// The pool and user an Admin* operation names (`UserPoolId`, `Username`: the username or a
/// sign-in name the pool allows, as Cognito accepts).
pub(super) fn target(app: &App, input: &Map<String, Value>) -> Result<Target> {
    let pool = app.directory.pool(&pool_id_of(input))?.record;
    let (user_key, user) = app.directory.find_user(&pool, str_member(input, "Username"))?.ok_or_else(user_missing)?;
    Ok(Target { pool, user_key, user })
}

/// `ForceAliasCreation` of AdminCreateUser and ConfirmSignUp.
pub(super) fn alias_takeover(input: &Map<String, Value>) -> AliasTakeover {
    if input.get("ForceAliasCreation").and_then(Value::as_bool) == Some(true) {
        AliasTakeover::Move
    } else {
        AliasTakeover::Refuse
    }
}

/// Applies `change` to the named user and stores the result.
async fn update_user(app: &App, body: Value, change: impl FnOnce(&mut User) -> Result<()>) -> Result<Value> {
    let input = object(body);
    let t = target(app, &input)?;
    let mut user = t.user.record.clone();
    change(&mut user)?;
    user.modified = now_epoch();
    app.directory.replace_user(&t.user_key, &t.user, &user)?;
    Ok(json!({}))
}

/// A new, enabled user named by [`name_new_user`] (its `sub` is the username when the pool
/// uses email or phone as usernames), with no password yet.
pub(super) fn named_user(
    pool: &UserPool,
    name: &NewUserName,
    attributes: BTreeMap<String, String>,
    status: UserStatus,
) -> User {
    let now = now_epoch();
    User {
        pool_id: pool.id.clone(),
        username: name.username.clone(),
        sub: name.sub.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        attributes,
        status,
        enabled: true,
        created: now,
        modified: now,
        password: None,
        temporary_password_expires: None,
        codes: Default::default(),
    }
}

/// The addresses an AdminCreateUser invitation goes to: each of `DesiredDeliveryMediums` (whose
/// attribute the user must have), or by default an SMS when the user has a phone number
/// (Cognito's default medium is SMS).
fn invitation_recipients(input: &Map<String, Value>, user: &User) -> Result<Vec<(Medium, String)>> {
    let address = |medium: Medium| user.attributes.get(medium.attribute()).map(|a| (medium, a.clone()));
    let Some(requested) = input.get("DesiredDeliveryMediums").and_then(Value::as_array) else {
        return Ok(address(Medium::Sms).into_iter().collect());
    };
    requested
        .iter()
        .map(|name| {
            let medium = if name.as_str() == Some("EMAIL") { Medium::Email } else { Medium::Sms };
            address(medium).ok_or_else(|| {
                Error::invalid_parameter(match medium {
                    Medium::Email => "No email provided but desired delivery medium was Email",
                    Medium::Sms => "No phone_number provided but desired delivery medium was SMS",
                })
            })
        })
        .collect()
}

/// The invitation messages carrying `temporary`, unless `MessageAction` is `SUPPRESS`.
fn invitations(
    app: &App,
    pool: &UserPool,
    input: &Map<String, Value>,
    user: &User,
    temporary: &str,
) -> Result<Vec<QueuedMessage>> {
    if str_member(input, "MessageAction") == "SUPPRESS" {
        return Ok(Vec::new());
    }
    invitation_recipients(input, user)?
        .iter()
        .map(|(medium, to)| {
            let out = Outgoing {
                pool,
                purpose: Purpose::Invitation,
                medium: *medium,
                to,
                username: &user.username,
                code: temporary,
                link: None,
            };
            app.messenger.prepare(&app.auth.data, &out)
        })
        .collect()
}

/// A new temporary password for `user` (the given one or a generated one), valid for the pool's
/// `TemporaryPasswordValidityDays`; returns it in clear for the invitation.
async fn set_temporary_password(
    app: &App,
    pool: &UserPool,
    user_key: &str,
    input: &Map<String, Value>,
    user: &mut User,
) -> Result<String> {
    let policy = PasswordPolicy::of_pool(&pool.settings);
    let temporary = match input.get("TemporaryPassword").and_then(Value::as_str) {
        Some(p) => p.to_owned(),
        None => policy.generate_temporary(),
    };
    let now = now_epoch();
    user.temporary_password_expires = Some(now + policy.temporary_password_validity_days as f64 * DAY_SECS);
    user.password = Some(sealed_verifier(app, pool, user_key, &user.username.clone(), &temporary).await?);
    user.modified = now;
    Ok(temporary)
}

pub async fn admin_create_user(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let pool = app.directory.pool(&pool_id_of(&input))?.record;
    if str_member(&input, "MessageAction") == "RESEND" {
        let (user_key, current) =
            app.directory.find_user(&pool, str_member(&input, "Username"))?.ok_or_else(user_missing)?;
        return resend_invitation(app, &pool, &user_key, current, &input).await;
    }
    let mut attributes = attributes_from(&pool, input.get("UserAttributes"))?;
    let name = name_new_user(&pool, str_member(&input, "Username"), &mut attributes)?;
    let mut user = named_user(&pool, &name, attributes, UserStatus::ForceChangePassword);
    let temporary = set_temporary_password(app, &pool, &name.user_key, &input, &mut user).await?;
    let messages = invitations(app, &pool, &input, &user, &temporary)?;
    app.directory.create_user_and_send(&name.user_key, &user, &messages, alias_takeover(&input))?;
    if !messages.is_empty() {
        app.messenger.wake();
    }
    Ok(json!({"User": user_type(&user, None)}))
}

/// `MessageAction: RESEND`: a new temporary password with a fresh validity, sent again.
async fn resend_invitation(
    app: &App,
    pool: &UserPool,
    user_key: &str,
    current: Versioned<User>,
    input: &Map<String, Value>,
) -> Result<Value> {
    if current.record.status != UserStatus::ForceChangePassword {
        return Err(Error::new(
            ErrorKind::UnsupportedUserState,
            format!("Resend not possible. {} status is not FORCE_CHANGE_PASSWORD.", current.record.username),
        ));
    }
    let mut user = current.record.clone();
    let temporary = set_temporary_password(app, pool, user_key, input, &mut user).await?;
    let messages = invitations(app, pool, input, &user, &temporary)?;
    app.directory.replace_user_and_send(user_key, &current, &user, &messages, AliasTakeover::Refuse)?;
    app.messenger.wake();
    Ok(json!({"User": user_type(&user, None)}))
}

pub async fn admin_get_user(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let user = target(app, &input)?.user.record;
    Ok(json!({
        "Username": user.username,
        "UserAttributes": attribute_list(&user, None),
        "UserCreateDate": user.created,
        "UserLastModifiedDate": user.modified,
        "Enabled": user.enabled,
        "UserStatus": user.status.wire_name(),
    }))
}

pub async fn admin_delete_user(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let t = target(app, &input)?;
    app.directory.delete_user(&t.user_key, &t.user)?;
    Ok(json!({}))
}

pub async fn admin_set_user_password(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let t = target(app, &input)?;
    let password = str_member(&input, "Password");
    let permanent = input.get("Permanent").and_then(Value::as_bool).unwrap_or(false);
    let sealed = sealed_verifier(app, &t.pool, &t.user_key, &t.user.record.username, password).await?;
    let mut user = t.user.record.clone();
    user.password = Some(sealed);
    let now = now_epoch();
    if permanent {
        user.status = UserStatus::Confirmed;
        user.temporary_password_expires = None;
    } else {
        user.status = UserStatus::ForceChangePassword;
        let days = PasswordPolicy::of_pool(&t.pool.settings).temporary_password_validity_days;
        user.temporary_password_expires = Some(now + days as f64 * DAY_SECS);
    }
    user.modified = now;
    app.directory.replace_user(&t.user_key, &t.user, &user)?;
    Ok(json!({}))
}

pub async fn admin_disable_user(app: &App, body: Value) -> Result<Value> {
    update_user(app, body, |u| {
        u.enabled = false;
        Ok(())
    })
    .await
}

pub async fn admin_enable_user(app: &App, body: Value) -> Result<Value> {
    update_user(app, body, |u| {
        u.enabled = true;
        Ok(())
    })
    .await
}

pub async fn admin_confirm_sign_up(app: &App, body: Value) -> Result<Value> {
    update_user(app, body, |u| {
        if u.status != UserStatus::Unconfirmed {
            return Err(Error::new(
                ErrorKind::NotAuthorized,
                format!("User cannot be confirmed. Current status is {}", u.status.wire_name()),
            ));
        }
        u.status = UserStatus::Confirmed;
        Ok(())
    })
    .await
}

/// A ListUsers `Filter`: `attribute = "value"` (exact) or `attribute ^= "value"` (prefix), on
/// one of [`SEARCHABLE`]; `\"` and `\\` escape inside the value.
struct UserFilter {
    attribute: String,
    value: String,
    prefix: bool,
}

impl UserFilter {
    fn parse(text: &str) -> Result<Option<Self>> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let bad = || Error::invalid_parameter("Error while parsing filter.");
        let (attribute, rest, prefix) = match (text.find("^="), text.find('=')) {
            (Some(i), Some(j)) if i < j => (&text[..i], &text[i + 2..], true),
            (_, Some(i)) => (&text[..i], &text[i + 1..], false),
            _ => return Err(bad()),
        };
        let attribute = attribute.trim().trim_matches('"').to_owned();
        let quoted = rest.trim().strip_prefix('"').and_then(|v| v.strip_suffix('"')).ok_or_else(bad)?;
        let value = unescape(quoted).ok_or_else(bad)?;
        let value = match attribute.as_str() {
            // Cognito compares these two case-insensitively.
            "cognito:user_status" => value.to_uppercase(),
            "status" => {
                let lower = value.to_lowercase();
                let mut chars = lower.chars();
                chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
            }
            _ => value,
        };
        if !SEARCHABLE.contains(&attribute.as_str()) {
            return Err(Error::invalid_parameter(format!("Invalid search attribute: {attribute}")));
        }
        Ok(Some(Self { attribute, value, prefix }))
    }
}

/// A filter value with `\"` and `\\` unescaped; `None` when a quote is left unescaped.
fn unescape(quoted: &str) -> Option<String> {
    let mut out = String::with_capacity(quoted.len());
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// ListUsers: one page in username order, or with a filter, one page of the `user_index` entries
/// that match (an index range, never a scan of the pool), in value order.
pub async fn list_users(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let pool_id = pool_id_of(&input);
    app.directory.pool_shared(&pool_id)?;
    let only: Option<Vec<String>> = input
        .get("AttributesToGet")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect());
    let filter = UserFilter::parse(str_member(&input, "Filter"))?;
    let limit = page_size(input.get("Limit").and_then(Value::as_i64), 60);
    let token = input.get("PaginationToken").and_then(Value::as_str);
    let page = match &filter {
        None => app.directory.list_users(&pool_id, token, limit)?,
        Some(f) => app.directory.search_users(&pool_id, (&f.attribute, &f.value, !f.prefix), token, limit)?,
    };
    let users: Vec<Value> = page.items.iter().map(|u| user_type(u, only.as_deref())).collect();
    let mut out = json!({"Users": users});
    if let Some(t) = page.next_token {
        out["PaginationToken"] = json!(t);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_as_cognito_writes_them() {
        let f = UserFilter::parse("email ^= \"ali\"").unwrap().unwrap();
        assert_eq!((f.attribute.as_str(), f.value.as_str(), f.prefix), ("email", "ali", true));
        let f = UserFilter::parse("\"cognito:user_status\" = \"CONFIRMED\"").unwrap().unwrap();
        assert_eq!((f.attribute.as_str(), f.value.as_str(), f.prefix), ("cognito:user_status", "CONFIRMED", false));
        assert!(UserFilter::parse("").unwrap().is_none());
        assert!(UserFilter::parse("email").is_err());
        assert!(UserFilter::parse("email = ali").is_err());
        assert!(UserFilter::parse("custom:tier = \"x\"").is_err());
        let f = UserFilter::parse(r#"name = "say \"hi\"""#).unwrap().unwrap();
        assert_eq!(f.value, "say \"hi\"");
        assert!(UserFilter::parse(r#"name = "a"b""#).is_err());
        let f = UserFilter::parse("status = \"disabled\"").unwrap().unwrap();
        assert_eq!(f.value, "Disabled");
        let f = UserFilter::parse("cognito:user_status = \"confirmed\"").unwrap().unwrap();
        assert_eq!(f.value, "CONFIRMED");
    }
}
