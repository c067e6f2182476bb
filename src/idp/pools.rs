//! User pools: CreateUserPool, DescribeUserPool, UpdateUserPool, ListUserPools, DeleteUserPool.
//! A pool's JWT signing key is generated in the HSM at creation and destroyed with the pool.

use serde_json::{json, Map, Value};

use super::{object, page_size, pool_id_of, schema};
use crate::app::App;
use crate::ids::{KeyId, PoolId};
use crate::protocol::error::{Error, Result};
use crate::store::records::{now_epoch, UserPool};

/// Settings that CreateUserPool and UpdateUserPool both take, and their defaults when absent
/// (UpdateUserPool resets every omitted one to its default, as Cognito does).
const MUTABLE_SETTINGS: &[&str] = &[
    "Policies",
    "DeletionProtection",
    "LambdaConfig",
    "AutoVerifiedAttributes",
    "SmsVerificationMessage",
    "EmailVerificationMessage",
    "EmailVerificationSubject",
    "VerificationMessageTemplate",
    "SmsAuthenticationMessage",
    "UserAttributeUpdateSettings",
    "MfaConfiguration",
    "DeviceConfiguration",
    "EmailConfiguration",
    "SmsConfiguration",
    "AdminCreateUserConfig",
    "UserPoolAddOns",
    "AccountRecoverySetting",
    "UserPoolTier",
];

/// Settings fixed at creation.
const CREATE_ONLY_SETTINGS: &[&str] = &["AliasAttributes", "UsernameAttributes", "UsernameConfiguration"];

fn default_setting(name: &str) -> Option<Value> {
    Some(match name {
        "Policies" => {
            json!({"PasswordPolicy": default_password_policy(), "SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD"]}})
        }
        "DeletionProtection" => json!("INACTIVE"),
        "LambdaConfig" => json!({}),
        "VerificationMessageTemplate" => json!({"DefaultEmailOption": "CONFIRM_WITH_CODE"}),
        "UserAttributeUpdateSettings" => json!({"AttributesRequireVerificationBeforeUpdate": []}),
        "MfaConfiguration" => json!("OFF"),
        "EmailConfiguration" => json!({"EmailSendingAccount": "COGNITO_DEFAULT"}),
        "AdminCreateUserConfig" => json!({"AllowAdminCreateUserOnly": false, "UnusedAccountValidityDays": 7}),
        "UsernameConfiguration" => json!({"CaseSensitive": false}),
        "UserPoolTier" => json!("ESSENTIALS"),
        _ => return None,
    })
}

fn default_password_policy() -> Value {
    json!({
        "MinimumLength": 8,
        "RequireUppercase": true,
        "RequireLowercase": true,
        "RequireNumbers": true,
        "RequireSymbols": true,
        "TemporaryPasswordValidityDays": 7,
    })
}

