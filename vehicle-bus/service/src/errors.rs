//! The one place where the store's refusals get their D-Bus names.

use cabin_signal_store::{ActuateError, ReadError};

/// Errors on the wire: `org.cabin.Error.<Variant>`, with the store's message as the error text.
/// The variant names match `cabin_vehicle_bus_client::Refusal`, which clients decode.
#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.cabin.Error")]
pub enum BusError {
    #[zbus(error)]
    ZBus(zbus::Error),
    UnknownSignal(String),
    OutOfRange(String),
    WrongType(String),
    NotPermitted(String),
    InterlockActive(String),
    ReadOnly(String),
    NoValue(String),
    BackendUnavailable(String),
    InvalidArgument(String),
}

impl From<ActuateError> for BusError {
    fn from(error: ActuateError) -> Self {
        let message = error.to_string();
        match error {
            ActuateError::UnknownSignal(_) => Self::UnknownSignal(message),
            ActuateError::ReadOnly { .. } => Self::ReadOnly(message),
            ActuateError::NotPermitted { .. } => Self::NotPermitted(message),
            ActuateError::WrongType { .. } => Self::WrongType(message),
            ActuateError::OutOfRange { .. } => Self::OutOfRange(message),
            ActuateError::InterlockActive { .. } => Self::InterlockActive(message),
            ActuateError::BackendUnavailable { .. } => Self::BackendUnavailable(message),
        }
    }
}

impl From<ReadError> for BusError {
    fn from(error: ReadError) -> Self {
        let message = error.to_string();
        match error {
            ReadError::UnknownSignal(_) => Self::UnknownSignal(message),
            ReadError::NotPermitted(_) => Self::NotPermitted(message),
            ReadError::BadPattern(_) => Self::InvalidArgument(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use cabin_vehicle_bus_client::wire::{Refusal, ERROR_PREFIX};
    use zbus::DBusError;

    use super::*;

    #[test]
    fn every_wire_error_is_one_a_client_can_decode() {
        let errors = [
            BusError::UnknownSignal(String::new()),
            BusError::OutOfRange(String::new()),
            BusError::WrongType(String::new()),
            BusError::NotPermitted(String::new()),
            BusError::InterlockActive(String::new()),
            BusError::ReadOnly(String::new()),
            BusError::NoValue(String::new()),
            BusError::BackendUnavailable(String::new()),
            BusError::InvalidArgument(String::new()),
        ];
        assert_eq!(errors.len(), Refusal::ALL.len());
        for error in errors {
            let name = error.name().to_string();
            assert!(name.starts_with(ERROR_PREFIX), "{name}");
            assert!(Refusal::from_error_name(&name).is_some(), "{name} is not decodable by clients");
        }
    }
}
