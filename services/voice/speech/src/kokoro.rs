//! Kokoro-82M (int8 ONNX, run by ONNX Runtime) with its speakers' style vectors
//! (`cabin models fetch kokoro`): American (`af_`, `am_`) and British (`bf_`, `bm_`) English
//! speakers and Mandarin ones (`zf_`, `zm_`), female and male. It is test speech, a second
//! neural voice family for the corpus beside Piper, not the car's voice.
//!
//! Kokoro reads phonemes as misaki writes them. espeak-ng's IPA (US or UK, by the speaker)
//! is close: its diphthongs and affricates become misaki's single letters (as Kokoro's own
//! espeak-ng fallback does), and a symbol the vocabulary lacks is dropped. A speaker is a
//! 256-value style vector per phoneme count (510 rows, raw little-endian f32); speakers blend
//! by weighting their vectors, which gives voices between the shipped ones. Mandarin is
//! written as misaki writes it, from pinyin (`mandarin_phonemes.rs`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use cabin_audio::Audio;
use cabin_onnx_runtime::ort;
use ort::session::Session;
use ort::value::Tensor;
use serde::Deserialize;

use crate::mandarin_phonemes::mandarin_phonemes;
use crate::piper::{by_symbol, normalized, sentence_phonemes, sentences};
use crate::{Espeak, SpeechError};

/// The files of the installed model.
pub const MODEL_FILE: &str = "model.onnx";
pub const VOCABULARY_FILE: &str = "vocab.json";
/// A folder of `<speaker>.bin` files.
pub const VOICES_FOLDER: &str = "voices";
/// The rate Kokoro speaks at.
pub const KOKORO_RATE: u32 = 24_000;

const STYLE: usize = 256;
/// A speaker's style rows, one per phoneme count from 1.
const STYLE_ROWS: usize = 510;
/// espeak-ng's IPA as misaki writes it.
const TO_MISAKI: &[(&str, &str)] =
    &[("eɪ", "A"), ("aɪ", "I"), ("aʊ", "W"), ("oʊ", "O"), ("əʊ", "O"), ("ɔɪ", "Y"), ("tʃ", "ʧ"), ("dʒ", "ʤ"), ("r", "ɹ")];
const PAUSE_BETWEEN_SENTENCES_SECS: f32 = 0.2;

#[derive(Debug, Deserialize)]
struct Vocabulary {
    vocab: HashMap<String, i64>,
}

/// The loaded model and its speakers.
#[derive(Debug)]
pub struct Kokoro {
    // ONNX Runtime's `run` takes the session mutably.
    session: Mutex<Session>,
    ids: HashMap<char, i64>,
    /// Each speaker's name and its STYLE_ROWS × STYLE values, by name.
    speakers: Vec<(String, Vec<f32>)>,
}

impl Kokoro {
    /// Loads the model in `dir` (`cabin models fetch kokoro`) with ONNX Runtime from
    /// `runtime_library`.
    pub fn load(dir: &Path, runtime_library: &Path) -> Result<Kokoro, SpeechError> {
        let load_error = |path: &Path, reason: String| SpeechError::Load { path: path.to_owned(), reason };
        let vocabulary_path = dir.join(VOCABULARY_FILE);
        let text = std::fs::read_to_string(&vocabulary_path).map_err(|e| load_error(&vocabulary_path, e.to_string()))?;
        let vocabulary: Vocabulary = serde_json::from_str(&text).map_err(|e| load_error(&vocabulary_path, e.to_string()))?;
        let ids = by_symbol(vocabulary.vocab, &vocabulary_path)?;
        let speakers = read_speakers(&dir.join(VOICES_FOLDER))?;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let session = cabin_onnx_runtime::cpu_session(runtime_library, &dir.join(MODEL_FILE), threads)
            .map_err(|e| SpeechError::Load { path: e.path, reason: e.reason })?;
        Ok(Kokoro { session: Mutex::new(session), ids, speakers })
    }

    /// The speakers' names, as the package gives them (`af_heart`, `bm_george`, ...).
    pub fn speakers(&self) -> impl Iterator<Item = &str> {
        self.speakers.iter().map(|(name, _)| name.as_str())
    }

