//! User-pool schema: Cognito's standard attributes, the merge of a CreateUserPool `Schema`
//! (overrides of standard attributes, `custom:` attributes) into `SchemaAttributes`,
//! AddCustomAttributes, and the check of an attribute value against its schema entry.

use serde_json::{json, Map, Value};

use crate::protocol::error::{Error, Result};

/// (name, data type) of every standard attribute, in Cognito's order.
pub const STANDARD_ATTRIBUTES: &[(&str, &str)] = &[
    ("sub", "String"),
    ("name", "String"),
    ("given_name", "String"),
    ("family_name", "String"),
    ("middle_name", "String"),
    ("nickname", "String"),
    ("preferred_username", "String"),
    ("profile", "String"),
    ("picture", "String"),
    ("website", "String"),
    ("email", "String"),
    ("email_verified", "Boolean"),
    ("gender", "String"),
    ("birthdate", "String"),
    ("zoneinfo", "String"),
    ("locale", "String"),
    ("phone_number", "String"),
    ("phone_number_verified", "Boolean"),
    ("address", "String"),
    ("updated_at", "Number"),
];

/// Most custom attributes a pool may have.
const MAX_CUSTOM_ATTRIBUTES: usize = 50;

fn nonconforming(name: &str, why: &str) -> Error {
    Error::invalid_parameter(format!("Attributes did not conform to the schema: {name}: {why}\n"))
}

/// A constraint of a schema entry (`StringAttributeConstraints.MaxLength`, ...), which Cognito
/// keeps as a string.
fn constraint(entry: &Value, group: &str, member: &str) -> Option<f64> {
    let v = entry.get(group)?.get(member)?;
    v.as_str().and_then(|s| s.trim().parse().ok()).or_else(|| v.as_f64())
}

/// Checks `value` of attribute `name` against its schema `entry`: type (String length, Number,
/// Boolean), constraints, and the email / phone number formats Cognito enforces.
pub fn check_value(entry: &Value, name: &str, value: &str) -> Result<()> {
    match entry.get("AttributeDataType").and_then(Value::as_str).unwrap_or("String") {
        "Number" => {
            let number: f64 = value.trim().parse().map_err(|_| nonconforming(name, "Number must be a number."))?;
            if constraint(entry, "NumberAttributeConstraints", "MinValue").is_some_and(|min| number < min) {
                return Err(nonconforming(name, "Number is below the minimum value."));
            }
            if constraint(entry, "NumberAttributeConstraints", "MaxValue").is_some_and(|max| number > max) {
                return Err(nonconforming(name, "Number is above the maximum value."));
            }
        }
        "Boolean" if value != "true" && value != "false" => {
            return Err(nonconforming(name, "Boolean must be true or false."));
        }
        "Boolean" | "DateTime" => {}
        _ => {
            let length = value.chars().count() as f64;
            let max = constraint(entry, "StringAttributeConstraints", "MaxLength").unwrap_or(2048.0);
            if length > max {
                return Err(nonconforming(name, &format!("String must be no longer than {max} characters.")));
            }
            if constraint(entry, "StringAttributeConstraints", "MinLength").is_some_and(|min| length < min) {
                return Err(nonconforming(name, "String is shorter than the minimum length."));
            }
        }
    }
    match name {
        "email" if !super::names::looks_like_email(value) => {
            Err(Error::invalid_parameter("Invalid email address format."))
        }
        "phone_number" if !super::names::looks_like_phone(value) => {
            Err(Error::invalid_parameter("Invalid phone number format."))
        }
        _ => Ok(()),
    }
}

