//! From the word someone asked about ("my hat", "the cellphone") to the detector's and the
//! classifier's classes.
//!
//! The detector's (COCO) classes: its configured table, or an exact COCO class name. The
//! classifier's (ImageNet) classes, in order: the configured synonym table (singular or
//! plural), an exact ImageNet class name or WordNet synonym, then, for a word the detector
//! does not know either, the nearest class names by MiniLM sentence embedding. A word nothing
//! is close to is unknown: "I don't know that object" beats a confident guess.
//!
//! Only the class names' embeddings are kept. The encoder (90 MiB of weights) is held while they
//! are made at start and while an unlisted word is matched, and loaded again for the next one
//! (its 90 MiB file read again) unless something else in the process holds it: a camera answers words from its
//! tables far more often, and the vision service should not carry a second copy of what the
//! assistant holds.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use cabin_sentence_encoder::SentenceEncoder;
use cabin_vision_model::{Labels, CLASSES, COCO_CLASSES};
use candle_core::Tensor;

/// Cosine similarity a class name must reach for an unlisted word to count as that class.
/// Measured: "smartphone" reaches "mobile phone" at 0.86, "scarf" "stole scarf" at 0.78;
/// "unicorn" reaches nothing above 0.51, while "baby seat" reaches "toilet seat" at 0.71 and
/// "iphone" "mobile phone" at 0.71, so the line is drawn above both. Known miss: "dragon"
/// reaches "dragonfly" at 0.77.
pub const MIN_SIMILARITY: f32 = 0.75;
const EMBEDDING_BATCH: usize = 32;
/// Classes this close to the best match are taken with it ("mug": coffee mug and tea cup).
const SIMILARITY_MARGIN: f32 = 0.05;

/// How an object word was understood.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectClasses {
    pub word: String,
    /// The classifier's (ImageNet) classes; may be empty for a word only the detector knows.
    pub classes: Vec<usize>,
    /// The detector's (COCO) classes; empty for a word it does not know.
    pub detected: Vec<usize>,
    /// The cosine similarity when matched by embedding; `None` from the table or a class name.
    pub similarity: Option<f32>,
}

#[derive(Debug)]
pub struct Vocabulary {
    table: BTreeMap<String, Vec<usize>>,
    /// Words to COCO classes; empty without a detector.
    detector_table: BTreeMap<String, Vec<usize>>,
    labels: Labels,
    encoder: Option<EncoderOnDemand>,
    /// Embeddings of the 1000 class names, computed on the first unlisted word.
    class_embeddings: OnceLock<Option<Tensor>>,
}

impl Vocabulary {
    /// `encoder` is optional: without it, only the table and exact class names are known.
    pub fn new(table: BTreeMap<String, Vec<usize>>, labels: Labels, encoder: Option<Arc<SentenceEncoder>>) -> Vocabulary {
        let encoder = encoder.map(|encoder| EncoderOnDemand { dir: encoder.dir().to_owned(), until_prepared: Mutex::new(Some(encoder)) });
        Vocabulary { table, detector_table: BTreeMap::new(), labels, encoder, class_embeddings: OnceLock::new() }
    }

    /// Adds the detector's words (its table; exact COCO names are known without one).
    pub fn with_detector(mut self, table: BTreeMap<String, Vec<usize>>) -> Vocabulary {
        for (class, name) in COCO_CLASSES.iter().enumerate() {
            self.detector_table.entry((*name).to_string()).or_insert_with(|| vec![class]);
        }
        self.detector_table.extend(table);
        self
    }

    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    /// The classes for `object`, or `None` when the word matches nothing well enough.
    pub fn resolve(&self, object: &str) -> Option<ObjectClasses> {
        let word = normalise(object);
        if word.is_empty() {
            return None;
        }
        let listed = |table: &BTreeMap<String, Vec<usize>>, w: &str| table.get(w).cloned();
        let singular = word
            .strip_suffix("es")
            .filter(|w| listed(&self.table, w).or(listed(&self.detector_table, w)).is_some())
            .or_else(|| word.strip_suffix('s'));
        let lookup = |table| listed(table, &word).or_else(|| singular.and_then(|w| listed(table, w)));
        let detected = lookup(&self.detector_table).unwrap_or_default();
        let classes = lookup(&self.table)
            .or_else(|| self.labels.find(&word).or_else(|| singular.and_then(|w| self.labels.find(w))).map(|class| vec![class]));
        match classes {
            Some(classes) => Some(ObjectClasses { word, classes, detected, similarity: None }),
            None if !detected.is_empty() => Some(ObjectClasses { word, classes: Vec::new(), detected, similarity: None }),
            None => self.nearest(&word),
        }
    }

