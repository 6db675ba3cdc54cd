//! Speech to text with whisper.cpp (through whisper-rs), on the car's CPU.
//!
//! Whisper invents text when given silence or noise ("Thank you.", "[BLANK_AUDIO]"): the
//! voice pipeline only hands over audio its VAD judged to be speech, and this crate drops
//! non-speech annotations and segments whisper itself marks as probably not speech.

use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::Instant;

use cabin_audio::{Audio, SAMPLE_RATE};
use serde::Serialize;
use thiserror::Error;
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperError, WhisperState, WhisperTokenId};

mod phrase;

use phrase::PhraseDecoder;
pub use phrase::PhraseFit;

/// The model `cabin models fetch` installs for English.
pub const DEFAULT_MODEL: &str = "whisper-tiny.en";
/// The converted file inside a whisper model's folder.
pub const MODEL_FILE: &str = "ggml-model.bin";

/// whisper's encoder sees 30 s as 1500 positions: 50 per second.
const ENCODER_POSITIONS_PER_SECOND: f32 = 50.0;
const MAX_AUDIO_CTX: i32 = 1500;
/// Below this RMS level there is nothing to transcribe (a quiet cabin is around -50 dBFS).
const SILENCE_DBFS: f32 = -65.0;
/// whisper's favourite inventions on silence are one low-confidence word ("you", "Thank you.").
const SINGLE_WORD_MIN_CONFIDENCE: f32 = 0.55;
const MIN_CONFIDENCE: f32 = 0.4;
/// Room for the vocabulary prompt's tokens (whisper keeps at most 224 of them).
const MAX_PROMPT_TOKENS: usize = 512;

#[derive(Debug, Error)]
pub enum AsrError {
    #[error("{}: not a whisper model whisper.cpp can load ({reason}); run `cabin models fetch --force {DEFAULT_MODEL}`", path.display())]
    Load { path: PathBuf, reason: String },
    #[error("language `{0}` is not one whisper knows (use an ISO code such as en or zh, or auto)")]
    Language(String),
    #[error("the English-only model cannot transcribe `{0}`: install a multilingual whisper")]
    EnglishOnly(String),
    #[error("whisper failed on a {seconds:.1} s utterance: {reason}")]
    Inference { seconds: f32, reason: String },
}

#[derive(Debug, Clone)]
pub struct AsrConfig {
    /// ISO code (`en`, `zh`, ...) or `auto` to detect per utterance.
    pub language: String,
    /// The languages `auto` chooses between, those the car speaks: whisper's guess outside
    /// them ("de" for a Caribbean English voice) is read as the first.
    pub auto_languages: Vec<String>,
    pub threads: usize,
    /// Words to bias recognition towards (signal names, task words), fed to whisper as its
    /// initial prompt.
    pub vocabulary: Vec<String>,
    /// Encode only as many positions as the audio needs instead of whisper's fixed 30 s
    /// window (whisper.cpp's `audio_ctx`): several times faster on short commands.
    pub trim_window: bool,
    /// Segments whisper rates more likely than this to be non-speech are dropped.
    pub no_speech_threshold: f32,
}

impl Default for AsrConfig {
    fn default() -> Self {
        AsrConfig {
            language: "en".into(),
            auto_languages: vec!["en".into(), "zh".into()],
            threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            vocabulary: Vec::new(),
            trim_window: true,
            no_speech_threshold: 0.6,
        }
    }
}

/// What was said, and how sure whisper is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transcript {
    /// Empty when nobody spoke.
    pub text: String,
    pub language: String,
    /// Mean probability of the text tokens (0 when there is no text).
    pub confidence: f32,
    pub audio_secs: f32,
    pub asr_ms: f32,
    /// The text as whisper wrote it, token by token, each with its probability.
    #[serde(skip)]
    pub tokens: Vec<(String, f32)>,
}

impl Transcript {
    fn nothing(language: &str, audio_secs: f32, started: Instant) -> Transcript {
        Transcript {
            text: String::new(),
            language: language.into(),
            confidence: 0.0,
            audio_secs,
            asr_ms: started.elapsed().as_secs_f32() * 1000.0,
            tokens: Vec::new(),
        }
    }
}

fn language_or_en(language: &str) -> &str {
    if language == "auto" {
        "en"
    } else {
        language
    }
}

pub struct Transcriber {
    context: WhisperContext,
    config: AsrConfig,
    prompt: String,
    multilingual: bool,
}

