//! Email over SMTP with `lettre` (the maintained Rust SMTP client): STARTTLS, implicit TLS or
//! plain (loopback relays only), optional AUTH, trusting the system's CAs plus an optional PEM file.

use std::sync::OnceLock;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{EmailConfig, SmtpSecurity};
use crate::store::messages::MessageContent;

/// How long one SMTP conversation may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

pub struct SmtpSender {
    /// Checked at start-up; the transport (with its connection pool, which needs the async
    /// runtime) is built on the first send.
    settings: AsyncSmtpTransportBuilder,
    transport: OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
}

impl SmtpSender {
    pub fn new(config: &EmailConfig) -> Result<Self, String> {
        let host = config.smtp_host.as_str();
        let tls = || -> Result<TlsParameters, String> {
            let mut builder = TlsParameters::builder(host.to_owned()).certificate_store(CertificateStore::Default);
            if let Some(path) = &config.smtp_ca_file {
                let pem =
                    std::fs::read(path).map_err(|e| format!("messaging.email.smtp_ca_file {}: {e}", path.display()))?;
                let cert = Certificate::from_pem(&pem).map_err(|e| format!("messaging.email.smtp_ca_file: {e}"))?;
                builder = builder.add_root_certificate(cert);
            }
            builder.build_rustls().map_err(|e| format!("SMTP TLS settings: {e}"))
        };
        let (security, default_port) = match config.smtp_security {
            SmtpSecurity::Starttls => (Tls::Required(tls()?), 587),
            SmtpSecurity::Tls => (Tls::Wrapper(tls()?), 465),
            SmtpSecurity::None => (Tls::None, 25),
        };
        let port = if config.smtp_port == 0 { default_port } else { config.smtp_port };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .tls(security)
            .timeout(Some(SMTP_TIMEOUT));
        if let Some(user) = &config.smtp_username {
            let password = match &config.smtp_password_file {
                Some(path) => std::fs::read_to_string(path)
                    .map_err(|e| format!("messaging.email.smtp_password_file {}: {e}", path.display()))?
                    .trim_end()
                    .to_owned(),
                None => String::new(),
            };
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(Self { settings: builder, transport: OnceLock::new() })
    }

    /// Sends one plain-text email.
    pub async fn send(&self, from: &str, content: &MessageContent) -> Result<(), String> {
        let from: Mailbox = from.parse().map_err(|e| format!("from-address {from:?}: {e}"))?;
        let to: Mailbox = content.to.parse().map_err(|e| format!("recipient: {e}"))?;
        let email = Message::builder()
            .from(from)
            .to(to)
            .subject(content.subject.clone().unwrap_or_default())
            .header(ContentType::TEXT_PLAIN)
            .body(content.body.clone())
            .map_err(|e| format!("building the email: {e}"))?;
        let transport = self.transport.get_or_init(|| self.settings.clone().build());
        transport.send(email).await.map(|_| ()).map_err(|e| format!("SMTP: {e}"))
    }
}
