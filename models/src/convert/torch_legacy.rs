//! A legacy (pre-1.6, non-zip) PyTorch `torch.save` file to safetensors.
//!
//! The legacy format is five pickles back to back — magic number, protocol version, system
//! info, the saved object, the list of storage keys — followed by each storage's raw bytes
//! (an u64 element count, then the elements) in the order of that list. Tensors in the saved
//! object refer to storages by key with an offset, a size and a stride; strides are honoured,
//! so a weight saved in TensorFlow's memory order comes out contiguous.
//!
//! The pickles are read with candle's pickle machine, which never runs any code from the file.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use candle_core::pickle::{Object, Stack};
use candle_core::{Device, Tensor};
use thiserror::Error;

/// The first pickle: `torch.serialization`'s magic number 0x1950a86a20f9469cfc6c as pickle
/// protocol 2 writes it (a 10-byte LONG1). Compared as bytes: it does not fit an i64.
const MAGIC_PICKLE: [u8; 15] = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, b'.'];
const PROTOCOL: i64 = 1001;

#[derive(Debug, Error)]
pub enum ConvertError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: not a legacy PyTorch file: {reason}", path.display())]
    Format { path: PathBuf, reason: String },
    #[error("{}: tensor `{name}`: {reason}", path.display())]
    Tensor { path: PathBuf, name: String, reason: String },
}

/// What a conversion produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converted {
    pub tensors: usize,
    pub parameters: usize,
}

/// A tensor of the saved state dict, before its storage has been read.
struct TensorRef {
    name: String,
    storage: String,
    /// The storage's class: `FloatStorage`, `LongStorage`, ...
    storage_class: String,
    offset: usize,
    shape: Vec<usize>,
    stride: Vec<usize>,
}

/// Bytes per element of a storage class; only `FloatStorage` is converted, the others are
/// read to get past them.
fn element_size(storage_class: &str) -> Option<usize> {
    match storage_class {
        "FloatStorage" | "IntStorage" => Some(4),
        "DoubleStorage" | "LongStorage" => Some(8),
        "HalfStorage" | "BFloat16Storage" | "ShortStorage" => Some(2),
        "ByteStorage" | "CharStorage" | "BoolStorage" => Some(1),
        _ => None,
    }
}

/// Reads the state dict in `input` and writes its floating-point tensors, contiguous f32, to
/// `output`. Integer bookkeeping (BatchNorm's `num_batches_tracked`) is left out.
pub fn convert(input: &Path, output: &Path) -> Result<Converted, ConvertError> {
    let format = |reason: String| ConvertError::Format { path: input.to_owned(), reason };
    let file = File::open(input).map_err(|source| ConvertError::Io { path: input.to_owned(), source })?;
    let mut reader = BufReader::new(file);
    let mut magic = [0u8; MAGIC_PICKLE.len()];
    reader.read_exact(&mut magic).map_err(|e| format(format!("reading the magic number: {e}")))?;
    if magic != MAGIC_PICKLE {
        return Err(format("no legacy magic number at the start (a zip-format checkpoint is not this format)".into()));
    }
    let mut next_pickle = |what: &str| -> Result<Object, ConvertError> {
        let mut stack = Stack::empty();
        stack.read_loop(&mut reader).and_then(|()| stack.finalize()).map_err(|e| format(format!("reading the {what}: {e}")))
    };
    match next_pickle("protocol version")? {
        Object::Int(version) if i64::from(version) == PROTOCOL => {}
        other => return Err(format(format!("protocol version {other:?}, expected {PROTOCOL}"))),
    }
    let _system_info = next_pickle("system info")?;
    let tensors = tensor_refs(next_pickle("state dict")?).map_err(format)?;
    let keys = match next_pickle("storage keys")? {
        Object::List(keys) => {
            keys.into_iter().map(|key| key.unicode().map_err(|k| format(format!("storage key {k:?}")))).collect::<Result<Vec<_>, _>>()?
        }
        other => return Err(format(format!("storage keys are {other:?}"))),
    };

    let classes: HashMap<&str, &str> = tensors.iter().map(|t| (t.storage.as_str(), t.storage_class.as_str())).collect();
    let mut storages = HashMap::new();
    for key in keys {
        let class = classes.get(key.as_str()).copied().unwrap_or("unreferenced");
        let size = element_size(class).ok_or_else(|| format(format!("storage {key} has unknown type {class}")))?;
        let data = read_storage(&mut reader, size).map_err(|e| format(format!("storage {key}: {e}")))?;
        storages.insert(key, data);
    }

    let mut converted = HashMap::new();
    let mut parameters = 0;
    for tensor in &tensors {
        let storage = storages.get(&tensor.storage).ok_or_else(|| format(format!("no storage {} for {}", tensor.storage, tensor.name)))?;
        if tensor.storage_class != "FloatStorage" {
            tracing::debug!(tensor = %tensor.name, class = %tensor.storage_class, "left out: not f32");
            continue;
        }
        let values = gather_f32(tensor, storage).map_err(|reason| ConvertError::Tensor {
            path: input.to_owned(),
            name: tensor.name.clone(),
            reason,
        })?;
        parameters += values.len();
        let value = Tensor::from_vec(values, tensor.shape.as_slice(), &Device::Cpu).map_err(|e| ConvertError::Tensor {
            path: input.to_owned(),
            name: tensor.name.clone(),
            reason: e.to_string(),
        })?;
        converted.insert(tensor.name.clone(), value);
    }
    candle_core::safetensors::save(&converted, output)
        .map_err(|e| ConvertError::Io { path: output.to_owned(), source: io::Error::other(e.to_string()) })?;
    Ok(Converted { tensors: converted.len(), parameters })
}

