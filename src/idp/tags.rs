//! Tags on user pools: TagResource, UntagResource, ListTagsForResource, addressed by pool ARN.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::{object, str_member};
use crate::app::App;
use crate::ids::PoolId;
use crate::protocol::error::{Error, ErrorKind, Result};
use crate::store::records::now_epoch;

/// Most tags a pool may carry (AWS's per-resource limit).
const MAX_TAGS: usize = 50;

/// The pool id in `arn:aws:cognito-idp:{region}:{account}:userpool/{id}`, if the ARN is this
/// appliance's (region and account must match).
fn pool_of_arn(app: &App, arn: &str) -> Result<PoolId> {
    let prefix = app.pool_arn("");
    match arn.strip_prefix(&prefix) {
        Some(id) if !id.is_empty() && !id.contains('/') => Ok(PoolId::from(id.to_owned())),
        _ => Err(Error::invalid_parameter(format!("Invalid ResourceArn: {arn}"))),
    }
}

/// Attempts at a tag change that races other writers of the same pool. TagResource has no
/// ConcurrentModificationException in its model, so the server retries its own write.
const TAG_WRITE_ATTEMPTS: usize = 16;

fn modify_tags(app: &App, input: &Map<String, Value>, change: impl Fn(&mut BTreeMap<String, String>)) -> Result<()> {
    let pool_id = pool_of_arn(app, str_member(input, "ResourceArn"))?;
    let mut attempt = 0;
    loop {
        let current = app.directory.pool(&pool_id)?;
        let mut pool = current.record.clone();
        change(&mut pool.tags);
        if pool.tags.len() > MAX_TAGS {
            return Err(Error::new(
                ErrorKind::InvalidParameter,
                format!("A user pool can have at most {MAX_TAGS} tags."),
            ));
        }
        pool.modified = now_epoch();
        match app.directory.replace_pool(&current, &pool) {
            Err(e) if e.kind == ErrorKind::ConcurrentModification && attempt + 1 < TAG_WRITE_ATTEMPTS => attempt += 1,
            other => return other,
        }
    }
}

pub async fn tag(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let new_tags: Vec<(String, String)> = input
        .get("Tags")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect())
        .unwrap_or_default();
    modify_tags(app, &input, |tags| tags.extend(new_tags.iter().cloned()))?;
    Ok(json!({}))
}

pub async fn untag(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let keys: Vec<String> = input
        .get("TagKeys")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    modify_tags(app, &input, |tags| {
        for k in &keys {
            tags.remove(k);
        }
    })?;
    Ok(json!({}))
}

pub async fn list(app: &App, body: Value) -> Result<Value> {
    let input = object(body);
    let pool = app.directory.pool(&pool_of_arn(app, str_member(&input, "ResourceArn"))?)?;
    Ok(json!({ "Tags": pool.record.tags }))
}
