//! The listening half of the pipeline: samples in, commands out.
//!
//! source -> VAD (silero, every 32 ms) -> end-pointer -> utterance -> wake phrase? -> whisper
//!
//! Without a wake requirement every utterance is a command. With one, and an acoustic head
//! trained for the phrase (cabin-wake's `acoustic`), the head listens to the start of each
//! utterance first, and only when it fires does whisper run: on the whole utterance, with no
//! phrase in its prompt, and the phrase counts when whisper would nearly have written it first
//! (scored on the same encoding, so whisper is never told what to expect); the command is what
//! whisper writes on from the phrase, in the same pass. Without a head, a command-length
//! utterance is transcribed once with the phrase as prompt, and counts if it begins with
//! the phrase ("hey cabin, open the trunk" in one breath); a longer one is first probed on
//! its first two seconds, so long chatter costs little. A phrase said alone wakes the listener, and the next
//! utterance within the timeout is the command. Push-to-talk wakes it the same way. A car
//! that listens for two phrases (`auto`: "hey cabin" and 你好小舱) hears the one with a head
//! by its sound and the other on whisper's text, when the head has turned the utterance away.
//!
//! A turn ends when the driver is done, not only after the full trailing silence: 128 ms into
//! a pause the words so far are transcribed and, when a [`CommandJudge`] (the assistant) finds
//! them a whole command, the turn ends once the silence reaches 250 ms, which by the time
//! whisper is done it usually has; more words before then keep the turn open. Otherwise the
//! transcript is kept, and used as it is when the silence runs out with nothing more said, so
//! the pause costs no second pass.

use std::sync::Arc;
use std::time::Instant;

use cabin_asr::{AfterPhrase, AsrError, PhraseTest, Transcriber, Transcript};
use cabin_audio::{Audio, SAMPLE_RATE};
use cabin_vad::{EndpointConfig, Endpointer, Event, Silero, Utterance, VadError, CHUNK_SAMPLES};
use cabin_wake::acoustic::{AcousticError, AcousticSpotter};
use cabin_wake::WakePhrase;
use serde::Serialize;
use thiserror::Error;

use crate::acoustic_stage::AcousticStage;

