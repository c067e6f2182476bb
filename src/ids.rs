//! Identifier newtypes and their generators, in Cognito's formats: pool ids `{region}_{9 alnum}`,
//! app client ids of 26 `[a-z0-9]`, client secrets of 51 `[a-z0-9]`, JWT key ids, import job ids.

use std::fmt;

use base64::Engine;
use rand::Rng;
use serde::{Deserialize, Serialize};

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rngs::OsRng;
    (0..len).map(|_| char::from(alphabet[rng.gen_range(0..alphabet.len())])).collect()
}

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }
    };
}

id_newtype!(
    /// A user pool id, e.g. `us-east-1_qWYpdEk4A`.
    PoolId
);
id_newtype!(
    /// An app client id: 26 lower-case letters and digits.
    ClientId
);
id_newtype!(
    /// A JWT signing key id; also the key's `CKA_ID` in the HSM.
    KeyId
);
id_newtype!(
    /// A user import job id: `import-` and 10 letters and digits, e.g. `import-qQ0DCt2fRh`.
    ImportJobId
);

impl PoolId {
    pub fn generate(region: &str) -> Self {
        Self(format!("{region}_{}", random_from(ALNUM, 9)))
    }
}

impl ClientId {
    pub fn generate() -> Self {
        Self(random_from(LOWER_ALNUM, 26))
    }
}

impl KeyId {
    /// 32 random bytes, base64 (Cognito's kids are 44-character base64 strings).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill(&mut bytes);
        Self(base64::engine::general_purpose::STANDARD.encode(bytes))
    }
}

impl ImportJobId {
    pub fn generate() -> Self {
        Self(format!("import-{}", random_from(ALNUM, 10)))
    }
}

/// A new app client secret: 51 lower-case letters and digits.
pub fn generate_client_secret() -> String {
    random_from(LOWER_ALNUM, 51)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_cognito_shapes() {
        let p = PoolId::generate("eu-west-1");
        let (region, suffix) = p.as_str().split_once('_').unwrap();
        assert_eq!(region, "eu-west-1");
        assert_eq!(suffix.len(), 9);
        assert!(suffix.chars().all(|c| c.is_ascii_alphanumeric()));
        let c = ClientId::generate();
        assert_eq!(c.as_str().len(), 26);
        assert!(c.as_str().chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit()));
        assert_eq!(generate_client_secret().len(), 51);
        assert_eq!(KeyId::generate().as_str().len(), 44);
        assert_ne!(ClientId::generate(), ClientId::generate());
        let j = ImportJobId::generate();
        assert!(j.as_str().strip_prefix("import-").is_some_and(|s| s.len() == 10));
    }
}
