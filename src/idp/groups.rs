//! Groups: CreateGroup, GetGroup, UpdateGroup, ListGroups, DeleteGroup. Group names are unique
//! per pool; the store's preconditions make that hold under concurrent creates.

use serde_json::{json, Value};

use super::{object, page_size, pool_id_of, str_member};
use crate::app::App;
use crate::protocol::error::Result;
use crate::store::records::{now_epoch, Group};

fn describe_group(g: &Group) -> Value {
    let mut out = json!({
        "GroupName": g.name,
        "UserPoolId": g.pool_id,
        "LastModifiedDate": g.modified,
        "CreationDate": g.created,
    });
    if let Some(d) = &g.description {
        out["Description"] = json!(d);
    }
    if let Some(r) = &g.role_arn {
        out["RoleArn"] = json!(r);
    }
    if let Some(p) = g.precedence {
        out["Precedence"] = json!(p);
    }
    out
}

fn optional_string(input: &serde_json::Map<String, Value>, name: &str) -> Option<String> {
    input.get(name).and_then(Value::as_str).map(str::to_owned)
}

pub async fn create(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let pool = app.directory.pool(&pool_id_of(&input))?;
    let now = now_epoch();
    let group = Group {
        pool_id: pool.record.id.clone(),
        name: str_member(&input, "GroupName").to_owned(),
        description: optional_string(&input, "Description"),
        role_arn: optional_string(&input, "RoleArn"),
        precedence: input.get("Precedence").and_then(Value::as_i64),
        created: now,
        modified: now,
    };
    app.directory.create_group(&group)?;
    Ok(json!({ "Group": describe_group(&group) }))
}

pub async fn get(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let group = app.directory.group(&pool_id_of(&input), str_member(&input, "GroupName"))?;
    Ok(json!({ "Group": describe_group(&group.record) }))
}

pub async fn update(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let current = app.directory.group(&pool_id_of(&input), str_member(&input, "GroupName"))?;
    let mut group = current.record.clone();
    if let Some(d) = optional_string(&input, "Description") {
        group.description = Some(d);
    }
    if let Some(r) = optional_string(&input, "RoleArn") {
        group.role_arn = Some(r);
    }
    if let Some(p) = input.get("Precedence").and_then(Value::as_i64) {
        group.precedence = Some(p);
    }
    group.modified = now_epoch();
    app.directory.replace_group(&current, &group)?;
    Ok(json!({ "Group": describe_group(&group) }))
}

pub async fn list(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let pool = app.directory.pool(&pool_id_of(&input))?;
    let limit = page_size(input.get("Limit").and_then(Value::as_i64), 60);
    let page = app.directory.list_groups(&pool.record.id, input.get("NextToken").and_then(Value::as_str), limit)?;
    let mut out = json!({ "Groups": page.items.iter().map(describe_group).collect::<Vec<_>>() });
    if let Some(t) = page.next_token {
        out["NextToken"] = json!(t);
    }
    Ok(out)
}

pub async fn delete(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let current = app.directory.group(&pool_id_of(&input), str_member(&input, "GroupName"))?;
    app.directory.delete_group(&current)?;
    Ok(json!({}))
}
