//! The intent catalog: intents, the slots each takes, and the example utterances the classifier
//! learns from. Shipped defaults in `defaults/intents.toml`; OEM files add intents or examples.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use thiserror::Error;

use crate::slots::SlotKind;

pub const DEFAULT_INTENTS: &str = include_str!("../defaults/intents.toml");
/// The same intents' examples in Mandarin (their slots are declared once, in English's file).
pub const DEFAULT_INTENTS_ZH: &str = include_str!("../defaults/intents.zh.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntentDef {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Slot name -> the kind of value it holds, e.g. `zone = "zone"`.
    #[serde(default)]
    pub slots: BTreeMap<String, SlotKind>,
    #[serde(default)]
    pub examples: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IntentFile {
    #[serde(rename = "intent", default)]
    intents: Vec<IntentDef>,
}

#[derive(Debug, Error)]
pub enum IntentFileError {
    #[error("{file}:{line}: {message}")]
    Invalid { file: String, line: usize, message: String },
    #[error("{file}: {source}")]
    Read { file: String, source: std::io::Error },
    /// Every wrong intent of a file, one line each: an integrator fixes them in one pass.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Several(Vec<IntentFileError>),
}

#[derive(Debug, Clone, Default)]
pub struct IntentCatalog {
    intents: Vec<IntentDef>,
    /// Intents new in an OEM's file, and where: a task must serve each.
    added: Vec<(String, String, usize)>,
}

impl IntentCatalog {
    pub fn embedded() -> IntentCatalog {
        let mut catalog = IntentCatalog::default();
        catalog.add_toml(DEFAULT_INTENTS, "intents.toml (built in)").expect("the shipped intents are checked by tests");
        catalog.add_toml(DEFAULT_INTENTS_ZH, "intents.zh.toml (built in)").expect("the shipped intents are checked by tests");
        catalog
    }

    /// The shipped intents plus each OEM file in order.
    pub fn load(extra: &[impl AsRef<Path>]) -> Result<IntentCatalog, IntentFileError> {
        let mut catalog = IntentCatalog::embedded();
        for path in extra {
            let file = path.as_ref().display().to_string();
            let text = std::fs::read_to_string(path).map_err(|source| IntentFileError::Read { file: file.clone(), source })?;
            catalog.add_toml(&text, &file)?;
        }
        Ok(catalog)
    }

    /// Adds a file's intents; an intent already known gains the new examples and slots.
    pub fn add_toml(&mut self, text: &str, file: &str) -> Result<(), IntentFileError> {
        let invalid = |line, message: String| IntentFileError::Invalid { file: file.into(), line, message };
        let parsed: IntentFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|span| line_of(text, span.start)).unwrap_or(1);
            invalid(line, e.message().to_string())
        })?;
        // Every wrong intent is named, one line each, and none of the file is taken until all
        // are right.
        let mut wrong = Vec::new();
        let mut in_this_file: Vec<&str> = Vec::new();
        for intent in &parsed.intents {
            let line = text.find(&format!("\"{}\"", intent.name)).map(|at| line_of(text, at)).unwrap_or(1);
            if intent.name.trim().is_empty() {
                wrong.push(invalid(line, "intent name is empty".into()));
            } else if in_this_file.contains(&intent.name.as_str()) {
                // Twice in one file is a slip (two sets of slots were merged without a word);
                // across files it adds examples to an intent.
                let second = text.rfind(&format!("\"{}\"", intent.name)).map(|at| line_of(text, at)).unwrap_or(line);
                wrong.push(invalid(second, format!("intent `{}` is named twice in this file", intent.name)));
            } else if intent.examples.is_empty() && self.get(&intent.name).is_none() {
                wrong.push(invalid(line, format!("intent `{}` has no examples to learn from", intent.name)));
            }
            in_this_file.push(&intent.name);
        }
        one_or_several(wrong)?;
        for intent in parsed.intents {
            match self.intents.iter_mut().find(|known| known.name == intent.name) {
                Some(known) => {
                    known.examples.extend(intent.examples);
                    known.slots.extend(intent.slots);
                    if !intent.description.is_empty() {
                        known.description = intent.description;
                    }
                }
                None => {
                    if !file.ends_with("(built in)") {
                        let line = text.find(&format!("\"{}\"", intent.name)).map(|at| line_of(text, at)).unwrap_or(1);
                        self.added.push((intent.name.clone(), file.to_string(), line));
                    }
                    self.intents.push(intent)
                }
            }
        }
        Ok(())
    }

    /// An intent an OEM's file adds that `serves` says no task serves: a misspelt name made an
    /// intent of its own, and the driver heard "I understood that, but I have no task for it".
    pub fn check_served(&self, serves: impl Fn(&str) -> bool) -> Result<(), IntentFileError> {
        one_or_several(
            self.added
                .iter()
                .filter(|(name, ..)| !serves(name))
                .map(|(name, file, line)| IntentFileError::Invalid {
                    file: file.clone(),
                    line: *line,
                    message: format!("intent `{name}` has no task: give it one in a task file (`--tasks`)"),
                })
                .collect(),
        )
    }

    pub fn intents(&self) -> &[IntentDef] {
        &self.intents
    }

    pub fn get(&self, name: &str) -> Option<&IntentDef> {
        self.intents.iter().find(|i| i.name == name)
    }
}

