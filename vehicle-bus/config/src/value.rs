//! Signal values and VSS datatypes, and the one place where a requested value is checked against them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The VSS scalar datatypes Cabin serves. Array datatypes (`string[]`, ...) are not served yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Datatype {
    Boolean,
    String,
    Int8,
    Int16,
    Int32,
    Int64,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Float,
    Double,
}

impl Datatype {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "boolean" => Self::Boolean,
            "string" => Self::String,
            "int8" => Self::Int8,
            "int16" => Self::Int16,
            "int32" => Self::Int32,
            "int64" => Self::Int64,
            "uint8" => Self::Uint8,
            "uint16" => Self::Uint16,
            "uint32" => Self::Uint32,
            "uint64" => Self::Uint64,
            "float" => Self::Float,
            "double" => Self::Double,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Boolean => "boolean",
            Self::String => "string",
            Self::Int8 => "int8",
            Self::Int16 => "int16",
            Self::Int32 => "int32",
            Self::Int64 => "int64",
            Self::Uint8 => "uint8",
            Self::Uint16 => "uint16",
            Self::Uint32 => "uint32",
            Self::Uint64 => "uint64",
            Self::Float => "float",
            Self::Double => "double",
        }
    }

    pub fn is_numeric(self) -> bool {
        !matches!(self, Self::Boolean | Self::String)
    }

    /// The representable range of an integer datatype.
    fn integer_range(self) -> Option<(i128, i128)> {
        Some(match self {
            Self::Int8 => (i8::MIN.into(), i8::MAX.into()),
            Self::Int16 => (i16::MIN.into(), i16::MAX.into()),
            Self::Int32 => (i32::MIN.into(), i32::MAX.into()),
            Self::Int64 => (i64::MIN.into(), i64::MAX.into()),
            Self::Uint8 => (0, u8::MAX.into()),
            Self::Uint16 => (0, u16::MAX.into()),
            Self::Uint32 => (0, u32::MAX.into()),
            Self::Uint64 => (0, u64::MAX.into()),
            _ => return None,
        })
    }
}

impl fmt::Display for Datatype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A signal value. Integers keep their sign in the variant so that a uint64 never loses range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    String(String),
}

impl Value {
    /// Reads a value typed by a person (CLI, config): `true`, `-3`, `21.5`, anything else is a string.
    pub fn from_text(text: &str) -> Self {
        let trimmed = text.trim();
        match trimmed {
            "true" => return Self::Bool(true),
            "false" => return Self::Bool(false),
            _ => {}
        }
        if let Ok(i) = trimmed.parse::<i64>() {
            return Self::Int(i);
        }
        if let Ok(u) = trimmed.parse::<u64>() {
            return Self::Uint(u);
        }
        if let Ok(f) = trimmed.parse::<f64>() {
            if f.is_finite() {
                return Self::Float(f);
            }
        }
        Self::String(text.to_string())
    }

    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Self::Int(i) => Some(i as f64),
            Self::Uint(u) => Some(u as f64),
            Self::Float(f) => Some(f),
            _ => None,
        }
    }

    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Bool(_) => "boolean",
            Self::Int(_) | Self::Uint(_) => "integer",
            Self::Float(_) => "number",
            Self::String(_) => "string",
        }
    }

    /// Converts to `datatype`, refusing what would change the meaning: a string for a number, a
    /// fraction for an integer, a value the datatype cannot hold.
    pub fn coerce(&self, datatype: Datatype) -> Result<Value, CoerceError> {
        let wrong = || CoerceError::WrongType { expected: datatype, found: self.kind_name() };
        match datatype {
            Datatype::Boolean => match self {
                Self::Bool(b) => Ok(Self::Bool(*b)),
                _ => Err(wrong()),
            },
            Datatype::String => match self {
                Self::String(s) => Ok(Self::String(s.clone())),
                _ => Err(wrong()),
            },
            Datatype::Float | Datatype::Double => {
                let f = self.as_f64().ok_or_else(wrong)?;
                if datatype == Datatype::Float && f.abs() > f64::from(f32::MAX) {
                    return Err(CoerceError::NotRepresentable { datatype, value: self.clone() });
                }
                Ok(Self::Float(f))
            }
            _ => {
                let (lo, hi) = datatype.integer_range().expect("integer datatype");
                let n: i128 = match *self {
                    Self::Int(i) => i.into(),
                    Self::Uint(u) => u.into(),
                    Self::Float(f) if f.fract() == 0.0 && f.is_finite() => f as i128,
                    _ => return Err(wrong()),
                };
                if n < lo || n > hi {
                    return Err(CoerceError::NotRepresentable { datatype, value: self.clone() });
                }
                Ok(if lo < 0 { Self::Int(n as i64) } else { Self::Uint(n as u64) })
            }
        }
    }

    /// Compares two values of compatible kinds (numbers with numbers, and like with like).
    pub fn compare(&self, other: &Value) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Self::Bool(a), Self::Bool(b)) => Some(a.cmp(b)),
            (Self::String(a), Self::String(b)) => Some(a.cmp(b)),
            _ => self.as_f64()?.partial_cmp(&other.as_f64()?),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bool(b) => write!(f, "{b}"),
            Self::Int(i) => write!(f, "{i}"),
            Self::Uint(u) => write!(f, "{u}"),
            Self::Float(x) => write!(f, "{x}"),
            Self::String(s) => write!(f, "{s}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CoerceError {
    #[error("expected {expected}, got {found}")]
    WrongType { expected: Datatype, found: &'static str },
    #[error("{value} does not fit in {datatype}")]
    NotRepresentable { datatype: Datatype, value: Value },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_read_as_the_most_specific_kind() {
        assert_eq!(Value::from_text("true"), Value::Bool(true));
        assert_eq!(Value::from_text("-3"), Value::Int(-3));
        assert_eq!(Value::from_text("21.5"), Value::Float(21.5));
        assert_eq!(Value::from_text("PARK"), Value::String("PARK".into()));
    }

    #[test]
    fn coercion_keeps_meaning_or_refuses() {
        assert_eq!(Value::Int(50).coerce(Datatype::Uint8), Ok(Value::Uint(50)));
        assert_eq!(Value::Float(3.0).coerce(Datatype::Int8), Ok(Value::Int(3)));
        assert_eq!(Value::Int(3).coerce(Datatype::Float), Ok(Value::Float(3.0)));
        assert!(matches!(Value::Float(3.5).coerce(Datatype::Uint8), Err(CoerceError::WrongType { .. })));
        assert!(matches!(Value::Int(300).coerce(Datatype::Uint8), Err(CoerceError::NotRepresentable { .. })));
        assert!(matches!(Value::String("x".into()).coerce(Datatype::Boolean), Err(CoerceError::WrongType { .. })));
    }
}
