//! Reading a CTranslate2 `model.bin` (spec v6): its named variables, their shapes and types, and
//! their values as integers or f32, each failure with the byte where the file stopped making sense.

use std::collections::HashMap;
use std::path::Path;

use half::f16;

use super::whisper_ggml::{ConvertError, CT2_FORMAT_VERSION};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ct2Type {
    F32,
    I8,
    I16,
    I32,
    F16,
    Bf16,
}

#[derive(Debug)]
pub(super) struct Variable {
    pub(super) dims: Vec<usize>,
    pub(super) dtype: Ct2Type,
    pub(super) data: std::ops::Range<usize>,
}

#[derive(Debug)]
pub(super) struct Ct2Model {
    pub(super) bytes: Vec<u8>,
    pub(super) variables: HashMap<String, Variable>,
}

/// A cursor over model.bin that reports where it stopped making sense.
struct Reader<'a> {
    path: &'a Path,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn fail(&self, reason: impl Into<String>) -> ConvertError {
        ConvertError::Format { path: self.path.to_owned(), offset: self.at, reason: reason.into() }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ConvertError> {
        let Some(end) = self.at.checked_add(n).filter(|&end| end <= self.bytes.len()) else {
            return Err(self.fail("file ends early"));
        };
        let bytes = self.bytes;
        let slice = &bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u8(&mut self) -> Result<u8, ConvertError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, ConvertError> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().expect("2 bytes")))
    }

    fn u32(&mut self) -> Result<u32, ConvertError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    fn string(&mut self) -> Result<String, ConvertError> {
        let len = self.u16()? as usize;
        let raw = self.take(len)?;
        let text = std::str::from_utf8(raw).map_err(|_| self.fail("a name is not UTF-8"))?;
        Ok(text.trim_end_matches('\0').to_owned())
    }
}

impl Ct2Model {
    pub(super) fn read(path: &Path) -> Result<Ct2Model, ConvertError> {
        let bytes = std::fs::read(path).map_err(|source| ConvertError::Io { path: path.to_owned(), source })?;
        let mut variables = HashMap::new();
        let mut reader = Reader { path, bytes: &bytes, at: 0 };
        let version = reader.u32()?;
        if version != CT2_FORMAT_VERSION {
            return Err(reader.fail(format!("format version {version}, this converter reads {CT2_FORMAT_VERSION}")));
        }
        let spec = reader.string()?;
        if spec != "WhisperSpec" {
            return Err(reader.fail(format!("holds a {spec}, not a WhisperSpec")));
        }
        let _revision = reader.u32()?;
        let count = reader.u32()?;
        for _ in 0..count {
            let name = reader.string()?;
            let rank = reader.u8()?;
            let dims = (0..rank).map(|_| reader.u32().map(|d| d as usize)).collect::<Result<Vec<_>, _>>()?;
            let dtype = match reader.u8()? {
                0 => Ct2Type::F32,
                1 => Ct2Type::I8,
                2 => Ct2Type::I16,
                3 => Ct2Type::I32,
                4 => Ct2Type::F16,
                5 => Ct2Type::Bf16,
                other => return Err(reader.fail(format!("`{name}` has unknown data type {other}"))),
            };
            let byte_count = reader.u32()? as usize;
            let start = reader.at;
            reader.take(byte_count)?;
            variables.insert(name, Variable { dims, dtype, data: start..start + byte_count });
        }
        // Aliases (the tied output projection) point at variables already read; ggml has no
        // separate output projection, so they are not needed.
        Ok(Ct2Model { bytes, variables })
    }

    pub(super) fn get(&self, name: &str) -> Result<&Variable, ConvertError> {
        self.variables.get(name).ok_or_else(|| ConvertError::Missing(name.into()))
    }

    pub(super) fn dims(&self, name: &str, rank: usize) -> Result<&[usize], ConvertError> {
        let variable = self.get(name)?;
        if variable.dims.len() != rank {
            return Err(ConvertError::Shape { name: name.into(), dims: variable.dims.clone(), expected: format!("rank {rank}") });
        }
        Ok(&variable.dims)
    }

    pub(super) fn integer(&self, name: &str) -> Result<usize, ConvertError> {
        let variable = self.get(name)?;
        let raw = &self.bytes[variable.data.clone()];
        let value = match (variable.dtype, raw.len()) {
            (Ct2Type::I8, 1) => raw[0] as i8 as i64,
            (Ct2Type::I16, 2) => i16::from_le_bytes([raw[0], raw[1]]) as i64,
            (Ct2Type::I32, 4) => i32::from_le_bytes(raw.try_into().expect("4 bytes")) as i64,
            _ => return Err(ConvertError::Shape { name: name.into(), dims: variable.dims.clone(), expected: "an integer scalar".into() }),
        };
        usize::try_from(value).map_err(|_| ConvertError::Shape { name: name.into(), dims: vec![], expected: "a positive integer".into() })
    }

    /// The variable's values as f32, whatever float type it is stored in.
    pub(super) fn floats(&self, name: &str) -> Result<Vec<f32>, ConvertError> {
        let variable = self.get(name)?;
        let raw = &self.bytes[variable.data.clone()];
        let pairs = raw.chunks_exact(2).map(|b| [b[0], b[1]]);
        Ok(match variable.dtype {
            Ct2Type::F32 => raw.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))).collect(),
            Ct2Type::F16 => pairs.map(|b| f16::from_le_bytes(b).to_f32()).collect(),
            Ct2Type::Bf16 => pairs.map(|b| half::bf16::from_le_bytes(b).to_f32()).collect(),
            _ => return Err(ConvertError::Shape { name: name.into(), dims: variable.dims.clone(), expected: "floating point".into() }),
        })
    }
}
