//! CTranslate2 whisper (spec v6) to whisper.cpp's ggml file.
//!
//! The registry packages carry whisper as CTranslate2 `model.bin` + `vocabulary.txt`;
//! whisper-rs loads whisper.cpp's ggml format. The two differ in naming, in fused
//! attention projections, in which tensors are fp32, and in what they carry: the mel
//! filter bank is not in the CTranslate2 package, so it is computed here.
//!
//! ggml layout: magic, 11 i32 hyper-parameters, the mel filters, the token table, then
//! tensors as (n_dims, name length, type, dims innermost first, name, data) until EOF.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use half::f16;
use thiserror::Error;

use super::ctranslate2::Ct2Model;
use super::mel::{mel_filters, N_FFT};

const GGML_MAGIC: u32 = 0x6767_6d6c;
pub(super) const CT2_FORMAT_VERSION: u32 = 6;
/// Tokens before the first special token: GPT-2's table for English models, plus one more
/// (`<|endoftext|>` moves up by one) for multilingual ones.
const ENGLISH_TEXT_TOKENS: usize = 50_256;
const MULTILINGUAL_VOCAB: usize = 51_865;

#[derive(Debug, Error)]
pub enum ConvertError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: not a CTranslate2 model at byte {offset}: {reason}", path.display())]
    Format { path: PathBuf, offset: usize, reason: String },
    #[error("model.bin has no variable `{0}`")]
    Missing(String),
    #[error("model.bin variable `{name}` has shape {dims:?}, expected {expected}")]
    Shape { name: String, dims: Vec<usize>, expected: String },
    #[error("{}:{line}: {reason}", path.display())]
    Vocabulary { path: PathBuf, line: usize, reason: String },
}

/// What a conversion produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converted {
    pub tensors: usize,
    pub multilingual: bool,
    pub encoder_layers: usize,
    pub decoder_layers: usize,
}

/// Reads `model.bin` and `vocabulary.txt` from `source_dir` and writes the ggml model to `output`.
pub fn convert(source_dir: &Path, output: &Path) -> Result<Converted, ConvertError> {
    let model_path = source_dir.join("model.bin");
    let model = Ct2Model::read(&model_path)?;
    let hparams = HyperParameters::of(&model)?;
    let vocabulary = read_vocabulary(&source_dir.join("vocabulary.txt"), hparams.text_tokens())?;

    let io_err = |source| ConvertError::Io { path: output.to_owned(), source };
    let mut out = BufWriter::new(File::create(output).map_err(io_err)?);
    let tensors = write_ggml(&mut out, &model, &hparams, &vocabulary).map_err(|e| match e {
        WriteError::Io(source) => io_err(source),
        WriteError::Convert(e) => e,
    })?;
    out.flush().map_err(io_err)?;
    Ok(Converted {
        tensors,
        multilingual: hparams.multilingual(),
        encoder_layers: hparams.audio_layers,
        decoder_layers: hparams.text_layers,
    })
}

// ---------------------------------------------------------------------------------------------
// Hyper-parameters, from the shapes

#[derive(Debug)]
struct HyperParameters {
    vocab: usize,
    audio_ctx: usize,
    audio_state: usize,
    audio_heads: usize,
    audio_layers: usize,
    text_ctx: usize,
    text_state: usize,
    text_heads: usize,
    text_layers: usize,
    mels: usize,
}

impl HyperParameters {
    fn of(model: &Ct2Model) -> Result<HyperParameters, ConvertError> {
        let layers =
            |prefix: &str| (0..).take_while(|i| model.variables.contains_key(&format!("{prefix}/layer_{i}/ffn/linear_0/weight"))).count();
        let encoder_positions = model.dims("encoder/position_encodings/encodings", 2)?;
        let decoder_positions = model.dims("decoder/position_encodings/encodings", 2)?;
        Ok(HyperParameters {
            vocab: model.dims("decoder/embeddings/weight", 2)?[0],
            audio_ctx: encoder_positions[0],
            audio_state: encoder_positions[1],
            audio_heads: model.integer("encoder/num_heads")?,
            audio_layers: layers("encoder"),
            text_ctx: decoder_positions[0],
            text_state: decoder_positions[1],
            text_heads: model.integer("decoder/num_heads")?,
            text_layers: layers("decoder"),
            mels: model.dims("encoder/conv1/weight", 3)?[1],
        })
    }

    fn multilingual(&self) -> bool {
        self.vocab >= MULTILINGUAL_VOCAB
    }

    fn text_tokens(&self) -> usize {
        ENGLISH_TEXT_TOKENS + usize::from(self.multilingual())
    }
}

// ---------------------------------------------------------------------------------------------
// Writing ggml

enum WriteError {
    Io(io::Error),
    Convert(ConvertError),
}

impl From<io::Error> for WriteError {
    fn from(e: io::Error) -> Self {
        WriteError::Io(e)
    }
}

