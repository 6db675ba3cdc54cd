//! The console's own commands (`get`, `set`, `list`, `drive`, `park`); anything else is said to
//! the assistant.

use cabin_vehicle_bus_client::{ClientError, VehicleBusClient};
use cabin_vehicle_config::Value;

use crate::output::with_unit;

pub const HELP: &str = "commands: get PATH | set PATH VALUE | list [GLOB] | drive KMH [RAMP_S] | park | help | quit\n\
                        anything else is said to the assistant, e.g. \"set the temperature to twenty one\"";

/// Console commands have a shape of their own; "set the temperature to 21" is for the assistant.
pub fn is_console_command(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    let is_path = |w: &str| w.starts_with("Vehicle");
    let is_number = |w: &str| w.parse::<f64>().is_ok();
    match words.as_slice() {
        ["get", path] | ["set", path, _] => is_path(path),
        ["list"] | ["park"] | ["help"] => true,
        ["list", glob] => is_path(glob),
        ["drive", speed] => is_number(speed),
        ["drive", speed, ramp] => is_number(speed) && is_number(ramp),
        _ => false,
    }
}

pub async fn console_command(client: &VehicleBusClient, line: &str) -> Result<(), ClientError> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        [] => {}
        ["get", path] => {
            let reading = client.get(path).await?;
            let unit = client.describe(path).await?.into_iter().next().and_then(|i| i.spec.unit);
            println!("{path} = {}", with_unit(&reading.value, unit.as_deref()));
        }
        ["set", path, value] => {
            let accepted = client.set(path, &Value::from_text(value)).await?;
            println!("{path} <- {accepted} (accepted)");
        }
        ["list"] | ["list", _] => {
            let pattern = words.get(1).copied().unwrap_or("Vehicle.**");
            for info in client.describe(pattern).await? {
                let value = info.value.as_ref().map(|v| with_unit(v, info.spec.unit.as_deref())).unwrap_or_else(|| "-".into());
                println!("{}  {}  {}", info.spec.path, value, if info.actuatable { "settable" } else { "" });
            }
        }
        ["drive", speed] | ["drive", speed, _] => {
            let speed: f64 = speed.parse().map_err(|_| ClientError::Protocol(format!("'{speed}' is not a speed in km/h")))?;
            let ramp: f64 = words.get(2).and_then(|r| r.parse().ok()).unwrap_or(0.0);
            client.drive(speed, ramp).await?;
        }
        ["park"] => client.drive(0.0, 0.0).await?,
        _ => println!("{HELP}"),
    }
    Ok(())
}
