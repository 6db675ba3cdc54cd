//! A TensorFlow.js graph model as saved by `tensorflowjs_converter`: `model.json` holds the
//! frozen TensorFlow graph (nodes with their op, inputs and attributes) and a manifest of
//! the weights, which lie back to back in the `.bin` files it names, some stored as fp16.
//! Only what running the graph needs is read; see `centernet.rs` for the ops.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum GraphError {
    #[error("{}: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("{}: weight `{name}`: {message}", path.display())]
    Weight { path: PathBuf, name: String, message: String },
    #[error("{}: node `{node}` ({op}): {message}", path.display())]
    Node { path: PathBuf, node: String, op: String, message: String },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ModelJson {
    format: String,
    model_topology: Topology,
    weights_manifest: Vec<WeightGroup>,
}

#[derive(Debug, Deserialize)]
struct Topology {
    node: Vec<Node>,
}

/// One node of the frozen graph. Inputs name other nodes, `name:1` being a second output.
#[derive(Debug, Clone, Deserialize)]
pub struct Node {
    pub name: String,
    pub op: String,
    #[serde(default)]
    pub input: Vec<String>,
    #[serde(default)]
    pub attr: HashMap<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct WeightGroup {
    paths: Vec<String>,
    weights: Vec<WeightSpec>,
}

#[derive(Debug, Deserialize)]
struct WeightSpec {
    name: String,
    shape: Vec<usize>,
    dtype: String,
    #[serde(default)]
    quantization: Option<Quantization>,
}

#[derive(Debug, Deserialize)]
struct Quantization {
    dtype: String,
}

/// A constant of the graph, widened to f32 or i32.
#[derive(Debug, Clone, PartialEq)]
pub enum Constant {
    F32 { shape: Vec<usize>, values: Vec<f32> },
    I32 { shape: Vec<usize>, values: Vec<i32> },
}

/// The graph's nodes in file order and its constants by node name.
#[derive(Debug)]
pub struct Graph {
    pub path: PathBuf,
    pub nodes: Vec<Node>,
    pub constants: HashMap<String, Constant>,
}

impl Graph {
    /// Reads `model.json` and the weight files beside it.
    pub fn load(path: &Path) -> Result<Graph, GraphError> {
        let read_error = |message: String| GraphError::Read { path: path.to_owned(), message };
        let text = std::fs::read_to_string(path).map_err(|e| read_error(e.to_string()))?;
        let model: ModelJson = serde_json::from_str(&text).map_err(|e| read_error(e.to_string()))?;
        if model.format != "graph-model" {
            return Err(read_error(format!("format is {:?}, not a TensorFlow.js graph model", model.format)));
        }
        let folder = path.parent().unwrap_or(Path::new("."));
        let mut constants = HashMap::new();
        for group in &model.weights_manifest {
            let mut bytes = Vec::new();
            for file in &group.paths {
                let weights_path = folder.join(file);
                let mut data =
                    std::fs::read(&weights_path).map_err(|e| GraphError::Read { path: weights_path.clone(), message: e.to_string() })?;
                bytes.append(&mut data);
            }
            let mut at = 0;
            for spec in &group.weights {
                let (constant, used) = decode(spec, &bytes[at.min(bytes.len())..]).map_err(|message| GraphError::Weight {
                    path: path.to_owned(),
                    name: spec.name.clone(),
                    message,
                })?;
                at += used;
                constants.insert(spec.name.clone(), constant);
            }
            if at != bytes.len() {
                return Err(read_error(format!("the weights take {at} bytes, the files {:?} hold {}", group.paths, bytes.len())));
            }
        }
        Ok(Graph { path: path.to_owned(), nodes: model.model_topology.node, constants })
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// An error about `node`, naming the file.
    pub fn error(&self, node: &Node, message: impl Into<String>) -> GraphError {
        GraphError::Node { path: self.path.clone(), node: node.name.clone(), op: node.op.clone(), message: message.into() }
    }
}

/// One weight from the front of `bytes`, and how many bytes it took.
fn decode(spec: &WeightSpec, bytes: &[u8]) -> Result<(Constant, usize), String> {
    let count: usize = spec.shape.iter().product();
    let stored = spec.quantization.as_ref().map_or(spec.dtype.as_str(), |q| q.dtype.as_str());
    let width = match stored {
        "float32" | "int32" => 4,
        "float16" => 2,
        other => return Err(format!("stored as {other}, which is not read here")),
    };
    let used = count * width;
    let data = bytes.get(..used).ok_or_else(|| format!("needs {used} bytes, {} are left", bytes.len()))?;
    let shape = spec.shape.clone();
    let constant = match (stored, spec.dtype.as_str()) {
        ("float32", "float32") => {
            Constant::F32 { shape, values: data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect() }
        }
        ("float16", "float32") => {
            Constant::F32 { shape, values: data.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect() }
        }
        ("int32", "int32") => {
            Constant::I32 { shape, values: data.chunks_exact(4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect() }
        }
        (stored, dtype) => return Err(format!("{dtype} stored as {stored} is not read here")),
    };
    Ok((constant, used))
}

/// Typed access to a node's attributes (TensorFlow's `AttrValue` as JSON).
pub trait Attributes {
    fn string(&self, key: &str) -> Option<String>;
    fn ints(&self, key: &str) -> Option<Vec<i64>>;
    fn strings(&self, key: &str) -> Vec<String>;
    fn boolean(&self, key: &str) -> Option<bool>;
}

impl Attributes for Node {
    /// Strings are base64 in the JSON.
    fn string(&self, key: &str) -> Option<String> {
        self.attr.get(key)?.get("s")?.as_str().and_then(base64_text)
    }

    fn ints(&self, key: &str) -> Option<Vec<i64>> {
        let list = self.attr.get(key)?.get("list")?.get("i")?.as_array()?;
        list.iter().map(|v| v.as_str().and_then(|s| s.parse().ok()).or_else(|| v.as_i64())).collect()
    }

    fn strings(&self, key: &str) -> Vec<String> {
        let list = self.attr.get(key).and_then(|v| v.get("list")).and_then(|v| v.get("s")).and_then(|v| v.as_array());
        list.map(|items| items.iter().filter_map(|v| v.as_str().and_then(base64_text)).collect()).unwrap_or_default()
    }

    fn boolean(&self, key: &str) -> Option<bool> {
        self.attr.get(key)?.get("b")?.as_bool()
    }
}

/// Attribute strings are base64 in the JSON (a padding mode, an op name).
fn base64_text(encoded: &str) -> Option<String> {
    use base64::Engine;
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_strings_are_base64() {
        assert_eq!(base64_text("U0FNRQ==").as_deref(), Some("SAME"));
        assert_eq!(base64_text("VkFMSUQ=").as_deref(), Some("VALID"));
        assert_eq!(base64_text("Qmlhc0FkZA==").as_deref(), Some("BiasAdd"));
        assert_eq!(base64_text("not*base64"), None);
    }

    #[test]
    fn fp16_weights_are_widened_and_short_files_refused() {
        let spec = WeightSpec {
            name: "w".into(),
            shape: vec![2],
            dtype: "float32".into(),
            quantization: Some(Quantization { dtype: "float16".into() }),
        };
        let bytes: Vec<u8> = [half::f16::from_f32(1.5), half::f16::from_f32(-2.0)].iter().flat_map(|h| h.to_le_bytes()).collect();
        assert_eq!(decode(&spec, &bytes).unwrap(), (Constant::F32 { shape: vec![2], values: vec![1.5, -2.0] }, 4));
        assert!(decode(&spec, &bytes[..3]).unwrap_err().contains("needs 4 bytes"));
    }
}
