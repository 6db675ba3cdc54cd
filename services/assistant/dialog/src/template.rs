//! The little template language of task files: `{slot}`, `{slot*33}`, `{zone@map}`,
//! `{Vehicle.Path}` and `{Vehicle.Path|km}`.

use std::collections::BTreeMap;

use cabin_nlu::{SlotValue, Slots};
use cabin_vehicle_config::Value;

pub type ZoneMaps = BTreeMap<String, BTreeMap<String, String>>;

#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Literal(String),
    Slot { name: String, map: Option<String>, scale: Option<f64> },
    Signal { path: String, filter: Option<String> },
}

const FILTERS: &[&str] = &["km", "round", "locked", "onoff", "open"];

/// A template in a task file that does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unclosed `{{` in \"{0}\"")]
    Unclosed(String),
    #[error("unknown filter `|{filter}` (known: {known})")]
    UnknownFilter { filter: String, known: String },
    #[error("in a signal path only `{{slot@map}}` may vary: \"{0}\"")]
    VaryingPath(String),
    #[error("`{{{0}}}`: the scale must be a number")]
    Scale(String),
}

pub fn parse(text: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            pieces.push(Piece::Literal(rest[..open].to_string()));
        }
        let close = rest[open..].find('}').ok_or_else(|| TemplateError::Unclosed(text.to_string()))? + open;
        let inner = &rest[open + 1..close];
        pieces.push(if inner.starts_with("Vehicle.") {
            let (path, filter) = match inner.split_once('|') {
                Some((path, filter)) if FILTERS.contains(&filter) => (path, Some(filter.to_string())),
                Some((_, filter)) => return Err(TemplateError::UnknownFilter { filter: filter.to_string(), known: FILTERS.join(", ") }),
                None => (inner, None),
            };
            Piece::Signal { path: path.to_string(), filter }
        } else if let Some((name, map)) = inner.split_once('@') {
            Piece::Slot { name: name.to_string(), map: Some(map.to_string()), scale: None }
        } else if let Some((name, scale)) = inner.split_once('*') {
            let scale = scale.parse().map_err(|_| TemplateError::Scale(inner.to_string()))?;
            Piece::Slot { name: name.to_string(), map: None, scale: Some(scale) }
        } else {
            Piece::Slot { name: inner.to_string(), map: None, scale: None }
        });
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Literal(rest.to_string()));
    }
    Ok(pieces)
}

/// Every path a signal template can produce, for checking against the catalog at load.
pub fn expand_paths(signal: &str, zones: &ZoneMaps) -> Result<Vec<String>, TemplateError> {
    let mut paths = vec![String::new()];
    for piece in parse(signal)? {
        let options: Vec<String> = match piece {
            Piece::Literal(text) => vec![text],
            Piece::Slot { map: Some(map), .. } => zones.get(&map).map(|m| m.values().cloned().collect()).unwrap_or_default(),
            _ => return Err(TemplateError::VaryingPath(signal.to_string())),
        };
        paths = paths.iter().flat_map(|p| options.iter().map(move |o| format!("{p}{o}"))).collect();
    }
    Ok(paths)
}

/// The paths a signal template names for these slots; a zone that names a group (see
/// [`zones_named`]) gives a path for each zone in it.
pub fn render_paths(signal: &str, slots: &Slots, zones: &ZoneMaps) -> Vec<String> {
    let mut paths = vec![String::new()];
    for piece in parse(signal).unwrap_or_default() {
        let options: Vec<String> = match piece {
            Piece::Literal(text) => vec![text],
            Piece::Slot { name, map: Some(map), .. } => {
                let zone_map = zones.get(&map).cloned().unwrap_or_default();
                slots.get(&name).map(|zone| zones_named(&zone.to_string(), &zone_map)).unwrap_or_default()
            }
            _ => Vec::new(),
        };
        paths = paths.iter().flat_map(|p| options.iter().map(move |o| format!("{p}{o}"))).collect();
    }
    paths
}

