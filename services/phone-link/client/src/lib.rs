//! A phone's side of the Cabin phone link, for phone apps to embed: pair with a code shown in the
//! car, then send authenticated requests and wait for their answers; watch the car's status and
//! events. Built on the protocol crate and rumqttc only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cabin_phone_protocol::{random_hex, Broker, ErrorKind, PairRequest, Paired, Request, RequestBody, Response, Topics, VERSION};
use rumqttc::v5::mqttbytes::v5::{Packet, PublishProperties};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event};
use serde_json::Value as Json;
use thiserror::Error;
use tokio::sync::{broadcast, oneshot, watch};

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
}

/// A message on the car's status or events topic.
#[derive(Debug, Clone)]
pub struct Notice {
    pub topic: String,
    pub payload: Json,
}

type Waiters = Arc<Mutex<HashMap<Vec<u8>, oneshot::Sender<Response>>>>;

#[derive(Debug, Clone)]
pub struct PhoneClient {
    client: AsyncClient,
    topics: Topics,
    response_topic: String,
    waiters: Waiters,
    notices: broadcast::Sender<Notice>,
    /// True once the broker has acknowledged the subscription to our response topic: a request
    /// sent earlier could be answered to nobody.
    listening: watch::Receiver<bool>,
    /// Why the last connection attempt failed (a refused TLS handshake, a dead broker), until
    /// one succeeds.
    connection_error: Arc<Mutex<Option<String>>>,
}

impl PhoneClient {
    /// Connects to the broker and listens for answers, status and events of `vehicle_id`.
    pub fn connect(broker: &Broker, vehicle_id: &str) -> PhoneClient {
        let client_id = format!("cabin-phone-{}", random_hex(6));
        PhoneClient::start(broker.mqtt_options(&client_id), &client_id, vehicle_id)
    }

    /// Like `connect`, in a session the broker keeps for a week under `session` (one name per
    /// listener: a second connection with the same name would push the first off): events the
    /// car sends while this phone is offline wait at the broker and arrive when it is back.
    pub fn connect_persistent(broker: &Broker, vehicle_id: &str, session: &str) -> PhoneClient {
        let client_id = format!("cabin-phone-{session}");
        let mut options = broker.mqtt_options(&client_id);
        options.set_clean_start(false);
        options.set_session_expiry_interval(Some(7 * 24 * 3600));
        PhoneClient::start(options, &client_id, vehicle_id)
    }

