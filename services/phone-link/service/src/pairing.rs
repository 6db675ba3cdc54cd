//! Pairing exchanges in progress: the car's side of SPAKE2 over two round trips, apart from
//! MQTT. `Start` runs SPAKE2 with the pending code (every start counts as a wrong code until the
//! phone proves the code); `Confirm` checks the phone's proof and pairs it. A message resent
//! within [`EXCHANGE_TTL`] gets the answer it got, for the same exchange id only.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use cabin_phone_protocol::{car_pake, ErrorKind, PairResult, PairStep, PairingKey, Response, Scopes};
use serde_json::json;

use crate::guard::TokenBucket;
use crate::phones::{PairError, Phones};

/// How long an exchange (and the answers kept for its resends) lives.
pub const EXCHANGE_TTL: Duration = Duration::from_secs(60);
/// Pairing messages the car reads per second, from everyone together, and in a burst.
const PAIRING_RATE_PER_S: f64 = 2.0;
const PAIRING_BURST: f64 = 10.0;

#[derive(Debug)]
struct Exchange {
    name: String,
    scopes: Scopes,
    /// The code the car ran SPAKE2 with: pairing uses it up, once.
    code: String,
    key: PairingKey,
    started: Instant,
    started_answer: Response,
    finished_answer: Option<Response>,
}

#[derive(Debug)]
pub struct Pairings {
    exchanges: HashMap<String, Exchange>,
    rate: TokenBucket,
}

impl Default for Pairings {
    fn default() -> Self {
        Pairings { exchanges: HashMap::new(), rate: TokenBucket::new(PAIRING_RATE_PER_S, PAIRING_BURST) }
    }
}

