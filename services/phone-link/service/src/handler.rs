//! One request in, one response out: parse, authenticate, guard, authorise, then act through
//! the vehicle bus, the assistant or the vision service. Every failure is an error reply.

use std::sync::Mutex;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use cabin_assistant_client::AssistantProxy;
use cabin_language::Language;
use cabin_phone_protocol::{
    now_s, ErrorKind, HandOffTask, PairRequest, Request, RequestBody, RequestKey, Response, Scope, Topics, MAX_REQUEST_BYTES, VERSION,
};
use cabin_vehicle_bus_client::{ClientError, HeadUnitNavigationProxy, VehicleBusClient};
use cabin_vehicle_config::Value;
use cabin_vision_client::{VisionError, VisionProxy};
use serde_json::{json, Value as Json};

use crate::guard::Guard;
use crate::handoffs::{HandOffError, HandOffs};
use crate::pairing::Pairings;
use crate::phones::{AuthError, Phone, Phones, PhonesError};

/// The longest destination or note a phone may send: a sentence, not a letter.
const MAX_SENT_CHARS: usize = 280;
/// How long a redelivered request waits for the first delivery's answer.
const IN_PROGRESS_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Debug)]
pub struct Handler {
    pub vehicle_id: String,
    topics: Topics,
    pub phones: Phones,
    pub vehicle: VehicleBusClient,
    guard: Mutex<Guard>,
    pairings: Mutex<Pairings>,
    /// Every answered request, for whoever shows them (the `cabin up` console).
    answered: tokio::sync::broadcast::Sender<Answered>,
    pub handoffs: HandOffs,
}

/// An answer, and the key to sign it with once the phone is known to hold it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub response: Response,
    pub key: Option<RequestKey>,
}

impl Reply {
    fn unsigned(response: Response) -> Reply {
        Reply { response, key: None }
    }
}

/// A request the car acted on, and its answer.
#[derive(Debug, Clone)]
pub struct Answered {
    pub phone: String,
    pub request: RequestBody,
    pub response: Response,
}

fn refusal(error: ClientError) -> Response {
    // Only the vehicle bus's own verdicts are refusals; a bus that is away or overloaded is not.
    let kind = match error {
        ClientError::Refused { .. } => ErrorKind::Refused,
        _ => ErrorKind::Unavailable,
    };
    Response::error(None, kind, error.to_string())
}

fn unavailable_or_failed(what: &str, error: zbus::Error) -> Response {
    let kind = match &error {
        zbus::Error::MethodError(name, _, _) if name.as_str().starts_with("org.freedesktop.DBus.Error.") => ErrorKind::Unavailable,
        _ => ErrorKind::Refused,
    };
    // The service's own words for the phone's owner, without the D-Bus error's name.
    let reason = match &error {
        zbus::Error::MethodError(_, Some(message), _) => message.clone(),
        other => other.to_string(),
    };
    Response::error(None, kind, format!("{what}: {reason}"))
}

fn camera_failed(error: VisionError) -> Response {
    let kind = match error {
        VisionError::ZBus(error) => return unavailable_or_failed("the camera", error),
        VisionError::CameraUnavailable(_) => ErrorKind::Unavailable,
        // The phone asked about something the camera cannot look for, or a seat it cannot see.
        VisionError::UnknownObject(_) | VisionError::UnknownRegion(_) => ErrorKind::BadRequest,
        VisionError::BadFrame(_) | VisionError::NotAllowed(_) | VisionError::Failed(_) => ErrorKind::Refused,
    };
    Response::error(None, kind, format!("the camera: {}", zbus::DBusError::description(&error).unwrap_or("failed")))
}

impl Handler {
    pub fn new(vehicle_id: String, phones: Phones, vehicle: VehicleBusClient) -> Handler {
        Handler {
            topics: Topics::new(&vehicle_id),
            guard: Mutex::new(Guard::keeping_nonces_in(phones.dir(), now_s())),
            vehicle_id,
            phones,
            vehicle,
            pairings: Mutex::new(Pairings::default()),
            answered: tokio::sync::broadcast::channel(64).0,
            handoffs: HandOffs::default(),
        }
    }

