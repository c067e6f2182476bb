//! The records kept in the directory, serialised as JSON values of the tables in `store`.
//! Cognito-facing settings are kept in Cognito's own shape (PascalCase members, as validated
//! against the service model), so Describe responses are the record plus computed fields.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ids::{ClientId, KeyId, PoolId};

/// Seconds since the epoch with milliseconds, as Cognito's JSON timestamps.
pub type EpochSeconds = f64;

/// Whole seconds since the epoch (token `iat`/`exp`, expiries).
pub fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub fn now_epoch() -> EpochSeconds {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as f64 / 1000.0
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserPool {
    pub id: PoolId,
    pub name: String,
    pub created: EpochSeconds,
    pub modified: EpochSeconds,
    /// JWT signing keys in the HSM, newest first; the first one signs.
    pub signing_keys: Vec<KeyId>,
    /// Settings in `UserPoolType` shape (Policies, SchemaAttributes, MfaConfiguration, ...).
    pub settings: Map<String, Value>,
    pub tags: BTreeMap<String, String>,
}

impl UserPool {
    /// How this pool compares a username: lower-cased unless `UsernameConfiguration.CaseSensitive`.
    pub fn user_key(&self, username: &str) -> String {
        let case_sensitive = self
            .settings
            .get("UsernameConfiguration")
            .and_then(|c| c.get("CaseSensitive"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if case_sensitive {
            username.to_owned()
        } else {
            username.to_lowercase()
        }
    }

    /// The names of the pool's schema attributes (standard and `custom:`).
    pub fn schema_attribute_names(&self) -> impl Iterator<Item = &str> {
        self.schema_attributes().filter_map(|a| a.get("Name").and_then(Value::as_str))
    }

    /// The schema attributes a user must have, other than `sub` (which every user has).
    pub fn required_attribute_names(&self) -> impl Iterator<Item = &str> {
        self.schema_attributes()
            .filter(|a| a.get("Required").and_then(Value::as_bool) == Some(true))
            .filter_map(|a| a.get("Name").and_then(Value::as_str))
            .filter(|name| *name != "sub")
    }

    /// A boolean member (`Mutable`, `Required`, ...) of a schema attribute; `None` when the
    /// attribute or the member is missing.
    pub fn schema_flag(&self, name: &str, member: &str) -> Option<bool> {
        self.schema_attribute(name)?.get(member)?.as_bool()
    }

    /// `attribute` is in `UserAttributeUpdateSettings.AttributesRequireVerificationBeforeUpdate`.
    pub fn requires_verification_before_update(&self, attribute: &str) -> bool {
        self.settings
            .get("UserAttributeUpdateSettings")
            .and_then(|s| s.get("AttributesRequireVerificationBeforeUpdate"))
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(attribute)))
    }

    /// `attribute` is one of the pool's `AutoVerifiedAttributes`.
    pub fn auto_verifies(&self, attribute: &str) -> bool {
        self.settings
            .get("AutoVerifiedAttributes")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(attribute)))
    }

    /// The schema entry of attribute `name`.
    pub fn schema_attribute(&self, name: &str) -> Option<&Value> {
        self.schema_attributes().find(|a| a.get("Name").and_then(Value::as_str) == Some(name))
    }

    fn schema_attributes(&self) -> impl Iterator<Item = &Value> {
        self.settings.get("SchemaAttributes").and_then(Value::as_array).into_iter().flatten()
    }

    /// The part of the pool id after `_` (SRP's `poolNameShort`).
    pub fn name_short(&self) -> &str {
        self.id.as_str().split_once('_').map_or(self.id.as_str(), |(_, short)| short)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppClient {
    pub id: ClientId,
    pub pool_id: PoolId,
    pub name: String,
    pub created: EpochSeconds,
    pub modified: EpochSeconds,
    /// The client secret sealed under the HSM's AES key (context: the client id).
    #[serde(with = "base64_bytes::optional")]
    pub sealed_secret: Option<Vec<u8>>,
    /// Settings in `UserPoolClientType` shape (ExplicitAuthFlows, token validity, ...).
    pub settings: Map<String, Value>,
}

impl AppClient {
    /// `PreventUserExistenceErrors` is `ENABLED`: answers must not tell whether a user exists.
    pub fn prevents_user_existence_errors(&self) -> bool {
        self.settings.get("PreventUserExistenceErrors").and_then(Value::as_str) == Some("ENABLED")
    }

    /// The client's `ReadAttributes`; `None` when unset (every attribute is readable).
    pub fn read_attributes(&self) -> Option<Vec<String>> {
        self.attribute_permissions("ReadAttributes")
    }

    /// Whether the client's `WriteAttributes` (unset: all) let it change `attribute`.
    pub fn can_write(&self, attribute: &str) -> bool {
        self.attribute_permissions("WriteAttributes").is_none_or(|names| names.iter().any(|n| n == attribute))
    }

    fn attribute_permissions(&self, member: &str) -> Option<Vec<String>> {
        let names: Vec<String> =
            self.settings.get(member)?.as_array()?.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect();
        (!names.is_empty()).then_some(names)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub pool_id: PoolId,
    pub name: String,
    pub description: Option<String>,
    pub role_arn: Option<String>,
    pub precedence: Option<i64>,
    pub created: EpochSeconds,
    pub modified: EpochSeconds,
}

/// A user's lifecycle state, as Cognito's `UserStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserStatus {
    /// Signed up, not yet confirmed.
    Unconfirmed,
    Confirmed,
    /// Created by an administrator with a temporary password that must be changed at sign-in.
    ForceChangePassword,
    /// An administrator required a password reset.
    ResetRequired,
}

impl UserStatus {
    pub fn wire_name(self) -> &'static str {
        match self {
            UserStatus::Unconfirmed => "UNCONFIRMED",
            UserStatus::Confirmed => "CONFIRMED",
            UserStatus::ForceChangePassword => "FORCE_CHANGE_PASSWORD",
            UserStatus::ResetRequired => "RESET_REQUIRED",
        }
    }
}

