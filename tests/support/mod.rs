//! What the end-to-end tests start for themselves: a private dbus-daemon and real `cabin`
//! processes on it.

#![allow(dead_code)]

pub mod cloud;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cabin_phone_client::PhoneClient;
use cabin_phone_protocol::Paired;
pub use cabin_private_bus::PrivateBus;

pub const WINDOW: &str = "Vehicle.Cabin.Door.Row1.DriverSide.Window.Position";

pub fn cabin_binary() -> &'static str {
    env!("CARGO_BIN_EXE_cabin")
}

pub fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}

/// `cabin ARGS` as the tests run it: only errors in its log, and no memory of its own unless
/// the test names a file (the default is the user's).
pub fn cabin_command(args: &[&str]) -> Command {
    let mut command = Command::new(cabin_binary());
    command.args(args).env("CABIN_LOG", "error").env("CABIN_MEMORY", "off");
    command
}

/// Runs `cabin ARGS` against `bus` and waits for it.
pub fn cabin(bus: &PrivateBus, args: &[&str]) -> Output {
    cabin_command(args).env("DBUS_SYSTEM_BUS_ADDRESS", bus.address()).stdin(Stdio::null()).output().expect("cabin runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A command's stdout as JSON.
pub fn json(output: &Output) -> serde_json::Value {
    let text = stdout(output);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}; stderr: {}", stderr(output)))
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A `cabin serve ...` process, stopped when dropped.
pub struct Service {
    child: Child,
}

pub type VehicleBus = Service;

impl Service {
    /// Kills the service (its bus name goes with it), as a crash or a restart would.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `cabin serve vehicle-bus ARGS`, once it owns its name (taken last: it answers then).
    pub fn start(bus: &PrivateBus, args: &[&str]) -> Service {
        let address = bus.address().to_string();
        Service::spawn_until(bus, &[&["serve", "vehicle-bus"], args].concat(), move || name_has_owner(&address, "org.cabin.VehicleBus1"))
    }

    /// `cabin serve assistant ARGS`, once it owns its bus name.
    pub fn assistant(bus: &PrivateBus, args: &[&str]) -> Service {
        let address = bus.address().to_string();
        Service::spawn_until(bus, &[&["serve", "assistant"], args].concat(), move || name_has_owner(&address, "org.cabin.Assistant1"))
    }

    /// `cabin serve voice --input none ARGS` (audio only through `Hear`), once it owns its name.
    pub fn voice(bus: &PrivateBus, args: &[&str]) -> Service {
        let address = bus.address().to_string();
        Service::spawn_until(bus, &[&["serve", "voice", "--input", "none"], args].concat(), move || {
            name_has_owner(&address, "org.cabin.Voice1")
        })
    }

    /// `cabin serve vision ARGS`, once it owns its name.
    pub fn vision(bus: &PrivateBus, args: &[&str]) -> Service {
        let address = bus.address().to_string();
        Service::spawn_until(bus, &[&["serve", "vision"], args].concat(), move || name_has_owner(&address, "org.cabin.Vision1"))
    }

    /// `cabin serve voice --input - ARGS`, once it owns its name, and its microphone: a pipe
    /// for 16 kHz 16-bit mono PCM.
    pub fn voice_on_stdin(bus: &PrivateBus, args: &[&str]) -> (Service, std::process::ChildStdin) {
        let address = bus.address().to_string();
        let args = [&["serve", "voice", "--input", "-"], args].concat();
        let mut service = Service::spawn_with(bus, &args, Stdio::piped(), move || name_has_owner(&address, "org.cabin.Voice1"));
        let microphone = service.child.stdin.take().expect("piped");
        (service, microphone)
    }

    pub fn spawn_until(bus: &PrivateBus, args: &[&str], ready: impl Fn() -> bool) -> Service {
        Service::spawn_with(bus, args, Stdio::null(), ready)
    }

    fn spawn_with(bus: &PrivateBus, args: &[&str], stdin: Stdio, ready: impl Fn() -> bool) -> Service {
        let mut command = cabin_command(args);
        if args.starts_with(&["serve", "voice"]) {
            // Its warnings say why a reply was the apology (the assistant's error, or its time).
            command.env("CABIN_LOG", "error,cabin_voice_service=warn");
        }
        let child = command.env("DBUS_SYSTEM_BUS_ADDRESS", bus.address()).stdin(stdin).spawn().expect("cabin serve starts");
        let mut service = Service { child };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = service.child.try_wait() {
                panic!("`cabin {}` exited early: {status}", args.join(" "));
            }
            if ready() {
                return service;
            }
            assert!(Instant::now() < deadline, "`cabin {}` did not come up", args.join(" "));
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `limit` for the service to exit by itself.
    pub fn exit_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether `name` has an owner on the bus at `address`. On a thread of its own, so that it can
/// be asked from inside a test's runtime too.
fn name_has_owner(address: &str, name: &str) -> bool {
    let (address, name) = (address.to_string(), name.to_string());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let Ok(connection) = zbus::connection::Builder::address(address.as_str()).unwrap().build().await else { return false };
            let Ok(dbus) = zbus::fdo::DBusProxy::new(&connection).await else { return false };
            dbus.name_has_owner(name.as_str().try_into().unwrap()).await.unwrap_or(false)
        })
    })
    .join()
    .unwrap_or(false)
}

