//! llama.cpp on the prompts the assistant sends, for the comparison with Cabin's candle
//! generation (`cargo bench -p cabin-local-llm --bench generation`): time to the first token,
//! decoding speed, and whether both tokenize the prompt the same way.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use cabin_local_llm::{render_prompt, ChatMessage, LocalLlm, Role, ToolSpec};
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::sampling::LlamaSampler;

const GENERATED: usize = 32;
/// Long enough to show the same model, short enough that float noise does not turn a near-tie.
const FIXTURE_ANSWER_TOKENS: usize = 20;

fn prompts() -> Vec<(&'static str, String)> {
    let system = ChatMessage::new(
        Role::System,
        "You are Cabin, the assistant in this car. Answer in one or two short sentences: the driver hears them.",
    );
    let tools = vec![
        ToolSpec {
            name: "trunk_open".into(),
            description: "Open the trunk (tailgate).".into(),
            parameters: serde_json::json!({"type": "object", "properties": {}}),
        },
        ToolSpec {
            name: "climate_set_temperature".into(),
            description: "Set the cabin temperature in degrees Celsius.".into(),
            parameters: serde_json::json!({"type": "object", "properties": {"temperature": {"type": "number"}, "zone": {"type": "string", "enum": ["driver", "passenger", "all"]}}, "required": ["temperature"]}),
        },
    ];
    vec![
        ("short", render_prompt(&[system.clone(), ChatMessage::new(Role::User, "Why is the sky blue?")], &[])),
        ("with tools", render_prompt(&[system, ChatMessage::new(Role::User, "I need to put my suitcase in the back.")], &tools)),
    ]
}

/// Texts that test a tokenizer: digits, contractions, accents, emoji, CJK, code, runs of spaces.
const TOKENIZER_TEXTS: &[&str] = &[
    "Set the temperature to 21.5 degrees, please.",
    "I'm sure it's 42 Market Street; we'll see what they've got.",
    "Café au lait – naïve façade 😀 ✓",
    "你好，今天天气怎么样？",
    "fn main() {\n    println!(\"{}\", 1_000_000);\n}\n\n\tTabs   and    spaces",
    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
];

/// llama.cpp's greedy continuation of `tokens`, at most `max` tokens; the time to the first
/// token and to the last.
fn greedy(backend: &LlamaBackend, model: &LlamaModel, tokens: &[LlamaToken], max: usize, threads: i32) -> (Vec<LlamaToken>, Duration, Duration) {
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(2048))
        .with_n_batch(512)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let mut context = model.new_context(backend, params).expect("context");
    let mut sampler = LlamaSampler::greedy();
    let started = Instant::now();
    let mut batch = LlamaBatch::new(512, 1);
    let last = tokens.len() - 1;
    for (position, token) in tokens.iter().enumerate() {
        batch.add(*token, position as i32, &[0], position == last).expect("batch");
    }
    context.decode(&mut batch).expect("prompt");
    let mut token = sampler.sample(&context, batch.n_tokens() - 1);
    let first = started.elapsed();
    let mut generated = Vec::new();
    let mut position = tokens.len() as i32;
    while generated.len() < max && !model.vocab().is_eog(token) {
        generated.push(token);
        batch.clear();
        batch.add(token, position, &[0], true).expect("batch");
        context.decode(&mut batch).expect("decode");
        token = sampler.sample(&context, 0);
        position += 1;
    }
    (generated, first, started.elapsed())
}

/// `--write-fixture FILE`: llama.cpp's token ids for `TOKENIZER_TEXTS` and its greedy answers
/// to `prompts()`, per model, as JSON: the reference `cabin-local-llm`'s tests check against.
fn write_fixture(backend: &LlamaBackend, models: &cabin_models::ModelsDir, names: &str, path: &str) {
    let mut fixture = serde_json::Map::new();
    for name in names.split(',') {
        let Ok(dir) = models.locate(name) else { continue };
        let model = LlamaModel::load_from_file(backend, dir.join("model.gguf"), &LlamaModelParams::default()).expect("model loads");
        let cases: Vec<serde_json::Value> = TOKENIZER_TEXTS
            .iter()
            .map(|text| {
                let ids: Vec<i32> = model.vocab().tokenize(text.as_bytes(), false, true).iter().map(|t| t.0).collect();
                serde_json::json!({ "text": text, "ids": ids })
            })
            .collect();
        let answers: Vec<serde_json::Value> = prompts()
            .into_iter()
            .map(|(_, prompt)| {
                let tokens = model.vocab().tokenize(prompt.as_bytes(), false, true);
                let (answer, _, _) = greedy(backend, &model, &tokens, FIXTURE_ANSWER_TOKENS, 2);
                serde_json::json!({ "prompt": prompt, "ids": answer.iter().map(|t| t.0).collect::<Vec<_>>() })
            })
            .collect();
        fixture.insert(name.to_string(), serde_json::json!({ "tokenizer": cases, "greedy": answers }));
    }
    let text = serde_json::to_string_pretty(&fixture).expect("JSON") + "\n";
    std::fs::write(path, text).expect("fixture written");
    println!("wrote {path}");
}

fn main() {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2) as i32;
    let mut backend = LlamaBackend::init().expect("llama.cpp starts");
    backend.void_logs();
    let models = cabin_models::ModelsDir::resolve();
    let names = std::env::var("CABIN_LLM_BENCH_MODELS").unwrap_or_else(|_| "smollm2-135m,qwen2.5-0.5b".into());
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--write-fixture") {
        write_fixture(&backend, &models, &names, args.get(at + 1).expect("--write-fixture FILE"));
        return;
    }
    println!("llama.cpp, {threads} threads, greedy, {GENERATED} tokens generated");
    for name in names.split(',') {
        let Ok(dir) = models.locate(name) else {
            println!("{name}: not installed");
            continue;
        };
        let file = dir.join("model.gguf");
        let model = LlamaModel::load_from_file(&backend, &file, &LlamaModelParams::default()).expect("model loads");
        let ours = LocalLlm::load(&dir).expect("model loads in candle");
        let vocab = model.vocab();
        for (case, prompt) in prompts() {
            let tokens = vocab.tokenize(prompt.as_bytes(), false, true);
            let ids: Vec<u32> = tokens.iter().map(|t| t.0 as u32).collect();
            let same = ours.tokenize(&prompt).ok() == Some(ids);
            let (answer, first, all) = greedy(&backend, &model, &tokens, GENERATED, threads);
            let generated = answer.len().max(1);
            let decoding = (all - first).as_secs_f64();
            println!(
                "{name} {case}: {} prompt tokens (candle's tokenizer {}), first token {:.0} ms ({:.0} prompt tokens/s), {:.1} tokens/s over {generated}",
                tokens.len(),
                if same { "agrees" } else { "DIFFERS" },
                first.as_secs_f64() * 1000.0,
                tokens.len() as f64 / first.as_secs_f64(),
                (generated - 1) as f64 / decoding.max(1e-9),
            );
        }
    }
}
