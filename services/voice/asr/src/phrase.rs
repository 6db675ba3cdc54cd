//! A phrase at the start of an utterance, judged on the encoding whisper made of it, and the
//! words whisper writes after it.
//!
//! Whisper is never told the phrase. Each way it could write it ("Hey Cabin", "Hey, cabin")
//! is scored against what whisper would have written instead, token by token, after the same
//! start tokens a transcription begins with. When the best spelling is near enough, whisper
//! goes on from it, greedily, as if it had written it: the command comes from the encoding
//! already made, with no second pass.
//!
//! whisper.cpp keeps the logits of the last token decoded only, and whisper-rs hands back the
//! first row of them: every token whose logits are read is decoded alone. Spellings that begin
//! alike share those decodes.

use whisper_rs::{WhisperContext, WhisperError, WhisperState, WhisperTokenId};

/// How near whisper came to writing a phrase at the start of an utterance.
#[derive(Debug, Clone, PartialEq)]
pub struct PhraseFit {
    pub spelling: String,
    /// The phrase's log-probability less that of whisper's own choice, summed over its tokens,
    /// each given the phrase's tokens before it: 0 when whisper would write the phrase itself,
    /// more negative the further it had to be pushed (in nats).
    pub regret: f32,
    pub tokens: usize,
}

/// Text logits after one decoded token: those of text tokens and end-of-text, the only ones
/// whisper writes with timestamps off.
struct Logits {
    values: Vec<f32>,
    top: f32,
}

impl Logits {
    fn regret(&self, token: WhisperTokenId) -> f32 {
        self.values[token as usize] - self.top
    }

    /// Whisper's own choice and its probability.
    fn best(&self) -> (WhisperTokenId, f32) {
        let (token, _) = self.values.iter().enumerate().fold((0, f32::NEG_INFINITY), |b, (i, &v)| if v > b.1 { (i, v) } else { b });
        let total: f32 = self.values.iter().map(|v| (v - self.top).exp()).sum();
        (token as WhisperTokenId, 1.0 / total)
    }
}

/// Decodes after an utterance's start tokens on an encoded state, keeping the logits after
/// each token of the path last decoded so that a path sharing its beginning decodes only the rest.
pub(crate) struct PhraseDecoder<'a> {
    context: &'a WhisperContext,
    state: &'a mut WhisperState,
    threads: usize,
    /// Where the last start token (no-timestamps) goes: everything before it is decoded once.
    first_position: usize,
    /// The last start token, then the path's tokens, and the logits after each.
    path: Vec<WhisperTokenId>,
    after: Vec<Logits>,
}

impl<'a> PhraseDecoder<'a> {
    /// `start`: the tokens a transcription begins with, the prompt's, then start-of-transcript,
    /// language and task, then no-timestamps.
    pub(crate) fn start(
        context: &'a WhisperContext,
        state: &'a mut WhisperState,
        threads: usize,
        start: &[WhisperTokenId],
    ) -> Result<PhraseDecoder<'a>, WhisperError> {
        let (last, before) = start.split_last().expect("start-of-transcript is there");
        state.decode(before, 0, threads)?;
        let mut decoder = PhraseDecoder { context, state, threads, first_position: before.len(), path: Vec::new(), after: Vec::new() };
        decoder.follow(&[*last])?;
        Ok(decoder)
    }

    /// The spelling whisper came nearest to writing first, and its tokens.
    pub(crate) fn best_fit(&mut self, spellings: &[String]) -> Result<Option<(PhraseFit, Vec<WhisperTokenId>)>, WhisperError> {
        let mut tokenized = Vec::new();
        for spelling in spellings {
            tokenized.push((self.context.tokenize(&format!(" {}", spelling.trim()), 64)?, spelling));
        }
        // Spellings that begin alike, one after the other, share their decodes.
        tokenized.sort();
        let mut best: Option<(PhraseFit, Vec<WhisperTokenId>)> = None;
        for (tokens, spelling) in tokenized {
            let Some((_, scored_after)) = tokens.split_last() else { continue };
            self.follow(&[&[self.path[0]], scored_after].concat())?;
            let regret = tokens.iter().zip(&self.after).map(|(&token, logits)| logits.regret(token)).sum();
            let fit = PhraseFit { spelling: spelling.clone(), regret, tokens: tokens.len() };
            if best.as_ref().is_none_or(|(b, _)| fit.regret > b.regret) {
                best = Some((fit, tokens));
            }
        }
        Ok(best)
    }

    /// What whisper writes after `phrase`, greedily, up to `max_tokens`: each token and its
    /// probability.
    pub(crate) fn continue_after(
        &mut self,
        phrase: &[WhisperTokenId],
        max_tokens: usize,
    ) -> Result<Vec<(WhisperTokenId, f32)>, WhisperError> {
        self.follow(&[&[self.path[0]], phrase].concat())?;
        let eot = self.context.token_eot();
        let mut written = Vec::new();
        while written.len() < max_tokens {
            let (token, probability) = self.after.last().expect("the start token was decoded").best();
            if token == eot {
                break;
            }
            written.push((token, probability));
            let path = [self.path.as_slice(), &[token]].concat();
            self.follow(&path)?;
        }
        Ok(written)
    }

    /// Makes `path` the decoded one: what it shares with the last is kept, the rest decoded.
    fn follow(&mut self, path: &[WhisperTokenId]) -> Result<(), WhisperError> {
        let shared = self.path.iter().zip(path).take_while(|(a, b)| a == b).count();
        self.path.truncate(shared);
        self.after.truncate(shared);
        let eot = self.context.token_eot() as usize;
        for &token in &path[shared..] {
            self.state.decode(&[token], self.first_position + self.path.len(), self.threads)?;
            let values = self.state.get_logits()?[..=eot].to_vec();
            let top = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            self.path.push(token);
            self.after.push(Logits { values, top });
        }
        Ok(())
    }
}
