use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::manifest::{Manifest, ModelSpec};

/// Overrides where models are installed (the system units set `/var/lib/cabin/models`).
pub const ENV_MODELS_DIR: &str = "CABIN_MODELS_DIR";

/// The folder models are installed in: one sub-folder per model name.
#[derive(Debug, Clone)]
pub struct ModelsDir {
    root: PathBuf,
}

#[derive(Debug, Error)]
pub enum LocateError {
    #[error("unknown model `{name}` (known: {known})")]
    Unknown { name: String, known: String },
    #[error("model `{name}` is not installed in {}: run `cabin models fetch {name}`", dir.display())]
    NotInstalled { name: String, dir: PathBuf },
    #[error("model `{name}` in {} is incomplete ({file}): run `cabin models fetch --force {name}`", dir.display())]
    Incomplete { name: String, dir: PathBuf, file: String },
}

impl ModelsDir {
    pub fn new(root: impl Into<PathBuf>) -> ModelsDir {
        ModelsDir { root: root.into() }
    }

    /// `$CABIN_MODELS_DIR`, else `$XDG_DATA_HOME/cabin/models`, else `~/.local/share/cabin/models`.
    pub fn resolve() -> ModelsDir {
        if let Some(dir) = std::env::var_os(ENV_MODELS_DIR).filter(|d| !d.is_empty()) {
            return ModelsDir::new(dir);
        }
        let data_home = std::env::var_os("XDG_DATA_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("/var/lib"));
        ModelsDir::new(data_home.join("cabin/models"))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn model_path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// The folder of an installed model. Checks presence and sizes, not hashes: it runs at
    /// every start, and `fetch` already verified the hashes.
    pub fn locate(&self, name: &str) -> Result<PathBuf, LocateError> {
        let manifest = Manifest::embedded();
        let spec = manifest.get(name).ok_or_else(|| LocateError::Unknown { name: name.into(), known: manifest.names().join(", ") })?;
        self.check(spec)
    }

    pub(crate) fn check(&self, spec: &ModelSpec) -> Result<PathBuf, LocateError> {
        let dir = self.model_path(&spec.name);
        if !dir.is_dir() {
            return Err(LocateError::NotInstalled { name: spec.name.clone(), dir });
        }
        for file in spec.installed_files() {
            let size = std::fs::metadata(dir.join(&file.path)).map(|m| m.len()).ok();
            if size != Some(file.size) {
                return Err(LocateError::Incomplete { name: spec.name.clone(), dir, file: file.path });
            }
        }
        Ok(dir)
    }

    /// Installed or not, for every model in the manifest.
    pub fn status(&self) -> Vec<(ModelSpec, Result<PathBuf, LocateError>)> {
        Manifest::embedded().models.into_iter().map(|spec| (spec.clone(), self.check(&spec))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_model_names_the_fetch_command() {
        let empty = tempfile::tempdir().unwrap();
        let error = ModelsDir::new(empty.path()).locate("minilm").unwrap_err();
        assert!(error.to_string().contains("cabin models fetch minilm"), "{error}");
    }

    #[test]
    fn a_truncated_file_is_reported_by_name() {
        let root = tempfile::tempdir().unwrap();
        let spec = Manifest::embedded().get("minilm").unwrap().clone();
        let dir = root.path().join("minilm");
        std::fs::create_dir_all(&dir).unwrap();
        for file in spec.installed_files() {
            std::fs::write(dir.join(&file.path), b"short").unwrap();
        }
        let error = ModelsDir::new(root.path()).locate("minilm").unwrap_err();
        assert!(matches!(&error, LocateError::Incomplete { file, .. } if file == &spec.files[0].to), "{error}");
    }

    #[test]
    fn unknown_models_list_the_known_ones() {
        let error = ModelsDir::new("/nonexistent").locate("gpt-9").unwrap_err();
        assert!(error.to_string().contains("minilm"), "{error}");
    }
}
