//! The D-Bus contract of the vehicle bus, written once for the service and its clients.

use cabin_vehicle_config::{Datatype, Value};
use zbus::zvariant::{OwnedValue, Value as Variant};

pub const BUS_NAME: &str = "org.cabin.VehicleBus1";
pub const OBJECT_PATH: &str = "/org/cabin/VehicleBus1";
pub const INTERFACE: &str = "org.cabin.VehicleBus1";
pub const SIMULATOR_INTERFACE: &str = "org.cabin.VehicleBus1.Simulator";
/// Prefix of every error name the service returns: `org.cabin.Error.InterlockActive`, ...
pub const ERROR_PREFIX: &str = "org.cabin.Error";

/// Why the service refused a call, by the last part of its D-Bus error name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    UnknownSignal,
    OutOfRange,
    WrongType,
    NotPermitted,
    InterlockActive,
    ReadOnly,
    NoValue,
    BackendUnavailable,
    InvalidArgument,
}

impl Refusal {
    pub const ALL: [Refusal; 9] = [
        Self::UnknownSignal,
        Self::OutOfRange,
        Self::WrongType,
        Self::NotPermitted,
        Self::InterlockActive,
        Self::ReadOnly,
        Self::NoValue,
        Self::BackendUnavailable,
        Self::InvalidArgument,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::UnknownSignal => "UnknownSignal",
            Self::OutOfRange => "OutOfRange",
            Self::WrongType => "WrongType",
            Self::NotPermitted => "NotPermitted",
            Self::InterlockActive => "InterlockActive",
            Self::ReadOnly => "ReadOnly",
            Self::NoValue => "NoValue",
            Self::BackendUnavailable => "BackendUnavailable",
            Self::InvalidArgument => "InvalidArgument",
        }
    }

    /// `org.cabin.Error.OutOfRange` -> `OutOfRange`.
    pub fn from_error_name(name: &str) -> Option<Self> {
        let short = name.strip_prefix(ERROR_PREFIX)?.strip_prefix('.')?;
        Self::ALL.into_iter().find(|r| r.name() == short)
    }
}

/// Encodes a value in the D-Bus type closest to its VSS datatype (D-Bus has no int8: int16).
pub fn to_variant(value: &Value, datatype: Datatype) -> Variant<'static> {
    let as_int = || match value {
        Value::Int(i) => *i,
        Value::Uint(u) => *u as i64,
        Value::Float(f) => *f as i64,
        _ => 0,
    };
    match (datatype, value) {
        (_, Value::Bool(b)) => Variant::Bool(*b),
        (_, Value::String(s)) => Variant::from(s.clone()),
        (Datatype::Uint8, _) => Variant::U8(as_int() as u8),
        (Datatype::Uint16, _) => Variant::U16(as_int() as u16),
        (Datatype::Uint32, _) => Variant::U32(as_int() as u32),
        (Datatype::Uint64, Value::Uint(u)) => Variant::U64(*u),
        (Datatype::Uint64, _) => Variant::U64(as_int() as u64),
        (Datatype::Int8 | Datatype::Int16, _) => Variant::I16(as_int() as i16),
        (Datatype::Int32, _) => Variant::I32(as_int() as i32),
        (Datatype::Int64, _) => Variant::I64(as_int()),
        _ => Variant::F64(value.as_f64().unwrap_or_default()),
    }
}

/// Encodes a value by its own kind, for a client that does not know the signal's datatype.
pub fn to_variant_untyped(value: &Value) -> Variant<'static> {
    match value {
        Value::Bool(b) => Variant::Bool(*b),
        Value::Int(i) => Variant::I64(*i),
        Value::Uint(u) => Variant::U64(*u),
        Value::Float(f) => Variant::F64(*f),
        Value::String(s) => Variant::from(s.clone()),
    }
}

pub fn owned(variant: Variant<'_>) -> OwnedValue {
    variant.try_to_owned().expect("plain values hold no file descriptors")
}

/// Decodes any scalar variant; `None` for containers, which no signal holds.
pub fn from_variant(variant: &Variant<'_>) -> Option<Value> {
    Some(match variant {
        Variant::Bool(b) => Value::Bool(*b),
        Variant::U8(u) => Value::Uint((*u).into()),
        Variant::U16(u) => Value::Uint((*u).into()),
        Variant::U32(u) => Value::Uint((*u).into()),
        Variant::U64(u) => Value::Uint(*u),
        Variant::I16(i) => Value::Int((*i).into()),
        Variant::I32(i) => Value::Int((*i).into()),
        Variant::I64(i) => Value::Int(*i),
        Variant::F64(f) => Value::Float(*f),
        Variant::Str(s) => Value::String(s.to_string()),
        Variant::Value(inner) => return from_variant(inner),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_travel_in_the_closest_dbus_type_and_back() {
        let cases = [
            (Value::Uint(40), Datatype::Uint8, "y"),
            (Value::Int(-20), Datatype::Int8, "n"),
            (Value::Float(21.5), Datatype::Float, "d"),
            (Value::Bool(true), Datatype::Boolean, "b"),
            (Value::String("PARK".into()), Datatype::String, "s"),
            (Value::Uint(412_000), Datatype::Uint32, "u"),
        ];
        for (value, datatype, signature) in cases {
            let variant = to_variant(&value, datatype);
            assert_eq!(variant.value_signature().to_string(), signature);
            assert_eq!(from_variant(&variant).unwrap().coerce(datatype).unwrap(), value.coerce(datatype).unwrap());
        }
    }

    #[test]
    fn error_names_map_both_ways() {
        for refusal in Refusal::ALL {
            let name = format!("{ERROR_PREFIX}.{}", refusal.name());
            assert_eq!(Refusal::from_error_name(&name), Some(refusal));
        }
        assert_eq!(Refusal::from_error_name("org.freedesktop.DBus.Error.Failed"), None);
    }
}
