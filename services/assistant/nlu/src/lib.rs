//! On-device understanding: what did the driver ask for, and with which values?
//!
//! Text from ASR is normalised (`text`), classified against the example utterances of each
//! intent with sentence embeddings (`cabin-sentence-encoder`, `classifier`), and the intent's slots
//! are read by rule-based extractors (`slots`). No network, no service: `cabin understand`
//! runs this directly.

mod chinese_text;
mod classifier;
pub mod evaluation;
mod example_cache;
mod intents;
mod memory_verbs;
mod negations;
mod not_controlled;
mod numbers;
mod question_forms;
mod slots;
mod state_questions;
mod text;
mod travel_requests;

pub use cabin_language::{is_han, Language};
pub use classifier::{Embedder, IntentScore, LearnError, UnderstandError, Understander, Understanding, LOW_CONFIDENCE};
pub use intents::{IntentCatalog, IntentDef, IntentFileError, DEFAULT_INTENTS, DEFAULT_INTENTS_ZH};
pub use numbers::digits_for_words;
pub use slots::{trim_value, SlotKind, SlotValue, Slots};
pub use text::normalise;
