//! The model agrees with llama.cpp on the same GGUF file. `tests/data/llama-cpp-tokens.json`,
//! written by `services/llm/llama-cpp-comparison` (`cargo run --release -- --write-fixture ...`), holds
//! llama.cpp's token ids for awkward texts (digits, contractions, accents, emoji, Chinese, code,
//! ChatML markers) and its greedy answers to the assistant's prompts: the tokenizer rebuilt from
//! the file's metadata must split each text the same way, and our transformer must choose the
//! same answer, token for token, but for near ties.

use cabin_local_llm::{LocalLlm, Sampling, TokenScore};
use cabin_models::ModelsDir;

fn check(model: &str) {
    let fixture: serde_json::Value = serde_json::from_str(include_str!("data/llama-cpp-tokens.json")).unwrap();
    let dir = ModelsDir::resolve().locate(model).unwrap_or_else(|error| panic!("{error}"));
    let llm = LocalLlm::load(&dir).unwrap();
    let ids =
        |case: &serde_json::Value| -> Vec<u32> { case["ids"].as_array().unwrap().iter().map(|id| id.as_u64().unwrap() as u32).collect() };
    let cases = fixture[model]["tokenizer"].as_array().unwrap();
    assert_eq!(cases.len(), 6);
    for case in cases {
        let text = case["text"].as_str().unwrap();
        assert_eq!(llm.tokenize(text).unwrap(), ids(case), "{model} splits {text:?} differently from llama.cpp");
    }

    let all_answers = fixture[model]["greedy"].as_array().unwrap();
    assert_eq!(all_answers.len(), 2);
    for answer in all_answers {
        let prompt = answer["prompt"].as_str().unwrap();
        // Prompts and decoding take different kernels (dequantized matrices, quantized vector
        // products) and llama.cpp others again; where two tokens are a near tie, rounding
        // picks one, after which the answers go separate ways. So each of llama.cpp's tokens
        // is rated given the ones before it, and must be ours too, or a near tie.
        let theirs = llm.score(prompt, &ids(answer)).unwrap();
        assert_agrees(model, "llama.cpp's", &theirs);
        // And our own greedy answer, decoded one token at a time, rated the same way.
        let sampling = Sampling { max_tokens: ids(answer).len(), repeat_penalty: 1.0, ..Sampling::default() };
        let generated = llm.generate(prompt, &sampling, |_, _| true).unwrap();
        let ours = llm.score(prompt, &llm.tokenize(&generated.text).unwrap()).unwrap();
        assert_agrees(model, "our decoded", &ours);
    }
}

/// Each token rated is the model's best, or within a rounding's reach of it, at most twice.
fn assert_agrees(model: &str, whose: &str, scores: &[TokenScore]) {
    const NEAR_TIE: f32 = 0.25;
    let parted: Vec<_> = scores.iter().filter(|score| score.best != score.token).collect();
    let far: Vec<_> = parted.iter().filter(|score| score.best_log_probability - score.log_probability > NEAR_TIE).collect();
    assert!(far.is_empty() && parted.len() <= 2, "{model} would not have chosen {whose} tokens: {parted:?}");
}

#[test]
fn smollm2_tokenizes_and_answers_like_llama_cpp() {
    check("smollm2-135m");
}

/// Qwen (491 MB) is not fetched in CI, so this is a target of its own, run where it is installed:
/// `cabin models fetch qwen2.5-0.5b`, then `cargo test -p cabin-local-llm --test llama_cpp --
/// --ignored`. It fails, never passes, without the model.
#[test]
#[ignore = "needs qwen2.5-0.5b (cabin models fetch qwen2.5-0.5b); run with --ignored"]
fn qwen2_tokenizes_and_calls_tools_like_llama_cpp() {
    check("qwen2.5-0.5b");
}
