//! A phone's side of the Cabin phone link, for phone apps to embed: pair with a code shown in the
//! car (SPAKE2: the code never travels), then send signed requests and wait for their signed
//! answers; watch the car's status and events. Built on the protocol crate and rumqttc only.
//!
//! Anyone on the broker can publish on the car's topics, so nothing counts unless the car signed
//! it for this phone: an answer, a hand-off, an event, the status ([`Notice::is_from_car`]).
//! The exceptions say only that the car does not know the phone, or the car is offline.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cabin_phone_protocol::{
    notice_signed_for, random_hex, Backoff, Broker, ErrorKind, PairRequest, PairResult, PairStep, Paired, PhonePake, Request, RequestBody,
    RequestKey, Response, Topics, MAC_PROPERTY, VERSION,
};
use rumqttc::v5::mqttbytes::v5::{Packet, PublishProperties};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event};
use serde_json::Value as Json;
use thiserror::Error;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::Instant;

/// How long a request waits for the car's answer, in all.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// A request unanswered this long is sent again, unchanged: after a broker restart it may have
/// reached no subscriber. The car answers a request id only once and repeats that answer.
const RESEND_AFTER: Duration = Duration::from_millis(2500);

#[derive(Debug, Error)]
pub enum PhoneError {
    #[error("the car did not answer within {} s (is it online? `cabin phone watch` shows its status)", ANSWER_TIMEOUT.as_secs())]
    Timeout,
    #[error("cannot reach the broker: {0}")]
    Unreachable(String),
    #[error("the car refused: {kind:?}: {message}")]
    Refused { kind: ErrorKind, message: String },
    #[error("MQTT: {0}")]
    Mqtt(#[from] rumqttc::v5::ClientError),
    #[error("the car's answer is not a version {VERSION} response: {0}")]
    BadAnswer(String),
    #[error("pairing failed: the code was wrong or someone else answered")]
    PairingFailed,
}

/// A message on the car's status or events topic. Anyone on the broker can publish there: see
/// [`Notice::is_from_car`].
#[derive(Debug, Clone)]
pub struct Notice {
    pub topic: String,
    pub payload: Json,
    bytes: Vec<u8>,
    user_properties: Vec<(String, String)>,
}

impl Notice {
    /// Whether the car this phone paired with said it: signed for this phone, or the car's last
    /// will (`online: false`, fixed before later phones paired, so not signed; a stranger can
    /// send one too, which `SECURITY.md` lists as not covered).
    pub fn is_from_car(&self, paired: &Paired) -> bool {
        let signed =
            paired.request_key().is_some_and(|key| notice_signed_for(&self.user_properties, &paired.phone, &key, &self.topic, &self.bytes));
        signed || (self.topic.ends_with("/status") && self.payload["online"] == false)
    }
}

/// An answer as it arrived: the response, its bytes and the MAC it carried.
#[derive(Debug)]
struct Arrived {
    response: Response,
    payload: Vec<u8>,
    mac: Option<String>,
}

type Waiters = Arc<Mutex<HashMap<Vec<u8>, mpsc::UnboundedSender<Arrived>>>>;

/// The topics this client listens on, in the order they were subscribed, and which of them the
/// broker has acknowledged on the current connection (SubAcks come back in order).
#[derive(Debug, Default)]
struct Subscriptions {
    topics: Vec<String>,
    unacknowledged: std::collections::VecDeque<String>,
    acknowledged: std::collections::HashSet<String>,
    connected: bool,
}

#[derive(Debug, Clone)]
pub struct PhoneClient {
    client: AsyncClient,
    topics: Topics,
    waiters: Waiters,
    notices: broadcast::Sender<Notice>,
    /// A receiver made before the connection starts, for the first `notices()`: what the broker
    /// sends at once on connecting (the retained status, events kept in a session) would
    /// otherwise go out before anyone listens, and be lost.
    first_notices: Arc<Mutex<Option<broadcast::Receiver<Notice>>>>,
    subscriptions: Arc<Mutex<Subscriptions>>,
    /// Bumped on every SubAck: a request waits until its response topic is acknowledged, or it
    /// could be answered to nobody.
    acknowledgements: watch::Receiver<u64>,
    /// Why the last connection attempt failed (a refused TLS handshake, a dead broker), until
    /// one succeeds.
    connection_error: Arc<Mutex<Option<String>>>,
}

impl PhoneClient {
    /// Connects to the broker and listens for answers, status and events of `vehicle_id`.
    pub fn connect(broker: &Broker, vehicle_id: &str) -> PhoneClient {
        let client_id = format!("cabin-phone-{}", random_hex(6));
        PhoneClient::start(broker.mqtt_options(&client_id), vehicle_id)
    }

