//! Loading the voice models from the models directory, with one-line errors that name the
//! fetch command.

use std::path::PathBuf;
use std::sync::Arc;

use cabin_asr::{AsrConfig, AsrError, Transcriber};
use cabin_models::{LocateError, ModelsDir};
use cabin_vad::{Silero, VadError};
use cabin_wake::acoustic::{AcousticError, AcousticSpotter, SpeechEmbedder, WakeHead};
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
    #[error(transparent)]
    Wake(#[from] AcousticError),
}

/// Where the voice's models are.
#[derive(Debug, Clone)]
pub struct VoiceModels {
    pub whisper: PathBuf,
    pub vad: PathBuf,
    /// The wake word's front end and ONNX Runtime, when the acoustic stage is wanted.
    pub wake_front_end: Option<WakeFrontEnd>,
    /// A head trained by `cabin wakeword train`; None: the one shipped for "hey cabin".
    pub wake_head: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct WakeFrontEnd {
    pub dir: PathBuf,
    pub runtime_library: PathBuf,
}

impl VoiceModels {
    /// Finds the installed models; `whisper` names the ASR model (default whisper-tiny.en).
    pub fn locate(models: &ModelsDir, whisper: &str) -> Result<VoiceModels, LoadError> {
        Ok(VoiceModels { whisper: models.locate(whisper)?, vad: models.locate(cabin_vad::MODEL)?, wake_front_end: None, wake_head: None })
    }

    /// The same, with the acoustic wake stage in front of whisper (its front end must be
    /// installed: `cabin models fetch wakeword-embedding onnxruntime`).
    pub fn with_acoustic_wake(self, models: &ModelsDir) -> Result<VoiceModels, LoadError> {
        let dir = models.locate(cabin_wake::acoustic::FRONT_END_MODEL)?;
        let runtime_library = models.locate("onnxruntime")?.join(cabin_onnx_runtime::LIBRARY_FILE);
        Ok(VoiceModels { wake_front_end: Some(WakeFrontEnd { dir, runtime_library }), ..self })
    }
}

/// A listener with its models loaded.
pub fn load_listener(models: &VoiceModels, asr: AsrConfig, config: ListenerConfig) -> Result<(Listener, Arc<Transcriber>), LoadError> {
    let transcriber = Arc::new(Transcriber::load(&models.whisper, asr)?);
    let vad = Silero::load(&models.vad)?;
    let phrases: Vec<String> = config.phrases().map(|wake| wake.phrase.clone()).collect();
    let mut listener = Listener::new(vad, transcriber.clone(), config);
    if let (Some(front_end), false) = (models.wake_front_end.as_ref(), phrases.is_empty()) {
        let head = match &models.wake_head {
            Some(dir) => Some(WakeHead::load(dir)?),
            None => Some(WakeHead::shipped()?),
        };
        // A head for another phrase (the shipped one, when the car listens for 你好小舱, whose
        // head is not good enough to be on by default: voice README) would only hold its front
        // end in memory.
        match head.filter(|head| phrases.iter().any(|phrase| head.is_for(phrase))) {
            Some(head) => {
                let embedder = Arc::new(SpeechEmbedder::load(&front_end.dir, &front_end.runtime_library)?);
                listener = listener.with_acoustic(Arc::new(AcousticSpotter { embedder, head }));
            }
            None => tracing::info!(?phrases, "no acoustic head for the wake phrase; spotting it on whisper's text"),
        }
    }
    Ok((listener, transcriber))
}
