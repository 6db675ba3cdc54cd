//! A word-embedding table left in its file, a row read when a token needs it.
//!
//! Both encoders spend most of their weights on it (MiniLM 45 of 87 MiB, multilingual-e5 52 of
//! 68), yet a command uses a few dozen of its 30,000 or 250,000 rows. Reading those rows with
//! `pread` costs a microsecond each, and keeps the rest out of the service's memory: the page
//! cache holds what was read lately, and the kernel may take it back. Not a memory map, which
//! would count every page a load touched as the service's own.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::EncoderError;

#[derive(Debug)]
pub struct WordRows {
    file: File,
    path: PathBuf,
    /// Where row 0 starts in the file.
    offset: u64,
    row_bytes: usize,
    rows: usize,
}

impl WordRows {
    /// The table of `rows` rows of `row_bytes` bytes at `offset` in `path`, which the caller
    /// has checked lies inside the file.
    pub fn open(path: &Path, offset: u64, rows: usize, row_bytes: usize) -> Result<WordRows, EncoderError> {
        let file = File::open(path).map_err(|e| EncoderError::Load { path: path.to_owned(), message: e.to_string() })?;
        Ok(WordRows { file, path: path.to_owned(), offset, row_bytes, rows })
    }

    /// The rows of `ids`, one after another.
    pub fn read(&self, ids: &[u32]) -> Result<Vec<u8>, EncoderError> {
        let mut bytes = vec![0; ids.len() * self.row_bytes];
        for (id, row) in ids.iter().zip(bytes.chunks_exact_mut(self.row_bytes)) {
            let id = *id as usize;
            if id >= self.rows {
                return Err(self.error(format!("token {id} is past the word table's {} rows", self.rows)));
            }
            let at = self.offset + (id * self.row_bytes) as u64;
            self.file.read_exact_at(row, at).map_err(|e| self.error(format!("word row {id}: {e}")))?;
        }
        Ok(bytes)
    }

    fn error(&self, message: String) -> EncoderError {
        EncoderError::Load { path: self.path.clone(), message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_read_from_their_place_and_a_token_past_the_table_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("table.bin");
        // Four header bytes, then three rows of two bytes.
        std::fs::write(&path, [9, 9, 9, 9, 10, 11, 20, 21, 30, 31]).unwrap();
        let rows = WordRows::open(&path, 4, 3, 2).unwrap();
        assert_eq!(rows.read(&[2, 0, 2]).unwrap(), vec![30, 31, 10, 11, 30, 31]);
        let error = rows.read(&[3]).unwrap_err().to_string();
        assert!(error.contains("table.bin") && error.contains("token 3"), "{error}");
    }
}
