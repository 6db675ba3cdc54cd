use std::path::{Path, PathBuf};

use cabin_audio::Audio;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::detector::{dtw_distance, FrameScale};
use crate::features::{Mfcc, FRAME_HOP, N_COEFFICIENTS};

#[derive(Debug, Error)]
pub enum WakeError {
    #[error("{}: {reason}", path.display())]
    Model { path: PathBuf, reason: String },
    #[error("enrolment needs at least {needed} recordings of the phrase, got {got}")]
    TooFewRecordings { needed: usize, got: usize },
    #[error("recording {index} holds no speech (is the microphone muted?)")]
    NoSpeech { index: usize },
    #[error("recording {index} is {seconds:.1} s of speech; a wake phrase is under 2 s")]
    TooLong { index: usize, seconds: f32 },
}

/// An enrolled phrase: its templates, the scale frames are compared at, and the distance
/// under which a match counts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WakeModel {
    pub phrase: String,
    pub threshold: f32,
    pub scale: [f32; N_COEFFICIENTS],
    pub templates: Vec<Vec<[f32; N_COEFFICIENTS]>>,
}

pub const MIN_RECORDINGS: usize = 3;
const MAX_PHRASE_SECS: f32 = 2.0;
/// Margin on the spread between enrolled recordings: a new speaker is further from the
/// templates than they are from each other.
const THRESHOLD_MARGIN: f32 = 1.35;

impl WakeModel {
    pub fn from_json(json: &str, origin: &Path) -> Result<WakeModel, WakeError> {
        let model: WakeModel = serde_json::from_str(json).map_err(|e| WakeError::Model { path: origin.into(), reason: e.to_string() })?;
        if model.templates.is_empty() || model.templates.iter().any(|t| t.len() < 10) {
            return Err(WakeError::Model { path: origin.into(), reason: "no usable templates".into() });
        }
        if !(model.threshold > 0.0 && model.scale.iter().all(|s| *s > 0.0)) {
            return Err(WakeError::Model { path: origin.into(), reason: "threshold and scale must be positive".into() });
        }
        Ok(model)
    }

    pub fn load(path: &Path) -> Result<WakeModel, WakeError> {
        let json = std::fs::read_to_string(path).map_err(|e| WakeError::Model { path: path.into(), reason: e.to_string() })?;
        WakeModel::from_json(&json, path)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a wake model serialises")
    }

    /// The longest template, in frames: how much history the detector keeps.
    pub fn longest_template(&self) -> usize {
        self.templates.iter().map(Vec::len).max().unwrap_or(0)
    }
}

/// Builds a model for `phrase` from recordings of it (16 kHz mono).
pub fn enrol(phrase: &str, recordings: &[Audio]) -> Result<WakeModel, WakeError> {
    if recordings.len() < MIN_RECORDINGS {
        return Err(WakeError::TooFewRecordings { needed: MIN_RECORDINGS, got: recordings.len() });
    }
    let mut templates = Vec::new();
    for (index, recording) in recordings.iter().enumerate() {
        let speech = trim_silence(&recording.samples).ok_or(WakeError::NoSpeech { index })?;
        let seconds = speech.len() as f32 / cabin_audio::SAMPLE_RATE as f32;
        if seconds > MAX_PHRASE_SECS {
            return Err(WakeError::TooLong { index, seconds });
        }
        templates.push(Mfcc::of(speech));
    }
    let all: Vec<&[f32; N_COEFFICIENTS]> = templates.iter().flatten().collect();
    let scale: [f32; N_COEFFICIENTS] = std::array::from_fn(|c| {
        let mean = all.iter().map(|f| f[c]).sum::<f32>() / all.len() as f32;
        (all.iter().map(|f| (f[c] - mean).powi(2)).sum::<f32>() / all.len() as f32).sqrt().max(1e-3)
    });
    let scale_ref = FrameScale(scale);
    // Leave-one-out: how far each recording is from the nearest of the others.
    let nearest: Vec<f32> = (0..templates.len())
        .map(|i| {
            (0..templates.len()).filter(|&j| j != i).map(|j| dtw_distance(&templates[j], &templates[i], &scale_ref)).fold(f32::INFINITY, f32::min)
        })
        .collect();
    let threshold = nearest.iter().copied().fold(0.0, f32::max) * THRESHOLD_MARGIN;
    tracing::info!(phrase, templates = templates.len(), threshold, "wake phrase enrolled");
    Ok(WakeModel { phrase: phrase.to_owned(), threshold, scale, templates })
}

/// The span from the first to the last 10 ms frame within 35 dB of the loudest.
fn trim_silence(samples: &[f32]) -> Option<&[f32]> {
    let energies: Vec<f32> = samples.chunks(FRAME_HOP).map(|f| 10.0 * (f.iter().map(|s| s * s).sum::<f32>() / f.len() as f32 + 1e-12).log10()).collect();
    let loudest = energies.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if loudest < -60.0 {
        return None;
    }
    let first = energies.iter().position(|&e| e > loudest - 35.0)?;
    let last = energies.iter().rposition(|&e| e > loudest - 35.0)?;
    Some(&samples[first * FRAME_HOP..((last + 1) * FRAME_HOP).min(samples.len())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_recordings_are_not_enough() {
        let error = enrol("hey cabin", &[Audio::silence(1.0), Audio::silence(1.0)]).unwrap_err();
        assert!(matches!(error, WakeError::TooFewRecordings { got: 2, .. }));
    }

    #[test]
    fn a_silent_recording_is_named_by_its_position() {
        let tone = Audio::new((0..16_000).map(|i| (i as f32 * 0.1).sin() * 0.5).collect(), 16_000);
        let error = enrol("hey cabin", &[tone.clone(), Audio::silence(1.0), tone]).unwrap_err();
        assert!(matches!(error, WakeError::NoSpeech { index: 1 }), "{error}");
    }

    #[test]
    fn a_model_file_with_bad_fields_is_refused_by_name() {
        let error = WakeModel::from_json(r#"{"phrase":"x","threshold":1.0}"#, Path::new("wake.json")).unwrap_err();
        assert!(error.to_string().starts_with("wake.json: "), "{error}");
    }
}
