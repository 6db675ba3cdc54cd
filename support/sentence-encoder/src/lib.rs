//! Sentence embeddings, for the assistant's intents and the vision service's object words:
//! all-MiniLM-L6-v2 (`minilm`) for English and multilingual-e5-small (`multilingual`) for
//! Mandarin, both in candle, both L2-normalised so a dot product is a cosine similarity.
//!
//! Its own crate because two services use it and neither may depend on the other.
//! [`SentenceEncoder::shared`] keeps one loaded copy per process: `cabin up` runs the
//! assistant and the vision service side by side, and 42 MiB of weights are enough once
//! (each encoder's word table stays in its file, a row read when a token needs it: `word_rows`).

mod minilm;
mod multilingual;
mod word_rows;

use std::path::PathBuf;

use thiserror::Error;

pub use minilm::SentenceEncoder;
pub use multilingual::{MultilingualEncoder, MULTILINGUAL_MODEL};

/// The installed English model (`cabin models fetch minilm`).
pub const EMBEDDING_MODEL: &str = "minilm";

/// Which weights an encoder was loaded from: the file, its size and when it was written. Equal
/// identities embed equally, so embeddings keyed by it can be kept between runs.
fn identity_of(path: &std::path::Path, size: usize) -> String {
    let written = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let written = written.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    format!("{}:{size}:{written}", path.display())
}

#[derive(Debug, Error)]
pub enum EncoderError {
    #[error("{}: {message}", path.display())]
    Load { path: PathBuf, message: String },
    #[error("tokenizer: {0}")]
    Tokenize(String),
    #[error("embedding model: {0}")]
    Model(#[from] candle_core::Error),
}