#[derive(Debug, Error)]
pub enum ListenError {
    #[error(transparent)]
    Vad(#[from] VadError),
    #[error(transparent)]
    Asr(#[from] AsrError),
    #[error(transparent)]
    Wake(#[from] AcousticError),
}

/// What whisper made of an utterance's start, looking for one phrase on text.
enum Spotted {
    Woke(Vec<Heard>),
    /// What it heard instead (empty: nothing).
    NotForUs(String),
}

#[derive(Debug, Clone)]
pub struct ListenerConfig {
    pub endpoint: EndpointConfig,
    /// The phrase that must start a command; `None` takes every utterance as one.
    pub wake: Option<WakePhrase>,
    /// More phrases that wake the car, spotted on whisper's text: with `auto`, the other
    /// language's (你好小舱 beside "hey cabin"). Whisper then runs on every utterance the
    /// acoustic head turns away, which costs the CPU the head saves.
    pub also_wake: Vec<WakePhrase>,
    /// After the phrase alone (or push-to-talk), how long the command may take to start.
    pub command_timeout_secs: f32,
    /// Utterances up to this long are transcribed once, phrase and command together;
    /// longer ones (chatter, the radio) first have their start probed for the phrase.
    pub single_pass_secs: f32,
    /// How much of a longer utterance is transcribed to look for the phrase.
    pub wake_probe_secs: f32,
}

impl Default for ListenerConfig {
    fn default() -> Self {
        ListenerConfig {
            endpoint: EndpointConfig::default(),
            wake: Some(WakePhrase::default()),
            also_wake: Vec::new(),
            command_timeout_secs: 8.0,
            single_pass_secs: 5.0,
            wake_probe_secs: 2.0,
        }
    }
}

impl ListenerConfig {
    /// Every phrase that wakes the car, the first one first.
    pub fn phrases(&self) -> impl Iterator<Item = &WakePhrase> {
        self.wake.iter().chain(self.wake.as_ref().map_or(&[][..], |_| &self.also_wake[..]))
    }
}

/// Says whether a transcribed command is whole: nothing more is needed from the driver (the
/// assistant knows, from the intent, its slots and the question it asked).
pub trait CommandJudge: Send {
    fn is_whole_command(&self, text: &str) -> bool;
}

/// What was heard at a pause, kept for when the silence runs out.
#[derive(Debug)]
struct AtPause {
    start_secs: f32,
    speech_end_secs: f32,
    heard: Vec<Heard>,
    awake_until: Option<f32>,
}

/// What the listener heard.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Heard {
    SpeechStarted {
        at_secs: f32,
    },
    Wake {
        at_secs: f32,
        confidence: f32,
        push_to_talk: bool,
    },
    Command(Command),
    /// Speech without the wake phrase, while the phrase is required: what whisper heard, or
    /// nothing when the acoustic stage judged it (whisper writes nothing out there).
    NotForUs {
        text: String,
    },
    /// Woken, but no command came.
    WakeTimedOut,
}

/// A transcribed command and where its time went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Command {
    pub text: String,
    pub language: String,
    pub confidence: f32,
    /// Seconds of audio in the utterance.
    pub audio_secs: f32,
    pub start_secs: f32,
    pub speech_end_secs: f32,
    pub timings: Timings,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timings {
    /// Trailing silence waited for before the utterance was closed.
    pub endpoint_ms: f32,
    /// Whisper on the wake probe (0 when no phrase was needed).
    pub wake_ms: f32,
    pub asr_ms: f32,
    /// From the end of speech to the transcript: end-pointing plus recognition.
    pub end_of_speech_to_text_ms: f32,
}

pub struct Listener {
    vad: Silero,
    endpointer: Endpointer,
    asr: Arc<Transcriber>,
    config: ListenerConfig,
    pending: Vec<f32>,
    samples_seen: u64,
    /// Awake (phrase heard or button pressed) until this stream time.
    awake_until: Option<f32>,
    /// The phrase said alone that woke it (none for the button): the command after it is
    /// heard with that phrase as prompt, which with `auto` leads whisper to its language.
    woken_by: Option<WakePhrase>,
    judge: Option<Box<dyn CommandJudge>>,
    at_pause: Option<AtPause>,
    acoustic: Option<AcousticStage>,
    /// Where the speech going on now started, in stream samples.
    speech_start: Option<u64>,
}

/// How far (in nats, per word of the phrase) whisper may have to be pushed to write the phrase
/// first, once the acoustic head has heard it, and how much better than its nearest rival
/// ("Hey Kevin", [`WakePhrase::rival_spellings`]) the phrase must then fit. Chosen on the wake
/// training's validation voices with sentences of their own, not the benchmark's
/// (`cabin/benches/wake_tuning.rs`): at 10 and 5 dB, 131 of 140 phrases woke the car and 2 of
/// 140 near misses ("hey Kevin…", "hey Gavin…"), against 125 and 10 with a bar of -3 a word and
/// no rivals: a near miss fits the phrase as well as a phrase said unclearly does, but it fits
/// its rival far better. The rival may fit a little better than the phrase (-3): some voices'
/// "cabin" is near "Kevin" to whisper.
const MIN_FIT_PER_WORD: f32 = -4.0;
const RIVAL_MARGIN: f32 = -3.0;
/// When the head is sure of the phrase, whisper may have been pushed further (the rival margin
/// stays). People run the phrase into the request ("hey cabin open the trunk"), and whisper,
/// hearing one breath, then writes neither the phrase nor its rival first: both fit at -8 to
/// -12. Near misses that get that far fit their rival far better, or the head is less sure of
/// them (median 0.84, against 0.97 for phrases). Chosen on the same validation voices, now
/// also saying their commands without a comma: at 10 and 5 dB, 266 of 280 phrases woke the car
/// against 260, and the same 5 of 140 near misses.
const SURE_HEAD_SCORE: f32 = 0.9;
const MIN_FIT_PER_WORD_WHEN_SURE: f32 = -5.5;
/// The same for a phrase in characters, as whisper base fits 你好小舱 (five tokens). Chosen on
/// the Mandarin wake head's validation speakers, 24 phrases at 20, 10 and 5 dB: the phrase fitted
/// at -4.3 to -16.4 (written 你好小艙 or 你好小倉), near misses that got past the head ("你好小张",
/// "你好小伙子") at -17.0 and below. A thin margin: the benchmark counts the near misses.
const MIN_FIT_PER_CHARACTER: f32 = -4.2;

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener").field("config", &self.config).field("awake_until", &self.awake_until).finish()
    }
}

