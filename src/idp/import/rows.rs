//! The import CSV's header and rows checked against the pool's schema, as Cognito checks them:
//! a row becomes the username and attributes of one new user, or the reason it cannot.

use std::collections::{BTreeMap, HashSet};

use once_cell::sync::Lazy;
use regex::Regex;
use serde_json::Value;

use crate::store::records::UserPool;

pub const USERNAME_COLUMN: &str = "cognito:username";
pub const MFA_COLUMN: &str = "cognito:mfa_enabled";

/// Cognito's `UsernameType`: 1-128 letters, marks, symbols, numbers and punctuation.
static USERNAME: Lazy<Option<Regex>> = Lazy::new(|| Regex::new(r"^[\p{L}\p{M}\p{S}\p{N}\p{P}]{1,128}$").ok());

/// GetCSVHeader: the pool's schema attributes other than `sub`, in schema order, then
/// `cognito:mfa_enabled` and `cognito:username`.
pub fn csv_header(pool: &UserPool) -> Vec<String> {
    let mut header: Vec<String> = pool.schema_attribute_names().filter(|n| *n != "sub").map(str::to_owned).collect();
    header.push(MFA_COLUMN.to_owned());
    header.push(USERNAME_COLUMN.to_owned());
    header
}

#[derive(Debug, Clone, PartialEq)]
enum Column {
    Username,
    MfaEnabled,
    /// A schema attribute, with its schema entry (type and constraints).
    Attribute {
        name: String,
        entry: Value,
    },
}

/// The CSV's first row, each column resolved against the pool's schema.
#[derive(Debug)]
pub struct Header {
    columns: Vec<Column>,
    required: Vec<String>,
    /// `email` and/or `phone_number`: a row must have at least one of them verified.
    auto_verified: Vec<String>,
}

/// Checks the header row: every column is a schema attribute (not `sub`) or one of the two
/// `cognito:` columns, none twice, and `cognito:username` is there. `Err` says why the whole
/// job cannot run.
pub fn parse_header(pool: &UserPool, fields: &[&str]) -> Result<Header, String> {
    let mut seen = HashSet::new();
    let mut columns = Vec::with_capacity(fields.len());
    for raw in fields {
        let name = raw.trim();
        if !seen.insert(name) {
            return Err(format!("The CSV header names the column {name} twice."));
        }
        columns.push(match name {
            USERNAME_COLUMN => Column::Username,
            MFA_COLUMN => Column::MfaEnabled,
            "sub" => return Err("The CSV header cannot contain the sub attribute.".to_owned()),
            _ => match pool.schema_attribute(name) {
                Some(entry) => Column::Attribute { name: name.to_owned(), entry: entry.clone() },
                None => {
                    return Err(format!("The CSV header contains {name}, which is not an attribute of the user pool."))
                }
            },
        });
    }
    if !columns.contains(&Column::Username) {
        return Err(format!("The CSV header has no {USERNAME_COLUMN} column."));
    }
    let auto_verified = pool
        .settings
        .get("AutoVerifiedAttributes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    Ok(Header { columns, required: pool.required_attribute_names().map(str::to_owned).collect(), auto_verified })
}

/// One row as a user to create.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedUser {
    pub username: String,
    pub attributes: BTreeMap<String, String>,
}

/// Why a row was not imported (logged with its line number; never contains a value).
pub type RowFailure = String;