impl std::fmt::Debug for Transcriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transcriber").field("config", &self.config).field("multilingual", &self.multilingual).finish()
    }
}

impl Transcriber {
    /// Loads the ggml model in `model_dir` (a folder from `cabin models fetch`) or a `.bin` file.
    pub fn load(model: &Path, config: AsrConfig) -> Result<Transcriber, AsrError> {
        static LOGGING: Once = Once::new();
        LOGGING.call_once(whisper_rs::install_logging_hooks);

        let path = if model.is_dir() { model.join(MODEL_FILE) } else { model.to_owned() };
        let load_error = |reason: String| AsrError::Load { path: path.clone(), reason };
        if !path.is_file() {
            return Err(load_error("no such file".into()));
        }
        // whisper.cpp aborts the process on some malformed files; check the header first.
        check_header(&path).map_err(load_error)?;
        let path_text = path.to_str().ok_or_else(|| load_error("path is not UTF-8".into()))?;
        let context =
            WhisperContext::new_with_params(path_text, WhisperContextParameters::default()).map_err(|e| load_error(e.to_string()))?;
        let multilingual = context.is_multilingual();
        if config.language != "auto" && whisper_rs::get_lang_id(&config.language).is_none() {
            return Err(AsrError::Language(config.language.clone()));
        }
        if !multilingual && !matches!(config.language.as_str(), "en" | "auto") {
            return Err(AsrError::EnglishOnly(config.language.clone()));
        }
        // No prompt for Mandarin. Tried on espeak-ng's Mandarin: whisper base wrote a prompt's
        // sentences back over unclear speech (a prompt of commands made up commands), and the
        // English vocabulary prompt pulls it towards pinyin.
        let prompt = if config.language == "zh" { String::new() } else { initial_prompt(&config.vocabulary) };
        tracing::info!(model = %path.display(), multilingual, threads = config.threads, prompt_words = config.vocabulary.len(), "whisper loaded");
        Ok(Transcriber { context, config, prompt, multilingual })
    }

    pub fn config(&self) -> &AsrConfig {
        &self.config
    }

    /// Transcribes one utterance (16 kHz mono).
    pub fn transcribe(&self, audio: &Audio) -> Result<Transcript, AsrError> {
        self.transcribe_after(audio, "")
    }

    /// As [`transcribe`](Self::transcribe), with `lead` (e.g. the wake phrase, "Hey Cabin.")
    /// put before the vocabulary prompt.
    pub fn transcribe_after(&self, audio: &Audio, lead: &str) -> Result<Transcript, AsrError> {
        self.run(audio, lead)
    }

