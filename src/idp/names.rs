//! A new user's username under the pool's sign-in name rules: with `UsernameAttributes` the
//! given email or phone number becomes an attribute and the username a generated UUID (the
//! user's `sub`); with `AliasAttributes` a username must not look like one of the aliases.

use std::collections::BTreeMap;

use crate::protocol::error::{Error, Result};
use crate::store::records::UserPool;
use crate::store::user_index::{NameKind, SignInNames};

/// The username a new user gets and the key it is stored under.
pub struct NewUserName {
    pub username: String,
    pub user_key: String,
    /// With `UsernameAttributes`: the generated username, which is also the user's `sub`.
    pub sub: Option<String>,
    /// With `UsernameAttributes`: the attribute the requested name went to.
    pub username_attribute: Option<&'static str>,
}

/// An email address as Cognito tells one from a username: `local@domain`, no spaces.
pub fn looks_like_email(text: &str) -> bool {
    let mut parts = text.split('@');
    let (local, domain) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    parts.next().is_none() && !local.is_empty() && !domain.is_empty() && !text.chars().any(char::is_whitespace)
}

/// A phone number in E.164 form: `+` and 1 to 15 digits.
pub fn looks_like_phone(text: &str) -> bool {
    text.strip_prefix('+').is_some_and(|d| (1..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Names a user created as `requested` (SignUp, AdminCreateUser), moving an email or phone
/// username into `attributes` where the pool uses them as usernames.
pub fn name_new_user(
    pool: &UserPool,
    requested: &str,
    attributes: &mut BTreeMap<String, String>,
) -> Result<NewUserName> {
    let names = SignInNames::of(pool);
    let allows = |a: &str| names.attributes.iter().any(|n| n == a);
    match names.kind {
        NameKind::UsernameAttributes => {
            let attribute = if allows("email") && looks_like_email(requested) {
                "email"
            } else if allows("phone_number") && looks_like_phone(requested) {
                "phone_number"
            } else {
                return Err(Error::invalid_parameter(match (allows("email"), allows("phone_number")) {
                    (true, true) => "Username should be either an email or a phone number.",
                    (true, false) => "Username should be an email.",
                    _ => "Username should be a phone number.",
                }));
            };
            attributes.insert(attribute.to_owned(), requested.to_owned());
            let sub = uuid::Uuid::new_v4().to_string();
            Ok(NewUserName {
                user_key: pool.user_key(&sub),
                username: sub.clone(),
                sub: Some(sub),
                username_attribute: Some(attribute),
            })
        }
        NameKind::AliasAttributes if allows("email") && looks_like_email(requested) => Err(Error::invalid_parameter(
            "Username cannot be of email format, since user pool is configured for email alias.",
        )),
        NameKind::AliasAttributes if allows("phone_number") && looks_like_phone(requested) => {
            Err(Error::invalid_parameter(
                "Username cannot be of phone number format, since user pool is configured for phone number alias.",
            ))
        }
        _ => Ok(NewUserName {
            username: requested.to_owned(),
            user_key: pool.user_key(requested),
            sub: None,
            username_attribute: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_phones_are_told_from_usernames() {
        assert!(looks_like_email("jane@example.com"));
        assert!(!looks_like_email("jane"));
        assert!(!looks_like_email("a@b@c"));
        assert!(!looks_like_email("jane doe@example.com"));
        assert!(looks_like_phone("+14155550100"));
        assert!(!looks_like_phone("14155550100"));
        assert!(!looks_like_phone("+1415555010012345"));
    }
}
