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

/// A message waiting to be sent (`id`: a UUIDv7).
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

/// `{next_attempt as u64 big-endian}{id}`: the queue is in the order messages fall due, so a
/// pass reads due messages first and stops at the first one that is not, however many
/// failing messages wait for their retry.
fn queue_key(m: &QueuedMessage) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + m.id.len());
    key.extend_from_slice(&u64::try_from(m.next_attempt).unwrap_or(0).to_be_bytes());
    key.extend_from_slice(m.id.as_bytes());
    key
}

/// Adds `message` to the send queue as part of `w` (so it is sent exactly when `w` commits).
pub fn enqueue(w: &mut WriteSet, message: &QueuedMessage) -> Result<()> {
    w.put(Table::MessageQueue, queue_key(message), encode(message)?);
    Ok(())
}

fn gone() -> Error {
    Error::new(ErrorKind::ConcurrentModification, "the queued message changed meanwhile")
}

impl Directory {
    /// Up to `limit` queued messages, the soonest due first (due or not).
    pub fn queued_messages(&self, limit: usize) -> Result<Vec<Versioned<QueuedMessage>>> {
        let page = self.kv().scan(Table::MessageQueue, b"", None, limit).map_err(|e| Error::internal("scanning", e))?;
        page.items.into_iter().map(|(_, raw)| Ok(Versioned { record: decode(&raw)?, raw })).collect()
    }

    /// Removes a sent message from the queue; the dev sender keeps it in the outbox, atomically.
    pub fn message_sent(&self, sent: &Versioned<QueuedMessage>, keep: Option<&DeliveredMessage>) -> Result<()> {
        let mut w = WriteSet::new();
        w.require(super::Precondition::Unchanged(Table::MessageQueue, queue_key(&sent.record), sent.raw.clone()));
        w.delete(Table::MessageQueue, queue_key(&sent.record));
        if let Some(d) = keep {
            w.put(Table::DevOutbox, scoped_key(d.message.pool_id.as_str(), &d.message.id), encode(d)?);
        }
        self.commit(w, |_| gone())
    }

    /// Replaces a queued message (a failed attempt, rescheduled) or drops it (`None`: given up).
    pub fn message_retry(&self, old: &Versioned<QueuedMessage>, new: Option<&QueuedMessage>) -> Result<()> {
        let mut w = WriteSet::new();
        w.require(super::Precondition::Unchanged(Table::MessageQueue, queue_key(&old.record), old.raw.clone()));
        w.delete(Table::MessageQueue, queue_key(&old.record));
        if let Some(m) = new {
            w.put(Table::MessageQueue, queue_key(m), encode(m)?);
        }
        self.commit(w, |_| gone())
    }

    /// Messages the dev sender delivered for a pool, oldest first.
    pub fn dev_outbox(&self, pool_id: &PoolId) -> Result<Vec<DeliveredMessage>> {
        self.scan_all(Table::DevOutbox, &pool_prefix(pool_id.as_str()))?.iter().map(|(_, raw)| decode(raw)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, next_attempt: i64) -> QueuedMessage {
        QueuedMessage {
            id: id.into(),
            pool_id: PoolId::from("us-east-1_abc".to_owned()),
            medium: Medium::Email,
            purpose: Purpose::SignUp,
            sealed: String::new(),
            created: 0,
            attempts: 0,
            next_attempt,
        }
    }

    fn ids(directory: &Directory) -> Vec<String> {
        directory.queued_messages(10).unwrap().into_iter().map(|m| m.record.id).collect()
    }

    #[test]
    fn the_queue_is_in_due_order_and_a_retry_moves_back() {
        let dir = tempfile::tempdir().unwrap();
        let directory = Directory::in_dir(dir.path());
        let mut w = WriteSet::new();
        for m in [message("b", 200), message("a", 300), message("c", 100)] {
            enqueue(&mut w, &m).unwrap();
        }
        directory.commit(w, |_| gone()).unwrap();
        assert_eq!(ids(&directory), ["c", "b", "a"]);
        // "c" failed: it is retried after the others.
        let first = directory.queued_messages(1).unwrap().remove(0);
        directory
            .message_retry(&first, Some(&QueuedMessage { attempts: 1, next_attempt: 400, ..first.record.clone() }))
            .unwrap();
        assert_eq!(ids(&directory), ["b", "a", "c"]);
        // A stale copy of "c" no longer matches what is stored: nothing is sent twice or lost.
        assert!(directory.message_sent(&first, None).is_err());
        let b = directory.queued_messages(1).unwrap().remove(0);
        let kept = DeliveredMessage { message: b.record.clone(), delivered: 1 };
        directory.message_sent(&b, Some(&kept)).unwrap();
        assert_eq!(ids(&directory), ["a", "c"]);
        assert_eq!(directory.dev_outbox(&b.record.pool_id).unwrap().len(), 1);
    }
}
