//! Is a turn whole at a pause? Judged on a set written by an author who read only the READMEs
//! (`tests/data/whole_turns.toml`), never used to tune the judge. Two errors, not alike: taking
//! half a command as whole cuts the driver off (rare, or the voice is unusable); missing a whole
//! one only costs the longer silence.

use cabin_assistant_service::{connect, Brain, BrainFiles};
use cabin_models::ModelsDir;
use cabin_private_bus::PrivateBus;
use cabin_vehicle_bus_service::{serve, ServeOptions};
use cabin_vehicle_config::VehicleConfig;
use cabin_vehicle_sim::DriveProfile;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Cases {
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Case {
    before: Vec<String>,
    text: String,
    whole: bool,
}

#[tokio::test(flavor = "multi_thread")]
async fn half_commands_are_rarely_taken_as_whole_and_most_whole_ones_end_early() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/whole_turns.toml");
    let cases: Cases = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap_or_else(|e| panic!("{path}: {e}"));
    let brain = Brain::load(&ModelsDir::resolve(), &BrainFiles::default(), &VehicleConfig::embedded()).unwrap_or_else(|e| panic!("{e}"));
    let bus = PrivateBus::start().unwrap();
    let options = ServeOptions {
        drive_profile: Some(DriveProfile::parked()),
        bus_address: Some(bus.address().to_string()),
        ..ServeOptions::default()
    };
    let _vehicle = serve(VehicleConfig::embedded(), options).await.unwrap();
    let (tools, _) = connect(Some(bus.address()), None).await.unwrap();

    let (mut cut_off, mut halves, mut ended_early, mut wholes) = (Vec::new(), 0, 0, 0);
    let mut missed = Vec::new();
    for case in &cases.case {
        let mut dialog = brain.dialog();
        for earlier in &case.before {
            dialog.turn(earlier, &tools).await;
        }
        let judged = dialog.understander().understand(&case.text).is_ok_and(|understood| dialog.is_complete(&case.text, &understood));
        if case.whole {
            wholes += 1;
            ended_early += usize::from(judged);
            if !judged {
                missed.push(format!("{:?} then {:?}", case.before, case.text));
            }
        } else {
            halves += 1;
            if judged {
                cut_off.push(format!("{:?} then {:?}", case.before, case.text));
            }
        }
    }
    let cut_rate = cut_off.len() as f64 / halves as f64;
    let early_rate = ended_early as f64 / wholes as f64;
    println!("half commands taken as whole: {}/{halves} ({:.1} %)", cut_off.len(), cut_rate * 100.0);
    println!("whole turns ended at the pause: {ended_early}/{wholes} ({:.1} %)", early_rate * 100.0);
    println!("cut off: {cut_off:#?}\nwaited: {missed:#?}");
    assert!(cut_rate <= 0.05, "half commands cut off: {cut_off:#?}");
    assert!(early_rate >= 0.75, "whole turns that waited out the silence: {missed:#?}");
}
