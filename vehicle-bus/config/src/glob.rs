//! Globs over VSS paths: `*` stands for one path segment (or part of one), `**` for any number of
//! segments. `Vehicle.Cabin.Door.*.*.IsLocked`, `Vehicle.Cabin.**`.

use std::fmt;

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GlobError {
    #[error("empty path pattern")]
    Empty,
    #[error("'{text}' is not a path pattern (bad segment '{segment}')")]
    BadSegment { text: String, segment: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathGlob {
    text: String,
    segments: Vec<String>,
}

impl PathGlob {
    pub fn new(text: &str) -> Result<Self, GlobError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(GlobError::Empty);
        }
        let segments: Vec<String> = text.split('.').map(str::to_string).collect();
        if let Some(bad) = segments.iter().find(|s| s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '*')) {
            return Err(GlobError::BadSegment { text: text.to_string(), segment: bad.clone() });
        }
        Ok(Self { text: text.to_string(), segments })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when the pattern has no wildcard, i.e. names exactly one path.
    pub fn is_literal(&self) -> bool {
        !self.text.contains('*')
    }

    pub fn matches(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.split('.').collect();
        match_segments(&self.segments, &parts)
    }

    /// True when this pattern names `branch` itself or something below it, which lets a plain
    /// branch path (`Vehicle.Cabin`) select its whole subtree.
    pub fn matches_or_below(&self, path: &str) -> bool {
        self.matches(path) || (self.is_literal() && path.starts_with(&self.text) && path[self.text.len()..].starts_with('.'))
    }
}

fn match_segments(pattern: &[String], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => (0..=path.len()).any(|skip| match_segments(rest, &path[skip..])),
        Some((first, rest)) => match path.split_first() {
            Some((segment, path_rest)) => wildcard_match(first.as_bytes(), segment.as_bytes()) && match_segments(rest, path_rest),
            None => false,
        },
    }
}

fn wildcard_match(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|i| wildcard_match(rest, &text[i..])),
        Some((c, rest)) => text.first() == Some(c) && wildcard_match(rest, &text[1..]),
    }
}

impl fmt::Display for PathGlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(text: &str) -> PathGlob {
        PathGlob::new(text).unwrap()
    }

    #[test]
    fn star_is_one_segment_and_double_star_any() {
        let doors = glob("Vehicle.Cabin.Door.*.*.IsLocked");
        assert!(doors.matches("Vehicle.Cabin.Door.Row1.DriverSide.IsLocked"));
        assert!(!doors.matches("Vehicle.Cabin.Door.Row1.DriverSide.Window.Position"));
        let cabin = glob("Vehicle.Cabin.**");
        assert!(cabin.matches("Vehicle.Cabin.Light.IsDomeOn"));
        assert!(!cabin.matches("Vehicle.Speed"));
        assert!(glob("**").matches("Vehicle.Speed"));
        assert!(glob("Vehicle.Cabin.Door.Row*.*.IsOpen").matches("Vehicle.Cabin.Door.Row2.PassengerSide.IsOpen"));
    }

    #[test]
    fn a_branch_selects_its_subtree() {
        assert!(glob("Vehicle.Cabin").matches_or_below("Vehicle.Cabin.Light.IsDomeOn"));
        assert!(!glob("Vehicle.Cab").matches_or_below("Vehicle.Cabin.Light.IsDomeOn"));
    }

    #[test]
    fn malformed_patterns_are_refused() {
        assert!(PathGlob::new("Vehicle..Speed").is_err());
        assert!(PathGlob::new("Vehicle.Speed!").is_err());
        assert!(PathGlob::new("").is_err());
    }
}
