//! Phone -> car -> phone over a real mosquitto on loopback: `signals.get` and `ask` round trips,
//! and how many requests per second the car answers when many phones ask at once.
//!
//! `RUSTFLAGS="-C target-cpu=native" cargo bench -p cabin --bench phone_link`

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cabin_assistant_service::{connect, Brain, BrainFiles};
use cabin_bench_support::{millis, percentile};
use cabin_models::ModelsDir;
use cabin_phone_client::PhoneClient;
use cabin_phone_link_service::{run, Handler, LinkOptions, Phones};
use cabin_phone_protocol::{random_hex, Broker, Paired, RequestBody, RequestKey, Scope};
use cabin_private_bus::PrivateBus;
use cabin_vehicle_bus_client::VehicleBusClient;
use cabin_vehicle_bus_service::{serve, ServeOptions};
use cabin_vehicle_config::VehicleConfig;

/// A phone paired as a pairing exchange leaves it (the exchange itself is timed apart).
fn pair(phones: &Phones, name: &str) -> Paired {
    let key = RequestKey::from_hex(&random_hex(32)).unwrap();
    let code = phones.start_pairing(Scope::ALL.into()).unwrap();
    let phone = phones.complete_pairing(name, Scope::ALL.into(), &key, &code).unwrap().unwrap();
    Paired { phone: phone.id, key: key.to_hex(), scopes: phone.scopes }
}

/// What signing a request costs the phone and checking it costs the car, per request.
fn mac_cost() -> Duration {
    let key = RequestKey::from_hex(&random_hex(32)).unwrap();
    let payload = br#"{"v":1,"id":"0123456789abcdef","phone":"0123456789abcdef","nonce":"0123456789abcdef01234567","ts":1796380722,"kind":"signals.get","path":"Vehicle.Speed"}"#;
    let started = Instant::now();
    for _ in 0..10_000 {
        let mac = key.sign_request("cabin/v1/bench-car/responses/0123456789abcdef", payload);
        assert!(key.verify_request("cabin/v1/bench-car/responses/0123456789abcdef", payload, &mac));
    }
    started.elapsed() / 10_000
}

/// The vision service on the bus, its camera a folder with one composed frame: the espresso
/// photo (public domain, the model's test data) on the rear left seat.
async fn start_vision(address: &str) -> (zbus::Connection, tempfile::TempDir) {
    let config = cabin_vision_service::VisionConfig::embedded();
    let finder =
        cabin_vision_service::load_finder(&ModelsDir::resolve(), &config, "defaults/vision.toml").unwrap_or_else(|e| panic!("{e}"));
    finder.prepare();
    let frames = tempfile::tempdir().unwrap();
    let photo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../services/vision/model/tests/data/coffee.png");
    let mut frame = cabin_vision_service::composite::empty_cabin();
    let regions = config.regions();
    let rear_left = regions.iter().find(|r| r.name == "rear_left").unwrap();
    cabin_vision_service::composite::place(&mut frame, rear_left, &image::open(photo).unwrap().to_rgb8(), 0.8);
    frame.save(frames.path().join("0001.png")).unwrap();
    let camera = cabin_camera::Camera::new(cabin_camera::CameraSource::Folder(frames.path().to_owned()));
    let connection = zbus::connection::Builder::address(address).unwrap().build().await.unwrap();
    cabin_vision_service::serve(cabin_vision_service::Vision::new(camera, finder, config.policy.clone()), &connection).await.unwrap();
    (connection, frames)
}

