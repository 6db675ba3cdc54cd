//! The signal catalog: COVESA VSS in the JSON form `vss-tools` exports (nested branches whose
//! leaves are sensors, actuators and attributes).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value as Json;

use crate::diagnostic::{ConfigError, ConfigErrors, Source};
use crate::value::{Datatype, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SignalKind {
    Sensor,
    Actuator,
    Attribute,
}

impl SignalKind {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "sensor" => Some(Self::Sensor),
            "actuator" => Some(Self::Actuator),
            "attribute" => Some(Self::Attribute),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sensor => "sensor",
            Self::Actuator => "actuator",
            Self::Attribute => "attribute",
        }
    }
}

/// One leaf of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalSpec {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: SignalKind,
    pub datatype: Datatype,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    pub description: String,
}

/// Why a value does not fit a signal's declared limits.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LimitError {
    #[error("{value} is below the minimum {min}")]
    BelowMin { value: Value, min: Value },
    #[error("{value} is above the maximum {max}")]
    AboveMax { value: Value, max: Value },
    #[error("{value} is not one of {allowed}")]
    NotAllowed { value: Value, allowed: String },
}

impl SignalSpec {
    /// Checks an already-typed value against min, max and allowed.
    pub fn check_limits(&self, value: &Value) -> Result<(), LimitError> {
        if let Some(min) = &self.min {
            if value.compare(min) == Some(std::cmp::Ordering::Less) {
                return Err(LimitError::BelowMin { value: value.clone(), min: min.clone() });
            }
        }
        if let Some(max) = &self.max {
            if value.compare(max) == Some(std::cmp::Ordering::Greater) {
                return Err(LimitError::AboveMax { value: value.clone(), max: max.clone() });
            }
        }
        if let Some(allowed) = &self.allowed {
            if !allowed.iter().any(|a| a.compare(value) == Some(std::cmp::Ordering::Equal)) {
                let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
                return Err(LimitError::NotAllowed { value: value.clone(), allowed: list.join(", ") });
            }
        }
        Ok(())
    }
}

/// All leaves by path. Branches are implied by the paths.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub signals: BTreeMap<String, SignalSpec>,
    /// Where each signal was defined, for errors found later (overlays, CAN mapping).
    pub origins: BTreeMap<String, (String, usize)>,
}

impl Catalog {
    pub fn get(&self, path: &str) -> Option<&SignalSpec> {
        self.signals.get(path)
    }

    /// Parses a vss-tools JSON export, collecting every error.
    pub fn from_vss_json(source: &Source) -> Result<Catalog, ConfigErrors> {
        let root: Json =
            serde_json::from_str(&source.text).map_err(|e| ConfigError::new(&source.name, e.line(), "", format!("not valid JSON: {e}")))?;
        let Json::Object(top) = root else {
            return Err(ConfigError::new(&source.name, 1, "", "expected a JSON object with the root branch (\"Vehicle\")").into());
        };
        let mut catalog = Catalog::default();
        let mut errors = ConfigErrors::default();
        for (name, node) in &top {
            walk(source, &mut catalog, &mut errors, name, node);
        }
        errors.into_result(catalog)
    }
}

fn walk(source: &Source, catalog: &mut Catalog, errors: &mut ConfigErrors, path: &str, node: &Json) {
    let line = json_line_of_path(&source.text, path);
    let Json::Object(fields) = node else {
        errors.push(ConfigError::new(&source.name, line, path, "expected an object for this node"));
        return;
    };
    let node_type = fields.get("type").and_then(Json::as_str).unwrap_or("");
    if node_type == "branch" {
        match fields.get("children") {
            Some(Json::Object(children)) => {
                for (name, child) in children {
                    walk(source, catalog, errors, &format!("{path}.{name}"), child);
                }
            }
            None => {}
            Some(_) => errors.push(ConfigError::new(&source.name, line, format!("{path}.children"), "expected an object")),
        }
        return;
    }
    match leaf_from_fields(path, fields) {
        Ok(Some(spec)) => {
            catalog.origins.insert(path.to_string(), (source.name.clone(), line));
            catalog.signals.insert(path.to_string(), spec);
        }
        Ok(None) => {}
        Err((field, message)) => errors.push(ConfigError::new(&source.name, line, format!("{path}.{field}"), message)),
    }
}

