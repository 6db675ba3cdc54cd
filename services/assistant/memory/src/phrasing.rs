//! From the driver's words to a fact and back, and "this morning" to a span of time.

use chrono::{DateTime, Duration, Local, NaiveTime, TimeZone};
use serde::{Deserialize, Serialize};

/// One thing the driver asked the assistant to remember, in the driver's words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    /// What the fact names, when it names something: "home" in "my home is 42 market street".
    pub name: Option<String>,
    /// The value a name stands for: "42 market street".
    pub value: Option<String>,
    /// The whole fact as said: "my home is 42 market street", "i like 21 degrees".
    pub text: String,
    pub at_ms: i64,
}

impl Fact {
    /// "my home is 42 market street" names `home`; "i like 21 degrees" names nothing.
    pub fn parse(text: &str, at_ms: i64) -> Fact {
        let text = text.trim().trim_end_matches(['.', '!']).to_lowercase();
        let named = text.strip_prefix("my ").and_then(|rest| {
            [" is ", " are "]
                .iter()
                .find_map(|verb| rest.split_once(verb))
                .map(|(name, value)| (name.trim().to_string(), value.trim().to_string()))
        });
        let (name, value) = match named {
            Some((name, value)) if !name.is_empty() && !value.is_empty() => (Some(name), Some(value)),
            _ => (None, None),
        };
        Fact { name, value, text, at_ms }
    }

    /// The fact as the assistant says it back: "your home is 42 market street".
    pub fn spoken(&self) -> String {
        self.text
            .split(' ')
            .map(|word| match word {
                "i" => "you",
                "my" => "your",
                "me" => "you",
                "mine" => "yours",
                "i'm" => "you're",
                "am" => "are",
                other => other,
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Whether `name` ("home") is what this fact names ("home", "home address").
    pub fn names(&self, name: &str) -> bool {
        let name = name.trim().trim_start_matches("my ").to_lowercase();
        // "home" and "home address" name the same place.
        self.name.as_deref().is_some_and(|own| own == name || own.starts_with(&format!("{name} ")) || name.starts_with(&format!("{own} ")))
    }
}

/// A span of the driver's day, as they say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: DateTime<Local>,
    pub to: DateTime<Local>,
    /// "this morning", as said back.
    pub said: &'static str,
}

/// "this morning", "today", "yesterday", "earlier"... at `now`, in the car's local time.
/// Anything else is the last 24 hours.
pub fn period_of(words: &str, now: DateTime<Local>) -> Period {
    let day_start = |days_ago: i64| {
        let date = (now - Duration::days(days_ago)).date_naive();
        Local.from_local_datetime(&date.and_time(NaiveTime::MIN)).earliest().unwrap_or(now)
    };
    let at = |hour: u32| day_start(0) + Duration::hours(i64::from(hour));
    let words = words.to_lowercase();
    let (from, to, said) = if words.contains("morning") {
        (day_start(0), at(12), "this morning")
    } else if words.contains("afternoon") {
        (at(12), at(18), "this afternoon")
    } else if words.contains("evening") || words.contains("tonight") {
        (at(18), day_start(0) + Duration::days(1), "this evening")
    } else if words.contains("yesterday") {
        (day_start(1), day_start(0), "yesterday")
    } else if words.contains("today") {
        (day_start(0), now, "today")
    } else if words.contains("last week") || words.contains("this week") {
        (now - Duration::days(7), now, "this week")
    } else {
        (now - Duration::hours(24), now, "recently")
    };
    Period { from, to: to.min(now), said }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_facts_and_preferences() {
        let home = Fact::parse("My home is 42 Market Street.", 0);
        assert_eq!(home.name.as_deref(), Some("home"));
        assert_eq!(home.value.as_deref(), Some("42 market street"));
        assert_eq!(home.spoken(), "your home is 42 market street");
        assert!(home.names("home") && home.names("my home") && !home.names("work"));
        assert!(Fact::parse("my home address is 1 high street", 0).names("home"));
        assert!(home.names("my home address") && !home.names("homer"));

        let liking = Fact::parse("i like 21 degrees", 0);
        assert_eq!(liking.name, None);
        assert_eq!(liking.spoken(), "you like 21 degrees");
    }

    #[test]
    fn periods_are_spans_of_the_local_day() {
        let now = Local.with_ymd_and_hms(2026, 11, 29, 15, 30, 0).unwrap();
        let morning = period_of("what did i ask you this morning", now);
        assert_eq!((morning.from.format("%H:%M").to_string(), morning.to.format("%H:%M").to_string()), ("00:00".into(), "12:00".into()));
        let yesterday = period_of("yesterday", now);
        assert_eq!(yesterday.from.format("%d %H:%M").to_string(), "28 00:00");
        assert_eq!(yesterday.to.format("%d %H:%M").to_string(), "29 00:00");
        // The evening has not come yet: it ends now.
        assert_eq!(period_of("this evening", now).to, now);
        assert_eq!(period_of("", now).said, "recently");
    }
}