/// The stored form of `Policies`: a given PasswordPolicy keeps its values, omitted members of it
/// take Cognito's (false / 8 / 7 days); an omitted SignInPolicy is password-first.
fn normalise_policies(policies: &Value) -> Value {
    let mut out = policies.clone();
    let password = match policies.get("PasswordPolicy") {
        Some(given) => {
            let mut p = json!({
                "MinimumLength": 8, "RequireUppercase": false, "RequireLowercase": false,
                "RequireNumbers": false, "RequireSymbols": false, "TemporaryPasswordValidityDays": 7,
            });
            if let (Some(p), Some(given)) = (p.as_object_mut(), given.as_object()) {
                p.extend(given.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            p
        }
        None => default_password_policy(),
    };
    out["PasswordPolicy"] = password;
    if out.get("SignInPolicy").is_none() {
        out["SignInPolicy"] = json!({"AllowedFirstAuthFactors": ["PASSWORD"]});
    }
    out
}

/// Builds the settings map from a Create/UpdateUserPool input: given values, else defaults.
fn settings_from(input: &Map<String, Value>, names: &[&str], into: &mut Map<String, Value>) {
    for &name in names {
        match input.get(name).filter(|v| !v.is_null()).cloned().or_else(|| default_setting(name)) {
            Some(v) if name == "Policies" => {
                into.insert(name.into(), normalise_policies(&v));
            }
            Some(v) => {
                into.insert(name.into(), v);
            }
            None => {
                into.remove(name);
            }
        }
    }
}

/// Cognito treats `AdminCreateUserConfig.UnusedAccountValidityDays` and the password policy's
/// `TemporaryPasswordValidityDays` as one setting: the older member, given without the newer,
/// sets it.
fn carry_unused_account_validity(input: &Map<String, Value>, into: &mut Map<String, Value>) {
    let Some(days) =
        input.get("AdminCreateUserConfig").and_then(|c| c.get("UnusedAccountValidityDays")).and_then(Value::as_i64)
    else {
        return;
    };
    let policy_given = input
        .get("Policies")
        .and_then(|p| p.get("PasswordPolicy"))
        .and_then(|p| p.get("TemporaryPasswordValidityDays"))
        .is_some();
    if policy_given {
        return;
    }
    let policy = into.get_mut("Policies").and_then(|p| p.get_mut("PasswordPolicy")).and_then(Value::as_object_mut);
    if let Some(policy) = policy {
        policy.insert("TemporaryPasswordValidityDays".into(), json!(days));
    }
}

/// Cross-member rules the model cannot express.
fn check_settings(settings: &Map<String, Value>) -> Result<()> {
    if settings.contains_key("AliasAttributes") && settings.contains_key("UsernameAttributes") {
        return Err(Error::invalid_parameter(
            "Only one of aliasAttributes or usernameAttributes can be set in a User Pool.",
        ));
    }
    let auto_verified = settings.get("AutoVerifiedAttributes").and_then(Value::as_array);
    let held = settings
        .get("UserAttributeUpdateSettings")
        .and_then(|s| s.get("AttributesRequireVerificationBeforeUpdate"))
        .and_then(Value::as_array);
    if let Some(attribute) = held.into_iter().flatten().find(|a| !auto_verified.is_some_and(|v| v.contains(a))) {
        return Err(Error::invalid_parameter(format!(
            "{} is in AttributesRequireVerificationBeforeUpdate but not in AutoVerifiedAttributes.",
            attribute.as_str().unwrap_or_default()
        )));
    }
    let mfa = settings.get("MfaConfiguration").and_then(Value::as_str).unwrap_or("OFF");
    if mfa != "OFF" && !settings.contains_key("SmsConfiguration") {
        return Err(Error::invalid_parameter(
            "SMS configuration and Auto verification for phone_number are required when MFA is required/optional",
        ));
    }
    if let Some(template) = settings.get("VerificationMessageTemplate") {
        if template.get("DefaultEmailOption") == Some(&json!("CONFIRM_WITH_LINK"))
            && template.get("EmailMessageByLink").is_some_and(|m| !m.as_str().unwrap_or_default().contains("{##"))
        {
            return Err(Error::invalid_parameter("EmailMessageByLink must contain a {##...##} link placeholder."));
        }
    }
    Ok(())
}

fn tags_from(input: &Map<String, Value>) -> std::collections::BTreeMap<String, String> {
    input
        .get("UserPoolTags")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect())
        .unwrap_or_default()
}

/// `UserPoolType` as DescribeUserPool and CreateUserPool return it.
pub fn describe_pool(app: &App, pool: &UserPool) -> Value {
    let mut out = Map::new();
    out.insert("Id".into(), json!(pool.id));
    out.insert("Name".into(), json!(pool.name));
    out.extend(pool.settings.iter().map(|(k, v)| (k.clone(), v.clone())));
    out.insert("LastModifiedDate".into(), json!(pool.modified));
    out.insert("CreationDate".into(), json!(pool.created));
    out.insert("EstimatedNumberOfUsers".into(), json!(0));
    out.insert("UserPoolTags".into(), json!(pool.tags));
    out.insert("Arn".into(), json!(app.pool_arn(pool.id.as_str())));
    Value::Object(out)
}

pub async fn create(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let name = input.get("PoolName").and_then(Value::as_str).unwrap_or_default().to_owned();
    let mut settings = Map::new();
    settings_from(&input, MUTABLE_SETTINGS, &mut settings);
    settings_from(&input, CREATE_ONLY_SETTINGS, &mut settings);
    carry_unused_account_validity(&input, &mut settings);
    let requested_schema = input.get("Schema").and_then(Value::as_array).cloned().unwrap_or_default();
    settings.insert("SchemaAttributes".into(), Value::Array(schema::build(&requested_schema)?));
    check_settings(&settings)?;

    let kid = KeyId::generate();
    let key_id = kid.clone();
    app.with_vault("generating signing key", move |v| v.generate_signing_key(key_id.as_str())).await?;
    let now = now_epoch();
    let pool = UserPool {
        id: PoolId::generate(&app.config.server.region),
        name,
        created: now,
        modified: now,
        signing_keys: vec![kid.clone()],
        settings,
        tags: tags_from(&input),
    };
    if let Err(e) = app.directory.create_pool(&pool) {
        // Do not leave an orphaned key in the token.
        let _ = app.with_vault("destroying signing key", move |v| v.destroy_signing_key(kid.as_str())).await;
        return Err(e);
    }
    tracing::info!(pool = %pool.id, "created user pool");
    Ok(json!({ "UserPool": describe_pool(app, &pool) }))
}

pub async fn describe(app: &App, body: Value) -> Result<Value> {
    let pool = app.directory.pool(&pool_id_of(&object(body)))?;
    let mut described = describe_pool(app, &pool.record);
    // The first call per pool counts its users (a key scan); later ones read a counter.
    let users = tokio::task::block_in_place(|| app.directory.estimated_users(&pool.record.id))?;
    described["EstimatedNumberOfUsers"] = json!(users);
    Ok(json!({ "UserPool": described }))
}

/// AddCustomAttributes: new `custom:` attributes appended to the pool's schema.
pub async fn add_custom_attributes(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let current = app.directory.pool(&pool_id_of(&input))?;
    let mut pool = current.record.clone();
    let mut schema = pool.settings.get("SchemaAttributes").and_then(Value::as_array).cloned().unwrap_or_default();
    let requested = input.get("CustomAttributes").and_then(Value::as_array).cloned().unwrap_or_default();
    super::schema::add_custom(&mut schema, &requested)?;
    pool.settings.insert("SchemaAttributes".into(), Value::Array(schema));
    pool.modified = crate::store::records::now_epoch();
    app.directory.replace_pool(&current, &pool)?;
    Ok(json!({}))
}

pub async fn update(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let current = app.directory.pool(&pool_id_of(&input))?;
    let mut pool = current.record.clone();
    settings_from(&input, MUTABLE_SETTINGS, &mut pool.settings);
    carry_unused_account_validity(&input, &mut pool.settings);
    check_settings(&pool.settings)?;
    if let Some(name) = input.get("PoolName").and_then(Value::as_str) {
        pool.name = name.to_owned();
    }
    if input.contains_key("UserPoolTags") {
        pool.tags = tags_from(&input);
    }
    pool.modified = now_epoch();
    app.directory.replace_pool(&current, &pool)?;
    Ok(json!({}))
}

pub async fn list(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let limit = page_size(input.get("MaxResults").and_then(Value::as_i64), 60);
    let token = input.get("NextToken").and_then(Value::as_str);
    let page = app.directory.list_pools(token, limit)?;
    let pools: Vec<Value> = page
        .items
        .iter()
        .map(|p| {
            json!({
                "Id": p.id,
                "Name": p.name,
                "LambdaConfig": p.settings.get("LambdaConfig").cloned().unwrap_or_else(|| json!({})),
                "LastModifiedDate": p.modified,
                "CreationDate": p.created,
            })
        })
        .collect();
    let mut out = json!({ "UserPools": pools });
    if let Some(t) = page.next_token {
        out["NextToken"] = json!(t);
    }
    Ok(out)
}

pub async fn delete(app: &App, body: Value) -> Result<Value> {
    let current = app.directory.pool(&pool_id_of(&object(body)))?;
    if current.record.settings.get("DeletionProtection").and_then(Value::as_str) == Some("ACTIVE") {
        return Err(Error::invalid_parameter(
            "The user pool cannot be deleted because deletion protection is activated. Deletion protection must be inactivated first.",
        ));
    }
    super::import::refuse_while_importing(app, &current.record.id)?;
    app.directory.delete_pool(&current)?;
    app.directory.purge_in_background();
    let kids = current.record.signing_keys.clone();
    app.forget_jwks(&kids);
    let destroyed = app
        .with_vault("destroying signing keys", move |v| kids.iter().try_for_each(|k| v.destroy_signing_key(k.as_str())))
        .await;
    if let Err(e) = destroyed {
        // The pool is gone; a key left behind is unreachable but logged for the operator.
        tracing::error!(pool = %current.record.id, error = %e, "could not destroy the deleted pool's signing key");
    }
    tracing::info!(pool = %current.record.id, "deleted user pool");
    Ok(json!({}))
}
