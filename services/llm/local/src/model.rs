//! Loading a GGUF chat model and generating from it, one token at a time.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use candle_core::quantized::gguf_file::Content;
use candle_core::Device;
use candle_transformers::generation::{LogitsProcessor, Sampling as CandleSampling};
use thiserror::Error;
use tokenizers::Tokenizer;

use crate::tokenizer::{tokenizer_from_gguf, TokenizerError};
use crate::transformer::Transformer;

#[derive(Debug, Error)]
pub enum LoadError {
    #[error("{}: {source}", path.display())]
    Open { path: PathBuf, source: std::io::Error },
    #[error("{}: not a readable GGUF file: {source}", path.display())]
    Gguf { path: PathBuf, source: candle_core::Error },
    #[error("{}: architecture {architecture:?} is not supported (qwen2, llama)", path.display())]
    Architecture { path: PathBuf, architecture: String },
    #[error("{}: weights: {source}", path.display())]
    Weights { path: PathBuf, source: candle_core::Error },
    #[error("{}: tokenizer: {source}", path.display())]
    Tokenizer { path: PathBuf, source: TokenizerError },
}

#[derive(Debug, Error)]
pub enum GenerateError {
    #[error("the prompt has {tokens} tokens; the model's context holds {context}")]
    TooLong { tokens: usize, context: usize },
    #[error("tokenizing: {0}")]
    Tokenize(String),
    #[error("model: {0}")]
    Model(#[from] candle_core::Error),
}

/// How to pick each next token. Temperature 0 is greedy: the same prompt, the same answer.
#[derive(Debug, Clone)]
pub struct Sampling {
    pub max_tokens: usize,
    pub temperature: f64,
    pub top_p: Option<f64>,
    pub seed: u64,
    /// Logits of tokens among the last `repeat_window` are divided by this (1.0: off). Small
    /// models loop ("I'm right here. I'm right here.") without it.
    pub repeat_penalty: f32,
    pub repeat_window: usize,
    /// Generation stops before any of these strings.
    pub stop: Vec<String>,
}

impl Default for Sampling {
    fn default() -> Sampling {
        Sampling {
            max_tokens: 256,
            temperature: 0.0,
            top_p: None,
            seed: 299_792_458,
            repeat_penalty: 1.1,
            repeat_window: 64,
            stop: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// The model ended its turn, or a stop string came.
    Stop,
    /// `max_tokens` ran out.
    Length,
    /// The caller stopped listening.
    Cancelled,
}

#[derive(Debug, Clone)]
pub struct Generation {
    pub text: String,
    pub finish: Finish,
    pub prompt_tokens: usize,
    /// Prompt tokens whose keys and values were still cached from the last generation.
    pub reused_tokens: usize,
    pub completion_tokens: usize,
    /// From the call until the first token was chosen: prompt processing.
    pub time_to_first_token: Duration,
    pub elapsed: Duration,
}

impl Generation {
    /// Decoding speed after the first token.
    pub fn tokens_per_second(&self) -> f64 {
        let decoding = self.elapsed.saturating_sub(self.time_to_first_token).as_secs_f64();
        if self.completion_tokens > 1 && decoding > 0.0 {
            (self.completion_tokens - 1) as f64 / decoding
        } else {
            0.0
        }
    }
}

/// The weights and what their KV cache holds.
struct State {
    weights: Transformer,
    /// The tokens whose keys and values are cached, in order.
    cached: Vec<u32>,
}

impl State {
    /// Keeps the cache of the longest prefix `tokens` share with what is cached, at most `limit`
    /// tokens, and returns its length; `tokens` are then taken as cached. The next turn of a
    /// conversation repeats the last prompt and answer, and a new one starts with the same
    /// persona and tools: only what follows the part already cached goes through the model.
    fn reuse_cache(&mut self, tokens: &[u32], limit: usize) -> Result<usize, GenerateError> {
        let common = self.cached.iter().zip(tokens).take_while(|(cached, new)| cached == new).count();
        let reused = common.min(limit);
        if let Err(error) = self.weights.truncate_kv_cache(reused) {
            self.forget();
            return Err(error.into());
        }
        self.cached = tokens.to_vec();
        Ok(reused)
    }

    /// After a failure the cache may hold part of a pass: nothing of it is trusted.
    fn forget(&mut self) {
        self.weights.clear_kv_cache();
        self.cached.clear();
    }
}

/// How the model rates one token of a given continuation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenScore {
    pub token: u32,
    /// Natural log of the probability the model gives `token` here.
    pub log_probability: f32,
    /// The token the model would have chosen itself (greedy), and its log probability.
    pub best: u32,
    pub best_log_probability: f32,
}

/// A loaded model. One generation at a time: the KV cache is the model's.
pub struct LocalLlm {
    name: String,
    state: Mutex<State>,
    tokenizer: Tokenizer,
    end_of_turn: Vec<u32>,
    context: usize,
}

impl std::fmt::Debug for LocalLlm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalLlm").field("name", &self.name).field("context", &self.context).finish_non_exhaustive()
    }
}

