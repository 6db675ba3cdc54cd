//! Loading scenarios: the shipped configuration, and an OEM's overlay with its mistakes.

use super::*;

fn overlay(text: &str) -> Source {
    Source::new("oem.toml", text)
}

fn load(overlays: &[Source]) -> Result<VehicleConfig, ConfigErrors> {
    VehicleConfig::load(&embedded_catalog(), overlays)
}

/// The errors are exactly these lines, in any order.
fn assert_errors_are(errors: &str, expected: &[&str]) {
    for line in expected {
        assert!(errors.lines().any(|l| l == *line), "missing:\n{line}\nin:\n{errors}");
    }
    assert_eq!(errors.lines().count(), expected.len(), "{errors}");
}

#[test]
fn the_shipped_configuration_loads_with_the_standard_vss_paths() {
    let config = VehicleConfig::embedded();
    for path in [
        "Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature",
        "Vehicle.Cabin.HVAC.IsAirConditioningActive",
        "Vehicle.Cabin.Door.Row1.DriverSide.Window.Position",
        "Vehicle.Cabin.Seat.Row1.PassengerSide.Heating",
        "Vehicle.Cabin.Door.Row2.PassengerSide.IsLocked",
        "Vehicle.Body.Trunk.Rear.IsOpen",
        "Vehicle.Cabin.Light.IsDomeOn",
        "Vehicle.Cabin.Infotainment.Media.Volume",
        "Vehicle.Speed",
        "Vehicle.Powertrain.FuelSystem.RelativeLevel",
        "Vehicle.Powertrain.TractionBattery.StateOfCharge.Current",
        "Vehicle.Powertrain.Range",
        "Vehicle.Chassis.Axle.Row1.Wheel.Left.Tire.Pressure",
        "Vehicle.Exterior.AirTemperature",
        "Vehicle.Powertrain.Transmission.CurrentGear",
    ] {
        assert!(config.catalog.get(path).is_some(), "{path} missing from the default catalog");
    }
    assert_eq!(config.interlocks.len(), 4);
    assert_eq!(config.backend_of("Vehicle.Speed"), BackendKind::Simulator);
}

#[test]
fn an_overlay_adds_changes_and_deletes_nodes() {
    let config = load(&[overlay(
        r#"
[[node]]
path = "Vehicle.Cabin.Seat.Row1.DriverSide.Massage"
type = "actuator"
datatype = "uint8"
min = 0
max = 3

[[node]]
path = "Vehicle.Cabin.Infotainment.Media.Volume"
max = 40

[[node]]
path = "Vehicle.Cabin.Door.Row2"
delete = true
"#,
    )])
    .unwrap();
    let massage = config.catalog.get("Vehicle.Cabin.Seat.Row1.DriverSide.Massage").unwrap();
    assert_eq!(massage.max, Some(Value::Uint(3)));
    let volume = config.catalog.get("Vehicle.Cabin.Infotainment.Media.Volume").unwrap();
    assert_eq!(volume.max, Some(Value::Uint(40)));
    assert_eq!(volume.min, Some(Value::Uint(0)), "unchanged fields are kept");
    assert!(config.catalog.get("Vehicle.Cabin.Door.Row2.PassengerSide.IsLocked").is_none());
    assert!(config.catalog.get("Vehicle.Cabin.Door.Row1.PassengerSide.IsLocked").is_some());
}

#[test]
fn every_mistake_is_reported_with_file_line_and_field() {
    let text = r#"default_backend = "canbus"

[[role]]
name = "assistant"
bus_names = ["org.cabin.Assistant1"]
read = ["Vehicle.Cabn.**"]
actuate = ["Vehicle.Speed"]

[[interlock]]
name = "trunk"
paths = ["Vehicle.Body.Trunk.Rear.IsOpen"]
refuse = "== 7.5"
when = ["Vehicle.Sped > 0"]
reason = "moving"

[[node]]
path = "Vehicle.Cabin.Light.IsDomeOn"
datatype = "colour"
"#;
    let errors = load(&[overlay(text)]).unwrap_err().to_string();
    let expected = [
        "oem.toml:1: default_backend: unknown backend 'canbus' (expected simulator or can)",
        "oem.toml:6: role.read: 'Vehicle.Cabn.**' matches no signal in the catalog",
        "oem.toml:7: role.actuate: 'Vehicle.Speed' matches no actuator",
        "oem.toml:12: interlock 'trunk'.refuse: expected boolean, got number for Vehicle.Body.Trunk.Rear.IsOpen",
        "oem.toml:13: interlock 'trunk'.when: no signal 'Vehicle.Sped' in the catalog",
        // The line of the field, not of the node's path (which an integrator was sent to).
        "oem.toml:18: Vehicle.Cabin.Light.IsDomeOn.datatype: unknown datatype 'colour'",
    ];
    assert_errors_are(&errors, &expected);
}

