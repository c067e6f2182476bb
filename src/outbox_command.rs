//! `portcullis outbox`: prints the messages a running daemon's dev outbox holds for a pool,
//! read over HTTPS from `GET /admin/outbox`, signed with the admin key of a credentials file.

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Uri};
use serde_json::Value;

use crate::http::client::{self, AdminEndpoint};
use crate::sigv4::sign::canonical_query;

/// What to read and how to reach the daemon.
pub struct OutboxQuery {
    pub daemon: AdminEndpoint,
    pub pool_id: String,
    pub to: Option<String>,
}

/// The messages, oldest first, as the endpoint returns them.
pub async fn fetch(q: &OutboxQuery) -> Result<Vec<Value>, String> {
    let mut params = vec![("UserPoolId", q.pool_id.as_str())];
    if let Some(to) = &q.to {
        params.push(("To", to.as_str()));
    }
    let query = canonical_query(&params);
    let (base, host, tls) = q.daemon.connection()?;
    let uri: Uri = format!("{}/admin/outbox?{query}", base.to_string().trim_end_matches('/'))
        .parse()
        .map_err(|e| format!("--endpoint: {e}"))?;
    let signer = q.daemon.signer()?;
    let signed =
        signer.sign_request("GET", "/admin/outbox", &query, &[("host", &host)], b"", time::OffsetDateTime::now_utc());
    let mut request = Request::get(uri.path_and_query().map_or("/", |p| p.as_str())).header(hyper::header::HOST, &host);
    for (name, value) in signed {
        request = request.header(name, value);
    }
    let request = request.body(Full::new(Bytes::new())).map_err(|e| e.to_string())?;
    let (status, body) = client::send(&uri, tls.as_ref(), request).await?;
    let answer: Value = serde_json::from_slice(&body).map_err(|e| format!("answer ({status}): {e}"))?;
    if !status.is_success() {
        let kind = answer.get("__type").and_then(Value::as_str).unwrap_or("error");
        let message = answer.get("message").and_then(Value::as_str).unwrap_or_default();
        return Err(format!("{kind}: {message}"));
    }
    Ok(answer.get("Messages").and_then(Value::as_array).cloned().unwrap_or_default())
}

/// One message as the command prints it.
pub fn render(m: &Value) -> String {
    let text = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    let when = m
        .get("Delivered")
        .and_then(Value::as_i64)
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default();
    let mut out =
        format!("{when}  {} {} to {} (user {})\n", text("Medium"), text("Purpose"), text("To"), text("Username"));
    if let Some(subject) = m.get("Subject").and_then(Value::as_str) {
        out.push_str(&format!("Subject: {subject}\n"));
    }
    out.push_str(&text("Body"));
    out.push('\n');
    out
}
