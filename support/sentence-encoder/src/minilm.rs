//! Sentence embeddings with all-MiniLM-L6-v2 in candle: BERT, mean pooling over real tokens,
//! L2-normalised, so a dot product is a cosine similarity.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config, DTYPE};
use tokenizers::{PaddingParams, Tokenizer};

use crate::EncoderError;

pub struct SentenceEncoder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    identity: String,
    dir: PathBuf,
}

impl std::fmt::Debug for SentenceEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentenceEncoder").finish_non_exhaustive()
    }
}

/// Sentences longer than this are cut: commands are short, and attention cost grows with the square.
const MAX_TOKENS: usize = 64;

impl SentenceEncoder {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from an installed model folder.
    pub fn load(dir: &Path) -> Result<SentenceEncoder, EncoderError> {
        let load_error = |path: &Path, message: String| EncoderError::Load { path: path.to_owned(), message };
        let config_path = dir.join("config.json");
        let config_text = std::fs::read_to_string(&config_path).map_err(|e| load_error(&config_path, e.to_string()))?;
        let config: Config = serde_json::from_str(&config_text).map_err(|e| load_error(&config_path, e.to_string()))?;

        let tokenizer_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path).map_err(|e| load_error(&tokenizer_path, e.to_string()))?;
        tokenizer.with_padding(Some(PaddingParams::default()));
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams { max_length: MAX_TOKENS, ..Default::default() }))
            .map_err(|e| load_error(&tokenizer_path, e.to_string()))?;

        let weights_path = dir.join("model.safetensors");
        let weights = std::fs::read(&weights_path).map_err(|e| load_error(&weights_path, e.to_string()))?;
        let identity = crate::identity_of(&weights_path, weights.len());
        let device = Device::Cpu;
        let vb = VarBuilder::from_buffered_safetensors(weights, DTYPE, &device).map_err(|e| load_error(&weights_path, e.to_string()))?;
        let model = BertModel::load(vb, &config).map_err(|e| load_error(&weights_path, e.to_string()))?;
        Ok(SentenceEncoder { model, tokenizer, device, identity, dir: dir.to_owned() })
    }

    /// Which weights this is (see [`crate::identity_of`]).
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The installed model folder it was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The encoder in `dir`, loaded once per process: while anyone holds it, the next caller
    /// gets the same copy.
    pub fn shared(dir: &Path) -> Result<Arc<SentenceEncoder>, EncoderError> {
        static LOADED: OnceLock<Mutex<HashMap<PathBuf, Weak<SentenceEncoder>>>> = OnceLock::new();
        let mut loaded = LOADED.get_or_init(Mutex::default).lock().unwrap_or_else(|e| e.into_inner());
        if let Some(encoder) = loaded.get(dir).and_then(Weak::upgrade) {
            return Ok(encoder);
        }
        let encoder = Arc::new(SentenceEncoder::load(dir)?);
        loaded.insert(dir.to_owned(), Arc::downgrade(&encoder));
        Ok(encoder)
    }

    /// One unit-length embedding row per sentence: a tensor of shape (sentences, 384).
    pub fn encode(&self, sentences: &[&str]) -> Result<Tensor, EncoderError> {
        let encodings = self.tokenizer.encode_batch(sentences.to_vec(), true).map_err(|e| EncoderError::Tokenize(e.to_string()))?;
        let rows = |f: &dyn Fn(&tokenizers::Encoding) -> &[u32]| -> Result<Tensor, EncoderError> {
            let rows = encodings.iter().map(|e| Tensor::new(f(e), &self.device)).collect::<Result<Vec<_>, _>>()?;
            Ok(Tensor::stack(&rows, 0)?)
        };
        let ids = rows(&|e| e.get_ids())?;
        let type_ids = rows(&|e| e.get_type_ids())?;
        let mask = rows(&|e| e.get_attention_mask())?;
        let hidden = self.model.forward(&ids, &type_ids, Some(&mask))?;
        // Mean over real tokens only: padding must not pull short sentences towards each other.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?;
        Ok(mean.broadcast_div(&norms)?)
    }
}
