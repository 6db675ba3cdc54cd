//! The Piper voice: a VITS network (ONNX) run by ONNX Runtime, loaded at run time from the
//! library `cabin models fetch onnxruntime` installs, so nothing links to it at build time.
//!
//! Piper reads phonemes, not letters. As Piper itself does, espeak-ng turns each clause into
//! IPA; the clause's punctuation is put back (it shapes the pauses and the melody), each
//! symbol becomes its id from the voice's `.onnx.json`, with the padding id between
//! symbols, and each sentence is synthesized on its own, with a short pause between.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use cabin_audio::Audio;
use cabin_onnx_runtime::ort;
use ort::session::Session;
use ort::value::Tensor;
use serde::Deserialize;

use crate::{Espeak, SpeechError, Voice};

/// The files of an installed Piper voice (model `piper-joe`).
pub const MODEL_FILE: &str = "voice.onnx";
pub const CONFIG_FILE: &str = "voice.onnx.json";

/// How the voice speaks; None keeps what the voice's config says.
#[derive(Debug, Clone, Default)]
pub struct PiperSettings {
    /// Phoneme duration: above 1 is slower.
    pub length_scale: Option<f32>,
    /// Variation in the voice's sound and in phoneme lengths.
    pub noise_scale: Option<f32>,
    pub noise_w: Option<f32>,
    /// Threads for inference [default: the number of cores].
    pub threads: Option<usize>,
}

#[derive(Debug, Deserialize)]
struct VoiceConfig {
    audio: AudioConfig,
    espeak: EspeakConfig,
    inference: Inference,
    phoneme_id_map: HashMap<String, Vec<i64>>,
    #[serde(default)]
    num_speakers: u32,
    /// The speaker's name.
    #[serde(default)]
    dataset: String,
}

#[derive(Debug, Deserialize)]
struct AudioConfig {
    sample_rate: u32,
}

#[derive(Debug, Deserialize)]
struct EspeakConfig {
    voice: String,
}

#[derive(Debug, Deserialize)]
struct Inference {
    noise_scale: f32,
    length_scale: f32,
    noise_w: f32,
}

/// A loaded Piper voice.
#[derive(Debug)]
pub struct Piper {
    name: String,
    // ONNX Runtime's `run` takes the session mutably; replies are spoken one at a time.
    session: Mutex<Session>,
    ids: HashMap<char, Vec<i64>>,
    rate: u32,
    /// The voice's own noise scale, length scale and noise width, as its config gives them.
    defaults: [f32; 3],
    settings: PiperSettings,
    phonemizer: Espeak,
}

const PAD: char = '_';
const BEGIN: char = '^';
const END: char = '$';
const PAUSE_BETWEEN_SENTENCES_SECS: f32 = 0.2;

impl Piper {
    /// Loads the voice in `voice_dir` with ONNX Runtime from `runtime_library`
    /// (`libonnxruntime.so`).
    pub fn load(voice_dir: &Path, runtime_library: &Path, settings: &PiperSettings) -> Result<Piper, SpeechError> {
        let started = Instant::now();
        let config_path = voice_dir.join(CONFIG_FILE);
        let load_error = |path: &Path, reason: String| SpeechError::Load { path: path.to_owned(), reason };
        let text = std::fs::read_to_string(&config_path).map_err(|e| load_error(&config_path, e.to_string()))?;
        let config: VoiceConfig = serde_json::from_str(&text).map_err(|e| load_error(&config_path, e.to_string()))?;
        if config.num_speakers > 1 {
            return Err(load_error(&config_path, format!("{} speakers; only single-speaker voices are supported", config.num_speakers)));
        }
        let ids = by_symbol(config.phoneme_id_map, &config_path)?;
        for symbol in [PAD, BEGIN, END] {
            if !ids.contains_key(&symbol) {
                return Err(load_error(&config_path, format!("phoneme_id_map lacks `{symbol}`")));
            }
        }

        let threads = settings.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let session = cabin_onnx_runtime::cpu_session(runtime_library, &voice_dir.join(MODEL_FILE), threads)
            .map_err(|e| SpeechError::Load { path: e.path, reason: e.reason })?;
        let inference = config.inference;
        let name = config.dataset.clone();
        tracing::info!(voice = %name, threads, ms = started.elapsed().as_millis() as u64, "Piper voice loaded");
        Ok(Piper {
            name,
            session: Mutex::new(session),
            ids,
            rate: config.audio.sample_rate,
            defaults: [inference.noise_scale, inference.length_scale, inference.noise_w],
            settings: settings.clone(),
            phonemizer: Espeak { voice: config.espeak.voice, ..Espeak::default() },
        })
    }

    /// The phoneme ids of one sentence, as the network reads them.
    fn sentence_ids(&self, sentence: &[Clause]) -> Result<Vec<i64>, SpeechError> {
        let phonemes = sentence_phonemes(&self.phonemizer, sentence)?;
        let mut ids = self.ids[&BEGIN].clone();
        ids.extend(&self.ids[&PAD]);
        for symbol in phonemes.chars() {
            match self.ids.get(&symbol) {
                Some(id) => {
                    ids.extend(id);
                    ids.extend(&self.ids[&PAD]);
                }
                None => tracing::debug!(%symbol, "phoneme not in the voice; skipped"),
            }
        }
        ids.extend(&self.ids[&END]);
        Ok(ids)
    }