/// No error, the one, or all of them.
fn one_or_several(mut errors: Vec<IntentFileError>) -> Result<(), IntentFileError> {
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(IntentFileError::Several(errors)),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_catalog_has_the_default_intents() {
        let catalog = IntentCatalog::embedded();
        for name in ["climate.set_temperature", "vision.find_object", "dialog.cancel", "chat.open"] {
            assert!(catalog.get(name).is_some_and(|i| i.examples.len() >= 20), "{name}");
        }
    }

    #[test]
    fn an_unknown_slot_kind_names_file_and_line() {
        let text = "[[intent]]\nname = \"x.y\"\nexamples = [\"do x\"]\nslots = { a = \"colour\" }\n";
        let error = IntentCatalog::default().add_toml(text, "oem.toml").unwrap_err().to_string();
        assert!(error.starts_with("oem.toml:4:"), "{error}");
        assert!(error.contains("colour"), "{error}");
    }

    #[test]
    fn an_intent_named_twice_in_one_file_is_refused_at_the_second() {
        let text = "[[intent]]\nname = \"x.y\"\nexamples = [\"do x\"]\n\n[[intent]]\nname = \"x.y\"\nexamples = [\"do y\"]\n";
        let error = IntentCatalog::default().add_toml(text, "oem.toml").unwrap_err().to_string();
        assert_eq!(error, "oem.toml:6: intent `x.y` is named twice in this file");
    }

    #[test]
    fn every_wrong_intent_in_a_file_is_named_and_none_is_taken() {
        let text = "[[intent]]\nname = \"x.y\"\n\n[[intent]]\nname = \"x.z\"\nexamples = [\"do z\"]\n\n[[intent]]\nname = \"x.z\"\nexamples = [\"do it\"]\n";
        let mut catalog = IntentCatalog::default();
        let error = catalog.add_toml(text, "oem.toml").unwrap_err().to_string();
        assert_eq!(error, "oem.toml:2: intent `x.y` has no examples to learn from\noem.toml:9: intent `x.z` is named twice in this file");
        assert!(catalog.get("x.z").is_none(), "nothing of a wrong file is taken");
    }

    #[test]
    fn an_unknown_field_is_refused() {
        let text = "[[intent]]\nname = \"x.y\"\nexampels = [\"do x\"]\n";
        let error = IntentCatalog::default().add_toml(text, "oem.toml").unwrap_err().to_string();
        assert!(error.starts_with("oem.toml:3:") && error.contains("exampels"), "{error}");
    }

    #[test]
    fn oem_examples_extend_a_known_intent() {
        let mut catalog = IntentCatalog::embedded();
        let before = catalog.get("trunk.open").unwrap().examples.len();
        catalog.add_toml("[[intent]]\nname = \"trunk.open\"\nexamples = [\"pop the frunk\"]\n", "oem.toml").unwrap();
        assert_eq!(catalog.get("trunk.open").unwrap().examples.len(), before + 1);
    }
}
