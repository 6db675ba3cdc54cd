//! Time to first token and decoding speed of the local LLMs, on the prompts the assistant sends.
//!
//! `RUSTFLAGS="-C target-cpu=native" cargo bench -p cabin-local-llm --bench generation`
//! (`CABIN_LLM_BENCH_MODELS=qwen2.5-0.5b` to pick models; models from `cabin models fetch`).

use cabin_local_llm::{render_prompt, ChatMessage, LocalLlm, Role, Sampling, ToolSpec};
use cabin_models::ModelsDir;

fn main() {
    let models = ModelsDir::resolve();
    let names = std::env::var("CABIN_LLM_BENCH_MODELS").unwrap_or_else(|_| "smollm2-135m,qwen2.5-0.5b".into());
    let system = ChatMessage::new(
        Role::System,
        "You are Cabin, the assistant in this car. Answer in one or two short sentences: the driver hears them.",
    );
    let trunk = ToolSpec {
        name: "trunk_open".into(),
        description: "Open the trunk (tailgate).".into(),
        parameters: serde_json::json!({"type": "object", "properties": {}}),
    };
    let temperature = ToolSpec {
        name: "climate_set_temperature".into(),
        description: "Set the cabin temperature in degrees Celsius.".into(),
        parameters: serde_json::json!({"type": "object", "properties": {"temperature": {"type": "number"}, "zone": {"type": "string", "enum": ["driver", "passenger", "all"]}}, "required": ["temperature"]}),
    };
    let cases: [(&str, Vec<ToolSpec>); 3] = [
        ("Why is the sky blue?", vec![]),
        ("I need to put my suitcase in the back.", vec![trunk.clone(), temperature.clone()]),
        ("I'm freezing in here.", vec![trunk, temperature]),
    ];
    println!("threads: {}", candle_core::utils::get_num_threads());
    for name in names.split(',') {
        let dir = match models.locate(name) {
            Ok(dir) => dir,
            Err(error) => {
                println!("{name}: skipped ({error})");
                continue;
            }
        };
        let started = std::time::Instant::now();
        let llm = LocalLlm::load(&dir).expect("model loads");
        println!("{name}: loaded in {:.2} s", started.elapsed().as_secs_f64());
        let mut history = vec![system.clone()];
        // Each case continues the conversation, as the assistant's turns do; the last starts
        // another with the same persona and tools, whose cached prefix serves it.
        let other = "Open the trunk, please.";
        for (question, tools) in cases.iter().map(|(q, t)| (*q, t)).chain([(other, &cases[2].1)]) {
            if question == other {
                history.truncate(1);
            }
            history.push(ChatMessage::new(Role::User, question));
            let prompt = render_prompt(&history, tools);
            let generation = llm.generate(&prompt, &Sampling { max_tokens: 64, ..Sampling::default() }, |_, _| true).expect("generates");
            history.push(ChatMessage::new(Role::Assistant, generation.text.clone()));
            println!(
                "{name}: {:>4} prompt tokens ({:>4} cached), first token {:>6.0} ms, {:>5.1} tokens/s over {:>3} tokens | {question} -> {:?}",
                generation.prompt_tokens,
                generation.reused_tokens,
                generation.time_to_first_token.as_secs_f64() * 1000.0,
                generation.tokens_per_second(),
                generation.completion_tokens,
                generation.text
            );
        }
        println!("{name}: peak resident {:.0} MiB", peak_resident_mib());
    }
}

/// The process's peak resident memory so far (models run one after another, smallest first).
fn peak_resident_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 =
        status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0.0);
    kib / 1024.0
}