    /// `text` said by a blend of speakers (name and weight), `speed` times as fast as the
    /// model's own pace, at [`KOKORO_RATE`].
    pub fn synthesize(&self, text: &str, blend: &[(&str, f32)], speed: f32) -> Result<Audio, SpeechError> {
        let mut chosen = Vec::with_capacity(blend.len());
        for &(name, weight) in blend {
            let (_, rows) = self.speakers.iter().find(|(n, _)| n == name).ok_or_else(|| {
                SpeechError::Inference(format!("no Kokoro speaker `{name}` (known: {})", self.speakers().collect::<Vec<_>>().join(", ")))
            })?;
            chosen.push((rows, weight));
        }
        let total: f32 = chosen.iter().map(|(_, w)| w).sum();
        if chosen.is_empty() || total <= 0.0 {
            return Err(SpeechError::Inference("a Kokoro voice needs a speaker with a positive weight".into()));
        }
        let sentences = self.sentence_phonemes(text, blend[0].0)?;
        if sentences.is_empty() {
            return Err(SpeechError::Empty);
        }
        let mut samples = Vec::new();
        for (index, phonemes) in sentences.iter().enumerate() {
            if index > 0 {
                samples.extend(std::iter::repeat_n(0.0, (PAUSE_BETWEEN_SENTENCES_SECS * KOKORO_RATE as f32) as usize));
            }
            let mut ids: Vec<i64> = phonemes.chars().filter_map(|c| self.ids.get(&c).copied()).collect();
            ids.truncate(STYLE_ROWS - 2);
            if ids.is_empty() {
                continue;
            }
            // The style row for this many phonemes, blended.
            let row = (ids.len() - 1) * STYLE;
            let style: Vec<f32> =
                (0..STYLE).map(|i| chosen.iter().map(|(rows, weight)| rows[row + i] * weight).sum::<f32>() / total).collect();
            ids.insert(0, 0);
            ids.push(0);
            samples.extend(self.run(ids, style, speed)?);
        }
        Ok(Audio::new(normalized(&samples), KOKORO_RATE))
    }

    /// Each sentence of `text` in the phonemes Kokoro reads, in the speaker's language:
    /// Mandarin for `z` speakers, British English for `b`, American English otherwise.
    fn sentence_phonemes(&self, text: &str, speaker: &str) -> Result<Vec<String>, SpeechError> {
        if speaker.starts_with('z') {
            let phonemes = mandarin_phonemes(text);
            let ends = |c: char| matches!(c, '.' | '?' | '!');
            return Ok(phonemes
                .split_inclusive(ends)
                .map(|s| s.trim().to_owned())
                .filter(|s| s.chars().any(char::is_alphabetic))
                .collect());
        }
        let accent = if speaker.starts_with('b') { "en-gb" } else { "en-us" };
        let phonemizer = Espeak { voice: accent.into(), ..Espeak::default() };
        sentences(text)
            .iter()
            .map(|sentence| {
                let mut phonemes = sentence_phonemes(&phonemizer, sentence)?;
                for (from, to) in TO_MISAKI {
                    phonemes = phonemes.replace(from, to);
                }
                Ok(phonemes)
            })
            .collect()
    }

    fn run(&self, ids: Vec<i64>, style: Vec<f32>, speed: f32) -> Result<Vec<f32>, SpeechError> {
        let inference = |e: ort::Error| SpeechError::Inference(e.to_string());
        let tokens = Tensor::from_array(([1, ids.len()], ids)).map_err(inference)?;
        let style = Tensor::from_array(([1, STYLE], style)).map_err(inference)?;
        let speed = Tensor::from_array(([1], vec![speed])).map_err(inference)?;
        let mut session = self.session.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let outputs = session.run(ort::inputs!["tokens" => tokens, "style" => style, "speed" => speed]).map_err(inference)?;
        let (_, samples) = outputs[0].try_extract_tensor::<f32>().map_err(inference)?;
        Ok(samples.to_vec())
    }
}

/// Every `<speaker>.bin` in `folder`, by name: STYLE_ROWS × STYLE little-endian f32.
fn read_speakers(folder: &Path) -> Result<Vec<(String, Vec<f32>)>, SpeechError> {
    let load_error = |path: &Path, reason: String| SpeechError::Load { path: path.to_owned(), reason };
    let entries = std::fs::read_dir(folder).map_err(|e| load_error(folder, e.to_string()))?;
    let mut speakers = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| load_error(folder, e.to_string()))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".bin")) else { continue };
        let bytes = std::fs::read(&path).map_err(|e| load_error(&path, e.to_string()))?;
        if bytes.len() != STYLE_ROWS * STYLE * 4 {
            return Err(load_error(&path, format!("{} bytes, a speaker's styles are {}", bytes.len(), STYLE_ROWS * STYLE * 4)));
        }
        speakers.push((name.to_owned(), bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()));
    }
    if speakers.is_empty() {
        return Err(load_error(folder, "no speakers (`<name>.bin`)".into()));
    }
    speakers.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(speakers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_speaker_file_of_the_wrong_size_is_refused_by_name() {
        let folder = tempfile::tempdir().unwrap();
        assert!(read_speakers(folder.path()).unwrap_err().to_string().contains("no speakers"));
        std::fs::write(folder.path().join("bm_ok.bin"), vec![0u8; STYLE_ROWS * STYLE * 4]).unwrap();
        assert_eq!(read_speakers(folder.path()).unwrap()[0].0, "bm_ok");
        std::fs::write(folder.path().join("af_short.bin"), [0u8; 1024]).unwrap();
        let error = read_speakers(folder.path()).unwrap_err().to_string();
        assert!(error.contains("af_short.bin") && error.contains("1024 bytes"), "{error}");
    }
}
