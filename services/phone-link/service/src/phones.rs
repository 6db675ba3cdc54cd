//! Paired phones and the pairing in progress, kept in the service's state folder with owner-only
//! permissions. Each phone's request key is stored there (a MAC key must be, to check MACs);
//! the file is read on every request, so a revocation takes effect at once, even from another
//! process (`cabin phones revoke`). Every read-modify-write holds the folder's lock file, so two
//! processes (or two pairing messages) never lose each other's change.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use cabin_phone_protocol::{notice_signatures, now_s, random_hex, RequestKey, Scope, Scopes};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use thiserror::Error;

const PHONES_FILE: &str = "phones.json";
const PAIRING_FILE: &str = "pairing.json";
const LOCK_FILE: &str = ".lock";
/// A pairing code is good for this long.
pub const PAIRING_TTL_S: u64 = 300;
/// Pairing attempts that did not prove the code, pending or not, before pairing locks...
pub const WRONG_CODES_ALLOWED: u32 = 5;
/// ...for this long.
pub const LOCKOUT_S: u64 = 300;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Phone {
    pub id: String,
    pub name: String,
    pub scopes: Scopes,
    pub paired_at: u64,
    key: String,
}

impl Phone {
    /// The key this phone signs its requests with; `None` for an entry from an older format.
    pub fn key(&self) -> Option<RequestKey> {
        RequestKey::from_hex(&self.key)
    }
}

/// The pairing state: the code waiting to be proved, and the count of attempts that did not.
#[derive(Debug, Default, Serialize, Deserialize)]
struct PairingState {
    pending: Option<PendingPairing>,
    /// Attempts not (yet) proved right since pairing last succeeded or locked.
    #[serde(default)]
    unproved: u32,
    /// Unix seconds until which no pairing starts or is attempted.
    #[serde(default)]
    locked_until: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PendingPairing {
    /// The code itself: SPAKE2 needs it. It lives five minutes, owner-only.
    code: String,
    scopes: Scopes,
    expires: u64,
}

#[derive(Debug, Error)]
pub enum PhonesError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: not a phones file: {source}", path.display())]
    Corrupt { path: PathBuf, source: serde_json::Error },
    #[error("no paired phone `{0}` (see `cabin phones list`)")]
    UnknownPhone(String),
    #[error("pairing is locked for {0} s more after {WRONG_CODES_ALLOWED} wrong codes")]
    Locked(u64),
}

#[derive(Debug, Error, PartialEq)]
pub enum AuthError {
    #[error("unknown or revoked phone")]
    UnknownPhone,
    #[error("the request's MAC is wrong")]
    WrongMac,
    #[error("answers go only to the phone's own response topic ({0})")]
    NotItsTopic(String),
}

#[derive(Debug, Error, PartialEq)]
pub enum PairError {
    #[error("no pairing is in progress: run `cabin pair` in the car")]
    NotPairing,
    #[error("the pairing code has expired: run `cabin pair` again")]
    Expired,
    #[error("wrong pairing code")]
    WrongCode,
    #[error("pairing is locked for {0} s more after too many wrong codes")]
    Locked(u64),
}

/// The code a pairing attempt runs SPAKE2 with, and what the phone will get.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub code: String,
    pub scopes: Scopes,
}

/// The state folder's phones.
#[derive(Debug, Clone)]
pub struct Phones {
    dir: PathBuf,
}

