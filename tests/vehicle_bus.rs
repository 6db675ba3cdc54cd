//! The vehicle bus end to end: a private dbus-daemon, `cabin serve vehicle-bus` as its own process,
//! and the `cabin` CLI or a D-Bus client doing what an integrator or a service would.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use cabin_vehicle_bus_client::{ClientError, Refusal, VehicleBusClient};
use cabin_vehicle_config::Value;
use support::*;

const AT_100: &str = "[[step]]\nspeed = 100.0\n";

#[test]
fn a_window_is_refused_at_100_kmh_by_the_interlock_and_opens_when_parked() {
    let bus = PrivateBus::start().unwrap();
    let (_dir, profile) = temp_file("at-100.toml", AT_100);
    let _service = VehicleBus::start(&bus, &["--drive-profile", profile.to_str().unwrap()]);

    let refused = cabin(&bus, &["signals", "set", WINDOW, "50"]);
    assert!(!refused.status.success());
    let message = stderr(&refused);
    assert_eq!(message.lines().count(), 1, "one line: {message}");
    assert!(message.contains("refused by interlock 'windows-at-speed': above 80 km/h the windows open at most 20 %"), "{message}");
    let window = cabin(&bus, &["signals", "get", WINDOW, "--json"]);
    assert_eq!(json(&window)["value"], 0, "a refused set changes nothing");

    assert!(cabin(&bus, &["sim", "park"]).status.success());
    let opened = cabin(&bus, &["signals", "set", WINDOW, "50", "--wait", "10", "--json"]);
    assert!(opened.status.success(), "{}", stderr(&opened));
    assert_eq!(json(&opened)["reached"]["value"], 50);
    assert_eq!(json(&cabin(&bus, &["signals", "get", WINDOW, "--json"]))["value"], 50);
}

#[test]
fn roles_come_from_bus_credentials_and_nobody_else_may_actuate() {
    let bus = PrivateBus::start().unwrap();
    // Only the assistant's bus name holds a role; this test's uid holds none.
    let (_dir, overlay) = temp_file(
        "roles.toml",
        "[[role]]\nname = \"assistant\"\nbus_names = [\"org.cabin.Assistant1\"]\nread = [\"Vehicle.**\"]\nactuate = [\"Vehicle.Cabin.**\"]\n\n[simulator]\ndrive_profile = \"parked\"\n",
    );
    let _service = VehicleBus::start(&bus, &["--overlay", overlay.to_str().unwrap()]);

    let anonymous = cabin(&bus, &["signals", "set", WINDOW, "10", "--json"]);
    assert!(!anonymous.status.success());
    assert_eq!(json(&anonymous)["error"]["kind"], "NotPermitted");
    assert!(stderr(&anonymous).contains("caller's roles: none"), "{}", stderr(&anonymous));
    assert_eq!(json(&cabin(&bus, &["signals", "get", "Vehicle.Speed", "--json"]))["error"]["kind"], "NotPermitted");

    let assistant = cabin(&bus, &["signals", "set", "--as", "org.cabin.Assistant1", WINDOW, "10", "--json"]);
    assert!(assistant.status.success(), "{}", stderr(&assistant));
    assert_eq!(json(&assistant)["accepted"], 10);
    let trunk = cabin(&bus, &["signals", "set", "--as", "org.cabin.Assistant1", "Vehicle.Body.Trunk.Rear.IsOpen", "true", "--json"]);
    assert_eq!(json(&trunk)["error"]["kind"], "NotPermitted", "the assistant's grant stops at the cabin");
}