impl From<ConvertError> for WriteError {
    fn from(e: ConvertError) -> Self {
        WriteError::Convert(e)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum GgmlType {
    F32 = 0,
    F16 = 1,
}

/// One output tensor: a row range of a CTranslate2 variable (fused projections are split
/// by rows), under its whisper.cpp name.
struct Tensor<'a> {
    name: String,
    source: &'a str,
    rows: Option<std::ops::Range<usize>>,
    ggml_type: GgmlType,
    /// whisper.cpp wants conv biases as [n, 1].
    column: bool,
}

fn write_ggml(out: &mut impl Write, model: &Ct2Model, hp: &HyperParameters, vocabulary: &[Vec<u8>]) -> Result<usize, WriteError> {
    out.write_all(&GGML_MAGIC.to_le_bytes())?;
    let ftype_f16 = 1;
    let header = [
        hp.vocab,
        hp.audio_ctx,
        hp.audio_state,
        hp.audio_heads,
        hp.audio_layers,
        hp.text_ctx,
        hp.text_state,
        hp.text_heads,
        hp.text_layers,
        hp.mels,
        ftype_f16,
    ];
    for value in header {
        write_i32(out, value)?;
    }

    let filters = mel_filters(hp.mels);
    write_i32(out, hp.mels)?;
    write_i32(out, N_FFT / 2 + 1)?;
    for value in filters {
        out.write_all(&value.to_le_bytes())?;
    }

    write_i32(out, vocabulary.len())?;
    for token in vocabulary {
        write_i32(out, token.len())?;
        out.write_all(token)?;
    }

    let tensors = tensor_plan(model, hp)?;
    for tensor in &tensors {
        write_tensor(out, model, tensor)?;
    }
    Ok(tensors.len())
}

fn tensor_plan<'a>(model: &'a Ct2Model, hp: &HyperParameters) -> Result<Vec<Tensor<'a>>, ConvertError> {
    let mut plan = Vec::new();
    let mut add = |name: String, source: &str, rows: Option<std::ops::Range<usize>>, ggml_type: GgmlType, column: bool| {
        let (key, _) = model.variables.get_key_value(source).ok_or_else(|| ConvertError::Missing(source.into()))?;
        plan.push(Tensor { name, source: key.as_str(), rows, ggml_type, column });
        Ok::<_, ConvertError>(())
    };
    // Weights of rank >= 2 stay fp16; vectors, conv biases and positions are fp32.
    let weight = |dims: usize| if dims >= 2 { GgmlType::F16 } else { GgmlType::F32 };

    for conv in ["conv1", "conv2"] {
        add(format!("encoder.{conv}.weight"), &format!("encoder/{conv}/weight"), None, GgmlType::F16, false)?;
        add(format!("encoder.{conv}.bias"), &format!("encoder/{conv}/bias"), None, GgmlType::F32, true)?;
    }
    add("encoder.positional_embedding".into(), "encoder/position_encodings/encodings", None, GgmlType::F32, false)?;
    add("encoder.ln_post.weight".into(), "encoder/layer_norm/gamma", None, GgmlType::F32, false)?;
    add("encoder.ln_post.bias".into(), "encoder/layer_norm/beta", None, GgmlType::F32, false)?;
    add("decoder.token_embedding.weight".into(), "decoder/embeddings/weight", None, GgmlType::F16, false)?;
    add("decoder.positional_embedding".into(), "decoder/position_encodings/encodings", None, GgmlType::F32, false)?;
    add("decoder.ln.weight".into(), "decoder/layer_norm/gamma", None, GgmlType::F32, false)?;
    add("decoder.ln.bias".into(), "decoder/layer_norm/beta", None, GgmlType::F32, false)?;

    for (side, layers, state) in [("encoder", hp.audio_layers, hp.audio_state), ("decoder", hp.text_layers, hp.text_state)] {
        for layer in 0..layers {
            let ct2 = |path: &str| format!("{side}/layer_{layer}/{path}");
            let ggml = |path: &str| format!("{side}.blocks.{layer}.{path}");
            let mut norm = |to: &str, from: &str| {
                add(ggml(&format!("{to}.weight")), &ct2(&format!("{from}/layer_norm/gamma")), None, GgmlType::F32, false)?;
                add(ggml(&format!("{to}.bias")), &ct2(&format!("{from}/layer_norm/beta")), None, GgmlType::F32, false)
            };
            norm("attn_ln", "self_attention")?;
            norm("mlp_ln", "ffn")?;
            if side == "decoder" {
                norm("cross_attn_ln", "attention")?;
            }
            let mut linear = |to: &str, from: &str, rows: Option<std::ops::Range<usize>>, with_bias: bool| {
                add(ggml(&format!("{to}.weight")), &ct2(&format!("{from}/weight")), rows.clone(), weight(2), false)?;
                if with_bias {
                    add(ggml(&format!("{to}.bias")), &ct2(&format!("{from}/bias")), rows, weight(1), false)?;
                }
                Ok::<_, ConvertError>(())
            };
            // Fused [Q; K; V] rows. whisper has no key bias: CTranslate2 stores zeros there.
            let d = state;
            linear("attn.query", "self_attention/linear_0", Some(0..d), true)?;
            linear("attn.key", "self_attention/linear_0", Some(d..2 * d), false)?;
            linear("attn.value", "self_attention/linear_0", Some(2 * d..3 * d), true)?;
            linear("attn.out", "self_attention/linear_1", None, true)?;
            if side == "decoder" {
                linear("cross_attn.query", "attention/linear_0", None, true)?;
                linear("cross_attn.key", "attention/linear_1", Some(0..d), false)?;
                linear("cross_attn.value", "attention/linear_1", Some(d..2 * d), true)?;
                linear("cross_attn.out", "attention/linear_2", None, true)?;
            }
            linear("mlp.0", "ffn/linear_0", None, true)?;
            linear("mlp.2", "ffn/linear_1", None, true)?;
        }
    }
    Ok(plan)
}

