//! The classifier on the held-out set (`data/test-set.jsonl`, written apart from the examples it
//! learns from): a change to the examples, the extractors or the model that costs accuracy fails here.

use cabin_models::ModelsDir;
use cabin_nlu::evaluation::{evaluate, parse_jsonl, LabelledUtterance};
use cabin_nlu::{IntentCatalog, Language, Understander};
use cabin_sentence_encoder::{MultilingualEncoder, SentenceEncoder, EMBEDDING_MODEL, MULTILINGUAL_MODEL};

/// English by MiniLM, Mandarin by multilingual-e5, as the car runs them.
fn bilingual_understander() -> Understander {
    let models = ModelsDir::resolve();
    let english = models.locate(EMBEDDING_MODEL).unwrap_or_else(|e| panic!("{e}"));
    let multilingual = models.locate(MULTILINGUAL_MODEL).unwrap_or_else(|e| panic!("{e}"));
    Understander::new(SentenceEncoder::load(&english).unwrap(), IntentCatalog::embedded())
        .unwrap()
        .with_language(Language::Chinese, MultilingualEncoder::load(&multilingual).unwrap())
        .unwrap()
}

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

/// The Mandarin held-out sets, by two authors who had seen neither the Chinese examples nor
/// the extractors: `data/test-set-zh.jsonl` (390; its misses were read and fixed once, see the
/// README) and `data/test-set-zh-2.jsonl` (220; its misses first read on 2026-12-06, when
/// fixing the third set's). Scored with multilingual-e5.
#[test]
fn held_out_mandarin_utterances_are_understood() {
    let understander = bilingual_understander();
    for (name, text) in [("first", include_str!("data/test-set-zh.jsonl")), ("second", include_str!("data/test-set-zh-2.jsonl"))] {
        let set = parse_jsonl(text).unwrap();
        assert!(set.len() >= 200);
        assert_understood(&understander, &format!("{name} set"), &set, (0.95, 0.95));
    }
}

/// Two more Mandarin sets over all 25 intents (the hand-offs among them), each by an author who
/// had only a sheet of the intents, their slots and how values are written:
/// - `data/test-set-zh-3.jsonl` (415). First scored 2026-12-06: intent accuracy 0.918, slot F1
///   0.911. Its misses were then read and fixed once (README): 0.971 and 0.992, held here a
///   point below.
/// - `data/test-set-zh-4.jsonl` (390), written while those fixes were made and scored once
///   after them, its misses never read: 0.956 and 0.959, held to the target.
#[test]
fn mandarin_sets_over_every_intent_are_understood() {
    let understander = bilingual_understander();
    for (name, text, floors) in [
        ("third set", include_str!("data/test-set-zh-3.jsonl"), (0.96, 0.98)),
        ("fourth set", include_str!("data/test-set-zh-4.jsonl"), (0.95, 0.95)),
    ] {
        let set = parse_jsonl(text).unwrap();
        assert!(set.len() >= 300);
        assert_understood(&understander, name, &set, floors);
    }
}

/// The hand-offs to the owner's phone (directions, a reminder for when parked, sharing the
/// arrival) and the requests they are closest to (navigating, calling): 60 English and 60
/// Mandarin utterances by an author who had seen neither the examples nor the extractors.
#[test]
fn held_out_hand_offs_are_understood() {
    let understander = bilingual_understander();
    for (name, text) in
        [("English", include_str!("data/test-set-handoffs.jsonl")), ("Mandarin", include_str!("data/test-set-handoffs-zh.jsonl"))]
    {
        let set = parse_jsonl(text).unwrap();
        assert_eq!(set.len(), 60);
        assert_understood(&understander, &format!("{name} hand-offs"), &set, (0.9, 0.9));
    }
}

/// `set` scored, printed, and held to (intent accuracy, slot F1), the misses listed when not.
fn assert_understood(understander: &Understander, name: &str, set: &[LabelledUtterance], (intents, slots): (f64, f64)) {
    let report = evaluate(understander, set).unwrap();
    println!("{name}: intent accuracy {:.3}, slot F1 {:.3} ({} utterances)", report.intent_accuracy(), report.slot_f1(), set.len());
    let misses: Vec<String> = report.misses.iter().map(|(expected, got, text)| format!("{text:?}: {expected} -> {got}")).collect();
    let slot_misses: Vec<String> = report.slot_misses.iter().map(|m| format!("{m:?}")).collect();
    assert!(report.intent_accuracy() >= intents, "{name}: intent accuracy {:.3}:\n{}", report.intent_accuracy(), misses.join("\n"));
    assert!(report.slot_f1() >= slots, "{name}: slot F1 {:.3}:\n{}", report.slot_f1(), slot_misses.join("\n"));
}