    /// Embeds the class names now rather than on the first unlisted word (a service does this
    /// before it serves, so no question waits for it).
    pub fn prepare(&self) {
        self.class_embeddings();
    }

    fn class_embeddings(&self) -> Option<&Tensor> {
        let on_demand = self.encoder.as_ref()?;
        let embeddings = self
            .class_embeddings
            .get_or_init(|| {
                let encoder = on_demand.get()?;
                // In small batches of similar length: a batch is padded to its longest name, and
                // one batch of all 1000 costs several times more.
                let mut order: Vec<usize> = (0..CLASSES).collect();
                order.sort_by_key(|&c| self.labels.name(c).len());
                let mut rows = vec![None; CLASSES];
                for chunk in order.chunks(EMBEDDING_BATCH) {
                    let names: Vec<&str> = chunk.iter().map(|&c| self.labels.name(c)).collect();
                    let embedded = encoder.encode(&names).and_then(|e| Ok(e.chunk(chunk.len(), 0)?));
                    match embedded {
                        Ok(embedded) => chunk.iter().zip(embedded).for_each(|(&c, row)| rows[c] = Some(row)),
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot embed the class names");
                            return None;
                        }
                    }
                }
                Tensor::cat(&rows.into_iter().collect::<Option<Vec<_>>>()?, 0).ok()
            })
            .as_ref();
        on_demand.release_start_copy();
        embeddings
    }

    fn nearest(&self, word: &str) -> Option<ObjectClasses> {
        let classes = self.class_embeddings()?;
        let encoder = self.encoder.as_ref()?.get()?;
        let query = encoder.encode(&[word]).ok()?;
        let similarities: Vec<f32> = classes.matmul(&query.t().ok()?).ok()?.flatten_all().ok()?.to_vec1().ok()?;
        let best = similarities.iter().copied().fold(f32::MIN, f32::max);
        tracing::debug!(word, best, "nearest class names");
        if best < MIN_SIMILARITY {
            return None;
        }
        let classes = (0..CLASSES).filter(|&c| similarities[c] >= best - SIMILARITY_MARGIN).collect();
        Some(ObjectClasses { word: word.to_string(), classes, detected: Vec::new(), similarity: Some(best) })
    }
}

/// The sentence encoder, loaded for the moment it is used.
#[derive(Debug)]
struct EncoderOnDemand {
    dir: PathBuf,
    /// The copy loaded at start (which proved the model readable), until the class names are
    /// embedded with it.
    until_prepared: Mutex<Option<Arc<SentenceEncoder>>>,
}

impl EncoderOnDemand {
    fn get(&self) -> Option<Arc<SentenceEncoder>> {
        if let Some(encoder) = self.until_prepared.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Some(encoder);
        }
        SentenceEncoder::shared(&self.dir)
            .inspect_err(|e| tracing::warn!(error = %e, "cannot load the sentence encoder: unlisted words are unknown"))
            .ok()
    }

    fn release_start_copy(&self) {
        self.until_prepared.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

/// "My Hat?" → "hat": lower case, no article or possessive, no punctuation.
fn normalise(object: &str) -> String {
    let lower = object.trim().to_lowercase();
    let trimmed = lower.trim_matches(|c: char| !c.is_alphanumeric());
    let mut words: Vec<&str> = trimmed.split_whitespace().collect();
    while words.len() > 1 && matches!(words[0], "my" | "the" | "a" | "an" | "our" | "your" | "his" | "her" | "their") {
        words.remove(0);
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn articles_and_punctuation_go() {
        assert_eq!(normalise("  My Hat? "), "hat");
        assert_eq!(normalise("the water bottle"), "water bottle");
        assert_eq!(normalise("my"), "my");
    }
}
