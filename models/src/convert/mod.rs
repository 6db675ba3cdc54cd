//! Conversions from the formats models are published in to the formats Cabin's runtimes load.

mod ctranslate2;
mod mel;
pub mod torch_legacy;
pub mod whisper_ggml;
