//! The Cognito wire protocol (AWS JSON 1.1): `X-Amz-Target` dispatch, authentication by the
//! model's auth type, JSON decoding, model validation, quota checks, and the error mapping.

pub mod error;
pub mod model;

use std::net::IpAddr;
use std::time::Instant;

use serde_json::Value;

use crate::app::App;
use crate::idp::operations;
use crate::sigv4::SignedRequest;
use error::{Error, ErrorKind, Result};
use model::AuthType;

pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// An API call as the transport received it.
pub struct ApiCall<'a> {
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    pub source_ip: IpAddr,
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// The operation named by `X-Amz-Target`, for logs and metric labels: the model's own name, or "-"
/// when it names none, so that made-up targets cannot add metric series without bound.
pub fn operation_name(headers: &[(String, String)]) -> &'static str {
    let model = model::cognito_idp();
    header(headers, "x-amz-target")
        .and_then(|target| target.split_once('.'))
        .filter(|(prefix, _)| *prefix == model.target_prefix)
        .and_then(|(_, op)| model.operation(op))
        .map_or("-", |op| op.name.as_str())
}

/// Handles one `POST /` call and returns the output JSON.
pub async fn handle(app: &App, call: ApiCall<'_>) -> Result<Value> {
    app.limits.check_ip(call.source_ip).map_err(|_| Error::too_many_requests("Rate exceeded"))?;
    let model = model::cognito_idp();
    let target = header(call.headers, "x-amz-target").unwrap_or_default();
    let op_model = target
        .split_once('.')
        .filter(|(prefix, _)| *prefix == model.target_prefix)
        .and_then(|(_, op)| model.operation(op))
        .ok_or_else(|| Error::new(ErrorKind::UnknownOperation, format!("Unknown operation: {target}")))?;

    let operation = operations::find(&op_model.name);
    // Shed load before spending anything on a call that would only be refused at the queue.
    if operation.is_some_and(|op| op.needs_worker) && app.workers.is_full() {
        metrics::counter!("portcullis_worker_queue_rejections_total").increment(1);
        return Err(Error::too_many_requests("Too many requests"));
    }

    if op_model.auth == AuthType::SigV4 {
        let signed = SignedRequest { method: "POST", path: "/", query: "", headers: call.headers, body: call.body };
        app.verifier.verify(&signed, &app.admin_keys, time::OffsetDateTime::now_utc())?;
    }

    let body: Value = if call.body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(call.body)
            .map_err(|e| Error::new(ErrorKind::Serialization, format!("Malformed JSON request body: {e}")))?
    };
    model.validate_input(op_model, &body)?;

    let operation = operation.ok_or_else(|| {
        Error::new(
            ErrorKind::UnsupportedOperation,
            format!("{} is not supported by this Portcullis version.", op_model.name),
        )
    })?;
    let pool = body.get("UserPoolId").and_then(Value::as_str).unwrap_or_default();
    app.limits.check_category(pool, operation.category).map_err(|_| Error::too_many_requests("Too many requests"))?;

    let started = Instant::now();
    let result = (operation.handler)(app, body).await;
    metrics::histogram!("portcullis_operation_seconds", "operation" => operation.name)
        .record(started.elapsed().as_secs_f64());
    result
}

#[cfg(test)]
mod tests {
    use super::operation_name;

    fn target(value: &str) -> Vec<(String, String)> {
        vec![("X-Amz-Target".to_owned(), value.to_owned())]
    }

    #[test]
    fn operation_names_come_from_the_model_only() {
        assert_eq!(operation_name(&target("AWSCognitoIdentityProviderService.InitiateAuth")), "InitiateAuth");
        assert_eq!(operation_name(&target("AWSCognitoIdentityProviderService.MadeUp123")), "-");
        assert_eq!(operation_name(&target("SomeOtherService.InitiateAuth")), "-");
        assert_eq!(operation_name(&[]), "-");
    }
}
