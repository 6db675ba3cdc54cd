//! The protocol between the car and its owner's phones, over MQTT 5. Phone apps embed this
//! (with `cabin-phone-client`); the car side is `cabin-phone-link-service`. See `../PROTOCOL.md`.

mod auth;
mod backoff;
mod broker;

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

pub use auth::{
    car_pake, notice_signatures, notice_signed_for, BadPakeMessage, PairingKey, PhonePake, RequestKey, MAC_PROPERTY, NOTICE_MAC_PREFIX,
};
pub use backoff::Backoff;
pub use broker::{Broker, BrokerError, MAX_PACKET_BYTES};
pub use cabin_principal::{Scope, Scopes};

/// The payload version this build speaks. A payload with another `v` gets an error reply.
pub const VERSION: u32 = 1;

/// How far a request's timestamp may be from the car's clock.
pub const CLOCK_WINDOW_S: u64 = 60;

/// Every topic of one vehicle.
#[derive(Debug, Clone)]
pub struct Topics {
    root: String,
}

impl Topics {
    pub fn new(vehicle_id: &str) -> Topics {
        Topics { root: format!("cabin/v1/{vehicle_id}") }
    }

    /// Phones send authenticated requests here (QoS 1, with a response topic and correlation data).
    pub fn requests(&self) -> String {
        format!("{}/requests", self.root)
    }

    /// Phones that are not paired yet send their pairing code here.
    pub fn pairing(&self) -> String {
        format!("{}/pair", self.root)
    }

    /// The car's online state: retained, with a last will saying offline.
    pub fn status(&self) -> String {
        format!("{}/status", self.root)
    }

    /// Events from the car (QoS 1).
    pub fn events(&self) -> String {
        format!("{}/events", self.root)
    }

    /// Where a paired phone gets its answers: the car answers a phone's requests here and
    /// nowhere else.
    pub fn responses(&self, phone: &str) -> String {
        format!("{}/responses/{phone}", self.root)
    }

    /// Where a phone still pairing gets the car's answers: one topic per pairing exchange.
    pub fn pairing_responses(&self, pairing: &str) -> String {
        format!("{}/responses/pairing-{pairing}", self.root)
    }
}

/// A request from a paired phone.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    pub v: u32,
    /// Unique per request: a redelivered request with the same id is answered again, not re-run.
    pub id: String,
    pub phone: String,
    /// Random per request; a nonce seen before within the clock window is a replay.
    pub nonce: String,
    /// Seconds since the Unix epoch, on the phone's clock.
    pub ts: u64,
    #[serde(flatten)]
    pub body: RequestBody,
}

/// The largest request the car reads; a bigger payload gets an error reply unread.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

impl Request {
    /// Reads a request payload, or says why not in the error reply the phone gets: too large, an
    /// unknown version, not JSON, a missing field, a wrong type, an unknown kind. The reply
    /// carries the request's id whenever it could be read.
    pub fn decode(payload: &[u8]) -> Result<Request, Response> {
        if payload.len() > MAX_REQUEST_BYTES {
            return Err(Response::error(
                None,
                ErrorKind::BadRequest,
                format!("the request is {} bytes; at most {MAX_REQUEST_BYTES} are read", payload.len()),
            ));
        }
        let parsed: Option<Json> = serde_json::from_slice(payload).ok();
        let v = parsed.as_ref().and_then(|p| p.get("v")).and_then(Json::as_u64);
        let id = parsed.as_ref().and_then(|p| p.get("id")).and_then(Json::as_str).map(str::to_string);
        if v.is_some_and(|v| v != u64::from(VERSION)) {
            return Err(Response::error(
                id,
                ErrorKind::UnsupportedVersion,
                format!("this car speaks version {VERSION}, the request is version {}", v.unwrap_or(0)),
            ));
        }
        serde_json::from_slice(payload)
            .map_err(|e| Response::error(id, ErrorKind::BadRequest, format!("not a version {VERSION} request: {e}")))
    }