    /// Hears whether an utterance begins with a phrase, and what follows it, in one pass.
    /// Whisper is not told the phrase: each of the test's spellings is scored against what
    /// whisper would have written first (see [`PhraseFit`]), and so is each of its rivals.
    /// When the best spelling's regret is at least `min_regret` and no rival fits as well, less
    /// the margin, whisper goes on from the phrase as if it had written it; `rest` is what it
    /// writes after the phrase, empty when the phrase was said alone.
    pub fn transcribe_after_phrase(&self, audio: &Audio, test: &PhraseTest) -> Result<AfterPhrase, AsrError> {
        let Some(utterance) = Utterance::of(audio) else { return Ok(AfterPhrase::Nothing) };
        let seconds = utterance.seconds;
        let inference_error = |e: WhisperError| AsrError::Inference { seconds, reason: e.to_string() };
        let prompt = self.prompt_after("");
        // whisper.cpp fits its encoder's window to the audio only inside `whisper_full`. Told to
        // write one token and never retry, that is the encoder and a decoder step; the phrase
        // and what follows are decoded here, on the encoding it leaves. The vocabulary prompt
        // is decoded here too, once: given to `whisper_full` as well, it was decoded twice.
        let mut params = self.params("", seconds);
        params.set_max_tokens(1);
        params.set_temperature_inc(0.0);
        let started = Instant::now();
        let mut state = self.context.create_state().map_err(inference_error)?;
        let state_ms = started.elapsed().as_secs_f32() * 1000.0;
        state.full(params, &utterance.samples).map_err(inference_error)?;
        let encoded_ms = started.elapsed().as_secs_f32() * 1000.0;
        let language = self.language_heard(&state);
        let start = self.start_tokens(&prompt, &language).map_err(inference_error)?;
        let mut decoder = PhraseDecoder::start(&self.context, &mut state, self.config.threads, &start).map_err(inference_error)?;
        let prompted_ms = started.elapsed().as_secs_f32() * 1000.0;
        let Some((fit, phrase)) = decoder.best_fit(test.spellings).map_err(inference_error)? else { return Ok(AfterPhrase::Nothing) };
        let rival = decoder.best_fit(test.rivals).map_err(inference_error)?.map(|(rival, _)| rival);
        let fitted_ms = started.elapsed().as_secs_f32() * 1000.0;
        if fit.regret < test.min_regret {
            return Ok(AfterPhrase::NotSaid { fit, rival });
        }
        if let Some(rival) = rival.as_ref().filter(|rival| fit.regret - rival.regret < test.margin) {
            return Ok(AfterPhrase::Rivalled { fit, rival: rival.clone() });
        }
        let room = (max_tokens_for(seconds, &language) as usize).saturating_sub(phrase.len());
        let mut bytes = Vec::new();
        let mut tokens = Vec::new();
        for (token, probability) in decoder.continue_after(&phrase, room).map_err(inference_error)? {
            let piece = self.context.token_to_bytes(token).map_err(inference_error)?;
            bytes.extend_from_slice(piece);
            tokens.push((String::from_utf8_lossy(piece).into_owned(), probability));
        }
        // Whisper goes on from "Hey Cabin" with ", open the trunk." On a short window it may
        // loop ("Hey, cabin. Hey, cabin."): the repeats are cut with the phrase in view.
        let written = collapse_repeats(&format!("{}{}", fit.spelling, String::from_utf8_lossy(&bytes)));
        let rest = written.strip_prefix(&fit.spelling).unwrap_or_default();
        let rest = rest.trim_start_matches(|c: char| c.is_whitespace() || matches!(c, ',' | '.' | '!' | '?' | ';' | ':'));
        tracing::debug!(
            state_ms,
            encoded_ms,
            prompt_tokens = start.len(),
            prompted_ms,
            spellings = test.spellings.len(),
            rivals = test.rivals.len(),
            fitted_ms,
            written = tokens.len(),
            done_ms = started.elapsed().as_secs_f32() * 1000.0,
            "whisper after the phrase"
        );
        Ok(AfterPhrase::Said { rest: self.judged(rest, language, tokens, &utterance), fit, rival })
    }

    fn run(&self, audio: &Audio, lead: &str) -> Result<Transcript, AsrError> {
        let Some(utterance) = Utterance::of(audio) else {
            return Ok(Transcript::nothing(language_or_en(&self.config.language), audio.duration_secs(), Instant::now()));
        };
        let seconds = utterance.seconds;
        let inference_error = |e: WhisperError| AsrError::Inference { seconds, reason: e.to_string() };
        let prompt = self.prompt_after(lead);
        let params = self.params(&prompt, seconds);
        let mut state = self.context.create_state().map_err(inference_error)?;
        state.full(params, &utterance.samples).map_err(inference_error)?;

        let eot = self.context.token_eot();
        let mut text = String::new();
        let mut tokens = Vec::new();
        for segment in state.as_iter() {
            if segment.no_speech_probability() > self.config.no_speech_threshold {
                tracing::debug!(no_speech = segment.no_speech_probability(), "segment judged not speech, dropped");
                continue;
            }
            text.push_str(&segment.to_str_lossy().map_err(inference_error)?);
            for index in 0..segment.n_tokens() {
                if let Some(token) = segment.get_token(index) {
                    if token.token_id() < eot {
                        let piece = token.to_str_lossy().map_err(inference_error)?;
                        tokens.push((piece.into_owned(), token.token_probability()));
                    }
                }
            }
        }
        let language = self.language_heard(&state);
        Ok(self.judged(&text, language, tokens, &utterance))
    }

    /// The transcript of `text`, tidied, or nothing when it looks like whisper filling silence.
    fn judged(&self, text: &str, language: String, tokens: Vec<(String, f32)>, utterance: &Utterance) -> Transcript {
        // The token limit may cut a character's bytes in two: its remains are no text.
        let text = collapse_repeats(&strip_annotations(text.trim_end_matches('\u{fffd}')));
        let text = in_simplified_characters(text, &language);
        let confidence = if tokens.is_empty() { 0.0 } else { tokens.iter().map(|(_, p)| p).sum::<f32>() / tokens.len() as f32 };
        if !looks_spoken(&text, confidence) {
            tracing::debug!(%text, confidence, "transcript judged a hallucination, dropped");
            return Transcript::nothing(&language, utterance.seconds, utterance.started);
        }
        let asr_ms = utterance.started.elapsed().as_secs_f32() * 1000.0;
        Transcript { text, language, confidence, audio_secs: utterance.seconds, asr_ms, tokens }
    }

