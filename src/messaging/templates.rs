//! What an outgoing message says: Cognito's default texts, the pool's own templates, the
//! `{####}` / `{username}` placeholders, and the masked destination of `CodeDeliveryDetails`.
//!
//! Sources: the pool's `VerificationMessageTemplate` (codes for sign-up, password reset and
//! attribute verification; the older `EmailVerificationMessage` / `EmailVerificationSubject` /
//! `SmsVerificationMessage` members when the template has none) and
//! `AdminCreateUserConfig.InviteMessageTemplate` (invitations). `{username}` is replaced in
//! invitations only, as Cognito does; subjects never expand placeholders.

use serde_json::{json, Map, Value};

use crate::store::records::UserPool;

/// Cognito's default verification text (with its trailing space) and subject.
pub const DEFAULT_VERIFICATION_MESSAGE: &str = "Your verification code is {####}. ";
pub const DEFAULT_VERIFICATION_SUBJECT: &str = "Your verification code";
/// Cognito's built-in password-reset email text when the pool has no template of its own.
pub const DEFAULT_RESET_MESSAGE: &str = "Your password reset code is {####}";
pub const DEFAULT_INVITE_MESSAGE: &str = "Your username is {username} and temporary password is {####}. ";
pub const DEFAULT_INVITE_SUBJECT: &str = "Your temporary password";
/// Cognito's default confirmation-link email (`CONFIRM_WITH_LINK`) and subject.
pub const DEFAULT_LINK_MESSAGE: &str = "Please click the link below to verify your email address. {##Verify Email##} ";
pub const DEFAULT_LINK_SUBJECT: &str = "Your verification link";

/// How a message reaches its recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Medium {
    #[serde(rename = "EMAIL")]
    Email,
    #[serde(rename = "SMS")]
    Sms,
}

impl Medium {
    pub fn wire_name(self) -> &'static str {
        match self {
            Medium::Email => "EMAIL",
            Medium::Sms => "SMS",
        }
    }

    /// The user attribute holding this medium's address.
    pub fn attribute(self) -> &'static str {
        match self {
            Medium::Email => "email",
            Medium::Sms => "phone_number",
        }
    }

    /// The medium whose address `attribute` holds.
    pub fn of_attribute(attribute: &str) -> Option<Medium> {
        match attribute {
            "email" => Some(Medium::Email),
            "phone_number" => Some(Medium::Sms),
            _ => None,
        }
    }
}

/// Why a message is sent (which template applies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// A sign-up confirmation code (SignUp, ResendConfirmationCode).
    SignUp,
    /// An AdminCreateUser invitation carrying the temporary password.
    Invitation,
    /// A ForgotPassword / AdminResetUserPassword code.
    PasswordReset,
    /// GetUserAttributeVerificationCode, or an attribute change that needs verifying.
    AttributeVerification,
}

/// A rendered message: the subject is for email only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: Option<String>,
    pub body: String,
}

fn text<'a>(settings: &'a Map<String, Value>, path: &[&str]) -> Option<&'a str> {
    let (last, parents) = path.split_last()?;
    let mut node = settings;
    for p in parents {
        node = node.get(*p)?.as_object()?;
    }
    node.get(*last).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The message for `purpose` over `medium`, with the code (or temporary password) filled in.
pub fn render(pool: &UserPool, purpose: Purpose, medium: Medium, username: &str, code: &str) -> Rendered {
    let s = &pool.settings;
    let verification = |medium: Medium, fallback: &'static str| -> (&str, &str) {
        match medium {
            Medium::Email => (
                text(s, &["VerificationMessageTemplate", "EmailMessage"])
                    .or_else(|| text(s, &["EmailVerificationMessage"]))
                    .unwrap_or(fallback),
                text(s, &["VerificationMessageTemplate", "EmailSubject"])
                    .or_else(|| text(s, &["EmailVerificationSubject"]))
                    .unwrap_or(DEFAULT_VERIFICATION_SUBJECT),
            ),
            Medium::Sms => (
                text(s, &["VerificationMessageTemplate", "SmsMessage"])
                    .or_else(|| text(s, &["SmsVerificationMessage"]))
                    .unwrap_or(DEFAULT_VERIFICATION_MESSAGE),
                "",
            ),
        }
    };
    let (body, subject) = match purpose {
        Purpose::SignUp | Purpose::AttributeVerification => verification(medium, DEFAULT_VERIFICATION_MESSAGE),
        Purpose::PasswordReset => verification(medium, DEFAULT_RESET_MESSAGE),
        Purpose::Invitation => {
            let invite = |member: &str| text(s, &["AdminCreateUserConfig", "InviteMessageTemplate", member]);
            match medium {
                Medium::Email => (
                    invite("EmailMessage").unwrap_or(DEFAULT_INVITE_MESSAGE),
                    invite("EmailSubject").unwrap_or(DEFAULT_INVITE_SUBJECT),
                ),
                Medium::Sms => (invite("SMSMessage").unwrap_or(DEFAULT_INVITE_MESSAGE), ""),
            }
        }
    };
    let mut body = body.replace("{####}", code);
    if purpose == Purpose::Invitation {
        body = body.replace("{username}", username);
    }
    Rendered { subject: (medium == Medium::Email).then(|| subject.to_owned()), body }
}

