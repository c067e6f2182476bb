//! SMS through an HTTPS webhook (the operator's SMS gateway): one `POST` of JSON
//! `{message_id, pool_id, purpose, to, message}` per message, signed with HMAC-SHA256.
//!
//! Headers: `X-Portcullis-Timestamp: {unix seconds}` and
//! `X-Portcullis-Signature: v1={hex HMAC-SHA256(secret, "{timestamp}.{body}")}`; a receiver
//! recomputes it, compares in constant time and refuses stale timestamps. Any 2xx is success.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use ring::hmac;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::json;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::config::SmsConfig;
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
            Some("https") => Some(connector(config)?),
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
        let host = self.uri.host().ok_or("webhook URL without host")?.to_owned();
        let port = self.uri.port_u16().unwrap_or(if self.tls.is_some() { 443 } else { 80 });
        let tcp =
            TcpStream::connect((host.as_str(), port)).await.map_err(|e| format!("connecting to {host}:{port}: {e}"))?;
        let request = Request::post(self.uri.path_and_query().map_or("/", |p| p.as_str()))
            .header(hyper::header::HOST, self.uri.authority().map_or(host.as_str(), |a| a.as_str()))
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header("x-portcullis-timestamp", timestamp.to_string())
            .header("x-portcullis-signature", signature)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("building the request: {e}"))?;
        let status = match &self.tls {
            Some(tls) => {
                let name = ServerName::try_from(host.clone()).map_err(|e| format!("webhook host {host}: {e}"))?;
                let stream = tls.connect(name, tcp).await.map_err(|e| format!("TLS with {host}: {e}"))?;
                exchange(TokioIo::new(stream), request).await?
            }
            None => exchange(TokioIo::new(tcp), request).await?,
        };
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("webhook answered {status}"))
        }
    }
}

/// One HTTP/1.1 request on a fresh connection; returns the status once the body is read.
async fn exchange<T>(io: T, request: Request<Full<Bytes>>) -> Result<hyper::StatusCode, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(io).await.map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(connection);
    let response = sender.send_request(request).await.map_err(|e| format!("webhook request: {e}"))?;
    let status = response.status();
    response.into_body().collect().await.map_err(|e| format!("webhook response: {e}"))?;
    Ok(status)
}

/// rustls client settings trusting the system's CAs and the configured PEM file.
fn connector(config: &SmsConfig) -> Result<TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = &config.webhook_ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("messaging.sms.webhook_ca_file {}: {e}", path.display()))?;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| format!("messaging.sms.webhook_ca_file: {e}"))?;
            roots.add(cert).map_err(|e| format!("messaging.sms.webhook_ca_file: {e}"))?;
        }
    }
    let config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}
