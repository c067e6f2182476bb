//! Portcullis: an on-prem, HSM-backed drop-in replacement for Amazon Cognito user pools.
//! Layers: `protocol` (wire) / `idp` (domain) / `store`, `hsm` (backends) / `http` (transport).

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo, clippy::unimplemented)
)]
#![deny(clippy::await_holding_lock)]

pub mod app;
pub mod auth;
pub mod bootstrap;
pub mod config;
pub mod hsm;
pub mod http;
pub mod idp;
pub mod ids;
pub mod import_command;
pub mod messaging;
pub mod outbox_command;
pub mod protocol;
pub mod ratelimit;
pub mod scheduling;
pub mod seed;
pub mod sigv4;
pub mod store;
pub mod tls;
pub mod workers;
