//! From per-chunk speech probabilities to utterances.
//!
//! A state machine with no I/O: feed it chunks and their scores, it says when speech
//! started and hands over each finished utterance. Hysteresis (a higher threshold to
//! start than to continue) keeps a breath from splitting a command.
//!
//! A pause shorter than the trailing silence is announced (`Paused`) early, so that a caller
//! that knows what was said can judge the words while the silence goes on, and, when they
//! already make a whole command, end the utterance at a short silence
//! ([`Endpointer::close_when_quiet`]) instead of waiting out the full one. The judging (whisper)
//! takes longer than the gap between the two, so the turn ends as soon as it is done.
//!
//! Silero's probability stays over the end threshold for a few chunks after the voice stops
//! (about 120 ms in the whole-car benchmark). The chunks' level knows sooner: when silero first
//! calls a chunk silent and the chunks before it were already down at the cabin's noise floor,
//! the pause is counted from the first of those (at most four, about silero's lag). Silero
//! still decides that there is a pause; the level only says when it began. The full trailing
//! silence still counts from silero's call, so an utterance that waits it out holds as much
//! of it as before (tiny.en wrote "Hey Carbon" for a phrase alone with 120 ms less of it).

use cabin_audio::{Audio, SAMPLE_RATE};

use crate::CHUNK_SAMPLES;

#[derive(Debug, Clone, PartialEq)]
pub struct EndpointConfig {
    /// Probability above which a chunk counts as speech.
    pub start_threshold: f32,
    /// Probability below which a chunk counts as silence once speech has started.
    pub end_threshold: f32,
    /// Speech shorter than this is a click or a cough, not an utterance.
    pub min_speech_ms: u32,
    /// Silence that ends an utterance.
    pub trailing_silence_ms: u32,
    /// Silence after which a pause is announced with the words so far, once per pause.
    pub look_ms: u32,
    /// Silence that ends an utterance a caller found whole at its pause (0: no pauses are
    /// announced, every utterance waits out the trailing silence).
    pub pause_ms: u32,
    /// An utterance is cut here even if speech goes on (a radio left on).
    pub max_utterance_ms: u32,
    /// Audio kept from before speech was detected, so the first syllable is not clipped.
    pub pre_roll_ms: u32,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            start_threshold: 0.5,
            end_threshold: 0.35,
            min_speech_ms: 200,
            trailing_silence_ms: 600,
            look_ms: 128,
            pause_ms: 250,
            max_utterance_ms: 12_000,
            pre_roll_ms: 200,
        }
    }
}

/// A finished stretch of speech.
#[derive(Debug, Clone, PartialEq)]
pub struct Utterance {
    pub audio: Audio,
    /// Where it started in the stream, in seconds.
    pub start_secs: f32,
    /// Where the speech ended (before the trailing silence), in seconds.
    pub speech_end_secs: f32,
    /// True when the maximum length cut it.
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    SpeechStarted {
        at_secs: f32,
    },
    /// Speech stopped a `look_ms` ago: what was said so far, still open.
    Paused(Utterance),
    Utterance(Utterance),
}

#[derive(Debug)]
pub struct Endpointer {
    config: EndpointConfig,
    /// Chunks seen so far (the stream clock).
    chunks: u64,
    pre_roll: std::collections::VecDeque<f32>,
    current: Option<Current>,
    /// The level of the cabin's noise (dB full scale), learnt where no one speaks.
    noise_floor_db: Option<f32>,
}

#[derive(Debug)]
struct Current {
    samples: Vec<f32>,
    start_chunk: u64,
    speech_chunks: u32,
    /// Chunks silero called silent since the last speech.
    silent_chunks: u32,
    /// The quiet chunks just before those that silero still called speech: with them, the pause.
    backdate: u32,
    /// Chunks in a row, up to this one, at the noise floor's level.
    quiet_run: u32,
    /// The chunk pushed last.
    last_chunk: u64,
    announced: bool,
    /// This pause was announced.
    paused: bool,
    /// The caller found the words whole: the utterance ends at `pause_ms` of silence.
    whole: bool,
}

