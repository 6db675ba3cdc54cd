//! Open questions answered by the car's own model: how often it is right, how often it says it
//! is not sure, and how often it states something wrong. The questions and the facts a right
//! answer must hold (`tests/data/open-questions.jsonl`) were written apart from the prompt and
//! the routing code. Each question is its own conversation (`cabin chat` with a routing policy
//! whose only model is `cabin serve llm` on loopback).
//!
//! `cargo bench -p cabin --bench open_answers` (or `--profile dev` for a debug build);
//! `CABIN_LLM_MODELS=smollm2-135m,qwen2.5-0.5b` picks the models (installed by `cabin models
//! fetch`).

#[path = "../../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;

use serde::Deserialize;
use support::*;

#[derive(Debug, Deserialize)]
struct Question {
    id: String,
    question: String,
    /// Every group must be matched by one of its strings.
    facts: Vec<Vec<String>>,
    kind: String,
}

#[derive(Debug, Default)]
struct Tally {
    right: usize,
    unsure: usize,
    wrong: usize,
}

fn main() {
    let text = std::fs::read_to_string(repo_file("tests/data/open-questions.jsonl")).expect("the question set");
    let questions: Vec<Question> = text.lines().map(|line| serde_json::from_str(line).expect("a question")).collect();
    let models = std::env::var("CABIN_LLM_MODELS").unwrap_or_else(|_| "smollm2-135m".into());
    for model in models.split(',') {
        let (_llm, url) = llm_endpoint(&["--model", model]);
        let (_dir, routing) = routing_policy(&[("url = \"http://127.0.0.1:8088/v1\"", &format!("url = \"{url}\""))]);
        let mut by_kind: BTreeMap<String, Tally> = BTreeMap::new();
        let mut all = Tally::default();
        for question in &questions {
            let output =
                cabin_with_input(None, &["chat", "--json", "--routing", routing.to_str().unwrap()], &format!("{}\n", question.question));
            let turn: serde_json::Value = serde_json::from_str(stdout(&output).lines().next().unwrap_or("{}")).unwrap_or_default();
            let reply = turn["reply"].as_str().unwrap_or_default().to_lowercase();
            let unsure = turn["route"]["attempts"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|a| a["outcome"].as_str().is_some_and(|o| o.contains("unsure")));
            let right = question.facts.iter().all(|group| group.iter().any(|fact| reply.contains(&fact.to_lowercase())));
            let tally = by_kind.entry(question.kind.clone()).or_default();
            let verdict = match (unsure, right) {
                (true, _) => {
                    tally.unsure += 1;
                    all.unsure += 1;
                    "UNSURE"
                }
                (false, true) => {
                    tally.right += 1;
                    all.right += 1;
                    "right"
                }
                (false, false) => {
                    tally.wrong += 1;
                    all.wrong += 1;
                    "WRONG"
                }
            };
            let certainty = turn["route"]["number_certainty"].as_f64().map(|c| format!(" (number certainty {c:.2})")).unwrap_or_default();
            println!("{model} {} {verdict}{certainty}: {:?} -> {reply:?}", question.id, question.question);
        }
        for (kind, tally) in &by_kind {
            println!("{model} {kind}: right {}, unsure {}, wrong {}", tally.right, tally.unsure, tally.wrong);
        }
        let stated = all.right + all.wrong;
        println!(
            "{model}: right {} of {} ({:.0} %), said it was unsure {}, wrong {}; right when it answered: {:.0} %",
            all.right,
            questions.len(),
            100.0 * all.right as f64 / questions.len() as f64,
            all.unsure,
            all.wrong,
            100.0 * all.right as f64 / stated.max(1) as f64
        );
    }
}
