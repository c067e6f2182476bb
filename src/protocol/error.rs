//! The one error type of every request path, and its single mapping to Cognito's wire `__type`
//! and HTTP status. Handlers return [`Error`]; nothing else decides what a client sees.

use std::fmt;

/// Whose fault an error is (after Pingora): a client's bad request is answered and forgotten,
/// an internal fault (HSM, RocksDB, worker pool) is logged with its cause and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Client,
    Internal,
}

macro_rules! error_kinds {
    ($( $variant:ident = $status:literal ),* $(,)?) => {
        /// Every error name Portcullis puts on the wire. The wire name is the variant name
        /// plus `Exception`; the status is the one the live service sends (400 for every
        /// client error, see `cognito-wire-protocol.md` §1), not the Smithy model's.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorKind { $( $variant ),* }

        impl ErrorKind {
            /// The `__type` value, e.g. `NotAuthorizedException`.
            pub fn type_name(self) -> &'static str {
                match self { $( Self::$variant => concat!(stringify!($variant), "Exception") ),* }
            }
            /// The HTTP status code sent with this error.
            pub fn status(self) -> u16 {
                match self { $( Self::$variant => $status ),* }
            }
        }
    };
}

error_kinds! {
    // Protocol and transport (not in the service model; sent by AWS's front end).
    UnknownOperation = 400,
    Serialization = 400,
    MissingAuthenticationToken = 400,
    IncompleteSignature = 400,
    UnrecognizedClient = 400,
    InvalidSignature = 400,
    RequestEntityTooLarge = 413,
    // Modelled cognito-idp errors.
    AccessDenied = 400,
    AliasExists = 400,
    CodeDeliveryFailure = 400,
    CodeMismatch = 400,
    ConcurrentModification = 400,
    DeviceKeyExists = 400,
    DuplicateProvider = 400,
    EnableSoftwareTokenMfa = 400,
    ExpiredCode = 400,
    FeatureUnavailableInTier = 400,
    Forbidden = 400,
    GroupExists = 400,
    InvalidLambdaResponse = 400,
    InvalidOAuthFlow = 400,
    InvalidParameter = 400,
    InvalidPassword = 400,
    InvalidUserPoolConfiguration = 400,
    LimitExceeded = 400,
    MfaMethodNotFound = 400,
    NotAuthorized = 400,
    OperationNotEnabled = 400,
    PasswordResetRequired = 400,
    PreconditionNotMet = 400,
    ResourceNotFound = 400,
    ScopeDoesNotExist = 400,
    SoftwareTokenMfaNotFound = 400,
    TooManyFailedAttempts = 400,
    TooManyRequests = 400,
    Unauthorized = 400,
    UnexpectedLambda = 400,
    UnsupportedOperation = 400,
    UnsupportedTokenType = 400,
    UnsupportedUserState = 400,
    UserImportInProgress = 400,
    UserLambdaValidation = 400,
    UserNotConfirmed = 400,
    UserNotFound = 400,
    UserPoolTagging = 400,
    UsernameExists = 400,
    InternalError = 500,
}

impl ErrorKind {
    /// The wire name. Cognito spells two names with an upper-case acronym that a Rust
    /// variant cannot carry in the same case, so they are spelled out here.
    pub fn wire_name(self) -> &'static str {
        match self {
            Self::EnableSoftwareTokenMfa => "EnableSoftwareTokenMFAException",
            Self::MfaMethodNotFound => "MFAMethodNotFoundException",
            Self::SoftwareTokenMfaNotFound => "SoftwareTokenMFANotFoundException",
            other => other.type_name(),
        }
    }
}

/// An error on a request path: what the client is told, and, for internal faults, the cause
/// that is logged but never sent.
#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub fault: Fault,
    /// Internal detail for logs (never sent to the client).
    pub cause: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A client error with the message the client sees.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), fault: Fault::Client, cause: None }
    }

    /// An internal fault: the client sees `InternalErrorException` with a generic message,
    /// the log sees `context` and `cause`.
    pub fn internal(context: &str, cause: impl fmt::Display) -> Self {
        Self {
            kind: ErrorKind::InternalError,
            message: "Internal server error.".to_owned(),
            fault: Fault::Internal,
            cause: Some(format!("{context}: {cause}")),
        }
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameter, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ResourceNotFound, message)
    }

    pub fn too_many_requests(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::TooManyRequests, message)
    }

    /// The JSON body Cognito sends: `{"__type": "...", "message": "..."}`.
    pub fn to_body(&self) -> serde_json::Value {
        serde_json::json!({ "__type": self.kind.wire_name(), "message": self.message })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.wire_name(), self.message)?;
        if let Some(cause) = &self.cause {
            write!(f, " ({cause})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_carry_the_exception_suffix_and_cognito_spelling() {
        assert_eq!(ErrorKind::NotAuthorized.wire_name(), "NotAuthorizedException");
        assert_eq!(ErrorKind::MfaMethodNotFound.wire_name(), "MFAMethodNotFoundException");
        assert_eq!(ErrorKind::InternalError.status(), 500);
        assert_eq!(ErrorKind::TooManyRequests.status(), 400);
    }

    #[test]
    fn internal_errors_hide_their_cause_from_the_client() {
        let e = Error::internal("rocksdb write", "IO error: disk full");
        let body = e.to_body();
        assert_eq!(body["__type"], "InternalErrorException");
        assert!(!body.to_string().contains("disk full"));
        assert_eq!(e.fault, Fault::Internal);
    }
}