fn write_tensor(out: &mut impl Write, model: &Ct2Model, tensor: &Tensor) -> Result<(), WriteError> {
    let variable = model.get(tensor.source)?;
    let mut dims = variable.dims.clone();
    let row_len: usize = dims.iter().skip(1).product();
    let mut values = model.floats(tensor.source)?;
    if let Some(rows) = &tensor.rows {
        if rows.end > dims[0] {
            return Err(ConvertError::Shape { name: tensor.source.into(), dims, expected: format!("at least {} rows", rows.end) }.into());
        }
        values = values[rows.start * row_len..rows.end * row_len].to_vec();
        dims[0] = rows.len();
    }
    if tensor.column {
        dims.push(1);
    }
    write_i32(out, dims.len())?;
    write_i32(out, tensor.name.len())?;
    write_i32(out, tensor.ggml_type as usize)?;
    // ggml lists dimensions innermost first.
    for &dim in dims.iter().rev() {
        write_i32(out, dim)?;
    }
    out.write_all(tensor.name.as_bytes())?;
    match tensor.ggml_type {
        GgmlType::F32 => values.iter().try_for_each(|v| out.write_all(&v.to_le_bytes()))?,
        GgmlType::F16 => values.iter().try_for_each(|v| out.write_all(&f16::from_f32(*v).to_le_bytes()))?,
    }
    Ok(())
}

fn write_i32(out: &mut impl Write, value: usize) -> io::Result<()> {
    let value = i32::try_from(value).map_err(|_| io::Error::other(format!("{value} does not fit a ggml header field")))?;
    out.write_all(&value.to_le_bytes())
}

// ---------------------------------------------------------------------------------------------
// Vocabulary: GPT-2's byte-to-printable-character form, back to bytes

/// The printable stand-in GPT-2 uses for each byte, inverted.
fn gpt2_byte_decoder() -> HashMap<char, u8> {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut next_stand_in = 256u32;
    let mut decoder = HashMap::new();
    for byte in 0..=255u8 {
        let stand_in = if printable(byte) {
            char::from(byte)
        } else {
            let c = char::from_u32(next_stand_in).expect("below 0x200 is a char");
            next_stand_in += 1;
            c
        };
        decoder.insert(stand_in, byte);
    }
    decoder
}

fn read_vocabulary(path: &Path, tokens: usize) -> Result<Vec<Vec<u8>>, ConvertError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConvertError::Io { path: path.to_owned(), source })?;
    let decoder = gpt2_byte_decoder();
    let lines: Vec<&str> = text.lines().take(tokens).collect();
    if lines.len() < tokens {
        return Err(ConvertError::Vocabulary { path: path.into(), line: lines.len() + 1, reason: format!("ends before token {tokens}") });
    }
    lines
        .iter()
        .enumerate()
        .map(|(index, line)| {
            line.chars().map(|c| decoder.get(&c).copied()).collect::<Option<Vec<u8>>>().ok_or_else(|| ConvertError::Vocabulary {
                path: path.into(),
                line: index + 1,
                reason: format!("`{line}` is not in GPT-2 byte form"),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpt2_byte_form_decodes_spaces_and_newlines() {
        let decoder = gpt2_byte_decoder();
        assert_eq!(decoder[&'Ġ'], b' ');
        assert_eq!(decoder[&'Ċ'], b'\n');
        assert_eq!(decoder[&'a'], b'a');
        assert_eq!(decoder.len(), 256);
    }

    #[test]
    fn a_file_that_is_not_ctranslate2_is_reported_with_its_offset() {
        let dir = tempfile::tempdir().unwrap();
        // A valid start, cut off inside the revision number.
        std::fs::write(dir.path().join("model.bin"), b"\x06\x00\x00\x00\x0b\x00WhisperSpec\x03\x00").unwrap();
        let error = convert(dir.path(), &dir.path().join("out.bin")).unwrap_err();
        assert!(error.to_string().contains("file ends early"), "{error}");
        assert!(error.to_string().contains("model.bin"), "{error}");
    }
}