impl Listener {
    pub fn new(vad: Silero, asr: Arc<Transcriber>, config: ListenerConfig) -> Listener {
        Listener {
            vad,
            endpointer: Endpointer::new(config.endpoint.clone()),
            asr,
            config,
            pending: Vec::new(),
            samples_seen: 0,
            awake_until: None,
            woken_by: None,
            judge: None,
            at_pause: None,
            acoustic: None,
            speech_start: None,
        }
    }

    /// Listens for the phrase with an acoustic head first, when the head is for one of this
    /// listener's phrases (else whisper spots them on text, as without one).
    pub fn with_acoustic(mut self, spotter: Arc<AcousticSpotter>) -> Listener {
        // The head's phrase goes first: it is heard by its sound, the others on text.
        if let (Some(wake), Some(at)) =
            (self.config.wake.as_mut(), self.config.also_wake.iter().position(|phrase| spotter.head.is_for(&phrase.phrase)))
        {
            std::mem::swap(wake, &mut self.config.also_wake[at]);
        }
        if self.config.wake.as_ref().is_some_and(|wake| spotter.head.is_for(&wake.phrase)) {
            let longest = (self.config.endpoint.max_utterance_ms + self.config.endpoint.trailing_silence_ms) as f32 / 1000.0;
            self.acoustic = Some(AcousticStage::new(spotter, longest));
        } else {
            tracing::warn!(head = %spotter.head.info.phrase, "the acoustic head is for another phrase; spotting on text");
        }
        self
    }

    /// Whether an acoustic head listens before whisper.
    pub fn has_acoustic_stage(&self) -> bool {
        self.acoustic.is_some()
    }

    /// Ends a turn at a short pause when `judge` finds the command whole.
    pub fn with_judge(mut self, judge: Box<dyn CommandJudge>) -> Listener {
        self.judge = Some(judge);
        self
    }

    /// Stream time, in seconds of audio pushed.
    pub fn now_secs(&self) -> f32 {
        self.samples_seen as f32 / SAMPLE_RATE as f32
    }

    pub fn is_awake(&self) -> bool {
        self.config.wake.is_none() || self.awake_until.is_some_and(|until| until >= self.now_secs())
    }

    /// The steering-wheel button: the next utterance is a command, no phrase needed.
    pub fn push_to_talk(&mut self) -> Heard {
        self.awake_until = Some(self.now_secs() + self.config.command_timeout_secs);
        self.woken_by = None;
        Heard::Wake { at_secs: self.now_secs(), confidence: 1.0, push_to_talk: true }
    }

    /// Feeds 16 kHz mono samples, any amount.
    pub fn push(&mut self, samples: &[f32]) -> Result<Vec<Heard>, ListenError> {
        self.pending.extend_from_slice(samples);
        let mut heard = Vec::new();
        let chunks = self.pending.len() / CHUNK_SAMPLES;
        for index in 0..chunks {
            let chunk = self.pending[index * CHUNK_SAMPLES..(index + 1) * CHUNK_SAMPLES].to_vec();
            self.samples_seen += CHUNK_SAMPLES as u64;
            if let Some(stage) = &mut self.acoustic {
                stage.hear(&chunk);
            }
            let probability = self.vad.probability(&chunk)?;
            for event in self.endpointer.push(&chunk, probability) {
                match event {
                    Event::SpeechStarted { at_secs } => {
                        self.speech_start = Some((at_secs * SAMPLE_RATE as f32).round() as u64);
                        heard.push(Heard::SpeechStarted { at_secs })
                    }
                    Event::Paused(so_far) => heard.extend(self.on_pause(so_far)?),
                    Event::Utterance(utterance) => heard.extend(self.on_closed(utterance)?),
                }
            }
            // The wake stage's embeddings are made as the words come, when they will be needed.
            if let (Some(start), false) = (self.speech_start.filter(|_| self.endpointer.in_speech()), self.is_awake()) {
                if let Some(stage) = &mut self.acoustic {
                    stage.keep_up(start)?;
                }
            }
            if let Some(until) = self.awake_until {
                if until < self.now_secs() && !self.endpointer.in_speech() {
                    self.awake_until = None;
                    heard.push(Heard::WakeTimedOut);
                }
            }
        }
        self.pending.drain(..chunks * CHUNK_SAMPLES);
        Ok(heard)
    }