const CHUNK_MS: u32 = (CHUNK_SAMPLES as u32 * 1000) / SAMPLE_RATE;

/// A chunk less than this over the noise floor holds nothing louder than the cabin.
const QUIET_MARGIN_DB: f32 = 6.0;
/// How many quiet chunks silero called speech may count towards a pause once it calls one
/// silent: about its lag.
const MAX_BACKDATE_CHUNKS: u32 = 4;

impl Endpointer {
    pub fn new(config: EndpointConfig) -> Endpointer {
        Endpointer { config, chunks: 0, pre_roll: Default::default(), current: None, noise_floor_db: None }
    }

    pub fn config(&self) -> &EndpointConfig {
        &self.config
    }

    /// True while an utterance is open (speech started, not yet ended).
    pub fn in_speech(&self) -> bool {
        self.current.as_ref().is_some_and(|c| c.announced)
    }

    /// Feeds one chunk and its speech probability.
    pub fn push(&mut self, chunk: &[f32], probability: f32) -> Vec<Event> {
        let index = self.chunks;
        self.chunks += 1;
        let level = level_db(chunk);
        let quiet = self.noise_floor_db.is_some_and(|floor| level < floor + QUIET_MARGIN_DB);
        let look = chunks_for(self.config.look_ms.min(self.config.pause_ms));
        // The floor is learnt outside speech: before it, and in a pause long enough to announce.
        let in_a_pause = self.current.as_ref().is_some_and(|c| c.silent_chunks >= look);
        if probability < self.config.end_threshold && (self.current.is_none() || in_a_pause) {
            self.learn_noise_floor(level);
        }
        let mut events = Vec::new();
        match &mut self.current {
            None => {
                if probability >= self.config.start_threshold {
                    let mut samples: Vec<f32> = self.pre_roll.drain(..).collect();
                    let pre_roll_chunks = (samples.len() / CHUNK_SAMPLES) as u64;
                    samples.extend_from_slice(chunk);
                    self.current = Some(Current {
                        samples,
                        start_chunk: index - pre_roll_chunks,
                        speech_chunks: 1,
                        silent_chunks: 0,
                        backdate: 0,
                        quiet_run: u32::from(quiet),
                        last_chunk: index,
                        announced: false,
                        paused: false,
                        whole: false,
                    });
                } else {
                    self.pre_roll.extend(chunk);
                    let keep = (self.config.pre_roll_ms * SAMPLE_RATE / 1000) as usize;
                    while self.pre_roll.len() > keep {
                        self.pre_roll.pop_front();
                    }
                }
            }
            Some(current) => {
                current.samples.extend_from_slice(chunk);
                current.last_chunk = index;
                current.quiet_run = if quiet { current.quiet_run + 1 } else { 0 };
                if probability >= self.config.end_threshold {
                    current.speech_chunks += 1;
                    current.silent_chunks = 0;
                    current.backdate = 0;
                    current.paused = false;
                    // More words: what was whole may not be any more ("twenty" ... "four").
                    current.whole = false;
                } else {
                    if current.silent_chunks == 0 {
                        // The pause began with the quiet chunks before this one, if this one is quiet too.
                        let quiet_before = if quiet { current.quiet_run - 1 } else { 0 };
                        current.backdate = quiet_before.min(MAX_BACKDATE_CHUNKS).min(current.speech_chunks.saturating_sub(1));
                        current.speech_chunks -= current.backdate;
                    }
                    current.silent_chunks += 1;
                }
                if !current.announced && current.speech_chunks >= chunks_for(self.config.min_speech_ms) {
                    current.announced = true;
                    events.push(Event::SpeechStarted { at_secs: secs(current.start_chunk) });
                }
                let trailing = chunks_for(self.config.trailing_silence_ms);
                if current.announced && self.config.pause_ms > 0 && look < trailing && current.pause_chunks() >= look && !current.paused {
                    current.paused = true;
                    events.push(Event::Paused(current.so_far(false)));
                }
                let too_long = current.samples.len() as u64 * 1000 >= self.config.max_utterance_ms as u64 * SAMPLE_RATE as u64;
                let quiet_enough = current.whole && current.pause_chunks() >= chunks_for(self.config.pause_ms);
                if current.silent_chunks >= trailing || too_long || quiet_enough {
                    let finished = self.current.take().expect("matched Some");
                    if finished.announced {
                        let cut = too_long && finished.silent_chunks < chunks_for(self.config.trailing_silence_ms);
                        events.push(Event::Utterance(finished.so_far(cut)));
                    }
                }
            }
        }
        events
    }