/// The branches of `map` a zone names: its own, or each of a group's: `all` is every zone,
/// `rear` every `rear_` zone (both rear seats), `front` the driver's and the passenger's.
fn zones_named(zone: &str, map: &BTreeMap<String, String>) -> Vec<String> {
    let in_group = |name: &str| match zone {
        "all" => true,
        "rear" => name.starts_with("rear_"),
        "front" => name == "driver" || name == "passenger",
        _ => name == zone,
    };
    map.iter().filter(|(name, _)| in_group(name)).map(|(_, branch)| branch.clone()).collect()
}

/// Slot values as words in a language other than English ("driver" -> "主驾").
pub type ValueWords = BTreeMap<String, String>;

/// Words for a slot value in a reply.
fn spoken(name: &str, value: &SlotValue, words: Option<&ValueWords>) -> String {
    match (value, words) {
        (SlotValue::Number(n), _) => number(*n),
        (SlotValue::Text(text), Some(words)) => words.get(text).cloned().unwrap_or_else(|| text.clone()),
        (SlotValue::Text(text), None) => match (name, text.as_str()) {
            (_, "driver") => "the driver's side".into(),
            (_, "passenger") => "the passenger side".into(),
            (_, "rear_left") => "the rear left".into(),
            (_, "rear_right") => "the rear right".into(),
            ("zone" | "seat" | "window", "all") => "every side".into(),
            ("zone" | "seat" | "window", "rear") => "the back".into(),
            ("zone" | "seat" | "window", "front") => "the front".into(),
            _ => text.replace('_', " "),
        },
    }
}

fn number(n: f64) -> String {
    if n.fract() == 0.0 {
        format!("{n:.0}")
    } else {
        format!("{n}")
    }
}

/// Renders text for people: slots in words, readings through their filters.
pub fn render(text: &str, slots: &Slots, readings: &BTreeMap<String, Value>) -> String {
    render_in(text, slots, readings, None)
}

/// [`render`] for a reply in another language: values and filtered readings through `words`.
pub fn render_in(text: &str, slots: &Slots, readings: &BTreeMap<String, Value>, words: Option<&ValueWords>) -> String {
    let Ok(pieces) = parse(text) else { return text.to_string() };
    let word = |english: &str| words.and_then(|w| w.get(english)).cloned().unwrap_or_else(|| english.to_string());
    let rendered = pieces
        .into_iter()
        .map(|piece| match piece {
            Piece::Literal(text) => text,
            Piece::Slot { name, scale, .. } => match (slots.get(&name), scale) {
                (Some(SlotValue::Number(n)), Some(scale)) => number(n * scale),
                (Some(value), _) => spoken(&name, value, words),
                (None, _) => String::new(),
            },
            Piece::Signal { path, filter } => match readings.get(&path) {
                None => "unknown".into(),
                Some(value) => match (filter.as_deref(), value) {
                    (Some("km"), v) => v.as_f64().map(|m| format!("{:.0}", m / 1000.0)).unwrap_or_else(|| v.to_string()),
                    (Some("round"), v) => v.as_f64().map(|x| format!("{x:.0}")).unwrap_or_else(|| v.to_string()),
                    (Some("locked"), Value::Bool(b)) => word(if *b { "locked" } else { "unlocked" }),
                    (Some("onoff"), Value::Bool(b)) => word(if *b { "on" } else { "off" }),
                    (Some("open"), Value::Bool(b)) => word(if *b { "open" } else { "closed" }),
                    (_, v) => v.to_string(),
                },
            },
        })
        .collect::<String>();
    // Mandarin puts no space between words, but English inside it keeps its own: a song's
    // name, or a reply an OEM wrote only in English ("I can only ..." ran together).
    let mut spoken = String::with_capacity(rendered.len());
    for word in rendered.split_whitespace() {
        let between_latin = spoken.ends_with(|c: char| c.is_ascii()) && word.starts_with(|c: char| c.is_ascii());
        if !spoken.is_empty() && (words.is_none() || between_latin) {
            spoken.push(' ');
        }
        spoken.push_str(word);
    }
    spoken
}

