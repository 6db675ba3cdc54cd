//! `cabin up --script`: a scenario played against the whole car in one process, as a demo
//! would, and its expectations deciding the exit code.

mod support;

use serde_json::Value as Json;
use support::*;

/// `cabin up --script FILE --json` on a free MQTT port; its exit status and what happened.
fn play(scenario: &std::path::Path) -> (std::process::ExitStatus, Vec<Json>) {
    play_with(scenario, &[])
}

fn play_with(scenario: &std::path::Path, extra: &[&str]) -> (std::process::ExitStatus, Vec<Json>) {
    let output = cabin_command(&["up", "--json", "--mqtt-port", "0", "--script", scenario.to_str().unwrap()]).args(extra).output().unwrap();
    let happened = stdout(&output).lines().map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"))).collect();
    (output.status, happened)
}

fn events<'a>(happened: &'a [Json], kind: &str) -> Vec<&'a Json> {
    happened.iter().filter(|h| h["event"] == kind).collect()
}

#[test]
fn the_first_drive_scenario_speaks_drives_and_asks_from_the_phone_and_every_expectation_holds() {
    let (status, happened) = play(&repo_file("scenarios/first-drive.toml"));
    let shown = || happened.iter().map(Json::to_string).collect::<Vec<_>>().join("\n");
    assert!(status.success(), "{}", shown());

    // What the console shows: the wake, the transcript, the change, the spoken reply, the phone.
    assert!(
        events(&happened, "heard").iter().any(|h| h["text"].as_str().unwrap().to_lowercase().contains("temperature to 21")),
        "{}",
        shown()
    );
    assert!(
        events(&happened, "signal").iter().any(|s| s["path"] == "Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature" && s["value"] == "21"),
        "{}",
        shown()
    );
    assert!(events(&happened, "said").iter().any(|s| s["text"] == "Setting the driver's side to 21 degrees."), "{}", shown());
    let phone = events(&happened, "phone");
    assert_eq!(phone.len(), 2, "{}", shown());
    assert!(phone[0]["answer"].as_str().unwrap().starts_with("Yes, I can see your cup on the rear left seat"), "{}", shown());
    assert!(events(&happened, "said").iter().any(|s| s["text"].as_str().unwrap().starts_with("I can't open the trunk")), "{}", shown());
    let expected = events(&happened, "expected");
    assert_eq!(expected.len(), 5, "{}", shown());
    assert!(expected.iter().all(|e| e["met"] == true), "{}", shown());
}

#[test]
fn an_unmet_expectation_fails_the_run_and_a_bad_scenario_names_its_line() {
    let (_dir, scenario) = temp_file(
        "wrong.toml",
        "[[step]]\ntype = \"set the temperature to 22\"\nexpect_signal = { \"Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature\" = 19 }\n",
    );
    let (status, happened) = play(&scenario);
    assert_eq!(status.code(), Some(1));
    let expected = events(&happened, "expected");
    assert_eq!(expected.len(), 1);
    assert_eq!(expected[0]["met"], false);
    assert_eq!(expected[0]["got"], "22", "{}", expected[0]);

    let (_dir, scenario) = temp_file("bad.toml", "[[step]]\ntype = \"hello\"\n\n[[step]]\nsay = \"hi\"\ndrive = 30\n");
    let output = std::process::Command::new(cabin_binary()).args(["up", "--script", scenario.to_str().unwrap()]).output().unwrap();
    assert!(!output.status.success());
    assert_eq!(stderr(&output).lines().count(), 1, "{}", stderr(&output));
    assert!(stderr(&output).contains("bad.toml:4: a step does one thing, this one say and drive"), "{}", stderr(&output));
}

