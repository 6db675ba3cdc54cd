//! The acoustic wake stage as the listener runs it: embeddings are made while the driver
//! speaks, on a fixed grid of the stream (one per 80 ms), so when the utterance closes only the
//! head is left to run (under a millisecond) instead of the front end over 4.8 s of audio
//! (about 70 ms on the end of speech → action path).
//!
//! The head looks at windows that end from the utterance's start to 3 s into it, each 1.96 s
//! long: it hears the 1.8 s before the utterance too, as it was trained (the phrase at the end
//! of a window that began in the cabin's noise).

use std::collections::VecDeque;
use std::sync::Arc;

use cabin_audio::SAMPLE_RATE;
use cabin_wake::acoustic::{AcousticError, AcousticSpotter, Embedding, SpeechEmbedder, Spotted, EMBEDDING_HOP_SAMPLES, HEAD_WINDOW};

/// Audio before an utterance the head hears with it.
const LEAD_SECS: f32 = 1.8;
/// How far into an utterance a window may end: the phrase starts it.
const PROBE_SECS: f32 = 3.0;
/// Embeddings made at once while speech goes on (0.32 s): a batch is cheaper than one by one.
const BATCH: u64 = 4;
/// The stream is taken to begin after this many samples of silence (the lead, on the grid), so
/// an utterance at its very start is heard with a lead too, as the head was trained.
const SILENCE_BEFORE: u64 = 23 * EMBEDDING_HOP_SAMPLES as u64;
/// The least cabin noise heard before speech (0.2 s) that is mirrored to fill a missing lead.
const MIN_NOISE_SAMPLES: usize = SAMPLE_RATE as usize / 5;

#[derive(Debug)]
pub struct AcousticStage {
    pub spotter: Arc<AcousticSpotter>,
    /// The latest samples of the stream, and the index of the first (indices count the
    /// silence before the stream).
    recent: VecDeque<f32>,
    recent_start: u64,
    keep_samples: usize,
    /// Embeddings `first..first + len` of the stream grid.
    embeddings: VecDeque<Embedding>,
    first: u64,
    /// Where the speech being judged began, in stream samples: what the stream held before
    /// it is the cabin's noise.
    speech_start: u64,
}

/// Where the `index`-th embedding of the stream starts and ends, in stream samples.
fn span(index: u64) -> (u64, u64) {
    let start = index * EMBEDDING_HOP_SAMPLES as u64;
    (start, start + SpeechEmbedder::end_sample(0) as u64)
}

/// The first embedding of the grid that starts at or after `sample`.
fn first_starting_at(sample: u64) -> u64 {
    sample.div_ceil(EMBEDDING_HOP_SAMPLES as u64)
}

/// The last embedding of the grid that ends by `sample`, if any does.
fn last_ending_by(sample: u64) -> Option<u64> {
    let first_end = span(0).1;
    (sample >= first_end).then(|| (sample - first_end) / EMBEDDING_HOP_SAMPLES as u64)
}

impl AcousticStage {
    /// `longest_utterance_secs`: how much audio to keep (an utterance, its lead and trailing silence).
    pub fn new(spotter: Arc<AcousticSpotter>, longest_utterance_secs: f32) -> AcousticStage {
        let keep_samples = ((longest_utterance_secs + LEAD_SECS + 1.0) * SAMPLE_RATE as f32) as usize;
        AcousticStage {
            spotter,
            recent: VecDeque::new(),
            recent_start: SILENCE_BEFORE,
            keep_samples,
            embeddings: VecDeque::new(),
            first: 0,
            speech_start: SILENCE_BEFORE,
        }
    }

    pub fn reset(&mut self) {
        self.recent.clear();
        self.recent_start = SILENCE_BEFORE;
        self.embeddings.clear();
        self.first = 0;
        self.speech_start = SILENCE_BEFORE;
    }

    /// The stream's next samples.
    pub fn hear(&mut self, samples: &[f32]) {
        self.recent.extend(samples);
        let excess = self.recent.len().saturating_sub(self.keep_samples);
        self.recent.drain(..excess);
        self.recent_start += excess as u64;
    }

    fn now(&self) -> u64 {
        self.recent_start + self.recent.len() as u64
    }

    /// While speech that began at `speech_start` (a stream sample) goes on: makes the
    /// embeddings heard so far, a batch at a time.
    pub fn keep_up(&mut self, speech_start: u64) -> Result<(), AcousticError> {
        self.speech_start = speech_start + SILENCE_BEFORE;
        let (from, until) = self.needed(self.speech_start);
        let Some(heard) = last_ending_by(self.now()).map(|last| last.min(until)) else { return Ok(()) };
        let made = if self.embeddings.is_empty() || self.first > from { None } else { Some(self.first + self.embeddings.len() as u64) };
        if heard + 1 >= made.unwrap_or(from) + BATCH {
            self.make(from, heard)?;
        }
        Ok(())
    }

