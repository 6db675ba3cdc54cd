//! ONNX Runtime for every model that needs it (the Piper voice, the wake word's front end),
//! loaded once per process: the library can be loaded only once, and one environment is
//! enough for all sessions.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use ort;
use ort::session::Session;
use thiserror::Error;

/// The library inside the `onnxruntime` model directory.
pub const LIBRARY_FILE: &str = "libonnxruntime.so";

#[derive(Debug, Error)]
#[error("{}: {reason}", path.display())]
pub struct LoadError {
    pub path: PathBuf,
    pub reason: String,
}

static RUNTIME: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();

/// The process's ONNX Runtime, loaded from `library` on first use.
pub fn environment(library: &Path) -> Result<&'static ort::environment::Environment, LoadError> {
    let loaded = RUNTIME.get_or_init(|| {
        let builder = ort::init_from(library).map_err(|e| e.to_string())?;
        builder.with_name("cabin").build().map_err(|e| e.to_string())
    });
    loaded.as_ref().map_err(|reason| LoadError { path: library.to_owned(), reason: reason.clone() })
}

/// A CPU session on `model` with `threads` threads that sleep when idle, and no arena or
/// memory patterns: inputs of varying length would otherwise keep what the longest needed
/// (300 MiB resident against 100 for the Piper voice).
pub fn cpu_session(library: &Path, model: &Path, threads: usize) -> Result<Session, LoadError> {
    let environment = environment(library)?;
    if !model.is_file() {
        return Err(LoadError { path: model.to_owned(), reason: "no such file".into() });
    }
    let cpu = ort::ep::CPU::default().with_arena_allocator(false).build();
    Session::builder(environment)
        .and_then(|builder| builder.with_execution_providers([cpu]).map_err(Into::into))
        .and_then(|builder| builder.with_memory_pattern(false).map_err(Into::into))
        .and_then(|builder| builder.with_intra_op_spinning(false).map_err(Into::into))
        .and_then(|builder| builder.with_intra_threads(threads).map_err(Into::into))
        .and_then(|mut builder| builder.commit_from_file(model))
        .map_err(|e| LoadError { path: model.to_owned(), reason: e.to_string() })
}