    /// A fresh request from a paired phone: a new id and nonce, stamped now.
    pub fn new(paired: &Paired, body: RequestBody) -> Request {
        Request { v: VERSION, id: random_hex(8), phone: paired.phone.clone(), nonce: random_hex(12), ts: now_s(), body }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RequestBody {
    Ping,
    Ask {
        text: String,
    },
    #[serde(rename = "signals.get")]
    SignalsGet {
        path: String,
    },
    #[serde(rename = "signals.set")]
    SignalsSet {
        path: String,
        value: Json,
    },
    #[serde(rename = "vision.find")]
    VisionFind {
        object: String,
        #[serde(default)]
        region: Option<String>,
    },
    /// A JPEG of a seat region (or the whole frame); the car sends one only when its owner's
    /// policy lets frames leave the car.
    #[serde(rename = "vision.snapshot")]
    VisionSnapshot {
        #[serde(default)]
        region: Option<String>,
    },
    /// What the owner did with a hand-off the car sent: tapped it and it was done, declined
    /// it, or tapped it and the phone could not do it (`detail` says why).
    #[serde(rename = "handoff.answer")]
    HandOffAnswer {
        handoff: String,
        outcome: HandOffOutcome,
        #[serde(default)]
        detail: String,
    },
    /// "Send to car": a destination for the car's navigation, from the owner's phone.
    #[serde(rename = "send.destination")]
    SendDestination {
        destination: String,
    },
    /// "Send to car": a note the car reads out to whoever is driving.
    #[serde(rename = "send.note")]
    SendNote {
        text: String,
    },
}

impl RequestBody {
    pub fn kind(&self) -> &'static str {
        match self {
            RequestBody::Ping => "ping",
            RequestBody::Ask { .. } => "ask",
            RequestBody::SignalsGet { .. } => "signals.get",
            RequestBody::SignalsSet { .. } => "signals.set",
            RequestBody::VisionFind { .. } => "vision.find",
            RequestBody::VisionSnapshot { .. } => "vision.snapshot",
            RequestBody::HandOffAnswer { .. } => "handoff.answer",
            RequestBody::SendDestination { .. } => "send.destination",
            RequestBody::SendNote { .. } => "send.note",
        }
    }

    /// The scope a phone needs for this request.
    pub fn scope(&self) -> Option<Scope> {
        match self {
            // A hand-off went to every paired phone; answering it needs no scope.
            RequestBody::Ping | RequestBody::HandOffAnswer { .. } => None,
            // A note is words to the driver, like asking; navigation is the head unit's (comfort).
            RequestBody::Ask { .. } | RequestBody::SendNote { .. } => Some(Scope::Ask),
            RequestBody::SendDestination { .. } => Some(Scope::Comfort),
            RequestBody::SignalsGet { .. } => Some(Scope::Read),
            RequestBody::SignalsSet { path, .. } => Some(Scope::to_actuate(path)),
            RequestBody::VisionFind { .. } | RequestBody::VisionSnapshot { .. } => Some(Scope::Camera),
        }
    }
}

/// A message of a pairing exchange, on `cabin/v1/<vid>/pair`, answered on
/// [`Topics::pairing_responses`] of its `pairing` id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PairRequest {
    pub v: u32,
    /// Random per exchange: every message of one exchange carries it.
    pub pairing: String,
    #[serde(flatten)]
    pub step: PairStep,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum PairStep {
    /// The phone's SPAKE2 message (hex), made with the code; the car answers `{"spake2": hex}`.
    Start {
        /// What the owner will see in `cabin phones list`.
        name: String,
        spake2: String,
    },
    /// The phone's proof that it holds the same key; the car answers with a [`PairResult`].
    Confirm { proof: String },
}

/// The car's last answer in a pairing exchange.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PairResult {
    pub phone: String,
    pub scopes: Scopes,
    /// The car's proof that it holds the same key.
    pub proof: String,
}

