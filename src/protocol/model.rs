//! The cognito-idp service model (botocore's, documentation stripped; see NOTICE) and request
//! validation against it: JSON types, required members, lengths, ranges, patterns and enums.
//!
//! The model is the one place these facts live. Type mismatches become `SerializationException`
//! and constraint violations `InvalidParameterException` with the messages Cognito's front end
//! writes (`1 validation error detected: Value 'x' at 'userPoolId' failed to satisfy ...`).

use std::collections::HashMap;

use once_cell::sync::Lazy;
use regex::Regex;
use serde_json::Value;

use super::error::{Error, ErrorKind, Result};

const MODEL_JSON: &str = include_str!("cognito-idp.json");

/// How a caller must authenticate for an operation, as the model declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    /// `smithy.api#noAuth`: public (possibly with an access token in the body).
    None,
    /// The service default: AWS Signature Version 4.
    SigV4,
}

#[derive(Debug)]
pub struct OperationModel {
    pub name: String,
    pub input_shape: Option<String>,
    pub auth: AuthType,
}

#[derive(Debug, Default)]
struct Limits {
    min: Option<i64>,
    max: Option<i64>,
}

#[derive(Debug)]
enum Shape {
    Structure { members: Vec<(String, String)>, required: Vec<String> },
    String { limits: Limits, pattern: Option<(String, Regex)>, allowed: Option<Vec<String>>, sensitive: bool },
    Integer { limits: Limits },
    Boolean,
    List { member: String, limits: Limits },
    Map { key: String, value: String, limits: Limits },
    Timestamp,
    Blob { limits: Limits, sensitive: bool },
    Document,
}

/// The parsed service model.
#[derive(Debug)]
pub struct ServiceModel {
    operations: HashMap<String, OperationModel>,
    shapes: HashMap<String, Shape>,
    pub target_prefix: String,
}

static MODEL: Lazy<ServiceModel> = Lazy::new(|| {
    #[allow(clippy::expect_used)] // the model is compiled in; a parse failure is a build defect
    ServiceModel::parse(MODEL_JSON).expect("embedded cognito-idp model parses")
});

/// The embedded cognito-idp model.
pub fn cognito_idp() -> &'static ServiceModel {
    &MODEL
}

