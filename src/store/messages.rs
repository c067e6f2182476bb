//! The directory's outgoing messages: the durable send queue (`message_queue`, written in the
//! same commit as the change that needs the message) and the dev outbox (`dev_outbox`).
//!
//! A queued message is sealed (its recipient and text hold a code or temporary password); only
//! the delivery loop and the dev-outbox reader open it, with `auth::password::DataCipher`.

use serde::{Deserialize, Serialize};

use super::directory::{decode, encode, Directory, Versioned};
use super::{pool_prefix, scoped_key, Table, WriteSet};
use crate::ids::PoolId;
use crate::messaging::templates::{Medium, Purpose};
use crate::protocol::error::{Error, ErrorKind, Result};

/// A message waiting to be sent. `id` is a UUIDv7, so the queue is in the order of enqueueing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueuedMessage {
    pub id: String,
    pub pool_id: PoolId,
    pub medium: Medium,
    pub purpose: Purpose,
    /// [`MessageContent`] as JSON, sealed with the context [`QueuedMessage::seal_context`].
    pub sealed: String,
    /// Epoch seconds of enqueueing.
    pub created: i64,
    /// Failed delivery attempts so far.
    pub attempts: u32,
    /// Epoch seconds before which no new attempt is made.
    pub next_attempt: i64,
}

impl QueuedMessage {
    /// The sealing context of a message's content (binds it to its id).
    pub fn seal_context(id: &str) -> String {
        format!("message/{id}")
    }
}

/// What a message says and to whom (kept sealed at rest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageContent {
    pub to: String,
    pub username: String,
    pub subject: Option<String>,
    pub body: String,
}

/// A message the dev sender delivered into the outbox (`dev_outbox`, by pool).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveredMessage {
    #[serde(flatten)]
    pub message: QueuedMessage,
    /// Epoch seconds of delivery.
    pub delivered: i64,
}

fn queue_key(id: &str) -> Vec<u8> {
    id.as_bytes().to_vec()
}

/// Adds `message` to the send queue as part of `w` (so it is sent exactly when `w` commits).
pub fn enqueue(w: &mut WriteSet, message: &QueuedMessage) -> Result<()> {
    w.put(Table::MessageQueue, queue_key(&message.id), encode(message)?);
    Ok(())
}

fn gone() -> Error {
    Error::new(ErrorKind::ConcurrentModification, "the queued message changed meanwhile")
}

impl Directory {
    /// Up to `limit` queued messages, oldest first (due or not).
    pub fn queued_messages(&self, limit: usize) -> Result<Vec<Versioned<QueuedMessage>>> {
        let page = self.kv().scan(Table::MessageQueue, b"", None, limit).map_err(|e| Error::internal("scanning", e))?;
        page.items.into_iter().map(|(_, raw)| Ok(Versioned { record: decode(&raw)?, raw })).collect()
    }

    /// Removes a sent message from the queue; the dev sender keeps it in the outbox, atomically.
    pub fn message_sent(&self, sent: &Versioned<QueuedMessage>, keep: Option<&DeliveredMessage>) -> Result<()> {
        let mut w = WriteSet::new();
        w.require(super::Precondition::Unchanged(Table::MessageQueue, queue_key(&sent.record.id), sent.raw.clone()));
        w.delete(Table::MessageQueue, queue_key(&sent.record.id));
        if let Some(d) = keep {
            w.put(Table::DevOutbox, scoped_key(d.message.pool_id.as_str(), &d.message.id), encode(d)?);
        }
        self.commit(w, |_| gone())
    }

    /// Replaces a queued message (a failed attempt, rescheduled) or drops it (`None`: given up).
    pub fn message_retry(&self, old: &Versioned<QueuedMessage>, new: Option<&QueuedMessage>) -> Result<()> {
        let mut w = WriteSet::new();
        w.require(super::Precondition::Unchanged(Table::MessageQueue, queue_key(&old.record.id), old.raw.clone()));
        match new {
            Some(m) => w.put(Table::MessageQueue, queue_key(&m.id), encode(m)?),
            None => w.delete(Table::MessageQueue, queue_key(&old.record.id)),
        };
        self.commit(w, |_| gone())
    }

    /// Messages the dev sender delivered for a pool, oldest first.
    pub fn dev_outbox(&self, pool_id: &PoolId) -> Result<Vec<DeliveredMessage>> {
        self.scan_all(Table::DevOutbox, &pool_prefix(pool_id.as_str()))?.iter().map(|(_, raw)| decode(raw)).collect()
    }
}
