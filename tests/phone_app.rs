//! The owner's phone app in a real browser (Debian's headless Chromium through ChromeDriver),
//! against a real mosquitto, the real car services on a private dbus-daemon, and `cabin serve
//! phone-app` serving the app and bridging its WebSocket to the broker. Every test ends with no
//! console errors; screenshots of the main screens land in the target's tmp folder.

#[path = "support/browser.rs"]
mod browser;
mod support;

use std::time::Duration;

use browser::{Browser, CarWithApp};
use support::*;

const TEMPERATURE: &str = "Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature";
const DRIVER_LOCK: &str = "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked";

/// Waits for the next notice on a topic ending in `topic`.
async fn heard(notices: &mut tokio::sync::broadcast::Receiver<cabin_phone_client::Notice>, topic: &str) {
    while !notices.recv().await.unwrap().topic.ends_with(topic) {}
}

/// The next hand-off answer the car announces on D-Bus: (outcome, what the car says).
async fn next_answer(answered: &mut cabin_phone_link_service::HandOffAnsweredStream) -> (String, String) {
    use futures_util::StreamExt;
    let signal = tokio::time::timeout(Duration::from_secs(30), answered.next()).await.expect("the car hears the answer").unwrap();
    let args = signal.args().unwrap();
    (args.outcome().to_string(), args.words().to_string())
}