/// Java's `\w` and `\d` are ASCII-only; Rust's are Unicode, so they become ASCII classes.
/// The model's one look-behind (domain prefix names) is rewritten into an equivalent the
/// `regex` crate accepts.
fn translate_java_pattern(p: &str) -> String {
    if p == r"^[0-9A-Za-z\.\-_]*(?<!\.)$" {
        return r"^(?:[0-9A-Za-z.\-_]*[0-9A-Za-z\-_])?$".to_owned();
    }
    let mut out = String::with_capacity(p.len() + 16);
    let mut in_class = false;
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('w') if in_class => out.push_str("[:word:]"),
                Some('w') => out.push_str("[[:word:]]"),
                Some('d') if in_class => out.push_str("0-9"),
                Some('d') => out.push_str("[0-9]"),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            '[' => {
                in_class = true;
                out.push(c);
            }
            ']' => {
                in_class = false;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

fn compile_pattern(p: &str) -> std::result::Result<Regex, regex::Error> {
    Regex::new(&format!("^(?:{})$", translate_java_pattern(p)))
}

fn limits(v: &Value) -> Limits {
    Limits { min: v.get("min").and_then(Value::as_i64), max: v.get("max").and_then(Value::as_i64) }
}

impl ServiceModel {
    fn parse(json: &str) -> std::result::Result<Self, String> {
        let root: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let target_prefix = root["metadata"]["targetPrefix"].as_str().unwrap_or_default().to_owned();
        let mut operations = HashMap::new();
        for (name, op) in root["operations"].as_object().ok_or("no operations")? {
            let public = op["auth"].as_array().is_some_and(|a| a.iter().any(|x| x == "smithy.api#noAuth"))
                || op["authtype"] == "none";
            operations.insert(
                name.clone(),
                OperationModel {
                    name: name.clone(),
                    input_shape: op["input"]["shape"].as_str().map(str::to_owned),
                    auth: if public { AuthType::None } else { AuthType::SigV4 },
                },
            );
        }
        let mut shapes = HashMap::new();
        for (name, s) in root["shapes"].as_object().ok_or("no shapes")? {
            let shape = match s["type"].as_str().unwrap_or_default() {
                "structure" if s.get("document").is_some() => Shape::Document,
                "structure" => Shape::Structure {
                    members: s["members"]
                        .as_object()
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| (k.clone(), v["shape"].as_str().unwrap_or_default().to_owned()))
                                .collect()
                        })
                        .unwrap_or_default(),
                    required: s["required"]
                        .as_array()
                        .map(|r| r.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
                        .unwrap_or_default(),
                },
                "string" => Shape::String {
                    limits: limits(s),
                    pattern: match s["pattern"].as_str() {
                        Some(p) => Some((
                            p.to_owned(),
                            compile_pattern(p).map_err(|e| format!("shape {name}: pattern {p}: {e}"))?,
                        )),
                        None => None,
                    },
                    allowed: s["enum"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()),
                    sensitive: s["sensitive"] == true,
                },
                "integer" | "long" => Shape::Integer { limits: limits(s) },
                "boolean" => Shape::Boolean,
                "list" => Shape::List {
                    member: s["member"]["shape"].as_str().unwrap_or_default().to_owned(),
                    limits: limits(s),
                },
                "map" => Shape::Map {
                    key: s["key"]["shape"].as_str().unwrap_or_default().to_owned(),
                    value: s["value"]["shape"].as_str().unwrap_or_default().to_owned(),
                    limits: limits(s),
                },
                "timestamp" => Shape::Timestamp,
                "blob" => Shape::Blob { limits: limits(s), sensitive: s["sensitive"] == true },
                other => return Err(format!("shape {name}: unknown type {other}")),
            };
            shapes.insert(name.clone(), shape);
        }
        Ok(Self { operations, shapes, target_prefix })
    }

    pub fn operation(&self, name: &str) -> Option<&OperationModel> {
        self.operations.get(name)
    }

    pub fn operation_names(&self) -> impl Iterator<Item = &str> {
        self.operations.keys().map(String::as_str)
    }

    /// Checks a request body against an operation's input shape.
    pub fn validate_input(&self, op: &OperationModel, body: &Value) -> Result<()> {
        let Some(input) = &op.input_shape else { return Ok(()) };
        if !body.is_object() {
            return Err(Error::new(ErrorKind::Serialization, "Start of structure or map expected."));
        }
        self.check_types(input, body)?;
        let mut violations = Vec::new();
        self.check_constraints(input, body, "", &mut violations);
        match violations.len() {
            0 => Ok(()),
            1 => Err(Error::invalid_parameter(format!("1 validation error detected: {}", violations[0]))),
            n => Err(Error::invalid_parameter(format!("{n} validation errors detected: {}", violations.join("; ")))),
        }
    }

    /// Pass 1: the JSON type of every present member matches its shape.
    fn check_types(&self, shape_name: &str, v: &Value) -> Result<()> {
        if v.is_null() {
            return Ok(());
        }
        let Some(shape) = self.shapes.get(shape_name) else { return Ok(()) };
        let ok = match shape {
            Shape::Structure { members, .. } => {
                let Some(obj) = v.as_object() else { return Err(type_error(v, "Structure")) };
                for (name, member_shape) in members {
                    if let Some(mv) = obj.get(name) {
                        self.check_types(member_shape, mv)?;
                    }
                }
                true
            }
            Shape::String { .. } | Shape::Blob { .. } => v.is_string(),
            Shape::Integer { .. } => v.is_i64(),
            Shape::Boolean => v.is_boolean(),
            Shape::Timestamp => v.is_number(),
            Shape::Document => true,
            Shape::List { member, .. } => {
                let Some(items) = v.as_array() else { return Err(type_error(v, "List")) };
                for item in items {
                    self.check_types(member, item)?;
                }
                true
            }
            Shape::Map { value, .. } => {
                let Some(obj) = v.as_object() else { return Err(type_error(v, "Map")) };
                for mv in obj.values() {
                    self.check_types(value, mv)?;
                }
                true
            }
        };
        if ok {
            Ok(())
        } else {
            Err(type_error(v, shape.target_name()))
        }
    }

    /// Pass 2: constraints, collected as Coral phrases them.
    fn check_constraints(&self, shape_name: &str, v: &Value, path: &str, out: &mut Vec<String>) {
        let Some(shape) = self.shapes.get(shape_name) else { return };
        match shape {
            Shape::Structure { members, required } => {
                let Some(obj) = v.as_object() else { return };
                for (name, member_shape) in members {
                    let member_path = join_path(path, name);
                    match obj.get(name) {
                        None | Some(Value::Null) => {
                            if required.contains(name) {
                                out.push(format!(
                                    "Value null at '{member_path}' failed to satisfy constraint: Member must not be null"
                                ));
                            }
                        }
                        Some(mv) => self.check_constraints(member_shape, mv, &member_path, out),
                    }
                }
            }
            Shape::List { member, limits } => {
                let Some(items) = v.as_array() else { return };
                let shown = self.render(v, shape_name);
                check_limits(limits, items.len() as i64, "length", &shown, path, out);
                let member_is_struct = matches!(self.shapes.get(member), Some(Shape::Structure { .. }));
                let mut element_phrases: Vec<String> = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    if member_is_struct {
                        let item_path = format!("{path}.{}.member", i + 1);
                        self.check_constraints(member, item, &item_path, out);
                    } else {
                        for phrase in self.scalar_phrases(member, item) {
                            if !element_phrases.contains(&phrase) {
                                element_phrases.push(phrase);
                            }
                        }
                    }
                }
                if !element_phrases.is_empty() {
                    out.push(format!(
                        "{shown} at '{path}' failed to satisfy constraint: Member must satisfy constraint: [{}]",
                        element_phrases.join(", ")
                    ));
                }
            }
            Shape::Map { key, value, limits } => {
                let Some(obj) = v.as_object() else { return };
                let shown = self.render(v, shape_name);
                check_limits(limits, obj.len() as i64, "length", &shown, path, out);
                let key_phrases: Vec<String> =
                    obj.keys().flat_map(|k| self.scalar_phrases(key, &Value::String(k.clone()))).collect();
                if let Some(first) = key_phrases.first() {
                    out.push(format!(
                        "{shown} at '{path}' failed to satisfy constraint: Map keys must satisfy constraint: [{first}]"
                    ));
                }
                let value_phrases: Vec<String> = obj.values().flat_map(|mv| self.scalar_phrases(value, mv)).collect();
                if let Some(first) = value_phrases.first() {
                    out.push(format!("{shown} at '{path}' failed to satisfy constraint: Map value must satisfy constraint: [{first}]"));
                }
            }
            _ => {
                let shown = self.render(v, shape_name);
                for phrase in self.scalar_phrases(shape_name, v) {
                    out.push(format!("{shown} at '{path}' failed to satisfy constraint: {phrase}"));
                }
            }
        }
    }

    /// The constraint phrases a scalar value violates, in Coral's order (length, pattern, enum).
    fn scalar_phrases(&self, shape_name: &str, v: &Value) -> Vec<String> {
        let mut phrases = Vec::new();
        match (self.shapes.get(shape_name), v) {
            (Some(Shape::String { limits, pattern, allowed, .. }), Value::String(s)) => {
                let len = s.encode_utf16().count() as i64;
                limit_phrases(limits, len, "length", &mut phrases);
                if let Some((source, re)) = pattern {
                    if !re.is_match(s) {
                        phrases.push(format!("Member must satisfy regular expression pattern: {source}"));
                    }
                }
                if let Some(allowed) = allowed {
                    if !allowed.iter().any(|a| a == s) {
                        phrases.push(format!("Member must satisfy enum value set: [{}]", allowed.join(", ")));
                    }
                }
            }
            (Some(Shape::Blob { limits, .. }), Value::String(s)) => {
                limit_phrases(limits, s.len() as i64, "length", &mut phrases);
            }
            (Some(Shape::Integer { limits }), Value::Number(n)) => {
                if let Some(n) = n.as_i64() {
                    limit_phrases(limits, n, "value", &mut phrases);
                }
            }
            _ => {}
        }
        phrases
    }

    /// `Value 'x'` as Coral shows it; sensitive values are never echoed (`Value at ...`).
    fn render(&self, v: &Value, shape_name: &str) -> String {
        let sensitive = matches!(
            self.shapes.get(shape_name),
            Some(Shape::String { sensitive: true, .. } | Shape::Blob { sensitive: true, .. })
        );
        if sensitive {
            return "Value".to_owned();
        }
        format!("Value '{}'", render_plain(v))
    }
}

