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

/// The encoder assembles BERT itself, to leave the word table in its file; what it computes
/// must be what candle's whole `BertModel` computes from the same weights.
#[test]
fn the_encoder_embeds_as_candles_bert_model_does() {
    use candle_core::{DType, Device, Tensor};
    use candle_transformers::models::bert::{BertModel, Config, DTYPE};

    let dir = ModelsDir::resolve().locate(EMBEDDING_MODEL).unwrap_or_else(|e| panic!("{e}"));
    let sentences = ["i'm freezing", "make it a lot warmer in here please", "open the trunk"];
    let ours: Vec<Vec<f32>> = SentenceEncoder::load(&dir).unwrap().encode(&sentences).unwrap().to_vec2().unwrap();

    let config: Config = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let weights = std::fs::read(dir.join("model.safetensors")).unwrap();
    let model = BertModel::load(candle_nn::VarBuilder::from_buffered_safetensors(weights, DTYPE, &Device::Cpu).unwrap(), &config).unwrap();
    let mut tokenizer = tokenizers::Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
    tokenizer.with_padding(Some(tokenizers::PaddingParams::default()));
    let encodings = tokenizer.encode_batch(sentences.to_vec(), true).unwrap();
    let rows = |f: fn(&tokenizers::Encoding) -> &[u32]| {
        Tensor::stack(&encodings.iter().map(|e| Tensor::new(f(e), &Device::Cpu).unwrap()).collect::<Vec<_>>(), 0).unwrap()
    };
    let mask = rows(|e| e.get_attention_mask());
    let hidden = model.forward(&rows(|e| e.get_ids()), &rows(|e| e.get_type_ids()), Some(&mask)).unwrap();
    let mask = mask.to_dtype(DType::F32).unwrap().unsqueeze(2).unwrap();
    let mean = hidden.broadcast_mul(&mask).unwrap().sum(1).unwrap().broadcast_div(&mask.sum(1).unwrap()).unwrap();
    let norms = mean.sqr().unwrap().sum_keepdim(1).unwrap().sqrt().unwrap();
    let theirs: Vec<Vec<f32>> = mean.broadcast_div(&norms).unwrap().to_vec2().unwrap();

    let furthest = ours.iter().flatten().zip(theirs.iter().flatten()).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(furthest < 1e-5, "the embeddings differ by up to {furthest}");
}
