//! Is someone speaking, and when did they stop? Silero VAD (v5, run in candle on the
//! weights the silero-vad package ships) scores each 32 ms chunk; the [`Endpointer`] turns
//! scores into utterances: it starts one after enough speech, keeps a little audio from
//! before, ends it after a configurable trailing silence, and cuts a runaway at a maximum.

mod endpoint;
mod silero;

pub use endpoint::{EndpointConfig, Endpointer, Event, Utterance};
pub use silero::{Silero, VadError, CHUNK_SAMPLES};

/// The model `cabin models fetch` installs.
pub const MODEL: &str = "silero-vad";
pub const MODEL_FILE: &str = "silero_vad_16k.safetensors";
