//! The tokens of a sign-in: ID and access token claims in Cognito's shape, their JWS framing
//! (the RS256 signature itself is made inside the HSM by the caller), refresh tokens, and the
//! verification of access tokens presented to Portcullis's own APIs.

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use ring::digest::{digest, SHA256};
use ring::rand::{SecureRandom, SystemRandom};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::protocol::error::{Error, ErrorKind, Result};
use crate::store::records::User;

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The scope of access tokens from the user-pool API (as opposed to the OAuth endpoints).
pub const API_SCOPE: &str = "aws.cognito.signin.user.admin";

/// Lifetimes, in seconds, from an app client's token validity settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLifetimes {
    pub access: i64,
    pub id: i64,
    pub refresh: i64,
}

impl TokenLifetimes {
    /// Reads `AccessTokenValidity`, `IdTokenValidity`, `RefreshTokenValidity` and
    /// `TokenValidityUnits` of a client (stored resolved, see `idp::clients`).
    pub fn of_client(settings: &Map<String, Value>) -> Self {
        let units = settings.get("TokenValidityUnits");
        let seconds = |member: &str, unit_key: &str, default: i64| {
            let value = settings.get(member).and_then(Value::as_i64);
            let unit = units.and_then(|u| u.get(unit_key)).and_then(Value::as_str).unwrap_or("hours");
            value.map_or(default, |v| v.saturating_mul(seconds_per_unit(unit)))
        };
        Self {
            access: seconds("AccessTokenValidity", "AccessToken", 3600),
            id: seconds("IdTokenValidity", "IdToken", 3600),
            refresh: seconds("RefreshTokenValidity", "RefreshToken", 30 * 86_400),
        }
    }
}

/// Seconds in one `TokenValidityUnits` unit (`seconds`, `minutes`, `hours`, `days`).
pub fn seconds_per_unit(unit: &str) -> i64 {
    match unit {
        "seconds" => 1,
        "minutes" => 60,
        "hours" => 3600,
        _ => 86_400,
    }
}

/// What the ID and access tokens of one issue share.
pub struct TokenContext<'a> {
    pub issuer: String,
    pub client_id: &'a str,
    pub user: &'a User,
    /// `cognito:groups`, `cognito:roles` and `cognito:preferred_role` of the user.
    pub groups: &'a GroupClaims,
    /// The app client's `ReadAttributes` (`None`: all): the ID token carries only these.
    pub readable: Option<&'a [String]>,
    /// The sign-in the tokens come from (kept across refreshes).
    pub origin_jti: &'a str,
    pub auth_time: i64,
    pub event_id: String,
    pub now: i64,
    pub lifetimes: TokenLifetimes,
}

/// The group claims of a user: group names by precedence (lowest value first, groups without
/// one last, then by name), their role ARNs in that order, and the preferred role: the role of
/// the single group with the lowest precedence among those with a role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupClaims {
    pub groups: Vec<String>,
    pub roles: Vec<String>,
    pub preferred_role: Option<String>,
}