    /// Ends the stream (end of a file): speech still open is handled as an utterance.
    pub fn finish(&mut self) -> Result<Vec<Heard>, ListenError> {
        let tail = std::mem::take(&mut self.pending);
        if !tail.is_empty() {
            let mut padded = tail;
            padded.resize(CHUNK_SAMPLES, 0.0);
            let mut heard = self.push(&padded)?;
            if let Some(utterance) = self.endpointer.finish() {
                heard.extend(self.on_closed(utterance)?);
            }
            return Ok(heard);
        }
        match self.endpointer.finish() {
            Some(utterance) => self.on_closed(utterance),
            None => Ok(Vec::new()),
        }
    }

    /// Forgets the stream (a new file, a new device).
    pub fn reset(&mut self) {
        self.vad.reset();
        self.endpointer = Endpointer::new(self.config.endpoint.clone());
        self.pending.clear();
        self.samples_seen = 0;
        self.awake_until = None;
        self.at_pause = None;
        self.speech_start = None;
        if let Some(stage) = &mut self.acoustic {
            stage.reset();
        }
    }

    /// Transcribes a recording of the phrase as the wake probe would hear it.
    pub fn transcribe_as_wake(&self, audio: &Audio, phrase: &WakePhrase) -> Result<Transcript, ListenError> {
        Ok(self.asr.transcribe_after(audio, &phrase.prompt())?)
    }

    /// At a pause: the words so far, and the end of the turn if they make a whole command.
    fn on_pause(&mut self, so_far: Utterance) -> Result<Vec<Heard>, ListenError> {
        if self.judge.is_none() || so_far.audio.duration_secs() > self.config.single_pass_secs {
            return Ok(Vec::new());
        }
        let awake_before = self.awake_until;
        let heard = self.on_utterance(so_far.clone())?;
        let judge = self.judge.as_ref().expect("checked above");
        let whole = heard.iter().any(|h| matches!(h, Heard::Command(c) if judge.is_whole_command(&c.text)));
        // Whole: the turn ends at the short silence, by now usually past (whisper took longer).
        if whole && self.endpointer.close_when_quiet() {
            self.at_pause = None;
            return Ok(heard);
        }
        self.at_pause =
            Some(AtPause { start_secs: so_far.start_secs, speech_end_secs: so_far.speech_end_secs, heard, awake_until: self.awake_until });
        self.awake_until = awake_before;
        Ok(Vec::new())
    }

    /// At the end of the trailing silence: what was heard at the last pause when nothing was
    /// said since, else the whole utterance heard now.
    fn on_closed(&mut self, utterance: Utterance) -> Result<Vec<Heard>, ListenError> {
        let Some(at_pause) = self.at_pause.take().filter(|p| p.start_secs == utterance.start_secs) else {
            return self.on_utterance(utterance);
        };
        // Speech after the pause: heard again, whole. Nothing for us at the pause: heard again
        // too, since whisper may hear the phrase with the longer silence after it (reusing the
        // miss lost 4 % of the benchmark's commands).
        let heard_a_command = at_pause.heard.iter().any(|h| matches!(h, Heard::Command(_)));
        if at_pause.speech_end_secs != utterance.speech_end_secs || !heard_a_command {
            return self.on_utterance(utterance);
        }
        self.awake_until = at_pause.awake_until;
        let waited_ms = (self.now_secs() - utterance.speech_end_secs).max(0.0) * 1000.0;
        Ok(at_pause
            .heard
            .into_iter()
            .map(|heard| match heard {
                // Heard during the silence: ready when the silence ran out, or when heard.
                Heard::Command(mut command) => {
                    command.timings.end_of_speech_to_text_ms = command.timings.end_of_speech_to_text_ms.max(waited_ms);
                    command.timings.endpoint_ms = waited_ms;
                    command.audio_secs = utterance.audio.duration_secs();
                    Heard::Command(command)
                }
                other => other,
            })
            .collect())
    }

