//! The vision end to end: `cabin look` on an image, and `cabin serve vision` answering the
//! assistant's "is my cup in the car?" from a folder camera, as real processes on a private
//! dbus-daemon. A composed cabin frame (a public-domain photo of an espresso on the rear left
//! seat) stands in for the camera. Needs `cabin models fetch efficientnet-lite0
//! imagenet-labels minilm`.

mod support;

use base64::Engine as _;
use serde_json::json;
use support::cloud::{Scripted, ScriptedCloud};
use support::*;

#[test]
fn look_finds_the_cup_on_its_seat_and_refuses_bad_input_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let frame = frame_with_a_cup(dir.path());
    let frame = frame.to_str().unwrap();
    let bus = PrivateBus::start().unwrap();
    let found = json(&cabin(&bus, &["look", frame, "cup", "--json"]));
    assert_eq!(found["found"], true, "{found}");
    assert_eq!(found["region"], "rear_left", "{found}");
    let hat = cabin(&bus, &["look", frame, "hat"]);
    assert_eq!(hat.status.code(), Some(1), "not found exits 1: {}", stdout(&hat));
    assert!(stdout(&hat).starts_with("no: no hat seen"), "{}", stdout(&hat));

    let truncated = dir.path().join("truncated.png");
    std::fs::write(&truncated, &std::fs::read(frame).unwrap()[..2000]).unwrap();
    let broken = cabin(&bus, &["look", truncated.to_str().unwrap(), "cup"]);
    assert!(!broken.status.success());
    assert!(stderr(&broken).contains("truncated.png: not a readable image"), "{}", stderr(&broken));
    let unknown = cabin(&bus, &["look", frame, "unicorn"]);
    assert!(stderr(&unknown).contains("I don't know what \"unicorn\" looks like"), "{}", stderr(&unknown));
    let described = json(&cabin(&bus, &["look", frame, "--describe", "--json"]));
    assert_eq!(described[0]["label"], "cup", "{described}");
    assert_eq!(described[0]["region"], "rear_left", "{described}");
    // How sure, as the answer says it, not the detector's raw score.
    if found["answered_by"] == "detector" {
        assert_eq!(described[0]["confidence"], found["confidence"], "{described} {found}");
    }
    assert_ne!(described[0]["confidence"], described[0]["score"], "{described}");
    let front = cabin(&bus, &["look", frame, "--describe", "--region", "front"]);
    assert!(stderr(&front).contains("no region \"front\""), "{}", stderr(&front));
    let region = cabin(&bus, &["look", frame, "cup", "--region", "roof"]);
    assert!(stderr(&region).contains("no region \"roof\""), "{}", stderr(&region));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_assistant_looks_through_the_camera_and_says_so_when_it_cannot() {
    let dir = tempfile::tempdir().unwrap();
    frame_with_a_cup(dir.path());
    let camera = dir.path().to_str().unwrap();
    let bus = PrivateBus::start().unwrap();
    let _vehicle = tokio::task::block_in_place(|| Service::start(&bus, &[]));
    let _assistant = tokio::task::block_in_place(|| Service::assistant(&bus, &[]));
    let vision = tokio::task::block_in_place(|| Service::vision(&bus, &["--camera", camera]));

    let connection = zbus::connection::Builder::address(bus.address()).unwrap().build().await.unwrap();
    let assistant = cabin_assistant_client::AssistantProxy::new(&connection).await.unwrap();
    let (reply, turn) = assistant.converse("is my cup in the car").await.unwrap();
    assert!(reply.starts_with("Yes, I can see your cup on the rear left seat ("), "{reply} {turn}");
    let (reply, _) = assistant.converse("is my hat in the car").await.unwrap();
    assert_eq!(reply, "I can't see your hat in the car.");
    let (reply, _) = assistant.converse("is my unicorn in the car").await.unwrap();
    assert_eq!(reply, "I don't know what that looks like, so I can't look for your unicorn.");
    // No object: the camera says what it sees, in the car or on the seats asked about.
    let (reply, turn) = assistant.converse("did I leave anything in the car?").await.unwrap();
    assert_eq!(reply, "I can see a cup on the rear left seat.", "{turn}");
    let (reply, _) = assistant.converse("is my cup on the back seat?").await.unwrap();
    assert!(reply.starts_with("Yes, I can see your cup on the rear left seat ("), "{reply}");
    let (reply, _) = assistant.converse("what's on the back seat?").await.unwrap();
    assert_eq!(reply, "I can see a cup on the rear left seat.");
    // And in Mandarin: the driver's word, the seat and the answer in Chinese.
    let (reply, turn) = assistant.converse("我的杯子在车里吗").await.unwrap();
    assert!(reply.starts_with("看到了，您的杯子在后排左侧座位上（把握"), "{reply} {turn}");
    let (reply, _) = assistant.converse("后排有什么东西").await.unwrap();
    assert_eq!(reply, "我看到后排左侧座位上有杯子。");
    let (reply, _) = assistant.converse("我的帽子在车里吗").await.unwrap();
    assert_eq!(reply, "我在车里没看到您的帽子。");

    // The service goes away: the assistant says it cannot look; it comes back: it can.
    tokio::task::block_in_place(|| drop(vision));
    let (reply, _) = assistant.converse("is my cup in the car").await.unwrap();
    assert_eq!(reply, "I can't look in the cabin right now: the camera is not responding.");
    let _vision = tokio::task::block_in_place(|| Service::vision(&bus, &["--camera", camera]));
    let (reply, _) = assistant.converse("is my cup in the car").await.unwrap();
    assert!(reply.starts_with("Yes, I can see your cup"), "{reply}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_camera_is_a_spoken_excuse_and_snapshots_stay_in_the_car() {
    let bus = PrivateBus::start().unwrap();
    let _vehicle = tokio::task::block_in_place(|| Service::start(&bus, &[]));
    let _assistant = tokio::task::block_in_place(|| Service::assistant(&bus, &[]));
    let _vision = tokio::task::block_in_place(|| Service::vision(&bus, &["--camera", "/dev/video-cabin-test-absent"]));
    let connection = zbus::connection::Builder::address(bus.address()).unwrap().build().await.unwrap();
    let assistant = cabin_assistant_client::AssistantProxy::new(&connection).await.unwrap();
    let (reply, _) = assistant.converse("is my cup in the car").await.unwrap();
    assert_eq!(reply, "I can't look in the cabin right now: the camera is not responding.");

    let snapshot = cabin_vision_client::VisionProxy::new(&connection).await.unwrap().snapshot("").await.unwrap_err();
    assert!(matches!(&snapshot, cabin_vision_client::VisionError::NotAllowed(_)), "{snapshot}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_leaves_the_car_only_when_the_owner_allows_it() {
    let dir = tempfile::tempdir().unwrap();
    frame_with_a_cup(dir.path());
    let allowing = cabin_vision_service::DEFAULT_CONFIG.replace("frames_leave_car = false", "frames_leave_car = true");
    let (_config_dir, config) = temp_file("vision.toml", &allowing);
    let bus = PrivateBus::start().unwrap();
    let _vision = tokio::task::block_in_place(|| {
        Service::vision(&bus, &["--camera", dir.path().to_str().unwrap(), "--vision-config", config.to_str().unwrap()])
    });
    let connection = zbus::connection::Builder::address(bus.address()).unwrap().build().await.unwrap();
    let vision = cabin_vision_client::VisionProxy::new(&connection).await.unwrap();
    let snapshot = |region: &'static str| vision.snapshot(region);
    let jpeg = snapshot("rear_left").await.unwrap();
    let image = image::load_from_memory(&jpeg).unwrap();
    // The rear left region is 34 % by 45 % of the 960×540 frame.
    assert_eq!((image.width(), image.height()), (326, 243));
    let error = snapshot("roof").await.unwrap_err();
    assert!(matches!(&error, cabin_vision_client::VisionError::UnknownRegion(_)), "{error}");
}

/// How much neighbouring pixels differ on average in a rectangle of `image`: the detail a face
/// needs to be recognised.
fn detail(image: &image::RgbImage, x: std::ops::Range<u32>, y: std::ops::Range<u32>) -> f64 {
    let (mut sum, mut count) = (0.0, 0.0);
    for y in y {
        for x in x.clone() {
            let (a, b) = (image.get_pixel(x, y), image.get_pixel(x + 1, y));
            sum += (0..3).map(|c| (f64::from(a[c]) - f64::from(b[c])).abs()).sum::<f64>();
            count += 3.0;
        }
    }
    sum / count
}

#[tokio::test(flavor = "multi_thread")]
async fn what_the_car_cannot_tell_goes_to_the_cloud_as_seat_photos_with_faces_blurred_only_when_allowed() {
    // A person on the driver's seat (NASA's public-domain portrait of Eileen Collins).
    let dir = tempfile::tempdir().unwrap();
    frame_with(dir.path(), "astronaut.png", "driver");
    let camera = dir.path().to_str().unwrap();
    let cloud = ScriptedCloud::start(vec![Scripted::Says(json!({"role": "assistant", "content": "{\"found\": true, \"photo\": 3}"}))]);
    let (_routing_dir, routing) = routing_policy(&[
        ("enabled = false", "enabled = true"),
        ("url = \"\"", &format!("url = \"{}\"", cloud.url)),
        ("low_confidence = true", "low_confidence = true\ntimeout_ms = 60000"),
        ("camera = false", "camera = true"),
    ]);
    let allowing = cabin_vision_service::DEFAULT_CONFIG.replace("frames_leave_car = false", "frames_leave_car = true");
    let (_config_dir, config) = temp_file("vision.toml", &allowing);
    let bus = PrivateBus::start().unwrap();
    let _vehicle = tokio::task::block_in_place(|| Service::start(&bus, &[]));
    let _assistant = tokio::task::block_in_place(|| Service::assistant(&bus, &["--routing", routing.to_str().unwrap()]));
    let vision = tokio::task::block_in_place(|| Service::vision(&bus, &["--camera", camera, "--vision-config", config.to_str().unwrap()]));
    let connection = zbus::connection::Builder::address(bus.address()).unwrap().build().await.unwrap();
    let assistant = cabin_assistant_client::AssistantProxy::new(&connection).await.unwrap();

    let (reply, turn) = assistant.converse("is my red scarf in the car").await.unwrap();
    assert_eq!(reply, "The cloud model sees your red scarf on the rear left seat.", "{turn}");
    let requests = cloud.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let parts = requests[0]["messages"][1]["content"].as_array().unwrap_or_else(|| panic!("{}", requests[0]));
    assert!(parts[0]["text"].as_str().unwrap().contains("red scarf"), "{}", parts[0]);
    let photos: Vec<image::RgbImage> = parts[1..]
        .iter()
        .map(|part| {
            let url = part["image_url"]["url"].as_str().unwrap();
            let jpeg = base64::engine::general_purpose::STANDARD.decode(url.strip_prefix("data:image/jpeg;base64,").unwrap()).unwrap();
            image::load_from_memory(&jpeg).unwrap().to_rgb8()
        })
        .collect();
    // One photo per seat, each only that seat: the rear ones 34 % by 45 % of the 960×540 frame.
    let sizes: Vec<(u32, u32)> = photos.iter().map(|p| p.dimensions()).collect();
    assert_eq!(sizes, [(326, 243), (326, 243), (326, 243), (432, 324), (432, 324)], "rear right, middle, left, passenger, driver");
    // The driver's face is blurred in what left the car, and sharp in the owner's own snapshot.
    let vision_proxy = cabin_vision_client::VisionProxy::new(&connection).await.unwrap();
    let own = image::load_from_memory(&vision_proxy.snapshot("driver").await.unwrap()).unwrap().to_rgb8();
    let (face_x, face_y) = (150..280, 50..150);
    let (sharp, sent) = (detail(&own, face_x.clone(), face_y.clone()), detail(&photos[4], face_x, face_y));
    assert!(sent < sharp / 3.0, "the face left the car with detail {sent:.1} (the snapshot's: {sharp:.1})");

    // The owner's policy keeps frames in the car: no bytes leave, and the car says why.
    tokio::task::block_in_place(|| drop(vision));
    let _vision = tokio::task::block_in_place(|| Service::vision(&bus, &["--camera", camera]));
    let (reply, _) = assistant.converse("is my red scarf in the car").await.unwrap();
    assert_eq!(
        reply,
        "I don't know what that looks like, and I can't ask the cloud model: the owner's policy keeps camera frames in the car. So I can't look for your red scarf."
    );
    assert_eq!(cloud.requests().len(), 1, "a frame left the car against the owner's policy");
}
