//! One error enum per operation. The D-Bus layer gives each variant its wire name.

use cabin_vehicle_config::Datatype;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReadError {
    #[error("no signal '{0}' in the catalog")]
    UnknownSignal(String),
    #[error("not permitted to read {0}")]
    NotPermitted(String),
    #[error("{0}")]
    BadPattern(#[from] cabin_vehicle_config::GlobError),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ActuateError {
    #[error("no signal '{0}' in the catalog")]
    UnknownSignal(String),
    #[error("{path} is a {kind}, not an actuator")]
    ReadOnly { path: String, kind: &'static str },
    #[error("not permitted to actuate {path} (caller's roles: {})", if roles.is_empty() { "none".to_string() } else { roles.join(", ") })]
    NotPermitted { path: String, roles: Vec<String> },
    #[error("{path} takes {expected}, got {found}")]
    WrongType { path: String, expected: Datatype, found: &'static str },
    #[error("{path}: {reason}")]
    OutOfRange { path: String, reason: String },
    #[error("{path} refused by interlock '{interlock}': {reason}")]
    InterlockActive { path: String, interlock: String, reason: String },
    #[error("{path}: its backend ({backend}) is not running")]
    BackendUnavailable { path: String, backend: &'static str },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UpdateError {
    #[error("no signal '{0}' in the catalog")]
    UnknownSignal(String),
    #[error("{path}: {reason}")]
    Invalid { path: String, reason: String },
}