#[tokio::test(flavor = "multi_thread")]
async fn each_refusal_travels_as_its_named_dbus_error() {
    let bus = PrivateBus::start().unwrap();
    let (_dir, profile) = temp_file("at-100.toml", AT_100);
    let _service = VehicleBus::start(&bus, &["--drive-profile", profile.to_str().unwrap()]);
    let connection = zbus::connection::Builder::address(bus.address()).unwrap().build().await.unwrap();
    let call = |path: &'static str, value: zbus::zvariant::Value<'static>| {
        let connection = connection.clone();
        async move {
            let reply = connection
                .call_method(Some("org.cabin.VehicleBus1"), "/org/cabin/VehicleBus1", Some("org.cabin.VehicleBus1"), "Set", &(path, value))
                .await;
            match reply {
                Err(zbus::Error::MethodError(name, message, _)) => format!("{name}: {}", message.unwrap_or_default()),
                other => format!("{other:?}"),
            }
        }
    };
    use zbus::zvariant::Value as V;
    let cases = [
        (call("Vehicle.Cabin.Sunroof.Position", V::U8(1)).await, "org.cabin.Error.UnknownSignal"),
        (call(WINDOW, V::U8(120)).await, "org.cabin.Error.OutOfRange"),
        (call(WINDOW, V::from("half")).await, "org.cabin.Error.WrongType"),
        (call("Vehicle.Speed", V::F64(0.0)).await, "org.cabin.Error.ReadOnly"),
        (call("Vehicle.Body.Trunk.Rear.IsOpen", V::Bool(true)).await, "org.cabin.Error.InterlockActive"),
    ];
    for (reply, name) in cases {
        assert!(reply.starts_with(name), "expected {name}, got {reply}");
    }

    // The typed client decodes the same names.
    let client = VehicleBusClient::on(connection.clone()).await.unwrap();
    match client.set("Vehicle.Body.Trunk.Rear.IsOpen", &Value::Bool(true)).await {
        Err(ClientError::Refused { refusal: Refusal::InterlockActive, message }) => {
            assert!(message.contains("the trunk and doors open only while the car is stopped"), "{message}")
        }
        other => panic!("expected an interlock refusal, got {other:?}"),
    }
    let reading = client.get("Vehicle.Speed").await.unwrap();
    assert_eq!(reading.value, Value::Float(100.0));
}

#[test]
fn watch_shows_the_changes_of_the_signals_asked_for() {
    let bus = PrivateBus::start().unwrap();
    let _service = VehicleBus::start(&bus, &[]);
    let mut watcher = Command::new(cabin_binary())
        .args(["signals", "watch", "Vehicle.Cabin.Door.*.*.Window.*", "--count", "4", "--json"])
        .env("DBUS_SYSTEM_BUS_ADDRESS", bus.address())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once the watcher says it is watching, move a window and a lock.
    let mut said = String::new();
    BufReader::new(watcher.stderr.take().unwrap()).read_line(&mut said).unwrap();
    assert!(said.starts_with("watching "), "{said}");
    assert!(cabin(&bus, &["signals", "set", "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked", "false"]).status.success());
    assert!(cabin(&bus, &["signals", "set", "Vehicle.Cabin.Door.Row2.PassengerSide.Window.Position", "100"]).status.success());
    let lines: Vec<serde_json::Value> =
        BufReader::new(watcher.stdout.take().unwrap()).lines().map(|l| serde_json::from_str(&l.unwrap()).unwrap()).collect();
    assert!(watcher.wait().unwrap().success());
    assert_eq!(lines.len(), 4);
    let mut previous = 0.0;
    for line in &lines {
        assert_eq!(line["path"], "Vehicle.Cabin.Door.Row2.PassengerSide.Window.Position", "only what was asked for");
        let position = line["value"].as_f64().unwrap();
        assert!(position > previous, "the window travels up: {lines:?}");
        previous = position;
        assert!(line["timestamp_us"].as_u64().unwrap() > 0);
    }
}

#[test]
fn list_shows_what_the_caller_may_read_and_set() {
    let bus = PrivateBus::start().unwrap();
    let _service = VehicleBus::start(&bus, &[]);
    let listed = json(&cabin(&bus, &["signals", "list", "Vehicle.Cabin.Seat.Row1.*.Heating", "--json"]));
    let signals = listed.as_array().unwrap();
    assert_eq!(signals.len(), 2);
    assert_eq!(signals[0]["path"], "Vehicle.Cabin.Seat.Row1.DriverSide.Heating");
    assert_eq!(signals[0]["min"], -100);
    assert_eq!(signals[0]["actuatable"], true);
    let speed = json(&cabin(&bus, &["signals", "list", "Vehicle.Speed", "--json"]));
    assert_eq!(speed[0]["unit"], "km/h");
    assert_eq!(speed[0]["actuatable"], false);
}