fn boolean(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Checks one data row (its fields as read) against the header and the pool's rules.
pub fn parse_row(header: &Header, fields: &[&str]) -> Result<ImportedUser, RowFailure> {
    if fields.len() != header.columns.len() {
        return Err(format!(
            "the row has {} fields where the header declares {} columns",
            fields.len(),
            header.columns.len()
        ));
    }
    let mut username = None;
    let mut attributes = BTreeMap::new();
    for (column, field) in header.columns.iter().zip(fields) {
        let value = field.trim();
        match column {
            Column::Username => username = Some(value),
            Column::MfaEnabled => match boolean(value) {
                None if !value.is_empty() => return Err(format!("{MFA_COLUMN} must be true or false")),
                Some(true) => return Err(format!("{MFA_COLUMN} true is not supported: Portcullis has no SMS MFA")),
                _ => {}
            },
            Column::Attribute { name, entry } => {
                if value.is_empty() {
                    continue;
                }
                // Booleans are written TRUE/false/... in CSVs; stored as Cognito stores them.
                let stored = match boolean(value) {
                    Some(b) if entry.get("AttributeDataType").and_then(Value::as_str) == Some("Boolean") => {
                        b.to_string()
                    }
                    _ => value.to_owned(),
                };
                // The same checks as the API's (messages name the attribute, never the value).
                crate::idp::schema::check_value(entry, name, &stored).map_err(|e| e.message.trim_end().to_owned())?;
                attributes.insert(name.clone(), stored);
            }
        }
    }
    let username = match username {
        Some("") | None => return Err(format!("{USERNAME_COLUMN} is missing")),
        Some(u) if !USERNAME.as_ref().is_some_and(|re| re.is_match(u)) => {
            return Err(format!("{USERNAME_COLUMN} is not a valid username"));
        }
        Some(u) => u.to_owned(),
    };
    for medium in ["email", "phone_number"] {
        let verified = attributes.get(&format!("{medium}_verified")).is_some_and(|v| v == "true");
        if verified && !attributes.contains_key(medium) {
            return Err(format!("{medium}_verified is true but {medium} is missing"));
        }
    }
    if let Some(missing) = header.required.iter().find(|n| !attributes.contains_key(n.as_str())) {
        return Err(format!("the required attribute {missing} is missing"));
    }
    let verified = |a: &String| attributes.get(&format!("{a}_verified")).is_some_and(|v| v == "true");
    if !header.auto_verified.is_empty() && !header.auto_verified.iter().any(verified) {
        return Err(format!("none of the auto-verified attributes ({}) is verified", header.auto_verified.join(", ")));
    }
    Ok(ImportedUser { username, attributes })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::idp::schema;

    fn pool(extra_schema: &[Value], auto_verified: &[&str]) -> UserPool {
        let mut settings = serde_json::Map::new();
        settings.insert("SchemaAttributes".into(), Value::Array(schema::build(extra_schema).unwrap()));
        settings.insert("AutoVerifiedAttributes".into(), json!(auto_verified));
        UserPool::sample("us-east-1_rows", settings)
    }

    #[test]
    fn the_header_of_a_default_pool_is_cognitos() {
        let header = csv_header(&pool(&[], &[]));
        assert_eq!(
            header,
            [
                "name",
                "given_name",
                "family_name",
                "middle_name",
                "nickname",
                "preferred_username",
                "profile",
                "picture",
                "website",
                "email",
                "email_verified",
                "gender",
                "birthdate",
                "zoneinfo",
                "locale",
                "phone_number",
                "phone_number_verified",
                "address",
                "updated_at",
                "cognito:mfa_enabled",
                "cognito:username"
            ]
        );
        let custom = csv_header(&pool(&[json!({"Name": "tier", "AttributeDataType": "String"})], &[]));
        assert_eq!(custom[custom.len() - 3], "custom:tier");
    }

    #[test]
    fn headers_must_name_pool_attributes_once_and_the_username() {
        let p = pool(&[], &[]);
        assert!(parse_header(&p, &["cognito:username", "email"]).is_ok());
        assert!(parse_header(&p, &["cognito:username", "favourite_colour"]).unwrap_err().contains("favourite_colour"));
        assert!(parse_header(&p, &["cognito:username", "email", "email"]).is_err());
        assert!(parse_header(&p, &["email"]).is_err());
        assert!(parse_header(&p, &["cognito:username", "sub"]).is_err());
    }

    #[test]
    fn rows_are_checked_as_cognito_checks_them() {
        let p = pool(&[json!({"Name": "email", "AttributeDataType": "String", "Required": true})], &["email"]);
        let header =
            parse_header(&p, &["cognito:username", "email", "email_verified", "cognito:mfa_enabled", "updated_at"])
                .unwrap();
        let ok = parse_row(&header, &["alice", "a@example.com", "TRUE", "false", "1700000000"]).unwrap();
        assert_eq!(ok.username, "alice");
        assert_eq!(ok.attributes["email_verified"], "true");
        assert_eq!(ok.attributes["updated_at"], "1700000000");
        let fails = |fields: &[&str]| parse_row(&header, fields).unwrap_err();
        assert!(fails(&["", "a@example.com", "true", "", ""]).contains("cognito:username"));
        assert!(fails(&["bob", "b@example.com", "yes", "", ""]).contains("email_verified"));
        assert!(fails(&["bob", "b@example.com", "true", "", "soon"]).contains("updated_at"));
        assert!(fails(&["bob", "b@example.com", "true", "true", ""]).contains("mfa"));
        assert!(fails(&["bob", "", "false", "", ""]).contains("email"));
        assert!(fails(&["bob", "b@example.com", "false", "", ""]).contains("auto-verified"));
        assert!(fails(&["bob", "b@example.com", "true", "", "", "extra"]).contains("fields"));
        assert!(fails(&["bob smith", "b@example.com", "true", "", ""]).contains("valid username"));
    }
}
