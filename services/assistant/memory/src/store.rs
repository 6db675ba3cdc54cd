//! The database: one redb file, two tables keyed by driver profile.

// redb's own error type is large; it lives for one failed write, so boxing it buys nothing.
#![allow(clippy::result_large_err)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Local};
use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::phrasing::{Fact, Period};

/// (profile, fact id) -> the fact as JSON.
const FACTS: TableDefinition<(&str, u64), &str> = TableDefinition::new("facts");
/// (profile, microseconds since the epoch) -> what was said then, as JSON.
const SAID: TableDefinition<(&str, u64), &str> = TableDefinition::new("said");
/// How long what was said is kept unless the owner says otherwise: long enough for "what did I
/// ask you last week", short enough that the car is not a transcript of its drivers. Facts stay
/// until forgotten.
pub const KEEP_SAID_DAYS: u32 = 30;
const DAY_US: u64 = 86_400 * 1_000_000;

#[derive(Debug, Error)]
pub enum MemoryError {
    #[error("memory {}: {reason}", path.display())]
    Open { path: PathBuf, reason: String },
    #[error("memory {}: {reason}", path.display())]
    Storage { path: PathBuf, reason: String },
}

/// One exchange of a conversation, as it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Said {
    pub at_ms: i64,
    pub conversation: String,
    pub text: String,
    pub reply: String,
}

/// The memory of one driver profile.
pub struct Memory {
    /// Shared by every profile's view of the file: redb opens a file once per process.
    db: Arc<Database>,
    path: PathBuf,
    profile: String,
    keep_said_days: u32,
}

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memory").field("path", &self.path).field("profile", &self.profile).finish()
    }
}

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