#[test]
fn an_invalid_configuration_stops_the_service_before_it_starts() {
    let bus = PrivateBus::start().unwrap();
    let (_dir, overlay) =
        temp_file("bad.toml", "[[interlock]]\nname = \"x\"\npaths = [\"Vehicle.Cabin.Door.*.*.Window.Positon\"]\nreason = \"typo\"\n");
    let run = cabin(&bus, &["serve", "vehicle-bus", "--overlay", overlay.to_str().unwrap()]);
    assert!(!run.status.success());
    let message = stderr(&run);
    assert!(message.contains("invalid vehicle configuration, not starting"), "{message}");
    assert!(
        message
            .contains(&format!("{}:3: interlock 'x'.paths: 'Vehicle.Cabin.Door.*.*.Window.Positon' matches no signal", overlay.display())),
        "{message}"
    );
    assert!(cabin(&bus, &["signals", "get", "Vehicle.Speed"]).status.code() != Some(0));
}

#[test]
fn config_check_reports_every_error_and_accepts_the_can_example() {
    let bus = PrivateBus::start().unwrap();
    let example = repo_file("vehicle-bus/examples/can-vehicle/overlay.toml");
    let good = cabin(&bus, &["config", "check", example.to_str().unwrap(), "--json"]);
    assert!(good.status.success(), "{}", stderr(&good));
    assert_eq!(json(&good)["can_mapped"], 7);

    let (_dir, overlay) =
        temp_file("two-errors.toml", "default_backend = \"flexray\"\n[[role]]\nname = \"r\"\nread = [\"Vehicle.Nothing\"]\n");
    let bad = cabin(&bus, &["config", "check", overlay.to_str().unwrap(), "--json"]);
    assert!(!bad.status.success());
    let report = json(&bad);
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{report}");
    assert_eq!(errors[0]["line"], 1);
    assert_eq!(errors[0]["field"], "default_backend");
    assert_eq!(errors[1]["line"], 4);
    assert_eq!(errors[1]["field"], "role.read");
}

#[test]
fn config_check_checks_an_oems_intents_and_tasks_against_the_vehicle_without_a_model() {
    // An integrator's `cabin config check tasks.toml` said "unknown field `task`": task files had
    // no checker but starting the assistant.
    let bus = PrivateBus::start().unwrap();
    let (_intents_dir, intents) = temp_file(
        "defrost-intents.toml",
        "[[intent]]\nname = \"climate.set_defrost\"\nslots = { state = \"switch\" }\nexamples = [\"turn on the defroster\"]\n",
    );
    let task = |value: &str| {
        format!(
            "[[task]]\nintent = \"climate.set_defrost\"\nslots.state = {{ default = \"on\" }}\n\
             set = [{{ signal = \"Vehicle.Cabin.HVAC.IsFrontDefrosterActive\", value = {value} }}]\ndone = \"Defroster {{state}}.\"\n"
        )
    };
    let (_good_dir, good) = temp_file("defrost-tasks.toml", &task("\"{state}\""));
    let checked = cabin(&bus, &["config", "check", "--intents", intents.to_str().unwrap(), "--tasks", good.to_str().unwrap()]);
    assert!(checked.status.success(), "{}", stderr(&checked));
    assert!(stdout(&checked).contains("and the intents and tasks"), "{}", stdout(&checked));
    let (_bad_dir, bad) = temp_file("defrost-tasks.toml", &task("\"yes\""));
    let refused = cabin(&bus, &["config", "check", "--intents", intents.to_str().unwrap(), "--tasks", bad.to_str().unwrap()]);
    assert!(!refused.status.success());
    let message = stderr(&refused);
    assert!(
        message.contains("defrost-tasks.toml:4: task `climate.set_defrost`: the value for `Vehicle.Cabin.HVAC.IsFrontDefrosterActive`"),
        "{message}"
    );
}

