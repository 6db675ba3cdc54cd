use candle_core::Tensor;
use serde::Serialize;
use thiserror::Error;

use crate::encoder::{EncoderError, SentenceEncoder};
use crate::intents::IntentCatalog;
use crate::slots::Slots;
use crate::text::normalise;

/// Below this confidence the result is flagged as a guess.
pub const LOW_CONFIDENCE: f32 = 0.5;

/// Softmax temperature over the intents' similarities. Similarities of sentence embeddings sit
/// in a narrow band, and a place name or a contact pulls them all down together ("navigate to
/// shanghai" is 0.35 to its nearest example, but 0.07 ahead of the next intent): the gap to the
/// other intents says more than the level.
const SHARPNESS: f32 = 0.05;

/// How many nearest examples of an intent vote for it: one stray example should not win alone.
const NEAREST: usize = 2;

#[derive(Debug, Clone, Serialize)]
pub struct Understanding {
    /// The normalised text that was understood.
    pub text: String,
    pub intent: String,
    /// Probability of this intent against the others, 0-1.
    pub confidence: f32,
    /// Mean cosine similarity to the intent's nearest examples.
    pub similarity: f32,
    pub low_confidence: bool,
    pub slots: Slots,
    /// The runner-up, for a caller that wants to ask "did you mean ...?".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runner_up: Option<IntentScore>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IntentScore {
    pub intent: String,
    pub confidence: f32,
}

#[derive(Debug, Error)]
pub enum UnderstandError {
    #[error("nothing to understand: the text is empty")]
    Empty,
    #[error(transparent)]
    Encoder(#[from] EncoderError),
}

/// The classifier and the extractors, with every example embedded once at load.
#[derive(Debug)]
pub struct Understander {
    encoder: SentenceEncoder,
    catalog: IntentCatalog,
    /// (examples, dim), unit rows.
    examples: Tensor,
    /// Which intent each example row belongs to.
    example_intent: Vec<usize>,
}

impl Understander {
    pub fn new(encoder: SentenceEncoder, catalog: IntentCatalog) -> Result<Understander, EncoderError> {
        let mut texts = Vec::new();
        let mut example_intent = Vec::new();
        for (index, intent) in catalog.intents().iter().enumerate() {
            for example in &intent.examples {
                texts.push(normalise(example));
                example_intent.push(index);
            }
        }
        let mut rows = Vec::new();
        for chunk in texts.chunks(64) {
            let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            rows.push(encoder.encode(&refs)?);
        }
        let examples = Tensor::cat(&rows, 0)?;
        tracing::debug!(examples = texts.len(), intents = catalog.intents().len(), "intent examples embedded");
        Ok(Understander { encoder, catalog, examples, example_intent })
    }

    pub fn catalog(&self) -> &IntentCatalog {
        &self.catalog
    }

    pub fn understand(&self, raw: &str) -> Result<Understanding, UnderstandError> {
        let text = normalise(raw);
        if text.is_empty() {
            return Err(UnderstandError::Empty);
        }
        let ranked = self.rank(&text)?;
        let (best, similarity) = ranked[0];
        let weights: Vec<f32> = ranked.iter().map(|(_, s)| ((s - similarity) / SHARPNESS).exp()).collect();
        let total: f32 = weights.iter().sum();
        let probability = |rank: usize| weights[rank] / total;
        let intent = self.catalog.intents()[best].name.clone();
        let slots = self.extract(&intent, &text);
        let confidence = probability(0);
        let runner_up =
            ranked.get(1).map(|(i, _)| IntentScore { intent: self.catalog.intents()[*i].name.clone(), confidence: probability(1) });
        Ok(Understanding { text, intent, confidence, similarity, low_confidence: confidence < LOW_CONFIDENCE, slots, runner_up })
    }

    /// Reads `intent`'s slots out of already normalised text (also used for corrections and
    /// follow-ups, where the dialog already knows the intent).
    pub fn extract(&self, intent: &str, normalised: &str) -> Slots {
        let Some(def) = self.catalog.get(intent) else { return Slots::new() };
        def.slots.iter().filter_map(|(name, kind)| kind.extract(normalised).map(|value| (name.clone(), value))).collect()
    }

    /// Intents by score, best first.
    fn rank(&self, text: &str) -> Result<Vec<(usize, f32)>, EncoderError> {
        let query = self.encoder.encode(&[text])?;
        let similarities: Vec<f32> = self.examples.matmul(&query.t()?)?.squeeze(1)?.to_vec1()?;
        let mut per_intent: Vec<Vec<f32>> = vec![Vec::new(); self.catalog.intents().len()];
        for (similarity, intent) in similarities.into_iter().zip(&self.example_intent) {
            per_intent[*intent].push(similarity);
        }
        let mut scores: Vec<(usize, f32)> = per_intent
            .into_iter()
            .enumerate()
            .map(|(intent, mut sims)| {
                sims.sort_by(|a, b| b.total_cmp(a));
                let nearest = &sims[..NEAREST.min(sims.len())];
                (intent, nearest.iter().sum::<f32>() / nearest.len().max(1) as f32)
            })
            .collect();
        scores.sort_by(|a, b| b.1.total_cmp(&a.1));
        Ok(scores)
    }
}