/// Runs `cabin ARGS` with `stdin` as its input; `bus` None points it at no bus at all.
pub fn cabin_with_input(bus: Option<&PrivateBus>, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = cabin_command(args)
        .env("DBUS_SYSTEM_BUS_ADDRESS", bus.map(|b| b.address().to_string()).unwrap_or_else(|| "unix:path=/nonexistent/bus".into()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cabin runs");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// Writes `text` to a file in a fresh folder that lives as long as the returned guard.
pub fn temp_file(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// A child process killed when dropped, even when a test fails half-way.
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A real `mosquitto` on a free loopback port, stopped when dropped.
pub struct Mosquitto {
    child: Child,
    pub port: u16,
}

impl Mosquitto {
    /// A broker that speaks only TLS, with the certificates in `pki` (see `Pki`), and lets in
    /// only clients whose certificate its CA signed.
    pub fn with_tls(pki: &Pki) -> Mosquitto {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = pki.dir.join("mosquitto.conf");
        let file = |name: &str| pki.dir.join(name).display().to_string();
        std::fs::write(
            &config,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\ncafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\n",
                file("ca.pem"),
                file("broker.pem"),
                file("broker.key")
            ),
        )
        .unwrap();
        Mosquitto::launch(&["-c", config.to_str().unwrap()], port)
    }

    pub fn start() -> Mosquitto {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Mosquitto::on_port(port)
    }

    fn on_port(port: u16) -> Mosquitto {
        Mosquitto::launch(&["-p", &port.to_string()], port)
    }

    /// `mosquitto ARGS`, once it listens on `port`.
    fn launch(args: &[&str], port: u16) -> Mosquitto {
        let child = Command::new("mosquitto")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto is installed (apt-get install mosquitto)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "mosquitto did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Mosquitto { child, port }
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Kills the broker (sessions and retained messages are lost, as in a crash) and starts a
    /// new one on the same port after `down_for`.
    pub fn restart(&mut self, down_for: Duration) {
        self.stop();
        std::thread::sleep(down_for);
        self.start_again();
    }

    /// Kills the broker (its sessions go with it).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A fresh broker on the same port.
    pub fn start_again(&mut self) {
        *self = Mosquitto::on_port(self.port);
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Service {
    /// `cabin serve phone-link` against `broker`, once it says it is connected (its retained
    /// status reads online).
    pub fn phone_link(bus: &PrivateBus, broker: &Mosquitto, vehicle_id: &str, state_dir: &Path) -> Service {
        // One left-behind object keeps a debug build's look after locking short.
        let args = [
            "serve",
            "phone-link",
            "--broker",
            &broker.url(),
            "--vehicle-id",
            vehicle_id,
            "--state-dir",
            state_dir.to_str().unwrap(),
            "--left-behind",
            "cat",
        ];
        let (port, vehicle_id) = (broker.port, vehicle_id.to_string());
        Service::spawn_until(bus, &args, move || retained_status_online(port, &vehicle_id))
    }
}

/// Whether the car's retained status on the broker says online.
fn retained_status_online(port: u16, vehicle_id: &str) -> bool {
    retained_status_online_at(&format!("mqtt://127.0.0.1:{port}").parse().unwrap(), vehicle_id)
}

/// Whether the car's retained status on `broker` says it is online.
pub fn retained_status_online_at(broker: &cabin_phone_protocol::Broker, vehicle_id: &str) -> bool {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    runtime.block_on(async {
        let phone = cabin_phone_client::PhoneClient::connect(broker, vehicle_id);
        let mut notices = phone.notices();
        let online = async {
            loop {
                match notices.recv().await {
                    Ok(notice) if notice.topic.ends_with("/status") => return notice.payload["online"] == true,
                    Ok(_) => continue,
                    Err(_) => return false,
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(1), online).await.unwrap_or(false)
    })
}

/// Writes a composed cabin frame into `dir` with a public-domain photo from the model's test
/// data (`coffee.png`, `chelsea.png`, ...) on one seat region, for a folder camera.
pub fn frame_with(dir: &Path, photo: &str, region: &str) -> PathBuf {
    use cabin_vision_service::{composite, VisionConfig};
    let photo = image::open(repo_file(&format!("services/vision/model/tests/data/{photo}"))).unwrap().to_rgb8();
    let regions = VisionConfig::embedded().regions();
    let mut frame = composite::empty_cabin();
    composite::place(&mut frame, regions.iter().find(|r| r.name == region).unwrap(), &photo, 0.8);
    let path = dir.join("0001.png");
    frame.save(&path).unwrap();
    path
}

/// A frame with the espresso on the rear left seat.
pub fn frame_with_a_cup(dir: &Path) -> PathBuf {
    frame_with(dir, "coffee.png", "rear_left")
}

/// `cabin serve llm ARGS` on a free loopback port; returns the service and its base URL.
pub fn llm_endpoint(args: &[&str]) -> (Service, String) {
    use std::io::BufRead;
    let mut child = cabin_command(&[&["serve", "llm", "--listen", "127.0.0.1:0"], args].concat())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("cabin serve llm starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("`cabin serve llm` said {line:?}")).to_string();
    (Service { child }, url)
}

/// Reads one HTTP/1.1 request from `stream` (a loopback mock of a model endpoint): its request
/// line and its body.
pub fn read_http_request(stream: &std::net::TcpStream) -> (String, Vec<u8>) {
    use std::io::{BufRead, Read};
    let mut reader = std::io::BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).unwrap();
        if header.trim().is_empty() {
            break;
        }
        if let Some(value) = header.to_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (request_line, body)
}

/// The shipped routing policy with `changes` applied (`key = value` lines replaced in order of
/// appearance), written to a temporary file.
pub fn routing_policy(changes: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let mut text = std::fs::read_to_string(repo_file("services/assistant/router/defaults/routing.toml")).unwrap();
    for (from, to) in changes {
        assert!(text.contains(from), "{from:?} is not in the shipped policy");
        text = text.replacen(from, to, 1);
    }
    temp_file("routing.toml", &text)
}

/// A test CA and the certificates signed by it, as PEM files in `dir`: `ca.pem`; `broker.pem`
/// and `.key` (for 127.0.0.1); `car.pem`, `phone.pem` and their keys; and `stranger.pem` and
/// `.key`, signed by another CA.
pub struct Pki {
    pub dir: PathBuf,
    _keep: tempfile::TempDir,
}

impl Pki {
    pub fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
        let keep = tempfile::tempdir().unwrap();
        let dir = keep.path().to_path_buf();
        let authority = |name: &str| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.distinguished_name.push(DnType::CommonName, name);
            (params.self_signed(&key).unwrap(), key)
        };
        let (ca, ca_key) = authority("Cabin test CA");
        let (other_ca, other_key) = authority("Someone else's CA");
        let issue = |name: &str, names: Vec<String>, by: &rcgen::Certificate, by_key: &KeyPair| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(names).unwrap();
            params.distinguished_name.push(DnType::CommonName, name);
            let certificate = params.signed_by(&key, by, by_key).unwrap();
            std::fs::write(dir.join(format!("{name}.pem")), certificate.pem()).unwrap();
            std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
        };
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        issue("broker", vec!["127.0.0.1".into(), "localhost".into()], &ca, &ca_key);
        issue("car", vec![], &ca, &ca_key);
        issue("phone", vec![], &ca, &ca_key);
        issue("stranger", vec![], &other_ca, &other_key);
        Pki { dir, _keep: keep }
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// The broker's URL and this party's TLS flags.
    pub fn flags(&self, port: u16, who: &str) -> Vec<String> {
        vec![
            "--broker".into(),
            format!("mqtts://127.0.0.1:{port}"),
            "--broker-ca".into(),
            self.path("ca.pem"),
            "--client-cert".into(),
            self.path(&format!("{who}.pem")),
            "--client-key".into(),
            self.path(&format!("{who}.key")),
        ]
    }
}

/// The vehicle id of the test cars.
pub const VEHICLE: &str = "test-car";

/// `cabin pair` in the car, then `cabin phone pair CODE` on the phone; the phone's pairing file.
/// The code `cabin pair --scopes SCOPES` shows for the car whose state is in `state`.
pub fn pairing_code(bus: &PrivateBus, state: &Path, scopes: &str) -> String {
    let shown = cabin(bus, &["pair", "--scopes", scopes, "--state-dir", state.to_str().unwrap()]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    let code = stdout(&shown).split_whitespace().nth(2).unwrap().to_string();
    assert_eq!(code.len(), 6, "{}", stdout(&shown));
    assert!(stdout(&shown).contains(&format!("&code={code}")), "the QR code's text carries the code: {}", stdout(&shown));
    code
}

pub fn pair_with_cli(bus: &PrivateBus, broker: &Mosquitto, state: &Path, scopes: &str, phone_file: &Path) -> Paired {
    let code = pairing_code(bus, state, scopes);
    let paired = cabin(
        bus,
        &[
            "phone",
            "--config",
            phone_file.to_str().unwrap(),
            "pair",
            &code,
            "--broker",
            &broker.url(),
            "--vehicle-id",
            VEHICLE,
            "--name",
            "ana",
        ],
    );
    assert!(paired.status.success(), "{}", stderr(&paired));
    let file: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(phone_file).unwrap()).unwrap();
    serde_json::from_value(file["paired"].clone()).unwrap()
}

/// A car on a private bus with its phone link on a fresh mosquitto (and the assistant when asked
/// for), and one phone paired through the CLI with `scopes`.
pub struct Car {
    pub link: Service,
    _assistant: Option<Service>,
    _vehicle: Service,
    pub broker: Mosquitto,
    pub bus: PrivateBus,
    pub state: tempfile::TempDir,
}

impl Car {
    pub fn start(with_assistant: bool) -> Car {
        Car::start_with(with_assistant.then_some(&[]))
    }

    /// A car whose assistant (if any) runs with `assistant_args`.
    pub fn start_with(assistant_args: Option<&[&str]>) -> Car {
        tokio::task::block_in_place(|| {
            let state = tempfile::tempdir().unwrap();
            let bus = PrivateBus::start().unwrap();
            let broker = Mosquitto::start();
            let _vehicle = VehicleBus::start(&bus, &[]);
            let _assistant = assistant_args.map(|args| Service::assistant(&bus, args));
            let link = Service::phone_link(&bus, &broker, VEHICLE, &state.path().join("car"));
            Car { link, _assistant, _vehicle, broker, bus, state }
        })
    }

    pub fn state_dir(&self) -> String {
        self.state.path().join("car").to_str().unwrap().to_string()
    }

    pub fn pair(&self, scopes: &str) -> (Paired, PhoneClient) {
        let paired = tokio::task::block_in_place(|| {
            pair_with_cli(&self.bus, &self.broker, &self.state.path().join("car"), scopes, &self.state.path().join("phone.json"))
        });
        (paired, PhoneClient::connect(&self.broker.url().parse().unwrap(), VEHICLE))
    }
}
