//! Admin-only HTTP endpoints outside the Cognito protocol, each a SigV4-signed `GET` with an
//! admin access key: `GET /admin/outbox?UserPoolId=...[&To=...]` lists the dev outbox.

use hyper::http::request::Parts;
use serde_json::{json, Value};

use crate::app::App;
use crate::ids::PoolId;
use crate::messaging;
use crate::protocol::error::{Error, Result};
use crate::sigv4::SignedRequest;

pub const OUTBOX_PATH: &str = "/admin/outbox";

/// The messages the dev sender kept for a pool, opened, oldest first; `To` narrows them to one
/// recipient. `headers` are the request's as [`super::routes`] collected them.
pub fn outbox(app: &App, parts: &Parts, headers: &[(String, String)]) -> Result<Value> {
    let query = parts.uri.query().unwrap_or_default();
    let signed = SignedRequest { method: "GET", path: parts.uri.path(), query, headers, body: b"" };
    app.verifier.verify(&signed, &app.admin_keys, time::OffsetDateTime::now_utc())?;
    let mut pool_id = None;
    let mut to = None;
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "UserPoolId" => pool_id = Some(value.into_owned()),
            "To" => to = Some(value.into_owned()),
            _ => {}
        }
    }
    let pool_id = PoolId::from(pool_id.ok_or_else(|| Error::invalid_parameter("UserPoolId is required"))?);
    app.directory.pool(&pool_id)?;
    let mut messages = Vec::new();
    for delivered in app.directory.dev_outbox(&pool_id)? {
        let m = &delivered.message;
        let content = messaging::open(&app.auth.data, m)?;
        if to.as_deref().is_some_and(|t| t != content.to) {
            continue;
        }
        messages.push(json!({
            "MessageId": m.id,
            "Medium": m.medium,
            "Purpose": m.purpose,
            "To": content.to,
            "Username": content.username,
            "Subject": content.subject,
            "Body": content.body,
            "Created": m.created,
            "Delivered": delivered.delivered,
        }));
    }
    Ok(json!({ "Messages": messages }))
}