    /// The best window for the utterance that began at `utterance_start` (a stream sample).
    pub fn best(&mut self, utterance_start: u64) -> Result<Option<Spotted>, AcousticError> {
        self.speech_start = utterance_start + SILENCE_BEFORE;
        let (from, until) = self.needed(self.speech_start);
        let Some(last) = last_ending_by(self.now()).map(|last| last.min(until)) else { return Ok(None) };
        if last < from + HEAD_WINDOW as u64 - 1 {
            return Ok(None);
        }
        self.make(from, last)?;
        let offset = (from - self.first) as usize;
        let embeddings: Vec<Embedding> = self.embeddings.range(offset..offset + (last - from + 1) as usize).copied().collect();
        Ok(self
            .spotter
            .head
            .best_window(&embeddings)?
            .map(|(last, score)| Spotted { score, at_secs: (span(from + last as u64).1 - SILENCE_BEFORE) as f32 / SAMPLE_RATE as f32 }))
    }

    /// The embeddings an utterance starting at `start` is judged on: from the lead's start to
    /// the last window end the probe allows.
    fn needed(&self, start: u64) -> (u64, u64) {
        let rate = SAMPLE_RATE as f32;
        let from = first_starting_at(start.saturating_sub((LEAD_SECS * rate) as u64));
        let until = last_ending_by(start + (PROBE_SECS * rate) as u64).unwrap_or(0);
        (from, until)
    }

    /// Makes sure embeddings `from..=last` are made (the ones already made are kept).
    fn make(&mut self, from: u64, last: u64) -> Result<(), AcousticError> {
        let contiguous = !self.embeddings.is_empty() && self.first <= from && self.first + self.embeddings.len() as u64 >= from;
        if !contiguous {
            self.embeddings.clear();
            self.first = from;
        }
        let next = self.first + self.embeddings.len() as u64;
        if next <= last {
            let (start, _) = span(next);
            let (_, end) = span(last);
            let made = self.spotter.embedder.embed(&self.samples(start, end))?;
            if made.len() as u64 != last + 1 - next {
                return Err(AcousticError::FrontEnd(format!("{} embeddings for {}", made.len(), last + 1 - next)));
            }
            self.embeddings.extend(made);
        }
        // Older embeddings than this utterance needs are not needed again.
        let stale = (from - self.first) as usize;
        self.embeddings.drain(..stale);
        self.first = from;
        Ok(())
    }

    fn samples(&self, start: u64, end: u64) -> Vec<f32> {
        stream_samples(&self.recent, self.recent_start, self.speech_start, start, end)
    }
}

/// Stream samples `start..end`, of which `recent` holds those from `recent_start`. Before the
/// stream began (a file, or a microphone opened just before someone spoke) the head would hear
/// digital silence, which it never trained on: the phrase comes after the cabin's noise. So the
/// noise the stream did hear before the speech (at `speech_start`) is mirrored back over the
/// missing lead, when there is enough of it.
fn stream_samples(recent: &VecDeque<f32>, recent_start: u64, speech_start: u64, start: u64, end: u64) -> Vec<f32> {
    let noise = (speech_start.saturating_sub(recent_start) as usize).min(recent.len());
    (start..end)
        .map(|at| match at.checked_sub(recent_start) {
            Some(offset) => recent.get(offset as usize).copied().unwrap_or(0.0),
            None if noise >= MIN_NOISE_SAMPLES => {
                // Reflected, so the lead runs into the heard noise without a jump.
                let back = (recent_start - at - 1) as usize % (2 * noise);
                recent[if back < noise { back } else { 2 * noise - 1 - back }]
            }
            None => 0.0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_puts_an_embedding_every_80_ms_each_hearing_the_790_ms_before_its_end() {
        assert_eq!(span(0), (0, 12_640));
        assert_eq!(span(2), (2_560, 15_200));
        assert_eq!(last_ending_by(12_639), None);
        assert_eq!(last_ending_by(12_640), Some(0));
        assert_eq!(last_ending_by(15_199), Some(1));
        assert_eq!((first_starting_at(0), first_starting_at(1), first_starting_at(1_280)), (0, 1, 1));
        // An utterance at the stream's very start still has its lead of silence.
        assert!(SILENCE_BEFORE as f32 >= LEAD_SECS * SAMPLE_RATE as f32);
    }

    #[test]
    fn a_lead_the_stream_did_not_hear_is_the_noise_before_the_speech_mirrored() {
        // 0.25 s of "noise" (each sample its index), then speech.
        let recent: VecDeque<f32> = (0..4_000).map(|i| i as f32).chain([9_999.0; 8_000]).collect();
        let at = |start: u64, end: u64, speech_start: u64| stream_samples(&recent, 100_000, 100_000 + speech_start, start, end);
        assert_eq!(at(99_997, 100_002, 4_000), [2.0, 1.0, 0.0, 0.0, 1.0]);
        assert_eq!(at(95_998, 96_002, 4_000), [3_998.0, 3_999.0, 3_999.0, 3_998.0]);
        // Too little noise heard before the speech: silence, as before.
        assert_eq!(at(99_998, 100_001, 100), [0.0, 0.0, 0.0]);
    }
}
