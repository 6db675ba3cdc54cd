//! The OEM overlay (TOML): VSS overlay semantics for nodes (add, change, delete), plus what VSS
//! does not say: which backend feeds each signal, roles, interlocks, CAN mapping, simulator setup.
//! This module only reads the file; `crate::VehicleConfig::load` applies and validates it.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::diagnostic::{ConfigError, Source};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OverlayFile {
    pub default_backend: Option<Spanned<String>>,
    #[serde(default)]
    pub node: Vec<NodeEntry>,
    #[serde(default)]
    pub feed: Vec<FeedEntry>,
    #[serde(default)]
    pub role: Vec<RoleEntry>,
    #[serde(default)]
    pub interlock: Vec<InterlockEntry>,
    pub can: Option<CanEntry>,
    pub simulator: Option<SimulatorEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NodeEntry {
    pub path: Spanned<String>,
    #[serde(default)]
    pub delete: bool,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub datatype: Option<String>,
    pub unit: Option<String>,
    pub min: Option<toml::Value>,
    pub max: Option<toml::Value>,
    pub allowed: Option<Vec<toml::Value>>,
    pub default: Option<toml::Value>,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FeedEntry {
    pub backend: Spanned<String>,
    pub paths: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleEntry {
    pub name: Spanned<String>,
    #[serde(default)]
    pub uids: Vec<u32>,
    #[serde(default)]
    pub bus_names: Vec<Spanned<String>>,
    #[serde(default)]
    pub service_user: bool,
    #[serde(default)]
    pub everyone: bool,
    #[serde(default)]
    pub read: Vec<Spanned<String>>,
    #[serde(default)]
    pub actuate: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InterlockEntry {
    pub name: Spanned<String>,
    pub paths: Vec<Spanned<String>>,
    pub refuse: Option<Spanned<String>>,
    #[serde(default)]
    pub when: Vec<Spanned<String>>,
    pub reason: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CanEntry {
    pub interface: Option<String>,
    pub dbc: Option<Spanned<String>>,
    #[serde(default)]
    pub signal: Vec<CanSignalEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CanSignalEntry {
    pub path: Spanned<String>,
    pub message: String,
    pub signal: String,
    /// VSS value -> raw CAN value, for enumerations and booleans carried as codes.
    #[serde(default)]
    pub values: BTreeMap<String, i64>,
    pub command: Option<CanCommandEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CanCommandEntry {
    pub message: String,
    pub signal: String,
    /// Codes of the command signal, when they differ from the status signal's.
    #[serde(default)]
    pub values: BTreeMap<String, i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SimulatorEntry {
    pub drive_profile: Option<Spanned<String>>,
    pub instant: Option<bool>,
    #[serde(default)]
    pub initial: BTreeMap<String, Spanned<toml::Value>>,
}

/// Reads the file, and what is wrong with it. An unknown key is named, and the rest of the file
/// read as if its line were not there, so that one misspelt key does not hide the file's other
/// mistakes. The line is blanked rather than cut: every line and offset stays where it was, and
/// the spans read from the rest hold for `source`.
pub(crate) fn parse(source: &Source) -> (Option<OverlayFile>, Vec<ConfigError>) {
    let mut text = source.text.clone();
    let mut errors = Vec::new();
    loop {
        let error = match toml::from_str::<OverlayFile>(&text) {
            Ok(file) => return (Some(file), errors),
            Err(error) => error,
        };
        let line = error.span().map(|s| source.line_of(s.start)).unwrap_or(0);
        errors.push(ConfigError::new(&source.name, line, "", error.message().trim().to_string()));
        let skippable = error.message().starts_with("unknown field").then(|| error.span()).flatten();
        match skippable.and_then(|span| blank_statement(&text, span.start)) {
            Some(rest) if errors.len() < 100 => text = rest,
            _ => return (None, errors),
        }
    }
}

/// `text` with the line holding `offset` made spaces, if that line is a whole `key = value`
/// statement on its own (so that nothing else goes with it).
fn blank_statement(text: &str, offset: usize) -> Option<String> {
    let start = text[..offset].rfind('\n').map_or(0, |at| at + 1);
    let end = text[offset..].find('\n').map_or(text.len(), |at| offset + at);
    let statement = &text[start..end];
    let whole = statement.contains('=') && statement.parse::<toml::Table>().is_ok_and(|table| table.len() == 1);
    whole.then(|| format!("{}{}{}", &text[..start], " ".repeat(end - start), &text[end..]))
}