impl GroupClaims {
    /// From `(name, precedence, role_arn)` of each group the user is in.
    pub fn new(mut groups: Vec<(String, Option<i64>, Option<String>)>) -> Self {
        groups.sort_by(|a, b| (a.1.is_none(), a.1, &a.0).cmp(&(b.1.is_none(), b.1, &b.0)));
        let mut roles: Vec<String> = Vec::new();
        for role in groups.iter().filter_map(|g| g.2.clone()) {
            if !roles.contains(&role) {
                roles.push(role);
            }
        }
        let with_role: Vec<_> = groups.iter().filter(|g| g.2.is_some()).collect();
        let preferred_role = match with_role.as_slice() {
            [first, second, ..] if first.1.is_some() && first.1 == second.1 => None,
            [first, ..] => first.2.clone(),
            [] => None,
        };
        Self { groups: groups.into_iter().map(|g| g.0).collect(), roles, preferred_role }
    }
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The ID token's claims: identity, user attributes and audience.
pub fn id_token_claims(ctx: &TokenContext<'_>) -> Value {
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(ctx.user.sub));
    if !ctx.groups.groups.is_empty() {
        claims.insert("cognito:groups".into(), json!(ctx.groups.groups));
    }
    if !ctx.groups.roles.is_empty() {
        claims.insert("cognito:roles".into(), json!(ctx.groups.roles));
    }
    if let Some(role) = &ctx.groups.preferred_role {
        claims.insert("cognito:preferred_role".into(), json!(role));
    }
    let readable = |name: &str| ctx.readable.is_none_or(|names| names.iter().any(|n| n == name));
    for (name, value) in ctx.user.attributes.iter().filter(|(n, _)| readable(n)) {
        let claim = match name.as_str() {
            "email_verified" | "phone_number_verified" => json!(value == "true"),
            _ => json!(value),
        };
        claims.insert(name.clone(), claim);
    }
    claims.insert("iss".into(), json!(ctx.issuer));
    claims.insert("cognito:username".into(), json!(ctx.user.username));
    claims.insert("origin_jti".into(), json!(ctx.origin_jti));
    claims.insert("aud".into(), json!(ctx.client_id));
    claims.insert("event_id".into(), json!(ctx.event_id));
    claims.insert("token_use".into(), json!("id"));
    claims.insert("auth_time".into(), json!(ctx.auth_time));
    claims.insert("exp".into(), json!(ctx.now + ctx.lifetimes.id));
    claims.insert("iat".into(), json!(ctx.now));
    claims.insert("jti".into(), json!(uuid()));
    Value::Object(claims)
}

/// The access token's claims: who, for which client, with which scope (no `aud`).
pub fn access_token_claims(ctx: &TokenContext<'_>) -> Value {
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(ctx.user.sub));
    if !ctx.groups.groups.is_empty() {
        claims.insert("cognito:groups".into(), json!(ctx.groups.groups));
    }
    claims.insert("iss".into(), json!(ctx.issuer));
    claims.insert("client_id".into(), json!(ctx.client_id));
    claims.insert("origin_jti".into(), json!(ctx.origin_jti));
    claims.insert("event_id".into(), json!(ctx.event_id));
    claims.insert("token_use".into(), json!("access"));
    claims.insert("scope".into(), json!(API_SCOPE));
    claims.insert("auth_time".into(), json!(ctx.auth_time));
    claims.insert("exp".into(), json!(ctx.now + ctx.lifetimes.access));
    claims.insert("iat".into(), json!(ctx.now));
    claims.insert("jti".into(), json!(uuid()));
    claims.insert("username".into(), json!(ctx.user.username));
    Value::Object(claims)
}

/// `base64url(header) . base64url(claims)`: the bytes an RS256 signature covers. Cognito's
/// header is `{"kid":…,"alg":"RS256"}` (no `typ`).
pub fn signing_input(kid: &str, claims: &Value) -> String {
    let header = json!({"kid": kid, "alg": "RS256"});
    format!("{}.{}", B64URL.encode(header.to_string()), B64URL.encode(claims.to_string()))
}

/// The compact JWS: signing input plus the signature.
pub fn compact_jws(signing_input: &str, signature: &[u8]) -> String {
    format!("{signing_input}.{}", B64URL.encode(signature))
}

/// A new refresh token (256 random bits, opaque) and the SHA-256 under which it is stored.
pub fn new_refresh_token() -> Result<(String, Vec<u8>)> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes).map_err(|_| Error::internal("refresh token", "no randomness"))?;
    let token = B64URL.encode(bytes);
    let hash = refresh_token_hash(&token);
    Ok((token, hash))
}

/// The stored form of a refresh token.
pub fn refresh_token_hash(token: &str) -> Vec<u8> {
    digest(&SHA256, token.as_bytes()).as_ref().to_vec()
}

/// The claims Portcullis reads back from an access token.
#[derive(Debug, Clone, Deserialize)]
pub struct AccessClaims {
    pub sub: String,
    pub iss: String,
    pub client_id: String,
    pub origin_jti: String,
    pub token_use: String,
    pub username: String,
    pub exp: i64,
    pub iat: i64,
}

/// Cognito's answer to an access token that is not one of ours.
pub fn invalid_access_token() -> Error {
    Error::new(ErrorKind::NotAuthorized, "Invalid Access Token")
}

