//! Sentence embeddings with all-MiniLM-L6-v2 in candle: BERT, mean pooling over real tokens,
//! L2-normalised, so a dot product is a cosine similarity.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{LayerNorm, VarBuilder};
use candle_transformers::models::bert::{BertEncoder, Config, DTYPE};
use tokenizers::{PaddingParams, Tokenizer};

use crate::word_rows::WordRows;
use crate::EncoderError;

/// BERT's embedding layer and encoder, put together here rather than as candle's `BertModel`,
/// so that the word table can stay in its file.
pub struct SentenceEncoder {
    /// f32 rows, read from the file when a token needs them.
    words: WordRows,
    positions: Tensor,
    token_types: Tensor,
    embedding_norm: LayerNorm,
    encoder: BertEncoder,
    hidden: usize,
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
        let weights_error = |message: String| load_error(&weights_path, message);
        let (header, metadata) = safetensors::SafeTensors::read_metadata(&weights).map_err(|e| weights_error(e.to_string()))?;
        let word_table = "embeddings.word_embeddings.weight";
        let (vocabulary, hidden) = (config.vocab_size, config.hidden_size);
        let words = match metadata.info(word_table) {
            Some(info) if info.dtype == safetensors::Dtype::F32 && info.shape == [vocabulary, hidden] => {
                // Offsets count from the end of the header, which follows its 8-byte length.
                WordRows::open(&weights_path, (8 + header + info.data_offsets.0) as u64, vocabulary, hidden * 4)?
            }
            Some(info) => {
                return Err(weights_error(format!(
                    "{word_table} is {:?} {:?}; expected F32 [{vocabulary}, {hidden}]",
                    info.dtype, info.shape
                )))
            }
            None => return Err(weights_error(format!("{word_table} is missing"))),
        };
        let device = Device::Cpu;
        let vb = VarBuilder::from_buffered_safetensors(weights, DTYPE, &device).map_err(|e| weights_error(e.to_string()))?;
        let tensor = |name: &str, shape: (usize, usize)| vb.get(shape, name).map_err(|e| weights_error(e.to_string()));
        let positions = tensor("embeddings.position_embeddings.weight", (config.max_position_embeddings, hidden))?;
        let token_types = tensor("embeddings.token_type_embeddings.weight", (config.type_vocab_size, hidden))?;
        let embedding_norm = candle_nn::layer_norm(hidden, config.layer_norm_eps, vb.pp("embeddings.LayerNorm"))
            .map_err(|e| weights_error(e.to_string()))?;
        let encoder = BertEncoder::load(vb.pp("encoder"), &config).map_err(|e| weights_error(e.to_string()))?;
        Ok(SentenceEncoder {
            words,
            positions,
            token_types,
            embedding_norm,
            encoder,
            hidden,
            tokenizer,
            device,
            identity,
            dir: dir.to_owned(),
        })
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
        let type_ids = rows(&|e| e.get_type_ids())?;
        let mask = rows(&|e| e.get_attention_mask())?;
        let (batch, length) = type_ids.dims2()?;
        let ids: Vec<u32> = encodings.iter().flat_map(|e| e.get_ids().iter().copied()).collect();
        let words: Vec<f32> =
            self.words.read(&ids)?.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("four bytes"))).collect();
        let words = Tensor::from_vec(words, (batch, length, self.hidden), &self.device)?;
        let hidden = self.forward(&words, &type_ids, &mask)?;
        // Mean over real tokens only: padding must not pull short sentences towards each other.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?;
        Ok(mean.broadcast_div(&norms)?)
    }

    /// What candle's `BertModel` does after looking up the words: positions and token types
    /// added, normalised, then the encoder, with padding masked out of attention.
    fn forward(&self, words: &Tensor, type_ids: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let (batch, length, hidden) = words.dims3()?;
        let token_types = self.token_types.index_select(&type_ids.flatten_all()?, 0)?.reshape((batch, length, hidden))?;
        let embedded = words.broadcast_add(&self.positions.narrow(0, 0, length)?)?.add(&token_types)?;
        let embedded = self.embedding_norm.forward(&embedded)?;
        let mask = mask.to_dtype(DTYPE)?.unsqueeze(1)?.unsqueeze(1)?;
        let blocked = ((mask.ones_like()? - &mask)? * f64::from(f32::MIN))?;
        self.encoder.forward(&embedded, &blocked)
    }
}