    fn on_utterance(&mut self, utterance: Utterance) -> Result<Vec<Heard>, ListenError> {
        // The utterance was closed now; its speech ended a trailing silence ago.
        let endpoint_ms = (self.now_secs() - utterance.speech_end_secs).max(0.0) * 1000.0;
        let Some(wake) = self.config.wake.clone() else {
            let transcript = self.asr.transcribe(&utterance.audio)?;
            return Ok(self.command(transcript, &utterance, endpoint_ms, 0.0).into_iter().collect());
        };
        if self.is_awake() {
            self.awake_until = None;
            let prompt = self.woken_by.as_ref().unwrap_or(&wake).prompt();
            let transcript = self.asr.transcribe_after(&utterance.audio, &prompt)?;
            // "Hey cabin" may be said again after pressing the button; it is not part of the command.
            let transcript = match self.config.phrases().find_map(|phrase| phrase.matches(&transcript.text)) {
                Some(found) => Transcript { text: found.rest, ..transcript },
                None => transcript,
            };
            return Ok(self.command(transcript, &utterance, endpoint_ms, 0.0).into_iter().collect());
        }

        let on_text: Vec<WakePhrase> = if self.acoustic.is_some() {
            let heard = self.spot_acoustically(&wake, &utterance, endpoint_ms)?;
            if self.config.also_wake.is_empty() || heard.iter().any(|h| matches!(h, Heard::Wake { .. })) {
                return Ok(heard);
            }
            self.config.also_wake.clone()
        } else {
            self.config.phrases().cloned().collect()
        };
        let mut not_for_us = Vec::new();
        for wake in &on_text {
            match self.spot_on_text(wake, &utterance, endpoint_ms)? {
                Spotted::Woke(heard) => return Ok(heard),
                Spotted::NotForUs(text) if !text.is_empty() => not_for_us = vec![Heard::NotForUs { text }],
                Spotted::NotForUs(_) => {}
            }
        }
        Ok(not_for_us)
    }

    /// Whisper looks for `wake` at the start of the utterance, with the phrase in its prompt.
    fn spot_on_text(&mut self, wake: &WakePhrase, utterance: &Utterance, endpoint_ms: f32) -> Result<Spotted, ListenError> {
        let started = Instant::now();
        let probe_len = (self.config.wake_probe_secs * SAMPLE_RATE as f32) as usize;
        let whole = utterance.audio.duration_secs() <= self.config.single_pass_secs.max(self.config.wake_probe_secs);
        let probe = if whole { utterance.audio.clone() } else { Audio::new(utterance.audio.samples[..probe_len].to_vec(), SAMPLE_RATE) };
        let probed = self.asr.transcribe_after(&probe, &wake.prompt())?;
        let Some(found) = wake.matches(&probed.text) else {
            return Ok(Spotted::NotForUs(probed.text));
        };
        // In a single pass the phrase costs nothing extra: it is all recognition time.
        let wake_ms = if whole { 0.0 } else { started.elapsed().as_secs_f32() * 1000.0 };
        let mut heard = vec![Heard::Wake { at_secs: utterance.start_secs, confidence: found.confidence, push_to_talk: false }];
        // The command in the same breath: all of it transcribed, the phrase taken off.
        let command = if whole {
            Transcript { text: found.rest, ..probed }
        } else {
            let full = self.asr.transcribe_after(&utterance.audio, &wake.prompt())?;
            // Whisper may spell the phrase differently with more context ("Hey Cavan"); the
            // probe already showed it is there, so its words come off either way.
            let text = wake.matches(&full.text).map(|f| f.rest).unwrap_or_else(|| cabin_wake::without_phrase(&full.text, found.used));
            Transcript { text, ..full }
        };
        match self.command(command, utterance, endpoint_ms, wake_ms) {
            Some(command) => heard.push(command),
            // The phrase alone: wait for the command.
            None => self.wait_for_the_command(wake),
        }
        Ok(Spotted::Woke(heard))
    }