/// The `kid` and the unverified `iss` of a token, to find the key that must have signed it.
pub fn unverified_kid_and_issuer(token: &str) -> Result<(String, String)> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| invalid_access_token())?;
    let kid = header.kid.ok_or_else(invalid_access_token)?;
    let payload = token.split('.').nth(1).ok_or_else(invalid_access_token)?;
    let claims: Value = serde_json::from_slice(&B64URL.decode(payload).map_err(|_| invalid_access_token())?)
        .map_err(|_| invalid_access_token())?;
    let iss = claims.get("iss").and_then(Value::as_str).ok_or_else(invalid_access_token)?.to_owned();
    Ok((kid, iss))
}

/// Verifies an access token's RS256 signature with the JWK's `n`/`e`, its issuer, expiry and
/// `token_use`. Revocation is the caller's to check (the sign-in must still exist).
pub fn verify_access_token(token: &str, jwk: &Value, issuer: &str) -> Result<AccessClaims> {
    let n = jwk.get("n").and_then(Value::as_str).ok_or_else(|| Error::internal("jwk", "no modulus"))?;
    let e = jwk.get("e").and_then(Value::as_str).ok_or_else(|| Error::internal("jwk", "no exponent"))?;
    let key = DecodingKey::from_rsa_components(n, e).map_err(|e| Error::internal("jwk", e))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[issuer]);
    validation.validate_aud = false;
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp", "iss"]);
    let data = jsonwebtoken::decode::<AccessClaims>(token, &key, &validation).map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
            Error::new(ErrorKind::NotAuthorized, "Access Token has expired")
        }
        _ => invalid_access_token(),
    })?;
    if data.claims.token_use != "access" {
        return Err(invalid_access_token());
    }
    Ok(data.claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_claims_follow_precedence_and_the_preferred_role_needs_a_single_lowest() {
        let g = |name: &str, precedence: Option<i64>, role: Option<&str>| {
            (name.to_owned(), precedence, role.map(str::to_owned))
        };
        let claims = GroupClaims::new(vec![
            g("zeta", None, Some("arn:r3")),
            g("beta", Some(5), Some("arn:r2")),
            g("alpha", Some(1), None),
            g("gamma", Some(3), Some("arn:r1")),
        ]);
        assert_eq!(claims.groups, ["alpha", "gamma", "beta", "zeta"]);
        assert_eq!(claims.roles, ["arn:r1", "arn:r2", "arn:r3"]);
        assert_eq!(claims.preferred_role.as_deref(), Some("arn:r1"));
        let tie = GroupClaims::new(vec![g("a", Some(2), Some("arn:a")), g("b", Some(2), Some("arn:b"))]);
        assert_eq!(tie.preferred_role, None, "two groups share the lowest precedence");
        assert_eq!(GroupClaims::new(vec![]), GroupClaims::default());
    }

    #[test]
    fn lifetimes_follow_the_clients_units() {
        let settings = json!({"AccessTokenValidity": 5, "IdTokenValidity": 2, "RefreshTokenValidity": 10,
            "TokenValidityUnits": {"AccessToken": "minutes", "IdToken": "hours", "RefreshToken": "days"}});
        let l = TokenLifetimes::of_client(settings.as_object().unwrap());
        assert_eq!(l, TokenLifetimes { access: 300, id: 7200, refresh: 864_000 });
        assert_eq!(
            TokenLifetimes::of_client(&Map::new()),
            TokenLifetimes { access: 3600, id: 3600, refresh: 2_592_000 }
        );
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_only_as_hashes() {
        let (a, ha) = new_refresh_token().unwrap();
        let (b, _) = new_refresh_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(B64URL.decode(&a).unwrap().len(), 32);
        assert_eq!(ha, refresh_token_hash(&a));
        assert_eq!(ha.len(), 32);
    }

    #[test]
    fn header_is_cognitos_and_claims_decode() {
        let input = signing_input("kid-1", &json!({"sub": "x"}));
        let header: Value = serde_json::from_slice(&B64URL.decode(input.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(header, json!({"kid": "kid-1", "alg": "RS256"}));
    }
}
