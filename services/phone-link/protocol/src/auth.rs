//! Pairing by SPAKE2 and requests signed with the key it leaves both sides.
//!
//! Pairing: the owner reads a six-digit code in the car and types it on the phone. The code is
//! never sent: both sides run SPAKE2 (Ed25519 group, identities "cabin phone" and "cabin car")
//! with it, and a recorded exchange gives nobody a way to test codes offline; an active guesser
//! gets one guess per exchange, and the car counts them. The phone proves it holds the same key
//! first (so the car can count a wrong code), then the car proves it.
//!
//! Requests: an HMAC-SHA256, under the key pairing left, over the response topic and the exact
//! payload (id, nonce, timestamp, kind and body); it travels in the MQTT 5 user property
//! [`MAC_PROPERTY`]. Answers and hand-offs are signed the same way under other labels; what
//! the car says to all its phones (status, events) carries one MAC per phone.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use spake2::{Ed25519Group, Identity, Password, Spake2};

/// The MQTT 5 user property that carries a MAC, as lowercase hex.
pub const MAC_PROPERTY: &str = "cabin-mac";
/// What the car says to all its phones carries one MAC per phone, in `cabin-mac:<phone id>`.
pub const NOTICE_MAC_PREFIX: &str = "cabin-mac:";

const PHONE_IDENTITY: &[u8] = b"cabin phone";
const CAR_IDENTITY: &[u8] = b"cabin car";

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    for part in parts {
        // Length-prefixed, so that no two different part lists read the same.
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lowercase hex only: one spelling per MAC.
fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok()).collect()
}

/// The secret a phone and its car share after pairing; requests and answers are signed with it.
#[derive(Clone, PartialEq, Eq)]
pub struct RequestKey([u8; 32]);

impl std::fmt::Debug for RequestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestKey(..)")
    }
}

impl RequestKey {
    pub fn from_hex(text: &str) -> Option<RequestKey> {
        unhex(text)?.try_into().ok().map(RequestKey)
    }

    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// The MAC of a request sent with `response_topic`, as hex.
    pub fn sign_request(&self, response_topic: &str, payload: &[u8]) -> String {
        self.sign(b"cabin/v1 request", response_topic, payload)
    }

    /// Whether `mac` (hex) is this key's MAC of the request; compared in constant time.
    pub fn verify_request(&self, response_topic: &str, payload: &[u8], mac: &str) -> bool {
        self.verify(b"cabin/v1 request", response_topic, payload, mac)
    }

    /// The MAC of the car's answer to the request `id`.
    pub fn sign_response(&self, id: &str, payload: &[u8]) -> String {
        self.sign(b"cabin/v1 response", id, payload)
    }

    pub fn verify_response(&self, id: &str, payload: &[u8], mac: &str) -> bool {
        self.verify(b"cabin/v1 response", id, payload, mac)
    }

    /// The MAC of the hand-off `id` the car sends: a phone acts on none that is not signed.
    pub fn sign_handoff(&self, id: &str, payload: &[u8]) -> String {
        self.sign(b"cabin/v1 handoff", id, payload)
    }

    pub fn verify_handoff(&self, id: &str, payload: &[u8], mac: &str) -> bool {
        self.verify(b"cabin/v1 handoff", id, payload, mac)
    }

    /// The MAC of what the car says to all its phones on `topic` (its status, an event): each
    /// phone gets its own, in the user property `cabin-mac:<phone id>` ([`notice_signatures`]).
    pub fn sign_notice(&self, topic: &str, payload: &[u8]) -> String {
        self.sign(b"cabin/v1 notice", topic, payload)
    }

    pub fn verify_notice(&self, topic: &str, payload: &[u8], mac: &str) -> bool {
        self.verify(b"cabin/v1 notice", topic, payload, mac)
    }

    fn sign(&self, label: &[u8], name: &str, payload: &[u8]) -> String {
        hex(&hmac(&self.0, &[label, name.as_bytes(), payload]).finalize().into_bytes())
    }

    fn verify(&self, label: &[u8], name: &str, payload: &[u8], mac: &str) -> bool {
        let Some(mac) = unhex(mac) else { return false };
        hmac(&self.0, &[label, name.as_bytes(), payload]).verify_slice(&mac).is_ok()
    }
}