/// The sign-up email of a pool whose `DefaultEmailOption` is `CONFIRM_WITH_LINK`: its
/// `EmailMessageByLink` (or Cognito's default) with `{##text##}` made a link to `link`;
/// `None` when the pool sends codes.
pub fn render_link(pool: &UserPool, link: &str) -> Option<Rendered> {
    let s = &pool.settings;
    if text(s, &["VerificationMessageTemplate", "DefaultEmailOption"]) != Some("CONFIRM_WITH_LINK") {
        return None;
    }
    let body = text(s, &["VerificationMessageTemplate", "EmailMessageByLink"]).unwrap_or(DEFAULT_LINK_MESSAGE);
    let subject = text(s, &["VerificationMessageTemplate", "EmailSubjectByLink"]).unwrap_or(DEFAULT_LINK_SUBJECT);
    let href = link.replace('&', "&amp;").replace('"', "%22");
    let body = match (body.find("{##"), body.find("##}")) {
        (Some(start), Some(end)) if start < end => {
            format!("{}<a href=\"{href}\">{}</a>{}", &body[..start], &body[start + 3..end], &body[end + 3..])
        }
        _ => body.to_owned(),
    };
    Some(Rendered { subject: Some(subject.to_owned()), body })
}

/// An address as `CodeDeliveryDetails.Destination` shows it: `j***@e***` (the domain's first
/// letter only) or `+*******1234` (one star per hidden digit, the last four kept).
pub fn mask(medium: Medium, address: &str) -> String {
    match medium {
        Medium::Email => {
            let (local, domain) = address.split_once('@').unwrap_or((address, ""));
            let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
            format!("{}***@{}***", first(local), first(domain))
        }
        Medium::Sms => {
            let digits: Vec<char> = address.chars().filter(char::is_ascii_digit).collect();
            let shown = digits.len().saturating_sub(4);
            let tail: String = digits.get(shown..).unwrap_or_default().iter().collect();
            format!("+{}{tail}", "*".repeat(shown))
        }
    }
}

/// `CodeDeliveryDetails` for a message sent to `address`.
pub fn delivery_details(medium: Medium, address: &str) -> Value {
    json!({
        "Destination": mask(medium, address),
        "DeliveryMedium": medium.wire_name(),
        "AttributeName": medium.attribute(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn pool(settings: Value) -> UserPool {
        UserPool {
            id: crate::ids::PoolId::from("us-east-1_abc".to_owned()),
            name: "p".into(),
            created: 0.0,
            modified: 0.0,
            signing_keys: vec![],
            settings: settings.as_object().cloned().unwrap_or_default(),
            tags: BTreeMap::new(),
        }
    }

    #[test]
    fn destinations_are_masked_as_cognito_shows_them() {
        assert_eq!(mask(Medium::Email, "jane@gmail.com"), "j***@g***");
        assert_eq!(mask(Medium::Sms, "+12065551234"), "+*******1234");
        assert_eq!(mask(Medium::Sms, "+919876540276"), "+********0276");
    }

    #[test]
    fn defaults_apply_without_templates_and_username_only_in_invitations() {
        let p = pool(json!({}));
        let r = render(&p, Purpose::SignUp, Medium::Email, "ann", "123456");
        assert_eq!(
            r,
            Rendered {
                subject: Some("Your verification code".into()),
                body: "Your verification code is 123456. ".into()
            }
        );
        let r = render(&p, Purpose::Invitation, Medium::Sms, "ann", "Tmp-pass1");
        assert_eq!(r.body, "Your username is ann and temporary password is Tmp-pass1. ");
        assert_eq!(r.subject, None);
        let r = render(&p, Purpose::PasswordReset, Medium::Email, "ann", "654321");
        assert_eq!(r.body, "Your password reset code is 654321");
    }

    #[test]
    fn pool_templates_win_over_legacy_members_and_defaults() {
        let p = pool(json!({
            "EmailVerificationMessage": "legacy {####}",
            "VerificationMessageTemplate": {"EmailMessage": "Hi {username}, code {####}", "EmailSubject": "Code inside"},
            "SmsVerificationMessage": "sms {####}",
        }));
        let r = render(&p, Purpose::SignUp, Medium::Email, "ann", "111222");
        assert_eq!(r.body, "Hi {username}, code 111222", "{{username}} is left alone outside invitations");
        assert_eq!(r.subject.as_deref(), Some("Code inside"));
        assert_eq!(render(&p, Purpose::SignUp, Medium::Sms, "ann", "111222").body, "sms 111222");
    }
}