    fn start(options: rumqttc::v5::MqttOptions, client_id: &str, vehicle_id: &str) -> PhoneClient {
        let topics = Topics::new(vehicle_id);
        let response_topic = topics.responses(client_id);
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let waiters: Waiters = Arc::default();
        let (notices, _) = broadcast::channel(256);
        let (listening_tx, listening) = watch::channel(false);
        let connection_error: Arc<Mutex<Option<String>>> = Arc::default();
        let last_error = connection_error.clone();
        let phone = PhoneClient {
            client: client.clone(),
            topics: topics.clone(),
            response_topic: response_topic.clone(),
            waiters: waiters.clone(),
            notices: notices.clone(),
            listening,
            connection_error,
        };
        tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        listening_tx.send_replace(false);
                        if let Ok(mut last) = last_error.lock() {
                            *last = None;
                        }
                        let client = client.clone();
                        // Events before status: the retained status answers its subscription at
                        // once, and a listener that stops at the first message has then already
                        // asked for events in its kept session.
                        let subscriptions = [response_topic.clone(), topics.events(), topics.status()];
                        tokio::spawn(async move {
                            for topic in subscriptions {
                                if let Err(error) = client.subscribe(topic, QoS::AtLeastOnce).await {
                                    tracing::warn!(%error, "could not subscribe");
                                }
                            }
                        });
                    }
                    // The response topic is subscribed first, so the first SubAck is its.
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        listening_tx.send_replace(true);
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        let topic = String::from_utf8_lossy(&publish.topic).to_string();
                        if topic == response_topic {
                            let correlation = publish.properties.and_then(|p| p.correlation_data).map(|c| c.to_vec()).unwrap_or_default();
                            let waiter = waiters.lock().ok().and_then(|mut w| w.remove(&correlation));
                            match (waiter, serde_json::from_slice::<Response>(&publish.payload)) {
                                (Some(waiter), Ok(response)) => {
                                    let _ = waiter.send(response);
                                }
                                (Some(waiter), Err(e)) => {
                                    let _ = waiter.send(Response::error(None, ErrorKind::BadRequest, format!("unreadable answer: {e}")));
                                }
                                (None, _) => tracing::debug!("an answer nobody waits for (a duplicate)"),
                            }
                        } else if let Ok(payload) = serde_json::from_slice(&publish.payload) {
                            let _ = notices.send(Notice { topic, payload });
                        }
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::debug!(%error, "broker unreachable; retrying");
                        if let Ok(mut last) = last_error.lock() {
                            *last = Some(error.to_string());
                        }
                        tokio::time::sleep(Duration::from_millis(300)).await;
                    }
                }
            }
        });
        phone
    }

    /// Status (online/offline, retained) and events from the car.
    pub fn notices(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }

    /// Proves a pairing code; the car answers with this phone's id, token and scopes.
    pub async fn pair(&self, code: &str, name: &str) -> Result<Paired, PhoneError> {
        let payload = serde_json::to_vec(&PairRequest { v: VERSION, code: code.into(), name: name.into() }).unwrap_or_default();
        let result = self.exchange(&self.topics.pairing(), payload).await?;
        serde_json::from_value(result).map_err(|e| PhoneError::BadAnswer(e.to_string()))
    }

    /// One authenticated request; the car's `result` on success.
    pub async fn request(&self, paired: &Paired, body: RequestBody) -> Result<Json, PhoneError> {
        let request = Request::new(paired, body);
        self.send(&request).await
    }

    /// Sends a request exactly as given (the same id and nonce twice is a redelivery or a replay).
    pub async fn send(&self, request: &Request) -> Result<Json, PhoneError> {
        self.exchange(&self.topics.requests(), serde_json::to_vec(request).unwrap_or_default()).await
    }

    /// Publishes any payload on the requests topic and waits for the answer (for testing the car).
    pub async fn send_raw(&self, payload: Vec<u8>) -> Result<Json, PhoneError> {
        self.exchange(&self.topics.requests(), payload).await
    }

    async fn exchange(&self, topic: &str, payload: Vec<u8>) -> Result<Json, PhoneError> {
        let correlation = random_hex(8).into_bytes();
        let (sender, answer) = oneshot::channel();
        if let Ok(mut waiters) = self.waiters.lock() {
            waiters.insert(correlation.clone(), sender);
        }
        let properties = PublishProperties {
            response_topic: Some(self.response_topic.clone()),
            correlation_data: Some(correlation.clone().into()),
            ..Default::default()
        };
        let deadline = tokio::time::Instant::now() + ANSWER_TIMEOUT;
        let mut listening = self.listening.clone();
        if tokio::time::timeout(ANSWER_TIMEOUT, listening.wait_for(|ready| *ready)).await.is_err() {
            if let Ok(mut waiters) = self.waiters.lock() {
                waiters.remove(&correlation);
            }
            let reason = self.connection_error.lock().ok().and_then(|last| last.clone());
            return Err(reason.map(PhoneError::Unreachable).unwrap_or(PhoneError::Timeout));
        }
        let mut answer = answer;
        let response = loop {
            self.client.publish_with_properties(topic, QoS::AtLeastOnce, false, payload.clone(), properties.clone()).await?;
            let wait = RESEND_AFTER.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
            match tokio::time::timeout(wait, &mut answer).await {
                Ok(Ok(response)) => break response,
                _ if tokio::time::Instant::now() < deadline => continue,
                _ => {
                    if let Ok(mut waiters) = self.waiters.lock() {
                        waiters.remove(&correlation);
                    }
                    return Err(PhoneError::Timeout);
                }
            }
        };
        match (response.result, response.error) {
            (_, Some(error)) => Err(PhoneError::Refused { kind: error.kind, message: error.message }),
            (Some(result), None) => Ok(result),
            (None, None) => Err(PhoneError::BadAnswer("neither result nor error".into())),
        }
    }
}