/// What a phone keeps after pairing (in an owner-only file): its id, the key its requests are
/// signed with, and what it may do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Paired {
    pub phone: String,
    /// Hex; see [`RequestKey`].
    pub key: String,
    pub scopes: Scopes,
}

impl Paired {
    pub fn request_key(&self) -> Option<RequestKey> {
        RequestKey::from_hex(&self.key)
    }
}

/// Something the car tells its phones unasked, on `cabin/v1/<vid>/events` (QoS 1). Delivery is
/// at least once: a phone drops an `id` it has seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CarEvent {
    pub v: u32,
    pub id: String,
    /// When it happened (unix seconds), not when it was delivered: events wait in the car while
    /// the broker is unreachable.
    pub at: u64,
    #[serde(flatten)]
    pub body: EventBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    /// The car was locked and the cabin camera sees something left on a seat.
    LeftBehind { object: String, region: String, confidence: f64 },
    /// The car was locked and the cabin camera sees someone inside (a child asleep in the
    /// back): looked for at every lock, whatever objects are configured.
    PersonInside { region: String, confidence: f64 },
}

impl CarEvent {
    pub fn new(body: EventBody) -> CarEvent {
        CarEvent { v: VERSION, id: random_hex(8), at: now_s(), body }
    }
}

/// Something the car asks the owner's phone to do, that only a phone can: sent on each paired
/// phone's own response topic, signed with its key ([`RequestKey::sign_handoff`]), and done
/// only when the owner taps it; the phone answers with [`RequestBody::HandOffAnswer`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandOff {
    pub v: u32,
    pub handoff: String,
    /// When the driver asked (unix seconds).
    pub at: u64,
    #[serde(flatten)]
    pub task: HandOffTask,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "snake_case")]
pub enum HandOffTask {
    /// Directions on the phone for the last stretch on foot.
    Directions { destination: String },
    /// A notification on the phone when the car reports it is parked.
    Reminder { text: String },
    /// The phone's share sheet, with the text ready, for the owner to send to `contact`.
    Share { contact: String, text: String },
}

impl HandOffTask {
    pub fn name(&self) -> &'static str {
        match self {
            HandOffTask::Directions { .. } => "directions",
            HandOffTask::Reminder { .. } => "reminder",
            HandOffTask::Share { .. } => "share",
        }
    }
}

impl HandOff {
    pub fn new(task: HandOffTask) -> HandOff {
        HandOff { v: VERSION, handoff: random_hex(8), at: now_s(), task }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandOffOutcome {
    Done,
    Declined,
    Failed,
}

/// Every reply: `ok` with a result, or an error with its kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    pub v: u32,
    /// The request's id, when it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorReply>,
}

impl Response {
    pub fn ok(id: Option<String>, result: Json) -> Response {
        Response { v: VERSION, id, result: Some(result), error: None }
    }

