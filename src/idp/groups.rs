//! Groups: CreateGroup, GetGroup, UpdateGroup, ListGroups, DeleteGroup, and membership:
//! AdminAddUserToGroup, AdminRemoveUserFromGroup, AdminListGroupsForUser, ListUsersInGroup.
//! Group names are unique per pool; the store's preconditions make that hold under concurrent creates.

use serde_json::{json, Value};

use super::users::{target, user_type};
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

// ----- membership -----

pub async fn admin_add_user_to_group(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let t = target(app, &input)?;
    let group = app.directory.group(&t.pool.id, str_member(&input, "GroupName"))?;
    app.directory.add_user_to_group(&t.pool.id, &group.record.name, &t.user_key)?;
    Ok(json!({}))
}

pub async fn admin_remove_user_from_group(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let t = target(app, &input)?;
    let group = app.directory.group(&t.pool.id, str_member(&input, "GroupName"))?;
    app.directory.remove_user_from_group(&t.pool.id, &group.record.name, &t.user_key)?;
    Ok(json!({}))
}

pub async fn admin_list_groups_for_user(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let t = target(app, &input)?;
    let names = app.directory.groups_of_user(&t.pool.id, &t.user_key)?;
    let limit = page_size(input.get("Limit").and_then(Value::as_i64), 60);
    let start = match input.get("NextToken").and_then(Value::as_str) {
        Some(token) => names.iter().position(|n| n.as_str() > token).unwrap_or(names.len()),
        None => 0,
    };
    let page: Vec<&String> = names.iter().skip(start).take(limit).collect();
    let mut groups = Vec::with_capacity(page.len());
    for name in &page {
        groups.push(describe_group(&app.directory.group(&t.pool.id, name)?.record));
    }
    let mut out = json!({ "Groups": groups });
    if start + page.len() < names.len() {
        if let Some(last) = page.last() {
            out["NextToken"] = json!(last);
        }
    }
    Ok(out)
}

pub async fn list_users_in_group(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let pool_id = pool_id_of(&input);
    app.directory.pool(&pool_id)?;
    let group = app.directory.group(&pool_id, str_member(&input, "GroupName"))?;
    let limit = page_size(input.get("Limit").and_then(Value::as_i64), 60);
    let page = app.directory.users_in_group(
        &pool_id,
        &group.record.name,
        input.get("NextToken").and_then(Value::as_str),
        limit,
    )?;
    let mut users = Vec::with_capacity(page.items.len());
    for user_key in &page.items {
        if let Some(user) = app.directory.user(&pool_id, user_key)? {
            users.push(user_type(&user.record, None));
        }
    }
    let mut out = json!({ "Users": users });
    if let Some(t) = page.next_token {
        out["NextToken"] = json!(t);
    }
    Ok(out)
}