#[test]
fn a_misspelt_key_hides_none_of_the_files_other_mistakes() {
    let text = r#"default_backend = "canbus"

[[node]]
path = "Vehicle.Cabin.Light.IsDomeOn"
colour = "red"
datatype = "colour"

[[role]]
name = "assistant"
bus_names = ["org.cabin.Assistant1"]
reads = ["Vehicle.**"]
actuate = ["Vehicle.Speed"]
"#;
    let errors = load(&[overlay(text)]).unwrap_err().to_string();
    let expected = [
        "oem.toml:1: default_backend: unknown backend 'canbus' (expected simulator or can)",
        "oem.toml:5: unknown field `colour`, expected one of `path`, `delete`, `type`, `datatype`, `unit`, `min`, `max`, `allowed`, `default`, `description`",
        "oem.toml:6: Vehicle.Cabin.Light.IsDomeOn.datatype: unknown datatype 'colour'",
        "oem.toml:11: unknown field `reads`, expected one of `name`, `uids`, `bus_names`, `service_user`, `everyone`, `read`, `actuate`",
        "oem.toml:12: role.actuate: 'Vehicle.Speed' matches no actuator",
    ];
    assert_errors_are(&errors, &expected);
}

#[test]
fn an_integrators_slips_are_named_and_a_branch_is_no_slip() {
    let text = r#"[[node]]
path = "Vehicle.Cabin.SteeringWheel"
type = "branch"

[[node]]
path = "Vehicle.Cabin.SteeringWheel.IsHeatingOn"
type = "actuator"
datatype = "boolean"

[[node]]
path = "Vehicle.Cabin.HVAC.Staton.Row1.Driver.Temperature"
min = 18

[[role]]
name = "assistant"
bus_names = ["org.cabin.Assistant1"]

[[role]]
name = "assistant"
bus_names = ["org.cabin.Voice1", "org.cabin.Assistent1"]

[[interlock]]
name = "wheel"
paths = ["Vehicle.Cabin.SteeringWheel.IsHeatingOn"]
when = ["Vehicle.Speed > 100"]
reason = "too fast"

[[interlock]]
name = "wheel"
paths = ["Vehicle.Cabin.SteeringWheel.IsHeatingOn"]
when = ["Vehicle.Speed > 120"]
reason = "far too fast"
"#;
    let errors = load(&[overlay(text)]).unwrap_err().to_string();
    let expected = [
        // It said "missing node type" for the misspelt branch, and a branch was "unknown node type 'branch' (expected branch, ...)".
        "oem.toml:11: Vehicle.Cabin.HVAC.Staton.Row1.Driver.Temperature: no such signal in the catalog (`Vehicle.Cabin.HVAC` has no `Staton`); a new one needs a `type`",
        "oem.toml:19: role.name: a role named 'assistant' is defined already",
        // It reached nobody, and in `cabin up` the assistant then held its user's every right.
        "oem.toml:20: role.bus_names: 'org.cabin.Assistent1' is no Cabin service (they are: org.cabin.Assistant1, org.cabin.PhoneLink1, org.cabin.Voice1, org.cabin.Vision1, org.cabin.VehicleBus1, org.cabin.HeadUnit1, org.cabin.Phone1)",
        "oem.toml:29: interlock.name: an interlock named 'wheel' is defined already",
    ];
    assert_errors_are(&errors, &expected);
}

#[test]
fn unknown_fields_and_bad_toml_name_the_line() {
    let errors = load(&[overlay("[[role]]\nname = \"x\"\nactuates = [\"Vehicle.**\"]\n")]).unwrap_err().to_string();
    assert!(errors.starts_with("oem.toml:3: unknown field `actuates`"), "{errors}");
    let errors = load(&[overlay("[[interlock]\n")]).unwrap_err().to_string();
    assert!(errors.starts_with("oem.toml:1: "), "{errors}");
}

#[test]
fn feeds_route_signals_to_backends() {
    let config = load(&[overlay(
        r#"
[[feed]]
backend = "can"
paths = ["Vehicle.Speed", "Vehicle.Powertrain.**"]
"#,
    )])
    .unwrap();
    assert_eq!(config.backend_of("Vehicle.Speed"), BackendKind::Can);
    assert_eq!(config.backend_of("Vehicle.Powertrain.Range"), BackendKind::Can);
    assert_eq!(config.backend_of("Vehicle.Cabin.Light.IsDomeOn"), BackendKind::Simulator);
}

#[test]
fn simulator_initial_values_are_typed_and_range_checked() {
    let errors = load(&[overlay(
        "[simulator.initial]\n\"Vehicle.Powertrain.FuelSystem.RelativeLevel\" = 140\n\"Vehicle.Cabin.Light.IsDomeOn\" = \"yes\"\n",
    )])
    .unwrap_err()
    .to_string();
    assert!(
        errors.contains("oem.toml:2: simulator.initial.Vehicle.Powertrain.FuelSystem.RelativeLevel: 140 is above the maximum 100"),
        "{errors}"
    );
    assert!(errors.contains("oem.toml:3: simulator.initial.Vehicle.Cabin.Light.IsDomeOn: expected boolean, got string"), "{errors}");
}
