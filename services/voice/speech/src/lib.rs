//! Text to speech for the assistant's replies.
//!
//! The Piper voice (a VITS network run by ONNX Runtime) is the car's voice; espeak-ng is
//! the voice that is always there, for other languages and whenever Piper cannot speak.

mod espeak;
pub mod kokoro;
mod mandarin_phonemes;
mod piper;

use cabin_audio::Audio;
use thiserror::Error;

pub use espeak::Espeak;
pub use kokoro::{Kokoro, KOKORO_RATE};
pub use piper::{Piper, PiperSettings};

#[derive(Debug, Error)]
pub enum SpeechError {
    #[error("cannot run {program}: {source} (install the espeak-ng package)")]
    Missing { program: String, source: std::io::Error },
    #[error("{program} failed: {reason}")]
    Failed { program: String, reason: String },
    #[error("nothing to say")]
    Empty,
    #[error("{}: {reason}", path.display())]
    Load { path: std::path::PathBuf, reason: String },
    #[error("the Piper voice failed: {0}")]
    Inference(String),
}

/// Something that turns a reply into audio.
pub trait Voice: Send + Sync + std::fmt::Debug {
    fn name(&self) -> String;
    fn synthesize(&self, text: &str) -> Result<Audio, SpeechError>;
}

/// A voice with a second one behind it: a reply the first cannot say is said by the second,
/// so the driver always hears an answer.
#[derive(Debug)]
pub struct WithFallback<A, B> {
    pub first: A,
    pub then: B,
}

impl<A: Voice, B: Voice> Voice for WithFallback<A, B> {
    fn name(&self) -> String {
        self.first.name()
    }

    fn synthesize(&self, text: &str) -> Result<Audio, SpeechError> {
        match self.first.synthesize(text) {
            Err(SpeechError::Empty) => Err(SpeechError::Empty),
            Err(error) => {
                tracing::warn!(voice = %self.first.name(), "{error}; speaking with {}", self.then.name());
                self.then.synthesize(text)
            }
            spoken => spoken,
        }
    }
}

/// Replies in Mandarin go to a voice that speaks it, the rest to the car's voice. Mandarin is
/// espeak-ng's `cmn-latn-pinyin` (plain `cmn` reads characters as English-sounding pinyin): no packaged
/// Mandarin neural voice was found.
#[derive(Debug)]
pub struct ByLanguage<V> {
    pub voice: V,
    pub mandarin: Espeak,
}

impl<V: Voice> ByLanguage<V> {
    pub fn new(voice: V) -> ByLanguage<V> {
        ByLanguage { voice, mandarin: Espeak { voice: "cmn-latn-pinyin".into(), ..Espeak::default() } }
    }
}

impl<V: Voice> Voice for ByLanguage<V> {
    fn name(&self) -> String {
        format!("{}; Mandarin: {}", self.voice.name(), self.mandarin.name())
    }

    fn synthesize(&self, text: &str) -> Result<Audio, SpeechError> {
        match cabin_language::Language::of(text) {
            cabin_language::Language::Chinese => self.mandarin.synthesize(text),
            cabin_language::Language::English => self.voice.synthesize(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_voice_hands_the_reply_to_the_next() {
        let broken = Espeak { program: "espeak-ng-not-installed".into(), ..Espeak::default() };
        let voice = WithFallback { first: broken, then: Espeak::default() };
        let audio = voice.synthesize("The trunk is closed.").unwrap();
        assert!(audio.duration_secs() > 0.5);
        assert!(matches!(voice.synthesize(" "), Err(SpeechError::Empty)));
    }

    #[test]
    fn mandarin_goes_to_the_mandarin_voice() {
        let unheard = Espeak { program: "espeak-ng-not-installed".into(), ..Espeak::default() };
        let voice = ByLanguage { voice: Espeak::default(), mandarin: unheard };
        assert!(voice.synthesize("Navigating to Shenzhen.").is_ok());
        assert!(matches!(voice.synthesize("正在导航去深圳。"), Err(SpeechError::Missing { .. })));
        assert!(ByLanguage::new(Espeak::default()).synthesize("正在导航去深圳。").is_ok_and(|audio| !audio.samples.is_empty()));
    }
}