/// AddCustomAttributes: appends `requested` custom attributes to `schema` (names must be new).
pub fn add_custom(schema: &mut Vec<Value>, requested: &[Value]) -> Result<()> {
    for attr in requested {
        let name = attr.get("Name").and_then(Value::as_str).unwrap_or_default();
        if name.is_empty() {
            return Err(Error::invalid_parameter("Attribute name must not be empty."));
        }
        let entry = custom_entry(attr, name)?;
        if schema.iter().any(|existing| existing.get("Name") == entry.get("Name")) {
            return Err(Error::invalid_parameter(format!(
                "Existing attribute already has name {}.",
                entry.get("Name").and_then(Value::as_str).unwrap_or(name)
            )));
        }
        schema.push(entry);
    }
    let custom = schema.iter().filter(|a| a.get("Name").and_then(Value::as_str).is_some_and(is_custom)).count();
    if custom > MAX_CUSTOM_ATTRIBUTES {
        return Err(Error::invalid_parameter(format!(
            "A user pool can have at most {MAX_CUSTOM_ATTRIBUTES} custom attributes."
        )));
    }
    Ok(())
}

fn is_custom(name: &str) -> bool {
    name.starts_with("custom:") || name.starts_with("dev:")
}

fn standard_entry(name: &str, data_type: &str) -> Value {
    let mut entry = json!({
        "Name": name,
        "AttributeDataType": data_type,
        "DeveloperOnlyAttribute": false,
        "Mutable": name != "sub",
        "Required": name == "sub",
    });
    match (name, data_type) {
        ("sub", _) => entry["StringAttributeConstraints"] = json!({"MinLength": "1", "MaxLength": "2048"}),
        ("birthdate", _) => entry["StringAttributeConstraints"] = json!({"MinLength": "10", "MaxLength": "10"}),
        (_, "String") => entry["StringAttributeConstraints"] = json!({"MinLength": "0", "MaxLength": "2048"}),
        (_, "Number") => entry["NumberAttributeConstraints"] = json!({"MinValue": "0"}),
        _ => {}
    }
    entry
}

/// The `SchemaAttributes` of a new pool: the standard attributes, with the request's overrides
/// of `Required`/`Mutable`/constraints applied, then the custom attributes.
pub fn build(requested: &[Value]) -> Result<Vec<Value>> {
    let mut attributes: Vec<Value> = STANDARD_ATTRIBUTES.iter().map(|(n, t)| standard_entry(n, t)).collect();
    let mut custom = Vec::new();
    for attr in requested {
        let name = attr.get("Name").and_then(Value::as_str).unwrap_or_default();
        if name.is_empty() {
            return Err(Error::invalid_parameter("Attribute name must not be empty."));
        }
        match STANDARD_ATTRIBUTES.iter().position(|(n, _)| *n == name) {
            Some(i) => merge_standard(&mut attributes[i], attr)?,
            None => custom.push(custom_entry(attr, name)?),
        }
    }
    if custom.len() > MAX_CUSTOM_ATTRIBUTES {
        return Err(Error::invalid_parameter(format!(
            "A user pool can have at most {MAX_CUSTOM_ATTRIBUTES} custom attributes."
        )));
    }
    attributes.extend(custom);
    Ok(attributes)
}

fn merge_standard(entry: &mut Value, requested: &Value) -> Result<()> {
    let name = entry["Name"].as_str().unwrap_or_default().to_owned();
    if let Some(t) = requested.get("AttributeDataType").and_then(Value::as_str) {
        if Some(t) != entry["AttributeDataType"].as_str() {
            return Err(Error::invalid_parameter(format!(
                "Invalid AttributeDataType input, consider using the provided AttributeDataType enum. ({name} is {})",
                entry["AttributeDataType"].as_str().unwrap_or_default()
            )));
        }
    }
    if name == "sub" {
        return Err(Error::invalid_parameter("The sub attribute cannot be modified."));
    }
    if requested.get("DeveloperOnlyAttribute").and_then(Value::as_bool) == Some(true) {
        return Err(Error::invalid_parameter(format!("Standard attribute {name} cannot be developer-only.")));
    }
    for key in ["Required", "Mutable", "StringAttributeConstraints", "NumberAttributeConstraints"] {
        if let Some(v) = requested.get(key) {
            entry[key] = v.clone();
        }
    }
    Ok(())
}