    /// Sends `task` to the paired phones; returns the hand-off's id.
    pub async fn hand_off(&self, task: HandOffTask) -> Result<String, HandOffError> {
        self.handoffs.offer(&self.phones, &self.topics, task).await
    }

    /// The requests answered from now on.
    pub fn answered(&self) -> tokio::sync::broadcast::Receiver<Answered> {
        self.answered.subscribe()
    }

    /// The answer to a request that arrived with `response_topic` and the MAC `mac` (the MQTT 5
    /// user property [`MAC_PROPERTY`](cabin_phone_protocol::MAC_PROPERTY)); `None` when it must
    /// not be answered: a response topic that is not a phone's own.
    pub async fn request(&self, payload: &[u8], response_topic: &str, mac: Option<&str>) -> Option<Reply> {
        let request = match Request::decode(payload) {
            Ok(request) => request,
            Err(reply) => return self.to_a_phone(response_topic).then(|| Reply::unsigned(reply)),
        };
        let id = Some(request.id.clone());
        // The paired phones are a file, read under a lock: on a blocking thread.
        let (phones, phone_id) = (self.phones.clone(), request.phone.clone());
        let found =
            tokio::task::spawn_blocking(move || phones.find(&phone_id)).await.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        let phone = match self.authenticate(found, response_topic, payload, mac) {
            Ok(phone) => phone,
            Err(AuthError::NotItsTopic(topic)) => {
                tracing::warn!(topic = %response_topic, expected = %topic, "a request naming another response topic: not answered");
                return None;
            }
            Err(error) => {
                tracing::warn!(%error, phone = %request.phone, "unauthenticated request");
                return self
                    .to_a_phone(response_topic)
                    .then(|| Reply::unsigned(Response::error(id, ErrorKind::Unauthorized, error.to_string())));
            }
        };
        let key = phone.key();
        let response = self.authenticated(request, phone).await;
        Some(Reply { response, key })
    }

    /// Whether a topic is one where a phone waits for answers (an error before authentication
    /// goes only there, never to a topic of someone else's choosing).
    fn to_a_phone(&self, response_topic: &str) -> bool {
        response_topic.strip_prefix(&self.topics.responses("")).is_some_and(|phone| !phone.is_empty() && !phone.contains(['/', '+', '#']))
    }

    /// The phone a request comes from, if it names its own response topic and carries its MAC.
    /// `found` is the phone the request names, as the paired phones file has it.
    fn authenticate(
        &self,
        found: Result<Result<Phone, AuthError>, PhonesError>,
        response_topic: &str,
        payload: &[u8],
        mac: Option<&str>,
    ) -> Result<Phone, AuthError> {
        let phone = match found {
            Ok(found) => found?,
            Err(error) => {
                tracing::error!(%error, "cannot read the paired phones");
                return Err(AuthError::UnknownPhone);
            }
        };
        let own = self.topics.responses(&phone.id);
        if response_topic != own {
            return Err(AuthError::NotItsTopic(own));
        }
        let key = phone.key().ok_or(AuthError::WrongMac)?;
        if !mac.is_some_and(|mac| key.verify_request(response_topic, payload, mac)) {
            return Err(AuthError::WrongMac);
        }
        Ok(phone)
    }

    async fn authenticated(&self, request: Request, phone: Phone) -> Response {
        let id = Some(request.id.clone());
        if let Some(answer) = self.guard.lock().map(|g| g.answered(&phone.id, &request.id)).unwrap_or_default() {
            tracing::debug!(phone = %phone.name, id = %request.id, "redelivered request answered again");
            return answer;
        }
        if let Some(scope) = request.body.scope().filter(|s| !phone.scopes.contains(s)) {
            return Response::error(
                id,
                ErrorKind::Forbidden,
                format!("this phone may not {} (scope `{}` not granted)", request.body.kind(), scope.name()),
            );
        }
        // Admission and "being acted on" under one lock: a redelivery of a slow request (the
        // phone resends after 2.5 s) must neither run twice nor be refused as a replay.
        let admitted = self.guard.lock().map_err(|_| (ErrorKind::Unavailable, "guard poisoned".to_string())).and_then(|mut g| {
            if g.in_progress(&phone.id, &request.id) {
                return Ok(false);
            }
            g.admit(&phone.id, &request.nonce, request.ts, now_s())?;
            g.begin(&phone.id, &request.id);
            Ok(true)
        });
        match admitted {
            Err((kind, message)) => return Response::error(id, kind, message),
            Ok(false) => return self.answer_when_done(&phone.id, &request.id, id).await,
            Ok(true) => {}
        }
        tracing::info!(phone = %phone.name, kind = request.body.kind(), "request");
        let mut response = self.act(&request.body, &phone).await;
        response.id = id;
        if let Ok(mut guard) = self.guard.lock() {
            guard.remember(&phone.id, &request.id, &response);
        }
        let _ = self.answered.send(Answered { phone: phone.name.clone(), request: request.body, response: response.clone() });
        response
    }

