//! all-MiniLM-L6-v2 in candle, loaded once per process. Needs `cabin models fetch minilm`.

use std::sync::Arc;

use cabin_models::ModelsDir;
use cabin_sentence_encoder::{SentenceEncoder, EMBEDDING_MODEL};

#[test]
fn services_in_one_process_share_one_loaded_encoder() {
    let dir = ModelsDir::resolve().locate(EMBEDDING_MODEL).unwrap_or_else(|e| panic!("{e}"));
    let assistant = SentenceEncoder::shared(&dir).unwrap();
    let vision = SentenceEncoder::shared(&dir).unwrap();
    assert!(Arc::ptr_eq(&assistant, &vision), "a second caller loaded its own copy");
    let [cold, warmer, trunk]: [Vec<f32>; 3] =
        vision.encode(&["i'm freezing", "make it warmer", "open the trunk"]).unwrap().to_vec2().unwrap().try_into().unwrap();
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    assert!(dot(&cold, &warmer) > dot(&cold, &trunk));
    let weak = Arc::downgrade(&assistant);
    drop((assistant, vision));
    assert!(weak.upgrade().is_none(), "the shared copy outlives its last user");
}

#[test]
fn a_missing_model_folder_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let error = SentenceEncoder::shared(dir.path()).unwrap_err().to_string();
    assert!(error.contains(&dir.path().join("config.json").display().to_string()), "{error}");
}
