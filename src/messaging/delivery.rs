//! The delivery loop: takes due messages from the durable queue, hands each to its medium's
//! sender, and removes it once sent or reschedules it with back-off when the send failed.
//!
//! A message is given up (and counted) once it is older than [`GIVE_UP_AFTER`]: the codes it
//! carries have expired by then. At most [`IN_FLIGHT`] sends run at once.

use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};

use super::{open, Sender};
use crate::app::App;
use crate::protocol::error::Result;
use crate::store::directory::Versioned;
use crate::store::messages::{DeliveredMessage, QueuedMessage};
use crate::store::records::unix_now;

/// Queued messages looked at per pass.
const PASS: usize = 256;
/// Sends running at once.
const IN_FLIGHT: usize = 8;
/// First retry delay; it doubles per failed attempt up to [`MAX_BACKOFF_SECS`].
const FIRST_BACKOFF_SECS: i64 = 2;
const MAX_BACKOFF_SECS: i64 = 300;
/// A sign-up code lives 24 h; a message still unsent after that is dropped.
const GIVE_UP_AFTER: i64 = 24 * 3600;
/// Longest sleep between passes when nothing wakes the loop (retries fall due meanwhile).
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Runs until the runtime stops.
pub async fn run(app: Arc<App>) {
    loop {
        if let Err(e) = deliver_due(&app).await {
            tracing::error!(error = %e, "message delivery pass failed");
        }
        let _ = tokio::time::timeout(IDLE_POLL, app.messenger.wake.notified()).await;
    }
}

/// One pass over the queue: every due message (up to [`PASS`]) is attempted once.
pub async fn deliver_due(app: &App) -> Result<()> {
    let now = unix_now();
    let queued = app.directory.queued_messages(PASS)?;
    let due: Vec<_> = queued.into_iter().take_while(|m| m.record.next_attempt <= now).collect();
    stream::iter(due).for_each_concurrent(IN_FLIGHT, |m| deliver_one(app, m)).await;
    Ok(())
}

async fn deliver_one(app: &App, queued: Versioned<QueuedMessage>) {
    let m = &queued.record;
    let medium = m.medium.wire_name();
    let outcome = send(app, m).await;
    let stored = match outcome {
        Ok(keep) => {
            metrics::counter!("portcullis_messages_sent_total", "medium" => medium).increment(1);
            app.directory.message_sent(&queued, keep.as_ref())
        }
        Err(reason) => {
            metrics::counter!("portcullis_message_send_failures_total", "medium" => medium).increment(1);
            let now = unix_now();
            if now - m.created >= GIVE_UP_AFTER {
                metrics::counter!("portcullis_messages_dropped_total", "medium" => medium).increment(1);
                tracing::error!(id = %m.id, pool = %m.pool_id, medium, %reason, "message dropped after 24 h of failed sends");
                app.directory.message_retry(&queued, None)
            } else {
                let attempts = m.attempts.saturating_add(1);
                let backoff = FIRST_BACKOFF_SECS.saturating_mul(1 << (attempts - 1).min(16)).min(MAX_BACKOFF_SECS);
                tracing::warn!(id = %m.id, pool = %m.pool_id, medium, attempts, %reason, "message send failed; retrying in {backoff} s");
                let retry = QueuedMessage { attempts, next_attempt: now + backoff, ..m.clone() };
                app.directory.message_retry(&queued, Some(&retry))
            }
        }
    };
    if let Err(e) = stored {
        tracing::error!(id = %m.id, error = %e, "recording a message's delivery failed");
    }
}

/// Sends one message; `Ok(Some(_))` when the dev outbox keeps it.
async fn send(app: &App, m: &QueuedMessage) -> std::result::Result<Option<DeliveredMessage>, String> {
    let sender = app.messenger.sender(m.medium);
    if let Sender::Outbox = sender {
        return Ok(Some(DeliveredMessage { message: m.clone(), delivered: unix_now() }));
    }
    let content = open(&app.auth.data, m).map_err(|e| e.to_string())?;
    match sender {
        Sender::Smtp(smtp) => {
            let pool = app.directory.pool_shared(&m.pool_id).ok();
            let from = app.messenger.sender_address(pool.as_deref());
            smtp.send(&from, &content).await.map(|()| None)
        }
        Sender::Webhook(hook) => hook.send(m, &content).await.map(|()| None),
        Sender::Outbox => Ok(None),
    }
}
