//! The cognito-idp operations: the operation table (`operations`) and one module per group of
//! operations. Handlers take the validated JSON input and return the JSON output.

pub mod attributes;
pub mod clients;
pub mod codes;
pub mod groups;
pub mod import;
pub mod names;
pub mod operations;
pub mod pools;
pub mod public;
pub mod recovery;
pub mod schema;
pub mod self_service;
pub mod sessions;
pub mod sign_in;
pub mod sign_up;
pub mod tags;
pub mod users;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::ids::PoolId;

use crate::protocol::error::{Error, ErrorKind, Result};

/// Deserialises a validated input into the handler's request type.
pub fn input<T: DeserializeOwned>(body: Value) -> Result<T> {
    serde_json::from_value(body).map_err(|e| Error::new(ErrorKind::Serialization, e.to_string()))
}

/// A page size: absent means `default`.
pub fn page_size(requested: Option<i64>, default: usize) -> usize {
    match requested {
        Some(n) if n > 0 => usize::try_from(n).unwrap_or(default),
        _ => default,
    }
}

/// The top-level input object (validated to be one by the model).
pub fn object(body: Value) -> Map<String, Value> {
    match body {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The `UserPoolId` member of an input.
pub fn pool_id_of(input: &Map<String, Value>) -> PoolId {
    PoolId::from(str_member(input, "UserPoolId").to_owned())
}

/// A string member, or "" when absent (required members were checked by the model).
pub fn str_member<'a>(input: &'a Map<String, Value>, name: &str) -> &'a str {
    input.get(name).and_then(Value::as_str).unwrap_or_default()
}
