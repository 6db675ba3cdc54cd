//! How answers look on a terminal and as JSON.

use std::time::{SystemTime, UNIX_EPOCH};

use cabin_vehicle_bus_client::ClientError;
use cabin_vehicle_config::Value;

/// `HH:MM:SS.mmm` (UTC) of a timestamp in µs since the epoch.
pub fn time_of_day(timestamp_us: u64) -> String {
    let ms = timestamp_us / 1000;
    let day_ms = ms % 86_400_000;
    format!("{:02}:{:02}:{:02}.{:03}", day_ms / 3_600_000, day_ms / 60_000 % 60, day_ms / 1000 % 60, day_ms % 1000)
}

/// How long ago a timestamp was, for people.
pub fn age(timestamp_us: u64) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0);
    let seconds = now.saturating_sub(timestamp_us) as f64 / 1e6;
    if seconds < 60.0 {
        format!("{seconds:.1} s ago")
    } else {
        format!("{:.0} min ago", seconds / 60.0)
    }
}

pub fn with_unit(value: &Value, unit: Option<&str>) -> String {
    match unit {
        Some(unit) if !matches!(value, Value::Bool(_) | Value::String(_)) => format!("{value} {unit}"),
        _ => value.to_string(),
    }
}

/// The JSON printed for a failed request, so scripts can tell a refusal's kind.
pub fn error_json(error: &ClientError) -> serde_json::Value {
    let kind = match error {
        ClientError::Refused { refusal, .. } => refusal.name(),
        ClientError::NotRunning => "NotRunning",
        ClientError::Connect { .. } => "NoBus",
        ClientError::Bus(_) | ClientError::Protocol(_) => "Bus",
    };
    serde_json::json!({ "error": { "kind": kind, "message": error.to_string() } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day_are_utc_clock_times() {
        // 2026-11-28 17:05:09.250 UTC
        assert_eq!(time_of_day(1_795_885_509_250_000), "17:05:09.250");
    }
}
