//! On-device understanding: what did the driver ask for, and with which values?
//!
//! Text from ASR is normalised (`text`), classified against the example utterances of each
//! intent with MiniLM sentence embeddings (`encoder`, `classifier`), and the intent's slots
//! are read by rule-based extractors (`slots`). No network, no service: `cabin understand`
//! runs this directly.

mod chinese_text;
mod classifier;
mod encoder;
pub mod evaluation;
mod intents;
mod multilingual;
mod numbers;
mod slots;
mod text;

pub use cabin_language::{is_han, Language};
pub use classifier::{Embedder, IntentScore, UnderstandError, Understander, Understanding, LOW_CONFIDENCE};
pub use encoder::{EncoderError, SentenceEncoder};
pub use intents::{IntentCatalog, IntentDef, IntentFileError, DEFAULT_INTENTS, DEFAULT_INTENTS_ZH};
pub use multilingual::{MultilingualEncoder, MULTILINGUAL_MODEL};
pub use numbers::digits_for_words;
pub use slots::{trim_value, SlotKind, SlotValue, Slots};
pub use text::normalise;

/// The installed model this crate needs (`cabin models fetch minilm`).
pub const EMBEDDING_MODEL: &str = "minilm";
