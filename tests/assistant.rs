//! The assistant end to end: `cabin understand`, `cabin chat` and `cabin serve assistant` as real
//! processes, a real vehicle bus on a private dbus-daemon, and the MiniLM model installed by
//! `cabin models fetch minilm`.

mod support;

use futures_util::StreamExt;

use serde_json::Value as Json;
use support::*;

const DRIVER_TEMPERATURE: &str = "Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature";
const PASSENGER_TEMPERATURE: &str = "Vehicle.Cabin.HVAC.Station.Row1.Passenger.Temperature";

fn json_lines(output: &std::process::Output) -> Vec<Json> {
    assert!(output.status.success(), "cabin failed: {}", stderr(output));
    stdout(output).lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))).collect()
}

/// The (signal, value) pairs a turn set.
fn sets(turn: &Json) -> Vec<(String, f64)> {
    turn["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "set" && a.get("error").is_none())
        .map(|a| {
            (a["target"].as_str().unwrap().to_string(), a["value"].as_f64().unwrap_or_else(|| f64::from(u8::from(a["value"] == true))))
        })
        .collect()
}

#[test]
fn understand_reads_intent_and_spelled_out_numbers() {
    let output =
        cabin_with_input(None, &["understand", "--json", "um could you set the passenger side to twenty two point five please"], "");
    let understood = &json_lines(&output)[0];
    assert_eq!(understood["intent"], "climate.set_temperature");
    assert_eq!(understood["slots"]["temperature"], 22.5);
    assert_eq!(understood["slots"]["zone"], "passenger");
    assert_eq!(understood["low_confidence"], false);

    let garbage = cabin_with_input(None, &["understand", "--json", "qwxz blorp"], "");
    assert_eq!(json_lines(&garbage)[0]["low_confidence"], true, "nonsense is flagged as a guess");

    let empty = cabin_with_input(None, &["understand", "  "], "");
    assert!(!empty.status.success());
    assert_eq!(stderr(&empty).trim(), "error: nothing to understand: the text is empty");
}

#[test]
fn chat_fills_corrects_carries_context_and_confirms_on_a_simulated_car() {
    let script = "set the temperature\n\
                  twenty one\n\
                  no, twenty two\n\
                  and the passenger side too\n\
                  a bit warmer\n\
                  open the trunk\n\
                  yes\n\
                  unlock the doors\n\
                  no\n\
                  set the temperature\n\
                  never mind\n";
    let turns = json_lines(&cabin_with_input(None, &["chat", "--json"], script));
    assert_eq!(turns.len(), 11);
    assert_eq!(turns[0]["task"]["waiting_for"], "temperature", "a missing slot is asked for: {}", turns[0]);
    assert!(sets(&turns[0]).is_empty());
    assert_eq!(sets(&turns[1]), [(DRIVER_TEMPERATURE.to_string(), 21.0)]);
    assert_eq!(sets(&turns[2]), [(DRIVER_TEMPERATURE.to_string(), 22.0)], "the correction re-runs the task: {}", turns[2]);
    assert_eq!(sets(&turns[3]), [(PASSENGER_TEMPERATURE.to_string(), 22.0)], "context carries the temperature: {}", turns[3]);
    assert_eq!(sets(&turns[4]), [(PASSENGER_TEMPERATURE.to_string(), 23.0)], "warmer steps the passenger side: {}", turns[4]);
    assert_eq!(turns[5]["task"]["waiting_for"], "confirmation", "the trunk asks first: {}", turns[5]);
    assert!(sets(&turns[5]).is_empty());
    assert_eq!(sets(&turns[6]).len(), 2, "yes opens the trunk: {}", turns[6]);
    assert_eq!(turns[7]["task"]["waiting_for"], "confirmation", "unlocking asks first: {}", turns[7]);
    assert!(sets(&turns[8]).is_empty() && turns[8]["task"].is_null(), "no leaves the doors locked: {}", turns[8]);
    assert_eq!(turns[9]["task"]["waiting_for"], "temperature");
    assert!(turns[10]["task"].is_null(), "cancel drops the half-filled task: {}", turns[10]);
}

#[test]
fn a_question_about_the_cars_state_is_answered_and_moves_nothing() {
    // A stranger's questions found these taken for requests: the window opened when asked about.
    let script = "open the driver's window\n\
                  is the driver's window open?\n\
                  are the windows closed?\n\
                  is the AC on?\n\
                  is the interior light on?\n\
                  is the trunk open?\n\
                  车窗开着吗？\n\
                  空调开着吗？\n\
                  后备箱开着吗？\n\
                  can you close the windows\n";
    let turns = json_lines(&cabin_with_input(None, &["chat", "--json", "--memory", "off"], script));
    assert_eq!(turns.len(), 10);
    assert_eq!(sets(&turns[0]), [("Vehicle.Cabin.Door.Row1.DriverSide.Window.Position".to_string(), 100.0)]);
    for turn in &turns[1..9] {
        assert_eq!(turn["intent"], "vehicle.query", "{turn}");
        assert!(sets(turn).is_empty() && turn["task"].is_null(), "a question moves nothing: {turn}");
    }
    let reply = |n: usize| turns[n]["reply"].as_str().unwrap().to_string();
    assert!(reply(1).contains("front 100 and 0"), "the driver's window read as it is: {}", reply(1));
    assert_eq!(reply(3), "The air conditioning is off.");
    assert_eq!(reply(5), "The trunk is closed.");
    assert!(reply(6).contains("前排100和0"), "{}", reply(6));
    assert_eq!(reply(8), "后备箱关着。");
    assert!(!sets(&turns[9]).is_empty(), "a request put as a question is still a request: {}", turns[9]);
}

#[test]
fn a_question_or_a_wish_to_be_told_moves_nothing() {
    // "Why is the window open?" opened it, after asking "Which window?"; "what is my seat heater
    // set to" switched it on, and "tell me a joke about windows" opened them all.
    let script = "why is the driver's window open?\n\
                  why is the trunk open?\n\
                  how does the heated seat work?\n\
                  为什么空调开着？\n\
                  what is my seat heater set to?\n\
                  tell me a joke about windows\n\
                  座椅加热现在是几档\n\
                  which windows are open?\n\
                  does this car have heated seats?\n\
                  leave the windows alone\n\
                  why don't you open the passenger window\n";
    let turns = json_lines(&cabin_with_input(None, &["chat", "--json", "--memory", "off"], script));
    assert_eq!(turns.len(), 11);
    for turn in &turns[..10] {
        let waits_to_move = !turn["task"].is_null() && turn["task"]["intent"] != "vehicle.query";
        assert!(sets(turn).is_empty() && !waits_to_move, "a question moves nothing, nor waits to: {turn}");
    }
    assert!(turns[0]["reply"].as_str().unwrap().contains("front 0 and 0"), "the windows as they are: {}", turns[0]);
    assert_eq!(turns[1]["reply"], "The trunk is closed.");
    let passenger_window = "Vehicle.Cabin.Door.Row1.PassengerSide.Window.Position".to_string();
    assert_eq!(sets(&turns[10]), [(passenger_window, 100.0)], "a suggestion is a request: {}", turns[10]);
}

/// `cabin chat`'s turns for `script`, with an OEM's intents and tasks files written from these texts.
fn chat_with_oem_files(intents: &str, tasks: &str, script: &str) -> Vec<Json> {
    let (_intents_dir, intents) = temp_file("oem-intents.toml", intents);
    let (_tasks_dir, tasks) = temp_file("oem-tasks.toml", tasks);
    let args = ["chat", "--json", "--memory", "off", "--intents", intents.to_str().unwrap(), "--tasks", tasks.to_str().unwrap()];
    json_lines(&cabin_with_input(None, &args, script))
}

#[test]
fn an_oem_intent_with_few_examples_does_not_take_a_question_that_shares_its_words() {
    // An integrator's four examples of a blue light turned it on for 天空为什么是蓝色的 ("why is
    // the sky blue?"). The dome light stands in for an ambient light the shipped catalog lacks.
    let intents = "[[intent]]\nname = \"lights.mood_blue\"\nexamples = [\n  \"set the ambient light to blue\",\n  \
                   \"make the ambient lighting blue\",\n  \"change the mood light colour to blue\",\n  \"blue ambient light please\",\n  \
                   \"氛围灯调成蓝色\",\n  \"把氛围灯换成蓝色\",\n  \"氛围灯改为蓝色\",\n  \"蓝色氛围灯\",\n]\n";
    let tasks = "[[task]]\nintent = \"lights.mood_blue\"\ndoing = \"change the mood light\"\n\
                 set = [{ signal = \"Vehicle.Cabin.Light.IsDomeOn\", value = true }]\ndone = \"Mood light blue.\"\n";
    let turns = chat_with_oem_files(intents, tasks, "天空为什么是蓝色的\nwhy is the sky blue\n氛围灯调成蓝色\n");
    for turn in &turns[..2] {
        assert!(sets(turn).is_empty(), "a question moves nothing: {turn}");
    }
    assert_eq!(sets(&turns[2]), [("Vehicle.Cabin.Light.IsDomeOn".to_string(), 1.0)], "the OEM's own request still acts: {}", turns[2]);
}

#[test]
fn a_question_about_an_oem_setting_moves_nothing() {
    // An integrator's defroster switched on for "is the defroster on" and 除雾开着吗: the guard
    // knew the shipped settings by name. A `switch` slot makes an intent a setting now.
    let intents = "[[intent]]\nname = \"climate.set_defrost\"\nslots = { state = \"switch\" }\nexamples = [\n  \"turn on the defroster\",\n  \
                   \"defrost the windshield\",\n  \"switch the demister off\",\n  \"turn the windshield defroster off\",\n  \
                   \"demist the windscreen please\",\n  \"defroster on\",\n  \"打开前挡除雾\",\n  \"关闭除雾\",\n  \"前挡除雾打开\",\n  \"把除雾关掉\",\n]\n";
    let tasks = "[[task]]\nintent = \"climate.set_defrost\"\ndoing = \"switch the defroster\"\nslots.state = { default = \"on\" }\n\
                 set = [{ signal = \"Vehicle.Cabin.HVAC.IsFrontDefrosterActive\", value = \"{state}\" }]\ndone = \"Defroster {state}.\"\n";
    let turns = chat_with_oem_files(intents, tasks, "is the defroster on\n除雾开着吗\nturn on the defroster\n");
    for turn in &turns[..2] {
        assert!(sets(turn).is_empty(), "a question moves nothing: {turn}");
    }
    assert_eq!(sets(&turns[2]), [("Vehicle.Cabin.HVAC.IsFrontDefrosterActive".to_string(), 1.0)], "the request acts: {}", turns[2]);
}

#[test]
fn what_the_assistant_may_not_do_is_refused_before_it_asks() {
    // An integrator took the trunk from the assistant's role: "Open the trunk?", "yes", then
    // "I'm not allowed to open the trunk".
    let shipped = std::fs::read_to_string(repo_file("vehicle-bus/config/defaults/overlay.toml")).unwrap();
    let without_trunk =
        shipped.replace(r#"actuate = ["Vehicle.Cabin.**", "Vehicle.Body.Trunk.Rear.*"]"#, r#"actuate = ["Vehicle.Cabin.**"]"#);
    assert_ne!(shipped, without_trunk, "the assistant's role in the shipped overlay changed: update this test");
    let (_dir, overlay) = temp_file("no-trunk.toml", &without_trunk);
    let args = ["chat", "--json", "--memory", "off", "--overlay", overlay.to_str().unwrap()];
    let turns = json_lines(&cabin_with_input(None, &args, "open the trunk\nunlock the doors\n"));
    assert_eq!(turns[0]["reply"], "I'm not allowed to open the trunk.", "{}", turns[0]);
    assert!(turns[0]["task"].is_null(), "nothing is left waiting for a yes: {}", turns[0]);
    assert_eq!(turns[1]["reply"], "Unlock all the doors?", "what the role allows is still asked: {}", turns[1]);
}

#[test]
fn dont_is_obeyed_and_only_a_plain_yes_opens_the_trunk_or_unlocks_the_doors() {
    // A stranger's "don't open the windows, it's raining" opened them, 别锁门 locked the doors,
    // and "what", "maybe later" or 等一下 to "Open the trunk?" opened it.
    let script = "don't open the windows, it's raining\n\
                  no need to heat my seat\n\
                  别锁门\n\
                  座椅加热不用开\n\
                  open the trunk\n\
                  what\n\
                  maybe later\n\
                  ok no\n\
                  打开后备箱\n\
                  等一下\n\
                  不要打开\n\
                  unlock the doors\n\
                  huh\n\
                  yes\n";
    let turns = json_lines(&cabin_with_input(None, &["chat", "--json", "--memory", "off"], script));
    assert_eq!(turns.len(), 14);
    let reply = |n: usize| turns[n]["reply"].as_str().unwrap().to_string();
    for turn in &turns[..13] {
        assert!(sets(turn).is_empty(), "nothing moves: {turn}");
    }
    for n in [0, 1] {
        assert_eq!(reply(n), "Okay, I won't.");
    }
    for n in [2, 3, 10] {
        assert_eq!(reply(n), "好的，那就不做了。");
    }
    for n in [5, 6] {
        assert_eq!(reply(n), "Please say yes or no. Open the trunk?", "asked again");
    }
    assert_eq!(reply(7), "Okay, I won't.");
    assert_eq!(reply(9), "请说“是”或者“不”。要打开后备箱吗？");
    assert_eq!(reply(12), "Please say yes or no. Unlock all the doors?");
    assert_eq!(sets(&turns[13]).len(), 4, "a plain yes unlocks every door: {}", turns[13]);
}

#[test]
fn a_light_the_car_does_not_control_is_not_the_interior_light() {
    // A stranger's "turn on the hazard lights" switched the dome light on.
    let turns = json_lines(&cabin_with_input(
        None,
        &["chat", "--json", "--memory", "off"],
        "turn on the hazard lights\nturn off the headlights\nturn on the reading light\n",
    ));
    for turn in &turns[..2] {
        assert!(sets(turn).is_empty() && turn["low_confidence"] == true, "{turn}");
    }
    assert_eq!(sets(&turns[2]), [("Vehicle.Cabin.Light.IsDomeOn".to_string(), 1.0)], "{}", turns[2]);
}

#[test]
fn a_refusal_from_the_vehicle_bus_is_spoken_in_plain_words() {
    let bus = PrivateBus::start().unwrap();
    let _vehicle = VehicleBus::start(&bus, &[]);
    assert!(cabin(&bus, &["sim", "drive", "60"]).status.success());
    let turns = json_lines(&cabin_with_input(
        Some(&bus),
        &["chat", "--json"],
        "open the trunk\nset the volume to a hundred and fifty\nset the temperature to thirty four\n",
    ));
    // At once, without "Open the trunk?" first.
    let refusal = turns[0]["reply"].as_str().unwrap();
    assert!(refusal.starts_with("I can't open the trunk:") && refusal.contains("stopped"), "{refusal}");
    let trunk = json(&cabin(&bus, &["signals", "get", "Vehicle.Body.Trunk.Rear.IsOpen", "--json"]));
    assert_ne!(trunk["value"], true, "the trunk stays shut");
    assert!(turns[1]["reply"].as_str().unwrap().starts_with("I can't change the volume"), "{}", turns[1]);
    // A temperature outside the cabin's range is refused, not asked for again and again.
    assert_eq!(turns[2]["reply"], "I can't set the temperature: 34 is above the maximum 32.", "{}", turns[2]);
}

/// `cabin chat FLAG FILE` (the file written from `text`) stops at once with one line holding `expected`.
fn chat_stops_on(flag: &str, (name, text): (&str, &str), said: &str, expected: &str) {
    let (_dir, file) = temp_file(name, text);
    let output = cabin_with_input(None, &["chat", flag, file.to_str().unwrap()], said);
    assert!(!output.status.success());
    let error = stderr(&output);
    assert!(error.contains(expected), "{error}");
    assert_eq!(error.trim().lines().count(), 1, "{error}");
}

#[test]
fn a_bad_task_file_stops_chat_with_file_and_line() {
    let tasks = "[[task]]\nintent = \"trunk.open\"\n\nset = [{ signal = \"Vehicle.Body.Frunk.IsOpen\", value = true }]\ndone = \"ok\"\n";
    let expected = "oem-tasks.toml:4: task `trunk.open`: unknown signal `Vehicle.Body.Frunk.IsOpen`";
    chat_stops_on("--tasks", ("oem-tasks.toml", tasks), "open the trunk\n", expected);
}

#[test]
fn an_oem_intent_no_task_serves_stops_chat_with_file_and_line() {
    let intents = "[[intent]]\nname = \"wheel.set_heatin\"\nexamples = [\"打开方向盘加热\"]\n";
    // A misspelt name was an intent of its own: "我听懂了，但是这件事我做不了。"
    let expected = "oem-intents.zh.toml:2: intent `wheel.set_heatin` has no task";
    chat_stops_on("--intents", ("oem-intents.zh.toml", intents), "打开方向盘加热\n", expected);
}

#[test]
fn a_translation_that_names_no_interlock_of_the_vehicle_stops_chat_with_file_and_line() {
    let words = "language = \"zh\"\n\n[interlocks]\nopenings-only-when-stoped = \"车辆停稳后才能打开后备箱\"\n";
    // Accepted, and the refusal was then said in English mid-sentence.
    let expected = "oem-tasks.zh.toml:4: [interlocks] `openings-only-when-stoped`: the vehicle has no interlock of that name";
    chat_stops_on("--tasks", ("oem-tasks.zh.toml", words), "打开后备箱\n", expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_assistant_service_acts_on_the_vehicle_and_the_head_unit_over_dbus() {
    let bus = PrivateBus::start().unwrap();
    let _vehicle = tokio::task::block_in_place(|| VehicleBus::start(&bus, &[]));
    let _assistant = tokio::task::block_in_place(|| Service::assistant(&bus, &[]));
    let connection = zbus::connection::Builder::address(bus.address()).unwrap().build().await.unwrap();
    let assistant = cabin_assistant_client::AssistantProxy::new(&connection).await.unwrap();
    let (reply, _) = assistant.converse("navigate to shanghai").await.unwrap();
    assert_eq!(reply, "Navigating to shanghai.");
    // The simulated car's head unit was told, and says so.
    let head_unit = cabin_vehicle_bus_service::HeadUnitProxy::new(&connection).await.unwrap();
    let mut changes = head_unit.receive_changed().await.unwrap();
    let (reply, turn) = assistant.converse("no wait, not shanghai, shenzhen").await.unwrap();
    assert_eq!(reply, "Navigating to shenzhen.", "{turn}");
    let change = tokio::time::timeout(std::time::Duration::from_secs(5), changes.next()).await.unwrap().unwrap();
    assert_eq!(change.args().unwrap().now, "navigating to shenzhen");

    for (said, answer) in [
        ("play some jazz", "Playing jazz."),
        ("skip this song", "Next track."),
        ("go back a song", "Previous track."),
        ("pause the music", "Paused."),
        ("resume the music", "Resuming."),
        ("turn off the radio", "Paused."),
    ] {
        let (reply, turn) = assistant.converse(said).await.unwrap();
        assert_eq!(reply, answer, "{said:?}: {turn}");
    }
    let state: serde_json::Value = serde_json::from_str(&head_unit.describe().await.unwrap()).unwrap();
    assert_eq!(state["destination"], "shenzhen");
    assert_eq!((state["media"].as_str(), state["paused"].as_bool()), (Some("jazz"), Some(true)));
    assert_eq!(state["skips"], serde_json::json!(["next", "previous"]));
    // Played on in Mandarin: the paused track, not a song called "继续播放".
    let (reply, turn) = assistant.converse("继续播放").await.unwrap();
    assert_eq!(reply, "继续播放。", "{turn}");
    let state: serde_json::Value = serde_json::from_str(&head_unit.describe().await.unwrap()).unwrap();
    assert_eq!((state["media"].as_str(), state["paused"].as_bool()), (Some("jazz"), Some(false)));

    let (reply, _) = assistant.converse("set the temperature to twenty one").await.unwrap();
    assert_eq!(reply, "Setting the driver's side to 21 degrees.");
    let vehicle = cabin_vehicle_bus_client::VehicleBusClient::on(connection.clone()).await.unwrap();
    let hvac = vehicle.describe(DRIVER_TEMPERATURE).await.unwrap().remove(0);
    assert_eq!(hvac.target.or(hvac.value).and_then(|v| v.as_f64()), Some(21.0));

    // Another caller has a conversation of its own: no open question leaks across.
    let (reply, _) = assistant.converse("set the temperature").await.unwrap();
    assert_eq!(reply, "What temperature would you like?");
    let other = zbus::connection::Builder::address(bus.address()).unwrap().build().await.unwrap();
    let (reply, _) = cabin_assistant_client::AssistantProxy::new(&other).await.unwrap().converse("twenty").await.unwrap();
    assert_ne!(reply, "Setting the driver's side to 20 degrees.");

    // The camera is not there yet: the assistant says so instead of guessing.
    let (reply, _) = assistant.converse("is my hat in the car").await.unwrap();
    assert_eq!(reply, "I can't look in the cabin right now: the camera is not responding.");
}

/// Mandarin through the same processes: the car acts, refuses and takes a correction, and
/// answers in Mandarin. Needs `cabin models fetch e5-small` besides MiniLM.
#[tokio::test(flavor = "multi_thread")]
async fn the_assistant_understands_acts_and_answers_in_mandarin() {
    let bus = PrivateBus::start().unwrap();
    let _vehicle = tokio::task::block_in_place(|| VehicleBus::start(&bus, &[]));
    let _assistant = tokio::task::block_in_place(|| Service::assistant(&bus, &[]));
    let connection = zbus::connection::Builder::address(bus.address()).unwrap().build().await.unwrap();
    let assistant = cabin_assistant_client::AssistantProxy::new(&connection).await.unwrap();
    let vehicle = cabin_vehicle_bus_client::VehicleBusClient::on(connection.clone()).await.unwrap();
    let target = |path: &'static str| {
        let vehicle = &vehicle;
        async move {
            let signal = vehicle.describe(path).await.unwrap().remove(0);
            signal.target.or(signal.value)
        }
    };

    let (reply, turn) = assistant.converse("把温度调到二十二度").await.unwrap();
    assert_eq!(reply, "好的，主驾温度调到22度。", "{turn}");
    assert_eq!(target(DRIVER_TEMPERATURE).await.and_then(|v| v.as_f64()), Some(22.0));
    let (reply, turn) = assistant.converse("副驾也一样").await.unwrap();
    assert_eq!(reply, "好的，副驾温度调到22度。", "{turn}");
    assert_eq!(target(PASSENGER_TEMPERATURE).await.and_then(|v| v.as_f64()), Some(22.0));

    // The correction lands on the head unit's navigation call.
    let head_unit = cabin_vehicle_bus_service::HeadUnitProxy::new(&connection).await.unwrap();
    let (reply, _) = assistant.converse("导航去上海").await.unwrap();
    assert_eq!(reply, "正在导航去上海。");
    let (reply, turn) = assistant.converse("不是上海，是深圳").await.unwrap();
    assert_eq!(reply, "正在导航去深圳。", "{turn}");
    let state: serde_json::Value = serde_json::from_str(&head_unit.describe().await.unwrap()).unwrap();
    assert_eq!(state["destination"], "深圳");

    // While driving, the trunk stays shut, and the driver hears why in Mandarin.
    tokio::task::block_in_place(|| assert!(cabin(&bus, &["sim", "drive", "60"]).status.success()));
    // At once: "要打开后备箱吗？" first would ask for nothing.
    let (reply, turn) = assistant.converse("打开后备箱").await.unwrap();
    assert_eq!(reply, "现在不能打开后备箱：车辆停稳后才能解锁车门和后备箱。", "{turn}");
    assert_ne!(target("Vehicle.Body.Trunk.Rear.IsOpen").await, Some(cabin_vehicle_config::Value::Bool(true)));

    // What the car can do, from its tasks, in Mandarin.
    let (reply, _) = assistant.converse("你能做什么？").await.unwrap();
    assert!(reply.starts_with("我是") && reply.contains("调节温度") && reply.contains("开始导航"), "{reply}");

    // English still works in the same conversation, and is answered in English.
    let (reply, _) = assistant.converse("set the temperature to twenty one").await.unwrap();
    assert_eq!(reply, "Setting the driver's side to 21 degrees.");
}

#[test]
fn memory_outlives_the_process_and_only_its_driver_sees_it() {
    let dir = tempfile::tempdir().unwrap();
    let memory = dir.path().join("memory.redb");
    let chat = |driver: &str, script: &str| {
        json_lines(&cabin_with_input(None, &["chat", "--json", "--memory", memory.to_str().unwrap(), "--driver", driver], script))
    };
    let first = chat("alice", "my home is forty two market street\nremember that i like twenty one degrees\n");
    assert_eq!(first[0]["reply"], "Okay, I'll remember that your home is 42 market street.", "{}", first[0]);
    assert_eq!(first[1]["reply"], "Okay, I'll remember that you like 21 degrees.");

    // A new process: what alice said is still there, and her liking fills what she leaves out.
    let second = chat(
        "alice",
        "drive me home\nset the temperature\nwhat do you remember about me\nforget that\nwhat do you remember about me\nwhat did i ask you today\nset the temperature\n",
    );
    assert_eq!(second[0]["actions"][0]["target"], "org.cabin.HeadUnit1.Navigation.SetDestination(42 market street)", "{}", second[0]);
    assert_eq!(second[1]["reply"], "Setting the driver's side to 21 degrees, as you like it.", "{}", second[1]);
    assert_eq!(sets(&second[1]), [("Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature".to_string(), 21.0)]);
    assert_eq!(second[2]["reply"], "I remember that your home is 42 market street and you like 21 degrees.");
    assert_eq!(second[3]["reply"], "Okay, I've forgotten that you like 21 degrees.");
    assert_eq!(second[4]["reply"], "I remember that your home is 42 market street.");
    let recalled = second[5]["reply"].as_str().unwrap();
    assert!(recalled.starts_with("Today you asked me") && recalled.contains("\"drive me home\""), "{recalled}");
    assert_eq!(second[6]["reply"], "What temperature would you like?", "a forgotten liking is asked for again");

    // In Mandarin too: the liking is kept, fills the temperature, and is said back in Mandarin.
    let chinese = chat("carol", "记住我喜欢二十二度\n调一下温度\n你记得我什么\n");
    assert_eq!(chinese[0]["reply"], "好的，我记住了：您喜欢22度。", "{}", chinese[0]);
    assert_eq!(chinese[1]["reply"], "好的，主驾温度调到22度，按您喜欢的。", "{}", chinese[1]);
    assert_eq!(chinese[2]["reply"], "我记得：您喜欢22度。");

    let bob = chat("bob", "what do you remember about me\n");
    assert_eq!(bob[0]["reply"], "You haven't asked me to remember anything.", "another driver's memory is his own");

    // An owner whose policy keeps nothing of what is said: alice's day is let go, too.
    let (_policy_dir, keep_nothing) = routing_policy(&[("keep_said_days = 30", "keep_said_days = 0")]);
    let private = |script: &str| {
        let args =
            ["chat", "--json", "--memory", memory.to_str().unwrap(), "--driver", "alice", "--routing", keep_nothing.to_str().unwrap()];
        json_lines(&cabin_with_input(None, &args, script))
    };
    private("open the window\n");
    assert_eq!(private("what did i ask you today\n")[0]["reply"], "You didn't ask me anything today.");
}
