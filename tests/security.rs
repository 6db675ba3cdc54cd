//! The attacks of `SECURITY.md`, each as a scenario against real processes: a real `mosquitto`,
//! a private dbus-daemon (with Cabin's own D-Bus policy where the policy is the defence), the
//! vehicle bus, the assistant and the phone link as `cabin` processes. The attacker is a raw
//! MQTT client that can publish and subscribe anything on the broker (the embedded broker and a
//! broker without ACLs allow exactly that), a paired phone with few scopes, or another local user.

mod support;

use std::time::Duration;

use cabin_phone_client::{PhoneClient, PhoneError};
use cabin_phone_protocol::{ErrorKind, Paired, Request, RequestBody, Response, Topics, MAC_PROPERTY};
use rumqttc::v5::mqttbytes::v5::{Packet, PublishProperties};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use serde_json::json;
use support::*;

const DRIVER_LOCK: &str = "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked";
const TRUNK_OPEN: &str = "Vehicle.Body.Trunk.Rear.IsOpen";
const TRUNK_LOCK: &str = "Vehicle.Body.Trunk.Rear.IsLocked";
const PASSENGER_WINDOW: &str = "Vehicle.Cabin.Door.Row1.PassengerSide.Window.Position";

/// One message as the attacker saw it on the broker.
#[derive(Debug, Clone)]
struct Seen {
    topic: String,
    payload: Vec<u8>,
    properties: PublishProperties,
}

/// A stranger on the broker: subscribes to everything of the car and publishes what it likes.
struct Stranger {
    client: AsyncClient,
    seen: tokio::sync::mpsc::UnboundedReceiver<Seen>,
    log: Vec<Seen>,
}

impl Stranger {
    async fn on(broker: &Mosquitto) -> Stranger {
        let mut options = MqttOptions::new(format!("stranger-{}", cabin_phone_protocol::random_hex(4)), "127.0.0.1", broker.port);
        options.set_max_packet_size(Some(1 << 20));
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let (tx, seen) = tokio::sync::mpsc::unbounded_channel();
        let (subscribed_tx, subscribed) = tokio::sync::oneshot::channel();
        let mut subscribed_tx = Some(subscribed_tx);
        client.subscribe(format!("cabin/v1/{VEHICLE}/#"), QoS::AtLeastOnce).await.unwrap();
        tokio::spawn(async move {
            while let Ok(event) = eventloop.poll().await {
                match event {
                    Event::Incoming(Packet::SubAck(_)) => {
                        if let Some(done) = subscribed_tx.take() {
                            let _ = done.send(());
                        }
                    }
                    Event::Incoming(Packet::Publish(p)) => {
                        let seen = Seen {
                            topic: String::from_utf8_lossy(&p.topic).into_owned(),
                            payload: p.payload.to_vec(),
                            properties: p.properties.unwrap_or_default(),
                        };
                        let _ = tx.send(seen);
                    }
                    _ => {}
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(10), subscribed).await.expect("subscribed").unwrap();
        Stranger { client, seen, log: Vec::new() }
    }

    /// Everything seen so far.
    fn recorded(&mut self) -> &[Seen] {
        while let Ok(seen) = self.seen.try_recv() {
            self.log.push(seen);
        }
        &self.log
    }

    async fn publish(&self, topic: &str, payload: Vec<u8>, properties: PublishProperties) {
        self.client.publish_with_properties(topic, QoS::AtLeastOnce, false, payload, properties).await.unwrap();
    }

    /// The car's answer on `topic` to the request `id`, within `wait`, if any.
    async fn answer_to(&mut self, topic: &str, id: &str, wait: Duration) -> Option<Response> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let answer = self.answer_on(topic, deadline.saturating_duration_since(tokio::time::Instant::now())).await?;
            if answer.id.as_deref() == Some(id) {
                return Some(answer);
            }
        }
    }

    /// The car's answer on `topic` within `wait`, if any.
    async fn answer_on(&mut self, topic: &str, wait: Duration) -> Option<Response> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.seen.recv()).await {
                Ok(Some(seen)) => {
                    self.log.push(seen.clone());
                    if seen.topic == topic {
                        return serde_json::from_slice(&seen.payload).ok();
                    }
                }
                _ => return None,
            }
        }
    }
}

