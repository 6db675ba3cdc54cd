//! Drive profiles: how the simulated car's speed evolves. A profile is a list of steps, each a
//! target speed reached linearly over `ramp_s` then held for `hold_s`; it may repeat.
//!
//! ```toml
//! repeat = false
//! [[step]]
//! speed = 100.0   # km/h
//! ramp_s = 10.0
//! hold_s = 600.0
//! ```

use std::path::Path;

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriveStep {
    /// Target speed in km/h.
    pub speed: f64,
    /// Seconds to reach the target from the previous speed.
    #[serde(default)]
    pub ramp_s: f64,
    /// Seconds to hold it; the last step of a profile that does not repeat holds forever.
    #[serde(default)]
    pub hold_s: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriveProfile {
    #[serde(default)]
    pub repeat: bool,
    #[serde(rename = "step")]
    pub steps: Vec<DriveStep>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("{name}: cannot read drive profile: {source}")]
    Read { name: String, source: std::io::Error },
    #[error("{name}:{line}: {message}")]
    Invalid { name: String, line: usize, message: String },
    #[error("unknown drive profile '{0}' (built in: parked, city, highway; or a .toml file)")]
    Unknown(String),
}

impl DriveProfile {
    pub fn parked() -> Self {
        Self::constant(0.0)
    }

    /// Reach `speed` over `ramp_s` seconds and stay there.
    pub fn cruise(speed: f64, ramp_s: f64) -> Self {
        Self { repeat: false, steps: vec![DriveStep { speed, ramp_s, hold_s: 0.0 }] }
    }

    fn constant(speed: f64) -> Self {
        Self::cruise(speed, 0.0)
    }

    /// A built-in profile by name, or a TOML file.
    pub fn named_or_file(name: &str) -> Result<Self, ProfileError> {
        match name {
            "parked" => return Ok(Self::parked()),
            "city" => {
                return Ok(Self {
                    repeat: true,
                    steps: vec![
                        DriveStep { speed: 50.0, ramp_s: 8.0, hold_s: 30.0 },
                        DriveStep { speed: 30.0, ramp_s: 4.0, hold_s: 15.0 },
                        DriveStep { speed: 0.0, ramp_s: 6.0, hold_s: 20.0 },
                    ],
                })
            }
            "highway" => return Ok(Self::cruise(120.0, 15.0)),
            _ => {}
        }
        if !name.ends_with(".toml") {
            return Err(ProfileError::Unknown(name.to_string()));
        }
        let text = std::fs::read_to_string(Path::new(name)).map_err(|source| ProfileError::Read { name: name.to_string(), source })?;
        Self::from_toml(name, &text)
    }

    pub fn from_toml(name: &str, text: &str) -> Result<Self, ProfileError> {
        let invalid = |line: usize, message: String| ProfileError::Invalid { name: name.to_string(), line, message };
        let profile: DriveProfile = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| text[..s.start].matches('\n').count() + 1).unwrap_or(0);
            invalid(line, e.message().trim().to_string())
        })?;
        if profile.steps.is_empty() {
            return Err(invalid(0, "a drive profile needs at least one [[step]]".into()));
        }
        for (i, step) in profile.steps.iter().enumerate() {
            let bad = |what: &str| invalid(0, format!("step {}: {what}", i + 1));
            if !(0.0..=400.0).contains(&step.speed) {
                return Err(bad("speed must be between 0 and 400 km/h"));
            }
            if step.ramp_s < 0.0 || step.hold_s < 0.0 || !step.ramp_s.is_finite() || !step.hold_s.is_finite() {
                return Err(bad("ramp_s and hold_s must be zero or more seconds"));
            }
        }
        Ok(profile)
    }

    /// Speed `elapsed` seconds into the profile, starting from `start_speed`.
    pub fn speed_at(&self, start_speed: f64, elapsed: f64) -> f64 {
        let cycle: f64 = self.steps.iter().map(|s| s.ramp_s + s.hold_s).sum();
        let mut t = if self.repeat && cycle > 0.0 { elapsed % cycle } else { elapsed };
        let mut from = if self.repeat && elapsed >= cycle && cycle > 0.0 {
            self.steps.last().map(|s| s.speed).unwrap_or(start_speed)
        } else {
            start_speed
        };
        for step in &self.steps {
            if t < step.ramp_s {
                return from + (step.speed - from) * (t / step.ramp_s);
            }
            t -= step.ramp_s;
            if t < step.hold_s {
                return step.speed;
            }
            t -= step.hold_s;
            from = step.speed;
        }
        from
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_ramps_then_holds() {
        let profile = DriveProfile::from_toml(
            "p.toml",
            "[[step]]\nspeed = 100.0\nramp_s = 10.0\nhold_s = 5.0\n[[step]]\nspeed = 0.0\nramp_s = 5.0\n",
        )
        .unwrap();
        assert_eq!(profile.speed_at(0.0, 0.0), 0.0);
        assert_eq!(profile.speed_at(0.0, 5.0), 50.0);
        assert_eq!(profile.speed_at(0.0, 12.0), 100.0);
        assert_eq!(profile.speed_at(0.0, 17.5), 50.0);
        assert_eq!(profile.speed_at(0.0, 1000.0), 0.0);
    }

    #[test]
    fn a_repeating_profile_loops() {
        let city = DriveProfile::named_or_file("city").unwrap();
        let cycle = 8.0 + 30.0 + 4.0 + 15.0 + 6.0 + 20.0;
        assert_eq!(city.speed_at(0.0, 20.0), city.speed_at(0.0, 20.0 + cycle));
    }

    #[test]
    fn bad_profiles_say_where() {
        let err = DriveProfile::from_toml("p.toml", "[[step]]\nspeed = 100.0\nramp = 3\n").unwrap_err();
        assert!(err.to_string().starts_with("p.toml:3: unknown field `ramp`"), "{err}");
        let err = DriveProfile::from_toml("p.toml", "[[step]]\nspeed = -5.0\n").unwrap_err();
        assert!(err.to_string().contains("step 1: speed must be between 0 and 400 km/h"), "{err}");
        assert!(matches!(DriveProfile::named_or_file("racetrack"), Err(ProfileError::Unknown(_))));
    }
}
