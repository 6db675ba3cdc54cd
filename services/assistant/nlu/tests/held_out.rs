//! The classifier on the held-out set (`data/test-set.jsonl`, written apart from the examples it
//! learns from): a change to the examples, the extractors or the model that costs accuracy fails here.

use cabin_models::ModelsDir;
use cabin_nlu::evaluation::{evaluate, parse_jsonl};
use cabin_nlu::{IntentCatalog, SentenceEncoder, Understander, EMBEDDING_MODEL};

#[test]
fn held_out_utterances_are_understood() {
    let model = ModelsDir::resolve().locate(EMBEDDING_MODEL).unwrap_or_else(|e| panic!("{e}"));
    let understander = Understander::new(SentenceEncoder::load(&model).unwrap(), IntentCatalog::embedded()).unwrap();
    let set = parse_jsonl(include_str!("data/test-set.jsonl")).unwrap();
    assert!(set.len() >= 300);
    let report = evaluate(&understander, &set).unwrap();
    println!("intent accuracy {:.3}, slot F1 {:.3} ({} utterances)", report.intent_accuracy(), report.slot_f1(), set.len());
    let misses: Vec<String> = report.misses.iter().map(|(expected, got, text)| format!("{text:?}: {expected} -> {got}")).collect();
    assert!(report.intent_accuracy() >= 0.96, "intent accuracy {:.3}:\n{}", report.intent_accuracy(), misses.join("\n"));
    assert!(report.slot_f1() >= 0.95, "slot F1 {:.3}: {:?}", report.slot_f1(), report.slot_misses);
}
