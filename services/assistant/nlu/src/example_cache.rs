//! The intent examples' embeddings, kept between runs. Embedding a thousand Mandarin examples
//! with e5 takes seconds at every start, yet they change only when the examples or the weights
//! do. One file per language, named by a hash of the encoder's identity and the examples'
//! texts, so a changed example or model is a different file. A file that does not read back
//! whole (truncated, another shape, not ours) is embedded anew and written again, never used.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use sha2::{Digest, Sha256};

use cabin_language::Language;

const MAGIC: &[u8; 8] = b"CABINEX1";
const HEADER: usize = MAGIC.len() + 8;

#[derive(Debug, Clone)]
pub struct ExampleCache {
    dir: PathBuf,
}

impl ExampleCache {
    pub fn new(dir: &Path) -> ExampleCache {
        ExampleCache { dir: dir.to_path_buf() }
    }

    fn path(&self, language: Language, identity: &str, texts: &[String]) -> PathBuf {
        let mut hash = Sha256::new();
        hash.update(identity.as_bytes());
        for text in texts {
            hash.update(b"\n");
            hash.update(text.as_bytes());
        }
        let hex: String = hash.finalize()[..8].iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(format!("intent-examples-{}-{hex}.f32", language.code()))
    }

    /// The embeddings of `texts` kept earlier, one row each, if a whole file holds them.
    pub fn load(&self, language: Language, identity: &str, texts: &[String]) -> Option<Tensor> {
        let path = self.path(language, identity, texts);
        let bytes = std::fs::read(&path).ok()?;
        let read = || -> Option<Tensor> {
            let (header, data) = (bytes.get(..HEADER)?, &bytes[HEADER..]);
            let rows = u32::from_le_bytes(header[8..12].try_into().ok()?) as usize;
            let columns = u32::from_le_bytes(header[12..16].try_into().ok()?) as usize;
            if &header[..8] != MAGIC || rows != texts.len() || columns == 0 || data.len() != rows * columns * 4 {
                return None;
            }
            let values: Vec<f32> = data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            if values.iter().any(|v| !v.is_finite()) {
                return None;
            }
            Tensor::from_vec(values, (rows, columns), &Device::Cpu).ok()
        };
        let tensor = read();
        if tensor.is_none() {
            tracing::warn!(path = %path.display(), "the kept example embeddings do not read back whole; embedding them again");
        }
        tensor
    }

    /// Keeps `embeddings` of `texts` for the next run; a cache that cannot be written (a
    /// read-only models folder) costs only the next start's time.
    pub fn store(&self, language: Language, identity: &str, texts: &[String], embeddings: &Tensor) {
        let path = self.path(language, identity, texts);
        let write = || -> Result<(), String> {
            let (rows, columns) = embeddings.dims2().map_err(|e| e.to_string())?;
            let values: Vec<f32> = embeddings.flatten_all().and_then(|t| t.to_vec1()).map_err(|e| e.to_string())?;
            let mut bytes = Vec::with_capacity(HEADER + values.len() * 4);
            bytes.extend_from_slice(MAGIC);
            bytes.extend_from_slice(&(rows as u32).to_le_bytes());
            bytes.extend_from_slice(&(columns as u32).to_le_bytes());
            values.iter().for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()));
            std::fs::create_dir_all(&self.dir).map_err(|e| e.to_string())?;
            // Written whole, then renamed: a reader never sees half a file.
            let partial = path.with_extension("partial");
            std::fs::write(&partial, &bytes).and_then(|()| std::fs::rename(&partial, &path)).map_err(|e| e.to_string())
        };
        match write() {
            Ok(()) => tracing::debug!(path = %path.display(), "example embeddings kept"),
            Err(error) => tracing::info!(path = %path.display(), %error, "cannot keep the example embeddings"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use cabin_sentence_encoder::EncoderError;
    use candle_core::{Device, Tensor};

    use crate::{Embedder, IntentCatalog, Understander};

    /// A stand-in encoder that counts the sentences it embeds: letter counts, unit length.
    #[derive(Debug, Clone, Default)]
    struct Counting(Arc<AtomicUsize>);

    impl Embedder for Counting {
        fn embed(&self, sentences: &[&str]) -> Result<Tensor, EncoderError> {
            self.0.fetch_add(sentences.len(), Ordering::Relaxed);
            let rows: Vec<f32> = sentences
                .iter()
                .flat_map(|s| {
                    let mut row = vec![0.01f32; 26];
                    s.bytes().filter(u8::is_ascii_lowercase).for_each(|b| row[usize::from(b - b'a')] += 1.0);
                    let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
                    row.into_iter().map(move |v| v / norm)
                })
                .collect();
            Ok(Tensor::from_vec(rows, (sentences.len(), 26), &Device::Cpu)?)
        }

        fn identity(&self) -> &str {
            "counting letters"
        }
    }

    #[test]
    fn the_examples_are_embedded_once_and_a_broken_file_is_embedded_again() {
        let dir = tempfile::tempdir().unwrap();
        let learn = || {
            let encoder = Counting::default();
            let understander = Understander::caching(encoder.clone(), IntentCatalog::embedded(), Some(dir.path())).unwrap();
            (understander.understand("open the trunk").unwrap().intent, encoder.0.load(Ordering::Relaxed))
        };
        let (first, embedded) = learn();
        assert!(embedded > 100, "the examples were embedded: {embedded}");
        let (again, embedded) = learn();
        assert_eq!((again.as_str(), embedded), (first.as_str(), 1), "only the question itself is embedded");

        let kept = std::fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();
        let bytes = std::fs::read(&kept).unwrap();
        std::fs::write(&kept, &bytes[..bytes.len() - 3]).unwrap();
        let (after, embedded) = learn();
        assert!(embedded > 100 && after == first, "a truncated file is not used: {embedded}");
        assert_eq!(std::fs::read(&kept).unwrap(), bytes, "and is written whole again");
    }
}