    pub fn error(id: Option<String>, kind: ErrorKind, message: impl Into<String>) -> Response {
        Response { v: VERSION, id, result: None, error: Some(ErrorReply { kind, message: message.into() }) }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorReply {
    pub kind: ErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    /// Not JSON, or not a request this version knows.
    BadRequest,
    UnsupportedVersion,
    /// Unknown or revoked phone, a wrong MAC, or a response topic that is not the phone's own.
    Unauthorized,
    /// The phone was not granted the scope this request needs.
    Forbidden,
    /// The timestamp is outside the clock window.
    Stale,
    /// The nonce was seen before.
    Replay,
    RateLimited,
    /// A wrong or expired pairing code, or pairing locked after too many wrong ones.
    PairingRefused,
    /// The vehicle bus refused (the message says why: an interlock, a range, a permission).
    Refused,
    /// A service the request needs (vehicle bus, assistant, camera) is not running.
    Unavailable,
}

/// Seconds since the Unix epoch.
pub fn now_s() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// `bytes` random bytes as lowercase hex: phone ids, pairing exchange ids, nonces, request ids.
pub fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).expect("the OS random source works");
    buffer.iter().map(|b| format!("{b:02x}")).collect()
}

/// A seeded xorshift: the same pseudo-random numbers every run, for the fuzz tests.
#[cfg(test)]
pub(crate) fn fuzz_numbers(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_as_documented() {
        let text = r#"{"v":1,"id":"r1","phone":"p1","nonce":"n","ts":5,"kind":"signals.get","path":"Vehicle.Speed"}"#;
        let request: Request = serde_json::from_str(text).unwrap();
        assert!(matches!(request.body, RequestBody::SignalsGet { ref path } if path == "Vehicle.Speed"));
        assert_eq!(request.body.scope(), Some(Scope::Read));
        let back = serde_json::to_value(&request).unwrap();
        assert_eq!(back["kind"], "signals.get");
    }

    /// A fuzz run of the decoder: random bytes, and valid requests with bytes flipped, cut,
    /// repeated or replaced by wrong types. Every input must come back as a request or as an error
    /// reply of a request kind of error, and nothing may panic.
    #[test]
    fn the_decoder_answers_every_input_and_never_panics() {
        const VALID: &str =
            r#"{"v":1,"id":"r1","phone":"p1","nonce":"n","ts":5,"kind":"signals.set","path":"Vehicle.Speed","value":[1,{"a":null}]}"#;
        let mut next = fuzz_numbers(0x9e37_79b9_7f4a_7c15);
        let mut runs = 0;
        let mut check = |payload: &[u8]| {
            runs += 1;
            if let Err(reply) = Request::decode(payload) {
                let error = reply.error.expect("an error reply says what is wrong");
                assert!(matches!(error.kind, ErrorKind::BadRequest | ErrorKind::UnsupportedVersion), "{error:?}");
                assert!(reply.result.is_none());
            }
        };
        for _ in 0..100_000 {
            let length = (next() % 300) as usize;
            let random: Vec<u8> = (0..length).map(|_| next() as u8).collect();
            check(&random);
            let mut mutated = VALID.as_bytes().to_vec();
            for _ in 0..1 + next() % 4 {
                let at = (next() as usize) % mutated.len();
                match next() % 4 {
                    0 => mutated[at] = next() as u8,
                    1 => mutated.truncate(at.max(1)),
                    2 => mutated.insert(at, b"{}[]\",:0123456789eE-+.tfn\\ "[(next() % 26) as usize]),
                    _ => {
                        let piece = mutated[at..].to_vec();
                        mutated.extend_from_slice(&piece);
                    }
                }
            }
            check(&mutated);
        }
        for wrong in [r#""1""#, "null", "-1", "1e999", "[]", "{}", r#""\ud800""#, "18446744073709551616"] {
            for field in ["v", "id", "phone", "nonce", "ts", "kind", "path", "value"] {
                let mut request: Json = serde_json::from_str(VALID).unwrap();
                request[field] = serde_json::from_str(wrong).unwrap_or(Json::Null);
                check(request.to_string().as_bytes());
            }
        }
        let huge = format!(r#"{{"v":1,"id":"big","pad":"{}"}}"#, "x".repeat(MAX_REQUEST_BYTES));
        let reply = Request::decode(huge.as_bytes()).unwrap_err();
        assert!(reply.error.unwrap().message.contains("at most 65536"), "an oversized request is refused unread");
        assert!(Request::decode(VALID.as_bytes()).is_ok());
        let old = Request::decode(br#"{"v":2,"id":"r9"}"#).unwrap_err();
        assert_eq!((old.id.as_deref(), old.error.map(|e| e.kind)), (Some("r9"), Some(ErrorKind::UnsupportedVersion)));
        println!("decoder fuzz: {runs} inputs, 0 panics");
        assert!(runs > 200_000);
    }

    #[test]
    fn an_unknown_kind_does_not_parse() {
        let text = r#"{"v":1,"id":"r1","phone":"p1","nonce":"n","ts":5,"kind":"self.destruct"}"#;
        assert!(serde_json::from_str::<Request>(text).is_err());
    }
}