impl Shape {
    fn target_name(&self) -> &'static str {
        match self {
            Shape::String { .. } | Shape::Blob { .. } => "String",
            Shape::Integer { .. } => "Integer",
            Shape::Boolean => "Boolean",
            Shape::Timestamp => "Date",
            Shape::Structure { .. } | Shape::Document => "Structure",
            Shape::List { .. } => "List",
            Shape::Map { .. } => "Map",
        }
    }
}

fn render_plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(render_plain).collect::<Vec<_>>().join(", ")),
        Value::Object(m) => {
            format!("{{{}}}", m.iter().map(|(k, v)| format!("{k}={}", render_plain(v))).collect::<Vec<_>>().join(", "))
        }
        other => other.to_string(),
    }
}

/// The SerializationException a mismatched JSON type gets, worded as Coral words it.
fn type_error(v: &Value, target: &str) -> Error {
    let message = match v {
        Value::Object(_) => "Start of structure or map found where not expected.".to_owned(),
        Value::Array(_) => "Start of list found where not expected".to_owned(),
        Value::String(_) => format!("STRING_VALUE can not be converted to {}", article(target)),
        Value::Number(_) => format!("NUMBER_VALUE can not be converted to {}", article(target)),
        Value::Bool(_) => format!("BOOLEAN_VALUE can not be converted to {}", article(target)),
        Value::Null => format!("null can not be converted to {}", article(target)),
    };
    Error::new(ErrorKind::Serialization, message)
}