/// A `set` entry's value for these slots, before it is fitted to the signal's datatype.
pub fn render_value(value: &toml::Value, slots: &Slots) -> Option<Value> {
    match value {
        toml::Value::Boolean(b) => Some(Value::Bool(*b)),
        toml::Value::Integer(i) => Some(Value::Int(*i)),
        toml::Value::Float(f) => Some(Value::Float(*f)),
        toml::Value::String(text) => match parse(text).ok()?.as_slice() {
            [Piece::Slot { name, scale, .. }] => match (slots.get(name)?, scale) {
                (SlotValue::Number(n), Some(scale)) => Some(Value::Float(n * scale)),
                (SlotValue::Number(n), None) => Some(Value::Float(*n)),
                (SlotValue::Text(t), _) => Some(Value::String(t.clone())),
            },
            _ => Some(Value::String(render(text, slots, &BTreeMap::new()))),
        },
        _ => None,
    }
}

/// The scale a `set` value applies to `slot` (`"{level*33}"` gives 33; `"{level}"` 1): how a
/// signal's value reads back as the slot's.
pub fn scale_of(value: &toml::Value, slot: &str) -> Option<f64> {
    let toml::Value::String(text) = value else { return None };
    match parse(text).ok()?.as_slice() {
        [Piece::Slot { name, scale, .. }] if name == slot => Some(scale.unwrap_or(1.0)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(pairs: &[(&str, SlotValue)]) -> Slots {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    fn zones() -> ZoneMaps {
        let map: BTreeMap<String, String> =
            [("driver", "Row1.Driver"), ("passenger", "Row1.Passenger"), ("rear_left", "Row2.Driver"), ("rear_right", "Row2.Passenger")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        [("hvac".to_string(), map)].into_iter().collect()
    }

    #[test]
    fn a_group_of_zones_expands_to_each_zone_in_it() {
        let stations = |zone: &str| {
            let paths = render_paths("HVAC.{zone@hvac}.Temperature", &slots(&[("zone", SlotValue::Text(zone.into()))]), &zones());
            paths.iter().map(|p| p.trim_start_matches("HVAC.").trim_end_matches(".Temperature").to_string()).collect::<Vec<_>>()
        };
        assert_eq!(stations("all"), ["Row1.Driver", "Row1.Passenger", "Row2.Driver", "Row2.Passenger"]);
        assert_eq!(stations("rear"), ["Row2.Driver", "Row2.Passenger"]);
        assert_eq!(stations("front"), ["Row1.Driver", "Row1.Passenger"]);
        assert_eq!(stations("rear_left"), ["Row2.Driver"]);
        assert!(stations("roof").is_empty());
    }

    #[test]
    fn replies_read_naturally() {
        let s = slots(&[("zone", SlotValue::Text("passenger".into())), ("temperature", SlotValue::Number(21.0))]);
        assert_eq!(render("Setting {zone} to {temperature} degrees.", &s, &BTreeMap::new()), "Setting the passenger side to 21 degrees.");
        let readings = [("Vehicle.Powertrain.Range".to_string(), Value::Uint(412_400))].into_iter().collect();
        assert_eq!(render("About {Vehicle.Powertrain.Range|km} km.", &Slots::new(), &readings), "About 412 km.");
    }

    #[test]
    fn mandarin_runs_its_words_together_but_english_inside_it_keeps_its_spaces() {
        let words = ValueWords::new();
        let s = slots(&[("query", SlotValue::Text("bohemian rhapsody".into()))]);
        assert_eq!(render_in("正在播放 {query}。", &s, &BTreeMap::new(), Some(&words)), "正在播放bohemian rhapsody。");
        let english_only = "I can only switch the windshield defroster, not the rear one.";
        assert_eq!(render_in(english_only, &Slots::new(), &BTreeMap::new(), Some(&words)), english_only);
    }

    #[test]
    fn bad_templates_say_what_is_wrong() {
        assert!(parse("{Vehicle.Speed|mph}").unwrap_err().to_string().contains("unknown filter"));
        assert!(parse("{level*x}").unwrap_err().to_string().contains("scale"));
        assert!(expand_paths("Vehicle.{zone}.X", &zones()).unwrap_err().to_string().contains("only"));
    }
}