    /// Fast down (the cabin got quieter), slow up (a passing noise is not the floor).
    fn learn_noise_floor(&mut self, level: f32) {
        self.noise_floor_db = Some(match self.noise_floor_db {
            None => level,
            Some(floor) if level < floor => 0.7 * floor + 0.3 * level,
            Some(floor) => 0.98 * floor + 0.02 * level,
        });
    }

    /// Ends the stream: an utterance still open is handed over as it is.
    pub fn finish(&mut self) -> Option<Utterance> {
        let finished = self.current.take()?;
        finished.announced.then(|| finished.so_far(false))
    }

    /// The open utterance's words were enough: it ends once its silence reaches `pause_ms`,
    /// unless speech comes first. Returns true when the silence already has: the utterance is
    /// over, and the audio that follows starts afresh, with no pre-roll from it.
    pub fn close_when_quiet(&mut self) -> bool {
        let Some(current) = &mut self.current else { return false };
        if current.pause_chunks() >= chunks_for(self.config.pause_ms) {
            self.current = None;
            return true;
        }
        current.whole = true;
        false
    }
}

impl Current {
    /// How long the pause going on has lasted, from where the sound fell.
    fn pause_chunks(&self) -> u32 {
        self.silent_chunks + self.backdate
    }

    fn so_far(&self, truncated: bool) -> Utterance {
        Utterance {
            audio: Audio::new(self.samples.clone(), SAMPLE_RATE),
            start_secs: secs(self.start_chunk),
            speech_end_secs: secs(self.last_chunk + 1 - self.pause_chunks() as u64),
            truncated,
        }
    }
}

/// Mean power in dB full scale.
fn level_db(chunk: &[f32]) -> f32 {
    let power = chunk.iter().map(|s| s * s).sum::<f32>() / chunk.len().max(1) as f32;
    10.0 * (power + 1e-10).log10()
}

/// Whole chunks that cover `ms` (at least one).
fn chunks_for(ms: u32) -> u32 {
    ms.div_ceil(CHUNK_MS).max(1)
}