    fn language(&self) -> &str {
        if self.multilingual {
            self.config.language.as_str()
        } else {
            "en"
        }
    }

    /// The language set, or with `auto` the one whisper detected among the car's.
    fn language_heard(&self, state: &WhisperState) -> String {
        if self.config.language == "auto" {
            let detected = whisper_rs::get_lang_str(state.full_lang_id_from_state()).unwrap_or("en");
            match self.config.auto_languages.first() {
                Some(first) if !self.config.auto_languages.iter().any(|language| language == detected) => first.clone(),
                _ => detected.to_owned(),
            }
        } else {
            self.language().to_owned()
        }
    }

    fn prompt_after(&self, lead: &str) -> String {
        format!("{lead} {}", self.prompt).trim().to_owned()
    }

    fn params(&self, prompt: &str, seconds: f32) -> FullParams<'_, '_> {
        let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        params.set_n_threads(self.config.threads as i32);
        params.set_language(Some(self.language()));
        params.set_detect_language(false);
        params.set_no_context(true);
        params.set_single_segment(true);
        params.set_no_timestamps(true);
        params.set_suppress_blank(true);
        params.set_suppress_nst(true);
        params.set_print_special(false);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_timestamps(false);
        if !prompt.is_empty() {
            params.set_initial_prompt(prompt);
        }
        if self.config.trim_window {
            params.set_audio_ctx(audio_ctx_for(seconds));
        }
        // A trimmed window can make whisper loop on its last sentence; no one speaks faster
        // than this many tokens a second.
        params.set_max_tokens(max_tokens_for(seconds, self.language()));
        params
    }

    /// The tokens a transcription begins with: the prompt's, start-of-transcript, language and
    /// task (multilingual models), no-timestamps.
    fn start_tokens(&self, prompt: &str, language: &str) -> Result<Vec<WhisperTokenId>, WhisperError> {
        let context = &self.context;
        let mut start = Vec::new();
        if !prompt.is_empty() {
            start.push(context.token_prev());
            start.extend(context.tokenize(prompt, MAX_PROMPT_TOKENS)?);
        }
        start.push(context.token_sot());
        if self.multilingual {
            let id = whisper_rs::get_lang_id(language).unwrap_or(0);
            start.extend([context.token_lang(id), context.token_transcribe()]);
        }
        start.push(context.token_not());
        Ok(start)
    }
}

/// What whisper made of an utterance that may begin with a phrase.
#[derive(Debug, Clone, PartialEq)]
pub enum AfterPhrase {
    /// Nothing to hear.
    Nothing,
    /// Whisper would not have written the phrase first: the nearest it came, and the nearest
    /// rival.
    NotSaid { fit: PhraseFit, rival: Option<PhraseFit> },
    /// The phrase fitted, but a rival ("Hey Kevin") fitted as well or better.
    Rivalled { fit: PhraseFit, rival: PhraseFit },
    /// The phrase, and what was said after it.
    Said { fit: PhraseFit, rival: Option<PhraseFit>, rest: Transcript },
}

/// How a phrase at the start of an utterance is judged.
#[derive(Debug, Clone, Copy)]
pub struct PhraseTest<'a> {
    /// The ways whisper may write the phrase ("Hey Cabin", "Hey, cabin").
    pub spellings: &'a [String],
    /// How far below whisper's own choice the best spelling may fit, summed over its tokens
    /// (nats, at most 0).
    pub min_regret: f32,
    /// What else a speaker may be saying that sounds like it ("Hey Kevin", "Hey Calvin").
    pub rivals: &'a [String],
    /// How much better than the best rival the phrase must fit (nats; may be negative).
    pub margin: f32,
}

/// An utterance as whisper takes it: 16 kHz, at least the second whisper.cpp needs.
struct Utterance {
    samples: Vec<f32>,
    seconds: f32,
    started: Instant,
}

impl Utterance {
    /// None when the audio is too quiet to hold speech.
    fn of(audio: &Audio) -> Option<Utterance> {
        let started = Instant::now();
        let audio = if audio.rate == SAMPLE_RATE { audio.clone() } else { audio.at_rate(SAMPLE_RATE) };
        if audio.level_dbfs() < SILENCE_DBFS {
            return None;
        }
        let seconds = audio.duration_secs();
        // whisper.cpp needs at least a second of input; pad short utterances with silence.
        let mut samples = audio.samples;
        let minimum = SAMPLE_RATE as usize + SAMPLE_RATE as usize / 10;
        if samples.len() < minimum {
            samples.resize(minimum, 0.0);
        }
        Some(Utterance { samples, seconds, started })
    }
}