/// The user properties that sign a notice on `topic` for each paired phone (its id and key).
pub fn notice_signatures<'a>(
    phones: impl IntoIterator<Item = (&'a str, RequestKey)>,
    topic: &str,
    payload: &[u8],
) -> Vec<(String, String)> {
    phones.into_iter().map(|(phone, key)| (format!("{NOTICE_MAC_PREFIX}{phone}"), key.sign_notice(topic, payload))).collect()
}

/// Whether the user properties of a notice on `topic` carry `phone`'s MAC of it.
pub fn notice_signed_for(user_properties: &[(String, String)], phone: &str, key: &RequestKey, topic: &str, payload: &[u8]) -> bool {
    user_properties
        .iter()
        .filter(|(name, _)| name.strip_prefix(NOTICE_MAC_PREFIX) == Some(phone))
        .any(|(_, mac)| key.verify_notice(topic, payload, mac))
}

/// The key SPAKE2 left one side of a pairing exchange (right only if both used the same code).
#[derive(Clone)]
pub struct PairingKey(Vec<u8>);

impl std::fmt::Debug for PairingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PairingKey(..)")
    }
}

impl PairingKey {
    /// What the phone sends to prove it holds the key, for pairing exchange `pairing`.
    pub fn phone_proof(&self, pairing: &str) -> String {
        hex(&hmac(&self.0, &[b"cabin/v1 phone proof", pairing.as_bytes()]).finalize().into_bytes())
    }

    /// What the car sends back once the phone's proof held.
    pub fn car_proof(&self, pairing: &str) -> String {
        hex(&hmac(&self.0, &[b"cabin/v1 car proof", pairing.as_bytes()]).finalize().into_bytes())
    }

    pub fn verify_phone_proof(&self, pairing: &str, proof: &str) -> bool {
        let Some(proof) = unhex(proof) else { return false };
        hmac(&self.0, &[b"cabin/v1 phone proof", pairing.as_bytes()]).verify_slice(&proof).is_ok()
    }

    pub fn verify_car_proof(&self, pairing: &str, proof: &str) -> bool {
        let Some(proof) = unhex(proof) else { return false };
        hmac(&self.0, &[b"cabin/v1 car proof", pairing.as_bytes()]).verify_slice(&proof).is_ok()
    }

    /// The key requests are signed with from now on.
    pub fn request_key(&self) -> RequestKey {
        RequestKey(hmac(&self.0, &[b"cabin/v1 request key"]).finalize().into_bytes().into())
    }
}

/// Why a pairing message could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a SPAKE2 message of this protocol")]
pub struct BadPakeMessage;

/// The phone's half of SPAKE2, between its first message and the car's answer.
#[derive(Debug)]
pub struct PhonePake(Spake2<Ed25519Group>);

impl PhonePake {
    /// Starts pairing with the code the owner typed; returns the message for the car (hex).
    pub fn start(code: &str) -> (PhonePake, String) {
        let (state, message) = Spake2::<Ed25519Group>::start_a(
            &Password::new(code.trim().as_bytes()),
            &Identity::new(PHONE_IDENTITY),
            &Identity::new(CAR_IDENTITY),
        );
        (PhonePake(state), hex(&message))
    }

    /// The key, from the car's message.
    pub fn finish(self, car_message: &str) -> Result<PairingKey, BadPakeMessage> {
        let message = unhex(car_message).ok_or(BadPakeMessage)?;
        self.0.finish(&message).map(PairingKey).map_err(|_| BadPakeMessage)
    }
}

