//! The operation table: for each implemented cognito-idp operation, its Cognito quota category
//! and its handler. Auth type (SigV4 or public) and input constraints come from the model.

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use super::{clients, groups, pools, tags};
use crate::app::App;
use crate::protocol::error::Result;
use crate::ratelimit::QuotaCategory::{self, *};

pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = Result<Value>> + Send + 'a>>;
pub type Handler = for<'a> fn(&'a App, Value) -> HandlerFuture<'a>;

pub struct Operation {
    pub name: &'static str,
    pub category: QuotaCategory,
    pub handler: Handler,
}

macro_rules! operation_table {
    ($( $name:ident : $category:ident => $handler:path ),* $(,)?) => {
        /// Every implemented operation, in one place.
        pub static OPERATIONS: &[Operation] = &[
            $( Operation {
                name: stringify!($name),
                category: $category,
                handler: |app, body| Box::pin($handler(app, body)),
            } ),*
        ];
    };
}

operation_table! {
    CreateUserPool: UserPoolUpdate => pools::create,
    DescribeUserPool: UserPoolRead => pools::describe,
    UpdateUserPool: UserPoolUpdate => pools::update,
    ListUserPools: UserPoolRead => pools::list,
    DeleteUserPool: UserPoolUpdate => pools::delete,
    CreateUserPoolClient: UserPoolClientUpdate => clients::create,
    DescribeUserPoolClient: UserPoolClientRead => clients::describe,
    UpdateUserPoolClient: UserPoolClientUpdate => clients::update,
    ListUserPoolClients: UserPoolClientRead => clients::list,
    DeleteUserPoolClient: UserPoolClientUpdate => clients::delete,
    TagResource: UserPoolResourceUpdate => tags::tag,
    UntagResource: UserPoolResourceUpdate => tags::untag,
    ListTagsForResource: UserPoolResourceRead => tags::list,
    CreateGroup: UserPoolResourceUpdate => groups::create,
    GetGroup: UserPoolResourceRead => groups::get,
    UpdateGroup: UserPoolResourceUpdate => groups::update,
    ListGroups: UserPoolResourceRead => groups::list,
    DeleteGroup: UserPoolResourceUpdate => groups::delete,
}

pub fn find(name: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|op| op.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_implemented_operation_is_in_the_model() {
        let model = crate::protocol::model::cognito_idp();
        for op in OPERATIONS {
            assert!(model.operation(op.name).is_some(), "{} is not a cognito-idp operation", op.name);
        }
    }
}
