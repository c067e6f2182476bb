//! App clients: CreateUserPoolClient, DescribeUserPoolClient, UpdateUserPoolClient,
//! ListUserPoolClients, DeleteUserPoolClient. Client secrets are sealed under the HSM's key.

use serde_json::{json, Map, Value};

use super::{object, page_size, pool_id_of, str_member};
use crate::app::App;
use crate::auth::tokens::seconds_per_unit;
use crate::ids::{generate_client_secret, ClientId};
use crate::protocol::error::{Error, ErrorKind, Result};
use crate::store::records::{now_epoch, AppClient};

/// Settings taken from Create/UpdateUserPoolClient; UpdateUserPoolClient resets omitted ones.
const SETTINGS: &[&str] = &[
    "RefreshTokenValidity",
    "AccessTokenValidity",
    "IdTokenValidity",
    "TokenValidityUnits",
    "ReadAttributes",
    "WriteAttributes",
    "ExplicitAuthFlows",
    "SupportedIdentityProviders",
    "CallbackURLs",
    "LogoutURLs",
    "DefaultRedirectURI",
    "AllowedOAuthFlows",
    "AllowedOAuthScopes",
    "AllowedOAuthFlowsUserPoolClient",
    "AnalyticsConfiguration",
    "PreventUserExistenceErrors",
    "EnableTokenRevocation",
    "EnablePropagateAdditionalUserContextData",
    "AuthSessionValidity",
    "RefreshTokenRotation",
];

const LEGACY_AUTH_FLOWS: &[&str] = &["ADMIN_NO_SRP_AUTH", "CUSTOM_AUTH_FLOW_ONLY", "USER_PASSWORD_AUTH"];

fn default_setting(name: &str) -> Option<Value> {
    Some(match name {
        "RefreshTokenValidity" => json!(30),
        "AccessTokenValidity" => json!(60),
        "IdTokenValidity" => json!(60),
        "TokenValidityUnits" => json!({"AccessToken": "minutes", "IdToken": "minutes", "RefreshToken": "days"}),
        "AllowedOAuthFlowsUserPoolClient" => json!(false),
        "PreventUserExistenceErrors" => json!("LEGACY"),
        "EnableTokenRevocation" => json!(true),
        "EnablePropagateAdditionalUserContextData" => json!(false),
        "AuthSessionValidity" => json!(3),
        _ => return None,
    })
}

/// (validity member, unit key, unit when a validity is given without one, unit of the default
/// validity, lower and upper bound in seconds, label): access and ID tokens live 5 min–1 day,
/// refresh tokens 1 hour–10 years.
const TOKEN_VALIDITY: [(&str, &str, &str, &str, i64, i64, &str); 3] = [
    ("AccessTokenValidity", "AccessToken", "hours", "minutes", 300, 86_400, "Access token"),
    ("IdTokenValidity", "IdToken", "hours", "minutes", 300, 86_400, "ID token"),
    ("RefreshTokenValidity", "RefreshToken", "days", "days", 3_600, 315_360_000, "Refresh token"),
];

/// Fills `TokenValidityUnits` as Cognito does: a unit given in the input wins; a validity given
/// without a unit is in the default unit for it (hours, or days for refresh tokens); a default
/// validity (60 minutes, 30 days) keeps its own unit.
fn resolve_token_units(input: &Map<String, Value>, settings: &mut Map<String, Value>) {
    let given = input.get("TokenValidityUnits").and_then(Value::as_object);
    let mut units = Map::new();
    for (member, token, unit_if_given, default_unit, ..) in TOKEN_VALIDITY {
        let unit = given.and_then(|u| u.get(token)).and_then(Value::as_str).unwrap_or(if input.contains_key(member) {
            unit_if_given
        } else {
            default_unit
        });
        units.insert(token.to_owned(), json!(unit));
    }
    settings.insert("TokenValidityUnits".into(), Value::Object(units));
}

fn check_token_validity(settings: &Map<String, Value>) -> Result<()> {
    let units = settings.get("TokenValidityUnits");
    for (member, token, _, _, min, max, label) in TOKEN_VALIDITY {
        let Some(value) = settings.get(member).and_then(Value::as_i64) else { continue };
        let unit = units.and_then(|u| u.get(token)).and_then(Value::as_str).unwrap_or("hours");
        let seconds = value.saturating_mul(seconds_per_unit(unit));
        if !(min..=max).contains(&seconds) {
            return Err(Error::invalid_parameter(format!(
                "{label} validity must be between {min} and {max} seconds; got {value} {unit}."
            )));
        }
    }
    Ok(())
}