fn secs(chunk: u64) -> f32 {
    (chunk * CHUNK_SAMPLES as u64) as f32 / SAMPLE_RATE as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds a script of probabilities (one per chunk) and collects the events.
    fn run(config: EndpointConfig, script: &[(f32, usize)]) -> (Vec<Event>, Option<Utterance>) {
        let mut endpointer = Endpointer::new(config);
        let mut events = Vec::new();
        for &(probability, count) in script {
            for _ in 0..count {
                events.extend(endpointer.push(&[probability; CHUNK_SAMPLES], probability));
            }
        }
        (events, endpointer.finish())
    }

    fn utterances(events: &[Event]) -> Vec<&Utterance> {
        events.iter().filter_map(|e| if let Event::Utterance(u) = e { Some(u) } else { None }).collect()
    }

    #[test]
    fn an_utterance_ends_after_the_trailing_silence_with_pre_roll() {
        // 1 s silence, 1 s speech, 1 s silence (chunks of 32 ms).
        let (events, open) = run(EndpointConfig::default(), &[(0.0, 31), (0.9, 31), (0.0, 31)]);
        assert!(matches!(events[0], Event::SpeechStarted { at_secs } if (at_secs - 0.8).abs() < 0.05), "{events:?}");
        let done = utterances(&events);
        assert_eq!(done.len(), 1);
        assert!((done[0].speech_end_secs - 1.984).abs() < 0.01, "{}", done[0].speech_end_secs);
        // pre-roll 192 ms + speech 992 ms + trailing 608 ms
        assert!((done[0].audio.duration_secs() - 1.79).abs() < 0.05, "{}", done[0].audio.duration_secs());
        assert!(!done[0].truncated);
        assert!(open.is_none());
    }

    fn feed(endpointer: &mut Endpointer, probability: f32, count: usize) -> Vec<Event> {
        feed_level(endpointer, probability, probability, count)
    }

    fn pauses(events: &[Event]) -> Vec<&Utterance> {
        events.iter().filter_map(|e| if let Event::Paused(u) = e { Some(u) } else { None }).collect()
    }

    #[test]
    fn a_pause_is_announced_early_and_a_whole_command_ends_at_the_short_silence() {
        let mut endpointer = Endpointer::new(EndpointConfig::default());
        // 640 ms of speech, then 128 ms of silence (4 chunks): the pause is announced, no end.
        let mut events = feed(&mut endpointer, 0.9, 20);
        events.extend(feed(&mut endpointer, 0.0, 4));
        let paused = pauses(&events);
        assert_eq!(paused.len(), 1, "{events:?}");
        assert!((paused[0].speech_end_secs - 0.64).abs() < 0.01, "{}", paused[0].speech_end_secs);
        assert!(utterances(&events).is_empty() && endpointer.in_speech());
        // Found whole: it ends when the silence reaches 250 ms (8 chunks), not 600 ms.
        assert!(!endpointer.close_when_quiet(), "only 128 ms of silence so far");
        assert!(feed(&mut endpointer, 0.0, 3).is_empty() && endpointer.in_speech());
        let ended = feed(&mut endpointer, 0.0, 1);
        let done = utterances(&ended);
        assert_eq!(done.len(), 1, "{ended:?}");
        assert!((done[0].speech_end_secs - 0.64).abs() < 0.01);
        assert!(!endpointer.in_speech());
        let after = feed(&mut endpointer, 0.0, 40);
        assert!(after.is_empty() && endpointer.finish().is_none(), "closed: the silence after it is nothing");
    }

    /// Chunks of noise or speech at `amplitude`, each with silero's `probability`.
    fn feed_level(endpointer: &mut Endpointer, amplitude: f32, probability: f32, count: usize) -> Vec<Event> {
        (0..count).flat_map(|_| endpointer.push(&[amplitude; CHUNK_SAMPLES], probability)).collect()
    }

    /// 640 ms of cabin noise (-40 dB), then 640 ms of speech.
    fn after_speech_in_noise() -> Endpointer {
        let mut endpointer = Endpointer::new(EndpointConfig::default());
        feed_level(&mut endpointer, 0.01, 0.0, 20);
        feed_level(&mut endpointer, 0.5, 0.9, 20);
        endpointer
    }

    #[test]
    fn a_pause_counts_from_where_the_level_fell_to_the_noise_not_from_silero_s_late_call() {
        let mut endpointer = after_speech_in_noise();
        // The voice has stopped; silero still says speech for three chunks, then silence.
        let mut events = feed_level(&mut endpointer, 0.01, 0.8, 3);
        assert!(pauses(&events).is_empty(), "silero decides there is a pause: {events:?}");
        events.extend(feed_level(&mut endpointer, 0.01, 0.1, 1));
        let paused = pauses(&events);
        assert_eq!(paused.len(), 1, "4 quiet chunks make the 128 ms look: {events:?}");
        assert!((paused[0].speech_end_secs - 1.28).abs() < 0.01, "ends with the loud chunks: {}", paused[0].speech_end_secs);
        // The turn, found whole, ends 250 ms after the voice stopped, not after silero's call.
        assert!(!endpointer.close_when_quiet());
        let ended = feed_level(&mut endpointer, 0.01, 0.1, 4);
        assert_eq!(utterances(&ended).len(), 1, "{ended:?}");

        // Not found whole: the full 600 ms (19 chunks) still count from silero's call.
        let mut endpointer = after_speech_in_noise();
        feed_level(&mut endpointer, 0.01, 0.8, 3);
        assert!(utterances(&feed_level(&mut endpointer, 0.01, 0.1, 18)).is_empty());
        let done = feed_level(&mut endpointer, 0.01, 0.1, 1);
        assert_eq!(utterances(&done).len(), 1, "{done:?}");
        assert!((utterances(&done)[0].speech_end_secs - 1.28).abs() < 0.01, "the speech still ended with the loud chunks");
    }

    #[test]
    fn quiet_speech_is_not_a_pause_while_silero_hears_it_and_a_loud_chunk_before_the_call_is_not_backdated() {
        let mut endpointer = after_speech_in_noise();
        // A soft stretch silero hears as speech: no pause, however quiet.
        let mut events = feed_level(&mut endpointer, 0.01, 0.9, 10);
        events.extend(feed_level(&mut endpointer, 0.5, 0.9, 10));
        assert!(pauses(&events).is_empty(), "{events:?}");
        // Silero's silence starting on a loud chunk: counted from there, as before.
        let events = feed_level(&mut endpointer, 0.5, 0.1, 1);
        assert!(events.is_empty());
        let paused = pauses(&feed_level(&mut endpointer, 0.01, 0.1, 3)).into_iter().cloned().collect::<Vec<_>>();
        assert_eq!(paused.len(), 1);
        assert!((paused[0].speech_end_secs - 60.0 * 0.032).abs() < 0.01, "{}", paused[0].speech_end_secs);
    }

    #[test]
    fn speech_before_the_short_silence_keeps_a_whole_command_open() {
        let mut endpointer = Endpointer::new(EndpointConfig::default());
        feed(&mut endpointer, 0.9, 20);
        feed(&mut endpointer, 0.0, 4);
        assert!(!endpointer.close_when_quiet());
        // "… twenty" … "four": the words go on, so the turn waits for the full silence again.
        let mut events = feed(&mut endpointer, 0.9, 10);
        events.extend(feed(&mut endpointer, 0.0, 18));
        assert!(utterances(&events).is_empty() && endpointer.in_speech(), "{events:?}");
        let done = feed(&mut endpointer, 0.0, 1);
        assert_eq!(utterances(&done).len(), 1, "ended by the 600 ms silence");
    }

    #[test]
    fn a_command_found_whole_after_the_short_silence_ends_at_once() {
        let mut endpointer = Endpointer::new(EndpointConfig::default());
        feed(&mut endpointer, 0.9, 20);
        feed(&mut endpointer, 0.0, 8);
        assert!(endpointer.close_when_quiet());
        assert!(!endpointer.in_speech());
        assert!(feed(&mut endpointer, 0.0, 40).is_empty());
    }

    #[test]
    fn speech_after_a_pause_keeps_the_utterance_open_and_pauses_again() {
        let (events, _) = run(EndpointConfig::default(), &[(0.9, 20), (0.0, 9), (0.9, 20), (0.0, 25)]);
        assert_eq!(pauses(&events).len(), 2, "{events:?}");
        let done = utterances(&events);
        assert_eq!(done.len(), 1);
        assert!(done[0].audio.duration_secs() > 1.5, "both stretches of speech: {}", done[0].audio.duration_secs());
    }

    #[test]
    fn a_short_pause_does_not_split_a_command() {
        let (events, _) = run(EndpointConfig::default(), &[(0.9, 20), (0.1, 10), (0.9, 20), (0.0, 25)]);
        assert_eq!(utterances(&events).len(), 1);
    }

    #[test]
    fn a_click_is_not_an_utterance() {
        let (events, open) = run(EndpointConfig::default(), &[(0.0, 10), (0.9, 2), (0.0, 40)]);
        assert!(events.is_empty(), "{events:?}");
        assert!(open.is_none());
    }

    #[test]
    fn endless_speech_is_cut_at_the_maximum() {
        let config = EndpointConfig { max_utterance_ms: 2_000, ..EndpointConfig::default() };
        let (events, _) = run(config, &[(0.9, 200)]);
        let done = utterances(&events);
        assert!(done.len() >= 2, "{}", done.len());
        assert!(done[0].truncated);
        assert!(done[0].audio.duration_secs() <= 2.05);
    }

    #[test]
    fn speech_running_into_the_end_of_a_file_is_still_handed_over() {
        let (events, open) = run(EndpointConfig::default(), &[(0.0, 5), (0.9, 30)]);
        assert!(utterances(&events).is_empty());
        assert!(open.is_some());
    }
}