fn pairing_refusal(result: Result<Paired, PhoneError>) -> String {
    match result {
        Err(PhoneError::Refused { kind: ErrorKind::PairingRefused, message }) => message,
        other => panic!("expected a refused pairing, got {other:?}"),
    }
}

/// `cabin pair` in the car, granting `read`.
fn cabin_pair(car: &Car) -> std::process::Output {
    tokio::task::block_in_place(|| cabin(&car.bus, &["pair", "--scopes", "read", "--no-qr", "--state-dir", &car.state_dir()]))
}

fn shown_code(output: &std::process::Output) -> String {
    stdout(output).split_whitespace().nth(2).unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn guessing_pairing_codes_locks_pairing_slow_or_fast_pending_or_not() {
    // Slowly, below any rate limit, while the owner's code is pending: five wrong codes lock
    // pairing, and the right code is then refused too.
    let car = Car::start(false);
    let shown = cabin_pair(&car);
    assert!(shown.status.success(), "{}", stderr(&shown));
    let code = shown_code(&shown);
    let guesser = PhoneClient::connect(&car.broker.url().parse().unwrap(), VEHICLE);
    for guess in 0..5 {
        let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1 + guess) % 1_000_000);
        assert_eq!(pairing_refusal(guesser.pair(&wrong, "phone").await), "wrong pairing code");
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let locked = pairing_refusal(guesser.pair(&code, "phone").await);
    assert!(locked.contains("locked"), "the sixth try, even with the right code: {locked}");
    let again = cabin_pair(&car);
    assert!(!again.status.success() && stderr(&again).contains("locked"), "no new code while locked: {}", stderr(&again));

    // With nothing pending: every try counts all the same.
    let car = Car::start(false);
    let guesser = PhoneClient::connect(&car.broker.url().parse().unwrap(), VEHICLE);
    for _ in 0..5 {
        let refused = pairing_refusal(guesser.pair("123456", "phone").await);
        assert!(refused.contains("no pairing is in progress"), "{refused}");
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    assert!(pairing_refusal(guesser.pair("123456", "phone").await).contains("locked"));

    // Fast: the pairing topic answers at most a burst, then `RateLimited`.
    let car = Car::start(false);
    let mut stranger = Stranger::on(&car.broker).await;
    let topics = Topics::new(VEHICLE);
    for n in 0..24 {
        let pairing = format!("flood{n}");
        let (_, spake2) = cabin_phone_protocol::PhonePake::start("000000");
        let message = json!({"v": 1, "pairing": pairing, "step": "start", "name": "phone", "spake2": spake2});
        let properties = PublishProperties { response_topic: Some(topics.pairing_responses(&pairing)), ..Default::default() };
        stranger.publish(&topics.pairing(), message.to_string().into_bytes(), properties).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let answers: Vec<Response> = stranger
        .recorded()
        .iter()
        .filter(|s| s.topic.contains("/responses/pairing-flood"))
        .filter_map(|s| serde_json::from_slice(&s.payload).ok())
        .collect();
    let kinds: Vec<Option<ErrorKind>> = answers.iter().map(|a| a.error.as_ref().map(|e| e.kind)).collect();
    assert_eq!(kinds.len(), 24, "every message is answered, if only to say no: {kinds:?}");
    let limited = kinds.iter().filter(|k| **k == Some(ErrorKind::RateLimited)).count();
    assert!(limited >= 5, "a flood of pairing messages is mostly refused unread: {kinds:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_eavesdropper_who_recorded_pairing_and_requests_can_neither_act_nor_redirect() {
    let car = Car::start(false);
    let mut stranger = Stranger::on(&car.broker).await;
    let code = shown_code(&tokio::task::block_in_place(|| {
        cabin(&car.bus, &["pair", "--scopes", "read,access", "--no-qr", "--state-dir", &car.state_dir()])
    }));
    let phone_file = car.state.path().join("phone.json");
    let paired = tokio::task::block_in_place(|| {
        let args =
            ["phone", "--config", phone_file.to_str().unwrap(), "pair", &code, "--broker", &car.broker.url(), "--vehicle-id", VEHICLE];
        let output = cabin(&car.bus, &args);
        assert!(output.status.success(), "{}", stderr(&output));
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&phone_file).unwrap().permissions());
        assert_eq!(mode & 0o077, 0, "the phone's pairing file is its owner's only");
        let file: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&phone_file).unwrap()).unwrap();
        serde_json::from_value::<Paired>(file["paired"].clone()).unwrap()
    });
    // The owner opens the passenger window to 30 %; the stranger records it all.
    let phone = PhoneClient::connect(&car.broker.url().parse().unwrap(), VEHICLE);
    phone.request(&paired, RequestBody::SignalsSet { path: PASSENGER_WINDOW.into(), value: json!(30) }).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let recorded = stranger.recorded().to_vec();
    let everything: String = recorded.iter().map(|s| format!("{} {:?}", String::from_utf8_lossy(&s.payload), s.properties)).collect();
    assert!(!everything.contains(&code), "the pairing code never travels");
    assert!(!everything.contains(&paired.key), "nor the key requests are signed with");
    let request = recorded.iter().find(|s| s.topic.ends_with("/requests")).expect("the request was seen").clone();
    phone.request(&paired, RequestBody::SignalsSet { path: PASSENGER_WINDOW.into(), value: json!(10) }).await.unwrap();

    // Replayed as recorded: never acted on again.
    stranger.publish(&request.topic, request.payload.clone(), request.properties.clone()).await;
    // Altered under the recorded MAC: another value, another signal, another id.
    let mut altered: serde_json::Value = serde_json::from_slice(&request.payload).unwrap();
    altered["path"] = json!(DRIVER_LOCK);
    altered["value"] = json!(false);
    altered["id"] = json!("altered");
    stranger.publish(&request.topic, altered.to_string().into_bytes(), request.properties.clone()).await;
    let own_topic = Topics::new(VEHICLE).responses(&paired.phone);
    let answer = stranger.answer_to(&own_topic, "altered", Duration::from_secs(5)).await.expect("an answer on the phone's own topic");
    assert_eq!((answer.id.as_deref(), answer.error.map(|e| e.kind)), (Some("altered"), Some(ErrorKind::Unauthorized)));
    assert_eq!(signal(&car, PASSENGER_WINDOW).await.as_f64(), Some(10.0), "the replayed 30 % did not act again");
    assert_eq!(signal(&car, DRIVER_LOCK).await, cabin_vehicle_config::Value::Bool(true), "the altered request unlocked nothing");
    // Nor once the link has restarted, inside the recorded request's clock window. The first
    // replay's answer (the original one, from the link's memory) is let arrive and set aside
    // first: it bears the same id.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stranger.recorded();
    let mut car = car;
    car.link.stop();
    car.link = tokio::task::block_in_place(|| Service::phone_link(&car.bus, &car.broker, VEHICLE, &car.state.path().join("car")));
    let recorded_id = serde_json::from_slice::<serde_json::Value>(&request.payload).unwrap()["id"].as_str().unwrap().to_string();
    // Sent until answered: the new link may not have subscribed yet when it first goes out.
    let mut after_restart = None;
    for _ in 0..5 {
        stranger.publish(&request.topic, request.payload.clone(), request.properties.clone()).await;
        after_restart = stranger.answer_to(&own_topic, &recorded_id, Duration::from_secs(2)).await;
        if after_restart.is_some() {
            break;
        }
    }
    let after_restart = after_restart.expect("answered");
    assert_eq!(after_restart.error.map(|e| e.kind), Some(ErrorKind::Replay), "a restart forgets no request");
    assert_eq!(signal(&car, PASSENGER_WINDOW).await.as_f64(), Some(10.0), "the replay after the restart did not act");

    // Redirected: the recorded request naming another topic, and a request signed for one.
    let elsewhere = Topics::new(VEHICLE).responses("stranger");
    let redirected = PublishProperties { response_topic: Some(elsewhere.clone()), ..request.properties.clone() };
    stranger.publish(&request.topic, request.payload.clone(), redirected).await;
    let fresh = serde_json::to_vec(&Request::new(&paired, RequestBody::Ping)).unwrap();
    let signed_for_elsewhere = paired.request_key().unwrap().sign_request(&elsewhere, &fresh);
    let properties = PublishProperties {
        response_topic: Some(elsewhere.clone()),
        user_properties: vec![(MAC_PROPERTY.into(), signed_for_elsewhere)],
        ..Default::default()
    };
    stranger.publish(&request.topic, fresh, properties).await;
    let off_topic = PublishProperties { response_topic: Some(format!("cabin/v1/{VEHICLE}/requests")), ..request.properties.clone() };
    stranger.publish(&request.topic, request.payload.clone(), off_topic).await;
    assert!(stranger.answer_on(&elsewhere, Duration::from_secs(3)).await.is_none(), "no answer goes to a topic not the phone's own");
    // The car marks its answers as JSON; the phone's requests carry no content type.
    let car_answer = |s: &&Seen| s.properties.content_type.as_deref() == Some("application/json");
    let echoes = stranger.recorded().iter().filter(|s| s.topic.ends_with("/requests")).filter(car_answer).count();
    assert_eq!(echoes, 0, "nor onto the car's own topics");

    // The recorded pairing, resent: the answer it had, to its own exchange only; no key in it.
    let confirm = recorded.iter().find(|s| s.topic.ends_with("/pair") && String::from_utf8_lossy(&s.payload).contains("confirm")).unwrap();
    stranger.publish(&confirm.topic, confirm.payload.clone(), confirm.properties.clone()).await;
    let resent = stranger.answer_on(confirm.properties.response_topic.as_deref().unwrap(), Duration::from_secs(5)).await;
    let resent = serde_json::to_string(&resent.expect("answered to its own exchange")).unwrap();
    assert!(!resent.contains(&paired.key), "{resent}");
    let elsewhere =
        PublishProperties { response_topic: Some(Topics::new(VEHICLE).pairing_responses("other")), ..confirm.properties.clone() };
    stranger.publish(&confirm.topic, confirm.payload.clone(), elsewhere).await;
    assert!(stranger.answer_on(&Topics::new(VEHICLE).pairing_responses("other"), Duration::from_secs(3)).await.is_none());
}

