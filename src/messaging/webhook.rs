//! SMS through an HTTPS webhook (the operator's SMS gateway): one `POST` of JSON
//! `{message_id, pool_id, purpose, to, message}` per message, signed with HMAC-SHA256.
//!
//! Headers: `X-Portcullis-Timestamp: {unix seconds}` and
//! `X-Portcullis-Signature: v1={hex HMAC-SHA256(secret, "{timestamp}.{body}")}`; a receiver
//! recomputes it, compares in constant time and refuses stale timestamps. Any 2xx is success.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Uri};
use ring::hmac;
use serde_json::json;
use tokio_rustls::TlsConnector;

use crate::config::SmsConfig;
use crate::http::client;
use crate::store::messages::{MessageContent, QueuedMessage};
use crate::store::records::unix_now;

/// How long one webhook call may take, connection included.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(15);

pub struct WebhookSender {
    uri: Uri,
    key: hmac::Key,
    tls: Option<TlsConnector>,
}

impl WebhookSender {
    pub fn new(config: &SmsConfig) -> Result<Self, String> {
        let uri: Uri = config.webhook_url.parse().map_err(|e| format!("messaging.sms.webhook_url: {e}"))?;
        let secret_path = config.webhook_secret_file.as_ref().ok_or("messaging.sms.webhook_secret_file is required")?;
        let secret = std::fs::read(secret_path)
            .map_err(|e| format!("messaging.sms.webhook_secret_file {}: {e}", secret_path.display()))?;
        let secret = secret.trim_ascii_end();
        if secret.len() < 16 {
            return Err("messaging.sms.webhook_secret_file: use a secret of at least 16 bytes".into());
        }
        let tls = match uri.scheme_str() {
            Some("https") => Some(
                client::tls_connector(config.webhook_ca_file.as_deref())
                    .map_err(|e| format!("messaging.sms.webhook_ca_file: {e}"))?,
            ),
            Some("http") => None,
            _ => return Err("messaging.sms.webhook_url must be http(s)".into()),
        };
        Ok(Self { uri, key: hmac::Key::new(hmac::HMAC_SHA256, secret), tls })
    }

    /// The signature header value for `body` sent at `timestamp`.
    fn signature(&self, timestamp: i64, body: &[u8]) -> String {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(timestamp.to_string().as_bytes());
        ctx.update(b".");
        ctx.update(body);
        format!("v1={}", hex::encode(ctx.sign().as_ref()))
    }

    pub async fn send(&self, message: &QueuedMessage, content: &MessageContent) -> Result<(), String> {
        let body = json!({
            "message_id": message.id,
            "pool_id": message.pool_id,
            "purpose": message.purpose,
            "to": content.to,
            "message": content.body,
        })
        .to_string();
        let timestamp = unix_now();
        let signature = self.signature(timestamp, body.as_bytes());
        tokio::time::timeout(WEBHOOK_TIMEOUT, self.post(body, timestamp, signature))
            .await
            .map_err(|_| format!("webhook timed out after {} s", WEBHOOK_TIMEOUT.as_secs()))?
    }

    async fn post(&self, body: String, timestamp: i64, signature: String) -> Result<(), String> {
        let host = self.uri.authority().map_or("", |a| a.as_str()).to_owned();
        let request = Request::post(self.uri.path_and_query().map_or("/", |p| p.as_str()))
            .header(hyper::header::HOST, host)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header("x-portcullis-timestamp", timestamp.to_string())
            .header("x-portcullis-signature", signature)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("building the request: {e}"))?;
        let (status, _) = client::send(&self.uri, self.tls.as_ref(), request).await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("webhook answered {status}"))
        }
    }
}
