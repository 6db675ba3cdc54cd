//! The driver's memory tasks; the dialog says what was done.

use cabin_dialog::{MemoryAction, Recollection, ToolError};
use cabin_memory::{period_of, Memory, MemoryError};

/// At most this many past questions are read back: more is not listening, it is a lecture.
const READ_BACK: usize = 5;

fn unavailable(error: MemoryError) -> ToolError {
    tracing::warn!(%error, "memory failed");
    ToolError::Unavailable { what: "my memory".into(), reason: error.to_string() }
}

pub(crate) fn act(memory: &Memory, action: MemoryAction, text: &str) -> Result<Recollection, ToolError> {
    Ok(match action {
        MemoryAction::Remember => Recollection::Remembered { fact: memory.remember(text).map_err(unavailable)?.spoken() },
        MemoryAction::Forget => match memory.forget(Some(text).filter(|t| !t.is_empty())).map_err(unavailable)? {
            Some(fact) => Recollection::Forgotten { fact: fact.spoken() },
            None if text.is_empty() => Recollection::NothingToForget,
            None => Recollection::NothingAbout { text: text.into() },
        },
        MemoryAction::Facts => Recollection::Facts(memory.facts().map_err(unavailable)?.iter().map(|f| f.spoken()).collect()),
        MemoryAction::Recall => {
            let period = period_of(text, chrono::Local::now());
            let said = memory.said_in(&period).map_err(unavailable)?;
            let asked = said.iter().rev().take(READ_BACK).rev().map(|s| s.text.clone()).collect();
            Recollection::Asked { period: period.said.to_string(), asked, total: said.len() }
        }
    })
}