/// The car's half: answers the phone's message with its own and the key.
pub fn car_pake(code: &str, phone_message: &str) -> Result<(String, PairingKey), BadPakeMessage> {
    let message = unhex(phone_message).ok_or(BadPakeMessage)?;
    let (state, reply) =
        Spake2::<Ed25519Group>::start_b(&Password::new(code.as_bytes()), &Identity::new(PHONE_IDENTITY), &Identity::new(CAR_IDENTITY));
    let key = state.finish(&message).map_err(|_| BadPakeMessage)?;
    Ok((hex(&reply), PairingKey(key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_code_gives_both_sides_one_key_and_a_wrong_one_fails_the_proof() {
        let (phone, to_car) = PhonePake::start("123456");
        let (to_phone, car_key) = car_pake("123456", &to_car).unwrap();
        let phone_key = phone.finish(&to_phone).unwrap();
        assert!(car_key.verify_phone_proof("p1", &phone_key.phone_proof("p1")));
        assert!(!car_key.verify_phone_proof("p2", &phone_key.phone_proof("p1")), "a proof is for one exchange");
        assert!(phone_key.verify_car_proof("p1", &car_key.car_proof("p1")));
        assert_eq!(phone_key.request_key(), car_key.request_key());

        let (guesser, to_car) = PhonePake::start("123457");
        let (to_guesser, car_key) = car_pake("123456", &to_car).unwrap();
        let guessed = guesser.finish(&to_guesser).unwrap();
        assert!(!car_key.verify_phone_proof("p3", &guessed.phone_proof("p3")));
        assert!(car_pake("123456", "zz").is_err());
    }

    #[test]
    fn a_request_mac_covers_the_response_topic_and_every_byte() {
        let key = RequestKey([7; 32]);
        let mac = key.sign_request("cabin/v1/car/responses/p1", b"{\"id\":\"r1\"}");
        assert!(key.verify_request("cabin/v1/car/responses/p1", b"{\"id\":\"r1\"}", &mac));
        assert!(!key.verify_request("cabin/v1/car/responses/p2", b"{\"id\":\"r1\"}", &mac));
        assert!(!key.verify_request("cabin/v1/car/responses/p1", b"{\"id\":\"r2\"}", &mac));
        assert!(!RequestKey([8; 32]).verify_request("cabin/v1/car/responses/p1", b"{\"id\":\"r1\"}", &mac));
        assert!(!key.verify_request("cabin/v1/car/responses/p1", b"{\"id\":\"r1\"}", "nothex"));
        assert_eq!(RequestKey::from_hex(&key.to_hex()), Some(key));
    }

    #[test]
    fn a_notice_is_signed_for_each_phone_and_for_its_own_topic() {
        let (ana, ben) = (RequestKey([1; 32]), RequestKey([2; 32]));
        let topic = "cabin/v1/car/events";
        let payload = br#"{"v":1,"id":"e1","kind":"person_inside"}"#;
        let signed = notice_signatures([("ana", ana.clone()), ("ben", ben.clone())], topic, payload);
        assert!(notice_signed_for(&signed, "ana", &ana, topic, payload));
        assert!(notice_signed_for(&signed, "ben", &ben, topic, payload));
        assert!(!notice_signed_for(&signed, "ana", &ben, topic, payload), "ben's MAC is not ana's");
        assert!(!notice_signed_for(&signed, "ana", &ana, "cabin/v1/car/status", payload), "nor good on another topic");
        assert!(!notice_signed_for(&signed, "ana", &ana, topic, b"{}"), "nor for other words");
        assert!(!notice_signed_for(&[], "ana", &ana, topic, payload));
        // As computed apart (Python's hmac; the app's tests check the same value).
        let mac = RequestKey([7; 32]).sign_notice(topic, br#"{"v":1,"id":"e1"}"#);
        assert_eq!(mac, "c65872d9c1ee11d047529fe7216ba80a2a8195c15d7d6abeff68b182c488f7a0");
    }

    /// A fuzz run of request checking: a signed request with bytes flipped, cut or added, the
    /// response topic changed, the MAC changed or made unreadable. Only the request exactly as
    /// signed passes, and nothing panics.
    #[test]
    fn only_the_request_exactly_as_signed_passes_and_nothing_panics() {
        let key = RequestKey([3; 32]);
        let payload = br#"{"v":1,"id":"r1","phone":"p1","nonce":"n","ts":5,"kind":"signals.set","path":"Vehicle.Cabin.Door.Row1.DriverSide.IsLocked","value":false}"#;
        let topic = "cabin/v1/car/responses/p1";
        let mac = key.sign_request(topic, payload);
        let mut next = crate::fuzz_numbers(0x2545_f491_4f6c_dd1d);
        let mut accepted = 0;
        for _ in 0..50_000 {
            let (mut bytes, mut topic_bytes, mut mac_text) = (payload.to_vec(), topic.as_bytes().to_vec(), mac.clone().into_bytes());
            let target = match next() % 3 {
                0 => &mut bytes,
                1 => &mut topic_bytes,
                _ => &mut mac_text,
            };
            let at = (next() as usize) % target.len();
            match next() % 3 {
                0 => target[at] ^= 1 << (next() % 8),
                1 => target.truncate(at),
                _ => target.insert(at, next() as u8),
            }
            let topic = String::from_utf8_lossy(&topic_bytes);
            let mac = String::from_utf8_lossy(&mac_text);
            if key.verify_request(&topic, &bytes, &mac) {
                accepted += 1;
            }
        }
        assert_eq!(accepted, 0, "a changed request, topic or MAC never passes");
        assert!(key.verify_request(topic, payload, &mac));
    }
}
