//! The operation table: for each implemented cognito-idp operation, its Cognito quota category,
//! whether it always needs the CPU worker pool, and its handler. Auth type (SigV4 or public) and
//! input constraints come from the model.

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use super::{
    attributes, clients, groups, import, pools, recovery, self_service, sessions, sign_in, sign_up, tags, users,
};
use crate::app::App;
use crate::protocol::error::Result;
use crate::ratelimit::QuotaCategory::{self, *};

pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = Result<Value>> + Send + 'a>>;
pub type Handler = for<'a> fn(&'a App, Value) -> HandlerFuture<'a>;

pub struct Operation {
    pub name: &'static str,
    pub category: QuotaCategory,
    /// Every call runs a job on the worker pool (SRP, a password verifier, HSM signatures):
    /// while its queue is full such calls are refused before any other work.
    pub needs_worker: bool,
    pub handler: Handler,
}

macro_rules! operation_table {
    ($( $name:ident : $category:ident $(+ $worker:ident)? => $handler:path ),* $(,)?) => {
        /// Every implemented operation, in one place.
        pub static OPERATIONS: &[Operation] = &[
            $( Operation {
                name: stringify!($name),
                category: $category,
                needs_worker: operation_table!(@worker $($worker)?),
                handler: |app, body| Box::pin($handler(app, body)),
            } ),*
        ];
    };
    (@worker worker) => { true };
    (@worker) => { false };
}

operation_table! {
    CreateUserPool: UserPoolUpdate => pools::create,
    DescribeUserPool: UserPoolRead => pools::describe,
    UpdateUserPool: UserPoolUpdate => pools::update,
    AddCustomAttributes: UserPoolUpdate => pools::add_custom_attributes,
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
    AdminAddUserToGroup: UserResourceUpdate => groups::admin_add_user_to_group,
    AdminRemoveUserFromGroup: UserResourceUpdate => groups::admin_remove_user_from_group,
    AdminListGroupsForUser: UserResourceRead => groups::admin_list_groups_for_user,
    ListUsersInGroup: UserList => groups::list_users_in_group,
    AdminCreateUser: UserCreation => users::admin_create_user,
    AdminGetUser: UserRead => users::admin_get_user,
    AdminDeleteUser: UserUpdate => users::admin_delete_user,
    AdminSetUserPassword: UserUpdate + worker => users::admin_set_user_password,
    AdminDisableUser: UserUpdate => users::admin_disable_user,
    AdminEnableUser: UserUpdate => users::admin_enable_user,
    AdminConfirmSignUp: UserUpdate => users::admin_confirm_sign_up,
    AdminUpdateUserAttributes: UserUpdate => attributes::admin_update_user_attributes,
    AdminDeleteUserAttributes: UserUpdate => attributes::admin_delete_user_attributes,
    UpdateUserAttributes: UserUpdate => attributes::update_user_attributes,
    DeleteUserAttributes: UserUpdate => attributes::delete_user_attributes,
    GetUserAttributeVerificationCode: UserUpdate => attributes::get_user_attribute_verification_code,
    VerifyUserAttribute: UserUpdate => attributes::verify_user_attribute,
    SignUp: UserCreation + worker => sign_up::sign_up,
    ConfirmSignUp: UserCreation => sign_up::confirm_sign_up,
    ResendConfirmationCode: UserAccountRecovery => sign_up::resend_confirmation_code,
    ForgotPassword: UserAccountRecovery => recovery::forgot_password,
    ConfirmForgotPassword: UserAccountRecovery => recovery::confirm_forgot_password,
    AdminResetUserPassword: UserAccountRecovery => recovery::admin_reset_user_password,
    ListUsers: UserList => users::list_users,
    InitiateAuth: UserAuthentication + worker => sign_in::initiate_auth,
    AdminInitiateAuth: UserAuthentication + worker => sign_in::admin_initiate_auth,
    RespondToAuthChallenge: UserAuthentication + worker => sign_in::respond_to_auth_challenge,
    AdminRespondToAuthChallenge: UserAuthentication + worker => sign_in::admin_respond_to_auth_challenge,
    GetUser: UserRead => sessions::get_user,
    ChangePassword: UserAccountRecovery + worker => self_service::change_password,
    DeleteUser: UserUpdate => self_service::delete_user,
    GlobalSignOut: UserAuthentication => sessions::global_sign_out,
    AdminUserGlobalSignOut: UserAuthentication => sessions::admin_user_global_sign_out,
    RevokeToken: UserToken => sessions::revoke_token,
    GetCSVHeader: UserPoolResourceRead => import::get_csv_header,
    CreateUserImportJob: UserPoolResourceUpdate => import::create_user_import_job,
    StartUserImportJob: UserPoolResourceUpdate => import::start_user_import_job,
    DescribeUserImportJob: UserPoolResourceRead => import::describe_user_import_job,
    ListUserImportJobs: UserPoolResourceRead => import::list_user_import_jobs,
    StopUserImportJob: UserPoolResourceUpdate => import::stop_user_import_job,
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
