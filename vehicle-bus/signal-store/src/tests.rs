//! Permission and interlock scenarios, in the words an OEM would use.

use std::sync::Arc;

use cabin_vehicle_config::{embedded_catalog, embedded_overlay, BackendKind, Caller, Source, Value, VehicleConfig};

use super::*;

const TRUNK: &str = "Vehicle.Body.Trunk.Rear.IsOpen";
const WINDOW: &str = "Vehicle.Cabin.Door.Row1.DriverSide.Window.Position";
const SPEED: &str = "Vehicle.Speed";

fn store_with(overlay: &str) -> (SignalStore, tokio::sync::mpsc::UnboundedReceiver<ActuationRequest>) {
    let config = VehicleConfig::load(&embedded_catalog(), &[embedded_overlay(), Source::new("test.toml", overlay)]).unwrap();
    let store = SignalStore::new(Arc::new(config));
    let requests = store.attach_backend(BackendKind::Simulator);
    (store, requests)
}

fn default_store() -> (SignalStore, tokio::sync::mpsc::UnboundedReceiver<ActuationRequest>) {
    store_with("")
}

fn assistant() -> Caller {
    Caller { uid: Some(1000), bus_names: vec!["org.cabin.Assistant1".into()], ..Caller::default() }
}

fn stranger() -> Caller {
    Caller { uid: Some(1234), ..Caller::default() }
}

fn driving_at(store: &SignalStore, kmh: f64) {
    store.update(SPEED, &Value::Float(kmh)).unwrap();
}

#[test]
fn scenario_the_assistant_opens_the_trunk_when_parked() {
    let (store, mut requests) = default_store();
    driving_at(&store, 0.0);
    assert_eq!(store.actuate(&assistant(), TRUNK, &Value::Bool(true)), Ok(Value::Bool(true)));
    let request = requests.try_recv().unwrap();
    assert_eq!((&*request.path, request.value), (TRUNK, Value::Bool(true)));
    assert_eq!(store.get(&assistant(), TRUNK).unwrap().target, Some(Value::Bool(true)));
}

#[test]
fn scenario_the_trunk_stays_shut_while_moving_and_nothing_changes() {
    let (store, mut requests) = default_store();
    driving_at(&store, 30.0);
    let refused = store.actuate(&assistant(), TRUNK, &Value::Bool(true)).unwrap_err();
    assert!(matches!(&refused, ActuateError::InterlockActive { interlock, .. } if interlock == "openings-only-when-stopped"));
    assert!(refused.to_string().contains("the trunk and doors open only while the car is stopped"));
    assert!(requests.try_recv().is_err(), "a refused request must not reach the vehicle");
    assert_eq!(store.get(&assistant(), TRUNK).unwrap().target, None);
    // Closing it is never refused.
    assert!(store.actuate(&assistant(), TRUNK, &Value::Bool(false)).is_ok());
}

#[test]
fn scenario_windows_open_at_most_twenty_percent_above_80_kmh() {
    let (store, _requests) = default_store();
    driving_at(&store, 100.0);
    assert!(matches!(store.actuate(&assistant(), WINDOW, &Value::Int(50)), Err(ActuateError::InterlockActive { .. })));
    assert_eq!(store.actuate(&assistant(), WINDOW, &Value::Int(20)), Ok(Value::Uint(20)));
    driving_at(&store, 60.0);
    assert_eq!(store.actuate(&assistant(), WINDOW, &Value::Int(50)), Ok(Value::Uint(50)));
}

#[test]
fn scenario_an_unknown_speed_counts_as_moving() {
    let (store, _requests) = default_store();
    assert!(matches!(store.actuate(&assistant(), TRUNK, &Value::Bool(true)), Err(ActuateError::InterlockActive { .. })));
}

