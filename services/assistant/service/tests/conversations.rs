//! Conversations with the real dialog, the real MiniLM model and a real vehicle bus on a private
//! dbus-daemon, in one process: what the driver hears when time passes, the car goes away, or
//! the words make no sense.

use std::sync::OnceLock;
use std::time::Duration;

use cabin_assistant_service::{connect, Brain, BrainFiles, BusTools};
use cabin_dialog::Tools;
use cabin_models::ModelsDir;
use cabin_private_bus::PrivateBus;
use cabin_vehicle_bus_service::{serve, ServeOptions, VehicleBusService};
use cabin_vehicle_config::VehicleConfig;
use cabin_vehicle_sim::DriveProfile;

/// Loaded once per test binary: embedding every example takes a few seconds in a debug build.
fn brain() -> Brain {
    static BRAIN: OnceLock<Brain> = OnceLock::new();
    BRAIN
        .get_or_init(|| {
            Brain::load(&ModelsDir::resolve(), &BrainFiles::default(), &VehicleConfig::embedded()).unwrap_or_else(|e| panic!("{e}"))
        })
        .clone()
}

async fn vehicle_bus(bus: &PrivateBus, profile: DriveProfile) -> VehicleBusService {
    let options = ServeOptions { drive_profile: Some(profile), bus_address: Some(bus.address().to_string()), ..ServeOptions::default() };
    serve(VehicleConfig::embedded(), options).await.unwrap()
}

