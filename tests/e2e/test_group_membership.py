"""Group membership: AdminAddUserToGroup, AdminRemoveUserFromGroup, AdminListGroupsForUser,
ListUsersInGroup, and the cognito:groups / cognito:roles / cognito:preferred_role claims of the
tokens (verified with PyJWT against the JWKS)."""
from __future__ import annotations

from conftest import raises_code, walk_pages
from signin_helpers import PASSWORD, TokenVerifier

ROLE_A = "arn:aws:iam::123456789012:role/readers"
ROLE_B = "arn:aws:iam::123456789012:role/admins"


def sign_in(cognito, sp, name: str) -> dict:
    return cognito.initiate_auth(ClientId=sp.public.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                 AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD})["AuthenticationResult"]


def test_membership_shows_in_listings_and_tokens(cognito, signin_pool):
    sp = signin_pool
    cognito.create_group(UserPoolId=sp.pool_id, GroupName="readers", Precedence=5, RoleArn=ROLE_A)
    cognito.create_group(UserPoolId=sp.pool_id, GroupName="admins", Precedence=1, RoleArn=ROLE_B)
    cognito.create_group(UserPoolId=sp.pool_id, GroupName="plain")
    name = sp.create_user()["Username"]
    other = sp.create_user()["Username"]
    for group in ("readers", "admins", "plain"):
        cognito.admin_add_user_to_group(UserPoolId=sp.pool_id, Username=name, GroupName=group)
    cognito.admin_add_user_to_group(UserPoolId=sp.pool_id, Username=name, GroupName="plain")  # again: no error
    cognito.admin_add_user_to_group(UserPoolId=sp.pool_id, Username=other, GroupName="readers")

    groups = cognito.admin_list_groups_for_user(UserPoolId=sp.pool_id, Username=name)["Groups"]
    assert sorted(g["GroupName"] for g in groups) == ["admins", "plain", "readers"]
    paged = walk_pages(cognito.admin_list_groups_for_user, UserPoolId=sp.pool_id, Username=name, Limit=1)
    assert sorted(g["GroupName"] for page in paged for g in page["Groups"]) == ["admins", "plain", "readers"]
    members = cognito.list_users_in_group(UserPoolId=sp.pool_id, GroupName="readers")["Users"]
    assert sorted(u["Username"] for u in members) == sorted([name, other])

    verifier = TokenVerifier(sp.daemon, sp.issuer)
    tokens = sign_in(cognito, sp, name)
    id_claims = verifier.verify_id(tokens["IdToken"], sp.public.client_id)
    assert id_claims["cognito:groups"] == ["admins", "readers", "plain"], "by precedence, none last"
    assert id_claims["cognito:roles"] == [ROLE_B, ROLE_A]
    assert id_claims["cognito:preferred_role"] == ROLE_B
    access = verifier.verify_access(tokens["AccessToken"], sp.public.client_id)
    assert access["cognito:groups"] == ["admins", "readers", "plain"]
    assert "cognito:roles" not in access

    # Removing and deleting change the next tokens; a user in no group has no group claims.
    cognito.admin_remove_user_from_group(UserPoolId=sp.pool_id, Username=name, GroupName="admins")
    cognito.delete_group(UserPoolId=sp.pool_id, GroupName="plain")
    id_claims = verifier.verify_id(sign_in(cognito, sp, name)["IdToken"], sp.public.client_id)
    assert id_claims["cognito:groups"] == ["readers"] and id_claims["cognito:preferred_role"] == ROLE_A
    loner = sp.create_user()["Username"]
    id_claims = verifier.verify_id(sign_in(cognito, sp, loner)["IdToken"], sp.public.client_id)
    assert not {"cognito:groups", "cognito:roles", "cognito:preferred_role"} & set(id_claims)
    # A deleted user leaves the group.
    cognito.admin_delete_user(UserPoolId=sp.pool_id, Username=other)
    members = cognito.list_users_in_group(UserPoolId=sp.pool_id, GroupName="readers")["Users"]
    assert [u["Username"] for u in members] == [name]


def test_membership_errors(cognito, signin_pool):
    sp = signin_pool
    cognito.create_group(UserPoolId=sp.pool_id, GroupName="g")
    name = sp.create_user()["Username"]
    with raises_code("ResourceNotFoundException", "Group not found."):
        cognito.admin_add_user_to_group(UserPoolId=sp.pool_id, Username=name, GroupName="missing")
    with raises_code("UserNotFoundException"):
        cognito.admin_add_user_to_group(UserPoolId=sp.pool_id, Username="nobody-here", GroupName="g")
    with raises_code("UserNotFoundException"):
        cognito.admin_list_groups_for_user(UserPoolId=sp.pool_id, Username="nobody-here")
    with raises_code("ResourceNotFoundException"):
        cognito.list_users_in_group(UserPoolId=sp.pool_id, GroupName="missing")
    # Removing a non-member is not an error, and nothing was added by the refused calls.
    cognito.admin_remove_user_from_group(UserPoolId=sp.pool_id, Username=name, GroupName="g")
    assert cognito.list_users_in_group(UserPoolId=sp.pool_id, GroupName="g")["Users"] == []
    assert cognito.admin_list_groups_for_user(UserPoolId=sp.pool_id, Username=name)["Groups"] == []
