//! The vision service keeps the class names' embeddings, not the sentence encoder: it holds
//! the encoder's 90 MiB only while it embeds. A file of its own, since tests running beside it
//! would hold the process's shared copy.

use std::collections::BTreeMap;
use std::sync::Arc;

use cabin_models::ModelsDir;
use cabin_sentence_encoder::{SentenceEncoder, EMBEDDING_MODEL};
use cabin_vision_model::{Labels, LABELS_MODEL};
use cabin_vision_service::Vocabulary;

#[test]
fn the_encoder_is_held_only_while_a_word_is_matched() {
    let models = ModelsDir::resolve();
    let dir = models.locate(EMBEDDING_MODEL).unwrap_or_else(|e| panic!("{e}"));
    let labels = Labels::load(&models.locate(LABELS_MODEL).unwrap_or_else(|e| panic!("{e}"))).unwrap();
    let encoder = SentenceEncoder::shared(&dir).unwrap();
    let loaded_at_start = Arc::downgrade(&encoder);
    let vocabulary = Vocabulary::new(BTreeMap::new(), labels, Some(encoder));

    vocabulary.prepare();
    assert!(loaded_at_start.upgrade().is_none(), "the vocabulary still holds the encoder once the class names are embedded");

    let scarf = vocabulary.resolve("scarf").expect("an unlisted word near a class name");
    assert!(scarf.similarity.is_some() && !scarf.classes.is_empty(), "{scarf:?}");
    // The copy loaded for "scarf" went with the question: asking for the process's shared copy
    // loads a new one.
    let again = SentenceEncoder::shared(&dir).unwrap();
    assert_eq!(Arc::strong_count(&again), 1, "a copy of the encoder outlived the question");
    assert!(vocabulary.resolve("unicorn").is_none(), "a word near nothing is unknown");
}
