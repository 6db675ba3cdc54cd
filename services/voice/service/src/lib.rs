//! The voice service. The pipeline's stages each live in their own crate and are tested
//! alone (cabin-audio: sources; cabin-vad; cabin-wake; cabin-asr; cabin-speech: the sink);
//! this crate joins them: [`Listener`] for the listening half, [`transcribe_file`] for
//! `cabin transcribe`, and the `org.cabin.Voice1` service.

mod acoustic_stage;
mod listener;
mod models;
mod service;

pub use listener::{Command, CommandJudge, Heard, ListenError, Listener, ListenerConfig, Timings};
pub use models::{load_listener, LoadError, VoiceModels, WakeFrontEnd};
pub use service::{Sink, SpeakingStream, VoiceProxy, VoiceService, BUS_NAME, OBJECT_PATH};

use std::path::Path;

use cabin_audio::{read_wav, read_wav_bytes, Audio};
use cabin_wake::WakePhrase;
use serde::Serialize;

/// Everything heard in a file, as `cabin transcribe --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct FileTranscript {
    /// The commands' text joined; empty when nobody spoke (or nobody said the phrase).
    pub text: String,
    pub language: String,
    /// The lowest confidence of the commands (0 when there are none).
    pub confidence: f32,
    pub audio_secs: f32,
    pub woke: bool,
    pub commands: Vec<Command>,
    /// Wall-clock time for the whole file, in milliseconds.
    pub total_ms: f32,
}

/// Reads `path` (`-` for stdin) as audio.
pub fn read_audio(path: &Path) -> Result<Audio, cabin_audio::WavError> {
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)
            .map_err(|source| cabin_audio::WavError::Io { path: path.into(), source })?;
        return read_wav_bytes(&bytes, Path::new("stdin"));
    }
    read_wav(path)
}

/// Enrols `phrase` from recordings of a speaker saying it: each is transcribed the way the
/// listener will hear it (with the phrase as prompt), and its spelling learnt.
pub fn enrol(listener: &mut Listener, phrase: &mut WakePhrase, recordings: &[Audio]) -> Result<usize, EnrolError> {
    let transcripts =
        recordings.iter().map(|audio| listener.transcribe_as_wake(audio, phrase).map(|t| t.text)).collect::<Result<Vec<_>, _>>()?;
    tracing::info!(?transcripts, "enrolment recordings heard as");
    Ok(phrase.enrol(&transcripts)?)
}

#[derive(Debug, thiserror::Error)]
pub enum EnrolError {
    #[error(transparent)]
    Listen(#[from] ListenError),
    #[error(transparent)]
    Wake(#[from] cabin_wake::WakeError),
}

/// Runs the listening pipeline over a whole recording, as if it came from the microphone.
pub fn transcribe_file(listener: &mut Listener, audio: &Audio) -> Result<FileTranscript, ListenError> {
    let started = std::time::Instant::now();
    listener.reset();
    let mut heard = Vec::new();
    // Pushed in microphone-sized pieces, so the file takes the live path.
    for piece in audio.samples.chunks(1600) {
        heard.extend(listener.push(piece)?);
    }
    heard.extend(listener.finish()?);
    let woke = heard.iter().any(|h| matches!(h, Heard::Wake { .. }));
    let commands: Vec<Command> = heard.into_iter().filter_map(|h| if let Heard::Command(c) = h { Some(c) } else { None }).collect();
    let text = commands.iter().map(|c| c.text.as_str()).collect::<Vec<_>>().join(" ");
    Ok(FileTranscript {
        text,
        language: commands.first().map(|c| c.language.clone()).unwrap_or_else(|| "en".into()),
        confidence: commands
            .iter()
            .map(|c| c.confidence)
            .fold(None, |lowest: Option<f32>, c| Some(lowest.map_or(c, |l| l.min(c))))
            .unwrap_or(0.0),
        audio_secs: audio.duration_secs(),
        woke,
        commands,
        total_ms: started.elapsed().as_secs_f32() * 1000.0,
    })
}
