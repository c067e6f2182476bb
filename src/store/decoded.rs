//! Records decoded once per stored version: each entry keeps the bytes it was decoded from, and a read
//! that finds the same bytes in the store takes the decoded copy instead of parsing the JSON again.
//!
//! The store is still read every time, so an update or a deletion is seen at once; only the decoding
//! is saved (pools and app clients on every sign-in, token and GetUser call).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;

use super::directory::decode;
use crate::protocol::error::Result;

/// A decoded record and the stored bytes it was decoded from.
type Entry<T> = (Vec<u8>, Arc<T>);

/// Decoded records by store key; past `capacity` entries the cache starts over.
pub(super) struct DecodedCache<T> {
    entries: Mutex<HashMap<Vec<u8>, Entry<T>>>,
    capacity: usize,
}

impl<T: DeserializeOwned> DecodedCache<T> {
    pub(super) fn new(capacity: usize) -> Self {
        Self { entries: Mutex::new(HashMap::new()), capacity }
    }

    /// The record stored under `key` as `raw`: the cached copy when it came from the same bytes,
    /// otherwise decoded now and kept.
    pub(super) fn decoded(&self, key: &[u8], raw: Vec<u8>) -> Result<Arc<T>> {
        let cached =
            self.entries.lock().ok().and_then(|entries| {
                entries.get(key).filter(|(bytes, _)| *bytes == raw).map(|(_, record)| record.clone())
            });
        if let Some(record) = cached {
            return Ok(record);
        }
        let record = Arc::new(decode::<T>(&raw)?);
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= self.capacity {
                entries.clear();
            }
            entries.insert(key.to_vec(), (raw, record.clone()));
        }
        Ok(record)
    }
}