fn article(target: &str) -> String {
    if target.starts_with(['A', 'E', 'I', 'O', 'U']) {
        format!("an {target}")
    } else {
        format!("a {target}")
    }
}

/// `UserPoolId` under `policies` → `policies.userPoolId` (Coral lower-cases the first letter).
fn join_path(parent: &str, member: &str) -> String {
    let mut chars = member.chars();
    let camel = match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect::<String>(),
        None => String::new(),
    };
    if parent.is_empty() {
        camel
    } else {
        format!("{parent}.{camel}")
    }
}

fn limit_phrases(limits: &Limits, actual: i64, what: &str, out: &mut Vec<String>) {
    if let Some(min) = limits.min {
        if actual < min {
            out.push(format!("Member must have {what} greater than or equal to {min}"));
        }
    }
    if let Some(max) = limits.max {
        if actual > max {
            out.push(format!("Member must have {what} less than or equal to {max}"));
        }
    }
}

fn check_limits(limits: &Limits, actual: i64, what: &str, shown: &str, path: &str, out: &mut Vec<String>) {
    let mut phrases = Vec::new();
    limit_phrases(limits, actual, what, &mut phrases);
    for phrase in phrases {
        out.push(format!("{shown} at '{path}' failed to satisfy constraint: {phrase}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn validate(op: &str, body: Value) -> Result<()> {
        let m = cognito_idp();
        m.validate_input(m.operation(op).unwrap(), &body)
    }

    #[test]
    fn the_whole_model_loads_with_every_pattern_compiled() {
        let m = cognito_idp();
        assert_eq!(m.operations.len(), 153);
        assert_eq!(m.target_prefix, "AWSCognitoIdentityProviderService");
        assert_eq!(m.operation("InitiateAuth").unwrap().auth, AuthType::None);
        assert_eq!(m.operation("CreateUserPool").unwrap().auth, AuthType::SigV4);
        assert_eq!(m.operation("GetUser").unwrap().auth, AuthType::None);
    }

    #[test]
    fn pattern_violation_is_worded_as_cognito() {
        let e = validate("DescribeUserPool", json!({"UserPoolId": "bad id!"})).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidParameter);
        assert_eq!(
            e.message,
            "1 validation error detected: Value 'bad id!' at 'userPoolId' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [\\w-]+_[0-9a-zA-Z]+"
        );
    }

    #[test]
    fn missing_required_member_and_range_are_both_reported() {
        let e = validate("ListUserPools", json!({"MaxResults": 0, "NextToken": ""})).unwrap_err();
        // An empty token breaks both its length and its pattern: three violations in all.
        assert!(e.message.starts_with("3 validation errors detected: "), "{}", e.message);
        assert!(e.message.contains("Member must satisfy regular expression pattern: [\\S]+"), "{}", e.message);
        assert!(e.message.contains("Member must have value greater than or equal to 1"));
        assert!(e
            .message
            .contains("'nextToken' failed to satisfy constraint: Member must have length greater than or equal to 1"));
        let e = validate("ListUserPools", json!({})).unwrap_err();
        assert!(e.message.contains("Value null at 'maxResults' failed to satisfy constraint: Member must not be null"));
    }

    #[test]
    fn wrong_json_types_are_serialization_errors() {
        let e = validate("ListUserPools", json!({"MaxResults": "10"})).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Serialization);
        let e = validate("CreateUserPool", json!({"PoolName": {"a": 1}})).unwrap_err();
        assert_eq!(e.message, "Start of structure or map found where not expected.");
    }

    #[test]
    fn enum_and_nested_paths() {
        let e = validate(
            "CreateUserPool",
            json!({"PoolName": "p", "MfaConfiguration": "MAYBE",
            "Policies": {"PasswordPolicy": {"MinimumLength": 2}}}),
        )
        .unwrap_err();
        assert!(e
            .message
            .contains("at 'mfaConfiguration' failed to satisfy constraint: Member must satisfy enum value set: ["));
        assert!(e.message.contains("at 'policies.passwordPolicy.minimumLength' failed"), "{}", e.message);
        let e = validate(
            "CreateUserPoolClient",
            json!({"UserPoolId": "us-east-1_abc", "ClientName": "c",
            "ExplicitAuthFlows": ["ALLOW_NOTHING"]}),
        )
        .unwrap_err();
        assert!(e.message.contains("at 'explicitAuthFlows' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set"), "{}", e.message);
    }

    #[test]
    fn sensitive_values_are_not_echoed() {
        let e = validate("SignUp", json!({"ClientId": "abc", "Username": "u", "Password": "has space"})).unwrap_err();
        assert!(e.message.contains("Value at 'password'"), "{}", e.message);
        assert!(!e.message.contains("has space"));
    }

    #[test]
    fn java_word_class_is_ascii_only() {
        assert!(validate("DescribeUserPool", json!({"UserPoolId": "us-east-1_ÄBC"})).is_err());
        assert!(validate("DescribeUserPool", json!({"UserPoolId": "us-east-1_ABC"})).is_ok());
    }
}
