//! Intent accuracy, slot F1, latency and memory of on-device understanding, on the held-out
//! sets in `tests/data/` (never used as classifier examples): English (`test-set.jsonl`, with
//! MiniLM) and Mandarin (`test-set-zh.jsonl` to `test-set-zh-4.jsonl`, with
//! multilingual-e5).
//!
//! `RUSTFLAGS="-C target-cpu=native" cargo bench -p cabin-nlu --bench understanding [-- --verbose]`

use cabin_bench_support::memory_kib;
use cabin_models::ModelsDir;
use cabin_nlu::evaluation::{evaluate, parse_jsonl};
use cabin_nlu::{IntentCatalog, Understander};
use cabin_sentence_encoder::{SentenceEncoder, EMBEDDING_MODEL};

const SETS: [(&str, &str); 5] = [
    ("English", include_str!("../tests/data/test-set.jsonl")),
    ("Mandarin, first author", include_str!("../tests/data/test-set-zh.jsonl")),
    ("Mandarin, second author", include_str!("../tests/data/test-set-zh-2.jsonl")),
    ("Mandarin, third author (all 25 intents)", include_str!("../tests/data/test-set-zh-3.jsonl")),
    ("Mandarin, fourth author (all 25 intents)", include_str!("../tests/data/test-set-zh-4.jsonl")),
];

fn main() {
    let models = ModelsDir::resolve();
    let model = models.locate(EMBEDDING_MODEL).unwrap_or_else(|e| panic!("{e}"));
    // Loads as the assistant does, keeping the examples' embeddings in `cache`: the first time
    // embeds them, the next reads them back.
    let cache = tempfile::tempdir().unwrap();
    let load = || {
        let started = std::time::Instant::now();
        let english = Understander::caching(SentenceEncoder::load(&model).unwrap(), IntentCatalog::embedded(), Some(cache.path())).unwrap();
        let english_load = started.elapsed();
        let both = english.with_installed_languages(&models).unwrap();
        (both, english_load, started.elapsed())
    };
    let (_, english_first, both_first) = load();
    let (understander, english_load, both_load) = load();
    let verbose = std::env::args().any(|a| a == "--verbose");

    for (name, text) in SETS {
        let set = parse_jsonl(text).unwrap();
        // One warm-up pass, then the measured one.
        evaluate(&understander, &set).unwrap();
        let report = evaluate(&understander, &set).unwrap();
        let unsure = set.iter().filter(|case| understander.understand(&case.text).is_ok_and(|u| u.low_confidence)).count();
        if verbose {
            for (expected, got, text) in &report.misses {
                println!("intent  {expected:<28} got {got:<28} {text}");
            }
            for (text, slot, expected, got) in &report.slot_misses {
                println!("slot    {slot:<12} expected {:<22} got {:<22} {text}", format!("{expected:?}"), format!("{got:?}"));
            }
        }
        println!("{name}: {} held-out utterances", report.utterances);
        println!("  intent accuracy:                    {:.1} %", report.intent_accuracy() * 100.0);
        println!("  flagged low-confidence:             {unsure}");
        println!("  slot F1 (where the intent is right): {:.3}", report.slot_f1());
        println!(
            "  intent+slots latency:               p50 {:.2} ms, p99 {:.2} ms",
            report.latency_percentile(0.5).as_secs_f64() * 1e3,
            report.latency_percentile(0.99).as_secs_f64() * 1e3
        );
    }
    let examples = IntentCatalog::embedded().intents().iter().map(|i| i.examples.len()).sum::<usize>();
    println!(
        "load, MiniLM and its examples:        {:.2} s first, {:.2} s with the embeddings kept",
        english_first.as_secs_f64(),
        english_load.as_secs_f64()
    );
    println!(
        "load, both languages ({examples} examples): {:.2} s first, {:.2} s with the embeddings kept",
        both_first.as_secs_f64(),
        both_load.as_secs_f64()
    );
    println!("resident memory:                      {:.1} MiB", memory_kib("VmRSS:") as f64 / 1024.0);
}
