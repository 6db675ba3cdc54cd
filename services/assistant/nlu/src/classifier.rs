use std::collections::BTreeMap;
use std::path::Path;

use candle_core::Tensor;
use serde::Serialize;
use thiserror::Error;

use std::sync::Arc;

use cabin_sentence_encoder::{EncoderError, MultilingualEncoder, SentenceEncoder, EMBEDDING_MODEL, MULTILINGUAL_MODEL};

use crate::example_cache::ExampleCache;
use crate::intents::IntentCatalog;
use crate::not_controlled::NotControlled;
use crate::question_forms::{form_of, QuestionForm};
use crate::slots::Slots;
use crate::text::normalise;
use crate::{memory_verbs, negations, state_questions, travel_requests};
use cabin_language::Language;

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
    /// The language it was said in: the reply is given in it.
    pub language: Language,
    pub intent: String,
    /// Probability of this intent against the others, 0-1.
    pub confidence: f32,
    /// Mean cosine similarity to the intent's nearest examples.
    pub similarity: f32,
    pub low_confidence: bool,
    /// Asks for the action not to be done: "don't open the windows", 别锁门.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub negated: bool,
    /// Said as a statement ("it's getting too hot", "i'd love some fresh air") rather than as a
    /// command: beside a command, it gives the reason for it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub statement: bool,
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
    #[error("{language} is not installed: `cabin models fetch {model}` adds it")]
    LanguageNotInstalled { language: Language, model: &'static str },
    #[error(transparent)]
    Encoder(#[from] EncoderError),
}

/// Why an understander could not learn a language's examples.
#[derive(Debug, Error)]
pub enum LearnError {
    #[error(transparent)]
    Encoder(#[from] EncoderError),
    #[error("no intent has an example in {0} to learn from")]
    NoExamples(Language),
}

/// A sentence encoder, for the language whose examples it embeds.
pub trait Embedder: Send + Sync + std::fmt::Debug {
    /// One unit-length row per sentence.
    fn embed(&self, sentences: &[&str]) -> Result<Tensor, EncoderError>;

    /// A cosine similarity on MiniLM's scale, where the classifier's and the dialog's
    /// thresholds were set: unrelated sentences near 0.2, paraphrases 0.8 and up.
    fn calibrated(&self, similarity: f32) -> f32 {
        similarity
    }

    /// Which weights embed (see `cabin_sentence_encoder`); "" keeps no embeddings between runs.
    fn identity(&self) -> &str {
        ""
    }
}

impl Embedder for SentenceEncoder {
    fn embed(&self, sentences: &[&str]) -> Result<Tensor, EncoderError> {
        self.encode(sentences)
    }

    fn identity(&self) -> &str {
        SentenceEncoder::identity(self)
    }
}

/// The process's one copy ([`SentenceEncoder::shared`]), shared with the vision service.
impl<E: Embedder> Embedder for Arc<E> {
    fn embed(&self, sentences: &[&str]) -> Result<Tensor, EncoderError> {
        self.as_ref().embed(sentences)
    }

    fn calibrated(&self, similarity: f32) -> f32 {
        self.as_ref().calibrated(similarity)
    }

    fn identity(&self) -> &str {
        self.as_ref().identity()
    }
}

impl Embedder for MultilingualEncoder {
    fn embed(&self, sentences: &[&str]) -> Result<Tensor, EncoderError> {
        self.encode(sentences)
    }

    /// e5 was trained with a low softmax temperature, so its cosines crowd between 0.8
    /// (unrelated) and 1: spread four times, 0.8 goes to 0.2 and 0.95 to 0.8.
    fn calibrated(&self, similarity: f32) -> f32 {
        0.2 + (similarity - 0.8) * 4.0
    }

    fn identity(&self) -> &str {
        MultilingualEncoder::identity(self)
    }
}

/// One language's encoder and the catalog's examples in that language, embedded once at load.
#[derive(Debug)]
struct LanguageIndex {
    encoder: Box<dyn Embedder>,
    /// (examples, dim), unit rows.
    examples: Tensor,
    /// Which intent each example row belongs to.
    example_intent: Vec<usize>,
}

/// The classifier and the extractors, per language: English with MiniLM, and Mandarin with
/// multilingual-e5 when it is installed. The script of what was said picks the language.
#[derive(Debug)]
pub struct Understander {
    catalog: IntentCatalog,
    languages: BTreeMap<Language, LanguageIndex>,
    cache: Option<ExampleCache>,
    /// Per intent, the questions asking why or how that its examples ask.
    questions_asked: Vec<Vec<QuestionForm>>,
    /// Things next to an intent that it does not control.
    not_controlled: NotControlled,
}

impl Understander {
    /// English, from MiniLM.
    pub fn new(encoder: impl Embedder + 'static, catalog: IntentCatalog) -> Result<Understander, LearnError> {
        Understander::caching(encoder, catalog, None)
    }

    /// As [`new`](Self::new), keeping the examples' embeddings in `cache` (a folder) between
    /// runs, for this and every language added later.
    pub fn caching(encoder: impl Embedder + 'static, catalog: IntentCatalog, cache: Option<&Path>) -> Result<Understander, LearnError> {
        let questions_asked = catalog
            .intents()
            .iter()
            .map(|intent| {
                let mut forms = Vec::new();
                for form in intent.examples.iter().filter_map(|e| form_of(Language::of(e), &normalise(e))) {
                    if !forms.contains(&form) {
                        forms.push(form);
                    }
                }
                forms
            })
            .collect();
        let not_controlled = NotControlled::for_catalog(&catalog);
        Understander { catalog, languages: BTreeMap::new(), cache: cache.map(ExampleCache::new), questions_asked, not_controlled }
            .with_language(Language::English, encoder)
    }

    /// Adds a language: the catalog's examples written in it are embedded with `encoder`.
    pub fn with_language(mut self, language: Language, encoder: impl Embedder + 'static) -> Result<Understander, LearnError> {
        let mut texts = Vec::new();
        let mut example_intent = Vec::new();
        for (index, intent) in self.catalog.intents().iter().enumerate() {
            for example in intent.examples.iter().filter(|e| Language::of(e) == language) {
                texts.push(normalise(example));
                example_intent.push(index);
            }
        }
        if texts.is_empty() {
            return Err(LearnError::NoExamples(language));
        }
        let cache = self.cache.as_ref().filter(|_| !encoder.identity().is_empty());
        let examples = match cache.and_then(|cache| cache.load(language, encoder.identity(), &texts)) {
            Some(kept) => kept,
            None => {
                let mut rows = Vec::new();
                for chunk in texts.chunks(64) {
                    let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
                    rows.push(encoder.embed(&refs)?);
                }
                let examples = Tensor::cat(&rows, 0).map_err(EncoderError::from)?;
                if let Some(cache) = cache {
                    cache.store(language, encoder.identity(), &texts, &examples);
                }
                examples
            }
        };
        tracing::debug!(%language, examples = texts.len(), "intent examples embedded");
        self.languages.insert(language, LanguageIndex { encoder: Box::new(encoder), examples, example_intent });
        Ok(self)
    }

    /// Adds every other language whose encoder is installed (Mandarin: `e5-small`); one that is
    /// not is logged, and the understander goes on without it: English alone is a working car.
    pub fn with_installed_languages(self, models: &cabin_models::ModelsDir) -> Result<Understander, LearnError> {
        match models.locate(MULTILINGUAL_MODEL) {
            Ok(dir) => self.with_language(Language::Chinese, MultilingualEncoder::load(&dir)?),
            Err(error) => {
                tracing::warn!(%error, "Mandarin is not understood");
                Ok(self)
            }
        }
    }

    /// The languages this understander reads.
    pub fn languages(&self) -> Vec<Language> {
        self.languages.keys().copied().collect()
    }

    pub fn catalog(&self) -> &IntentCatalog {
        &self.catalog
    }

    pub fn understand(&self, raw: &str) -> Result<Understanding, UnderstandError> {
        let text = normalise(raw);
        if text.is_empty() {
            return Err(UnderstandError::Empty);
        }
        let language = Language::of(&text);
        let model = match language {
            Language::English => EMBEDDING_MODEL,
            Language::Chinese => MULTILINGUAL_MODEL,
        };
        let index = self.languages.get(&language).ok_or(UnderstandError::LanguageNotInstalled { language, model })?;
        let mut ranked = self.rank(index, &text)?;
        self.let_the_words_decide(language, &text, &mut ranked);
        let (best, similarity) = ranked[0];
        let weights: Vec<f32> = ranked.iter().map(|(_, s)| ((s - similarity) / SHARPNESS).exp()).collect();
        let total: f32 = weights.iter().sum();
        let probability = |rank: usize| weights[rank] / total;
        let intent = self.catalog.intents()[best].name.clone();
        let slots = self.extract(&intent, &text);
        let confidence = probability(0);
        let runner_up =
            ranked.get(1).map(|(i, _)| IntentScore { intent: self.catalog.intents()[*i].name.clone(), confidence: probability(1) });
        let unsure = confidence < LOW_CONFIDENCE && !travel_requests::is_sure(language, &text, &intent);
        let low_confidence = unsure || self.not_controlled.names_another_thing(language, &text, &intent);
        let negated = negations::negates_an_action(language, &text);
        let statement = state_questions::is_statement(language, &text);
        Ok(Understanding { text, language, intent, confidence, similarity, low_confidence, negated, statement, slots, runner_up })
    }

    /// Reads `intent`'s slots out of already normalised text (also used for corrections and
    /// follow-ups, where the dialog already knows the intent).
    pub fn extract(&self, intent: &str, normalised: &str) -> Slots {
        let Some(def) = self.catalog.get(intent) else { return Slots::new() };
        def.slots.iter().filter_map(|(name, kind)| kind.extract(normalised).map(|value| (name.clone(), value))).collect()
    }

    /// Between the memory intents, the verb decides ([`memory_verbs`]); a request to go
    /// somewhere is never a memory ([`travel_requests`]); a question about a state is never a
    /// setting ([`state_questions`]); a question asking why or how goes to the best-ranked
    /// intent whose examples ask such questions ([`question_forms`](crate::question_forms)).
    /// The intent so named changes places with the classifier's choice, scores staying where
    /// they are.
    fn let_the_words_decide(&self, language: Language, text: &str, ranked: &mut [(usize, f32)]) {
        let intents = self.catalog.intents();
        let chosen = &intents[ranked[0].0].name;
        let Some(named) = memory_verbs::intent_by_verb(language, text, chosen)
            .or_else(|| travel_requests::intent_by_opening(language, text, chosen))
            .or_else(|| state_questions::intent_by_form(language, text, state_questions::is_setting(&intents[ranked[0].0])))
            .or_else(|| self.intent_asking(language, text, ranked))
        else {
            return;
        };
        if let Some(at) = ranked.iter().position(|(i, _)| intents[*i].name == named) {
            let (chosen, named) = (ranked[0].0, ranked[at].0);
            ranked[0].0 = named;
            ranked[at].0 = chosen;
        }
    }

    /// When `text` asks why or how and the chosen intent's examples never do, the best-ranked
    /// intent whose examples do.
    fn intent_asking(&self, language: Language, text: &str, ranked: &[(usize, f32)]) -> Option<&str> {
        let form = form_of(language, text)?;
        let asks = |intent: usize| self.questions_asked[intent].contains(&form);
        if asks(ranked[0].0) {
            return None;
        }
        let (asking, _) = ranked.iter().find(|(intent, _)| asks(*intent))?;
        Some(&self.catalog.intents()[*asking].name)
    }

    /// Intents by score, best first.
    fn rank(&self, index: &LanguageIndex, text: &str) -> Result<Vec<(usize, f32)>, EncoderError> {
        let query = index.encoder.embed(&[text])?;
        let similarities: Vec<f32> = index.examples.matmul(&query.t()?)?.squeeze(1)?.to_vec1()?;
        let mut per_intent: Vec<Vec<f32>> = vec![Vec::new(); self.catalog.intents().len()];
        for (similarity, intent) in similarities.into_iter().zip(&index.example_intent) {
            per_intent[*intent].push(index.encoder.calibrated(similarity));
        }
        let mut scores: Vec<(usize, f32)> = per_intent
            .into_iter()
            .enumerate()
            // An intent without examples in this language cannot be recognised in it.
            .filter(|(_, sims)| !sims.is_empty())
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
