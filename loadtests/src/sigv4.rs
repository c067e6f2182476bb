//! SigV4 signing of the admin set-up calls: the daemon crate's client-side signer.

pub use portcullis::sigv4::sign::{Credentials, Signer};