#[test]
fn before_a_scenario_shows_the_camera_anything_it_sees_an_empty_cabin() {
    let cup = repo_file("services/vision/model/tests/data/coffee.png");
    let (_dir, scenario) = temp_file(
        "cup.toml",
        &format!(
            "[[step]]\ntype = \"is my cup in the car?\"\nexpect_reply = \"can't see your cup\"\n\n\
             [[step]]\ncamera = {{ photo = \"{}\", seat = \"rear_left\" }}\n\n\
             [[step]]\ntype = \"is my cup in the car?\"\nexpect_reply = \"rear left\"\n",
            cup.display()
        ),
    );
    let (status, happened) = play(&scenario);
    let shown = || happened.iter().map(Json::to_string).collect::<Vec<_>>().join("\n");
    assert!(status.success(), "{}", shown());
    assert_eq!(events(&happened, "expected").iter().filter(|e| e["met"] == true).count(), 2, "{}", shown());
}

#[test]
fn without_a_camera_the_car_looks_at_a_demo_cabin_and_says_so() {
    // The embedded config with a camera device that is not there.
    let config = cabin_vision_service::DEFAULT_CONFIG.replace(r#"source = "/dev/video0""#, r#"source = "/dev/video-not-here""#);
    let (_config_dir, config) = temp_file("vision.toml", &config);
    let (_dir, scenario) = temp_file(
        "demo.toml",
        "[[step]]\nphone = \"is my cup in the car?\"\nexpect_reply = \"rear left\"\n\n[[step]]\nphone = \"is my cat in the car?\"\nexpect_reply = \"passenger\"\n",
    );
    let (status, happened) = play_with(&scenario, &["--vision-config", config.to_str().unwrap()]);
    let shown = || happened.iter().map(Json::to_string).collect::<Vec<_>>().join("\n");
    assert!(status.success(), "{}", shown());
    let notes = events(&happened, "note");
    assert!(
        notes
            .iter()
            .any(|n| n["text"].as_str().unwrap().contains("demo cabin: a cup on the rear left seat and a cat on the passenger seat")),
        "{}",
        shown()
    );
    assert_eq!(events(&happened, "expected").iter().filter(|e| e["met"] == true).count(), 2, "{}", shown());
}

#[test]
fn without_a_sound_card_the_console_says_so_once_and_alsa_says_nothing() {
    use std::io::Write;
    let mut up = cabin_command(&["up", "--mqtt-port", "0"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    up.stdin.take().unwrap().write_all(b"exit\n").unwrap();
    let output = up.wait_with_output().unwrap();
    let (out, err) = (stdout(&output), stderr(&output));
    assert!(!err.contains("ALSA lib") && !out.contains("ALSA lib"), "ALSA spoke for itself:\n{err}");
    let cards = std::fs::read_to_string("/proc/asound/cards").unwrap_or_default();
    if cards.trim().is_empty() || cards.contains("no soundcards") {
        assert_eq!(out.matches("The voice has no microphone").count(), 1, "{out}");
    }
}

#[test]
fn a_stop_signal_ends_the_car_and_frees_its_ports_while_the_console_waits_for_a_line() {
    use std::io::{BufRead, BufReader};
    // Another broker holds the port asked for: the console says so, and which one it took.
    let other_broker = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = other_broker.local_addr().unwrap().port().to_string();
    let mut up = cabin_command(&["up", "--mqtt-port", &taken, "--app-port", "0", "--input", "none"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The console is up once it has said how to talk to it; stdin stays open, unread.
    let _stdin = up.stdin.take().unwrap();
    let mut said = BufReader::new(up.stdout.take().unwrap()).lines();
    let broker = loop {
        let line = said.next().expect("cabin up ended before its console was up").unwrap();
        if let Some(rest) = line.split("an MQTT broker listens on ").nth(1) {
            assert!(rest.contains(&format!("(port {taken} is taken)")), "{line}");
            break rest.split([';', ' ']).next().unwrap().trim().to_string();
        }
    };
    for line in said.by_ref() {
        if line.unwrap().starts_with("commands:") {
            break;
        }
    }
    let pid = up.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    // A stopped car that kept running would keep the test waiting here: it is killed after a
    // minute and the test fails, rather than hanging CI.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = up.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            up.kill().unwrap();
            panic!("cabin up was still running a minute after SIGTERM, its broker on {broker}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    assert!(std::net::TcpStream::connect(&broker).is_err(), "the broker's port {broker} is still open");
}
