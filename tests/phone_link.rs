//! The phone link end to end: a real `mosquitto`, a private dbus-daemon, the vehicle bus, the
//! assistant and the phone link as `cabin` processes, and the reference phone client.

mod support;

use std::time::Duration;

use cabin_phone_client::PhoneError;
use cabin_phone_protocol::{now_s, random_hex, ErrorKind, Paired, Request, RequestBody, VERSION};
use serde_json::json;
use support::*;

const WINDOW_PATH: &str = "Vehicle.Cabin.Door.Row1.PassengerSide.Window.Position";
const TEMPERATURE: &str = "Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature";

fn refused_kind(result: Result<serde_json::Value, PhoneError>) -> ErrorKind {
    match result {
        Err(PhoneError::Refused { kind, .. }) => kind,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paired_phone_reads_asks_and_is_held_to_its_scopes_until_revoked() {
    let car = Car::start(true);
    let (paired, phone) = car.pair("read,ask");
    assert_eq!(paired.scopes.len(), 2);
    let speed = phone.request(&paired, RequestBody::SignalsGet { path: "Vehicle.Speed".into() }).await.unwrap();
    assert_eq!(speed["value"], 0.0);
    // Asking is no way around the scopes: the assistant acts for the phone, within them.
    let answer = phone.request(&paired, RequestBody::Ask { text: "set the temperature to twenty one".into() }).await.unwrap();
    assert_eq!(answer["reply"], "Your phone may not set the temperature.");
    assert_eq!(answer["turn"]["actions"].as_array().map(Vec::len), Some(0), "{answer}");
    let answer = phone.request(&paired, RequestBody::Ask { text: "what's the temperature inside".into() }).await.unwrap();
    assert!(answer["reply"].as_str().unwrap().contains("degrees in here"), "reading needs `read`, which it has: {answer}");

    let set = phone.request(&paired, RequestBody::SignalsSet { path: TEMPERATURE.into(), value: json!(25) }).await;
    assert_eq!(refused_kind(set), ErrorKind::Forbidden, "comfort was not granted");
    let camera = phone.request(&paired, RequestBody::VisionFind { object: "hat".into(), region: None }).await;
    assert_eq!(refused_kind(camera), ErrorKind::Forbidden, "camera was not granted");
    let asked_to_look = phone.request(&paired, RequestBody::Ask { text: "is my hat in the car".into() }).await.unwrap();
    assert_eq!(asked_to_look["reply"], "Your phone may not look in the cabin.", "nor through the assistant");

    let listed = cabin(&car.bus, &["phones", "list", "--json", "--state-dir", &car.state_dir()]);
    assert!(stdout(&listed).contains("\"name\":\"ana\""), "{}", stdout(&listed));
    let revoked = cabin(&car.bus, &["phones", "revoke", "ana", "--state-dir", &car.state_dir()]);
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    let after = phone.request(&paired, RequestBody::Ping).await;
    assert_eq!(refused_kind(after), ErrorKind::Unauthorized, "a revoked key stops working at once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_phone_with_the_camera_scope_finds_the_cup_and_hears_where_it_is() {
    let car = Car::start(true);
    let frames = tempfile::tempdir().unwrap();
    frame_with_a_cup(frames.path());
    let _vision = tokio::task::block_in_place(|| Service::vision(&car.bus, &["--camera", frames.path().to_str().unwrap()]));
    let (paired, phone) = car.pair("ask,camera");
    let found = phone.request(&paired, RequestBody::VisionFind { object: "cup".into(), region: None }).await.unwrap();
    assert_eq!((found["found"].as_bool(), found["region"].as_str()), (Some(true), Some("rear_left")), "{found}");
    let answer = phone.request(&paired, RequestBody::Ask { text: "is my cup in the car".into() }).await.unwrap();
    assert!(answer["reply"].as_str().unwrap().starts_with("Yes, I can see your cup on the rear left seat"), "{answer}");
    let unknown = phone.request(&paired, RequestBody::VisionFind { object: "unicorn".into(), region: None }).await;
    assert_eq!(refused_kind(unknown), ErrorKind::BadRequest, "an object the camera cannot look for");
    let snapshot = phone.request(&paired, RequestBody::VisionSnapshot { region: Some("rear_left".into()) }).await;
    assert_eq!(refused_kind(snapshot), ErrorKind::Refused, "the default policy keeps frames in the car");
}

const DRIVER_LOCK: &str = "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked";

/// The next event the phone hears, within a minute.
/// The next event, which the car signed for `paired`.
async fn next_event(notices: &mut tokio::sync::broadcast::Receiver<cabin_phone_client::Notice>, paired: &Paired) -> serde_json::Value {
    let wait = async {
        loop {
            let notice = notices.recv().await.unwrap();
            if notice.topic.ends_with("/events") {
                assert!(notice.is_from_car(paired), "the car signs its events for the phone: {notice:?}");
                return notice.payload;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), wait).await.expect("an event within a minute")
}

/// What keeps a car looking and a phone listening, and what the phone hears.
struct Watching {
    notices: tokio::sync::broadcast::Receiver<cabin_phone_client::Notice>,
    paired: Paired,
    _frames: tempfile::TempDir,
    _vision: Service,
    _phone: cabin_phone_client::PhoneClient,
}

/// A car whose camera sees `photo` on `region`, with a `camera` phone listening, locked: the car,
/// what keeps it looking and listening, and the first event the phone hears.
async fn locked_with_in_view(photo: &str, region: &str) -> (Car, Watching, serde_json::Value) {
    let car = Car::start(true);
    let frames = tempfile::tempdir().unwrap();
    frame_with(frames.path(), photo, region);
    let vision = tokio::task::block_in_place(|| Service::vision(&car.bus, &["--camera", frames.path().to_str().unwrap()]));
    let (paired, phone) = car.pair("read,camera");
    let mut notices = phone.notices();
    let locked = tokio::task::block_in_place(|| cabin(&car.bus, &["signals", "set", DRIVER_LOCK, "true"]));
    assert!(locked.status.success(), "{}", stderr(&locked));
    let event = next_event(&mut notices, &paired).await;
    (car, Watching { notices, paired, _frames: frames, _vision: vision, _phone: phone }, event)
}

#[tokio::test(flavor = "multi_thread")]
async fn locking_the_car_with_someone_inside_tells_the_phone_so_whatever_objects_are_watched() {
    let (_car, _watching, event) = locked_with_in_view("astronaut.png", "rear_right").await;
    assert_eq!((event["kind"].as_str(), event["region"].as_str()), (Some("person_inside"), Some("rear_right")), "{event}");
}

#[tokio::test(flavor = "multi_thread")]
async fn locking_the_car_with_a_cat_inside_tells_the_phone_and_an_outage_loses_no_event() {
    let (mut car, mut watching, event) = locked_with_in_view("chelsea.png", "rear_left").await;
    assert_eq!(
        (event["kind"].as_str(), event["object"].as_str(), event["region"].as_str()),
        (Some("left_behind"), Some("cat"), Some("rear_left")),
        "{event}"
    );

    // The broker goes away and the car is locked again: the event waits on disk, then goes out
    // once the broker is back.
    let outbox = car.state.path().join("car/outbox");
    let queued = |dir: &std::path::Path| {
        std::fs::read_dir(dir)
            .map(|d| d.filter_map(Result::ok).filter(|e| !e.file_name().to_string_lossy().starts_with('.')).count())
            .unwrap_or(0)
    };
    tokio::task::block_in_place(|| {
        // The phone can hear the event before the car hears the broker's acknowledgement: until
        // then the event is still on disk, and would be counted below as the next one.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while queued(&outbox) > 0 {
            assert!(std::time::Instant::now() < deadline, "the first event was never acknowledged");
            std::thread::sleep(Duration::from_millis(50));
        }
        car.broker.stop();
        assert!(cabin(&car.bus, &["signals", "set", DRIVER_LOCK, "false", "--wait", "10"]).status.success());
        assert!(cabin(&car.bus, &["signals", "set", DRIVER_LOCK, "true"]).status.success());
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while queued(&outbox) == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(queued(&outbox), 1, "the event is kept on disk while the broker is away");
        std::thread::sleep(Duration::from_secs(1));
        assert_eq!(queued(&outbox), 1, "and stays there");
        while watching.notices.try_recv().is_ok() {}
        car.broker.start_again();
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while queued(&outbox) > 0 {
        assert!(std::time::Instant::now() < deadline, "the kept event was never delivered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A phone that watched once and went offline hears, when it is back, what the car said
    // meanwhile: the broker kept its session.
    let phone_file = car.state.path().join("phone.json");
    let watch = |count: &str| {
        let mut child = std::process::Command::new(cabin_binary())
            .args(["phone", "--config", phone_file.to_str().unwrap(), "watch", "--count", count])
            .env("CABIN_LOG", "error")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let output = child.wait_with_output().unwrap();
        (output.status.success(), stdout(&output))
    };
    // The online phone's session went with the broker: it hears events again once it has
    // subscribed anew, which the car's status, sent on subscribing, shows.
    let back = async { while !watching.notices.recv().await.unwrap().topic.ends_with("/status") {} };
    tokio::time::timeout(Duration::from_secs(60), back).await.expect("the online phone comes back");
    tokio::time::sleep(Duration::from_millis(500)).await;
    while watching.notices.try_recv().is_ok() {}
    tokio::task::block_in_place(|| {
        let (watched, status) = watch("1");
        assert!(watched && status.contains("/status"), "{status}");
        assert!(cabin(&car.bus, &["signals", "set", DRIVER_LOCK, "false", "--wait", "10"]).status.success());
        assert!(cabin(&car.bus, &["signals", "set", DRIVER_LOCK, "true"]).status.success());
    });
    // The online phone heard it: the car has sent it while the watcher was away.
    assert_eq!(next_event(&mut watching.notices, &watching.paired).await["kind"], "left_behind");
    tokio::task::block_in_place(|| {
        let (back, heard) = watch("2");
        assert!(back && heard.contains("/events") && heard.contains("left_behind"), "the event sent while offline: {heard}");
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn a_phone_that_listens_only_after_connecting_still_hears_what_the_broker_sent_at_once() {
    let car = Car::start(false);
    let phone = cabin_phone_client::PhoneClient::connect(&car.broker.url().parse().unwrap(), VEHICLE);
    // The retained status comes as soon as the phone subscribes, often before an app (or the
    // `cabin phone watch` of a loaded machine) gets round to listening.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut notices = phone.notices();
    let status = tokio::time::timeout(Duration::from_secs(10), notices.recv()).await.expect("the status was kept").unwrap();
    assert!(status.topic.ends_with("/status") && status.payload["online"] == true, "{status:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_stale_replayed_and_redelivered_requests_are_answered_safely() {
    let car = Car::start(false);
    let (paired, phone) = car.pair("read,access");

    assert_eq!(refused_kind(phone.send_raw(&paired, b"{not json".to_vec()).await), ErrorKind::BadRequest);
    // Oversized: read and refused in words, and the link stays up for what follows.
    let oversized = format!(r#"{{"v":1,"id":"big","pad":"{}"}}"#, "x".repeat(100_000));
    assert_eq!(refused_kind(phone.send_raw(&paired, oversized.into_bytes()).await), ErrorKind::BadRequest);
    assert_eq!(refused_kind(phone.send_raw(&paired, br#"{"v":2,"id":"x","kind":"ping"}"#.to_vec()).await), ErrorKind::UnsupportedVersion);
    let unknown_kind = json!({"v": VERSION, "id": "k", "phone": paired.phone, "nonce": "n", "ts": now_s(), "kind": "engine.start"});
    assert_eq!(refused_kind(phone.send_raw(&paired, unknown_kind.to_string().into_bytes()).await), ErrorKind::BadRequest);

    let request = |body: RequestBody| Request::new(&paired, body);
    let wrong_key = Paired { key: "00".repeat(32), ..paired.clone() };
    assert_eq!(refused_kind(phone.send(&wrong_key, &request(RequestBody::Ping)).await), ErrorKind::Unauthorized);
    let stale = Request { ts: now_s() - 600, ..request(RequestBody::Ping) };
    assert_eq!(refused_kind(phone.send(&paired, &stale).await), ErrorKind::Stale);
    let first = request(RequestBody::Ping);
    phone.send(&paired, &first).await.unwrap();
    let replay = Request { id: random_hex(8), ..first.clone() };
    assert_eq!(refused_kind(phone.send(&paired, &replay).await), ErrorKind::Replay);

    // A redelivered set is answered again but never acts twice: the later value stays.
    let open_40 = request(RequestBody::SignalsSet { path: WINDOW_PATH.into(), value: json!(40) });
    let answer = phone.send(&paired, &open_40).await.unwrap();
    phone.request(&paired, RequestBody::SignalsSet { path: WINDOW_PATH.into(), value: json!(10) }).await.unwrap();
    assert_eq!(phone.send(&paired, &open_40).await.unwrap(), answer, "the same answer for the same request id");
    let vehicle = cabin_vehicle_bus_client::VehicleBusClient::connect_to(car.bus.address()).await.unwrap();
    let window = vehicle.describe(WINDOW_PATH).await.unwrap().remove(0);
    assert_eq!(window.target.or(window.value).and_then(|v| v.as_f64()), Some(10.0), "the window heads for 10 %, not 40 %");

    // The vehicle bus's refusals reach the phone with their reason.
    let too_far = phone.request(&paired, RequestBody::SignalsSet { path: WINDOW_PATH.into(), value: json!(140) }).await;
    assert!(
        matches!(too_far, Err(PhoneError::Refused { kind: ErrorKind::Refused, ref message }) if message.contains("100")),
        "{too_far:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_are_answered_through_broker_restarts_and_the_last_will_says_offline() {
    let mut car = Car::start(false);
    let (paired, phone) = car.pair("read");

    let mut answered = 0;
    for round in 0..30 {
        if round == 10 || round == 20 {
            tokio::task::block_in_place(|| car.broker.restart(Duration::from_millis(500)));
        }
        match phone.request(&paired, RequestBody::SignalsGet { path: "Vehicle.Speed".into() }).await {
            Ok(_) => answered += 1,
            Err(e) => eprintln!("request {round}: {e}"),
        }
    }
    assert_eq!(answered, 30, "every request is answered across two broker restarts");

    let mut notices = phone.notices();
    drop(car.link);
    let offline = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(notice) = notices.recv().await {
                if notice.topic.ends_with("/status") && notice.payload["online"] == false {
                    return;
                }
            }
        }
    })
    .await;
    assert!(offline.is_ok(), "the broker publishes the car's last will when it vanishes");
}

/// `cabin up` is the all-in-one default: its embedded broker and phone link answer a phone.
#[test]
fn cabin_up_answers_a_phone_through_its_embedded_broker() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let state = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(cabin_binary()).args(args).env("CABIN_PHONE_STATE", state.path()).env("CABIN_LOG", "error").output().unwrap()
    };
    let mut up = Reaped(
        cabin_command(&["up", "--mqtt-port", "0"])
            .env("CABIN_PHONE_STATE", state.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(up.0.stdout.take().unwrap()).lines();
    let broker = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| line.split("listens on ").nth(1).and_then(|rest| rest.split(';').next()).map(|a| format!("mqtt://{a}")))
        .expect("cabin up names its broker");

    // A stranger on the loopback broker (which checks no logins) takes the client ids a car
    // would have: the car's own are ones it cannot guess, so the car is not pushed off.
    let address = broker.trim_start_matches("mqtt://").rsplit_once(':').unwrap();
    let _strangers: Vec<_> = ["cabin-car-cabin-demo", "cabin-car-cabin-demo-events"]
        .into_iter()
        .map(|id| {
            let (client, mut connection) =
                rumqttc::v5::Client::new(rumqttc::v5::MqttOptions::new(id, address.0, address.1.parse().unwrap()), 10);
            std::thread::spawn(move || for _ in connection.iter() {});
            client
        })
        .collect();

    let shown = run(&["pair", "--no-qr", "--scopes", "read,ask,comfort"]);
    let code = stdout(&shown).split_whitespace().nth(2).unwrap().to_string();
    let phone_file = state.path().join("phone.json");
    let phone_file = phone_file.to_str().unwrap();
    let paired = run(&["phone", "--config", phone_file, "pair", &code, "--broker", &broker, "--vehicle-id", "cabin-demo"]);
    assert!(paired.status.success(), "{}", stderr(&paired));
    let asked = run(&["phone", "--config", phone_file, "ask", "set", "the", "temperature", "to", "twenty", "one"]);
    assert_eq!(stdout(&asked).trim(), "Setting the driver's side to 21 degrees.", "{}", stderr(&asked));
    // The phone asks in Mandarin and hears Mandarin; its scopes hold in either language.
    let asked = run(&["phone", "--config", phone_file, "ask", "把温度调到二十二度"]);
    assert_eq!(stdout(&asked).trim(), "好的，主驾温度调到22度。", "{}", stderr(&asked));
    let asked = run(&["phone", "--config", phone_file, "ask", "解锁车门"]);
    assert_eq!(stdout(&asked).trim(), "您的手机无权开关车锁。", "{}", stderr(&asked));

    drop(up.0.stdin.take());
}

#[test]
fn over_tls_only_certified_parties_talk() {
    let pki = Pki::new();
    let broker = Mosquitto::with_tls(&pki);
    let bus = PrivateBus::start().unwrap();
    let _vehicle = VehicleBus::start(&bus, &[]);
    let state = tempfile::tempdir().unwrap();
    let car_state = state.path().join("car");
    let phone_tls = |who: &str| {
        let flags = pki.flags(broker.port, who);
        flags[1]
            .parse::<cabin_phone_protocol::Broker>()
            .unwrap()
            .with_tls_files(
                &flags[1],
                Some(pki.dir.join("ca.pem").as_path()),
                Some((pki.dir.join(format!("{who}.pem")).as_path(), pki.dir.join(format!("{who}.key")).as_path())),
            )
            .unwrap()
    };
    let mut link_args: Vec<String> =
        ["serve", "phone-link", "--vehicle-id", VEHICLE, "--state-dir", car_state.to_str().unwrap()].map(String::from).to_vec();
    link_args.extend(pki.flags(broker.port, "car"));
    let link_args: Vec<&str> = link_args.iter().map(String::as_str).collect();
    let phone_broker = phone_tls("phone");
    let _link = Service::spawn_until(&bus, &link_args, move || retained_status_online_at(&phone_broker, VEHICLE));

    let shown = cabin(&bus, &["pair", "--scopes", "read", "--state-dir", car_state.to_str().unwrap()]);
    let code = stdout(&shown).split_whitespace().nth(2).unwrap().to_string();
    let phone_file = state.path().join("phone.json");
    let mut pair: Vec<String> =
        ["phone", "--config", phone_file.to_str().unwrap(), "pair", &code, "--vehicle-id", VEHICLE, "--name", "ana"]
            .map(String::from)
            .to_vec();
    pair.extend(pki.flags(broker.port, "phone"));
    let paired = cabin(&bus, &pair.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(paired.status.success(), "pairing over TLS: {}", stderr(&paired));

    // The TLS files were kept with the pairing: later commands need no flags.
    let speed = cabin(&bus, &["phone", "--config", phone_file.to_str().unwrap(), "--json", "get", "Vehicle.Speed"]);
    assert!(speed.status.success(), "{}", stderr(&speed));
    assert_eq!(json(&speed)["value"], 0.0);

    // A certificate from another CA does not get through the broker's door.
    let stranger = cabin(
        &bus,
        &[
            "phone",
            "--config",
            phone_file.to_str().unwrap(),
            "--client-cert",
            &pki.path("stranger.pem"),
            "--client-key",
            &pki.path("stranger.key"),
            "get",
            "Vehicle.Speed",
        ],
    );
    assert!(!stranger.status.success(), "a stranger read the car: {}", stdout(&stranger));
    assert!(stderr(&stranger).contains("cannot reach the broker"), "{}", stderr(&stranger));

    // Certificates on a plain URL are a mistake, said as such.
    let plain = cabin(&bus, &["serve", "phone-link", "--broker", &broker.url(), "--broker-ca", &pki.path("ca.pem")]);
    assert!(stderr(&plain).contains("a CA or client certificate needs TLS: use mqtts://"), "{}", stderr(&plain));
}
