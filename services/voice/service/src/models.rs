//! Loading the voice models from the models directory, with one-line errors that name the
//! fetch command.

use std::path::PathBuf;
use std::sync::Arc;

use cabin_asr::{AsrConfig, AsrError, Transcriber};
use cabin_models::{LocateError, ModelsDir};
use cabin_vad::{Silero, VadError};
use thiserror::Error;

use crate::{Listener, ListenerConfig};

#[derive(Debug, Error)]
pub enum LoadError {
    #[error(transparent)]
    Missing(#[from] LocateError),
    #[error(transparent)]
    Vad(#[from] VadError),
    #[error(transparent)]
    Asr(#[from] AsrError),
}

/// Where the voice's models are.
#[derive(Debug, Clone)]
pub struct VoiceModels {
    pub whisper: PathBuf,
    pub vad: PathBuf,
}

impl VoiceModels {
    /// Finds the installed models; `whisper` names the ASR model (default whisper-tiny.en).
    pub fn locate(models: &ModelsDir, whisper: &str) -> Result<VoiceModels, LoadError> {
        Ok(VoiceModels { whisper: models.locate(whisper)?, vad: models.locate(cabin_vad::MODEL)? })
    }
}

/// A listener with its models loaded.
pub fn load_listener(models: &VoiceModels, asr: AsrConfig, config: ListenerConfig) -> Result<(Listener, Arc<Transcriber>), LoadError> {
    let transcriber = Arc::new(Transcriber::load(&models.whisper, asr)?);
    let vad = Silero::load(&models.vad)?;
    Ok((Listener::new(vad, transcriber.clone(), config), transcriber))
}