impl Memory {
    /// Opens the file, creating it (and its folder) the first time.
    pub fn open(path: &Path, profile: &str) -> Result<Memory, MemoryError> {
        let failed = |reason: String| MemoryError::Open { path: path.to_path_buf(), reason };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| failed(e.to_string()))?;
        }
        let db = Database::create(path).map_err(|e| failed(e.to_string()))?;
        let memory = Memory { db: Arc::new(db), path: path.to_path_buf(), profile: profile.to_string(), keep_said_days: KEEP_SAID_DAYS };
        // Both tables exist from the start, so readers never meet a missing one.
        memory.write(|tx| {
            tx.open_table(FACTS)?;
            tx.open_table(SAID)?;
            Ok(())
        })?;
        Ok(memory)
    }

    /// Keeps what was said for `days` (0: nothing is kept) instead of `KEEP_SAID_DAYS`.
    pub fn keeping_said_for(mut self, days: u32) -> Memory {
        self.keep_said_days = days;
        self
    }

    /// The same file, seen as another profile's memory (a phone's own, apart from the driver's).
    pub fn for_profile(&self, profile: &str) -> Memory {
        Memory { db: self.db.clone(), path: self.path.clone(), profile: profile.to_string(), keep_said_days: self.keep_said_days }
    }

    pub fn profile(&self) -> &str {
        &self.profile
    }

    fn storage(&self, error: impl std::fmt::Display) -> MemoryError {
        MemoryError::Storage { path: self.path.clone(), reason: error.to_string() }
    }

    fn write<T>(&self, work: impl FnOnce(&redb::WriteTransaction) -> Result<T, redb::Error>) -> Result<T, MemoryError> {
        let tx = self.db.begin_write().map_err(|e| self.storage(e))?;
        let value = work(&tx).map_err(|e| self.storage(e))?;
        tx.commit().map_err(|e| self.storage(e))?;
        Ok(value)
    }

    /// Keeps a fact; a new fact naming the same thing ("my home is ...") replaces the old one.
    pub fn remember(&self, text: &str) -> Result<Fact, MemoryError> {
        let fact = Fact::parse(text, (now_us() / 1000) as i64);
        let replaced: Vec<u64> = match &fact.name {
            Some(name) => self.facts_with_ids()?.into_iter().filter(|(_, f)| f.names(name)).map(|(id, _)| id).collect(),
            None => self.facts_with_ids()?.into_iter().filter(|(_, f)| f.text == fact.text).map(|(id, _)| id).collect(),
        };
        let json = serde_json::to_string(&fact).map_err(|e| self.storage(e))?;
        let profile = self.profile.as_str();
        self.write(|tx| {
            let mut table = tx.open_table(FACTS)?;
            for id in replaced {
                table.remove((profile, id))?;
            }
            let next = table.range((profile, 0)..=(profile, u64::MAX))?.next_back().transpose()?.map(|(k, _)| k.value().1 + 1).unwrap_or(1);
            table.insert((profile, next), json.as_str())?;
            Ok(())
        })?;
        tracing::info!(profile, fact = %fact.text, "remembered");
        Ok(fact)
    }

    /// Forgets the fact that names `what` (or mentions it), or, without `what`, the latest one.
    pub fn forget(&self, what: Option<&str>) -> Result<Option<Fact>, MemoryError> {
        let facts = self.facts_with_ids()?;
        let found = match what.map(|w| w.trim().to_lowercase()).filter(|w| !w.is_empty() && w != "that" && w != "it") {
            Some(what) => facts.into_iter().rev().find(|(_, f)| f.names(&what) || f.text.contains(what.trim_start_matches("my "))),
            None => facts.into_iter().next_back(),
        };
        let Some((id, fact)) = found else { return Ok(None) };
        let profile = self.profile.as_str();
        self.write(|tx| {
            tx.open_table(FACTS)?.remove((profile, id))?;
            Ok(())
        })?;
        tracing::info!(profile, fact = %fact.text, "forgot");
        Ok(Some(fact))
    }

    fn facts_with_ids(&self) -> Result<Vec<(u64, Fact)>, MemoryError> {
        let tx = self.db.begin_read().map_err(|e| self.storage(e))?;
        let table = tx.open_table(FACTS).map_err(|e| self.storage(e))?;
        let profile = self.profile.as_str();
        let mut facts = Vec::new();
        for entry in table.range((profile, 0)..=(profile, u64::MAX)).map_err(|e| self.storage(e))? {
            let (key, value) = entry.map_err(|e| self.storage(e))?;
            match serde_json::from_str(value.value()) {
                Ok(fact) => facts.push((key.value().1, fact)),
                Err(error) => tracing::warn!(%error, "an unreadable fact in memory; skipped"),
            }
        }
        Ok(facts)
    }

    /// Everything remembered, oldest first.
    pub fn facts(&self) -> Result<Vec<Fact>, MemoryError> {
        Ok(self.facts_with_ids()?.into_iter().map(|(_, f)| f).collect())
    }

    /// What `name` ("home") stands for, if a fact names it.
    pub fn lookup(&self, name: &str) -> Result<Option<String>, MemoryError> {
        Ok(self.facts()?.into_iter().rev().find(|f| f.names(name)).and_then(|f| f.value))
    }

    /// Records an exchange, and lets go of what was said longer ago than the retention period.
    pub fn log(&self, conversation: &str, text: &str, reply: &str) -> Result<(), MemoryError> {
        self.log_at(now_us(), conversation, text, reply)
    }

    fn log_at(&self, mut at: u64, conversation: &str, text: &str, reply: &str) -> Result<(), MemoryError> {
        let keep_us = u64::from(self.keep_said_days) * DAY_US;
        let oldest_kept = at.saturating_sub(keep_us);
        let said = Said { at_ms: (at / 1000) as i64, conversation: conversation.into(), text: text.into(), reply: reply.into() };
        let json = serde_json::to_string(&said).map_err(|e| self.storage(e))?;
        let profile = self.profile.as_str();
        self.write(|tx| {
            let mut table = tx.open_table(SAID)?;
            while table.get((profile, at))?.is_some() {
                at += 1;
            }
            if keep_us > 0 {
                table.insert((profile, at), json.as_str())?;
            }
            table.retain_in((profile, 0)..(profile, oldest_kept), |_, _| false)?;
            Ok(())
        })
    }

    /// What was said in `period`, oldest first.
    pub fn said_in(&self, period: &Period) -> Result<Vec<Said>, MemoryError> {
        let micros = |t: DateTime<Local>| t.timestamp_micros().max(0) as u64;
        let (from, to) = (micros(period.from), micros(period.to));
        if from > to {
            return Ok(Vec::new());
        }
        let tx = self.db.begin_read().map_err(|e| self.storage(e))?;
        let table = tx.open_table(SAID).map_err(|e| self.storage(e))?;
        let profile = self.profile.as_str();
        let mut said = Vec::new();
        for entry in table.range((profile, from)..=(profile, to)).map_err(|e| self.storage(e))? {
            let (_, value) = entry.map_err(|e| self.storage(e))?;
            if let Ok(one) = serde_json::from_str(value.value()) {
                said.push(one);
            }
        }
        Ok(said)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::period_of;

    #[test]
    fn facts_survive_reopening_and_stay_with_their_driver() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/memory.redb");
        {
            let memory = Memory::open(&path, "alice").unwrap();
            memory.remember("my home is 42 market street").unwrap();
            memory.remember("i like 21 degrees").unwrap();
            memory.log("voice", "set the temperature to twenty one", "Setting the driver's side to 21 degrees.").unwrap();
        }
        let alice = Memory::open(&path, "alice").unwrap();
        assert_eq!(alice.lookup("home").unwrap().as_deref(), Some("42 market street"));
        assert_eq!(alice.facts().unwrap().len(), 2);
        let said = alice.said_in(&period_of("today", Local::now())).unwrap();
        assert_eq!(said.len(), 1);
        assert_eq!(said[0].text, "set the temperature to twenty one");
        // One process owns the file at a time.
        drop(alice);
        assert!(Memory::open(&path, "bob").unwrap().facts().unwrap().is_empty(), "bob's memory is his own");
    }

    #[test]
    fn a_new_home_replaces_the_old_and_forget_takes_the_latest_or_the_named() {
        let dir = tempfile::tempdir().unwrap();
        let memory = Memory::open(&dir.path().join("m.redb"), "driver").unwrap();
        memory.remember("my home is 1 high street").unwrap();
        memory.remember("my home is 42 market street").unwrap();
        memory.remember("my work is 7 dock road").unwrap();
        memory.remember("i like 21 degrees").unwrap();
        assert_eq!(memory.facts().unwrap().len(), 3);
        assert_eq!(memory.lookup("home").unwrap().as_deref(), Some("42 market street"));
        assert_eq!(memory.forget(None).unwrap().unwrap().text, "i like 21 degrees");
        assert_eq!(memory.forget(Some("my work")).unwrap().unwrap().text, "my work is 7 dock road");
        assert_eq!(memory.forget(Some("the moon")).unwrap(), None);
        assert_eq!(memory.facts().unwrap().len(), 1);
    }

    #[test]
    fn what_was_said_is_let_go_after_the_retention_period_and_only_for_that_driver() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.redb");
        let now = now_us();
        let days_ago = |days: u32| now - u64::from(days) * DAY_US;
        let ever = |memory: &Memory| {
            let period = Period { from: DateTime::from_timestamp(0, 0).unwrap().into(), to: Local::now(), said: "ever" };
            memory.said_in(&period).unwrap().into_iter().map(|s| s.text).collect::<Vec<_>>()
        };
        Memory::open(&path, "bob").unwrap().log_at(days_ago(KEEP_SAID_DAYS + 5), "console", "play jazz", "Playing jazz.").unwrap();
        let alice = Memory::open(&path, "alice").unwrap();
        alice.log_at(days_ago(KEEP_SAID_DAYS + 1), "console", "open the trunk", "Opening the trunk.").unwrap();
        alice.log_at(days_ago(KEEP_SAID_DAYS - 1), "console", "set the temperature to 21", "Setting it.").unwrap();
        alice.log("console", "a bit warmer", "Warmer.").unwrap();
        assert_eq!(ever(&alice), ["set the temperature to 21", "a bit warmer"]);
        drop(alice);
        assert_eq!(ever(&Memory::open(&path, "bob").unwrap()), ["play jazz"], "bob's log is let go when he next speaks");

        // An owner who keeps nothing: the next exchange is not kept, and what was is let go.
        let private = Memory::open(&path, "alice").unwrap().keeping_said_for(0);
        private.log("console", "open the window", "Opening it.").unwrap();
        assert!(ever(&private).is_empty(), "{:?}", ever(&private));
    }

    #[test]
    fn a_file_that_is_not_a_database_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("memory.redb");
        std::fs::write(&path, "not a database").unwrap();
        let error = Memory::open(&path, "driver").unwrap_err().to_string();
        assert!(error.starts_with(&format!("memory {}: ", path.display())), "{error}");
    }
}
