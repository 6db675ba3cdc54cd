//! A configuration file laid over the shipped one. Integrators and owners change a field or
//! two ("[share] camera = true"); a file that had to repeat every field would make them copy
//! the shipped file and keep it in step forever. Tables merge key by key; any other value,
//! arrays of tables included (`[[region]]`), replaces the shipped one whole.
//!
//! Hand-written rather than a configuration framework: the merge is ten lines, and the
//! errors must be the car's own one-line kind.

use serde::de::DeserializeOwned;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum LayerError {
    /// The file is not TOML.
    #[error("line {line}, column {column}: {message}")]
    Syntax { line: usize, column: usize, message: String },
    /// A field that is missing, unknown or of the wrong type, once laid over the shipped file.
    #[error("{field}: {message}")]
    Field { field: String, message: String },
}

/// `text` laid over `shipped`, read as `T`.
///
/// # Panics
/// When `shipped` (the file embedded in the binary, checked by its crate's tests) is not TOML.
pub fn layered<T: DeserializeOwned>(shipped: &str, text: &str) -> Result<T, LayerError> {
    let mut merged: toml::Table = toml::from_str(shipped).expect("the shipped file is TOML");
    let over: toml::Table = toml::from_str(text).map_err(|e| syntax_error(text, &e))?;
    lay_over(&mut merged, over);
    serde_path_to_error::deserialize(toml::Value::Table(merged))
        .map_err(|e| LayerError::Field { field: e.path().to_string(), message: e.inner().message().to_string() })
}

/// `over`'s tables merged into `base`'s, key by key; any other value replaces the base's.
fn lay_over(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(base)), toml::Value::Table(over)) => lay_over(base, over),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn syntax_error(text: &str, error: &toml::de::Error) -> LayerError {
    let at = error.span().map_or(0, |span| span.start.min(text.len()));
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    LayerError::Syntax { line, column, message: error.message().trim().replace('\n', " ") }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Car {
        name: String,
        share: Share,
        seat: Vec<Seat>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Share {
        camera: bool,
        location: bool,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Seat {
        name: String,
    }

    const SHIPPED: &str =
        "name = \"cabin\"\n[share]\ncamera = false\nlocation = false\n[[seat]]\nname = \"driver\"\n[[seat]]\nname = \"passenger\"\n";

    #[test]
    fn a_file_changes_only_what_it_names() {
        let car: Car = layered(SHIPPED, "[share]\ncamera = true\n").unwrap();
        assert!(car.share.camera && !car.share.location);
        assert_eq!(car.name, "cabin");
        assert_eq!(car.seat.len(), 2);
        let car: Car = layered(SHIPPED, "[[seat]]\nname = \"bench\"\n").unwrap();
        assert_eq!(car.seat, [Seat { name: "bench".into() }], "an array of tables is replaced whole");
        let car: Car = layered(SHIPPED, "").unwrap();
        assert_eq!(car, layered::<Car>(SHIPPED, SHIPPED).unwrap());
    }

    #[test]
    fn a_mistake_is_one_line_naming_the_line_or_the_field() {
        assert_eq!(
            layered::<Car>(SHIPPED, "[share]\ncamera = \"yes\"\n").unwrap_err().to_string(),
            "share.camera: invalid type: string \"yes\", expected a boolean"
        );
        let unknown = layered::<Car>(SHIPPED, "[share]\ncamra = true\n").unwrap_err().to_string();
        assert!(unknown.starts_with("share.camra: unknown field `camra`"), "{unknown}");
        let missing = layered::<Car>(SHIPPED, "[[seat]]\nnmae = \"bench\"\n").unwrap_err().to_string();
        assert!(missing.starts_with("seat[0].nmae: unknown field"), "{missing}");
        let syntax = layered::<Car>(SHIPPED, "name = \"x\"\n[share\ncamera = true\n").unwrap_err();
        assert!(matches!(syntax, LayerError::Syntax { line: 2, .. }), "{syntax}");
        assert!(!syntax.to_string().contains('\n'), "{syntax}");
    }
}