async fn car(profile: DriveProfile) -> (PrivateBus, VehicleBusService, BusTools) {
    let bus = PrivateBus::start().unwrap();
    let service = vehicle_bus(&bus, profile).await;
    let (tools, _) = connect(Some(bus.address()), None).await.unwrap();
    (bus, service, tools)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_half_filled_task_is_let_go_after_the_timeout() {
    let (_bus, _service, tools) = car(DriveProfile::parked()).await;
    let mut dialog = brain().dialog().with_timeout(Duration::from_millis(300));
    let asked = dialog.turn("open the window", &tools).await;
    assert_eq!(asked.reply, "Which window?");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let late = dialog.turn("the passenger one", &tools).await;
    assert!(late.reply.starts_with("(I let the earlier request go.)"), "{}", late.reply);
    assert!(late.actions.is_empty(), "nothing moves on a stale answer: {:?}", late.actions);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_turn_is_whole_when_nothing_more_is_needed_from_the_driver() {
    let (_bus, _service, tools) = car(DriveProfile::parked()).await;
    let mut dialog = brain().dialog();
    let whole = |dialog: &cabin_dialog::Dialog, text: &str| {
        dialog.understander().understand(text).is_ok_and(|understood| dialog.is_complete(text, &understood))
    };
    for text in ["set the temperature to twenty two degrees", "open the trunk", "navigate to shanghai", "把温度调到二十二度", "cancel"]
    {
        assert!(whole(&dialog, text), "{text:?} needs nothing more");
    }
    for text in ["set the temperature", "open the window", "why is the sky blue", "twenty two", "yes", "把温度调到"] {
        assert!(!whole(&dialog, text), "{text:?} is not a whole turn on its own");
    }

    // Asked a question, the answer is whole; nothing is changed by asking.
    assert_eq!(dialog.turn("open the window", &tools).await.reply, "Which window?");
    assert!(whole(&dialog, "the passenger one"));
    assert!(!whole(&dialog, "um"));
    assert_eq!(dialog.turn("the passenger one", &tools).await.actions.len(), 1, "the question was still open");

    // A correction is whole once it names the new value, not at the pause before it.
    dialog.turn("navigate to shanghai", &tools).await;
    assert!(!whole(&dialog, "no wait, not shanghai"));
    assert!(whole(&dialog, "no wait, not shanghai, shenzhen"));
    dialog.turn("set the temperature to twenty one degrees", &tools).await;
    assert!(whole(&dialog, "and the passenger side too"));
    assert!(!whole(&dialog, "and the"));
    dialog.turn("导航去上海", &tools).await;
    assert!(!whole(&dialog, "不是上海"));
    assert!(whole(&dialog, "不是上海，是深圳"));
}

/// The (signal, value) pairs a turn set.
fn sets(turn: &cabin_dialog::Turn) -> Vec<(String, String)> {
    turn.actions.iter().filter(|a| a.kind == "set").map(|a| (a.target.clone(), format!("{}", a.value.clone().unwrap()))).collect()
}

/// Says each utterance in turn; each must set its one signal to its value.
async fn each_sets_one_signal(dialog: &mut cabin_dialog::Dialog, tools: &BusTools, steps: &[(&str, &String, &str)]) {
    for (said, signal, value) in steps {
        let turn = dialog.turn(said, tools).await;
        assert_eq!(sets(&turn), [((*signal).clone(), value.to_string())], "{said:?}: {}", turn.reply);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_question_is_answered_by_what_answers_it_and_interrupted_by_a_new_request() {
    let (_bus, _service, tools) = car(DriveProfile::parked()).await;
    let mut dialog = brain().dialog();
    let window = |side: &str| format!("Vehicle.Cabin.Door.Row{side}.Window.Position");
    for (answer, moved) in [
        ("the passenger one", window("1.PassengerSide")),
        ("passenger side please", window("1.PassengerSide")),
        ("the one behind me", window("2.DriverSide")),
    ] {
        assert_eq!(dialog.turn("open the window", &tools).await.reply, "Which window?");
        let answered = dialog.turn(answer, &tools).await;
        assert_eq!(sets(&answered), [(moved, "100".to_string())], "{answer:?}: {}", answered.reply);
    }

    for (request, intent, signal) in [
        ("heat the passenger seat", "seat.set_heating", "Vehicle.Cabin.Seat.Row1.PassengerSide.Heating"),
        ("set the passenger side to 22", "climate.set_temperature", "Vehicle.Cabin.HVAC.Station.Row1.Passenger.Temperature"),
    ] {
        assert_eq!(dialog.turn("open the window", &tools).await.reply, "Which window?");
        let interrupted = dialog.turn(request, &tools).await;
        assert_eq!(interrupted.intent.as_deref(), Some(intent));
        let targets: Vec<_> = sets(&interrupted).into_iter().map(|(target, _)| target).collect();
        assert_eq!(targets, [signal], "{request:?} is its own request, not a window: {}", interrupted.reply);
    }

    // A bare number answers the question asked, whichever task it sounds like.
    assert_eq!(dialog.turn("change the volume", &tools).await.reply, "What volume, from zero to a hundred?");
    let volume = dialog.turn("twenty two", &tools).await;
    assert_eq!(sets(&volume), [("Vehicle.Cabin.Infotainment.Media.Volume".to_string(), "22".to_string())], "{}", volume.reply);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_row_of_seats_is_each_seat_in_it_in_both_languages() {
    let (_bus, _service, tools) = car(DriveProfile::parked()).await;
    let mut dialog = brain().dialog();
    let window = |side: &str| format!("Vehicle.Cabin.Door.{side}.Window.Position");
    let seat = |side: &str| format!("Vehicle.Cabin.Seat.{side}.Heating");
    for (said, expected, reply) in [
        ("close the rear windows", vec![(window("Row2.DriverSide"), "0"), (window("Row2.PassengerSide"), "0")], "the back"),
        ("后排车窗开一半", vec![(window("Row2.DriverSide"), "50"), (window("Row2.PassengerSide"), "50")], "后排"),
        ("前排座椅加热开到三档", vec![(seat("Row1.DriverSide"), "99"), (seat("Row1.PassengerSide"), "99")], "前排"),
    ] {
        let turn = dialog.turn(said, &tools).await;
        let expected: Vec<(String, String)> = expected.into_iter().map(|(signal, value)| (signal, value.to_string())).collect();
        assert_eq!(sets(&turn), expected, "{said:?}: {}", turn.reply);
        assert!(turn.reply.contains(reply), "{said:?} is answered with {reply:?}: {}", turn.reply);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn relative_changes_step_from_the_car_by_as_much_as_was_said() {
    let (_bus, _service, tools) = car(DriveProfile::parked()).await;
    let mut dialog = brain().dialog();
    let driver = "Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature".to_string();
    let volume = "Vehicle.Cabin.Infotainment.Media.Volume".to_string();
    each_sets_one_signal(
        &mut dialog,
        &tools,
        &[
            ("set the temperature to 22", &driver, "22"),
            // "Make it" corrects the last task, but a change of direction steps from its value.
            ("make it cooler", &driver, "21"),
            ("make it two degrees cooler", &driver, "19"),
            ("turn the volume up by 20", &volume, "50"),
            ("volume down 5", &volume, "45"),
            // After the volume, "make it ... warmer" is the temperature's, not a volume correction.
            ("make it three degrees warmer", &driver, "22"),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bit_more_opens_a_window_further_and_close_it_a_little_closes_it_a_little() {
    // A stranger's "a bit more" after opening the window wide set it to 20 %, and "close it a
    // little" shut it.
    let (_bus, _service, tools) = car(DriveProfile::parked()).await;
    let mut dialog = brain().dialog();
    let driver = "Vehicle.Cabin.Door.Row1.DriverSide.Window.Position".to_string();
    let volume = "Vehicle.Cabin.Infotainment.Media.Volume".to_string();
    each_sets_one_signal(
        &mut dialog,
        &tools,
        &[
            ("open my window halfway", &driver, "50"),
            ("a bit more", &driver, "70"),
            ("too much, close it a little", &driver, "50"),
            ("打开主驾车窗", &driver, "100"),
            ("关小一点", &driver, "80"),
            ("turn the volume up", &volume, "40"),
            ("a bit more", &volume, "50"),
        ],
    )
    .await;
    dialog.turn("open my window", &tools).await;
    let wide_open = dialog.turn("a bit more", &tools).await;
    assert_eq!(wide_open.reply, "It's already as high as it goes.");
    assert!(wide_open.actions.is_empty());
    // Which window is asked first; the step is taken from the one named.
    assert_eq!(dialog.turn("close the window a bit", &tools).await.reply, "Which window?");
    let named = dialog.turn("mine", &tools).await;
    assert_eq!(sets(&named), [(driver, "80".to_string())], "{}", named.reply);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_correction_to_another_window_puts_the_first_one_back_and_undo_takes_back_the_last_change() {
    // "Actually no, the rear left one" opened it and left the passenger window open.
    let (_bus, _service, tools) = car(DriveProfile::parked()).await;
    let mut dialog = brain().dialog();
    let window = |door: &str| format!("Vehicle.Cabin.Door.{door}.Window.Position");
    let position = |path: String| {
        let tools = &tools;
        async move { tools.get(&path).await.unwrap().as_f64().unwrap() }
    };
    dialog.turn("open the passenger window halfway", &tools).await;
    let corrected = dialog.turn("actually no, the rear left one", &tools).await;
    assert_eq!(position(window("Row2.DriverSide")).await, 50.0, "{}", corrected.reply);
    assert_eq!(position(window("Row1.PassengerSide")).await, 0.0, "the passenger window is back as it was");
    dialog.turn("打开主驾车窗", &tools).await;
    dialog.turn("不是主驾，改成副驾", &tools).await;
    assert_eq!(position(window("Row1.DriverSide")).await, 0.0);
    assert_eq!(position(window("Row1.PassengerSide")).await, 100.0);
    // The same thing corrected keeps the corrected value.
    dialog.turn("set the temperature to 22", &tools).await;
    dialog.turn("no, 24", &tools).await;
    let temperature = || position("Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature".into());
    assert_eq!(temperature().await, 24.0);
    // The speaker's own seat after another's, named on purpose, is a request of its own: the
    // passenger keeps the 20 asked for them.
    let passenger = || position("Vehicle.Cabin.HVAC.Station.Row1.Passenger.Temperature".into());
    dialog.turn("set the passenger side to 20", &tools).await;
    let mine = dialog.turn("actually make mine 23", &tools).await;
    assert_eq!((temperature().await, passenger().await), (23.0, 20.0), "{}", mine.reply);
    dialog.turn("set the temperature to 22", &tools).await;
    dialog.turn("no, 24", &tools).await;
    // "Undo that" takes the last change back, once.
    assert_eq!(dialog.turn("undo that", &tools).await.reply, "Okay, it's back as it was.");
    assert_eq!(temperature().await, 22.0);
    assert_eq!(dialog.turn("undo that", &tools).await.reply, "There's nothing to undo.");
    dialog.turn("open all the windows", &tools).await;
    assert_eq!(dialog.turn("撤销", &tools).await.reply, "好的，已经恢复原样。");
    // Each window as it was before: the passenger's open from the correction above.
    for (door, was) in [("Row1.DriverSide", 0.0), ("Row1.PassengerSide", 100.0), ("Row2.DriverSide", 50.0), ("Row2.PassengerSide", 0.0)] {
        assert_eq!(position(window(door)).await, was, "{door}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_requests_in_one_breath_are_both_done_and_a_name_with_and_stays_whole() {
    // A stranger's "open the window and turn on the ac" turned on the AC alone, and said nothing of the window.
    let (_bus, _service, tools) = car(DriveProfile::parked()).await;
    let mut dialog = brain().dialog();
    let both = dialog.turn("set the temperature to twenty and heat my seat", &tools).await;
    let driver_temperature = "Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature".to_string();
    let driver_seat = "Vehicle.Cabin.Seat.Row1.DriverSide.Heating".to_string();
    assert_eq!(sets(&both), [(driver_temperature.clone(), "20".into()), (driver_seat, "66".into())], "{}", both.reply);
    // The one with a question goes last, and the answer goes to it.
    let asked = dialog.turn("开窗然后把空调打开", &tools).await;
    assert_eq!(asked.reply, "空调已打开。哪个车窗？");
    let answered = dialog.turn("副驾", &tools).await;
    assert_eq!(sets(&answered), [("Vehicle.Cabin.Door.Row1.PassengerSide.Window.Position".to_string(), "100".into())]);
    let shop = dialog.turn("navigate to marks and spencer", &tools).await;
    assert_eq!(shop.reply, "Navigating to marks and spencer.");
    // A comma joins requests too, and one of them may be a "don't".
    let ac = "Vehicle.Cabin.HVAC.IsAirConditioningActive".to_string();
    dialog.turn("turn the ac off", &tools).await;
    let just = dialog.turn("don't open the window, just turn on the ac", &tools).await;
    assert_eq!(just.reply, "Okay, I won't. Air conditioning on.");
    assert_eq!(sets(&just), [(ac, "true".into())]);
    // One thing said twice is done once.
    dialog.turn("set the volume to 70", &tools).await;
    let once = dialog.turn("too loud, turn it down", &tools).await;
    assert_eq!(sets(&once), [("Vehicle.Cabin.Infotainment.Media.Volume".to_string(), "60".into())], "{}", once.reply);
    // What one part leaves out, the other says: one request (as whisper wrote a driver's
    // "set the temperature to twenty one degrees").
    let one = dialog.turn("set the temperature, 21 degrees", &tools).await;
    assert_eq!(sets(&one), [(driver_temperature, "21".into())], "{}", one.reply);
    // A correction in one breath is one request.
    let corrected = dialog.turn("导航去上海，不对，深圳", &tools).await;
    assert_eq!(corrected.actions.len(), 1, "{corrected:?}");
    assert_eq!(corrected.reply, "正在导航去深圳。");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_door_named_is_one_door_unlocked_and_actually_no_takes_a_change_back() {
    // A stranger's "unlock the passenger door" asked "Unlock all the doors?" and unlocked four;
    // "yes please but only the driver's" opened the driver's window; "turn on the AC" -
    // "actually no" left it on; 21.5 degrees was said and 22 set.
    let (_bus, _service, tools) = car(DriveProfile::parked()).await;
    let mut dialog = brain().dialog();
    let locked = |door: &'static str| {
        let tools = &tools;
        async move { tools.get(&format!("Vehicle.Cabin.Door.{door}.IsLocked")).await.unwrap() == cabin_vehicle_config::Value::Bool(true) }
    };
    dialog.turn("lock the doors", &tools).await;
    assert_eq!(dialog.turn("unlock the passenger door", &tools).await.reply, "Unlock the door on the passenger side?");
    let yes = dialog.turn("yes", &tools).await;
    assert_eq!(sets(&yes), [("Vehicle.Cabin.Door.Row1.PassengerSide.IsLocked".to_string(), "false".into())], "{}", yes.reply);
    assert!(locked("Row1.DriverSide").await && locked("Row2.DriverSide").await && locked("Row2.PassengerSide").await);
    assert_eq!(dialog.turn("unlock the doors", &tools).await.reply, "Unlock all the doors?");
    let only = dialog.turn("yes please but only the driver's", &tools).await;
    assert!(only.actions.is_empty() && only.reply.starts_with("Please say yes or no."), "{only:?}");
    assert_eq!(dialog.turn("no", &tools).await.reply, "Okay, I won't.");

    let ac = "Vehicle.Cabin.HVAC.IsAirConditioningActive";
    dialog.turn("turn on the ac", &tools).await;
    assert_eq!(dialog.turn("actually no", &tools).await.reply, "Okay, it's back as it was.");
    assert_eq!(tools.get(ac).await.unwrap(), cabin_vehicle_config::Value::Bool(false));

    let half = dialog.turn("set the temperature to twenty one point five", &tools).await;
    assert_eq!(half.reply, "Setting the driver's side to 22 degrees.", "the reply says what the whole-degree signal holds");
}

#[tokio::test(flavor = "multi_thread")]
async fn words_that_name_no_thing_change_the_thing_just_changed() {
    let (_bus, _service, tools) = car(DriveProfile::parked()).await;
    let mut dialog = brain().dialog();
    let driver = "Vehicle.Cabin.Door.Row1.DriverSide.Window.Position".to_string();
    let rear_left = "Vehicle.Cabin.Door.Row2.DriverSide.Window.Position".to_string();
    let dome = "Vehicle.Cabin.Light.IsDomeOn".to_string();
    each_sets_one_signal(
        &mut dialog,
        &tools,
        &[
            ("open the driver's window", &driver, "100"),
            // A stranger heard "Okay." here, and the window stayed open: "close" was a cancel.
            ("close it", &driver, "0"),
            ("open the rear left window", &rear_left, "100"),
            ("close", &rear_left, "0"),
            ("halfway", &rear_left, "50"),
            ("turn on the reading light", &dome, "true"),
            // Not the air conditioning, whose examples "off" is nearest to.
            ("off", &dome, "false"),
            ("打开阅读灯", &dome, "true"),
            ("关掉", &dome, "false"),
        ],
    )
    .await;
    // What names a thing is still its own request, and a cancel still moves nothing.
    let ac = dialog.turn("turn the air conditioning off", &tools).await;
    assert_eq!(sets(&ac), [("Vehicle.Cabin.HVAC.IsAirConditioningActive".to_string(), "false".to_string())], "{}", ac.reply);
    let cancel = dialog.turn("cancel", &tools).await;
    assert!(cancel.actions.is_empty(), "{cancel:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_trunk_closes_when_asked_to_close() {
    let (_bus, _service, tools) = car(DriveProfile::parked()).await;
    let mut dialog = brain().dialog();
    let trunk = "Vehicle.Body.Trunk.Rear.IsOpen".to_string();
    async fn open(dialog: &mut cabin_dialog::Dialog, tools: &BusTools) {
        assert_eq!(dialog.turn("open the trunk", tools).await.reply, "Open the trunk?");
        let opened = dialog.turn("yes", tools).await;
        assert!(sets(&opened).contains(&("Vehicle.Body.Trunk.Rear.IsOpen".to_string(), "true".to_string())), "{}", opened.reply);
    }
    open(&mut dialog, &tools).await;
    // A stranger heard "Okay." here, and the trunk stayed open.
    each_sets_one_signal(&mut dialog, &tools, &[("close it", &trunk, "false")]).await;
    // "Close the trunk" was asked back as "Open the trunk?": it reads as near as opening it.
    open(&mut dialog, &tools).await;
    each_sets_one_signal(&mut dialog, &tools, &[("close the trunk", &trunk, "false"), ("关上后备箱", &trunk, "false")]).await;
    // Opening it after closing it opens it: what closed it is not carried.
    open(&mut dialog, &tools).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hotter_steps_the_seat_heating_a_level_and_stops_at_its_ends() {
    let (_bus, _service, tools) = car(DriveProfile::parked()).await;
    let mut dialog = brain().dialog();
    let seat = "Vehicle.Cabin.Seat.Row1.DriverSide.Heating".to_string();
    each_sets_one_signal(
        &mut dialog,
        &tools,
        &[
            ("turn on my seat heating", &seat, "66"),
            // A stranger's "hotter" went to the cabin's temperature, and the seat stayed at 2.
            ("hotter", &seat, "99"),
            ("my seat is too hot", &seat, "66"),
            ("turn the seat heating down", &seat, "33"),
            ("座椅再热一点", &seat, "66"),
        ],
    )
    .await;
    assert_eq!(dialog.turn("seat heating to maximum", &tools).await.reply, "Seat heating on the driver's side, level 3.");
    let beyond = dialog.turn("hotter", &tools).await;
    assert_eq!(beyond.reply, "It's already as high as it goes.");
    assert!(beyond.actions.is_empty(), "{:?}", beyond.actions);
    // Warming a seat switches it on at its usual level; it is no step from where it was.
    each_sets_one_signal(&mut dialog, &tools, &[("turn off the seat heating", &seat, "0"), ("warm my seat", &seat, "66")]).await;
}

/// The fan, which a driver names more than any other control of the climate: the car used to
/// say it did not understand ("turn the fan up" is in the voice benchmark's commands).
#[tokio::test(flavor = "multi_thread")]
async fn the_fan_is_switched_set_to_a_level_and_stepped_in_both_languages() {
    let (_bus, _service, tools) = car(DriveProfile::parked()).await;
    let mut dialog = brain().dialog();
    let fan = "Vehicle.Cabin.HVAC.Station.Row1.Driver.FanSpeed".to_string();
    each_sets_one_signal(
        &mut dialog,
        &tools,
        &[
            ("turn the fan on", &fan, "66"),
            ("turn the fan up", &fan, "99"),
            ("the fan is too loud", &fan, "66"),
            ("set the fan to level one", &fan, "33"),
            ("turn the fan off", &fan, "0"),
            ("风量调到三档", &fan, "99"),
            ("风量小一点", &fan, "66"),
            ("关掉风扇", &fan, "0"),
        ],
    )
    .await;
    assert_eq!(dialog.turn("fan on full", &tools).await.reply, "Fan speed on the driver's side: level 3.");
    assert_eq!(dialog.turn("风量调到一档", &tools).await.reply, "好的，主驾风量调到1档。");
    // A step from the passenger's own fan, which was off, not from the driver's.
    let passenger = dialog.turn("turn the passenger fan up", &tools).await;
    assert_eq!(
        sets(&passenger),
        [("Vehicle.Cabin.HVAC.Station.Row1.Passenger.FanSpeed".to_string(), "33".to_string())],
        "{}",
        passenger.reply
    );
    // The fan is not the seat heating, the air conditioning or the temperature.
    for said in ["turn the fan up", "风量调大一点", "blower on high"] {
        let turn = dialog.turn(said, &tools).await;
        assert!(sets(&turn).iter().all(|(signal, _)| signal.ends_with("FanSpeed")), "{said:?}: {:?}", sets(&turn));
    }
}

/// A stranger's fan requests, English and Mandarin, and their neighbours that are not the fan
/// (temperature, air conditioning, seat heating, volume, windows), written from a sheet of what
/// the fan does (`data/fan-stranger.jsonl`). First run: 22 of 30 English and 16 of 20 Mandarin
/// requests moved the right fan the right way, 25 of 25 neighbours left it alone; its misses
/// were then read and fixed (27, 20 and 25; the README), so this holds what was fixed. Each
/// request starts from every fan at level 2.
#[tokio::test(flavor = "multi_thread")]
async fn a_strangers_fan_requests_move_the_fan_and_its_neighbours_do_not() {
    let (_bus, _service, tools) = car(DriveProfile::parked()).await;
    let zones = |zone: &str| -> Vec<&str> {
        match zone {
            "driver" => vec!["Row1.Driver"],
            "passenger" => vec!["Row1.Passenger"],
            "rear_left" => vec!["Row2.Driver"],
            "rear_right" => vec!["Row2.Passenger"],
            "rear" => vec!["Row2.Driver", "Row2.Passenger"],
            "front" => vec!["Row1.Driver", "Row1.Passenger"],
            "all" => vec!["Row1.Driver", "Row1.Passenger", "Row2.Driver", "Row2.Passenger"],
            other => panic!("a zone the sheet does not have: {other}"),
        }
    };
    let (mut right, mut fan_requests, mut wrong) = (0, 0, Vec::new());
    for line in include_str!("data/fan-stranger.jsonl").lines().filter(|line| !line.trim().is_empty()) {
        let item: serde_json::Value = serde_json::from_str(line).unwrap();
        let (said, is_fan, expect) = (item["text"].as_str().unwrap(), item["fan"].as_bool().unwrap(), item["expect"].as_str().unwrap());
        let mut dialog = brain().dialog();
        // The driver's last: the zone a request names none of is the driver's, not the last one set.
        for setup in [
            "set the passenger fan to level two",
            "set the rear left fan to level two",
            "set the rear right fan to level two",
            "set the driver fan to level two",
        ] {
            let turn = dialog.turn(setup, &tools).await;
            assert!(sets(&turn).iter().any(|(signal, value)| signal.ends_with("FanSpeed") && value == "66"), "{setup:?}: {}", turn.reply);
        }
        let turn = dialog.turn(said, &tools).await;
        let fans: Vec<(String, String)> = sets(&turn).into_iter().filter(|(signal, _)| signal.ends_with("FanSpeed")).collect();
        let ok = if is_fan {
            fan_requests += 1;
            let (what, zone) = expect.split_once(" zone ").unwrap_or((expect, "driver"));
            let wanted = match what {
                "off" => Some("0".to_string()),
                "up" => Some("99".to_string()),
                "down" => Some("33".to_string()),
                "on" => None,
                level => Some((level.trim_start_matches("level ").parse::<u32>().unwrap() * 33).to_string()),
            };
            let mut stations: Vec<&str> = fans
                .iter()
                .map(|(signal, _)| signal.trim_start_matches("Vehicle.Cabin.HVAC.Station.").trim_end_matches(".FanSpeed"))
                .collect();
            stations.sort();
            fans.len() == sets(&turn).len()
                && stations == zones(zone)
                && fans.iter().all(|(_, value)| wanted.as_ref().map_or(value != "0", |wanted| value == wanted))
        } else {
            fans.is_empty()
        };
        if ok {
            right += usize::from(is_fan);
        } else {
            wrong.push(format!("{said:?} ({expect}): {:?} {}", sets(&turn), turn.reply));
        }
    }
    let neighbours_moved = wrong.len() - (fan_requests - right);
    assert_eq!(neighbours_moved, 0, "{wrong:#?}");
    assert!(right * 100 >= fan_requests * 90, "{right} of {fan_requests} fan requests: {wrong:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_value_out_of_range_is_refused_in_the_drivers_language_and_a_step_stops_at_the_limit() {
    let (_bus, _service, tools) = car(DriveProfile::parked()).await;
    let mut dialog = brain().dialog();
    // A stranger heard "现在不能调节温度：40 is above the maximum 32。"
    let refused = dialog.turn("温度调到40度", &tools).await;
    assert_eq!(refused.reply, "现在不能调节温度：40超过了上限32。");
    assert!(refused.actions.iter().all(|action| action.error.is_some()), "{:?}", refused.actions);
    let volume = "Vehicle.Cabin.Infotainment.Media.Volume".to_string();
    each_sets_one_signal(&mut dialog, &tools, &[("volume 95", &volume, "95"), ("louder", &volume, "100")]).await;
    // "I can't change the volume: 110 is above the maximum 100", before.
    assert_eq!(dialog.turn("louder", &tools).await.reply, "It's already as high as it goes.");
    assert_eq!(dialog.turn("再大声一点", &tools).await.reply, "已经是最高了。");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_to_drive_to_an_address_navigates_there() {
    let (_bus, _service, tools) = car(DriveProfile::parked()).await;
    let mut dialog = brain().dialog();
    // A stranger heard "What should I remember?": the street outweighed the verb.
    for (said, destination) in [
        ("navigate to 42 market street", "42 market street"),
        ("go to forty two market street please", "42 market street"),
        ("去南京路100号", "南京路100号"),
    ] {
        let turn = dialog.turn(said, &tools).await;
        assert_eq!(turn.intent.as_deref(), Some("navigation.set_destination"), "{said:?}: {}", turn.reply);
        assert_eq!(turn.slots.get("destination").map(|d| d.to_string()).as_deref(), Some(destination), "{said:?}: {}", turn.reply);
    }
    // Telling the car an address is still a fact to keep.
    let fact = dialog.understander().understand("my home is 42 market street").unwrap();
    assert_eq!(fact.intent, "memory.remember");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_conversation_goes_on_when_the_vehicle_bus_goes_away_and_comes_back() {
    let (bus, service, tools) = car(DriveProfile::parked()).await;
    let mut dialog = brain().dialog();
    // The vehicle bus lets go of its name, as when its process dies.
    service.connection.release_name("org.cabin.VehicleBus1").await.unwrap();
    drop(service);
    let down = dialog.turn("set the temperature to twenty", &tools).await;
    assert_eq!(down.reply, "I can't set the temperature right now: the vehicle bus is not responding.");

    let _back = vehicle_bus(&bus, DriveProfile::parked()).await;
    let up = dialog.turn("set the temperature to twenty", &tools).await;
    assert_eq!(up.reply, "Setting the driver's side to 20 degrees.");
    assert_eq!(up.actions.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn vehicle_questions_are_answered_from_live_signals() {
    let (_bus, _service, tools) = car(DriveProfile::cruise(72.0, 0.0)).await;
    // The simulator publishes the cruising speed on its first tick: wait for it, with a bound.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while tools.get("Vehicle.Speed").await.ok().and_then(|v| v.as_f64()) != Some(72.0) {
        assert!(std::time::Instant::now() < deadline, "the simulated car never reached 72 km/h");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut dialog = brain().dialog();
    let speed = dialog.turn("how fast are we going", &tools).await;
    assert_eq!(speed.reply, "We're doing 72 kilometres an hour.", "{speed:?}");
    // Refused at once: asking "Unlock all the doors?" first would ask for nothing.
    let unlock = dialog.turn("unlock the doors", &tools).await;
    assert!(unlock.reply.starts_with("I can't change the locks: "), "{}", unlock.reply);
    assert!(unlock.task.is_none() && unlock.actions.is_empty(), "{unlock:?}");
    let yes = dialog.turn("yes", &tools).await;
    assert_eq!(yes.reply, "There's nothing waiting for a yes or no.");
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_or_nonsense_text_gets_a_clear_answer_and_moves_nothing() {
    let (_bus, _service, tools) = car(DriveProfile::parked()).await;
    let mut dialog = brain().dialog();
    let empty = dialog.turn("   ", &tools).await;
    assert_eq!(empty.reply, "I didn't catch that. Could you say it again?");
    let nonsense = dialog.turn("qwxz blorp flib", &tools).await;
    assert!(nonsense.low_confidence && nonsense.actions.is_empty(), "{nonsense:?}");
    assert!(nonsense.reply.starts_with("Sorry, I didn't understand that."), "{}", nonsense.reply);
    let yes = dialog.turn("yes", &tools).await;
    assert_eq!(yes.reply, "There's nothing waiting for a yes or no.");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_seat_heating_level_the_car_lacks_is_refused_as_a_level_not_set_to_another() {
    // A stranger's "seat heating level five" set level 2 and said so.
    let (_bus, _service, tools) = car(DriveProfile::parked()).await;
    let mut dialog = brain().dialog();
    let five = dialog.turn("seat heating level five", &tools).await;
    assert_eq!((five.reply.as_str(), sets(&five).len()), ("I can't heat the seat: 5 is above the maximum 3.", 0));
    let zh = dialog.turn("座椅加热调到5档", &tools).await;
    assert_eq!((zh.reply.as_str(), sets(&zh).len()), ("现在不能调节座椅加热：5超过了上限3。", 0));
    let three = dialog.turn("seat heating level 3", &tools).await;
    assert_eq!(sets(&three), [("Vehicle.Cabin.Seat.Row1.DriverSide.Heating".to_string(), "99".into())], "{}", three.reply);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_remark_about_the_car_is_answered_with_how_it_is_and_moves_nothing() {
    // Strangers' "the passenger window is dirty" opened it, "the lights are on" switched the
    // light on, "the trunk is open" asked to open it, "is the trunk locked" was answered for the
    // doors, "ventilate my seat" heated it and "turn on the defroster" switched the AC on.
    let (_bus, _service, tools) = car(DriveProfile::parked()).await;
    let mut dialog = brain().dialog();
    for (said, answer) in [
        ("the passenger window is dirty", "The windows are open by percent: front 0 and 0, rear 0 and 0."),
        ("the lights are on", "The interior light is off."),
        ("the trunk is open", "The trunk is closed."),
        ("后备箱开着", "后备箱关着。"),
        ("is the trunk locked", "The trunk is locked and closed."),
        ("is the seat heating on", "Seat heating is at 0 percent for the driver and 0 for the passenger."),
        ("what's the volume", "The volume is 30."),
    ] {
        let turn = dialog.turn(said, &tools).await;
        assert_eq!((turn.reply.as_str(), sets(&turn).len()), (answer, 0), "{said}: {turn:?}");
        assert!(turn.task.is_none(), "{said} leaves nothing waiting: {turn:?}");
    }
    // A remark that names nothing the car can tell is not a question ("What would you like to
    // know: speed, fuel...?").
    let weird = dialog.turn("the engine sounds weird", &tools).await;
    assert!(weird.reply.starts_with("Sorry, I didn't understand") && weird.task.is_none(), "{weird:?}");
    for other_thing in ["ventilate my seat", "recline my seat", "turn on the defroster", "open the sunroof"] {
        let turn = dialog.turn(other_thing, &tools).await;
        assert!(turn.low_confidence && turn.actions.is_empty() && turn.task.is_none(), "{other_thing}: {turn:?}");
    }
    let cold = dialog.turn("my seat is cold", &tools).await;
    assert_eq!(
        sets(&cold),
        [("Vehicle.Cabin.Seat.Row1.DriverSide.Heating".to_string(), "66".into())],
        "a complaint still asks: {}",
        cold.reply
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_statement_beside_a_command_is_its_reason_not_another_request() {
    // A stranger's "turn off the seat heating, it's getting too hot" also lowered the cabin's
    // temperature, and "I'd love some fresh air, open the window on my side" opened it and
    // then asked "Air conditioning on or off?".
    let (_bus, _service, tools) = car(DriveProfile::parked()).await;
    let mut dialog = brain().dialog();
    dialog.turn("heat my seat", &tools).await;
    let off = dialog.turn("turn off the seat heating, it's getting too hot", &tools).await;
    assert_eq!(sets(&off), [("Vehicle.Cabin.Seat.Row1.DriverSide.Heating".to_string(), "0".into())], "{}", off.reply);
    let air = dialog.turn("i'd love some fresh air, open the window on my side", &tools).await;
    assert_eq!(sets(&air), [("Vehicle.Cabin.Door.Row1.DriverSide.Window.Position".to_string(), "100".into())], "{}", air.reply);
    assert!(air.task.is_none(), "nothing else is asked: {air:?}");
    // Two statements, one of which says enough to act on.
    let dark = dialog.turn("it's too dark in here, i can't see a thing", &tools).await;
    assert_eq!(sets(&dark), [("Vehicle.Cabin.Light.IsDomeOn".to_string(), "true".into())], "{}", dark.reply);
    assert!(dark.task.is_none(), "{dark:?}");
    dialog.turn("turn the light off", &tools).await;
    let phone = dialog.turn("turn on the light in here, i dropped my phone", &tools).await;
    assert_eq!(sets(&phone), [("Vehicle.Cabin.Light.IsDomeOn".to_string(), "true".into())], "{}", phone.reply);
    // Two complaints are two requests.
    let both = dialog.turn("it's cold and the music is too loud", &tools).await;
    assert_eq!(sets(&both).len(), 2, "{}", both.reply);
    // A story about the car moves nothing.
    let story = dialog.turn("we left the windows open all night last summer", &tools).await;
    assert!(sets(&story).is_empty() && story.task.is_none(), "{story:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_other_one_thats_too_hot_and_mm_hmm_are_about_what_was_just_said() {
    // Strangers' "no, the other one" was "nothing waiting for a yes or no", "that's too hot"
    // after the seat heating lowered the cabin's temperature, "mm-hmm" to "Unlock all the
    // doors?" was not caught, and 导航去上海，不对，是深圳 navigated to "是深圳".
    let (_bus, _service, tools) = car(DriveProfile::parked()).await;
    let mut dialog = brain().dialog();
    let window = |side: &str| format!("Vehicle.Cabin.Door.Row1.{side}.Window.Position");
    dialog.turn("open the passenger window", &tools).await;
    let other = dialog.turn("no, the other one", &tools).await;
    assert_eq!(sets(&other), [(window("DriverSide"), "100".into()), (window("PassengerSide"), "0".into())], "{}", other.reply);
    dialog.turn("heat my seat", &tools).await;
    let hot = dialog.turn("that's too hot", &tools).await;
    assert_eq!(sets(&hot), [("Vehicle.Cabin.Seat.Row1.DriverSide.Heating".to_string(), "33".into())], "{}", hot.reply);
    assert_eq!(dialog.turn("unlock the doors", &tools).await.reply, "Unlock all the doors?");
    let yes = dialog.turn("Mm-hmm.", &tools).await;
    assert_eq!(sets(&yes).len(), 4, "{}", yes.reply);
    let trip = dialog.turn("导航去上海，不对，是深圳", &tools).await;
    assert_eq!(trip.reply, "正在导航去深圳。");
    // And from a stranger's conversations: a bare level corrects a level, 也打开 is "too", and
    // a number said after a side question still sets what was asked before it.
    dialog.turn("set the passenger seat heating to level 1", &tools).await;
    let three = dialog.turn("no, 3", &tools).await;
    assert_eq!(sets(&three), [("Vehicle.Cabin.Seat.Row1.PassengerSide.Heating".to_string(), "99".into())], "{}", three.reply);
    dialog.turn("打开副驾的车窗", &tools).await;
    let rear = dialog.turn("后排也打开", &tools).await;
    let rear_window = |side: &str| format!("Vehicle.Cabin.Door.Row2.{side}.Window.Position");
    assert_eq!(sets(&rear), [(rear_window("DriverSide"), "100".into()), (rear_window("PassengerSide"), "100".into())], "{}", rear.reply);
    assert_eq!(dialog.turn("把温度调一下", &tools).await.reply, "您想调到多少度？");
    dialog.turn("外面多少度？", &tools).await;
    let then = dialog.turn("那就二十四度吧", &tools).await;
    assert_eq!(sets(&then), [("Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature".to_string(), "24".into())], "{}", then.reply);
    // An answer it cannot place leaves the question asked, not forgotten.
    assert_eq!(dialog.turn("open a window", &tools).await.reply, "Which window?");
    let unplaced = dialog.turn("qwxz blorp", &tools).await;
    assert_eq!((unplaced.reply.as_str(), unplaced.actions.len()), ("Sorry, I didn't get that. Which window?", 0));
    let passenger = dialog.turn("the passenger one", &tools).await;
    assert_eq!(sets(&passenger), [(window("PassengerSide"), "100".into())], "{}", passenger.reply);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mandarin_driver_says_only_the_value_or_how_the_last_change_felt() {
    // A stranger's 开一半就行, 太亮了，关掉吧, 再低两度 and 嗯，打开吧 were not understood or did
    // nothing, and 后备箱好像没关 sent the trunk a close.
    let (_bus, _service, tools) = car(DriveProfile::parked()).await;
    let mut dialog = brain().dialog();
    let driver_window = "Vehicle.Cabin.Door.Row1.DriverSide.Window.Position".to_string();
    let temperature = "Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature".to_string();
    let light = "Vehicle.Cabin.Light.IsDomeOn".to_string();
    each_sets_one_signal(
        &mut dialog,
        &tools,
        &[
            ("把主驾车窗打开", &driver_window, "100"),
            ("开一半就行", &driver_window, "50"),
            ("打开车内灯", &light, "true"),
            ("太亮了，关掉吧", &light, "false"),
            ("温度调到二十五度", &temperature, "25"),
            ("说错了，二十三度", &temperature, "23"),
            ("再低两度", &temperature, "21"),
        ],
    )
    .await;
    let trunk = dialog.turn("后备箱好像没关", &tools).await;
    assert_eq!((trunk.reply.as_str(), sets(&trunk).len()), ("后备箱关着。", 0), "{trunk:?}");
    assert_eq!(dialog.turn("打开后备箱", &tools).await.reply, "要打开后备箱吗？");
    assert_eq!(dialog.turn("嗯，打开吧", &tools).await.reply, "正在打开后备箱。");
    // English words inside Mandarin, and an English "OK" in a Mandarin conversation, which
    // was answered in English.
    assert_eq!(dialog.turn("关上后备箱", &tools).await.reply, "正在关闭后备箱。");
    assert_eq!(dialog.turn("开一下trunk", &tools).await.reply, "要打开后备箱吗？");
    assert_eq!(dialog.turn("OK", &tools).await.reply, "正在打开后备箱。");
}