    /// Like `connect`, in a session the broker keeps for a week under `session` (one name per
    /// listener: a second connection with the same name would push the first off): events the
    /// car sends while this phone is offline wait at the broker and arrive when it is back.
    pub fn connect_persistent(broker: &Broker, vehicle_id: &str, session: &str) -> PhoneClient {
        let client_id = format!("cabin-phone-{session}");
        let mut options = broker.mqtt_options(&client_id);
        options.set_clean_start(false);
        options.set_session_expiry_interval(Some(7 * 24 * 3600));
        PhoneClient::start(options, vehicle_id)
    }

    fn start(options: rumqttc::v5::MqttOptions, vehicle_id: &str) -> PhoneClient {
        let topics = Topics::new(vehicle_id);
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let waiters: Waiters = Arc::default();
        let (notices, first_notices) = broadcast::channel(256);
        let (acknowledged_tx, acknowledgements) = watch::channel(0u64);
        let connection_error: Arc<Mutex<Option<String>>> = Arc::default();
        // Events before status: the retained status answers its subscription at once, and a
        // listener that stops at the first message has then already asked for events in its
        // kept session.
        let subscriptions =
            Arc::new(Mutex::new(Subscriptions { topics: vec![topics.events(), topics.status()], ..Subscriptions::default() }));
        let last_error = connection_error.clone();
        let phone = PhoneClient {
            client: client.clone(),
            topics: topics.clone(),
            waiters: waiters.clone(),
            notices: notices.clone(),
            first_notices: Arc::new(Mutex::new(Some(first_notices))),
            subscriptions: subscriptions.clone(),
            acknowledgements,
            connection_error,
        };
        tokio::spawn(async move {
            let mut backoff = Backoff::for_broker();
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        backoff.reset();
                        if let Ok(mut last) = last_error.lock() {
                            *last = None;
                        }
                        if let Ok(mut subscriptions) = subscriptions.lock() {
                            subscriptions.connected = true;
                            subscriptions.acknowledged.clear();
                            subscriptions.unacknowledged = subscriptions.topics.iter().cloned().collect();
                            for topic in &subscriptions.topics {
                                if let Err(error) = client.try_subscribe(topic.clone(), QoS::AtLeastOnce) {
                                    tracing::warn!(%error, "could not subscribe");
                                }
                            }
                        }
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        if let Ok(mut subscriptions) = subscriptions.lock() {
                            if let Some(topic) = subscriptions.unacknowledged.pop_front() {
                                subscriptions.acknowledged.insert(topic);
                            }
                        }
                        acknowledged_tx.send_modify(|count| *count += 1);
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        let topic = String::from_utf8_lossy(&publish.topic).to_string();
                        if topic.starts_with(&topics.responses("")) {
                            let properties = publish.properties.unwrap_or_default();
                            let correlation = properties.correlation_data.map(|c| c.to_vec()).unwrap_or_default();
                            let mac = properties.user_properties.into_iter().find(|(name, _)| name == MAC_PROPERTY).map(|(_, mac)| mac);
                            // Every answer goes to the request's waiter, which judges it: a
                            // stranger's may come first and must not take the car's place.
                            let waiter = waiters.lock().ok().and_then(|w| w.get(&correlation).cloned());
                            let response = serde_json::from_slice::<Response>(&publish.payload)
                                .unwrap_or_else(|e| Response::error(None, ErrorKind::BadRequest, format!("unreadable answer: {e}")));
                            match waiter {
                                Some(waiter) => {
                                    let _ = waiter.send(Arrived { response, payload: publish.payload.to_vec(), mac });
                                }
                                None => tracing::debug!("an answer nobody waits for (a duplicate)"),
                            }
                        } else if let Ok(payload) = serde_json::from_slice(&publish.payload) {
                            let user_properties = publish.properties.map(|p| p.user_properties).unwrap_or_default();
                            let _ = notices.send(Notice { topic, payload, bytes: publish.payload.to_vec(), user_properties });
                        }
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::debug!(%error, "broker unreachable; retrying");
                        if let Ok(mut last) = last_error.lock() {
                            *last = Some(error.to_string());
                        }
                        if let Ok(mut subscriptions) = subscriptions.lock() {
                            subscriptions.connected = false;
                        }
                        tokio::time::sleep(backoff.next_wait()).await;
                    }
                }
            }
        });
        phone
    }

    /// Subscribes to `topic` (and again after every reconnection); returns once the broker has
    /// acknowledged it, or says why it could not.
    async fn listen(&self, topic: &str) -> Result<(), PhoneError> {
        if let Ok(mut subscriptions) = self.subscriptions.lock() {
            if !subscriptions.topics.iter().any(|t| t == topic) {
                subscriptions.topics.push(topic.to_string());
                if subscriptions.connected {
                    subscriptions.unacknowledged.push_back(topic.to_string());
                    self.client.try_subscribe(topic, QoS::AtLeastOnce)?;
                }
            }
        }
        let acknowledged = || self.subscriptions.lock().is_ok_and(|s| s.acknowledged.contains(topic));
        let mut acknowledgements = self.acknowledgements.clone();
        let waited = tokio::time::timeout(ANSWER_TIMEOUT, async {
            while !acknowledged() {
                if acknowledgements.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
        if waited.is_err() || !acknowledged() {
            let reason = self.connection_error.lock().ok().and_then(|last| last.clone());
            return Err(reason.map(PhoneError::Unreachable).unwrap_or(PhoneError::Timeout));
        }
        Ok(())
    }

    /// Status (online/offline, retained) and events from the car: the first call hears all
    /// since the client started, later ones what comes after the call.
    pub fn notices(&self) -> broadcast::Receiver<Notice> {
        self.first_notices.lock().ok().and_then(|mut first| first.take()).unwrap_or_else(|| self.notices.subscribe())
    }

    /// Pairs with the code the car shows: SPAKE2 with the car, each side proving it holds the
    /// same key; the car answers with this phone's id and scopes.
    pub async fn pair(&self, code: &str, name: &str) -> Result<Paired, PhoneError> {
        let pairing = random_hex(8);
        let response_topic = self.topics.pairing_responses(&pairing);
        self.listen(&response_topic).await?;
        let (pake, spake2) = PhonePake::start(code);
        let start = PairRequest { v: VERSION, pairing: pairing.clone(), step: PairStep::Start { name: name.into(), spake2 } };
        let started = self.exchange(&self.topics.pairing(), &response_topic, serde_json::to_vec(&start).unwrap_or_default(), None).await?;
        let car_message = started.get("spake2").and_then(Json::as_str).ok_or_else(|| PhoneError::BadAnswer("no `spake2`".into()))?;
        let key = pake.finish(car_message).map_err(|_| PhoneError::PairingFailed)?;
        let confirm = PairRequest { v: VERSION, pairing: pairing.clone(), step: PairStep::Confirm { proof: key.phone_proof(&pairing) } };
        let finished =
            self.exchange(&self.topics.pairing(), &response_topic, serde_json::to_vec(&confirm).unwrap_or_default(), None).await?;
        let result: PairResult = serde_json::from_value(finished).map_err(|e| PhoneError::BadAnswer(e.to_string()))?;
        if !key.verify_car_proof(&pairing, &result.proof) {
            return Err(PhoneError::PairingFailed);
        }
        Ok(Paired { phone: result.phone, key: key.request_key().to_hex(), scopes: result.scopes })
    }

    /// One signed request; the car's `result` on success.
    pub async fn request(&self, paired: &Paired, body: RequestBody) -> Result<Json, PhoneError> {
        let request = Request::new(paired, body);
        self.send(paired, &request).await
    }

    /// Sends a request exactly as given (the same id and nonce twice is a redelivery or a replay).
    pub async fn send(&self, paired: &Paired, request: &Request) -> Result<Json, PhoneError> {
        self.send_raw(paired, serde_json::to_vec(request).unwrap_or_default()).await
    }

    /// Signs any payload with this phone's key, publishes it on the requests topic and waits for
    /// the answer (for testing the car).
    pub async fn send_raw(&self, paired: &Paired, payload: Vec<u8>) -> Result<Json, PhoneError> {
        let key = paired.request_key().ok_or_else(|| PhoneError::BadAnswer("the pairing file holds no valid key".into()))?;
        let response_topic = self.topics.responses(&paired.phone);
        self.listen(&response_topic).await?;
        self.exchange(&self.topics.requests(), &response_topic, payload, Some(&key)).await
    }

    /// Publishes `payload` with `response_topic` (signed with `key` when given) and waits for the
    /// answer; with a key, only the car's answer to this request, signed, counts (below).
    async fn exchange(&self, topic: &str, response_topic: &str, payload: Vec<u8>, key: Option<&RequestKey>) -> Result<Json, PhoneError> {
        let correlation = random_hex(8).into_bytes();
        let (sender, mut answers) = mpsc::unbounded_channel();
        let _waiting = Waiting::on(&self.waiters, correlation.clone(), sender);
        let signature = key.map(|key| (MAC_PROPERTY.to_string(), key.sign_request(response_topic, &payload)));
        let properties = PublishProperties {
            response_topic: Some(response_topic.to_string()),
            correlation_data: Some(correlation.into()),
            user_properties: signature.into_iter().collect(),
            ..Default::default()
        };
        // A signed answer is the car's to this request only if it names the request's id: an old
        // answer of the car's, sent again with this request's correlation data, is not.
        let request_id = serde_json::from_slice::<Json>(&payload).ok().and_then(|request| request["id"].as_str().map(str::to_owned));
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        let mut resend_at = Instant::now();
        // What the car says before it knows the phone or can read the request is not signed,
        // and anyone could say it: it counts only if nothing signed comes before the deadline.
        let mut unsigned: Option<ErrorKind> = None;
        let response = loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(unsigned.map(unsigned_refusal).unwrap_or(PhoneError::Timeout));
            }
            if now >= resend_at {
                self.client.publish_with_properties(topic, QoS::AtLeastOnce, false, payload.clone(), properties.clone()).await?;
                resend_at = now + RESEND_AFTER;
            }
            let Ok(arrived) = tokio::time::timeout_at(deadline.min(resend_at), answers.recv()).await else { continue };
            let Some(Arrived { response, payload, mac }) = arrived else { return Err(PhoneError::Timeout) };
            let Some(key) = key else { break response };
            let id = request_id.as_deref().unwrap_or_default();
            let signed = response.id.as_deref() == Some(id) && mac.as_deref().is_some_and(|mac| key.verify_response(id, &payload, mac));
            match response.error.as_ref().map(|e| e.kind) {
                _ if signed => break response,
                Some(kind @ (ErrorKind::Unauthorized | ErrorKind::BadRequest | ErrorKind::UnsupportedVersion)) => {
                    unsigned.get_or_insert(kind);
                }
                _ => tracing::warn!(id = ?response.id, "an answer the car did not sign for this request: ignored"),
            }
        };
        match (response.result, response.error) {
            (_, Some(error)) => Err(PhoneError::Refused { kind: error.kind, message: error.message }),
            (Some(result), None) => Ok(result),
            (None, None) => Err(PhoneError::BadAnswer("neither result nor error".into())),
        }
    }
}

/// An unsigned refusal, in words of our own: its sender, whoever it was, chose the message.
fn unsigned_refusal(kind: ErrorKind) -> PhoneError {
    let message = match kind {
        ErrorKind::Unauthorized => "the car does not know this phone (was it revoked?)",
        ErrorKind::UnsupportedVersion => "the car speaks another version of the protocol",
        _ => "the car could not read the request",
    };
    PhoneError::Refused { kind, message: format!("{message}; the answer was not signed") }
}

/// A request's place among the waiters, given up however the wait ends (a caller may drop it).
struct Waiting<'a> {
    waiters: &'a Waiters,
    correlation: Vec<u8>,
}

impl<'a> Waiting<'a> {
    fn on(waiters: &'a Waiters, correlation: Vec<u8>, sender: mpsc::UnboundedSender<Arrived>) -> Waiting<'a> {
        if let Ok(mut waiting) = waiters.lock() {
            waiting.insert(correlation.clone(), sender);
        }
        Waiting { waiters, correlation }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Ok(mut waiting) = self.waiters.lock() {
            waiting.remove(&self.correlation);
        }
    }
}