fn main() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // A broker set up as a production one would be: no Nagle delay on small messages (mosquitto's
    // default keeps it, which costs a delayed-ACK wait of 40 ms per round trip).
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(config.path(), format!("set_tcp_nodelay true\nlistener {port} 127.0.0.1\nallow_anonymous true\n")).unwrap();
    let start_broker = || {
        let child =
            Command::new("mosquitto").arg("-c").arg(config.path()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("mosquitto");
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            std::thread::sleep(Duration::from_millis(20));
        }
        child
    };
    let mut mosquitto = start_broker();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let bus = PrivateBus::start().unwrap();
        let _vehicle =
            serve(VehicleConfig::embedded(), ServeOptions { bus_address: Some(bus.address().to_string()), ..ServeOptions::default() })
                .await
                .unwrap();
        let brain =
            Brain::load(&ModelsDir::resolve(), &BrainFiles::default(), &VehicleConfig::embedded()).unwrap_or_else(|e| panic!("{e}"));
        let _assistant = connect(Some(bus.address()), Some(brain)).await.unwrap();
        let (_vision, _frames) = start_vision(bus.address()).await;
        let link_connection = zbus::connection::Builder::address(bus.address())
            .unwrap()
            .name(cabin_phone_link_service::BUS_NAME)
            .unwrap()
            .build()
            .await
            .unwrap();
        let state = tempfile::tempdir().unwrap();
        let phones = Phones::new(state.path());
        let handler = Arc::new(Handler::new("bench-car".into(), phones.clone(), VehicleBusClient::on(link_connection).await.unwrap()));
        let broker: Broker = format!("mqtt://127.0.0.1:{port}").parse().unwrap();
        tokio::spawn(run(LinkOptions::new(broker.clone(), "bench-car"), handler));

        let paired = pair(&phones, "bench");
        let phone = PhoneClient::connect(&broker, "bench-car");
        // Wait for both ends to be subscribed.
        while phone.request(&paired, RequestBody::Ping).await.is_err() {}

        // Requests spread over many paired phones, so that the per-phone rate limit (10/s, bursts
        // of 20) does not shape the latency figures.
        let crowd: Vec<Paired> = (0..100).map(|i| pair(&phones, &format!("phone {i}"))).collect();
        // Each phone's answers come on its own topic: subscribed once, before the timing.
        for paired in &crowd {
            phone.request(paired, RequestBody::Ping).await.unwrap();
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut gets = Vec::new();
        for i in 0..1000 {
            let started = Instant::now();
            phone.request(&crowd[i % crowd.len()], RequestBody::SignalsGet { path: "Vehicle.Speed".into() }).await.unwrap();
            gets.push(started.elapsed());
        }
        let mut pings = Vec::new();
        for i in 0..200 {
            let started = Instant::now();
            phone.request(&crowd[i % crowd.len()], RequestBody::Ping).await.unwrap();
            pings.push(started.elapsed());
        }
        let mut asks = Vec::new();
        for asker in &crowd[..40] {
            let started = Instant::now();
            let answer = phone.request(asker, RequestBody::Ask { text: "set the temperature to twenty one".into() }).await.unwrap();
            asks.push(started.elapsed());
            assert_eq!(answer["reply"], "Setting the driver's side to 21 degrees.");
        }
        let mut looks = Vec::new();
        for asker in &crowd[..20] {
            let started = Instant::now();
            let answer = phone.request(asker, RequestBody::Ask { text: "is my cup in the car".into() }).await.unwrap();
            looks.push(started.elapsed());
            assert!(answer["reply"].as_str().unwrap().starts_with("Yes, I can see your cup on the rear left seat"), "{answer}");
        }
        tokio::time::sleep(Duration::from_secs(2)).await;

        // Many phones at once, each within its burst: what the car sustains.
        let started = Instant::now();
        let requests = crowd
            .iter()
            .flat_map(|p| (0..10).map(move |_| p))
            .map(|p| phone.request(p, RequestBody::SignalsGet { path: "Vehicle.Speed".into() }));
        let answers = futures_util::future::join_all(requests).await;
        let elapsed = started.elapsed().as_secs_f64();
        let ok = answers.iter().filter(|a| a.is_ok()).count();
        let mut failures: Vec<String> = answers.iter().filter_map(|a| a.as_ref().err()).map(|e| e.to_string()).collect();
        failures.dedup();

        for (round_trip, samples) in [
            ("signals.get round trip (1,000):     ", &gets),
            ("ping round trip (200):              ", &pings),
            ("ask round trip (40, assistant):     ", &asks),
            ("ask with the camera (\"is my cup in the car\", 20):", &looks),
        ] {
            let samples = millis(samples);
            println!("{round_trip} p50 {:.2} ms, p99 {:.2} ms", percentile(&samples, 0.5), percentile(&samples, 0.99));
        }
        println!("request MAC, signed and checked:     {:.1} µs per request", mac_cost().as_secs_f64() * 1e6);
        println!("100 phones x 10 requests at once:    {ok}/1000 answered in {elapsed:.2} s = {:.0} requests/s", ok as f64 / elapsed);
        for failure in failures.iter().take(3) {
            println!("  refused: {failure}");
        }

        // Reliability: steady requests from 30 phones while the broker is killed and restarted twice.
        let (mut answered, mut unanswered) = (0, 0);
        let started = Instant::now();
        for i in 0..300 {
            if i == 100 || i == 200 {
                let _ = mosquitto.kill();
                let _ = mosquitto.wait();
                tokio::time::sleep(Duration::from_secs(1)).await;
                mosquitto = start_broker();
            }
            match phone.request(&crowd[i % 30], RequestBody::Ping).await {
                Ok(_) => answered += 1,
                Err(_) => unanswered += 1,
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        println!(
            "300 requests, broker killed twice:   {answered} answered, {unanswered} unanswered ({:.1} s)",
            started.elapsed().as_secs_f64()
        );
    });
    let _ = mosquitto.kill();
    let _ = mosquitto.wait();
}
