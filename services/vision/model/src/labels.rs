//! The names of the classifier's 1000 ImageNet classes, from the `imagenet-labels` model:
//! one clean name each ("cowboy hat") and WordNet's synonyms ("cellular telephone, cellular
//! phone, cellphone, cell, mobile phone").

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::efficientnet::CLASSES;

#[derive(Debug, Error)]
pub enum LabelsError {
    #[error("{}: {message}", path.display())]
    Load { path: PathBuf, message: String },
}

#[derive(Debug, Clone)]
pub struct Labels {
    names: Vec<String>,
    synonyms: Vec<Vec<String>>,
}

impl Labels {
    /// Loads `clean_names.json` and `label_to_names.json` from the installed folder.
    pub fn load(dir: &Path) -> Result<Labels, LabelsError> {
        let read = |name: &str| -> Result<(PathBuf, String), LabelsError> {
            let path = dir.join(name);
            let text = std::fs::read_to_string(&path).map_err(|e| LabelsError::Load { path: path.clone(), message: e.to_string() })?;
            Ok((path, text))
        };
        let (path, text) = read("clean_names.json")?;
        let names: Vec<String> =
            serde_json::from_str(&text).map_err(|e| LabelsError::Load { path: path.clone(), message: e.to_string() })?;
        if names.len() != CLASSES {
            return Err(LabelsError::Load { path, message: format!("{} names, expected {CLASSES}", names.len()) });
        }
        let (path, text) = read("label_to_names.json")?;
        let by_index: HashMap<String, String> =
            serde_json::from_str(&text).map_err(|e| LabelsError::Load { path: path.clone(), message: e.to_string() })?;
        let synonyms = (0..CLASSES)
            .map(|class| {
                let listed = by_index.get(&class.to_string()).map(String::as_str).unwrap_or_default();
                listed.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
            })
            .collect();
        Ok(Labels { names, synonyms })
    }

    pub fn name(&self, class: usize) -> &str {
        &self.names[class]
    }

    /// WordNet's names for the class, the clean name not always among them.
    pub fn synonyms(&self, class: usize) -> &[String] {
        &self.synonyms[class]
    }

    /// The class whose clean name or one of whose synonyms is exactly `name` (any case).
    pub fn find(&self, name: &str) -> Option<usize> {
        let name = name.trim();
        (0..CLASSES).find(|&c| self.names[c].eq_ignore_ascii_case(name) || self.synonyms[c].iter().any(|s| s.eq_ignore_ascii_case(name)))
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}