/// The name → tensor entries of a saved state dict (an `OrderedDict`, perhaps with metadata).
fn tensor_refs(object: Object) -> Result<Vec<TensorRef>, String> {
    let entries = match object {
        Object::Dict(entries) => entries,
        Object::Build { callable, .. } => match *callable {
            Object::Dict(entries) => entries,
            other => return Err(format!("the saved object is not a state dict: {other:?}")),
        },
        other => return Err(format!("the saved object is not a state dict: {other:?}")),
    };
    entries
        .into_iter()
        // candle's pickle machine merges the dict's attributes into its entries; `_metadata`
        // (module versions) is one of them.
        .filter(|(name, _)| !matches!(name, Object::Unicode(name) if name == "_metadata"))
        .map(|(name, value)| {
            let name = name.unicode().map_err(|n| format!("tensor name {n:?}"))?;
            tensor_ref(name.clone(), value).map_err(|e| format!("{name}: {e}"))
        })
        .collect()
}

/// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`, with the storage a
/// persistent id `('storage', <type>, key, location, numel, view)`.
fn tensor_ref(name: String, value: Object) -> Result<TensorRef, String> {
    let (callable, args) = value.reduce().map_err(|v| format!("not a tensor: {v:?}"))?;
    match callable {
        Object::Class { module_name, class_name } if module_name == "torch._utils" && class_name == "_rebuild_tensor_v2" => {}
        other => return Err(format!("not a plain tensor: {other:?}")),
    }
    let mut args = args.tuple().map_err(|a| format!("odd tensor arguments {a:?}"))?.into_iter();
    let mut next = || args.next().ok_or_else(|| "too few tensor arguments".to_string());
    let storage = next()?.persistent_load().map_err(|s| format!("storage {s:?}"))?;
    let offset = next()?.int_or_long().map_err(|o| format!("offset {o:?}"))?;
    let shape = Vec::<usize>::try_from(next()?).map_err(|s| format!("size {s:?}"))?;
    let stride = Vec::<usize>::try_from(next()?).map_err(|s| format!("stride {s:?}"))?;
    let (storage_class, storage) = match storage.tuple().map_err(|s| format!("storage {s:?}"))?.as_slice() {
        [_, Object::Class { class_name, .. }, Object::Unicode(key), ..] => (class_name.clone(), key.clone()),
        other => return Err(format!("storage id {other:?}")),
    };
    let offset = usize::try_from(offset).map_err(|_| "negative offset")?;
    Ok(TensorRef { name, storage, storage_class, offset, shape, stride })
}

fn read_storage(reader: &mut impl BufRead, element_size: usize) -> Result<Vec<u8>, String> {
    let mut count = [0u8; 8];
    reader.read_exact(&mut count).map_err(|e| format!("element count: {e}"))?;
    let count = usize::try_from(u64::from_le_bytes(count)).map_err(|_| "element count too large")?;
    let bytes = count.checked_mul(element_size).ok_or("element count too large")?;
    let mut data = Vec::new();
    reader.take(bytes as u64).read_to_end(&mut data).map_err(|e| e.to_string())?;
    if data.len() != bytes {
        return Err(format!("truncated: {} of {bytes} bytes", data.len()));
    }
    Ok(data)
}

/// The tensor's elements in row-major order, following its strides through the storage.
fn gather_f32(tensor: &TensorRef, storage: &[u8]) -> Result<Vec<f32>, String> {
    if tensor.shape.len() != tensor.stride.len() {
        return Err(format!("size {:?} and stride {:?} differ in rank", tensor.shape, tensor.stride));
    }
    let elements = storage.len() / 4;
    let count: usize = tensor.shape.iter().product();
    let mut values = Vec::with_capacity(count);
    let mut index = vec![0usize; tensor.shape.len()];
    for _ in 0..count {
        let at = tensor.offset + index.iter().zip(&tensor.stride).map(|(i, s)| i * s).sum::<usize>();
        if at >= elements {
            return Err(format!("element {at} is outside its storage of {elements}"));
        }
        let bytes = [storage[4 * at], storage[4 * at + 1], storage[4 * at + 2], storage[4 * at + 3]];
        values.push(f32::from_le_bytes(bytes));
        // Advance the row-major index, innermost dimension first.
        for dim in (0..index.len()).rev() {
            index[dim] += 1;
            if index[dim] < tensor.shape[dim] {
                break;
            }
            index[dim] = 0;
        }
    }
    Ok(values)
}
