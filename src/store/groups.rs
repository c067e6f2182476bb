//! Groups and their members: group records, and membership kept in two index tables
//! (`group_members` by group, `user_groups` by user) written together in one commit.

use super::directory::{decode, encode, group_missing, pool_missing, Directory, Listing, Versioned};
use super::records::Group;
use super::{pool_prefix, scoped_key, Precondition, Table, WriteSet};
use crate::ids::PoolId;
use crate::protocol::error::{Error, ErrorKind, Result};

/// `{pool_id}\0{group}\0`: the prefix of a group's `group_members` entries.
fn member_prefix(pool_id: &PoolId, group: &str) -> Vec<u8> {
    let mut k = scoped_key(pool_id.as_str(), group);
    k.push(0);
    k
}

/// `{pool_id}\0{user_key}\0`: the prefix of a user's `user_groups` entries.
pub(super) fn user_groups_prefix(pool_id: &PoolId, user_key: &str) -> Vec<u8> {
    let mut k = scoped_key(pool_id.as_str(), user_key);
    k.push(0);
    k
}

fn membership_key(pool_id: &PoolId, user_key: &str, group: &str) -> Vec<u8> {
    let mut k = user_groups_prefix(pool_id, user_key);
    k.extend_from_slice(group.as_bytes());
    k
}

fn member_key(pool_id: &PoolId, group: &str, user_key: &str) -> Vec<u8> {
    let mut k = member_prefix(pool_id, group);
    k.extend_from_slice(user_key.as_bytes());
    k
}

/// Adds to `w` the removal of every membership of a user (the user is being deleted).
pub(super) fn delete_memberships_of(
    directory: &Directory,
    w: &mut WriteSet,
    pool_id: &PoolId,
    user_key: &str,
) -> Result<()> {
    let prefix = user_groups_prefix(pool_id, user_key);
    for (key, _) in directory.scan_all(Table::UserGroups, &prefix)? {
        let group = String::from_utf8_lossy(key.get(prefix.len()..).unwrap_or_default()).into_owned();
        w.delete(Table::GroupMembers, member_key(pool_id, &group, user_key));
        w.delete(Table::UserGroups, key);
    }
    Ok(())
}

impl Directory {
    /// Creates a group; of two concurrent creates of one name exactly one succeeds.
    pub fn create_group(&self, group: &Group) -> Result<()> {
        let mut w = WriteSet::new();
        w.require(Precondition::Present(Table::Pools, group.pool_id.as_str().as_bytes().to_vec()));
        w.require(Precondition::Absent(Table::Groups, scoped_key(group.pool_id.as_str(), &group.name)));
        w.put(Table::Groups, scoped_key(group.pool_id.as_str(), &group.name), encode(group)?);
        let (pool_id, name) = (group.pool_id.clone(), group.name.clone());
        self.commit(w, |i| match i {
            0 => pool_missing(&pool_id),
            _ => Error::new(ErrorKind::GroupExists, format!("A group with the name {name} already exists.")),
        })
    }

    pub fn group(&self, pool_id: &PoolId, name: &str) -> Result<Versioned<Group>> {
        self.read(Table::Groups, &scoped_key(pool_id.as_str(), name))?.ok_or_else(group_missing)
    }

    pub fn list_groups(&self, pool_id: &PoolId, token: Option<&str>, limit: usize) -> Result<Listing<Group>> {
        let page = self.page(Table::Groups, &pool_prefix(pool_id.as_str()), token, limit)?;
        let items = page.items.iter().map(|(_, v)| decode(v)).collect::<Result<_>>()?;
        Ok(Listing { items, next_token: page.next_token })
    }

    pub fn replace_group(&self, old: &Versioned<Group>, new: &Group) -> Result<()> {
        let key = scoped_key(new.pool_id.as_str(), &new.name);
        let mut w = WriteSet::new();
        w.require(Precondition::Unchanged(Table::Groups, key.clone(), old.raw.clone()));
        w.put(Table::Groups, key, encode(new)?);
        self.commit(w, |_| Error::new(ErrorKind::ConcurrentModification, "The group was changed concurrently."))
    }

    /// Deletes a group with its memberships.
    pub fn delete_group(&self, old: &Versioned<Group>) -> Result<()> {
        let (pool_id, name) = (&old.record.pool_id, &old.record.name);
        let key = scoped_key(pool_id.as_str(), name);
        let mut w = WriteSet::new();
        w.require(Precondition::Unchanged(Table::Groups, key.clone(), old.raw.clone()));
        w.delete(Table::Groups, key);
        let members = member_prefix(pool_id, name);
        for (member_key, _) in self.scan_all(Table::GroupMembers, &members)? {
            let user_key = String::from_utf8_lossy(member_key.get(members.len()..).unwrap_or_default()).into_owned();
            w.delete(Table::UserGroups, membership_key(pool_id, &user_key, name));
            w.delete(Table::GroupMembers, member_key);
        }
        self.commit(w, |_| group_missing())
    }

    // ----- membership -----

    /// Adds a user to a group (no error if already a member); both must exist meanwhile.
    pub fn add_user_to_group(&self, pool_id: &PoolId, group: &str, user_key: &str) -> Result<()> {
        let mut w = WriteSet::new();
        w.require(Precondition::Present(Table::Groups, scoped_key(pool_id.as_str(), group)));
        w.require(Precondition::Present(Table::Users, scoped_key(pool_id.as_str(), user_key)));
        w.put(Table::GroupMembers, member_key(pool_id, group, user_key), Vec::new());
        w.put(Table::UserGroups, membership_key(pool_id, user_key, group), Vec::new());
        self.commit(w, |i| match i {
            0 => group_missing(),
            _ => Error::new(ErrorKind::UserNotFound, "User does not exist."),
        })
    }

    /// Removes a user from a group (no error if not a member).
    pub fn remove_user_from_group(&self, pool_id: &PoolId, group: &str, user_key: &str) -> Result<()> {
        let mut w = WriteSet::new();
        w.delete(Table::GroupMembers, member_key(pool_id, group, user_key));
        w.delete(Table::UserGroups, membership_key(pool_id, user_key, group));
        self.commit(w, |_| Error::new(ErrorKind::ConcurrentModification, "The group was changed concurrently."))
    }

    /// The names of the groups a user is in, in name order.
    pub fn groups_of_user(&self, pool_id: &PoolId, user_key: &str) -> Result<Vec<String>> {
        let prefix = user_groups_prefix(pool_id, user_key);
        Ok(self
            .scan_all(Table::UserGroups, &prefix)?
            .into_iter()
            .map(|(key, _)| String::from_utf8_lossy(key.get(prefix.len()..).unwrap_or_default()).into_owned())
            .collect())
    }

    /// One page of a group's members (user keys), in user-key order.
    pub fn users_in_group(
        &self,
        pool_id: &PoolId,
        group: &str,
        token: Option<&str>,
        limit: usize,
    ) -> Result<Listing<String>> {
        let prefix = member_prefix(pool_id, group);
        let page = self.page(Table::GroupMembers, &prefix, token, limit)?;
        let items = page
            .items
            .iter()
            .map(|(key, _)| String::from_utf8_lossy(key.get(prefix.len()..).unwrap_or_default()).into_owned())
            .collect();
        Ok(Listing { items, next_token: page.next_token })
    }
}