#[test]
fn recorded_can_frames_reach_dbus_clients_through_the_dbc() {
    let bus = PrivateBus::start().unwrap();
    let defaults = cabin(&bus, &["config", "print", "overlay"]);
    let (_dir, default_overlay) = temp_file("default.toml", &stdout(&defaults));
    let example = repo_file("vehicle-bus/examples/can-vehicle/overlay.toml");
    let overlays = format!("{}:{}", default_overlay.display(), example.display());
    let log = repo_file("vehicle-bus/examples/can-vehicle/drive.log");
    // Without a [can] section the replay was ignored without a word.
    let ignored = cabin(&bus, &["serve", "vehicle-bus", "--can-replay", log.to_str().unwrap()]);
    assert!(!ignored.status.success());
    assert!(stderr(&ignored).contains("needs a [can] section in the overlay"), "{}", stderr(&ignored));
    let _service = VehicleBus::start(&bus, &["--overlay", &overlays, "--can-replay", log.to_str().unwrap()]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let speed = json(&cabin(&bus, &["signals", "get", "Vehicle.Speed", "--json"]));
        if speed["value"] == 100.0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the replayed speed never arrived: {speed}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(json(&cabin(&bus, &["signals", "get", "Vehicle.Exterior.AirTemperature", "--json"]))["value"], 18.5);
    // A replay has no vehicle to command.
    let set = cabin(&bus, &["signals", "set", WINDOW, "10", "--json"]);
    assert_eq!(json(&set)["error"]["kind"], "BackendUnavailable");
    // Nor does the simulator drive a car whose speed comes from CAN: it said nothing, and exited 0.
    let drive = cabin(&bus, &["sim", "drive", "30"]);
    assert!(!drive.status.success());
    assert!(stderr(&drive).contains("Vehicle.Speed comes from the can backend"), "{}", stderr(&drive));
}

#[test]
fn a_dead_bus_or_a_missing_service_is_one_clear_line() {
    let no_bus = Command::new(cabin_binary())
        .args(["signals", "get", "Vehicle.Speed"])
        .env("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/cabin-bus")
        .output()
        .unwrap();
    assert!(!no_bus.status.success());
    let message = stderr(&no_bus);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.starts_with("error: cannot connect to the D-Bus system bus (unix:path=/nonexistent/cabin-bus)"), "{message}");

    let bus = PrivateBus::start().unwrap();
    let nobody = cabin(&bus, &["signals", "get", "Vehicle.Speed"]);
    assert_eq!(stderr(&nobody).trim(), "error: the vehicle bus is not running (nobody owns org.cabin.VehicleBus1 on this bus)");
}

#[test]
fn the_service_exits_with_an_error_when_its_bus_dies() {
    let bus = PrivateBus::start().unwrap();
    let mut service = VehicleBus::start(&bus, &[]);
    drop(bus);
    let status = service.exit_within(std::time::Duration::from_secs(10)).expect("the service noticed its bus is gone");
    assert!(!status.success(), "a lost bus is a failure, so that systemd restarts the service");
}

#[test]
fn a_second_vehicle_bus_on_the_same_bus_refuses_to_start() {
    let bus = PrivateBus::start().unwrap();
    let _first = VehicleBus::start(&bus, &[]);
    let second = cabin(&bus, &["serve", "vehicle-bus"]);
    assert!(!second.status.success());
    assert!(stderr(&second).contains("org.cabin.VehicleBus1 is already owned on this bus"), "{}", stderr(&second));
}

#[test]
fn systemd_hears_ready_then_watchdog_keep_alives_while_the_service_answers() {
    let bus = PrivateBus::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify");
    let systemd = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    systemd.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    let mut service = Command::new(cabin_binary())
        .args(["serve", "vehicle-bus"])
        .env("DBUS_SYSTEM_BUS_ADDRESS", bus.address())
        .env("CABIN_LOG", "error")
        .env("NOTIFY_SOCKET", &socket_path)
        // systemd's WatchdogSec=0.3: a keep-alive at least every 300 ms.
        .env("WATCHDOG_USEC", "300000")
        .spawn()
        .unwrap();
    let mut heard = Vec::new();
    let mut buffer = [0u8; 256];
    while heard.iter().filter(|m: &&String| m.contains("WATCHDOG=1")).count() < 3 {
        let Ok(length) = systemd.recv(&mut buffer) else { break };
        heard.push(String::from_utf8_lossy(&buffer[..length]).into_owned());
    }
    let _ = service.kill();
    let _ = service.wait();
    assert!(heard.first().is_some_and(|m| m.contains("READY=1")), "{heard:?}");
    assert!(heard.iter().filter(|m| m.contains("WATCHDOG=1")).count() >= 3, "{heard:?}");
}
