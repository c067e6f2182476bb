//! User-pool schema: Cognito's standard attributes and the merge of a CreateUserPool `Schema`
//! (overrides of standard attributes, `custom:` attributes) into `SchemaAttributes`.

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
    fn mismatched_standard_type_is_refused() {
        assert!(build(&[json!({"Name": "email", "AttributeDataType": "Number"})]).is_err());
        assert!(build(&[json!({"Name": "tenant", "AttributeDataType": "String", "Required": true})]).is_err());
    }
}
