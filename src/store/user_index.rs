//! What a user record implies beyond itself: its entries in the ListUsers search index
//! (`user_index`) and the sign-in names it claims (`sign_in_names`), both derived here only.
//!
//! `users.rs` writes them in the same commit as the record, so the index never disagrees with
//! the users it points at and a name is claimed by at most one user (a second claim fails the
//! commit's `Absent` precondition).
//!
//! **Sign-in names.** A pool with `UsernameAttributes` (email and/or phone as the username) gets
//! a generated UUID username and every user claims each of those attributes it has, verified or
//! not: they are unique in the pool. A pool with `AliasAttributes` lets a user also sign in with
//! a *verified* email or phone number, and with `preferred_username` whenever set; only those
//! values are claimed, so two unverified users may share an address. Claimed values compare as
//! usernames do: emails and preferred usernames lower-cased unless the pool is case sensitive.

use std::collections::BTreeSet;

use serde_json::Value;

use super::records::{User, UserPool};
use super::scoped_key;

/// The attributes ListUsers filters on (Cognito's list); each is indexed.
pub const SEARCHABLE: &[&str] = &[
    "username",
    "email",
    "phone_number",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "cognito:user_status",
    "status",
    "sub",
];

/// The value `user` has for a searchable attribute, as ListUsers compares it.
pub fn searchable_value<'a>(user: &'a User, attribute: &str) -> Option<&'a str> {
    match attribute {
        "username" => Some(user.username.as_str()),
        "sub" => Some(user.sub.as_str()),
        "cognito:user_status" => Some(user.status.wire_name()),
        "status" => Some(if user.enabled { "Enabled" } else { "Disabled" }),
        other => user.attributes.get(other).map(String::as_str),
    }
}

/// The start of the search entries for `attribute` values equal to `value` (`exact`) or
/// starting with it: `{pool}\0{attribute}\0{value}` (then `\0` when exact).
pub fn search_prefix(pool_id: &str, attribute: &str, value: &str, exact: bool) -> Vec<u8> {
    let mut key = scoped_key(pool_id, attribute);
    key.push(0);
    key.extend_from_slice(value.as_bytes());
    if exact {
        key.push(0);
    }
    key
}

/// The search entries of one user: `{pool}\0{attribute}\0{value}\0{user_key}` per searchable
/// attribute it has. (A value holding `\0` cannot be found by a filter and is left out.)
pub fn search_entries(user_key: &str, user: &User) -> BTreeSet<Vec<u8>> {
    SEARCHABLE
        .iter()
        .filter_map(|attribute| {
            let value = searchable_value(user, attribute).filter(|v| !v.contains('\0'))?;
            let mut key = search_prefix(user.pool_id.as_str(), attribute, value, true);
            key.extend_from_slice(user_key.as_bytes());
            Some(key)
        })
        .collect()
}

/// The user key a search entry points at (what follows its last `\0`).
pub fn user_key_of_entry(entry: &[u8]) -> Option<&str> {
    let start = entry.iter().rposition(|b| *b == 0)? + 1;
    std::str::from_utf8(entry.get(start..)?).ok()
}

/// How the pool's users may sign in with something other than their username.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// Only the username.
    UsernameOnly,
    /// `UsernameAttributes`: email and/or phone number instead of a username.
    UsernameAttributes,
    /// `AliasAttributes`: the username, or a verified email / phone, or `preferred_username`.
    AliasAttributes,
}

/// A pool's sign-in name rules (`UsernameAttributes` / `AliasAttributes`, case sensitivity).
#[derive(Debug, Clone)]
pub struct SignInNames {
    pub kind: NameKind,
    /// The attributes that are sign-in names, as the pool lists them.
    pub attributes: Vec<String>,
    case_sensitive: bool,
}

impl SignInNames {
    pub fn of(pool: &UserPool) -> Self {
        let list = |member: &str| -> Vec<String> {
            pool.settings
                .get(member)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                .unwrap_or_default()
        };
        let (username_attributes, alias_attributes) = (list("UsernameAttributes"), list("AliasAttributes"));
        let (kind, attributes) = if !username_attributes.is_empty() {
            (NameKind::UsernameAttributes, username_attributes)
        } else if !alias_attributes.is_empty() {
            (NameKind::AliasAttributes, alias_attributes)
        } else {
            (NameKind::UsernameOnly, Vec::new())
        };
        let case_sensitive = pool.user_key("A") == "A";
        Self { kind, attributes, case_sensitive }
    }

    /// `value` of `attribute` as claims compare it.
    pub fn normalize(&self, attribute: &str, value: &str) -> String {
        if self.case_sensitive || attribute == "phone_number" {
            value.to_owned()
        } else {
            value.to_lowercase()
        }
    }

    /// Whether a claim on `attribute` needs the attribute verified (aliases of email / phone).
    pub fn needs_verification(&self, attribute: &str) -> bool {
        self.kind == NameKind::AliasAttributes && attribute != "preferred_username"
    }

    /// The `(attribute, normalized value)` names `user` claims.
    pub fn claims(&self, user: &User) -> BTreeSet<(String, String)> {
        self.attributes
            .iter()
            .filter_map(|attribute| {
                let value = user.attributes.get(attribute)?;
                let verified = user.attributes.get(&format!("{attribute}_verified")).is_some_and(|v| v == "true");
                if self.needs_verification(attribute) && !verified {
                    return None;
                }
                Some((attribute.clone(), self.normalize(attribute, value)))
            })
            .collect()
    }
}

/// The `sign_in_names` key of a claim: `{pool}\0{attribute}\0{normalized value}`.
pub fn claim_key(pool_id: &str, attribute: &str, normalized: &str) -> Vec<u8> {
    let mut key = scoped_key(pool_id, attribute);
    key.push(0);
    key.extend_from_slice(normalized.as_bytes());
    key
}