/// A user of a pool. `username` is the internal name as created (case kept); it is also the
/// `USER_ID_FOR_SRP` the password verifier was computed with, so it never changes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub pool_id: PoolId,
    pub username: String,
    /// UUID fixed at creation (the `sub` claim and attribute).
    pub sub: String,
    /// Attributes other than `sub`, by name (`email`, `custom:tier`, ...).
    pub attributes: BTreeMap<String, String>,
    pub status: UserStatus,
    pub enabled: bool,
    pub created: EpochSeconds,
    pub modified: EpochSeconds,
    /// The SRP verifier (salt, v) sealed under the directory's data key; `None` until a
    /// password is set.
    pub password: Option<SealedVerifier>,
    /// When a temporary password stops working (admin-created users).
    pub temporary_password_expires: Option<EpochSeconds>,
    /// Codes sent and not yet used, by purpose (`sign_up`, `password_reset`, `verify:{attribute}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub codes: BTreeMap<String, PendingCode>,
}

impl UserPool {
    /// A pool named after its id with these settings and no signing keys (store tests).
    #[cfg(test)]
    pub fn sample(id: &str, settings: Map<String, Value>) -> Self {
        UserPool {
            id: PoolId::from(id.to_owned()),
            name: id.to_owned(),
            created: now_epoch(),
            modified: now_epoch(),
            signing_keys: Vec::new(),
            settings,
            tags: Default::default(),
        }
    }
}

impl User {
    /// A confirmed, enabled user with the given attributes and no password (store tests).
    #[cfg(test)]
    pub fn sample(pool_id: &PoolId, username: &str, sub: &str, attributes: BTreeMap<String, String>) -> Self {
        User {
            pool_id: pool_id.clone(),
            username: username.to_owned(),
            sub: sub.to_owned(),
            attributes,
            status: UserStatus::Confirmed,
            enabled: true,
            created: now_epoch(),
            modified: now_epoch(),
            password: None,
            temporary_password_expires: None,
            codes: Default::default(),
        }
    }
}

/// A one-time code waiting to be used (see `idp::codes`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingCode {
    /// The code sealed under the directory's data key (standard base64).
    pub sealed: String,
    /// The attribute the code was sent to (marked verified when it is used).
    pub attribute: Option<String>,
    /// Epoch seconds after which the code is refused.
    pub expires: i64,
    pub failed_attempts: u32,
    /// A new value of `attribute` that takes effect only when this code is used
    /// (`AttributesRequireVerificationBeforeUpdate`); the old value stays meanwhile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_value: Option<String>,
}

/// A sealed SRP verifier as stored: standard base64 text, decoded only when a sign-in opens it
/// (listing users never pays for it). Made and opened by `auth::password::DataCipher`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SealedVerifier(String);

impl SealedVerifier {
    pub fn from_bytes(sealed: &[u8]) -> Self {
        use base64::Engine;
        Self(base64::engine::general_purpose::STANDARD.encode(sealed))
    }

    /// The sealed bytes; `None` if the stored text is not base64.
    pub fn to_bytes(&self) -> Option<Vec<u8>> {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.decode(&self.0).ok()
    }
}

/// A user's recent failed sign-ins (`auth::lockout` applies the rules), epoch milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInFailures {
    pub count: u32,
    pub last_ms: i64,
    /// Attempts before this are refused ("Password attempts exceeded").
    pub locked_until_ms: i64,
}

/// One completed authentication (the origin of a refresh token and of the ID and access tokens
/// minted from it), keyed by its `origin_jti`. Sign-out deletes it, which revokes them all.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignIn {
    pub client_id: ClientId,
    pub sub: String,
    /// Epoch seconds of the authentication (`auth_time`, kept across refreshes).
    pub auth_time: i64,
    /// SHA-256 of the refresh token (the token itself is never stored).
    #[serde(with = "base64_bytes")]
    pub refresh_hash: Vec<u8>,
    /// Epoch seconds after which the refresh token is refused.
    pub refresh_expires: i64,
}

/// Byte fields stored as standard base64 strings (a JSON array of numbers would triple them).
mod base64_bytes {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }

    pub mod optional {
        use super::*;

        pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
            match bytes {
                Some(b) => s.serialize_some(&STANDARD.encode(b)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
            match Option::<String>::deserialize(d)? {
                Some(text) => STANDARD.decode(text).map(Some).map_err(serde::de::Error::custom),
                None => Ok(None),
            }
        }
    }
}