impl Phones {
    pub fn new(dir: impl Into<PathBuf>) -> Phones {
        Phones { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn list(&self) -> Result<Vec<Phone>, PhonesError> {
        self.read(PHONES_FILE)
    }

    /// The user properties that sign what the car says to its phones on `topic` (status,
    /// events): one MAC per paired phone that holds `scope`, if one is needed, so a stranger on
    /// the broker cannot speak for the car, and a phone believes only what it may know.
    pub fn sign_notice(&self, topic: &str, payload: &[u8], scope: Option<Scope>) -> Result<Vec<(String, String)>, PhonesError> {
        let phones = self.list()?;
        let entitled = phones.iter().filter(|phone| scope.is_none_or(|scope| phone.scopes.contains(&scope)));
        Ok(notice_signatures(entitled.filter_map(|phone| Some((phone.id.as_str(), phone.key()?))), topic, payload))
    }

    /// Starts pairing: a six-digit code for the owner to type on the phone, good for five
    /// minutes. Refused while pairing is locked after wrong codes.
    pub fn start_pairing(&self, scopes: Scopes) -> Result<String, PhonesError> {
        self.locked(|| {
            let mut state: PairingState = self.read(PAIRING_FILE)?;
            let now = now_s();
            if state.locked_until > now {
                return Err(PhonesError::Locked(state.locked_until - now));
            }
            let number = u32::from_str_radix(&random_hex(4), 16).unwrap_or(0) % 1_000_000;
            let code = format!("{number:06}");
            state.pending = Some(PendingPairing { code: code.clone(), scopes, expires: now + PAIRING_TTL_S });
            state.unproved = 0;
            self.write_json(PAIRING_FILE, &state)?;
            Ok(code)
        })
    }

    /// A phone starts a pairing exchange: counted as a wrong code until it proves the code
    /// ([`Phones::complete_pairing`]), whether a pairing is pending or not. After
    /// [`WRONG_CODES_ALLOWED`] the pending code is called off and pairing locks.
    pub fn attempt_pairing(&self) -> Result<Result<Attempt, PairError>, PhonesError> {
        self.locked(|| {
            let mut state: PairingState = self.read(PAIRING_FILE)?;
            let now = now_s();
            if state.locked_until > now {
                return Ok(Err(PairError::Locked(state.locked_until - now)));
            }
            state.unproved += 1;
            if state.unproved > WRONG_CODES_ALLOWED {
                tracing::warn!("{WRONG_CODES_ALLOWED} pairing attempts without the code: pairing locked for {LOCKOUT_S} s");
                state = PairingState { pending: None, unproved: 0, locked_until: now + LOCKOUT_S };
                self.write_json(PAIRING_FILE, &state)?;
                return Ok(Err(PairError::Locked(LOCKOUT_S)));
            }
            let answer = match &state.pending {
                None => Err(PairError::NotPairing),
                Some(pending) if now > pending.expires => Err(PairError::Expired),
                Some(pending) => Ok(Attempt { code: pending.code.clone(), scopes: pending.scopes.clone() }),
            };
            self.write_json(PAIRING_FILE, &state)?;
            Ok(answer)
        })
    }

    /// A phone proved `code`: it is paired with `key` and `scopes`, the code is used up, and
    /// its attempt no longer counts as wrong. A code already used up pairs no one: another
    /// exchange started with it before it was used must not pair a second phone.
    pub fn complete_pairing(
        &self,
        name: &str,
        scopes: Scopes,
        key: &RequestKey,
        code: &str,
    ) -> Result<Result<Phone, PairError>, PhonesError> {
        self.locked(|| {
            let state: PairingState = self.read(PAIRING_FILE)?;
            match &state.pending {
                None => return Ok(Err(PairError::NotPairing)),
                Some(pending) if pending.code != code => return Ok(Err(PairError::NotPairing)),
                Some(pending) if now_s() > pending.expires => return Ok(Err(PairError::Expired)),
                Some(_) => {}
            }
            let phone = Phone { id: random_hex(8), name: name.to_string(), scopes, paired_at: now_s(), key: key.to_hex() };
            let mut phones = self.list()?;
            phones.push(phone.clone());
            self.write_json(PHONES_FILE, &phones)?;
            self.write_json(PAIRING_FILE, &PairingState::default())?;
            Ok(Ok(phone))
        })
    }

    /// The phone a request says it comes from.
    pub fn find(&self, phone: &str) -> Result<Result<Phone, AuthError>, PhonesError> {
        Ok(self.list()?.into_iter().find(|p| p.id == phone).ok_or(AuthError::UnknownPhone))
    }

    /// Revokes by id or by name; returns the phones revoked.
    pub fn revoke(&self, phone: &str) -> Result<Vec<Phone>, PhonesError> {
        self.locked(|| {
            let (revoked, kept): (Vec<Phone>, Vec<Phone>) = self.list()?.into_iter().partition(|p| p.id == phone || p.name == phone);
            if revoked.is_empty() {
                return Err(PhonesError::UnknownPhone(phone.to_string()));
            }
            self.write_json(PHONES_FILE, &kept)?;
            Ok(revoked)
        })
    }

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PhonesError {
        let path = path.to_owned();
        move |source| PhonesError::Io { path, source }
    }

    /// Runs `work` holding the folder's lock (an advisory lock other processes honour too).
    fn locked<T>(&self, work: impl FnOnce() -> Result<T, PhonesError>) -> Result<T, PhonesError> {
        std::fs::create_dir_all(&self.dir).map_err(Self::io(&self.dir))?;
        let path = self.dir.join(LOCK_FILE);
        let lock: File = OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(&path).map_err(Self::io(&path))?;
        lock.lock().map_err(Self::io(&path))?;
        let result = work();
        drop(lock);
        result
    }

    /// A file of the folder, or its empty value when there is none.
    fn read<T: DeserializeOwned + Default>(&self, name: &str) -> Result<T, PhonesError> {
        let path = self.dir.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| PhonesError::Corrupt { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
            Err(source) => Err(PhonesError::Io { path, source }),
        }
    }

    /// Writes owner-only (0600), through a temporary file so a reader never sees half a file.
    fn write_json(&self, name: &str, value: &impl Serialize) -> Result<(), PhonesError> {
        let bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
        std::fs::create_dir_all(&self.dir).map_err(Self::io(&self.dir))?;
        let path = self.dir.join(name);
        let staging = self.dir.join(format!(".{name}.new"));
        let mut file = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&staging).map_err(Self::io(&staging))?;
        file.write_all(&bytes).map_err(Self::io(&staging))?;
        std::fs::rename(&staging, &path).map_err(Self::io(&path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cabin_phone_protocol::notice_signed_for;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_code_pairs_once_and_the_phone_is_found_until_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let phones = Phones::new(dir.path());
        let code = phones.start_pairing([Scope::Read, Scope::Ask].into()).unwrap();
        let attempt = phones.attempt_pairing().unwrap().unwrap();
        assert_eq!(attempt.code, code);
        let key = RequestKey::from_hex(&"ab".repeat(32)).unwrap();
        let phone = phones.complete_pairing("Ana's phone", attempt.scopes.clone(), &key, &code).unwrap().unwrap();
        assert_eq!(phones.attempt_pairing().unwrap().unwrap_err(), PairError::NotPairing, "the code works once");
        let again = phones.complete_pairing("Mallory's phone", attempt.scopes, &key, &code).unwrap();
        assert_eq!(again.unwrap_err(), PairError::NotPairing, "a used code pairs no second phone");

        assert_eq!(phones.find(&phone.id).unwrap().unwrap().key(), Some(key));
        let mode = std::fs::metadata(dir.path().join(PHONES_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the phones file is the owner's only");
        phones.revoke("Ana's phone").unwrap();
        assert_eq!(phones.find(&phone.id).unwrap().unwrap_err(), AuthError::UnknownPhone);
    }

    #[test]
    fn what_the_camera_saw_is_signed_only_for_phones_that_may_know_it() {
        let dir = tempfile::tempdir().unwrap();
        let phones = Phones::new(dir.path());
        let pair = |scopes: Scopes, key: &str| {
            let code = phones.start_pairing(scopes.clone()).unwrap();
            let key = RequestKey::from_hex(&key.repeat(32)).unwrap();
            (phones.complete_pairing("phone", scopes, &key, &code).unwrap().unwrap(), key)
        };
        let (camera, camera_key) = pair([Scope::Read, Scope::Camera].into(), "ab");
        let (reader, reader_key) = pair([Scope::Read].into(), "cd");
        let (topic, event) = ("cabin/v1/car/events", br#"{"v":1,"id":"e1","kind":"left_behind"}"#);
        let signed = phones.sign_notice(topic, event, Some(Scope::Camera)).unwrap();
        assert!(notice_signed_for(&signed, &camera.id, &camera_key, topic, event));
        assert!(!notice_signed_for(&signed, &reader.id, &reader_key, topic, event), "a read-only phone is not told it");
        let status = phones.sign_notice("cabin/v1/car/status", b"{}", None).unwrap();
        assert!(notice_signed_for(&status, &reader.id, &reader_key, "cabin/v1/car/status", b"{}"), "the status is for every phone");
    }

    #[test]
    fn attempts_that_prove_nothing_lock_pairing_pending_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let phones = Phones::new(dir.path());
        for _ in 0..WRONG_CODES_ALLOWED {
            assert_eq!(phones.attempt_pairing().unwrap().unwrap_err(), PairError::NotPairing);
        }
        assert!(matches!(phones.attempt_pairing().unwrap().unwrap_err(), PairError::Locked(_)), "counted with nothing pending");
        assert!(matches!(phones.start_pairing(Scopes::new()), Err(PhonesError::Locked(_))), "no new code while locked");

        let dir = tempfile::tempdir().unwrap();
        let phones = Phones::new(dir.path());
        phones.start_pairing(Scopes::new()).unwrap();
        for _ in 0..WRONG_CODES_ALLOWED {
            assert!(phones.attempt_pairing().unwrap().is_ok());
        }
        assert!(matches!(phones.attempt_pairing().unwrap().unwrap_err(), PairError::Locked(_)));
        assert!(matches!(phones.attempt_pairing().unwrap().unwrap_err(), PairError::Locked(_)), "and the code is called off");
    }
}