/// Longest prompt plus answer we allow, whatever the model was trained for: the KV cache of a
/// longer one costs memory a car's SoC does not have to spare.
const MAX_CONTEXT: usize = 4096;

impl LocalLlm {
    /// Loads `model.gguf` from a model folder, or a GGUF file itself.
    pub fn load(path: &Path) -> Result<LocalLlm, LoadError> {
        let path = if path.is_dir() { path.join("model.gguf") } else { path.to_path_buf() };
        let mut file = File::open(&path).map_err(|source| LoadError::Open { path: path.clone(), source })?;
        let content = Content::read(&mut file).map_err(|source| LoadError::Gguf { path: path.clone(), source })?;
        let meta = |key: &str| content.metadata.get(key);
        let architecture = meta("general.architecture").and_then(|v| v.to_string().ok()).cloned().unwrap_or_default();
        let tokenizer = tokenizer_from_gguf(&content).map_err(|source| LoadError::Tokenizer { path: path.clone(), source })?;
        let context = meta(&format!("{architecture}.context_length")).and_then(|v| v.to_u32().ok()).unwrap_or(2048) as usize;
        let name = meta("general.name").and_then(|v| v.to_string().ok()).cloned().unwrap_or_else(|| architecture.clone());
        let device = Device::Cpu;
        if !matches!(architecture.as_str(), "qwen2" | "llama") {
            return Err(LoadError::Architecture { path, architecture });
        }
        let weights = Transformer::from_gguf(&content, &mut file, &architecture, context.min(MAX_CONTEXT), &device)
            .map_err(|source| LoadError::Weights { path: path.clone(), source })?;
        let end_of_turn = ["<|im_end|>", "<|endoftext|>"].iter().filter_map(|t| tokenizer.token_to_id(t)).collect();
        drop(content);
        // The file's metadata (the vocabulary as GGUF strings, once more in the tokenizer) is freed.
        cabin_heap_release::release_freed_memory();
        tracing::info!(model = %name, path = %path.display(), threads = candle_core::utils::get_num_threads(), "loaded LLM");
        Ok(LocalLlm {
            name,
            state: Mutex::new(State { weights, cached: Vec::new() }),
            tokenizer,
            end_of_turn,
            context: context.min(MAX_CONTEXT),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The token ids of `text`, special tokens (`<|im_start|>`) matched whole.
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>, GenerateError> {
        Ok(self.tokenizer.encode(text, false).map_err(|e| GenerateError::Tokenize(e.to_string()))?.get_ids().to_vec())
    }

    /// The text of token ids, special tokens included.
    pub fn detokenize(&self, ids: &[u32]) -> Result<String, GenerateError> {
        self.tokenizer.decode(ids, false).map_err(|e| GenerateError::Tokenize(e.to_string()))
    }

    /// Rates `continuation` after `prompt`, token by token, each given the ones before it (not
    /// what the model would have generated): how likely the model finds a text, and where it
    /// would have chosen otherwise.
    pub fn score(&self, prompt: &str, continuation: &[u32]) -> Result<Vec<TokenScore>, GenerateError> {
        let prompt_tokens = self.tokenize(prompt)?;
        if prompt_tokens.is_empty() || continuation.is_empty() {
            return Err(GenerateError::Tokenize("the prompt or continuation is empty".into()));
        }
        let tokens = [prompt_tokens.as_slice(), continuation].concat();
        if tokens.len() > self.context {
            return Err(GenerateError::TooLong { tokens: tokens.len(), context: self.context });
        }
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let reused = state.reuse_cache(&tokens, prompt_tokens.len() - 1)?;
        // Logits after the prompt's last token predict the continuation's first, and so on.
        let first = prompt_tokens.len() - 1 - reused;
        let logits = match state.weights.forward_from(&tokens[reused..tokens.len() - 1], reused, first) {
            Ok(logits) => logits,
            Err(error) => {
                state.forget();
                return Err(error.into());
            }
        };
        // The last token was not fed: its keys and values are not cached.
        state.cached.pop();
        let log_probabilities = candle_nn::ops::log_softmax(&logits, candle_core::D::Minus1)?.to_vec2::<f32>()?;
        continuation
            .iter()
            .zip(log_probabilities)
            .map(|(&token, row)| {
                let log_probability =
                    *row.get(token as usize).ok_or_else(|| GenerateError::Tokenize(format!("token {token} is outside the vocabulary")))?;
                let (best, best_log_probability) =
                    row.iter().enumerate().fold((0, f32::NEG_INFINITY), |top, (id, &p)| if p > top.1 { (id, p) } else { top });
                Ok(TokenScore { token, log_probability, best: best as u32, best_log_probability })
            })
            .collect()
    }

    /// Continues `prompt` (a rendered chat, see [`crate::render_prompt`]). `on_text` gets each
    /// new piece of text as soon as it is whole UTF-8, with the natural log of the probability
    /// the model gave the least likely token in it (how sure it was); returning false stops
    /// generation.
    pub fn generate(
        &self,
        prompt: &str,
        sampling: &Sampling,
        mut on_text: impl FnMut(&str, f32) -> bool,
    ) -> Result<Generation, GenerateError> {
        let started = Instant::now();
        let prompt_tokens = self.tokenize(prompt)?;
        if prompt_tokens.is_empty() {
            return Err(GenerateError::Tokenize("the prompt is empty".into()));
        }
        if prompt_tokens.len() + sampling.max_tokens.min(64) > self.context {
            return Err(GenerateError::TooLong { tokens: prompt_tokens.len(), context: self.context });
        }
        let max_tokens = sampling.max_tokens.min(self.context - prompt_tokens.len());
        let mut logits_processor = LogitsProcessor::from_sampling(
            sampling.seed,
            match (sampling.temperature, sampling.top_p) {
                (t, _) if t <= 0.0 => CandleSampling::ArgMax,
                (temperature, Some(p)) => CandleSampling::TopP { p, temperature },
                (temperature, None) => CandleSampling::All { temperature },
            },
        );
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let reused = state.reuse_cache(&prompt_tokens, prompt_tokens.len() - 1)?;

        let mut generated: Vec<u32> = Vec::new();
        let mut text = String::new();
        let mut time_to_first_token = Duration::ZERO;
        let mut finish = Finish::Length;
        let mut input = prompt_tokens[reused..].to_vec();
        let mut position = reused;
        // The least likely token since the last piece was handed on.
        let mut piece_log_probability = 0f32;
        while generated.len() < max_tokens {
            let logits = match state.weights.forward(&input, position) {
                Ok(logits) => logits.squeeze(0)?,
                Err(error) => {
                    state.forget();
                    return Err(error.into());
                }
            };
            position += input.len();
            if !generated.is_empty() {
                state.cached.push(input[0]);
            }
            let logits = if sampling.repeat_penalty == 1.0 || generated.is_empty() {
                logits
            } else {
                let recent = &generated[generated.len().saturating_sub(sampling.repeat_window)..];
                candle_transformers::utils::apply_repeat_penalty(&logits, sampling.repeat_penalty, recent)?
            };
            let next = logits_processor.sample(&logits)?;
            let log_probability = candle_nn::ops::log_softmax(&logits, candle_core::D::Minus1)?.get(next as usize)?.to_scalar::<f32>()?;
            piece_log_probability = piece_log_probability.min(log_probability);
            if generated.is_empty() {
                time_to_first_token = started.elapsed();
            }
            if self.end_of_turn.contains(&next) {
                finish = Finish::Stop;
                break;
            }
            generated.push(next);
            input = vec![next];
            // Decoding the whole answer each time keeps multi-byte characters split across
            // tokens whole; answers are short, so this costs microseconds.
            let decoded = self.tokenizer.decode(&generated, false).map_err(|e| GenerateError::Tokenize(e.to_string()))?;
            if decoded.ends_with('\u{FFFD}') || decoded.len() <= text.len() {
                continue;
            }
            let mut piece = decoded[text.len()..].to_string();
            let stop_at = sampling.stop.iter().filter_map(|s| decoded.find(s.as_str())).min();
            if let Some(at) = stop_at {
                piece = decoded[text.len()..at.max(text.len())].to_string();
            }
            text.push_str(&piece);
            if !piece.is_empty() && !on_text(&piece, std::mem::take(&mut piece_log_probability)) {
                finish = Finish::Cancelled;
                break;
            }
            if stop_at.is_some() {
                finish = Finish::Stop;
                break;
            }
        }
        tracing::debug!(prompt = prompt_tokens.len(), reused, generated = generated.len(), "generated");
        Ok(Generation {
            text,
            finish,
            prompt_tokens: prompt_tokens.len(),
            reused_tokens: reused,
            completion_tokens: generated.len() + usize::from(finish == Finish::Stop),
            time_to_first_token,
            elapsed: started.elapsed(),
        })
    }
}