    /// The answer to a request another delivery is acting on, once it is there.
    async fn answer_when_done(&self, phone: &str, request: &str, id: Option<String>) -> Response {
        let deadline = tokio::time::Instant::now() + IN_PROGRESS_WAIT;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            if let Some(answer) = self.guard.lock().ok().and_then(|g| g.answered(phone, request)) {
                return answer;
            }
        }
        Response::error(id, ErrorKind::Unavailable, "the first delivery of this request is still being acted on")
    }

    async fn act(&self, body: &RequestBody, phone: &Phone) -> Response {
        match body {
            RequestBody::Ping => Response::ok(None, json!({ "pong": true, "vehicle": self.vehicle_id, "time": now_s() })),
            RequestBody::SignalsGet { path } => match self.vehicle.get(path).await {
                Ok(reading) => Response::ok(None, json!({ "path": path, "value": reading.value, "timestamp_us": reading.timestamp_us })),
                Err(e) => refusal(e),
            },
            RequestBody::SignalsSet { path, value } => {
                let value = match value {
                    Json::Bool(b) => Value::Bool(*b),
                    Json::Number(n) => n.as_i64().map(Value::Int).or(n.as_f64().map(Value::Float)).unwrap_or(Value::Float(0.0)),
                    Json::String(s) => Value::String(s.clone()),
                    other => {
                        return Response::error(
                            None,
                            ErrorKind::BadRequest,
                            format!("`value` must be a boolean, number or string, not {other}"),
                        )
                    }
                };
                match self.vehicle.set(path, &value).await {
                    Ok(accepted) => Response::ok(None, json!({ "path": path, "accepted": accepted })),
                    Err(e) => refusal(e),
                }
            }
            RequestBody::Ask { text } => {
                // The assistant acts for this phone within its scopes, and on the vehicle bus
                // with this link's rights, not its own.
                let scopes: Vec<&str> = phone.scopes.iter().map(|scope| scope.name()).collect();
                let reply = async { AssistantProxy::new(self.vehicle.connection()).await?.converse_in(&phone.id, text, &scopes).await };
                match reply.await {
                    Ok((reply, turn)) => {
                        Response::ok(None, json!({ "reply": reply, "turn": serde_json::from_str::<Json>(&turn).unwrap_or(Json::Null) }))
                    }
                    Err(e) => unavailable_or_failed("the assistant", e),
                }
            }
            RequestBody::VisionFind { object, region } => match self.vision().await {
                Ok(vision) => match vision.find(object, region.as_deref().unwrap_or("")).await {
                    Ok((found, confidence, region, labels, frame_time_us)) => Response::ok(
                        None,
                        json!({ "found": found, "confidence": confidence, "region": region, "labels": labels, "frame_time_us": frame_time_us }),
                    ),
                    Err(e) => camera_failed(e),
                },
                Err(e) => unavailable_or_failed("the camera", e),
            },
            RequestBody::HandOffAnswer { handoff, outcome, detail } => {
                // The car says `detail` aloud: a phone that may not send a note may not word it
                // (a read-only phone had it say "the brakes have failed" forty times).
                if detail.chars().count() > MAX_SENT_CHARS {
                    return Response::error(None, ErrorKind::BadRequest, format!("`detail` must be at most {MAX_SENT_CHARS} characters"));
                }
                let detail = if phone.scopes.contains(&Scope::Ask) { detail.as_str() } else { "" };
                match self.handoffs.answer(&phone.name, handoff, *outcome, detail) {
                    Ok(answered) => Response::ok(None, json!({ "noted": true, "car_says": answered.words })),
                    Err(error) => Response::error(None, ErrorKind::BadRequest, error.to_string()),
                }
            }
            RequestBody::SendDestination { destination } => {
                let destination = destination.trim();
                if destination.is_empty() || destination.chars().count() > MAX_SENT_CHARS {
                    return Response::error(None, ErrorKind::BadRequest, format!("`destination` must be 1 to {MAX_SENT_CHARS} characters"));
                }
                let set = async { HeadUnitNavigationProxy::new(self.vehicle.connection()).await?.set_destination(destination).await };
                match set.await {
                    Ok(()) => {
                        let says = match Language::of(destination) {
                            Language::English => format!("{} sent a destination: {destination}.", phone.name),
                            Language::Chinese => format!("{}发来了目的地：{destination}。", phone.name),
                        };
                        Response::ok(None, json!({ "destination": destination, "car_says": says }))
                    }
                    Err(e) => unavailable_or_failed("the navigation", e),
                }
            }
            RequestBody::SendNote { text } => {
                let text = text.trim();
                if text.is_empty() || text.chars().count() > MAX_SENT_CHARS {
                    return Response::error(None, ErrorKind::BadRequest, format!("`text` must be 1 to {MAX_SENT_CHARS} characters"));
                }
                let says = match Language::of(text) {
                    Language::English => format!("A note from {}: {text}", phone.name),
                    Language::Chinese => format!("{}发来一条留言：{text}", phone.name),
                };
                Response::ok(None, json!({ "noted": true, "car_says": says }))
            }
            RequestBody::VisionSnapshot { region } => match self.vision().await {
                Ok(vision) => match vision.snapshot(region.as_deref().unwrap_or("")).await {
                    Ok(jpeg) => Response::ok(None, json!({ "jpeg_base64": BASE64.encode(&jpeg), "bytes": jpeg.len() })),
                    // Refused when the owner's policy keeps frames in the car.
                    Err(e) => camera_failed(e),
                },
                Err(e) => unavailable_or_failed("the camera", e),
            },
        }
    }

    async fn vision(&self) -> zbus::Result<VisionProxy<'_>> {
        VisionProxy::new(self.vehicle.connection()).await
    }

    /// The answer to a pairing message, on the response topic of its exchange only.
    pub fn pair(&self, payload: &[u8], response_topic: &str) -> Option<Reply> {
        let to_a_pairing = response_topic
            .strip_prefix(&self.topics.pairing_responses(""))
            .is_some_and(|id| !id.is_empty() && !id.contains(['/', '+', '#']));
        if !to_a_pairing {
            tracing::warn!(topic = %response_topic, "a pairing message naming another response topic: not answered");
            return None;
        }
        if payload.len() > MAX_REQUEST_BYTES {
            let message = format!("the pairing request is {} bytes; at most {MAX_REQUEST_BYTES} are read", payload.len());
            return Some(Reply::unsigned(Response::error(None, ErrorKind::BadRequest, message)));
        }
        let request = match serde_json::from_slice::<PairRequest>(payload) {
            Ok(request) if request.v == VERSION => request,
            Ok(request) => {
                let message = format!("this car speaks version {VERSION}, not {}", request.v);
                return Some(Reply::unsigned(Response::error(Some(request.pairing), ErrorKind::UnsupportedVersion, message)));
            }
            Err(e) => return Some(Reply::unsigned(Response::error(None, ErrorKind::BadRequest, format!("not a pairing request: {e}")))),
        };
        if response_topic != self.topics.pairing_responses(&request.pairing) {
            tracing::warn!(topic = %response_topic, "a pairing message naming another exchange's topic: not answered");
            return None;
        }
        let mut pairings = self.pairings.lock().ok()?;
        Some(Reply::unsigned(pairings.answer(&self.phones, &request.pairing, &request.step)))
    }
}
