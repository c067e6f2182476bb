//! The `sign_in_failures` table: each user's recent failed sign-ins (see `auth::lockout` for
//! the rules), written not fsynced and removed with the user.

use super::directory::{encode, Directory, Versioned};
use super::records::SignInFailures;
use super::{scoped_key, Durability, Precondition, Table, WriteSet};
use crate::ids::PoolId;
use crate::protocol::error::{Error, ErrorKind, Result};

impl Directory {
    pub fn sign_in_failures(&self, pool_id: &PoolId, user_key: &str) -> Result<Option<Versioned<SignInFailures>>> {
        self.read(Table::SignInFailures, &scoped_key(pool_id.as_str(), user_key))
    }

    /// Replaces the failures read as `old` (`None`: there were none) by `new` (`None`: forget
    /// them). Returns false, writing nothing, when they changed meanwhile or the user is gone.
    /// Not fsynced ([`Durability::ProcessCrashSafe`]): a power cut may forget a few failures.
    pub fn replace_sign_in_failures(
        &self,
        pool_id: &PoolId,
        user_key: &str,
        old: Option<&Versioned<SignInFailures>>,
        new: Option<&SignInFailures>,
    ) -> Result<bool> {
        let key = scoped_key(pool_id.as_str(), user_key);
        let mut w = WriteSet::new();
        w.durability(Durability::ProcessCrashSafe);
        w.require(Precondition::Present(Table::Users, key.clone()));
        w.require(match old {
            Some(v) => Precondition::Unchanged(Table::SignInFailures, key.clone(), v.raw.clone()),
            None => Precondition::Absent(Table::SignInFailures, key.clone()),
        });
        match new {
            Some(f) => w.put(Table::SignInFailures, key, encode(f)?),
            None => w.delete(Table::SignInFailures, key),
        };
        match self.commit(w, |_| Error::new(ErrorKind::ConcurrentModification, "changed")) {
            Ok(()) => Ok(true),
            Err(e) if e.kind == ErrorKind::ConcurrentModification => Ok(false),
            Err(e) => Err(e),
        }
    }
}
