//! Scores an [`Understander`] on a labelled set: intent accuracy, slot precision/recall/F1 and
//! latency. The unit-free numbers feed a regression test; the bench prints all of them.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::classifier::{UnderstandError, Understander};
use crate::slots::{trim_value, SlotValue, Slots};
use crate::text::normalise;

/// One labelled utterance, as a line of `tests/data/test-set.jsonl`.
#[derive(Debug, Clone, Deserialize)]
pub struct LabelledUtterance {
    pub text: String,
    pub intent: String,
    #[serde(default)]
    pub slots: Slots,
}

/// A labelled-utterance line that does not read, with its line number.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {source}")]
pub struct LabelledLineError {
    pub line: usize,
    pub source: serde_json::Error,
}

pub fn parse_jsonl(text: &str) -> Result<Vec<LabelledUtterance>, LabelledLineError> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| serde_json::from_str(line).map_err(|source| LabelledLineError { line: n + 1, source }))
        .collect()
}

#[derive(Debug, Default)]
pub struct Report {
    pub utterances: usize,
    pub intents_correct: usize,
    pub slots_true_positive: usize,
    pub slots_false_positive: usize,
    pub slots_false_negative: usize,
    /// (expected, got, text) for every wrong intent.
    pub misses: Vec<(String, String, String)>,
    /// (text, slot, expected, got) for every wrong or missing slot.
    pub slot_misses: Vec<(String, String, Option<String>, Option<String>)>,
    pub latencies: Vec<Duration>,
}

impl Report {
    pub fn intent_accuracy(&self) -> f64 {
        self.intents_correct as f64 / self.utterances.max(1) as f64
    }

    pub fn slot_f1(&self) -> f64 {
        let tp = self.slots_true_positive as f64;
        let precision = tp / (tp + self.slots_false_positive as f64).max(1.0);
        let recall = tp / (tp + self.slots_false_negative as f64).max(1.0);
        if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        }
    }

    pub fn latency_percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or_default()
    }

    /// Per expected intent: (correct, total).
    pub fn per_intent(&self, set: &[LabelledUtterance]) -> BTreeMap<String, (usize, usize)> {
        let mut table: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for case in set {
            table.entry(case.intent.clone()).or_default().1 += 1;
        }
        for (name, (correct, total)) in table.iter_mut() {
            *correct = *total - self.misses.iter().filter(|(expected, _, _)| expected == name).count();
        }
        table
    }
}

/// Slot values compare as the extractors write them: free text normalised and trimmed the same way.
fn comparable(value: &SlotValue) -> String {
    match value {
        SlotValue::Number(n) => format!("{n}"),
        SlotValue::Text(t) => trim_value(&normalise(t)),
    }
}

/// Slots are scored only where the intent was right: a wrong intent already counts once.
pub fn evaluate(understander: &Understander, set: &[LabelledUtterance]) -> Result<Report, UnderstandError> {
    let mut report = Report { utterances: set.len(), ..Report::default() };
    for case in set {
        let started = Instant::now();
        let got = understander.understand(&case.text)?;
        report.latencies.push(started.elapsed());
        if got.intent != case.intent {
            report.misses.push((case.intent.clone(), got.intent, case.text.clone()));
            continue;
        }
        report.intents_correct += 1;
        let names: std::collections::BTreeSet<&String> = case.slots.keys().chain(got.slots.keys()).collect();
        for name in names {
            let expected = case.slots.get(name).map(comparable);
            let actual = got.slots.get(name).map(comparable);
            match (&expected, &actual) {
                (Some(e), Some(a)) if e == a => report.slots_true_positive += 1,
                (Some(_), Some(_)) => {
                    report.slots_false_positive += 1;
                    report.slots_false_negative += 1;
                }
                (Some(_), None) => report.slots_false_negative += 1,
                (None, Some(_)) => report.slots_false_positive += 1,
                (None, None) => {}
            }
            if expected != actual {
                report.slot_misses.push((case.text.clone(), name.clone(), expected, actual));
            }
        }
    }
    Ok(report)
}