impl Pairings {
    /// The answer to one pairing message of exchange `pairing`.
    pub fn answer(&mut self, phones: &Phones, pairing: &str, step: &PairStep) -> Response {
        let id = Some(pairing.to_string());
        self.exchanges.retain(|_, exchange| exchange.started.elapsed() < EXCHANGE_TTL);
        let resent = self.exchanges.get(pairing).and_then(|exchange| match step {
            PairStep::Start { .. } => Some(exchange.started_answer.clone()),
            PairStep::Confirm { .. } => exchange.finished_answer.clone(),
        });
        if let Some(answer) = resent {
            return answer;
        }
        if !self.rate.take() {
            return Response::error(id, ErrorKind::RateLimited, format!("more than {PAIRING_RATE_PER_S} pairing messages per second"));
        }
        let refused = |error: PairError| Response::error(Some(pairing.to_string()), ErrorKind::PairingRefused, error.to_string());
        let unavailable = |error: crate::phones::PhonesError| {
            tracing::error!(%error, "cannot read the pairing state");
            Response::error(Some(pairing.to_string()), ErrorKind::Unavailable, "the car cannot pair right now")
        };
        match step {
            PairStep::Start { name, spake2 } => {
                // A message SPAKE2 cannot read is no guess: junk must not lock the owner out.
                if car_pake("000000", spake2).is_err() {
                    return Response::error(id, ErrorKind::BadRequest, "`spake2` is not a SPAKE2 message (hex)");
                }
                let attempt = match phones.attempt_pairing() {
                    Ok(Ok(attempt)) => attempt,
                    Ok(Err(error)) => return refused(error),
                    Err(error) => return unavailable(error),
                };
                let Ok((message, key)) = car_pake(&attempt.code, spake2) else {
                    return Response::error(id, ErrorKind::BadRequest, "`spake2` is not a SPAKE2 message (hex)");
                };
                let started_answer = Response::ok(id, json!({ "spake2": message }));
                let exchange = Exchange {
                    name: name.clone(),
                    scopes: attempt.scopes,
                    code: attempt.code,
                    key,
                    started: Instant::now(),
                    started_answer: started_answer.clone(),
                    finished_answer: None,
                };
                self.exchanges.insert(pairing.to_string(), exchange);
                started_answer
            }
            PairStep::Confirm { proof } => {
                let Some(exchange) = self.exchanges.get_mut(pairing) else {
                    return Response::error(id, ErrorKind::PairingRefused, "no such pairing exchange: start again");
                };
                if !exchange.key.verify_phone_proof(pairing, proof) {
                    self.exchanges.remove(pairing);
                    tracing::warn!("a pairing attempt with a wrong code");
                    return refused(PairError::WrongCode);
                }
                match phones.complete_pairing(&exchange.name, exchange.scopes.clone(), &exchange.key.request_key(), &exchange.code) {
                    Ok(Err(error)) => {
                        tracing::warn!(%error, "a pairing proved a code already used up");
                        self.exchanges.remove(pairing);
                        refused(error)
                    }
                    Ok(Ok(phone)) => {
                        tracing::info!(phone = %phone.name, scopes = ?phone.scopes, "paired");
                        let result = PairResult { phone: phone.id, scopes: phone.scopes, proof: exchange.key.car_proof(pairing) };
                        let answer = Response::ok(id, serde_json::to_value(result).unwrap_or_default());
                        exchange.finished_answer = Some(answer.clone());
                        answer
                    }
                    Err(error) => unavailable(error),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cabin_phone_protocol::{PhonePake, Scope};

    /// A phones folder with a pairing pending for `ask`: the folder (kept while it lives),
    /// the phones and the code shown.
    fn pending() -> (tempfile::TempDir, Phones, String) {
        let dir = tempfile::tempdir().unwrap();
        let phones = Phones::new(dir.path());
        let code = phones.start_pairing([Scope::Ask].into()).unwrap();
        (dir, phones, code)
    }

    /// The phone's side of exchange `pairing` with `code`: the key both sides derive when the
    /// car answered the start.
    fn exchange(pairings: &mut Pairings, phones: &Phones, pairing: &str, code: &str) -> PairingKey {
        let (pake, spake2) = PhonePake::start(code);
        let started = pairings.answer(phones, pairing, &PairStep::Start { name: "ana".into(), spake2 });
        pake.finish(started.result.as_ref().expect("the car answered the start")["spake2"].as_str().unwrap()).unwrap()
    }

    #[test]
    fn the_right_code_pairs_and_a_resend_gets_the_same_answer_for_its_own_exchange_only() {
        let (_dir, phones, code) = pending();
        let mut pairings = Pairings::default();
        let key = exchange(&mut pairings, &phones, "x1", &code);
        let confirm = PairStep::Confirm { proof: key.phone_proof("x1") };
        let paired = pairings.answer(&phones, "x1", &confirm);
        let result: PairResult = serde_json::from_value(paired.result.clone().unwrap()).unwrap();
        assert!(key.verify_car_proof("x1", &result.proof));
        assert_eq!(phones.find(&result.phone).unwrap().unwrap().key(), Some(key.request_key()));
        assert_eq!(pairings.answer(&phones, "x1", &confirm).result, paired.result, "a resend is answered the same");
        let other = pairings.answer(&phones, "x2", &confirm);
        assert_eq!(other.error.unwrap().kind, ErrorKind::PairingRefused, "another exchange id gets nothing");
    }

    #[test]
    fn one_code_pairs_one_phone_even_when_two_exchanges_started_with_it() {
        // An attacker who saw the code started an exchange and held it; the owner paired, and
        // 8 s later the attacker's proof paired a second phone with the owner's scopes.
        let (_dir, phones, code) = pending();
        let mut pairings = Pairings::default();
        let attacker = exchange(&mut pairings, &phones, "held", &code);
        let owner = exchange(&mut pairings, &phones, "owner", &code);
        assert!(pairings.answer(&phones, "owner", &PairStep::Confirm { proof: owner.phone_proof("owner") }).error.is_none());
        let late = pairings.answer(&phones, "held", &PairStep::Confirm { proof: attacker.phone_proof("held") });
        assert_eq!(late.error.unwrap().kind, ErrorKind::PairingRefused);
        assert_eq!(phones.list().unwrap().len(), 1, "only the owner's phone is paired");
    }

    #[test]
    fn a_wrong_code_fails_the_proof_and_counts() {
        let (_dir, phones, code) = pending();
        let wrong = if code == "000000" { "000001" } else { "000000" };
        let mut pairings = Pairings::default();
        let key = exchange(&mut pairings, &phones, "g1", wrong);
        let refused = pairings.answer(&phones, "g1", &PairStep::Confirm { proof: key.phone_proof("g1") });
        assert_eq!(refused.error.unwrap().message, "wrong pairing code");
        assert!(phones.list().unwrap().is_empty());
    }

    #[test]
    fn messages_spake2_cannot_read_are_no_guesses_and_lock_nothing() {
        let (_dir, phones, code) = pending();
        let mut pairings = Pairings::default();
        for n in 0..8 {
            let junk = PairStep::Start { name: "junk".into(), spake2: ["zz", "", "00ff"][n % 3].into() };
            assert_eq!(pairings.answer(&phones, &format!("junk{n}"), &junk).error.unwrap().kind, ErrorKind::BadRequest);
        }
        // The owner's code is still pending: the car answers its start.
        let key = exchange(&mut pairings, &phones, "owner", &code);
        assert!(pairings.answer(&phones, "owner", &PairStep::Confirm { proof: key.phone_proof("owner") }).error.is_none());
    }
}
