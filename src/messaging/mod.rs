//! Outgoing messages: verification codes, invitations and reset codes, rendered from the pool's
//! templates, queued durably in the same commit as the change that needs them, sent in the background.
//!
//! A request never waits for a mail server: it commits a sealed [`QueuedMessage`] together with
//! its change ([`Messenger::prepare`]) and wakes the delivery loop ([`delivery::run`]) after the commit. The loop
//! sends through the medium's [`Sender`] (the dev outbox, SMTP, or an SMS webhook), retries failed
//! sends with back-off from the queue (which survives restarts), and counts both in metrics.

pub mod delivery;
mod smtp;
pub mod templates;
mod webhook;

use tokio::sync::Notify;

use crate::auth::password::DataCipher;
use crate::config::{MessagingConfig, SenderKind};
use crate::protocol::error::{Error, Result};
use crate::store::messages::{MessageContent, QueuedMessage};
use crate::store::records::{unix_now, UserPool};
use templates::{Medium, Purpose};

/// Where one medium's messages go.
pub enum Sender {
    /// Into the dev outbox table (read back with `portcullis outbox` or `GET /admin/outbox`).
    Outbox,
    Smtp(Box<smtp::SmtpSender>),
    Webhook(Box<webhook::WebhookSender>),
}

/// The configured senders and the delivery loop's wake-up.
pub struct Messenger {
    email: Sender,
    sms: Sender,
    default_from: String,
    wake: Notify,
}

/// A message to queue: what it is for, to whom, and the code (or temporary password) it carries.
pub struct Outgoing<'a> {
    pub pool: &'a UserPool,
    pub purpose: Purpose,
    pub medium: Medium,
    pub to: &'a str,
    pub username: &'a str,
    pub code: &'a str,
    /// The confirmation link of a sign-up code (shown instead of the code when the pool's
    /// `DefaultEmailOption` is `CONFIRM_WITH_LINK` and the message is an email).
    pub link: Option<&'a str>,
}

impl Messenger {
    /// Builds the senders of `[messaging]` (reads secret files). Start-up only.
    pub fn from_config(config: &MessagingConfig) -> std::result::Result<Self, String> {
        let email = match config.email.sender {
            SenderKind::Smtp => Sender::Smtp(Box::new(smtp::SmtpSender::new(&config.email)?)),
            _ => Sender::Outbox,
        };
        let sms = match config.sms.sender {
            SenderKind::Webhook => Sender::Webhook(Box::new(webhook::WebhookSender::new(&config.sms)?)),
            _ => Sender::Outbox,
        };
        Ok(Self { email, sms, default_from: config.email.from.clone(), wake: Notify::new() })
    }

    fn sender(&self, medium: Medium) -> &Sender {
        match medium {
            Medium::Email => &self.email,
            Medium::Sms => &self.sms,
        }
    }

    /// Renders `out` into a sealed queue entry, to be committed with the change that sends it
    /// (`Directory::create_user_and_send`, ...). Call [`Messenger::wake`] after the commit.
    pub fn prepare(&self, cipher: &DataCipher, out: &Outgoing<'_>) -> Result<QueuedMessage> {
        let by_link = out.link.filter(|_| out.purpose == Purpose::SignUp && out.medium == Medium::Email);
        let rendered = by_link
            .and_then(|link| templates::render_link(out.pool, link))
            .unwrap_or_else(|| templates::render(out.pool, out.purpose, out.medium, out.username, out.code));
        let content = MessageContent {
            to: out.to.to_owned(),
            username: out.username.to_owned(),
            subject: rendered.subject,
            body: rendered.body,
        };
        let id = uuid::Uuid::now_v7().to_string();
        let plain = serde_json::to_vec(&content).map_err(|e| Error::internal("encoding message", e))?;
        let sealed = cipher.seal_bytes(&QueuedMessage::seal_context(&id), &plain)?;
        let now = unix_now();
        let message = QueuedMessage {
            id,
            pool_id: out.pool.id.clone(),
            medium: out.medium,
            purpose: out.purpose,
            sealed: base64_encode(&sealed),
            created: now,
            attempts: 0,
            next_attempt: now,
        };
        Ok(message)
    }

    /// Tells the delivery loop that new messages are queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The from-address of a pool's email: its `EmailConfiguration.From`, else the configured one.
    fn sender_address(&self, pool: Option<&UserPool>) -> String {
        pool.and_then(|p| p.settings.get("EmailConfiguration"))
            .and_then(|c| c.get("From"))
            .and_then(serde_json::Value::as_str)
            .filter(|f| !f.is_empty())
            .unwrap_or(&self.default_from)
            .to_owned()
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Opens a queued message's content.
pub fn open(cipher: &DataCipher, message: &QueuedMessage) -> Result<MessageContent> {
    use base64::Engine;
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(&message.sealed)
        .map_err(|e| Error::internal("opening message", e))?;
    let plain = cipher.open_bytes(&QueuedMessage::seal_context(&message.id), &sealed)?;
    serde_json::from_slice(&plain).map_err(|e| Error::internal("decoding message", e))
}