async fn no_console_errors(browser: &Browser) {
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_owner_pairs_by_typed_code_sees_the_car_asks_it_and_finds_the_cup_on_its_seat() {
    let car = CarWithApp::start(Some(("coffee.png", "rear_left")));
    let browser = Browser::start().await;
    car.pair(&browser, "read,ask,comfort,camera").await;

    // Home: the car's own readings, kept live.
    browser.text_when("status-locked", |s| s == "Locked").await;
    browser.text_when("status-inside", |s| s.ends_with("°C")).await;
    browser.text_when("status-range", |s| s.ends_with("km")).await;
    browser.screenshot("home").await;

    // Asking: the car's words and what it did, and the car really did it.
    browser.type_into("ask-text", "set the temperature to twenty two").await;
    browser.click("#ask-form button[type=submit]").await;
    let reply = browser.text_when("ask-reply", |s| s.contains("22")).await;
    assert!(reply.starts_with("Setting"), "{reply}");
    browser.text_when("ask-done", |s| s.contains(TEMPERATURE)).await;
    car.signal_becomes(TEMPERATURE, 22.into());
    browser.screenshot("ask").await;

    // The camera: the seat map marks where the cup is, and the snapshot is refused in words
    // (the default policy keeps frames in the car).
    browser.type_into("find-object", "cup").await;
    browser.click("#find-form button[type=submit]").await;
    browser.text_when("find-answer", |s| s.contains("rear left seat")).await;
    let marked = browser.run("return [...document.querySelectorAll('.seat.seen')].map(s => s.dataset.region)").await;
    assert_eq!(marked, serde_json::json!(["rear_left"]));
    browser.click("#snapshot").await;
    let refused = browser.text_when("snapshot-reason", |s| !s.is_empty()).await;
    assert_eq!(refused, "No picture: the camera: the owner's policy keeps camera frames in the car");
    assert!(!browser.shown("#snapshot-image").await, "no picture leaves the car: {refused}");
    browser.screenshot("find").await;

    // Comfort is granted, access is not: only the controls the phone may use are offered.
    assert!(browser.shown("button[data-action=warm]").await);
    assert!(!browser.shown("button[data-action=unlock]").await, "a phone without `access` is offered no unlock");
    browser.click("button[data-action=cool]").await;
    browser.text_when("control-result", |s| s.ends_with("done.")).await;
    car.signal_becomes(TEMPERATURE, 19.into());
    no_console_errors(&browser).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_phone_that_may_only_ask_hears_the_refusal_in_the_cars_words_and_is_offered_no_controls() {
    let car = CarWithApp::start(None);
    let browser = Browser::start().await;
    car.pair(&browser, "read,ask").await;
    assert!(!browser.shown("#controls").await && !browser.shown("#find").await);
    browser.type_into("ask-text", "unlock the doors").await;
    browser.click("#ask-form button[type=submit]").await;
    let reply = browser.text_when("ask-reply", |s| !s.is_empty() && s != "Asking…").await;
    assert_eq!(reply, "Your phone may not change the locks.");
    assert_eq!(car.signal(DRIVER_LOCK), true, "and the doors stay locked");
    browser.screenshot("refused").await;
    no_console_errors(&browser).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn what_the_car_said_while_the_app_was_closed_is_shown_once_when_it_opens() {
    let car = CarWithApp::start(Some(("chelsea.png", "rear_left")));
    let browser = Browser::start().await;
    // Events say what the camera saw: a phone without the camera scope is told none.
    car.pair(&browser, "read,camera").await;
    browser.goto("about:blank").await;

    // A listener of our own sees the car send the event while the app is closed.
    let listener = cabin_phone_client::PhoneClient::connect(&car.car.broker.url().parse().unwrap(), VEHICLE);
    let mut notices = listener.notices();
    tokio::time::timeout(Duration::from_secs(30), heard(&mut notices, "/status")).await.expect("the listener hears the car");
    let locked = tokio::task::block_in_place(|| cabin(&car.car.bus, &["signals", "set", DRIVER_LOCK, "true"]));
    assert!(locked.status.success(), "{}", stderr(&locked));
    tokio::time::timeout(Duration::from_secs(60), heard(&mut notices, "/events")).await.expect("the car sends left_behind");
    // A stranger's event waits in the app's session too; the car did not sign it.
    let forged = serde_json::json!({"v": 1, "id": "forged", "at": 1, "kind": "person_inside", "region": "driver", "confidence": 0.99});
    publish_as_a_stranger(car.car.broker.port, format!("cabin/v1/{VEHICLE}/events"), forged.to_string()).await;

    browser.goto(&car.url).await;
    let feed = browser.text_when("event-feed", |s| s.contains("cat")).await;
    assert!(feed.contains("rear left seat"), "{feed}");
    browser.screenshot("events").await;
    // Opened again: the same event, once.
    browser.goto(&car.url).await;
    browser.text_when("link-state", |s| s == "Ana's car is online").await;
    let entries = browser.run("return document.querySelectorAll('#event-feed li').length").await;
    assert_eq!(entries, 1, "the car's event, once, and not the stranger's");
    no_console_errors(&browser).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_broker_going_away_shows_unreachable_and_the_app_comes_back_with_it() {
    let mut car = CarWithApp::start(None);
    let browser = Browser::start().await;
    car.pair(&browser, "read").await;
    tokio::task::block_in_place(|| car.car.broker.stop());
    browser.text_when("link-state", |s| s.starts_with("Broker unreachable")).await;
    browser.screenshot("unreachable").await;
    tokio::task::block_in_place(|| car.car.broker.start_again());
    browser.text_when("link-state", |s| s == "Ana's car is online").await;
    browser.text_when("status-locked", |s| s == "Locked").await;
    no_console_errors(&browser).await;
}

/// Publishes `payload` on `topic` as a stranger on the broker would: no key, no MAC.
async fn publish_as_a_stranger(port: u16, topic: String, payload: String) {
    use rumqttc::v5::{mqttbytes::QoS, AsyncClient, MqttOptions};
    let (client, mut eventloop) = AsyncClient::new(MqttOptions::new("stranger", "127.0.0.1", port), 10);
    client.publish(topic, QoS::AtLeastOnce, false, payload).await.unwrap();
    let sent = async {
        loop {
            if let rumqttc::v5::Event::Incoming(rumqttc::v5::mqttbytes::v5::Packet::PubAck(_)) = eventloop.poll().await.unwrap() {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), sent).await.expect("the broker took the stranger's message");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_driver_hands_directions_to_the_phone_and_the_car_hears_what_the_owner_did() {
    let car = CarWithApp::start(None);
    let browser = Browser::start().await;
    car.pair(&browser, "read").await;
    let connection = zbus::connection::Builder::address(car.car.bus.address()).unwrap().build().await.unwrap();
    let mut answered = cabin_phone_link_service::PhoneLinkProxy::new(&connection).await.unwrap().receive_hand_off_answered().await.unwrap();
    // A stranger on the broker cannot put a card on the phone: it is not signed with its key.
    let phone = browser.run("return JSON.parse(localStorage.getItem('cabin.cars'))[0].phone").await;
    let forged = r#"{"v":1,"handoff":"f00d","at":1,"task":"directions","destination":"a phishing site"}"#;
    publish_as_a_stranger(car.car.broker.port, format!("cabin/v1/{VEHICLE}/responses/{}", phone.as_str().unwrap()), forged.into()).await;

    // The driver asks by voice (here by D-Bus, as the voice does); the destination comes from
    // the navigation just set.
    let assistant = cabin_assistant_client::AssistantProxy::new(&connection).await.unwrap();
    assistant.converse("navigate to shenzhen").await.unwrap();
    let (reply, _) = assistant.converse("send the destination to my phone").await.unwrap();
    assert_eq!(reply, "I've sent the directions to shenzhen to your phone: tap the card to open them.");
    let card = browser.text_when("handoff-cards", |s| s.contains("shenzhen")).await;
    assert!(!card.contains("phishing"), "{card}");
    assert_eq!(browser.run("return document.querySelectorAll('#handoff-cards li').length").await, 1);
    browser.screenshot("handoff").await;

    // The owner's tap opens the directions and tells the car, which says so.
    browser.click("button[data-take]").await;
    assert_eq!(next_answer(&mut answered).await, ("done".to_string(), "Your phone has the directions to shenzhen.".to_string()));
    browser.text_when("handoff-result", |s| s == "Your car says: Your phone has the directions to shenzhen.").await;
    assert!(!browser.shown("#handoffs").await, "an answered card goes away");
    let tabs = browser.client.windows().await.unwrap();
    assert_eq!(tabs.len(), 2, "the directions opened in a tab of their own");

    // "Not now" is an answer too.
    let (reply, _) = assistant.converse("send the directions to the museum to my phone").await.unwrap();
    assert!(reply.contains("museum"), "{reply}");
    browser.text_when("handoff-cards", |s| s.contains("museum")).await;
    browser.click("button[data-decline]").await;
    assert_eq!(
        next_answer(&mut answered).await,
        ("declined".to_string(), "You declined the directions to museum on your phone.".to_string())
    );

    // Sharing the arrival: the card holds the message, to the destination just sent. Debian's
    // Chromium has no Web Share, and the car hears so rather than a pretended "done"; not the
    // phone's words for why, as this phone may only read: a phone that may not send a note may
    // not word what the car says (an attacker's read-only phone had it say "the brakes have
    // failed").
    let (reply, _) = assistant.converse("share my arrival time with ana").await.unwrap();
    assert_eq!(reply, "Your phone has a card to tell ana you're on your way to museum: tap it to send.");
    let card = browser.text_when("handoff-cards", |s| s.contains("ana")).await;
    assert_eq!(card.lines().next().unwrap(), "Tell ana: “I'm on my way to museum.”");
    browser.click("button[data-take]").await;
    assert_eq!(
        next_answer(&mut answered).await,
        ("failed".to_string(), "Your phone could not take your arrival time for ana.".to_string())
    );
    no_console_errors(&browser).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_owner_pairs_by_scanning_the_qr_code_cabin_pair_shows() {
    let car = CarWithApp::start(None);
    let screen = car.pair_screen("read,ask");
    let dir = tempfile::tempdir().unwrap();
    let browser = Browser::start_with_camera(&browser::camera_on_terminal_qr(&screen, dir.path())).await;
    browser.goto(&car.url).await;
    browser.click("#scan").await;
    browser.text_when("link-state", |s| s == format!("{VEHICLE} is online")).await;
    browser.screenshot("paired-by-qr").await;
    assert!(!browser.shown("#scanner").await, "the camera stops once the code is read");
    let scopes = browser.run("return JSON.parse(localStorage.getItem('cabin.cars'))[0].scopes").await;
    assert_eq!(scopes, serde_json::json!(["read", "ask"]));
    // The code is used up: a second scan of the same screen is refused in words.
    browser.run("localStorage.clear(); return null").await;
    browser.goto(&car.url).await;
    browser.click("#scan").await;
    let refused = browser.text_when("pair-error", |s| !s.is_empty()).await;
    assert_eq!(refused, "no pairing is in progress: run `cabin pair` in the car");
    no_console_errors(&browser).await;
}

/// Says `text` to the voice service as the driver would, through the microphone's path.
async fn say(voice: &cabin_voice_service::VoiceProxy<'_>, text: &str) {
    use cabin_voice_corpus::{mix_at_snr, padded, speak, HELD_OUT_VOICES};
    let audio = mix_at_snr(&padded(&speak(text, &HELD_OUT_VOICES[0]), 0.8, 1.0), 20.0, 3);
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("said.wav");
    cabin_audio::write_wav(&wav, &audio).unwrap();
    let heard = voice.hear(std::fs::read(&wav).unwrap()).await.unwrap();
    assert!(heard.contains("\"command\""), "`{text}` was not heard as a command: {heard}");
}

async fn next_said(speaking: &mut cabin_voice_service::SpeakingStream) -> String {
    use futures_util::StreamExt;
    let signal = tokio::time::timeout(Duration::from_secs(60), speaking.next()).await.expect("speech within 60 s").unwrap();
    signal.args().unwrap().text().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_driver_asks_aloud_for_a_reminder_hears_the_owners_answer_and_hears_what_the_phone_sends() {
    let car = CarWithApp::start(None);
    let _voice = tokio::task::block_in_place(|| Service::voice(&car.car.bus, &["--threads", "1"]));
    let browser = Browser::start().await;
    car.pair(&browser, "read,ask,comfort").await;
    let connection = zbus::connection::Builder::address(car.car.bus.address()).unwrap().build().await.unwrap();
    let voice = cabin_voice_service::VoiceProxy::new(&connection).await.unwrap();
    let mut speaking = voice.receive_speaking().await.unwrap();

    // On the move, by voice: the reminder goes to the phone as a card.
    assert!(tokio::task::block_in_place(|| cabin(&car.car.bus, &["sim", "drive", "50", "--ramp", "0"])).status.success());
    car.signal_becomes("Vehicle.IsMoving", true.into());
    say(&voice, "hey cabin, remind me to take my umbrella when i park").await;
    let reply = next_said(&mut speaking).await;
    assert!(reply.contains("umbrella") && reply.contains("your phone"), "{reply}");
    let card = browser.text_when("handoff-cards", |s| s.contains("umbrella")).await;
    assert!(card.contains("when the car is parked"), "{card}");
    browser.click("button[data-take]").await;
    assert_eq!(next_said(&mut speaking).await, "Your phone will remind you when the car is parked: take my umbrella.");

    // Not while driving; once parked, the phone reminds the owner.
    // Deliberately waits past a status refresh (every 5 s) while moving: nothing may appear.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(!browser.text_when("event-feed", |_| true).await.contains("umbrella"), "no reminder while driving");
    assert!(tokio::task::block_in_place(|| cabin(&car.car.bus, &["sim", "park"])).status.success());
    browser.text_when("event-feed", |s| s.contains("Parked. Your reminder: take my umbrella")).await;

    // "Send to car": a destination for the navigation and a note, each said to the driver.
    browser.type_into("send-destination", "12 Harbour Street").await;
    browser.click("#send-destination-form button[type=submit]").await;
    assert_eq!(next_said(&mut speaking).await, "Owner's phone sent a destination: 12 Harbour Street.");
    let head_unit = cabin_vehicle_bus_service::HeadUnitProxy::new(&connection).await.unwrap();
    let state: serde_json::Value = serde_json::from_str(&head_unit.describe().await.unwrap()).unwrap();
    assert_eq!(state["destination"], "12 Harbour Street");
    browser.type_into("send-note", "the kids are at grandma's").await;
    browser.click("#send-note-form button[type=submit]").await;
    assert_eq!(next_said(&mut speaking).await, "A note from Owner's phone: the kids are at grandma's");
    browser.text_when("send-result", |s| s.starts_with("Sent.")).await;
    browser.screenshot("send-to-car").await;
    no_console_errors(&browser).await;
}