fn custom_entry(requested: &Value, name: &str) -> Result<Value> {
    if name.starts_with("custom:") || name.starts_with("dev:") {
        return Err(Error::invalid_parameter(format!("Custom attribute names are given without a prefix: {name}")));
    }
    if requested.get("Required").and_then(Value::as_bool) == Some(true) {
        return Err(Error::invalid_parameter(format!(
            "Required custom attributes are not supported currently. ({name})"
        )));
    }
    let data_type = requested.get("AttributeDataType").and_then(Value::as_str).unwrap_or("String");
    let developer_only = requested.get("DeveloperOnlyAttribute").and_then(Value::as_bool).unwrap_or(false);
    let mut entry = Map::new();
    let prefix = if developer_only { "dev:custom:" } else { "custom:" };
    entry.insert("Name".into(), Value::String(format!("{prefix}{name}")));
    entry.insert("AttributeDataType".into(), Value::String(data_type.to_owned()));
    entry.insert("DeveloperOnlyAttribute".into(), Value::Bool(developer_only));
    entry.insert("Mutable".into(), Value::Bool(requested.get("Mutable").and_then(Value::as_bool).unwrap_or(true)));
    entry.insert("Required".into(), Value::Bool(false));
    for key in ["StringAttributeConstraints", "NumberAttributeConstraints"] {
        if let Some(v) = requested.get(key) {
            entry.insert(key.into(), v.clone());
        }
    }
    Ok(Value::Object(entry))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_attributes_with_overrides_and_custom() {
        let schema = build(&[
            json!({"Name": "email", "AttributeDataType": "String", "Required": true}),
            json!({"Name": "tenant", "AttributeDataType": "String", "Mutable": false}),
        ])
        .unwrap();
        assert_eq!(schema.len(), STANDARD_ATTRIBUTES.len() + 1);
        let email = schema.iter().find(|a| a["Name"] == "email").unwrap();
        assert_eq!(email["Required"], true);
        let tenant = schema.last().unwrap();
        assert_eq!(tenant["Name"], "custom:tenant");
        assert_eq!(tenant["Mutable"], false);
        assert_eq!(schema[0]["Name"], "sub");
        assert_eq!(schema[0]["Mutable"], false);
    }

    #[test]
    fn values_are_checked_against_type_and_constraints() {
        let schema = build(&[
            json!({"Name": "tier", "AttributeDataType": "String", "StringAttributeConstraints": {"MinLength": "2", "MaxLength": "5"}}),
            json!({"Name": "age", "AttributeDataType": "Number", "NumberAttributeConstraints": {"MinValue": "18", "MaxValue": "130"}}),
        ])
        .unwrap();
        let entry = |n: &str| schema.iter().find(|a| a["Name"] == n).unwrap().clone();
        assert!(check_value(&entry("custom:tier"), "custom:tier", "gold").is_ok());
        assert!(check_value(&entry("custom:tier"), "custom:tier", "platinum").is_err());
        assert!(check_value(&entry("custom:tier"), "custom:tier", "x").is_err());
        assert!(check_value(&entry("custom:age"), "custom:age", "42").is_ok());
        assert!(check_value(&entry("custom:age"), "custom:age", "12").is_err());
        assert!(check_value(&entry("custom:age"), "custom:age", "old").is_err());
        assert!(check_value(&entry("email_verified"), "email_verified", "yes").is_err());
        assert!(check_value(&entry("email"), "email", "not-an-address").is_err());
        assert!(check_value(&entry("name"), "name", &"x".repeat(2049)).is_err());
        let mut grown = schema.clone();
        add_custom(&mut grown, &[json!({"Name": "plan", "AttributeDataType": "String"})]).unwrap();
        assert_eq!(grown.last().unwrap()["Name"], "custom:plan");
        assert!(add_custom(&mut grown, &[json!({"Name": "tier"})]).is_err());
    }

    #[test]
    fn mismatched_standard_type_is_refused() {
        assert!(build(&[json!({"Name": "email", "AttributeDataType": "Number"})]).is_err());
        assert!(build(&[json!({"Name": "tenant", "AttributeDataType": "String", "Required": true})]).is_err());
    }
}
