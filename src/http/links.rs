//! `GET /confirmUser`: the confirmation link of a `CONFIRM_WITH_LINK` sign-up email (Cognito
//! serves it on the pool's domain), answered with a small HTML page.

use hyper::StatusCode;

use crate::app::App;

pub const CONFIRM_USER_PATH: &str = "/confirmUser";

/// Confirms the user the link names; the page says what happened.
pub fn confirm_user(app: &App, query: Option<&str>) -> (StatusCode, Vec<u8>) {
    let params: Vec<(String, String)> =
        form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
    let get = |name: &str| params.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str());
    let outcome =
        crate::idp::sign_up::confirm_by_link(app, get("client_id"), get("user_name"), get("confirmation_code"));
    match outcome {
        Ok(()) => (StatusCode::OK, page("Your registration has been confirmed!")),
        Err(e) => (StatusCode::BAD_REQUEST, page(&format!("{}: {}", e.kind.wire_name(), e.message))),
    }
}

fn page(text: &str) -> Vec<u8> {
    let escaped = text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    format!("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Confirmation</title></head><body><p>{escaped}</p></body></html>\n")
        .into_bytes()
}
