//! Intent accuracy, slot F1, latency and memory of on-device understanding, on the held-out
//! set in `tests/data/test-set.jsonl` (never used as classifier examples).
//!
//! `RUSTFLAGS="-C target-cpu=native" cargo bench -p cabin-nlu --bench understanding`

use cabin_models::ModelsDir;
use cabin_nlu::evaluation::{evaluate, parse_jsonl};
use cabin_nlu::{IntentCatalog, SentenceEncoder, Understander, EMBEDDING_MODEL};

fn main() {
    let model = ModelsDir::resolve().locate(EMBEDDING_MODEL).unwrap_or_else(|e| panic!("{e}"));
    let started = std::time::Instant::now();
    let understander = Understander::new(SentenceEncoder::load(&model).unwrap(), IntentCatalog::embedded()).unwrap();
    let load = started.elapsed();
    let set = parse_jsonl(include_str!("../tests/data/test-set.jsonl")).unwrap();
    // One warm-up pass, then the measured one.
    evaluate(&understander, &set).unwrap();
    let report = evaluate(&understander, &set).unwrap();

    let verbose = std::env::args().any(|a| a == "--verbose");
    let unsure = set.iter().filter(|case| understander.understand(&case.text).is_ok_and(|u| u.low_confidence)).count();
    if verbose {
        for (expected, got, text) in &report.misses {
            println!("intent  {expected:<28} got {got:<28} {text}");
        }
        for (text, slot, expected, got) in &report.slot_misses {
            println!("slot    {slot:<12} expected {:<22} got {:<22} {text}", format!("{expected:?}"), format!("{got:?}"));
        }
        for (intent, (correct, total)) in report.per_intent(&set) {
            println!("{intent:<28} {correct}/{total}");
        }
    }
    let rss_kib = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("VmRSS:").and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok()))
        })
        .unwrap_or(0);
    println!("held-out utterances:                {}", report.utterances);
    println!("intent accuracy:                    {:.1} %", report.intent_accuracy() * 100.0);
    println!("flagged low-confidence:             {unsure}");
    println!("slot F1 (where the intent is right): {:.3}", report.slot_f1());
    println!(
        "intent+slots latency:               p50 {:.2} ms, p99 {:.2} ms",
        report.latency_percentile(0.5).as_secs_f64() * 1e3,
        report.latency_percentile(0.99).as_secs_f64() * 1e3
    );
    println!(
        "load (model + {} examples):       {:.2} s",
        IntentCatalog::embedded().intents().iter().map(|i| i.examples.len()).sum::<usize>(),
        load.as_secs_f64()
    );
    println!("resident memory:                    {:.1} MiB", rss_kib as f64 / 1024.0);
}
