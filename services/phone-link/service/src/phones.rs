//! Paired phones and pairing codes, kept in the service's state folder with owner-only
//! permissions. Tokens are stored as their sha256; the file is read on every request, so a
//! revocation takes effect at once, even from another process (`cabin phones revoke`).

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use cabin_phone_protocol::{now_s, random_hex, Paired, Scopes};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

const PHONES_FILE: &str = "phones.json";
const PAIRING_FILE: &str = "pairing.json";
/// A pairing code is good for this long.
pub const PAIRING_TTL_S: u64 = 300;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Phone {
    pub id: String,
    pub name: String,
    pub scopes: Scopes,
    pub paired_at: u64,
    token_sha256: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct PendingPairing {
    code_sha256: String,
    scopes: Scopes,
    expires: u64,
    #[serde(default)]
    wrong_codes: u32,
}

/// Wrong codes before a pairing is called off: six digits must not be guessable by trying.
const WRONG_CODES_ALLOWED: u32 = 5;

#[derive(Debug, Error)]
pub enum PhonesError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: not a phones file: {source}", path.display())]
    Corrupt { path: PathBuf, source: serde_json::Error },
    #[error("no paired phone `{0}` (see `cabin phones list`)")]
    UnknownPhone(String),
}

#[derive(Debug, Error, PartialEq)]
pub enum AuthError {
    #[error("unknown or revoked phone")]
    UnknownPhone,
    #[error("wrong token for this phone")]
    WrongToken,
}

#[derive(Debug, Error, PartialEq)]
pub enum PairError {
    #[error("no pairing is in progress: run `cabin pair` in the car")]
    NotPairing,
    #[error("the pairing code has expired: run `cabin pair` again")]
    Expired,
    #[error("wrong pairing code")]
    WrongCode,
}

/// The state folder's phones.
#[derive(Debug, Clone)]
pub struct Phones {
    dir: PathBuf,
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

impl Phones {
    pub fn new(dir: impl Into<PathBuf>) -> Phones {
        Phones { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn list(&self) -> Result<Vec<Phone>, PhonesError> {
        let path = self.dir.join(PHONES_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| PhonesError::Corrupt { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(source) => Err(PhonesError::Io { path, source }),
        }
    }

    /// Starts pairing: a six-digit code for the owner to type on the phone, good for five minutes.
    pub fn start_pairing(&self, scopes: Scopes) -> Result<String, PhonesError> {
        let number = u32::from_str_radix(&random_hex(4), 16).unwrap_or(0) % 1_000_000;
        let code = format!("{number:06}");
        let pending = PendingPairing { code_sha256: sha256_hex(&code), scopes, expires: now_s() + PAIRING_TTL_S, wrong_codes: 0 };
        self.write(PAIRING_FILE, &serde_json::to_vec_pretty(&pending).unwrap_or_default())?;
        Ok(code)
    }

    /// A phone proved the code: it gets an id and a token with the scopes the owner chose. The
    /// code works once.
    pub fn complete_pairing(&self, code: &str, name: &str) -> Result<Result<Paired, PairError>, PhonesError> {
        let path = self.dir.join(PAIRING_FILE);
        let mut pending: PendingPairing = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| PhonesError::Corrupt { path: path.clone(), source })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Err(PairError::NotPairing)),
            Err(source) => return Err(PhonesError::Io { path, source }),
        };
        if now_s() > pending.expires {
            return Ok(Err(PairError::Expired));
        }
        if sha256_hex(code.trim()) != pending.code_sha256 {
            pending.wrong_codes += 1;
            if pending.wrong_codes >= WRONG_CODES_ALLOWED {
                std::fs::remove_file(&path).map_err(|source| PhonesError::Io { path, source })?;
            } else {
                self.write(PAIRING_FILE, &serde_json::to_vec_pretty(&pending).unwrap_or_default())?;
            }
            return Ok(Err(PairError::WrongCode));
        }
        std::fs::remove_file(&path).map_err(|source| PhonesError::Io { path, source })?;
        let paired = Paired { phone: random_hex(8), token: random_hex(32), scopes: pending.scopes };
        let mut phones = self.list()?;
        phones.push(Phone {
            id: paired.phone.clone(),
            name: name.to_string(),
            scopes: paired.scopes.clone(),
            paired_at: now_s(),
            token_sha256: sha256_hex(&paired.token),
        });
        self.save(&phones)?;
        Ok(Ok(paired))
    }

    pub fn authenticate(&self, phone: &str, token: &str) -> Result<Result<Phone, AuthError>, PhonesError> {
        let Some(found) = self.list()?.into_iter().find(|p| p.id == phone) else { return Ok(Err(AuthError::UnknownPhone)) };
        Ok(if found.token_sha256 == sha256_hex(token) { Ok(found) } else { Err(AuthError::WrongToken) })
    }

    /// Revokes by id or by name; returns the phones revoked.
    pub fn revoke(&self, phone: &str) -> Result<Vec<Phone>, PhonesError> {
        let (revoked, kept): (Vec<Phone>, Vec<Phone>) = self.list()?.into_iter().partition(|p| p.id == phone || p.name == phone);
        if revoked.is_empty() {
            return Err(PhonesError::UnknownPhone(phone.to_string()));
        }
        self.save(&kept)?;
        Ok(revoked)
    }

    fn save(&self, phones: &[Phone]) -> Result<(), PhonesError> {
        self.write(PHONES_FILE, &serde_json::to_vec_pretty(phones).unwrap_or_default())
    }

    /// Writes owner-only (0600), through a temporary file so a reader never sees half a file.
    fn write(&self, name: &str, bytes: &[u8]) -> Result<(), PhonesError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| PhonesError::Io { path, source }
        };
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let path = self.dir.join(name);
        let staging = self.dir.join(format!(".{name}.new"));
        let mut file = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&staging).map_err(io(&staging))?;
        file.write_all(bytes).map_err(io(&staging))?;
        std::fs::rename(&staging, &path).map_err(io(&path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cabin_phone_protocol::Scope;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_code_pairs_once_and_the_token_authenticates_until_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let phones = Phones::new(dir.path());
        let code = phones.start_pairing([Scope::Read, Scope::Ask].into()).unwrap();
        assert_eq!(phones.complete_pairing("000000x", "wrong").unwrap().unwrap_err(), PairError::WrongCode);
        let paired = phones.complete_pairing(&code, "Ana's phone").unwrap().unwrap();
        assert_eq!(phones.complete_pairing(&code, "again").unwrap().unwrap_err(), PairError::NotPairing);

        assert!(phones.authenticate(&paired.phone, &paired.token).unwrap().is_ok());
        assert_eq!(phones.authenticate(&paired.phone, "guess").unwrap().unwrap_err(), AuthError::WrongToken);
        let mode = std::fs::metadata(dir.path().join(PHONES_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the phones file is the owner's only");
        assert!(!std::fs::read_to_string(dir.path().join(PHONES_FILE)).unwrap().contains(&paired.token), "tokens are stored hashed");

        phones.revoke("Ana's phone").unwrap();
        let code = phones.start_pairing(Scopes::new()).unwrap();
        for _ in 0..WRONG_CODES_ALLOWED {
            assert_eq!(phones.complete_pairing("guess", "thief").unwrap().unwrap_err(), PairError::WrongCode);
        }
        assert_eq!(phones.complete_pairing(&code, "thief").unwrap().unwrap_err(), PairError::NotPairing, "guessing calls pairing off");
        assert_eq!(phones.authenticate(&paired.phone, &paired.token).unwrap().unwrap_err(), AuthError::UnknownPhone);
    }
}
