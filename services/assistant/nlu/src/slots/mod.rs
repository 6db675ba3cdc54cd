//! Slot extractors: each reads one kind of value out of normalised text (see `text.rs`), one
//! module per language.
//! Intents name the kinds they need in `intents.toml`; tasks give the values their meaning.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use serde::{Deserialize, Serialize};

use cabin_language::Language;

mod chinese;
mod english;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SlotValue {
    Number(f64),
    Text(String),
}

impl SlotValue {
    pub fn as_number(&self) -> Option<f64> {
        match self {
            SlotValue::Number(n) => Some(*n),
            SlotValue::Text(_) => None,
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            SlotValue::Text(t) => Some(t),
            SlotValue::Number(_) => None,
        }
    }
}

impl std::fmt::Display for SlotValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SlotValue::Number(n) => write!(f, "{n}"),
            SlotValue::Text(t) => f.write_str(t),
        }
    }
}

pub type Slots = BTreeMap<String, SlotValue>;

/// The kinds of value Cabin can pull out of an utterance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotKind {
    /// Degrees Celsius (Fahrenheit figures are converted).
    Temperature,
    /// driver | passenger | rear_left | rear_right | all: climate zones, seats and windows.
    Zone,
    /// Percent open, 0-100: "open" 100, "close" 0, "halfway" 50.
    OpenPercent,
    /// Heating level 0-3: "off" 0, "low" 1, "medium" 2, "high" 3.
    HeatLevel,
    /// Volume 0-100; "mute" is 0.
    VolumeLevel,
    /// How far a relative change goes: "two degrees cooler", "up by 10". A step's number is
    /// never read as an absolute value.
    Step,
    /// up | down, for warmth: "warmer", "i'm cold" are up.
    Warmth,
    /// up | down, for loudness: "louder", "can't hear" are up.
    Loudness,
    /// up | down, for a heater's level: "hotter", "turn it up" are up, "too hot" down. A feeling
    /// ("my seat is freezing") or a verb ("warm my seat") is no step: it switches the heater on.
    HeatStep,
    /// up | down, for how far a window is open: "a bit more", "roll it down further" are up,
    /// "close it a little" down. A plain "open the window a little" is no step but 20 %.
    OpenStep,
    /// closed, when the words close something ("close the trunk", "关上后备箱"); nothing when
    /// they open it, which is what the intent does unless told otherwise.
    Closing,
    /// on | off.
    Switch,
    /// locked | unlocked.
    LockState,
    /// speed | fuel_level | battery_level | range | tire_pressure | outside_temperature | cabin_temperature | lock_state |
    /// trunk_lock_state | seat_heating_state | volume | window_state | trunk_state | ac_state | light_state.
    VehicleSignal,
    /// Where in the cabin to look: driver | passenger | rear_left | rear_right | rear | trunk | footwell.
    Region,
    /// pause | resume | next | previous, for what is playing.
    MediaAction,
    Destination,
    Contact,
    Object,
    MediaQuery,
    /// Something to remember or forget, in the driver's words: "my home is 42 market street".
    Fact,
    /// What the phone reminds the driver of once parked, from the verb on: "take my umbrella".
    Reminder,
    /// A span of the day: this morning | this afternoon | this evening | today | yesterday | this week.
    Period,
}

impl SlotKind {
    /// Reads this kind of value out of normalised text (see `text.rs`), in the language the text
    /// is written in.
    pub fn extract(self, text: &str) -> Option<SlotValue> {
        match Language::of(text) {
            Language::English => english::extract(self, text),
            Language::Chinese => chinese::extract(self, text),
        }
    }

    /// Free-text kinds take whatever follows their trigger words; a correction ("no, Shenzhen")
    /// may give the bare value.
    pub fn is_free_text(self) -> bool {
        matches!(
            self,
            SlotKind::Destination | SlotKind::Contact | SlotKind::Object | SlotKind::MediaQuery | SlotKind::Fact | SlotKind::Reminder
        )
    }

    /// A free-text value said on its own ("to Shanghai please" after "Where to?", "Maria
    /// instead"), read as the end of a request of its kind, so that the request's own patterns
    /// decide what belongs to the value: "to" goes from a destination, but "To Kill a
    /// Mockingbird" stays whole as something to play.
    pub fn extract_answer(self, answer: &str) -> Option<SlotValue> {
        let answer = answer.trim();
        let (request, is_no_value): (Option<String>, fn(&str) -> bool) = match Language::of(answer) {
            Language::English => (english::as_request(self, answer), english::is_no_value),
            Language::Chinese => (chinese::as_request(self, answer), chinese::is_no_value),
        };
        let Some(request) = request else { return self.extract(answer) };
        // "Thanks" alone, or "yes" to "Where to?", is no value.
        let value = self.extract(&request).or_else(|| Some(SlotValue::Text(trim_value(answer))));
        value.filter(|v| !is_no_value(&v.to_string()))
    }
}

/// Drops what surrounds a free-text value without being part of it: determiners and trailing
/// politeness ("my hat" -> "hat", "home please" -> "home"; "我的帽子吧" -> "帽子").
pub fn trim_value(value: &str) -> String {
    match Language::of(value) {
        Language::English => english::trim_value(value),
        Language::Chinese => chinese::trim_value(value),
    }
}

/// A compiled extractor pattern (they are all tested, so a bad one is a bug, not an input).
fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("extractor patterns are tested")
}

/// The name of the first pattern in `table` that matches.
fn first_of(table: &LazyLock<Vec<(&'static str, Regex)>>, text: &str) -> Option<&'static str> {
    table.iter().find(|(_, pattern)| pattern.is_match(text)).map(|(name, _)| *name)
}

/// A free-text slot's patterns: the value is the capture of the first pattern that matches.
struct FreeText {
    patterns: Vec<Regex>,
}

impl FreeText {
    fn new(patterns: &[&str]) -> FreeText {
        FreeText { patterns: patterns.iter().map(|p| re(p)).collect() }
    }

    /// The first group that took part in the first matching pattern's match.
    fn capture<'t>(&self, text: &'t str) -> Option<&'t str> {
        let captures = self.patterns.iter().find_map(|p| p.captures(text))?;
        captures.iter().skip(1).flatten().next().map(|m| m.as_str())
    }

    /// The captured value without what surrounds it (see [`trim_value`]), if anything is left.
    fn value(&self, text: &str) -> Option<SlotValue> {
        self.capture(text).map(trim_value).filter(|v| !v.is_empty()).map(SlotValue::Text)
    }
}

#[cfg(test)]
/// Each (kind, utterance, what the kind's extractor reads from it).
fn reads(cases: &[(SlotKind, &str, Option<&str>)]) {
    for (kind, text, expected) in cases {
        let read = kind.extract(&crate::text::normalise(text)).map(|value| value.to_string());
        assert_eq!(read.as_deref(), *expected, "{kind:?} in {text:?}");
    }
}