/// Mandarin in simplified characters: whisper, told `zh`, writes traditional ones now and then
/// ("把溫度調到" for 把温度调到), which the assistant's examples and extractors do not read.
fn in_simplified_characters(text: String, language: &str) -> String {
    if language == "zh" {
        zhconv::zhconv(&text, zhconv::Variant::ZhHans)
    } else {
        text
    }
}

/// Checks the ggml magic and that the hyper-parameters are in whisper's range, so a
/// truncated or foreign file is refused here rather than inside whisper.cpp.
fn check_header(path: &Path) -> Result<(), String> {
    use std::io::Read;
    let mut header = [0u8; 4 * 12];
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    file.read_exact(&mut header).map_err(|_| "shorter than a ggml header".to_string())?;
    let field = |i: usize| i32::from_le_bytes(header[i * 4..i * 4 + 4].try_into().expect("4 bytes"));
    if field(0) as u32 != 0x6767_6d6c {
        return Err("no ggml magic".into());
    }
    let [vocab, audio_ctx, audio_state, audio_heads, audio_layers, text_ctx, text_state, text_heads, text_layers, mels] =
        std::array::from_fn(|i| field(i + 1));
    let in_range = (50_000..=52_000).contains(&vocab)
        && (1..=1500).contains(&audio_ctx)
        && (1..=448).contains(&text_ctx)
        && [audio_state, text_state].iter().all(|s| (64..=2048).contains(s))
        && [audio_heads, text_heads].iter().all(|h| (1..=32).contains(h))
        && [audio_layers, text_layers].iter().all(|l| (1..=64).contains(l))
        && matches!(mels, 80 | 128);
    if in_range {
        Ok(())
    } else {
        Err("hyper-parameters out of whisper's range".into())
    }
}

/// Encoder positions for `seconds` of audio, with headroom: too tight a window makes whisper
/// drop the last word.
fn audio_ctx_for(seconds: f32) -> i32 {
    let needed = (seconds.max(1.0) * ENCODER_POSITIONS_PER_SECOND).ceil() as i32 + 64;
    needed.min(MAX_AUDIO_CTX)
}

/// A Mandarin speaker says four or five characters a second, and a character may take two or
/// three of whisper's byte-level tokens.
fn max_tokens_for(seconds: f32, language: &str) -> i32 {
    let per_second = if language == "en" { 6.0 } else { 12.0 };
    (seconds * per_second).ceil() as i32 + 8
}

