//! The router end to end: `cabin chat` with a routing policy, the real local LLM behind
//! `cabin serve llm` (SmolLM2, from `cabin models fetch smollm2-135m`), and a simulated car.
//!
//! Where a test needs a cloud model to make a particular tool call, the cloud is
//! `ScriptedCloud` (tests/support/cloud.rs), a MOCK, because no model that runs here calls a
//! given function reliably. Where any answer will do, the "cloud" is the real `cabin serve llm`
//! with `--record`.

mod support;

use serde_json::{json, Value as Json};
use support::cloud::{Scripted, ScriptedCloud};
use support::*;

fn turns(bus: Option<&PrivateBus>, routing: &std::path::Path, script: &str) -> Vec<Json> {
    turns_with(bus, routing, &[], script)
}

fn turns_with(bus: Option<&PrivateBus>, routing: &std::path::Path, args: &[&str], script: &str) -> Vec<Json> {
    let output = cabin_with_input(bus, &[&["chat", "--json", "--routing", routing.to_str().unwrap()], args].concat(), script);
    assert!(output.status.success(), "cabin chat failed: {}", stderr(&output));
    stdout(&output).lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

fn reply(turn: &Json) -> &str {
    turn["reply"].as_str().unwrap()
}

fn tool_call(name: &str, arguments: Json) -> Scripted {
    Scripted::Says(json!({"role": "assistant", "content": null, "tool_calls": [
        {"id": "call_0", "type": "function", "function": {"name": name, "arguments": arguments.to_string()}}
    ]}))
}

#[test]
fn with_the_cloud_down_the_local_llm_answers() {
    let (_llm, local) = llm_endpoint(&["--model", "smollm2-135m"]);
    let (_dir, routing) = routing_policy(&[
        ("enabled = false", "enabled = true"),
        ("url = \"\"", "url = \"http://127.0.0.1:9/v1\""),
        ("url = \"http://127.0.0.1:8088/v1\"", &format!("url = \"{local}\"")),
    ]);
    let turns = turns(None, &routing, "what is the capital of france\n");
    let route = &turns[0]["route"];
    assert_eq!(route["answered_by"], "local-llm", "{}", turns[0]);
    assert_eq!(route["cloud_skipped"], "not reachable");
    assert!(reply(&turns[0]).contains("Paris"), "{}", turns[0]);
}

#[test]
fn an_unsure_car_command_is_not_answered_by_the_cars_model() {
    // SmolLM2, offered no tools, said "The driver's door is opened." to a command the classifier
    // was unsure of (a stranger's test): nothing had moved.
    let (_llm, local) = llm_endpoint(&["--model", "smollm2-135m"]);
    let (_dir, routing) = routing_policy(&[("url = \"http://127.0.0.1:8088/v1\"", &format!("url = \"{local}\""))]);
    let turns = turns(None, &routing, "open the driver's door\nwhat is the capital of france\n");
    assert_eq!(turns[0]["low_confidence"], true, "{}", turns[0]);
    assert!(turns[0]["route"]["answered_by"].is_null(), "{}", turns[0]);
    assert!(reply(&turns[0]).contains("didn't understand") || reply(&turns[0]).contains("not sure"), "{}", turns[0]);
    assert!(!reply(&turns[0]).to_lowercase().contains("opened"), "{}", turns[0]);
    assert_eq!(turns[1]["route"]["answered_by"], "local-llm", "an open question still goes to it: {}", turns[1]);
}

#[test]
fn camera_and_location_questions_never_reach_the_cloud() {
    // The real model as the cloud, recording every request it gets.
    let record = tempfile::NamedTempFile::new().unwrap();
    let (_cloud, cloud) = llm_endpoint(&["--model", "smollm2-135m", "--record", record.path().to_str().unwrap()]);
    let (_dir, routing) = routing_policy(&[
        ("enabled = false", "enabled = true"),
        ("url = \"\"", &format!("url = \"{cloud}\"")),
        // This "cloud" is a small model on a busy test machine.
        ("low_confidence = true", "low_confidence = true\ntimeout_ms = 120000"),
        // No local LLM: a private question has nowhere else to go, and must say so.
        ("enabled = true\nurl = \"http://127.0.0.1:8088/v1\"", "enabled = false\nurl = \"http://127.0.0.1:8088/v1\""),
    ]);
    let turns =
        turns(None, &routing, "is my hat in the car\nwhere am i right now\nis my phone on the back seat\nwhat is the capital of france\n");
    for camera in [&turns[0], &turns[2]] {
        assert!(reply(camera).contains("camera"), "camera questions stay with the car's task: {camera}");
    }
    assert!(turns[1]["route"]["cloud_skipped"].as_str().unwrap().starts_with("private: "), "{}", turns[1]);
    assert!(turns[1]["route"]["private"].as_array().unwrap().contains(&json!("location")), "{}", turns[1]);
    assert!(turns[1]["route"]["answered_by"].is_null());
    assert!(reply(&turns[1]).starts_with("Sorry, I didn't understand"), "an honest answer: {}", turns[1]);
    assert_eq!(turns[3]["route"]["answered_by"], "cloud", "{}", turns[3]);

    let recorded = std::fs::read_to_string(record.path()).unwrap();
    assert_eq!(recorded.lines().count(), 1, "one request, the open question: {recorded}");
    assert!(recorded.contains("capital of france"));
    for private in ["my hat", "where am i", "my phone", "market street"] {
        assert!(!recorded.contains(private), "{private:?} left the car: {recorded}");
    }
}

#[test]
fn the_clouds_tool_calls_pass_the_interlock_and_corrections_land_on_their_task() {
    let cloud = ScriptedCloud::start(vec![
        tool_call("trunk_open", json!({})),
        tool_call("climate_set_temperature", json!({"temperature": 22})),
        tool_call("trunk_open", json!({"temperature": 25})),
        tool_call("fly_away", json!({})),
    ]);
    let (_dir, routing) = routing_policy(&[
        ("enabled = false", "enabled = true"),
        ("url = \"\"", &format!("url = \"{}\"", cloud.url)),
        ("enabled = true\nurl = \"http://127.0.0.1:8088/v1\"", "enabled = false\nurl = \"http://127.0.0.1:8088/v1\""),
    ]);
    let bus = PrivateBus::start().unwrap();
    let _vehicle = VehicleBus::start(&bus, &[]);
    assert!(cabin(&bus, &["sim", "drive", "60"]).status.success());
    let turns = turns(
        Some(&bus),
        &routing,
        // Turns the car's classifier is unsure of, so the cloud gets them.
        "my hands are full of shopping bags\nyes\nit feels like winter\nno, twenty four\nhmm something odd please\ncould you do something about this weather\nset the temperature to twenty\n",
    );
    assert_eq!(turns[0]["route"]["answered_by"], "cloud", "{}", turns[0]);
    // The cloud's trunk is refused at once, like the driver's: asking "Open the trunk?" first
    // would ask for nothing.
    assert!(reply(&turns[0]).starts_with("I can't open the trunk:") && reply(&turns[0]).contains("stopped"), "{}", turns[0]);
    assert!(turns[0]["task"].is_null(), "{}", turns[0]);
    assert_eq!(reply(&turns[1]), "There's nothing waiting for a yes or no.", "{}", turns[1]);
    let trunk = json(&cabin(&bus, &["signals", "get", "Vehicle.Body.Trunk.Rear.IsOpen", "--json"]));
    assert_ne!(trunk["value"], true, "the trunk stays shut");

    const DRIVER: &str = "Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature";
    assert_eq!(turns[2]["actions"][0]["target"], DRIVER, "{}", turns[2]);
    assert_eq!(turns[2]["actions"][0]["value"], 22.0);
    assert_eq!(turns[3]["actions"][0]["target"], DRIVER, "the correction lands on the cloud's task: {}", turns[3]);
    assert_eq!(turns[3]["actions"][0]["value"], 24.0);
    assert!(turns[3]["route"].is_null(), "a correction is the car's own work: {}", turns[3]);

    // Unknown arguments and unknown functions: nothing runs, the driver hears it, the
    // conversation goes on.
    for turn in [&turns[4], &turns[5]] {
        assert_eq!(reply(turn), "Sorry, I couldn't do that.", "{turn}");
        assert!(turn["actions"].as_array().unwrap().is_empty());
    }
    assert_eq!(turns[6]["actions"][0]["value"], 20.0, "{}", turns[6]);
    let requests = cloud.requests();
    assert_eq!(requests.len(), 4, "car control never goes to the cloud");
    let offered: Vec<&str> = requests[0]["tools"].as_array().unwrap().iter().map(|t| t["function"]["name"].as_str().unwrap()).collect();
    assert!(offered.contains(&"trunk_open") && !offered.contains(&"vision_find_object"), "the camera is not offered: {offered:?}");
    let history: Vec<&str> = requests[1]["messages"].as_array().unwrap().iter().filter_map(|m| m["content"].as_str()).collect();
    assert!(history.contains(&"my hands are full of shopping bags"), "the conversation goes along: {history:?}");
}

#[test]
fn a_cloud_that_answers_garbage_or_hangs_falls_back_within_its_timeout() {
    let cloud = ScriptedCloud::start(vec![Scripted::Garbage, Scripted::Hangs]);
    let (_llm, local) = llm_endpoint(&["--model", "smollm2-135m"]);
    let (_dir, routing) = routing_policy(&[
        ("enabled = false", "enabled = true"),
        ("url = \"\"", &format!("url = \"{}\"", cloud.url)),
        ("low_confidence = true", "low_confidence = true\ntimeout_ms = 800"),
        ("url = \"http://127.0.0.1:8088/v1\"", &format!("url = \"{local}\"")),
    ]);
    let turns = turns(None, &routing, "what is the capital of france\nwhat is the capital of italy\nset the temperature to twenty one\n");
    for turn in &turns[..2] {
        assert_eq!(turn["route"]["answered_by"], "local-llm", "{turn}");
        assert_eq!(turn["route"]["attempts"][0]["side"], "cloud");
    }
    assert!(turns[0]["route"]["attempts"][0]["outcome"].as_str().unwrap().contains("not a chat completion"), "{}", turns[0]);
    let hang = &turns[1]["route"]["attempts"][0];
    assert!(hang["outcome"].as_str().unwrap().contains("no answer within 800 ms"), "{hang}");
    assert!(hang["ms"].as_u64().unwrap() < 3000, "the cloud's timeout bounds the wait: {hang}");
    assert_eq!(turns[2]["actions"][0]["value"], 21.0, "the conversation goes on: {}", turns[2]);
}

#[test]
fn the_model_sees_only_its_own_conversation_and_the_car_says_itself_what_it_can_do() {
    let cloud = ScriptedCloud::start(vec![Scripted::Says(json!({"role": "assistant", "content": "Sunlight scatters off the air."}))]);
    let (_dir, routing) = routing_policy(&[
        ("enabled = false", "enabled = true"),
        ("url = \"\"", &format!("url = \"{}\"", cloud.url)),
        ("enabled = true\nurl = \"http://127.0.0.1:8088/v1\"", "enabled = false\nurl = \"http://127.0.0.1:8088/v1\""),
    ]);
    let turns = turns(None, &routing, "is my cup in the car\nwhy is the sky blue\nwhat can you do\nwhat's your name\n");
    assert!(reply(&turns[0]).contains("camera is not responding"), "{}", turns[0]);
    assert_eq!(turns[1]["route"]["answered_by"], "cloud", "{}", turns[1]);
    let requests = cloud.requests();
    assert_eq!(requests.len(), 1, "questions about the assistant are the car's to answer: {requests:?}");
    let said: Vec<&str> = requests[0]["messages"].as_array().unwrap().iter().filter_map(|m| m["content"].as_str()).collect();
    assert!(said.iter().all(|m| !m.contains("camera") && !m.contains("cup")), "the car's failure is no conversation: {said:?}");

    // `cabin chat` brings the simulated car's head unit, but no camera.
    let abilities = reply(&turns[2]);
    assert!(abilities.starts_with("I'm Cabin, the car's assistant. I can set the temperature"), "{abilities}");
    assert!(abilities.contains("start navigation") && abilities.contains("open the trunk"), "{abilities}");
    // Nor a phone link: the hand-off to the phone is down too.
    assert!(
        abilities.contains("Right now I can't hand things to your phone and look for things in the cabin"),
        "what is down is said: {abilities}"
    );
    assert!(reply(&turns[3]).starts_with("I'm Cabin"), "{}", turns[3]);
}

#[test]
fn a_question_in_mandarin_is_answered_in_mandarin_cut_at_its_own_sentence_marks() {
    let cloud = ScriptedCloud::start(vec![
        Scripted::Says(json!({"role": "assistant", "content": "阳光被空气散射。蓝光散射得最多！所以天空是蓝色的。"})),
        tool_call("no_such_function", json!({})),
    ]);
    let (_dir, routing) = routing_policy(&[
        ("enabled = false", "enabled = true"),
        ("url = \"\"", &format!("url = \"{}\"", cloud.url)),
        ("enabled = true\nurl = \"http://127.0.0.1:8088/v1\"", "enabled = false\nurl = \"http://127.0.0.1:8088/v1\""),
    ]);
    let turns = turns(None, &routing, "天空为什么是蓝色的\n给我讲一个关于大海的故事\n");
    assert_eq!(turns[0]["route"]["answered_by"], "cloud", "{}", turns[0]);
    assert_eq!(reply(&turns[0]), "阳光被空气散射。蓝光散射得最多！", "two sentences, as in English: {}", turns[0]);
    assert_eq!(reply(&turns[1]), "抱歉，这个我做不到。", "{}", turns[1]);
    let requests = cloud.requests();
    let system = requests[0]["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("Answer in the language the driver speaks"), "the persona asks for it: {system}");
    assert_eq!(requests[0]["messages"].as_array().unwrap().last().unwrap()["content"], "天空为什么是蓝色的");
}

#[test]
fn the_cars_model_says_it_is_not_sure_rather_than_give_a_number_it_barely_believes() {
    let (_llm, local) = llm_endpoint(&["--model", "smollm2-135m"]);
    let (_dir, routing) = routing_policy(&[("url = \"http://127.0.0.1:8088/v1\"", &format!("url = \"{local}\""))]);
    // Each in a conversation of its own, so neither answer leans on the other. SmolLM2 gives the
    // Great Wall's length with its least likely digits at a log-probability of -1.6, a spider's 8
    // legs at -0.2 (2026-12-05). Not the moon's distance, which it gave at -1.4 once and at -1.26
    // after its products changed: too near the line of -1.2 to test by.
    let unsure = &turns(None, &routing, "how long is the great wall of china\n")[0];
    assert_eq!(reply(unsure), "I'm not sure about that.", "{unsure}");
    assert!(unsure["route"]["number_certainty"].as_f64().unwrap() < -1.2, "{unsure}");
    let sure = &turns(None, &routing, "how many legs does a spider have\n")[0];
    assert!(reply(sure).contains('8'), "{sure}");
    assert!(sure["route"]["number_certainty"].as_f64().unwrap() > -1.2, "{sure}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_answer_for_one_caller_holds_up_no_other() {
    let cloud = ScriptedCloud::start(vec![Scripted::Hangs]);
    let (_dir, routing) = routing_policy(&[
        ("enabled = false", "enabled = true"),
        ("url = \"\"", &format!("url = \"{}\"", cloud.url)),
        ("low_confidence = true", "low_confidence = true\ntimeout_ms = 20000"),
        ("enabled = true\nurl = \"http://127.0.0.1:8088/v1\"", "enabled = false\nurl = \"http://127.0.0.1:8088/v1\""),
    ]);
    let bus = PrivateBus::start().unwrap();
    let (_vehicle, _assistant) =
        tokio::task::block_in_place(|| (VehicleBus::start(&bus, &[]), Service::assistant(&bus, &["--routing", routing.to_str().unwrap()])));
    let connect = || async { zbus::connection::Builder::address(bus.address()).unwrap().build().await.unwrap() };
    let (phone, driver) = (connect().await, connect().await);
    // One caller's open question waits on a cloud that does not answer...
    let waiting = tokio::spawn(async move {
        cabin_assistant_client::AssistantProxy::new(&phone).await.unwrap().converse("why is the sky blue").await.unwrap()
    });
    while cloud.requests().is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // ...while another's request is done at once.
    let (reply, _) =
        cabin_assistant_client::AssistantProxy::new(&driver).await.unwrap().converse("set the temperature to twenty one").await.unwrap();
    assert_eq!(reply, "Setting the driver's side to 21 degrees.");
    assert!(!waiting.is_finished(), "the other caller is still waiting for its cloud");
    waiting.abort();
}
