//! The driver's memory tasks, answered in words.

use cabin_dialog::{MemoryAction, ToolError};
use cabin_memory::{period_of, Memory, MemoryError};

/// At most this many past questions are read back: more is not listening, it is a lecture.
const READ_BACK: usize = 5;

fn unavailable(error: MemoryError) -> ToolError {
    tracing::warn!(%error, "memory failed");
    ToolError::Unavailable { what: "my memory".into(), reason: error.to_string() }
}

/// "a, b and c".
fn listing(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

pub(crate) fn act(memory: &Memory, action: MemoryAction, text: &str) -> Result<String, ToolError> {
    match action {
        MemoryAction::Remember => {
            let fact = memory.remember(text).map_err(unavailable)?;
            Ok(format!("Okay, I'll remember that {}.", fact.spoken()))
        }
        MemoryAction::Forget => Ok(match memory.forget(Some(text).filter(|t| !t.is_empty())).map_err(unavailable)? {
            Some(fact) => format!("Okay, I've forgotten that {}.", fact.spoken()),
            None if text.is_empty() => "There's nothing for me to forget.".into(),
            None => format!("I don't remember anything about {text}."),
        }),
        MemoryAction::Facts => {
            let facts: Vec<String> = memory.facts().map_err(unavailable)?.iter().map(|f| f.spoken()).collect();
            Ok(if facts.is_empty() {
                "You haven't asked me to remember anything.".into()
            } else {
                format!("I remember that {}.", listing(&facts))
            })
        }
        MemoryAction::Recall => {
            let period = period_of(text, chrono::Local::now());
            let said = memory.said_in(&period).map_err(unavailable)?;
            let asked: Vec<String> = said.iter().rev().take(READ_BACK).rev().map(|s| format!("\"{}\"", s.text)).collect();
            Ok(if asked.is_empty() {
                format!("You didn't ask me anything {}.", period.said)
            } else {
                let more = if said.len() > READ_BACK { format!(" (the last {READ_BACK} of {})", said.len()) } else { String::new() };
                let when = period.said[..1].to_uppercase() + &period.said[1..];
                format!("{when} you asked me{more}: {}.", listing(&asked))
            })
        }
    }
}