/// Words of the text, with each Han character a word of its own: Mandarin is written without
/// spaces. Each with its end in the text.
fn words_of(text: &str) -> Vec<(String, usize)> {
    let mut words = Vec::new();
    let mut current = String::new();
    for (at, c) in text.char_indices() {
        let han = cabin_language::is_han(c);
        if c.is_whitespace() || han {
            if !current.is_empty() {
                words.push((std::mem::take(&mut current), at));
            }
            if han {
                words.push((c.to_string(), at + c.len_utf8()));
            }
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() {
        words.push((current, text.len()));
    }
    words
}

/// Whether a transcript is likely speech rather than whisper filling silence or noise.
fn looks_spoken(text: &str, confidence: f32) -> bool {
    let words = words_of(text).iter().filter(|(w, _)| w.chars().any(char::is_alphanumeric)).count();
    match words {
        0 => false,
        1 => confidence >= SINGLE_WORD_MIN_CONFIDENCE,
        _ => confidence >= MIN_CONFIDENCE,
    }
}

/// "Open the trunk, open the trunk, open the" -> "Open the trunk": whisper looping on a
/// trimmed window repeats what it heard until the token limit cuts it off mid-way. The text
/// is cut where a run of two or more words first repeats itself.
fn collapse_repeats(text: &str) -> String {
    let words = words_of(text);
    let normal: Vec<String> = words.iter().map(|(w, _)| w.to_lowercase().chars().filter(|c| c.is_alphanumeric()).collect()).collect();
    let kept = |count: usize| text[..words[count - 1].1].trim_end_matches([',', ';', ' ', '，', '；']).to_owned();
    let n = words.len();
    for start in 0..n {
        for len in 2..=(n - start) / 2 {
            if normal[start..start + len] == normal[start + len..start + 2 * len] {
                return kept(start + len);
            }
        }
    }
    // The loop cut off before it completed once more: a tail that restarts the text.
    for start in 2..n.saturating_sub(1) {
        let tail = &normal[start..];
        if tail.len() <= start && normal[..tail.len()] == *tail {
            return kept(start);
        }
    }
    text.to_owned()
}

/// A short prompt in the style of a transcript of commands, so whisper spells the car's
/// words the way the assistant expects them.
fn initial_prompt(vocabulary: &[String]) -> String {
    if vocabulary.is_empty() {
        return String::new();
    }
    // whisper keeps at most half its text context (224 tokens) of prompt; stay well inside.
    let mut prompt = String::from("Car voice commands:");
    for word in vocabulary {
        if prompt.len() + word.len() + 2 > 600 {
            break;
        }
        prompt.push(' ');
        prompt.push_str(word);
        prompt.push(',');
    }
    prompt.pop();
    prompt.push('.');
    prompt
}

/// Drops whisper's non-speech annotations (`[BLANK_AUDIO]`, `(engine revving)`, `*music*`)
/// and tidies the spaces they leave.
fn strip_annotations(text: &str) -> String {
    let mut kept = String::with_capacity(text.len());
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '[' | '(' | '*' if depth == 0 || c != '*' => depth += 1,
            '*' => depth -= 1,
            ']' | ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => kept.push(c),
            _ => {}
        }
    }
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mandarin_comes_out_in_simplified_characters_and_other_languages_as_heard() {
        // As whisper base wrote one of the AISHELL-1 recordings (benches/mandarin_speech.rs).
        assert_eq!(in_simplified_characters("1-2線城市雖然也處於調整中".into(), "zh"), "1-2线城市虽然也处於调整中");
        assert_eq!(in_simplified_characters("把溫度調到二十二度，打開後備箱".into(), "zh"), "把温度调到二十二度，打开后备箱");
        assert_eq!(in_simplified_characters("导航去深圳".into(), "zh"), "导航去深圳");
        assert_eq!(in_simplified_characters("Straße".into(), "de"), "Straße");
    }

    #[test]
    fn annotations_are_not_speech() {
        assert_eq!(strip_annotations(" [BLANK_AUDIO]"), "");
        assert_eq!(strip_annotations(" (engine revving) Open the window."), "Open the window.");
        assert_eq!(strip_annotations("*music* play jazz"), "play jazz");
        assert_eq!(strip_annotations(" Set the temperature to 21."), "Set the temperature to 21.");
    }

    #[test]
    fn repeated_sentences_collapse_to_one() {
        assert_eq!(
            collapse_repeats("Hey cabin open the trunk. Hey cabin open the trunk. Hey cabin, open the trunk."),
            "Hey cabin open the trunk."
        );
        assert_eq!(collapse_repeats("Hey cabin open the trunk. Hey cabin open the"), "Hey cabin open the trunk.");
        assert_eq!(collapse_repeats("Open the trunk. Close it."), "Open the trunk. Close it.");
        assert_eq!(collapse_repeats("重要的是执着的勇气重要的是执着的勇气重要"), "重要的是执着的勇气");
        assert_eq!(collapse_repeats("把温度调到二十二度"), "把温度调到二十二度");
    }

    #[test]
    fn lone_unsure_words_and_symbols_are_not_speech() {
        assert!(!looks_spoken("you", 0.49));
        assert!(!looks_spoken("♪", 0.97));
        assert!(looks_spoken("Yes.", 0.8));
        assert!(looks_spoken("open the trunk", 0.6));
        assert!(looks_spoken("打开车窗", 0.6), "four characters are four words");
    }

    #[test]
    fn the_encoder_window_follows_the_audio_but_never_exceeds_thirty_seconds() {
        assert_eq!(audio_ctx_for(3.0), 214);
        assert!(audio_ctx_for(0.2) >= audio_ctx_for(1.0));
        assert_eq!(audio_ctx_for(45.0), MAX_AUDIO_CTX);
    }

    #[test]
    fn the_prompt_lists_vocabulary_and_stays_short() {
        let words: Vec<String> = (0..400).map(|i| format!("word{i}")).collect();
        let prompt = initial_prompt(&words);
        assert!(prompt.starts_with("Car voice commands: word0, word1"));
        assert!(prompt.len() <= 600 && prompt.ends_with('.'));
        assert_eq!(initial_prompt(&[]), "");
    }
}