    /// The acoustic stage first; whisper, with no phrase in its prompt, only when it fires.
    fn spot_acoustically(&mut self, wake: &WakePhrase, utterance: &Utterance, endpoint_ms: f32) -> Result<Vec<Heard>, ListenError> {
        let started = Instant::now();
        let stage = self.acoustic.as_mut().expect("called with a stage");
        let spotted = stage.best((utterance.start_secs * SAMPLE_RATE as f32).round() as u64)?;
        let threshold = stage.spotter.threshold();
        let wake_ms = started.elapsed().as_secs_f32() * 1000.0;
        let Some(spotted) = spotted.filter(|s| s.score >= threshold) else {
            tracing::debug!(score = spotted.map(|s| s.score), "no wake phrase heard");
            return Ok(vec![Heard::NotForUs { text: String::new() }]);
        };
        // Whisper, not told the phrase, judges how near it came to writing it first. Spelling
        // is not the test: for many voices tiny.en writes "They come in" or "Take cabin" for
        // the phrase, and "A cabin in the woods" for something else. The command is what it
        // writes after the phrase, from the same encoding.
        let needed = if wake.in_characters() {
            MIN_FIT_PER_CHARACTER * wake.phrase.chars().filter(|c| c.is_alphanumeric()).count() as f32
        } else {
            let per_word = if spotted.score >= SURE_HEAD_SCORE { MIN_FIT_PER_WORD_WHEN_SURE } else { MIN_FIT_PER_WORD };
            per_word * wake.phrase.split_whitespace().count() as f32
        };
        let (spellings, rivals) = (wake.spellings(), wake.rival_spellings());
        let test = PhraseTest { spellings: &spellings, min_regret: needed, rivals: &rivals, margin: RIVAL_MARGIN };
        let rest = match self.asr.transcribe_after_phrase(&utterance.audio, &test)? {
            AfterPhrase::Said { fit, rival, rest } => {
                tracing::debug!(score = spotted.score, fit = fit.regret, rival = rival.map(|r| r.regret), spelling = %fit.spelling, "wake phrase heard");
                rest
            }
            AfterPhrase::NotSaid { fit, rival } => {
                tracing::debug!(
                    score = spotted.score,
                    fit = fit.regret,
                    rival = rival.map(|r| r.regret),
                    "the head fired; whisper did not hear the phrase"
                );
                return Ok(vec![Heard::NotForUs { text: String::new() }]);
            }
            AfterPhrase::Rivalled { fit, rival } => {
                tracing::debug!(score = spotted.score, fit = fit.regret, rival = rival.regret, rival_spelling = %rival.spelling, "the head fired; whisper heard a rival of the phrase");
                return Ok(vec![Heard::NotForUs { text: String::new() }]);
            }
            AfterPhrase::Nothing => return Ok(vec![Heard::NotForUs { text: String::new() }]),
        };
        let mut heard = vec![Heard::Wake { at_secs: utterance.start_secs, confidence: spotted.score, push_to_talk: false }];
        match self.command(rest, utterance, endpoint_ms, wake_ms) {
            Some(command) => heard.push(command),
            None => self.wait_for_the_command(wake),
        }
        Ok(heard)
    }

    fn wait_for_the_command(&mut self, woken_by: &WakePhrase) {
        self.awake_until = Some(self.now_secs() + self.config.command_timeout_secs);
        self.woken_by = Some(woken_by.clone());
    }

    fn command(&self, transcript: Transcript, utterance: &Utterance, endpoint_ms: f32, wake_ms: f32) -> Option<Heard> {
        if transcript.text.trim().is_empty() {
            return None;
        }
        let asr_ms = transcript.asr_ms;
        Some(Heard::Command(Command {
            text: transcript.text,
            language: transcript.language,
            confidence: transcript.confidence,
            audio_secs: utterance.audio.duration_secs(),
            start_secs: utterance.start_secs,
            speech_end_secs: utterance.speech_end_secs,
            timings: Timings { endpoint_ms, wake_ms, asr_ms, end_of_speech_to_text_ms: endpoint_ms + wake_ms + asr_ms },
        }))
    }
}
