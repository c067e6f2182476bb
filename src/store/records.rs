//! The records kept in the directory, serialised as JSON values of the tables in `store`.
//! Cognito-facing settings are kept in Cognito's own shape (PascalCase members, as validated
//! against the service model), so Describe responses are the record plus computed fields.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ids::{ClientId, KeyId, PoolId};

/// Seconds since the epoch with milliseconds, as Cognito's JSON timestamps.
pub type EpochSeconds = f64;

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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppClient {
    pub id: ClientId,
    pub pool_id: PoolId,
    pub name: String,
    pub created: EpochSeconds,
    pub modified: EpochSeconds,
    /// The client secret sealed under the HSM's AES key (context: the client id).
    pub sealed_secret: Option<Vec<u8>>,
    /// Settings in `UserPoolClientType` shape (ExplicitAuthFlows, token validity, ...).
    pub settings: Map<String, Value>,
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