#[test]
fn scenario_a_caller_without_a_role_may_do_nothing() {
    let (store, _requests) = default_store();
    driving_at(&store, 0.0);
    assert!(matches!(store.actuate(&stranger(), WINDOW, &Value::Int(10)), Err(ActuateError::NotPermitted { .. })));
    assert_eq!(store.get(&stranger(), SPEED), Err(ReadError::NotPermitted(SPEED.into())));
    assert!(store.list(&stranger(), "Vehicle.**").unwrap().is_empty());
}

#[test]
fn scenario_a_read_only_role_reads_but_never_actuates() {
    let (store, _requests) =
        store_with("[[role]]\nname = \"dashboard\"\nuids = [1234]\nread = [\"Vehicle.Speed\", \"Vehicle.Cabin.**\"]\n");
    driving_at(&store, 12.5);
    assert_eq!(store.get(&stranger(), SPEED).unwrap().current.unwrap().value, Value::Float(12.5));
    assert!(store.get(&stranger(), "Vehicle.Powertrain.Range").is_err());
    assert!(matches!(store.actuate(&stranger(), WINDOW, &Value::Int(10)), Err(ActuateError::NotPermitted { .. })));
    let listed = store.list(&stranger(), "Vehicle").unwrap();
    assert!(listed.iter().all(|r| r.spec.path == SPEED || r.spec.path.starts_with("Vehicle.Cabin.")));
}

#[test]
fn every_set_is_checked_against_the_catalog() {
    let (store, _requests) = default_store();
    let diag = Caller { uid: Some(0), ..Caller::default() };
    assert!(matches!(store.actuate(&diag, "Vehicle.Cabin.Nope", &Value::Int(1)), Err(ActuateError::UnknownSignal(_))));
    assert!(matches!(store.actuate(&diag, SPEED, &Value::Float(1.0)), Err(ActuateError::ReadOnly { .. })));
    assert!(matches!(store.actuate(&diag, WINDOW, &Value::String("wide".into())), Err(ActuateError::WrongType { .. })));
    assert!(matches!(store.actuate(&diag, WINDOW, &Value::Int(101)), Err(ActuateError::OutOfRange { .. })));
    assert!(matches!(store.actuate(&diag, WINDOW, &Value::Int(-1)), Err(ActuateError::OutOfRange { .. })));
    assert!(matches!(
        store.actuate(&diag, "Vehicle.Cabin.Infotainment.Media.Action", &Value::String("EXPLODE".into())),
        Err(ActuateError::OutOfRange { .. })
    ));
}

#[test]
fn a_missing_backend_is_reported_not_swallowed() {
    let config = VehicleConfig::embedded();
    let store = SignalStore::new(Arc::new(config));
    store.update(SPEED, &Value::Float(0.0)).unwrap();
    let diag = Caller { uid: Some(0), ..Caller::default() };
    assert!(matches!(store.actuate(&diag, WINDOW, &Value::Int(5)), Err(ActuateError::BackendUnavailable { .. })));
    assert_eq!(store.get(&diag, WINDOW).unwrap().target, None);
}

#[test]
fn a_backend_that_lost_the_vehicle_refuses_until_it_is_back() {
    let (store, mut requests) = default_store();
    driving_at(&store, 0.0);
    store.set_backend_online(BackendKind::Simulator, false);
    assert!(matches!(store.actuate(&assistant(), WINDOW, &Value::Int(5)), Err(ActuateError::BackendUnavailable { .. })));
    assert!(requests.try_recv().is_err());
    store.set_backend_online(BackendKind::Simulator, true);
    assert!(store.actuate(&assistant(), WINDOW, &Value::Int(5)).is_ok());
}

#[test]
fn subscribers_see_each_update_with_its_timestamp() {
    let (store, _requests) = default_store();
    let mut changes = store.subscribe();
    driving_at(&store, 42.0);
    let change = changes.try_recv().unwrap();
    assert_eq!(&*change.path, SPEED);
    assert_eq!(change.value, Value::Float(42.0));
    assert!(change.timestamp_us > 0);
    assert!(store.update(SPEED, &Value::String("fast".into())).is_err());
    assert!(changes.try_recv().is_err(), "an invalid update is not published");
}