fn check_settings(settings: &Map<String, Value>, has_secret: bool) -> Result<()> {
    let strings = |name: &str| -> Vec<String> {
        settings
            .get(name)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    let flows = strings("ExplicitAuthFlows");
    let legacy = flows.iter().filter(|f| LEGACY_AUTH_FLOWS.contains(&f.as_str())).count();
    if legacy > 0 && legacy < flows.len() {
        return Err(Error::invalid_parameter(
            "ExplicitAuthFlows cannot mix legacy values (ADMIN_NO_SRP_AUTH, CUSTOM_AUTH_FLOW_ONLY, USER_PASSWORD_AUTH) with ALLOW_ values.",
        ));
    }
    let oauth_flows = strings("AllowedOAuthFlows");
    let oauth_enabled = settings.get("AllowedOAuthFlowsUserPoolClient") == Some(&json!(true));
    if oauth_enabled && oauth_flows.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidOAuthFlow,
            "AllowedOAuthFlows must be provided when AllowedOAuthFlowsUserPoolClient is true.",
        ));
    }
    if oauth_flows.iter().any(|f| f == "client_credentials") {
        if oauth_flows.len() > 1 {
            return Err(Error::new(
                ErrorKind::InvalidOAuthFlow,
                "client_credentials flow can not be selected with code or implicit flows.",
            ));
        }
        if !has_secret {
            return Err(Error::new(
                ErrorKind::InvalidOAuthFlow,
                "client_credentials flow can not be selected if client does not have a client secret.",
            ));
        }
    }
    let browser_flow = oauth_flows.iter().any(|f| f == "code" || f == "implicit");
    if oauth_enabled && browser_flow && strings("CallbackURLs").is_empty() {
        return Err(Error::invalid_parameter("CallbackURLs must be provided for the code and implicit flows."));
    }
    if let Some(default) = settings.get("DefaultRedirectURI").and_then(Value::as_str) {
        if !strings("CallbackURLs").iter().any(|c| c == default) {
            return Err(Error::invalid_parameter("DefaultRedirectURI must be one of the CallbackURLs."));
        }
    }
    for url in strings("CallbackURLs").iter().chain(strings("LogoutURLs").iter()) {
        let local_http = url.starts_with("http://localhost") || url.starts_with("http://127.0.0.1");
        if url.contains('#') || (url.starts_with("http://") && !local_http) || !url.contains(':') {
            return Err(Error::invalid_parameter(format!(
                "{url} is not a valid redirect URI: use HTTPS (HTTP only for localhost) and no fragment."
            )));
        }
    }
    Ok(())
}

fn settings_from(input: &Map<String, Value>, into: &mut Map<String, Value>) {
    for &name in SETTINGS {
        match input.get(name).filter(|v| !v.is_null()).cloned().or_else(|| default_setting(name)) {
            Some(v) => {
                into.insert(name.into(), v);
            }
            None => {
                into.remove(name);
            }
        }
    }
}

/// `UserPoolClientType` as Create/Describe return it, with the secret unsealed.
async fn describe_client(app: &App, client: &AppClient) -> Result<Value> {
    let mut out = Map::new();
    out.insert("UserPoolId".into(), json!(client.pool_id));
    out.insert("ClientName".into(), json!(client.name));
    out.insert("ClientId".into(), json!(client.id));
    if let Some(sealed) = client.sealed_secret.clone() {
        let context = client.id.as_str().as_bytes().to_vec();
        let secret = app.with_vault("unsealing client secret", move |v| v.open(&context, &sealed)).await?;
        let secret = String::from_utf8(secret).map_err(|e| Error::internal("client secret", e))?;
        out.insert("ClientSecret".into(), json!(secret));
    }
    out.insert("LastModifiedDate".into(), json!(client.modified));
    out.insert("CreationDate".into(), json!(client.created));
    out.extend(client.settings.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(Value::Object(out))
}

pub async fn create(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let pool = app.directory.pool(&pool_id_of(&input))?;
    let generate_secret = input.get("GenerateSecret").and_then(Value::as_bool).unwrap_or(false);
    let mut settings = Map::new();
    settings_from(&input, &mut settings);
    resolve_token_units(&input, &mut settings);
    check_token_validity(&settings)?;
    check_settings(&settings, generate_secret)?;
    let id = ClientId::generate();
    let sealed_secret = if generate_secret {
        let context = id.as_str().as_bytes().to_vec();
        let secret = generate_client_secret();
        Some(app.with_vault("sealing client secret", move |v| v.seal(&context, secret.as_bytes())).await?)
    } else {
        None
    };
    let now = now_epoch();
    let client = AppClient {
        id,
        pool_id: pool.record.id.clone(),
        name: str_member(&input, "ClientName").to_owned(),
        created: now,
        modified: now,
        sealed_secret,
        settings,
    };
    app.directory.create_client(&client)?;
    Ok(json!({ "UserPoolClient": describe_client(app, &client).await? }))
}

pub async fn describe(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let client = app.directory.client(&pool_id_of(&input), str_member(&input, "ClientId"))?;
    Ok(json!({ "UserPoolClient": describe_client(app, &client.record).await? }))
}

pub async fn update(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let current = app.directory.client(&pool_id_of(&input), str_member(&input, "ClientId"))?;
    let mut client = current.record.clone();
    settings_from(&input, &mut client.settings);
    resolve_token_units(&input, &mut client.settings);
    check_token_validity(&client.settings)?;
    check_settings(&client.settings, client.sealed_secret.is_some())?;
    if let Some(name) = input.get("ClientName").and_then(Value::as_str) {
        client.name = name.to_owned();
    }
    client.modified = now_epoch();
    app.directory.replace_client(&current, &client)?;
    Ok(json!({ "UserPoolClient": describe_client(app, &client).await? }))
}

pub async fn list(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let pool = app.directory.pool(&pool_id_of(&input))?;
    let limit = page_size(input.get("MaxResults").and_then(Value::as_i64), 60);
    let page = app.directory.list_clients(&pool.record.id, input.get("NextToken").and_then(Value::as_str), limit)?;
    let clients: Vec<Value> =
        page.items.iter().map(|c| json!({"ClientId": c.id, "UserPoolId": c.pool_id, "ClientName": c.name})).collect();
    let mut out = json!({ "UserPoolClients": clients });
    if let Some(t) = page.next_token {
        out["NextToken"] = json!(t);
    }
    Ok(out)
}

pub async fn delete(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let current = app.directory.client(&pool_id_of(&input), str_member(&input, "ClientId"))?;
    app.directory.delete_client(&current)?;
    Ok(json!({}))
}
