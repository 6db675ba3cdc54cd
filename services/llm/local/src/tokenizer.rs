//! The tokenizer a GGUF file carries in its metadata (`tokenizer.ggml.*`), rebuilt as a
//! byte-level BPE: the vocabulary, the merges, the control tokens (`<|im_start|>`, ...) as
//! special tokens, and the pre-tokenizer named by `tokenizer.ggml.pre` (the regex llama.cpp uses
//! for that name), so prompts split into the same tokens the model was trained on.

use candle_core::quantized::gguf_file::Content;
use thiserror::Error;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

#[derive(Debug, Error)]
pub enum TokenizerError {
    #[error("metadata field {0} is missing or has the wrong type")]
    Field(&'static str),
    #[error("tokenizer model {0:?} is not supported (only byte-level BPE, \"gpt2\")")]
    Model(String),
    #[error("pre-tokenizer {0:?} is not supported (qwen2, smollm, gpt2)")]
    PreTokenizer(String),
    #[error("building the tokenizer: {0}")]
    Build(String),
}

/// GPT-2's split, which SmolLM's tokenizer uses after putting each digit apart.
const GPT2_SPLIT: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// GGUF token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
const CONTROL: u32 = 3;
const USER_DEFINED: u32 = 4;

pub fn tokenizer_from_gguf(content: &Content) -> Result<Tokenizer, TokenizerError> {
    let meta = &content.metadata;
    let field = |name: &'static str| meta.get(name).ok_or(TokenizerError::Field(name));
    let model = field("tokenizer.ggml.model")?.to_string().map_err(|_| TokenizerError::Field("tokenizer.ggml.model"))?;
    if model != "gpt2" {
        return Err(TokenizerError::Model(model.clone()));
    }
    let strings = |name: &'static str| -> Result<Vec<String>, TokenizerError> {
        field(name)?
            .to_vec()
            .map_err(|_| TokenizerError::Field(name))?
            .iter()
            .map(|v| v.to_string().cloned().map_err(|_| TokenizerError::Field(name)))
            .collect()
    };
    let tokens = strings("tokenizer.ggml.tokens")?;
    let merges: Vec<(String, String)> = strings("tokenizer.ggml.merges")?
        .into_iter()
        .filter_map(|m| m.split_once(' ').map(|(a, b)| (a.to_string(), b.to_string())))
        .collect();
    let types: Vec<u32> = match meta.get("tokenizer.ggml.token_type") {
        Some(v) => v
            .to_vec()
            .map_err(|_| TokenizerError::Field("tokenizer.ggml.token_type"))?
            .iter()
            .map(|t| t.to_i32().unwrap_or(1) as u32)
            .collect(),
        None => vec![1; tokens.len()],
    };
    let pre = meta.get("tokenizer.ggml.pre").and_then(|v| v.to_string().ok()).cloned().unwrap_or_else(|| "gpt2".into());

    let vocab: Vocab = tokens.iter().enumerate().map(|(id, t)| (t.clone(), id as u32)).collect();
    let bpe = BPE::builder().vocab_and_merges(vocab, merges).build().map_err(|e| TokenizerError::Build(e.to_string()))?;
    let mut tokenizer = Tokenizer::new(bpe);

    let split = |pattern: &str| -> Result<PreTokenizerWrapper, TokenizerError> {
        Split::new(SplitPattern::Regex(pattern.into()), SplitDelimiterBehavior::Isolated, false)
            .map(PreTokenizerWrapper::Split)
            .map_err(|e| TokenizerError::Build(e.to_string()))
    };
    let byte_level = PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, false, false));
    let steps = match pre.as_str() {
        "qwen2" => vec![split(QWEN2_SPLIT)?, byte_level],
        "smollm" => vec![PreTokenizerWrapper::Digits(Digits::new(true)), split(GPT2_SPLIT)?, byte_level],
        "gpt2" | "default" => vec![split(GPT2_SPLIT)?, byte_level],
        other => return Err(TokenizerError::PreTokenizer(other.to_string())),
    };
    tokenizer.with_pre_tokenizer(Some(Sequence::new(steps)));
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));

    let special: Vec<AddedToken> = tokens
        .iter()
        .zip(&types)
        .filter(|(_, t)| **t == CONTROL || **t == USER_DEFINED)
        .map(|(token, t)| AddedToken::from(token.clone(), *t == CONTROL))
        .collect();
    // The count of tokens newly added; all of them are already in the vocabulary.
    let _ = tokenizer.add_special_tokens(special);
    Ok(tokenizer)
}