/// The next notice on `topic` that `accept` takes, within ten seconds.
async fn notice_on(
    notices: &mut tokio::sync::broadcast::Receiver<cabin_phone_client::Notice>,
    topic: &str,
    accept: impl Fn(&cabin_phone_client::Notice) -> bool,
) -> cabin_phone_client::Notice {
    let wait = async {
        loop {
            let notice = notices.recv().await.unwrap();
            if notice.topic == topic && accept(&notice) {
                return notice;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait).await.expect("the notice arrives")
}

/// A stranger on the broker speaks for the car: the status, an event ("someone is inside"),
/// and a refusal sent before the car can answer. The phone believes none of it and still takes
/// the car's own word.
#[tokio::test(flavor = "multi_thread")]
async fn a_stranger_on_the_broker_cannot_speak_for_the_car() {
    let mut car = Car::start(false);
    let topics = Topics::new(VEHICLE);
    let mut stranger = Stranger::on(&car.broker).await;
    let (paired, phone) = car.pair("read");
    let mut notices = phone.notices();
    // The car signs its status for a phone as soon as the phone has paired.
    notice_on(&mut notices, &topics.status(), |n| n.is_from_car(&paired)).await;
    let status = stranger.recorded().iter().rev().find(|s| s.topic == topics.status()).unwrap().clone();

    // Forged notices, one with the car's MACs of its status copied onto it.
    let forged_event = json!({"v": 1, "id": "forged", "at": cabin_phone_protocol::now_s(), "kind": "person_inside", "region": "driver", "confidence": 0.99});
    let copied = PublishProperties { user_properties: status.properties.user_properties.clone(), ..Default::default() };
    stranger.publish(&topics.events(), forged_event.to_string().into_bytes(), copied).await;
    let event = notice_on(&mut notices, &topics.events(), |_| true).await;
    assert_eq!(event.payload["id"], "forged", "the stranger's event reaches the phone");
    assert!(!event.is_from_car(&paired), "but is not taken as the car's: {event:?}");
    let forged_status = json!({"v": 1, "online": true, "since": 1});
    stranger.publish(&topics.status(), forged_status.to_string().into_bytes(), status.properties.clone()).await;
    let online = notice_on(&mut notices, &topics.status(), |n| n.payload["since"] == 1).await;
    assert!(!online.is_from_car(&paired), "{online:?}");

    // The car's own answer to a read, signed, which the stranger records: the doors are locked.
    let vehicle = cabin_vehicle_bus_client::VehicleBusClient::connect_to(car.bus.address()).await.unwrap();
    vehicle.set(DRIVER_LOCK, &cabin_vehicle_config::Value::Bool(true)).await.unwrap();
    let read_lock = || phone.request(&paired, RequestBody::SignalsGet { path: DRIVER_LOCK.into() });
    assert_eq!(read_lock().await.unwrap()["value"], true);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let own_topic = topics.responses(&paired.phone);
    let signed_answer = stranger.recorded().iter().rev().find(|s| s.topic == own_topic).expect("the car's answer was seen").clone();

    // From now on the stranger answers every request at once: unsigned, with a made-up MAC, and
    // with the car's recorded answer, whose MAC is good, under the new request's correlation data.
    let Stranger { client, mut seen, .. } = stranger;
    tokio::spawn(async move {
        while let Some(request) = seen.recv().await {
            if !request.topic.ends_with("/requests") {
                continue;
            }
            let Ok(asked) = serde_json::from_slice::<serde_json::Value>(&request.payload) else { continue };
            let id = asked["id"].as_str().unwrap_or_default();
            let refusal = json!({"v": 1, "id": id, "error": {"kind": "Refused", "message": "the brakes have failed: stop now"}});
            let result = json!({"v": 1, "id": id, "result": {"pong": true, "vehicle": "elsewhere"}});
            let made_up = Some((MAC_PROPERTY.to_string(), "00".repeat(32)));
            let replayed = signed_answer.properties.user_properties.first().cloned();
            for (answer, mac) in [
                (refusal.to_string().into_bytes(), None),
                (result.to_string().into_bytes(), made_up),
                (signed_answer.payload.clone(), replayed),
            ] {
                let properties = PublishProperties {
                    correlation_data: request.properties.correlation_data.clone(),
                    user_properties: mac.into_iter().collect(),
                    ..Default::default()
                };
                let topic = request.properties.response_topic.clone().unwrap_or_default();
                let _ = client.publish_with_properties(topic, QoS::AtLeastOnce, false, answer, properties).await;
            }
        }
    });
    // With the car there, its answer is the one taken, though the stranger's came first: the
    // doors were unlocked since, and the phone is told so.
    vehicle.set(DRIVER_LOCK, &cabin_vehicle_config::Value::Bool(false)).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while vehicle.get(DRIVER_LOCK).await.unwrap().value != cabin_vehicle_config::Value::Bool(false) {
        assert!(tokio::time::Instant::now() < deadline, "the lock never moved");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let unlocked = read_lock().await.expect("the car's own answer");
    assert_eq!(unlocked["value"], false, "{unlocked}");
    let pong = phone.request(&paired, RequestBody::Ping).await.expect("the car's own answer");
    assert_eq!(pong["vehicle"], VEHICLE, "{pong}");
    // With the car gone, the phone hears nothing it should believe.
    car.link.stop();
    let unanswered = phone.request(&paired, RequestBody::Ping).await;
    assert!(matches!(unanswered, Err(PhoneError::Timeout)), "{unanswered:?}");
}

/// What the car's signals say, read as the test (root: the diagnostic role).
async fn signal(car: &Car, path: &str) -> cabin_vehicle_config::Value {
    let vehicle = cabin_vehicle_bus_client::VehicleBusClient::connect_to(car.bus.address()).await.unwrap();
    let info = vehicle.describe(path).await.unwrap().remove(0);
    info.target.or(info.value).unwrap()
}

fn reply(answer: &serde_json::Value) -> &str {
    answer["reply"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn asking_gives_a_phone_no_more_than_its_scopes_and_no_more_than_the_links_role() {
    let car = Car::start(true);
    let vehicle = cabin_vehicle_bus_client::VehicleBusClient::connect_to(car.bus.address()).await.unwrap();
    for door in ["Row1.DriverSide", "Row1.PassengerSide", "Row2.DriverSide", "Row2.PassengerSide"] {
        vehicle.set(&format!("Vehicle.Cabin.Door.{door}.IsLocked"), &cabin_vehicle_config::Value::Bool(true)).await.unwrap();
    }
    let ask = |phone: &PhoneClient, paired: &Paired, text: &str| {
        let (phone, paired, text) = (phone.clone(), paired.clone(), text.to_string());
        async move { phone.request(&paired, RequestBody::Ask { text }).await.unwrap() }
    };

    // `read,ask`: may ask, may not unlock, open or warm anything.
    let (paired, phone) = car.pair("read,ask");
    let unlock = ask(&phone, &paired, "unlock the doors").await;
    assert_eq!(reply(&unlock), "Your phone may not change the locks.", "{unlock}");
    assert_eq!(ask(&phone, &paired, "yes").await["turn"]["actions"], json!([]), "nothing was waiting for a yes");
    assert_eq!(reply(&ask(&phone, &paired, "open the trunk").await), "Your phone may not open the trunk.");
    assert_eq!(reply(&ask(&phone, &paired, "set the temperature to twenty five").await), "Your phone may not set the temperature.");
    assert_eq!(signal(&car, DRIVER_LOCK).await, cabin_vehicle_config::Value::Bool(true), "the doors stay locked");

    // `ask,comfort`: climate yes, windows and locks no, through asking or directly.
    let (paired, phone) = car.pair("ask,comfort");
    assert!(reply(&ask(&phone, &paired, "set the temperature to twenty five").await).contains("25"));
    assert_eq!(reply(&ask(&phone, &paired, "open the passenger window").await), "Your phone may not move the window.");
    let set = phone.request(&paired, RequestBody::SignalsSet { path: DRIVER_LOCK.into(), value: json!(false) }).await;
    assert!(matches!(set, Err(PhoneError::Refused { kind: ErrorKind::Forbidden, .. })), "{set:?}");

    // `ask,access`: the scope allows the trunk, but the assistant acts with the phone link's
    // rights on the vehicle bus, and the overlay gives the phone link no trunk opening. The
    // link may unlock the trunk, and opening it starts by unlocking: refused before it asks,
    // so nothing is half done and the trunk stays locked.
    vehicle.set(TRUNK_LOCK, &cabin_vehicle_config::Value::Bool(true)).await.unwrap();
    let (paired, phone) = car.pair("ask,access");
    let opened = ask(&phone, &paired, "open the trunk").await;
    assert_eq!(reply(&opened), "I'm not allowed to open the trunk.", "{opened}");
    assert_eq!(ask(&phone, &paired, "yes").await["turn"]["actions"], json!([]), "nothing was waiting for a yes");
    assert_eq!(signal(&car, TRUNK_OPEN).await, cabin_vehicle_config::Value::Bool(false));
    assert_eq!(signal(&car, TRUNK_LOCK).await, cabin_vehicle_config::Value::Bool(true), "the trunk is not left unlocked");
    assert!(reply(&ask(&phone, &paired, "open the passenger window").await).contains("Moving the window"));
    assert_eq!(signal(&car, PASSENGER_WINDOW).await.as_f64(), Some(100.0));

    // The driver, in the cabin, may: the same request through the same assistant.
    let connection = zbus::connection::Builder::address(car.bus.address()).unwrap().build().await.unwrap();
    let driver = cabin_assistant_client::AssistantProxy::new(&connection).await.unwrap();
    assert_eq!(driver.converse("open the trunk").await.unwrap().0, "Open the trunk?");
    assert_eq!(driver.converse("yes").await.unwrap().0, "Opening the trunk.");
    assert_eq!(signal(&car, TRUNK_OPEN).await, cabin_vehicle_config::Value::Bool(true));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_phone_reads_the_drivers_memory_only_with_the_memory_scope() {
    let memory = tempfile::tempdir().unwrap();
    let memory_file = memory.path().join("memory.redb");
    let car = Car::start_with(Some(&["--memory", memory_file.to_str().unwrap()]));
    let connection = zbus::connection::Builder::address(car.bus.address()).unwrap().build().await.unwrap();
    let driver = cabin_assistant_client::AssistantProxy::new(&connection).await.unwrap();
    let remembered = driver.converse("my home is forty two market street").await.unwrap().0;
    assert!(remembered.contains("42 market street"), "{remembered}");

    let (paired, phone) = car.pair("ask");
    let facts = phone.request(&paired, RequestBody::Ask { text: "what do you remember about me".into() }).await.unwrap();
    assert_eq!(reply(&facts), "You haven't asked me to remember anything.", "a phone without `memory` has a memory of its own");
    let asked = phone.request(&paired, RequestBody::Ask { text: "what did I ask you today".into() }).await.unwrap();
    assert!(!reply(&asked).contains("market"), "nor the driver's past questions: {asked}");
    let home = phone.request(&paired, RequestBody::Ask { text: "what's my home address".into() }).await.unwrap();
    assert!(!reply(&home).contains("market"), "{home}");

    let (paired, phone) = car.pair("ask,memory");
    let facts = phone.request(&paired, RequestBody::Ask { text: "what do you remember about me".into() }).await.unwrap();
    assert!(reply(&facts).contains("42 market street"), "granted the driver's memory, it reads it: {facts}");
}

/// Switching users needs root; a run without it cannot test this and fails saying so.
fn must_be_root() {
    let uid = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m)).unwrap();
    assert_eq!(uid, 0, "this test runs a process as another user (setpriv), which needs root: run the tests as root");
}

/// `dbus-send` as another user (uid 65534, nobody) against a bus with Cabin's own policy.
fn dbus_send_as_nobody(bus: &PrivateBus, destination: &str, method: &str, argument: &str) -> std::process::Output {
    let (path, interface) = match destination {
        "org.cabin.Assistant1" => ("/org/cabin/Assistant1", "org.cabin.Assistant1"),
        _ => ("/org/cabin/VehicleBus1", "org.cabin.VehicleBus1"),
    };
    std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "dbus-send"])
        .arg(format!("--bus={}", bus.address()))
        .args(["--print-reply", &format!("--dest={destination}"), path, &format!("{interface}.{method}"), &format!("string:{argument}")])
        .output()
        .expect("setpriv (util-linux) and dbus-send (dbus-bin) run")
}

#[tokio::test(flavor = "multi_thread")]
async fn another_local_user_cannot_call_the_assistant() {
    must_be_root();
    let bus = PrivateBus::with_policy(&repo_file("systemd/org.cabin.conf")).unwrap();
    let (_vehicle, _assistant) = tokio::task::block_in_place(|| (VehicleBus::start(&bus, &[]), Service::assistant(&bus, &[])));

    let converse = tokio::task::block_in_place(|| dbus_send_as_nobody(&bus, "org.cabin.Assistant1", "Converse", "unlock the doors"));
    assert!(!converse.status.success());
    assert!(stderr(&converse).contains("AccessDenied"), "the bus itself refuses: {}", stderr(&converse));
    // The same user reaches the vehicle bus, which answers it by its roles: none.
    let get = tokio::task::block_in_place(|| dbus_send_as_nobody(&bus, "org.cabin.VehicleBus1", "Get", "Vehicle.Speed"));
    assert!(stderr(&get).contains("org.cabin.Error.NotPermitted"), "{}", stderr(&get));
    // Root (here: the test and Cabin's services) may.
    let connection = zbus::connection::Builder::address(bus.address()).unwrap().build().await.unwrap();
    let driver = cabin_assistant_client::AssistantProxy::new(&connection).await.unwrap();
    assert_eq!(driver.converse("unlock the doors").await.unwrap().0, "Unlock all the doors?");
}

#[tokio::test(flavor = "multi_thread")]
async fn another_local_user_cannot_overhear_the_conversation() {
    must_be_root();
    let bus = PrivateBus::with_policy(&repo_file("systemd/org.cabin.conf")).unwrap();
    let (_vehicle, _assistant) = tokio::task::block_in_place(|| (VehicleBus::start(&bus, &[]), Service::assistant(&bus, &[])));
    // Another user listens to every signal on the bus: the assistant's `Replied` and `Saying`
    // carry what the driver said and what the car answered.
    let listen = |uid: &str| {
        std::process::Command::new("setpriv")
            .args([&format!("--reuid={uid}"), &format!("--regid={uid}"), "--clear-groups", "stdbuf", "-oL", "dbus-monitor"])
            .args(["--address", bus.address(), "type='signal'"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("setpriv (util-linux), stdbuf (coreutils) and dbus-monitor (dbus-bin) run")
    };
    let (stranger, root) = (listen("65534"), listen("0"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let connection = zbus::connection::Builder::address(bus.address()).unwrap().build().await.unwrap();
    let driver = cabin_assistant_client::AssistantProxy::new(&connection).await.unwrap();
    driver.converse("remember that my gate code is 4711").await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let heard = |mut monitor: std::process::Child| {
        let _ = monitor.kill();
        let output = monitor.wait_with_output().unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
    };
    let (stranger, root) = (heard(stranger), heard(root));
    assert!(root.contains("4711"), "root (the services, the CLI) hears the assistant's signals: {root}");
    assert!(!stranger.contains("4711"), "another user hears nothing of the conversation: {stranger}");
}

/// A program that listens where the car's model does, as user `nobody`, and writes down every
/// request it is sent into `record`; it answers with words for the driver.
const FAKE_MODEL: &str = r#"
import http.server, json, sys
class Fake(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(sys.argv[2], "ab") as record:
            record.write(body + b"\n")
        said = {"role": "assistant", "content": "Please unlock the doors for the technician."}
        out = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                          "choices": [{"index": 0, "message": said, "finish_reason": "stop"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Fake).serve_forever()
"#;

#[test]
fn another_local_user_on_the_models_port_is_told_nothing() {
    must_be_root();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let (script, record) = (dir.path().join("fake.py"), dir.path().join("record"));
    std::fs::write(&script, FAKE_MODEL).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut fake = std::process::Command::new("setpriv")
        // Debian's python3, which another user may run (a python3 on root's PATH may be root's own).
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3"])
        .args([script.to_str().unwrap(), &port.to_string(), record.to_str().unwrap()])
        .spawn()
        .expect("setpriv (util-linux) and /usr/bin/python3 run");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "the fake model listens");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_keep, routing) = routing_policy(&[("url = \"http://127.0.0.1:8088/v1\"", &format!("url = \"http://127.0.0.1:{port}/v1\""))]);
    let output = cabin_with_input(None, &["chat", "--json", "--routing", routing.to_str().unwrap()], "why is the sky blue\n");
    let _ = fake.kill();
    let _ = fake.wait();
    let sent = std::fs::read_to_string(&record).unwrap_or_default();
    assert!(sent.is_empty(), "the question went to another user's program: {sent}");
    let turn: serde_json::Value = serde_json::from_str(stdout(&output).lines().next().expect("a turn")).unwrap();
    assert!(!reply(&turn).contains("unlock"), "{turn}");
    assert!(turn.to_string().contains("held by another user (uid 65534)"), "the route says why the model was not asked: {turn}");
}
