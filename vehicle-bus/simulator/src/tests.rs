use std::sync::Arc;

use cabin_signal_store::SignalStore;
use cabin_vehicle_config::{BackendKind, Caller, Value, VehicleConfig};

use super::*;

fn diagnostic() -> Caller {
    Caller { uid: Some(0), ..Caller::default() }
}

fn running(profile: DriveProfile) -> (Arc<SignalStore>, SimulatorHandle) {
    let store = Arc::new(SignalStore::new(Arc::new(VehicleConfig::embedded())));
    let requests = store.attach_backend(BackendKind::Simulator);
    let handle = start(store.clone(), requests, profile);
    (store, handle)
}

fn current(store: &SignalStore, path: &str) -> Value {
    store.get_unchecked(path).unwrap_or_else(|| panic!("{path} has no value"))
}

#[tokio::test(start_paused = true)]
async fn a_parked_car_starts_with_plausible_values() {
    let (store, _sim) = running(DriveProfile::parked());
    assert_eq!(current(&store, "Vehicle.Speed"), Value::Float(0.0));
    assert_eq!(current(&store, "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked"), Value::Bool(true));
    assert_eq!(current(&store, "Vehicle.Powertrain.FuelSystem.RelativeLevel"), Value::Uint(64));
    // Every signal has a value, and each fits its limits (the store would refuse otherwise).
    for path in store.config().catalog.signals.keys() {
        assert!(store.get_unchecked(path).is_some(), "{path} has no initial value");
    }
}

#[tokio::test(start_paused = true)]
async fn the_range_counts_fuel_and_battery() {
    let (store, _sim) = running(DriveProfile::parked());
    tokio::time::sleep(TICK * 2).await;
    let metres = |path| current(&store, path).as_f64().unwrap();
    // 64 % of 50 litres at 7 litres per 100 km is 457 km, and the battery gives 48 km more.
    assert_eq!(metres("Vehicle.Powertrain.FuelSystem.Range").round(), 457_143.0);
    assert_eq!(metres("Vehicle.Powertrain.Range"), metres("Vehicle.Powertrain.FuelSystem.Range") + 48_000.0);
}

#[tokio::test(start_paused = true)]
async fn a_window_travels_to_its_target_over_time() {
    let (store, _sim) = running(DriveProfile::parked());
    let window = "Vehicle.Cabin.Door.Row1.DriverSide.Window.Position";
    let mut changes = store.subscribe();
    store.actuate(&diagnostic(), window, &Value::Int(50)).unwrap();
    assert_eq!(current(&store, window), Value::Uint(0), "nothing moves at once");
    sleep(Duration::from_millis(1000)).await;
    let halfway = current(&store, window).as_f64().unwrap();
    assert!(halfway > 10.0 && halfway < 50.0, "after 1 s the window is on its way, at {halfway}");
    sleep(Duration::from_millis(2000)).await;
    assert_eq!(current(&store, window), Value::Uint(50));
    let mut seen = Vec::new();
    while let Ok(change) = changes.try_recv() {
        if &*change.path == window {
            seen.push(change.value.as_f64().unwrap());
        }
    }
    assert!(seen.len() >= 10 && seen.windows(2).all(|w| w[0] < w[1]), "steady travel: {seen:?}");
}

#[tokio::test(start_paused = true)]
async fn speed_follows_the_drive_profile_and_gear_follows_speed() {
    let (store, sim) = running(DriveProfile::parked());
    sim.set_profile(DriveProfile::cruise(100.0, 10.0));
    sleep(Duration::from_secs(5)).await;
    let speed = current(&store, "Vehicle.Speed").as_f64().unwrap();
    assert!((45.0..=55.0).contains(&speed), "halfway up the ramp, got {speed}");
    sleep(Duration::from_secs(6)).await;
    assert_eq!(current(&store, "Vehicle.Speed"), Value::Float(100.0));
    assert_eq!(current(&store, "Vehicle.IsMoving"), Value::Bool(true));
    assert_eq!(current(&store, "Vehicle.Powertrain.Transmission.CurrentGear"), Value::Int(5));
    assert_eq!(current(&store, "Vehicle.Powertrain.Transmission.SelectedGear"), Value::Int(127), "driving is Drive (VSS 127)");
    sim.set_profile(DriveProfile::parked());
    sleep(Duration::from_millis(300)).await;
    assert_eq!(current(&store, "Vehicle.Speed"), Value::Float(0.0));
    assert_eq!(current(&store, "Vehicle.Powertrain.Transmission.SelectedGear"), Value::Int(126), "parked is Park (VSS 126)");
}

#[tokio::test(start_paused = true)]
async fn a_newer_request_replaces_the_one_under_way() {
    let (store, _sim) = running(DriveProfile::parked());
    let window = "Vehicle.Cabin.Door.Row1.PassengerSide.Window.Position";
    store.actuate(&diagnostic(), window, &Value::Int(100)).unwrap();
    sleep(Duration::from_millis(1000)).await;
    store.actuate(&diagnostic(), window, &Value::Int(0)).unwrap();
    sleep(Duration::from_secs(5)).await;
    assert_eq!(current(&store, window), Value::Uint(0));
}