/// Builds a leaf from its JSON (or TOML-converted) fields. `Ok(None)` for leaves Cabin does not serve
/// (array datatypes, structs), which are skipped with a warning rather than refused: real OEM
/// catalogs contain them.
pub(crate) fn leaf_from_fields(path: &str, fields: &serde_json::Map<String, Json>) -> Result<Option<SignalSpec>, (&'static str, String)> {
    let node_type = fields.get("type").and_then(Json::as_str).ok_or(("type", "missing node type".to_string()))?;
    let kind = SignalKind::parse(node_type)
        .ok_or_else(|| ("type", format!("unknown node type '{node_type}' (expected branch, sensor, actuator or attribute)")))?;
    let datatype_name = fields.get("datatype").and_then(Json::as_str).ok_or(("datatype", "missing datatype".to_string()))?;
    let Some(datatype) = Datatype::parse(datatype_name) else {
        if datatype_name.ends_with("[]") || datatype_name.contains('.') {
            tracing::warn!(path, datatype = datatype_name, "array and struct signals are not served yet; skipped");
            return Ok(None);
        }
        return Err(("datatype", format!("unknown datatype '{datatype_name}'")));
    };
    let typed = |field: &'static str| -> Result<Option<Value>, (&'static str, String)> {
        match fields.get(field) {
            None | Some(Json::Null) => Ok(None),
            Some(json) => {
                let value = json_to_value(json).ok_or((field, format!("expected a scalar, got {json}")))?;
                value.coerce(datatype).map(Some).map_err(|e| (field, e.to_string()))
            }
        }
    };
    let min = typed("min")?;
    let max = typed("max")?;
    if let (Some(lo), Some(hi)) = (&min, &max) {
        if lo.compare(hi) == Some(std::cmp::Ordering::Greater) {
            return Err(("min", format!("minimum {lo} is above the maximum {hi}")));
        }
    }
    let allowed = match fields.get("allowed") {
        None | Some(Json::Null) => None,
        Some(Json::Array(items)) => Some(
            items
                .iter()
                .map(|item| {
                    json_to_value(item)
                        .ok_or(("allowed", format!("expected scalars, got {item}")))
                        .and_then(|v| v.coerce(datatype).map_err(|e| ("allowed", e.to_string())))
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(other) => return Err(("allowed", format!("expected a list, got {other}"))),
    };
    let spec = SignalSpec {
        path: path.to_string(),
        kind,
        datatype,
        unit: fields.get("unit").and_then(Json::as_str).map(str::to_string),
        min,
        max,
        allowed,
        default: None,
        description: fields.get("description").and_then(Json::as_str).unwrap_or_default().to_string(),
    };
    let default = typed("default")?;
    if let Some(value) = &default {
        spec.check_limits(value).map_err(|e| ("default", e.to_string()))?;
    }
    Ok(Some(SignalSpec { default, ..spec }))
}

pub(crate) fn json_to_value(json: &Json) -> Option<Value> {
    match json {
        Json::Bool(b) => Some(Value::Bool(*b)),
        Json::Number(n) => n.as_i64().map(Value::Int).or_else(|| n.as_u64().map(Value::Uint)).or_else(|| n.as_f64().map(Value::Float)),
        Json::String(s) => Some(Value::String(s.clone())),
        _ => None,
    }
}

/// Finds the line of a node in vss-tools JSON by looking for each path segment as a key after the
/// previous one. serde_json keeps no positions; the export nests keys in path order, so this finds
/// the node's own line.
fn json_line_of_path(text: &str, path: &str) -> usize {
    let mut offset = 0;
    for segment in path.split('.') {
        let key = format!("\"{segment}\"");
        let mut search_from = offset;
        loop {
            let Some(found) = text[search_from..].find(&key) else { return line_at(text, offset) };
            let after = search_from + found + key.len();
            if text[after..].trim_start().starts_with(':') {
                offset = search_from + found;
                break;
            }
            search_from = after;
        }
    }
    line_at(text, offset)
}

fn line_at(text: &str, offset: usize) -> usize {
    text[..offset].bytes().filter(|&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"{
  "Vehicle": {
    "type": "branch",
    "children": {
      "Speed": { "type": "sensor", "datatype": "float", "unit": "km/h", "description": "Speed." },
      "Cabin": {
        "type": "branch",
        "children": {
          "Volume": { "type": "actuator", "datatype": "uint8", "min": 0, "max": 100 },
          "Mode": { "type": "actuator", "datatype": "string", "allowed": ["ECO", "SPORT"] }
        }
      }
    }
  }
}"#;

    #[test]
    fn nested_branches_become_dotted_paths() {
        let catalog = Catalog::from_vss_json(&Source::new("small.json", SMALL)).unwrap();
        let paths: Vec<&str> = catalog.signals.keys().map(String::as_str).collect();
        assert_eq!(paths, ["Vehicle.Cabin.Mode", "Vehicle.Cabin.Volume", "Vehicle.Speed"]);
        let volume = catalog.get("Vehicle.Cabin.Volume").unwrap();
        assert_eq!(volume.kind, SignalKind::Actuator);
        assert_eq!(volume.max, Some(Value::Uint(100)));
        assert!(volume.check_limits(&Value::Uint(101)).is_err());
        let mode = catalog.get("Vehicle.Cabin.Mode").unwrap();
        assert!(mode.check_limits(&Value::String("ECO".into())).is_ok());
        assert!(mode.check_limits(&Value::String("TURBO".into())).is_err());
    }

    #[test]
    fn every_bad_leaf_is_reported_with_its_line() {
        let bad =
            SMALL.replace(r#""datatype": "float""#, r#""datatype": "floaty""#).replace(r#""min": 0, "max": 100"#, r#""min": 10, "max": 5"#);
        let errors = Catalog::from_vss_json(&Source::new("bad.json", bad)).unwrap_err();
        let text = errors.to_string();
        assert!(text.contains("bad.json:5: Vehicle.Speed.datatype: unknown datatype 'floaty'"), "{text}");
        assert!(text.contains("bad.json:9: Vehicle.Cabin.Volume.min: minimum 10 is above the maximum 5"), "{text}");
    }

    #[test]
    fn broken_json_names_the_line() {
        let errors = Catalog::from_vss_json(&Source::new("broken.json", "{\n  \"Vehicle\": {,\n}")).unwrap_err();
        assert!(errors.to_string().starts_with("broken.json:2: not valid JSON"), "{errors}");
    }
}
