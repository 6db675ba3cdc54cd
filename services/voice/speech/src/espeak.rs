//! espeak-ng (Debian's package): the voice that is always there, small and fast, in any
//! language the assistant speaks. It also reads text as IPA phonemes for the Piper voice.
//! It runs as a child process with the text on stdin, so no reply text is ever parsed as a
//! command-line option.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use cabin_audio::{read_wav_bytes, Audio};

use crate::{SpeechError, Voice};

/// espeak-ng as a child process.
#[derive(Debug, Clone)]
pub struct Espeak {
    pub program: String,
    /// An espeak-ng voice (`en-us`, `en-gb`, `zh`, `en-us+f3`, ...).
    pub voice: String,
    pub words_per_minute: u32,
    pub pitch: u32,
}

impl Default for Espeak {
    fn default() -> Self {
        Espeak { program: "espeak-ng".into(), voice: "en-us".into(), words_per_minute: 165, pitch: 50 }
    }
}

impl Espeak {
    /// How espeak-ng pronounces `text`, in IPA with stress marks: one line per clause it
    /// finds, joined by spaces. Punctuation is not kept.
    pub fn phonemes(&self, text: &str) -> Result<String, SpeechError> {
        let output = self.run(text, &["-q", "--ipa", "-v", &self.voice])?;
        let phonemes = String::from_utf8_lossy(&output);
        Ok(phonemes.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    fn run(&self, text: &str, args: &[&str]) -> Result<Vec<u8>, SpeechError> {
        let failed = |reason: String| SpeechError::Failed { program: self.program.clone(), reason };
        let mut child = Command::new(&self.program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| SpeechError::Missing { program: self.program.clone(), source })?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        stdin.write_all(text.as_bytes()).map_err(|e| failed(e.to_string()))?;
        drop(stdin);
        let output = child.wait_with_output().map_err(|e| failed(e.to_string()))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(failed(stderr.lines().next().unwrap_or("no output").to_owned()));
        }
        Ok(output.stdout)
    }
}

impl Voice for Espeak {
    fn name(&self) -> String {
        format!("espeak-ng {}", self.voice)
    }

    fn synthesize(&self, text: &str) -> Result<Audio, SpeechError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(SpeechError::Empty);
        }
        let started = Instant::now();
        let (rate, pitch) = (self.words_per_minute.to_string(), self.pitch.to_string());
        let wav = self.run(text, &["--stdout", "-v", &self.voice, "-s", &rate, "-p", &pitch])?;
        let audio = read_wav_bytes(&wav, Path::new(&self.program))
            .map_err(|e| SpeechError::Failed { program: self.program.clone(), reason: e.to_string() })?;
        tracing::debug!(chars = text.len(), seconds = audio.duration_secs(), ms = started.elapsed().as_millis() as u64, "synthesized");
        Ok(audio)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_becomes_seconds_of_audible_speech() {
        let audio = Espeak::default().synthesize("The temperature is set to twenty one degrees.").unwrap();
        assert!((1.5..5.0).contains(&audio.duration_secs()), "{}", audio.duration_secs());
        assert!(audio.level_dbfs() > -30.0, "{}", audio.level_dbfs());
    }

    #[test]
    fn text_that_looks_like_an_option_is_spoken_not_obeyed() {
        let audio = Espeak::default().synthesize("--version").unwrap();
        assert!(audio.duration_secs() > 0.3);
    }

    #[test]
    fn phonemes_are_ipa_with_stress_one_string_for_all_clauses() {
        let phonemes = Espeak::default().phonemes("Hello, twenty one degrees.").unwrap();
        assert!(phonemes.contains('ˈ') && phonemes.contains("twˈɛnti"), "{phonemes}");
        assert!(!phonemes.contains('\n') && !phonemes.contains(','), "{phonemes}");
    }

    #[test]
    fn a_missing_program_names_the_package() {
        let voice = Espeak { program: "espeak-ng-not-installed".into(), ..Espeak::default() };
        let error = voice.synthesize("hello").unwrap_err();
        assert!(error.to_string().contains("install the espeak-ng package"), "{error}");
    }

    #[test]
    fn nothing_to_say_is_an_error_not_a_silent_clip() {
        assert!(matches!(Espeak::default().synthesize("  "), Err(SpeechError::Empty)));
    }
}