    /// Says `text` with `settings` in place of those the voice was loaded with (the corpus
    /// varies speed and expressiveness this way without loading the network again).
    pub fn synthesize_with(&self, text: &str, settings: &PiperSettings) -> Result<Audio, SpeechError> {
        let started = Instant::now();
        let sentences = sentences(text);
        if sentences.is_empty() {
            return Err(SpeechError::Empty);
        }
        let [noise_scale, length_scale, noise_w] = self.defaults;
        let scales = [
            settings.noise_scale.unwrap_or(noise_scale),
            settings.length_scale.unwrap_or(length_scale),
            settings.noise_w.unwrap_or(noise_w),
        ];
        let mut samples = Vec::new();
        for (index, sentence) in sentences.iter().enumerate() {
            if index > 0 {
                samples.extend(std::iter::repeat_n(0.0, (PAUSE_BETWEEN_SENTENCES_SECS * self.rate as f32) as usize));
            }
            samples.extend(self.speak_ids(self.sentence_ids(sentence)?, scales)?);
        }
        let audio = Audio::new(samples, self.rate);
        tracing::debug!(chars = text.len(), seconds = audio.duration_secs(), ms = started.elapsed().as_millis() as u64, "synthesized");
        Ok(audio)
    }

    fn speak_ids(&self, ids: Vec<i64>, scales: [f32; 3]) -> Result<Vec<f32>, SpeechError> {
        let inference = |e: ort::Error| SpeechError::Inference(e.to_string());
        let length = ids.len() as i64;
        let input = Tensor::from_array(([1, ids.len()], ids)).map_err(inference)?;
        let lengths = Tensor::from_array(([1], vec![length])).map_err(inference)?;
        let scales = Tensor::from_array(([3], scales.to_vec())).map_err(inference)?;
        let mut session = self.session.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let outputs = session.run(ort::inputs!["input" => input, "input_lengths" => lengths, "scales" => scales]).map_err(inference)?;
        let (_, samples) = outputs[0].try_extract_tensor::<f32>().map_err(inference)?;
        Ok(normalized(samples))
    }
}

impl Voice for Piper {
    fn name(&self) -> String {
        format!("Piper {}", self.name)
    }

    fn synthesize(&self, text: &str) -> Result<Audio, SpeechError> {
        self.synthesize_with(text, &self.settings)
    }
}

/// A phoneme table keyed by its one-character symbols; a longer symbol is refused, naming
/// `path`, the file it came from.
pub(crate) fn by_symbol<T>(table: HashMap<String, T>, path: &Path) -> Result<HashMap<char, T>, SpeechError> {
    let mut ids = HashMap::new();
    for (symbol, id) in table {
        let mut chars = symbol.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => ids.insert(c, id),
            _ => return Err(SpeechError::Load { path: path.to_owned(), reason: format!("phoneme `{symbol}` is not one character") }),
        };
    }
    Ok(ids)
}

/// The IPA of a sentence as espeak-ng says it, each clause followed by its punctuation mark
/// (which shapes the pauses and the melody).
pub(crate) fn sentence_phonemes(phonemizer: &Espeak, sentence: &[Clause]) -> Result<String, SpeechError> {
    let mut phonemes = String::new();
    for clause in sentence {
        phonemes.push_str(&phonemizer.phonemes(&clause.words)?);
        if let Some(mark) = clause.mark {
            phonemes.push(mark);
            if !matches!(mark, '.' | '?' | '!') {
                phonemes.push(' ');
            }
        }
    }
    Ok(phonemes.trim_end().to_owned())
}

/// Words up to a punctuation mark that ends a clause.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Clause {
    words: String,
    mark: Option<char>,
}

/// `text` as sentences of clauses. A mark ends a clause only before a space or the end, so
/// "21.5 degrees" stays one number.
pub(crate) fn sentences(text: &str) -> Vec<Vec<Clause>> {
    let mut sentences = Vec::new();
    let mut sentence = Vec::new();
    let mut words = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let ends_clause = matches!(c, '.' | ',' | ';' | ':' | '?' | '!') && chars.peek().is_none_or(|next| next.is_whitespace());
        if !ends_clause {
            words.push(c);
            continue;
        }
        if speakable(&words) {
            sentence.push(Clause { words: words.trim().to_owned(), mark: Some(c) });
        }
        words.clear();
        if matches!(c, '.' | '?' | '!') && !sentence.is_empty() {
            sentences.push(std::mem::take(&mut sentence));
        }
    }
    if speakable(&words) {
        sentence.push(Clause { words: words.trim().to_owned(), mark: None });
    }
    if !sentence.is_empty() {
        sentences.push(sentence);
    }
    sentences
}

fn speakable(words: &str) -> bool {
    words.chars().any(char::is_alphanumeric)
}

/// The network's output at a steady level: its peak scaled to just under full scale, as
/// Piper does, but never amplifying near-silence into noise.
pub(crate) fn normalized(samples: &[f32]) -> Vec<f32> {
    let peak = samples.iter().fold(0.0f32, |peak, s| peak.max(s.abs())).max(0.01);
    samples.iter().map(|s| s * 0.9 / peak).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clause(words: &str, mark: Option<char>) -> Clause {
        Clause { words: words.into(), mark }
    }

    #[test]
    fn text_splits_into_sentences_of_clauses() {
        assert_eq!(
            sentences("Done, the temperature is 21.5 degrees. Anything else?"),
            vec![
                vec![clause("Done", Some(',')), clause("the temperature is 21.5 degrees", Some('.'))],
                vec![clause("Anything else", Some('?'))],
            ]
        );
        assert_eq!(sentences("no mark at the end"), vec![vec![clause("no mark at the end", None)]]);
        assert!(sentences(" ... ").is_empty());
    }

    #[test]
    fn quiet_output_is_not_amplified_into_noise() {
        assert_eq!(normalized(&[0.001, -0.002]), vec![0.001 * 90.0, -0.002 * 90.0]);
        assert_eq!(normalized(&[0.5, -2.0])[1], -0.9);
    }
}
