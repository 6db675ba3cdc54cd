//! Tasks as data: which slots an intent needs, what to ask, what to confirm, and the one action
//! to run. Loaded from `defaults/tasks.toml` plus OEM files, checked against the intents and
//! the vehicle's signal catalog before anything runs.

use std::collections::BTreeMap;
use std::path::Path;

use cabin_nlu::{IntentCatalog, IntentDef, Language, SlotValue, Slots};
use cabin_principal::{Scope, Scopes};
use cabin_vehicle_config::{Catalog, SignalKind, Value};
use serde::Deserialize;
use thiserror::Error;

use crate::template::{self, Piece};
use crate::tools::MemoryAction;

pub const DEFAULT_TASKS: &str = include_str!("../defaults/tasks.toml");
/// What the default tasks say in Mandarin.
pub const DEFAULT_TASKS_ZH: &str = include_str!("../defaults/tasks.zh.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotRule {
    #[serde(default)]
    pub required: bool,
    pub ask: Option<String>,
    pub default: Option<toml::Value>,
    /// The word after the number in a preference the driver asked the assistant to remember
    /// ("i like 21 degrees": `degrees`): when the slot is missing, that number fills it.
    pub preference: Option<String>,
    /// What the request is about, though the task can run without it (the object looked for:
    /// without one, the camera says what it sees). Like a required slot, it is carried to the
    /// next request only when the words point back at it.
    #[serde(default)]
    pub subject: bool,
    /// When the request does not say it, the value of the same slot in the task just done, of
    /// any intent: "send the destination to my phone" after "navigate to Shenzhen".
    #[serde(default)]
    pub recent: bool,
    /// The range of a number as the driver says it, where the signal's is in other units: seat
    /// heating levels 0-3 are -100..100 % on the bus, and "level five" is refused as a level.
    pub min: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub slot: String,
    pub equals: Values,
}

/// What a condition's slot must be: one value, or any of a list ("unlock the passenger door"
/// picks the one-door task for each door, and "all" is left to the task for every door).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Values {
    One(String),
    AnyOf(Vec<String>),
}

impl Values {
    fn contains(&self, value: &str) -> bool {
        match self {
            Values::One(one) => one == value,
            Values::AnyOf(any) => any.iter().any(|v| v == value),
        }
    }
}

impl Condition {
    pub fn holds(&self, slots: &Slots) -> bool {
        slots.get(&self.slot).is_some_and(|v| self.equals.contains(&v.to_string()))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Confirm {
    pub ask: String,
    pub when: Option<Condition>,
}

/// "A bit warmer": step `slot` from its current value in the direction the `direction` slot says.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Relative {
    pub slot: String,
    pub direction: String,
    pub step: f64,
    /// A slot saying how far, when the driver does ("two degrees warmer"); else `step`.
    #[serde(default)]
    pub by: Option<String>,
    /// The slot's own range ("hotter" stops at seat heating level 3, "cooler" at off); the
    /// signal's range in the catalog bounds it too.
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetSignal {
    pub signal: String,
    /// A literal (`true`, `50`) or a template (`"{temperature}"`).
    pub value: toml::Value,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodCall {
    pub service: String,
    pub path: String,
    pub interface: String,
    pub method: String,
    #[serde(default)]
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisionQuery {
    pub object: String,
    #[serde(default)]
    pub region: Option<String>,
}

/// `memory = { action = "remember", text = "{fact}" }`: the driver's memory, never the car's.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryTask {
    pub action: MemoryAction,
    #[serde(default)]
    pub text: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Task {
    pub intent: String,
    /// What the action does, for refusals: "I can't {doing}: ...".
    #[serde(default = "default_doing")]
    pub doing: String,
    /// What the car says it can do, when `doing` does not read as an ability ("play music" for
    /// "play that"); `doing` when absent.
    pub can: Option<String>,
    pub when: Option<Condition>,
    #[serde(default)]
    pub slots: BTreeMap<String, SlotRule>,
    pub confirm: Option<Confirm>,
    pub relative: Option<Relative>,
    #[serde(default)]
    pub set: Vec<SetSignal>,
    #[serde(default)]
    pub read: Vec<String>,
    pub call: Option<MethodCall>,
    pub vision: Option<VisionQuery>,
    pub memory: Option<MemoryTask>,
    pub done: String,
}

fn default_doing() -> String {
    "do that".into()
}

impl Task {
    /// The scopes a principal needs for this task's action: `access` or `comfort` for each
    /// signal it sets (by what the signal opens), `read` to read, `comfort` for a head-unit call,
    /// `camera` to look. Memory tasks need none: a phone without `memory` has a memory of its own.
    pub fn scopes_needed(&self) -> Scopes {
        let mut needed: Scopes = self.set.iter().map(|set| Scope::to_actuate(&set.signal)).collect();
        if !self.read.is_empty() {
            needed.insert(Scope::Read);
        }
        if self.call.is_some() {
            needed.insert(Scope::Comfort);
        }
        if self.vision.is_some() {
            needed.insert(Scope::Camera);
        }
        needed
    }

    /// The first required slot still missing.
    pub fn missing(&self, slots: &Slots) -> Option<(&str, &SlotRule)> {
        self.slots.iter().find(|(name, rule)| rule.required && !slots.contains_key(*name)).map(|(n, r)| (n.as_str(), r))
    }

    pub fn needs_confirmation(&self, slots: &Slots) -> Option<&Confirm> {
        self.confirm.as_ref().filter(|c| c.when.as_ref().is_none_or(|w| w.holds(slots)))
    }

    pub fn apply_defaults(&self, slots: &mut Slots) {
        for (name, rule) in &self.slots {
            if let (false, Some(default)) = (slots.contains_key(name), &rule.default) {
                slots.insert(name.clone(), slot_value(default));
            }
        }
    }
}

pub fn slot_value(value: &toml::Value) -> SlotValue {
    match value {
        toml::Value::Integer(i) => SlotValue::Number(*i as f64),
        toml::Value::Float(f) => SlotValue::Number(*f),
        toml::Value::String(s) => SlotValue::Text(s.clone()),
        other => SlotValue::Text(other.to_string()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskFile {
    #[serde(default)]
    zones: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default, rename = "task")]
    tasks: Vec<toml::Spanned<Task>>,
}

#[derive(Debug, Error)]
pub enum TaskFileError {
    #[error("{file}:{line}: {message}")]
    Invalid { file: String, line: usize, message: String },
    #[error("{file}: {source}")]
    Read { file: String, source: std::io::Error },
    /// Every task of a file that is wrong, one line each: an integrator fixes them in one pass.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Several(Vec<TaskFileError>),
}

/// All tasks, and the zone maps their templates use.
#[derive(Debug, Clone, Default)]
pub struct TaskBook {
    pub zones: BTreeMap<String, BTreeMap<String, String>>,
    tasks: Vec<Task>,
    translations: BTreeMap<Language, Translation>,
    /// The interlocks an OEM's translation names, and where: checked against the vehicle's.
    interlocks_named: Vec<(String, String, usize)>,
}

impl TaskBook {
    /// The shipped tasks, then each OEM file in order; checked against `intents` and `catalog`.
    pub fn load(extra: &[impl AsRef<Path>], intents: &IntentCatalog, catalog: &Catalog) -> Result<TaskBook, TaskFileError> {
        let mut book = TaskBook::default();
        book.add_toml(DEFAULT_TASKS, "tasks.toml (built in)", intents, catalog)?;
        book.add_translation_toml(DEFAULT_TASKS_ZH, "tasks.zh.toml (built in)", intents)?;
        for path in extra {
            let file = path.as_ref().display().to_string();
            let text = std::fs::read_to_string(path).map_err(|source| TaskFileError::Read { file: file.clone(), source })?;
            // A file that names its language says what tasks say; the others define tasks.
            if text.parse::<toml::Table>().is_ok_and(|table| table.contains_key("language")) {
                book.add_translation_toml(&text, &file, intents)?;
            } else {
                book.add_toml(&text, &file, intents, catalog)?;
            }
        }
        Ok(book)
    }

    /// A task for an intent (with the same `when`) replaces the earlier one.
    pub fn add_toml(&mut self, text: &str, file: &str, intents: &IntentCatalog, catalog: &Catalog) -> Result<(), TaskFileError> {
        let invalid = |line, message: String| TaskFileError::Invalid { file: file.into(), line, message };
        let parsed: TaskFile =
            toml::from_str(text).map_err(|e| invalid(e.span().map(|s| line_of(text, s.start)).unwrap_or(1), e.message().into()))?;
        self.zones.extend(parsed.zones);
        let mut wrong = Vec::new();
        let mut right = Vec::new();
        for spanned in parsed.tasks {
            let start = spanned.span().start;
            let task = spanned.into_inner();
            match self.check(&task, intents, catalog) {
                Ok(()) => right.push(task),
                Err((message, words)) => {
                    wrong.push(invalid(line_in_task(text, start, &words), format!("task `{}`: {message}", task.intent)))
                }
            }
        }
        match wrong.len() {
            0 => {}
            1 => return Err(wrong.remove(0)),
            _ => return Err(TaskFileError::Several(wrong)),
        }
        for task in right {
            let same = |t: &Task| {
                t.intent == task.intent && t.when.as_ref().map(|w| (&w.slot, &w.equals)) == task.when.as_ref().map(|w| (&w.slot, &w.equals))
            };
            self.tasks.retain(|t| !same(t));
            self.tasks.push(task);
        }
        Ok(())
    }

    /// The task for an intent given the slots so far: one whose `when` holds, else the plain one.
    pub fn select(&self, intent: &str, slots: &Slots) -> Option<&Task> {
        let mut candidates = self.tasks.iter().filter(|t| t.intent == intent);
        let all: Vec<&Task> = candidates.by_ref().collect();
        all.iter().find(|t| t.when.as_ref().is_some_and(|w| w.holds(slots))).or_else(|| all.iter().find(|t| t.when.is_none())).copied()
    }

    /// Whether some task of `intent` moves something: sets a signal or calls the head unit.
    pub fn moves_something(&self, intent: &str) -> bool {
        self.tasks.iter().any(|t| t.intent == intent && (!t.set.is_empty() || t.call.is_some()))
    }

    /// Whether some task serves `intent`.
    pub fn serves(&self, intent: &str) -> bool {
        self.tasks.iter().any(|t| t.intent == intent)
    }

    /// Whether `slot` picks among the tasks of `intent` (`when`): what the driver asks this time
    /// decides it, not what was asked last ("open the trunk" after closing it opens it).
    pub fn picks_task(&self, intent: &str, slot: &str) -> bool {
        self.tasks.iter().any(|t| t.intent == intent && t.when.as_ref().is_some_and(|w| w.slot == slot))
    }

    /// What the car can do, in the tasks' own words ("set the temperature", "open the trunk"),
    /// once each, in the book's order, with the D-Bus service each needs besides the vehicle bus
    /// (the head unit, the camera): tasks that act, not those that only answer.
    pub fn abilities(&self, language: Language) -> Vec<(&str, Option<&str>)> {
        let mut said: Vec<(&str, Option<&str>)> = Vec::new();
        for task in &self.tasks {
            let acts = !task.set.is_empty() || task.call.is_some() || task.vision.is_some() || task.memory.is_some();
            let english = task.can.as_deref().unwrap_or(&task.doing);
            let translated = self.translated(task, language).and_then(|t| t.can.as_deref().or(t.doing.as_deref()));
            let ability = translated.unwrap_or(english);
            if acts && english != default_doing() && !said.iter().any(|(a, _)| *a == ability) {
                let service = task.call.as_ref().map(|c| c.service.as_str()).or(task.vision.as_ref().map(|_| "org.cabin.Vision1"));
                said.push((ability, service));
            }
        }
        said
    }

    /// The words of the car this book acts on, for the speech recogniser's prompt: the VSS
    /// signals it sets and reads ("Vehicle.Cabin.Seat.Row1.Heating" gives "seat",
    /// "heating"), split at capitals, without structural names (rows, sides, "is").
    pub fn vocabulary(&self) -> Vec<String> {
        const STRUCTURAL: &[&str] = &[
            "vehicle",
            "row1",
            "row2",
            "is",
            "driver",
            "passenger",
            "side",
            "left",
            "right",
            "station",
            "active",
            "position",
            "displayed",
            "relative",
            "level",
            "state",
            "of",
            "on",
            "rear",
            "front",
            "system",
            "cabin",
            "body",
        ];
        // Words whisper spells right unprompted. Measured for "fan" on the voice benchmark's
        // commands at 10 dB: 20.4 % of words wrong with it in the prompt, 20.0 % without, and
        // with it one clip's "set the temperature" was heard as "satellite temperature".
        const UNPROMPTED: &[&str] = &["fan"];
        let mut words: Vec<String> = Vec::new();
        let paths = self.tasks.iter().flat_map(|t| t.set.iter().map(|s| s.signal.as_str()).chain(t.read.iter().map(String::as_str)));
        for segment in paths.flat_map(|p| p.split('.')).filter(|s| !s.contains('{')) {
            // A word starts at a capital that follows a lower-case letter: "AirConditioning"
            // is two words, the acronym "HVAC" one.
            let mut pieces = vec![String::new()];
            let mut previous_lower = false;
            for c in segment.chars() {
                if c.is_uppercase() && previous_lower {
                    pieces.push(String::new());
                }
                previous_lower = c.is_lowercase();
                pieces.last_mut().expect("never empty").push(c);
            }
            for piece in pieces {
                let lower = piece.to_lowercase();
                if lower.len() >= 3
                    && !STRUCTURAL.contains(&lower.as_str())
                    && !UNPROMPTED.contains(&lower.as_str())
                    && !words.contains(&lower)
                {
                    words.push(lower);
                }
            }
        }
        words
    }

    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }

    /// What is wrong with `task`, and the words of the file it is in (a value as written), to
    /// find its line by.
    fn check(&self, task: &Task, intents: &IntentCatalog, catalog: &Catalog) -> Result<(), (String, String)> {
        fn at(words: &str) -> impl Fn(String) -> (String, String) + '_ {
            move |message| (message, words.to_string())
        }
        let intent = intents.get(&task.intent).ok_or_else(|| at(&task.intent)("no such intent in the intent catalog".to_string()))?;
        let known_slot = |name: &str| -> Result<(), (String, String)> {
            if intent.slots.contains_key(name) {
                Ok(())
            } else {
                Err(at(name)(format!(
                    "unknown slot `{name}` (the intent has: {})",
                    intent.slots.keys().cloned().collect::<Vec<_>>().join(", ")
                )))
            }
        };
        for name in task.slots.keys() {
            known_slot(name)?;
        }
        for condition in task.when.iter().chain(task.confirm.as_ref().and_then(|c| c.when.as_ref())) {
            known_slot(&condition.slot)?;
        }
        if let Some(relative) = &task.relative {
            known_slot(&relative.slot)?;
            known_slot(&relative.direction)?;
            if let Some(by) = &relative.by {
                known_slot(by)?;
            }
            if task.set.is_empty() {
                return Err(at("relative")("`relative` needs a `set` action to read the current value from".into()));
            }
        }
        let actions = [!task.set.is_empty(), !task.read.is_empty(), task.call.is_some(), task.vision.is_some(), task.memory.is_some()];
        if actions.iter().filter(|a| **a).count() > 1 {
            return Err(at("")("give one action: set, read, call, vision or memory".into()));
        }
        let check_template = |text: &str, readable: &[String]| self.check_template(task, intent, text, readable).map_err(at(text));
        let none: Vec<String> = Vec::new();
        for set in &task.set {
            check_template(&set.signal, &none)?;
            if let toml::Value::String(value) = &set.value {
                check_template(value, &none)?;
            }
            for path in template::expand_paths(&set.signal, &self.zones).map_err(|e| at(&set.signal)(e.to_string()))? {
                let signal = catalog.signals.get(&path).ok_or_else(|| at(&set.signal)(format!("unknown signal `{path}`")))?;
                if signal.kind != SignalKind::Actuator {
                    return Err(at(&set.signal)(format!("`{path}` is a {}, not an actuator", signal.kind.name())));
                }
                // A fixed value that cannot fit was only found when the driver asked; so was a
                // slot's default that cannot ("{state}" defaulting to "maybe" on a boolean).
                let slot_default = match &set.value {
                    toml::Value::String(value) => value
                        .strip_prefix('{')
                        .and_then(|rest| rest.strip_suffix('}'))
                        .and_then(|slot| task.slots.get(slot))
                        .and_then(|rule| rule.default.as_ref()),
                    _ => None,
                };
                if let Some(literal) = literal_value(&set.value).or_else(|| slot_default.and_then(literal_value)) {
                    let fitted = literal.coerce(signal.datatype).map_err(|e| e.to_string());
                    if let Err(message) = fitted.and_then(|v| signal.check_limits(&v).map_err(|e| e.to_string())) {
                        return Err(at(&set.signal)(format!("the value for `{path}`: {message}")));
                    }
                }
            }
        }
        for path in &task.read {
            if !catalog.signals.contains_key(path) {
                return Err(at(path)(format!("unknown signal `{path}`")));
            }
        }
        for text in task.confirm.iter().map(|c| &c.ask).chain(task.slots.values().filter_map(|r| r.ask.as_ref())) {
            check_template(text, &none)?;
        }
        for text in task
            .call
            .iter()
            .flat_map(|c| &c.args)
            .chain(task.vision.iter().flat_map(|v| std::iter::once(&v.object).chain(&v.region)))
            .chain(task.memory.iter().map(|m| &m.text))
        {
            check_template(text, &none)?;
        }
        check_template(&task.done, &task.read)?;
        for (name, rule) in &task.slots {
            if rule.required && rule.ask.is_none() {
                return Err(at(name)(format!("required slot `{name}` needs an `ask` question")));
            }
        }
        Ok(())
    }
}

impl TaskBook {
    /// Templates may name the intent's slots, zone maps, and the signals the task reads.
    fn check_template(&self, task: &Task, intent: &IntentDef, text: &str, readable: &[String]) -> Result<(), String> {
        for piece in template::parse(text).map_err(|e| e.to_string())? {
            match piece {
                Piece::Literal(_) => {}
                Piece::Slot { name, map, .. } => {
                    let answer_slot = (name == "vision" && task.vision.is_some()) || (name == "memory" && task.memory.is_some());
                    if !answer_slot && !intent.slots.contains_key(&name) {
                        return Err(format!(
                            "unknown slot `{name}` (the intent has: {})",
                            intent.slots.keys().cloned().collect::<Vec<_>>().join(", ")
                        ));
                    }
                    if let Some(map) = map {
                        if !self.zones.contains_key(&map) {
                            return Err(format!(
                                "unknown zone map `{map}` (known: {})",
                                self.zones.keys().cloned().collect::<Vec<_>>().join(", ")
                            ));
                        }
                    }
                }
                Piece::Signal { path, .. } => {
                    if !readable.contains(&path) {
                        return Err(format!("`{{{path}}}` is not a signal the task reads"));
                    }
                }
            }
        }
        Ok(())
    }

    /// Adds a file of what tasks say in another language (`language = "zh"` at its top); each
    /// entry names a task already in the book, and its templates are checked as the task's are.
    pub fn add_translation_toml(&mut self, text: &str, file: &str, intents: &IntentCatalog) -> Result<(), TaskFileError> {
        let invalid = |line, message: String| TaskFileError::Invalid { file: file.into(), line, message };
        let parsed: TranslationFile =
            toml::from_str(text).map_err(|e| invalid(e.span().map(|s| line_of(text, s.start)).unwrap_or(1), e.message().into()))?;
        let language = Language::from_code(&parsed.language)
            .ok_or_else(|| invalid(1, format!("unknown language `{}` (known: en, zh)", parsed.language)))?;
        let mut checked = Vec::new();
        for spanned in parsed.tasks {
            let line = line_of(text, spanned.span().start);
            let words = spanned.into_inner();
            let when = words.when.as_ref().map(|w| (&w.slot, &w.equals));
            let task = self
                .tasks
                .iter()
                .find(|t| t.intent == words.intent && t.when.as_ref().map(|w| (&w.slot, &w.equals)) == when)
                .ok_or_else(|| invalid(line, format!("no task for intent `{}` with this `when` to translate", words.intent)))?;
            let intent = intents.get(&task.intent).ok_or_else(|| invalid(line, format!("no intent `{}`", task.intent)))?;
            let texts = words.doing.iter().chain(&words.can).chain(&words.confirm).chain(words.ask.values());
            for text in texts {
                self.check_template(task, intent, text, &[])
                    .map_err(|message| invalid(line, format!("task `{}`: {message}", task.intent)))?;
            }
            if let Some(done) = &words.done {
                self.check_template(task, intent, done, &task.read)
                    .map_err(|message| invalid(line, format!("task `{}`: {message}", task.intent)))?;
            }
            if let Some(slot) = words.ask.keys().find(|slot| !task.slots.contains_key(*slot)) {
                return Err(invalid(line, format!("task `{}` asks for no slot `{slot}`", task.intent)));
            }
            checked.push(words);
        }
        if !file.ends_with("(built in)") {
            for name in parsed.interlocks.keys() {
                let line =
                    text.lines().position(|l| l.trim_start().trim_start_matches('"').starts_with(name.as_str())).map_or(1, |i| i + 1);
                self.interlocks_named.push((name.clone(), file.to_string(), line));
            }
        }
        let translation = self.translations.entry(language).or_default();
        translation.words.extend(parsed.words);
        translation.interlocks.extend(parsed.interlocks);
        for words in checked {
            let same = |t: &TaskWords| {
                t.intent == words.intent
                    && t.when.as_ref().map(|w| (&w.slot, &w.equals)) == words.when.as_ref().map(|w| (&w.slot, &w.equals))
            };
            translation.tasks.retain(|t| !same(t));
            translation.tasks.push(words);
        }
        Ok(())
    }

    /// What `task` says in `language`, where its translation says it.
    fn translated(&self, task: &Task, language: Language) -> Option<&TaskWords> {
        let when = task.when.as_ref().map(|w| (&w.slot, &w.equals));
        self.translations
            .get(&language)?
            .tasks
            .iter()
            .find(|t| t.intent == task.intent && t.when.as_ref().map(|w| (&w.slot, &w.equals)) == when)
    }

    /// What the task does, in words, for refusals ("open the trunk", "打开后备箱").
    pub fn doing<'a>(&'a self, task: &'a Task, language: Language) -> &'a str {
        self.translated(task, language).and_then(|t| t.doing.as_deref()).unwrap_or(&task.doing)
    }

    /// The reply once the task has run.
    pub fn done<'a>(&'a self, task: &'a Task, language: Language) -> &'a str {
        self.translated(task, language).and_then(|t| t.done.as_deref()).unwrap_or(&task.done)
    }

    /// The question for a missing slot.
    pub fn ask<'a>(&'a self, task: &'a Task, slot: &str, language: Language) -> Option<&'a str> {
        self.translated(task, language)
            .and_then(|t| t.ask.get(slot))
            .or(task.slots.get(slot).and_then(|r| r.ask.as_ref()))
            .map(String::as_str)
    }

    /// The confirmation question.
    pub fn confirm<'a>(&'a self, task: &'a Task, confirm: &'a Confirm, language: Language) -> &'a str {
        self.translated(task, language).and_then(|t| t.confirm.as_deref()).unwrap_or(&confirm.ask)
    }

    /// Slot values as words in `language` ("driver" -> "主驾"); none for the tasks' own English.
    pub fn value_words(&self, language: Language) -> Option<&BTreeMap<String, String>> {
        self.translations.get(&language).map(|t| &t.words)
    }

    /// An interlock an OEM's translation names that the vehicle does not have: a misspelt name
    /// left its reason in English mid-sentence.
    pub fn check_interlocks<'a>(&self, vehicle: impl IntoIterator<Item = &'a str> + Clone) -> Result<(), TaskFileError> {
        let Some((name, file, line)) =
            self.interlocks_named.iter().find(|(name, ..)| !vehicle.clone().into_iter().any(|known| known == name))
        else {
            return Ok(());
        };
        let known: Vec<&str> = vehicle.into_iter().collect();
        let message = format!("[interlocks] `{name}`: the vehicle has no interlock of that name (it has: {})", known.join(", "));
        Err(TaskFileError::Invalid { file: file.clone(), line: *line, message })
    }

    /// An interlock's reason in `language`, by the interlock's name.
    pub fn interlock_reason(&self, language: Language, interlock: &str) -> Option<&str> {
        self.translations.get(&language)?.interlocks.get(interlock).map(String::as_str)
    }
}

/// What one task says in another language; what is left out is said as in English.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskWords {
    pub intent: String,
    pub when: Option<Condition>,
    pub doing: Option<String>,
    pub can: Option<String>,
    pub done: Option<String>,
    pub confirm: Option<String>,
    /// Slot name -> the question for it.
    #[serde(default)]
    pub ask: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default)]
struct Translation {
    words: BTreeMap<String, String>,
    interlocks: BTreeMap<String, String>,
    tasks: Vec<TaskWords>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TranslationFile {
    language: String,
    /// Slot values as spoken: `driver = "主驾"`, `on = "打开"`.
    #[serde(default)]
    words: BTreeMap<String, String>,
    /// Interlock name -> its reason as spoken.
    #[serde(default)]
    interlocks: BTreeMap<String, String>,
    #[serde(default, rename = "task")]
    tasks: Vec<toml::Spanned<TaskWords>>,
}

/// A `set` value written as it is, not from a slot: `true`, `50`, or a word such as `"on"`.
fn literal_value(value: &toml::Value) -> Option<Value> {
    match value {
        toml::Value::Boolean(b) => Some(Value::Bool(*b)),
        toml::Value::Integer(i) => Some(Value::Int(*i)),
        toml::Value::Float(f) => Some(Value::Float(*f)),
        toml::Value::String(word) if !word.contains('{') => {
            Some(boolean_word(word).map(Value::Bool).unwrap_or_else(|| Value::String(word.clone())))
        }
        _ => None,
    }
}

/// The words a boolean signal takes for its values, as slots and task files say them.
pub(crate) fn boolean_word(word: &str) -> Option<bool> {
    match word {
        "on" | "locked" | "true" | "open" => Some(true),
        "off" | "unlocked" | "false" | "closed" => Some(false),
        _ => None,
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The line of the first of `words` (a value as written) in the task that starts at `start`;
/// the task's own line when they are not there as written (a multi-line string, an escape).
fn line_in_task(text: &str, start: usize, words: &str) -> usize {
    let rest = text.get(start..).unwrap_or_default();
    let task = rest.get(1..).and_then(|after| after.find("[[task]]")).map_or(rest, |next| &rest[..next + 1]);
    let found = task.lines().position(|line| !words.is_empty() && line.contains(words));
    line_of(text, start) + found.unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cabin_vehicle_config::VehicleConfig;

    fn load(extra: &str) -> Result<TaskBook, TaskFileError> {
        let config = VehicleConfig::embedded();
        let intents = IntentCatalog::embedded();
        let mut book = TaskBook::load(&[] as &[&str], &intents, &config.catalog)?;
        book.add_toml(extra, "oem-tasks.toml", &intents, &config.catalog)?;
        Ok(book)
    }

    #[test]
    fn the_shipped_tasks_load() {
        let book = load("").unwrap();
        assert!(book.select("climate.set_temperature", &Slots::new()).is_some());
        let speed: Slots = [("signal".to_string(), SlotValue::Text("speed".into()))].into_iter().collect();
        assert_eq!(book.select("vehicle.query", &speed).unwrap().read, ["Vehicle.Speed"]);
    }

    #[test]
    fn every_shipped_task_and_interlock_has_its_words_in_mandarin() {
        // A missing translation falls back to English without a word: a Mandarin driver would
        // hear English in the middle of a conversation.
        let book = load("").unwrap();
        for task in book.tasks() {
            let which = format!("{} {:?}", task.intent, task.when);
            let words = book.translated(task, Language::Chinese).unwrap_or_else(|| panic!("no Mandarin for {which}"));
            // "{vision}" says nothing of its own: the camera's answer comes in the driver's language.
            let words_of_its_own =
                task.done.split('{').any(|part| part.rsplit('}').next().is_some_and(|text| text.chars().any(char::is_alphabetic)));
            assert_eq!(words.done.is_some(), words_of_its_own, "{which}: done");
            assert_eq!(words.doing.is_some(), task.doing != default_doing(), "{which}: doing");
            assert_eq!(words.can.is_some(), task.can.is_some(), "{which}: can");
            assert_eq!(words.confirm.is_some(), task.confirm.is_some(), "{which}: the confirmation");
            for (slot, rule) in &task.slots {
                assert_eq!(words.ask.contains_key(slot), rule.ask.is_some(), "{which}: the question for {slot}");
            }
        }
        for interlock in &VehicleConfig::embedded().interlocks {
            assert!(book.interlock_reason(Language::Chinese, &interlock.name).is_some(), "no Mandarin reason for {}", interlock.name);
        }
    }

    #[test]
    fn the_vocabulary_is_the_words_of_the_signals_tasks_touch() {
        let vocabulary = load("").unwrap().vocabulary();
        for word in ["temperature", "window", "heating", "trunk", "battery", "air", "conditioning", "tire", "pressure"] {
            assert!(vocabulary.iter().any(|w| w == word), "{word} missing from {vocabulary:?}");
        }
        assert!(vocabulary.iter().any(|w| w == "hvac"), "acronyms stay whole: {vocabulary:?}");
        for left_out in ["vehicle", "row1", "is", "cabin", "h", "fan"] {
            assert!(!vocabulary.iter().any(|w| w == left_out), "{left_out} in {vocabulary:?}");
        }
    }

    #[test]
    fn an_unknown_signal_is_refused_with_file_and_line() {
        let oem =
            "\n[[task]]\nintent = \"trunk.open\"\nset = [{ signal = \"Vehicle.Body.Trunk.Rear.IsAjar\", value = true }]\ndone = \"ok\"\n";
        let error = load(oem).unwrap_err().to_string();
        assert!(error.starts_with("oem-tasks.toml:4:"), "the line of the signal: {error}");
        assert!(error.contains("unknown signal `Vehicle.Body.Trunk.Rear.IsAjar`"), "{error}");
    }

    #[test]
    fn every_wrong_task_in_a_file_is_named_at_once() {
        let oem = "[[task]]\nintent = \"trunk.open\"\ndone = \"ok\"\nset = [{ signal = \"Vehicle.Body.Trunk.Rear.Nope\", value = true }]\n\n\
                   [[task]]\nintent = \"lights.set_interior\"\ndone = \"ok\"\nset = [{ signal = \"Vehicle.Cabin.Light.IsDomeOn\", value = 7 }]\n";
        let error = load(oem).unwrap_err().to_string();
        let lines: Vec<&str> = error.lines().collect();
        assert_eq!(lines.len(), 2, "{error}");
        assert!(lines[0].starts_with("oem-tasks.toml:4: task `trunk.open`: unknown signal"), "{error}");
        assert!(lines[1].starts_with("oem-tasks.toml:9: task `lights.set_interior`: the value for"), "{error}");
    }

    #[test]
    fn an_unknown_slot_is_refused() {
        let oem = "[[task]]\nintent = \"trunk.open\"\ndone = \"ok\"\nslots.speed = { default = 3 }\n\n[[task]]\nintent = \"trunk.open\"\ndone = \"ok\"\n";
        let error = load(oem).unwrap_err().to_string();
        assert!(error.starts_with("oem-tasks.toml:4: ") && error.contains("unknown slot `speed`"), "{error}");
        let oem = "[[task]]\nintent = \"trunk.opne\"\ndone = \"ok\"\n";
        let error = load(oem).unwrap_err().to_string();
        assert!(error.starts_with("oem-tasks.toml:2: task `trunk.opne`: no such intent"), "{error}");
    }

    #[test]
    fn an_unknown_field_is_refused_with_its_line() {
        let oem = "[[task]]\nintent = \"trunk.open\"\ndone = \"ok\"\nconfirm_twice = true\n";
        let error = load(oem).unwrap_err().to_string();
        assert!(error.starts_with("oem-tasks.toml:") && error.contains("confirm_twice"), "{error}");
    }

    #[test]
    fn a_sensor_cannot_be_set() {
        let oem = "[[task]]\nintent = \"trunk.open\"\nset = [{ signal = \"Vehicle.Speed\", value = 0 }]\ndone = \"ok\"\n";
        let error = load(oem).unwrap_err().to_string();
        // The path as written: it was lower-cased with the rest ("`vehicle.speed` is a sensor").
        assert!(error.contains("`Vehicle.Speed` is a sensor, not an actuator"), "{error}");
    }

    #[test]
    fn a_fixed_value_that_cannot_fit_its_signal_is_refused_at_load() {
        // Found only when the driver asked: "Something went wrong when I tried to ...".
        let oem = "[[task]]\nintent = \"trunk.open\"\ndone = \"ok\"\nset = [{ signal = \"Vehicle.Body.Trunk.Rear.IsOpen\", value = 5 }]\n";
        let error = load(oem).unwrap_err().to_string();
        assert!(error.starts_with("oem-tasks.toml:4: task `trunk.open`: the value for `Vehicle.Body.Trunk.Rear.IsOpen`"), "{error}");
        let oem = "[[task]]\nintent = \"media.set_volume\"\ndone = \"ok\"\nset = [{ signal = \"Vehicle.Cabin.Infotainment.Media.Volume\", value = 140 }]\n";
        let error = load(oem).unwrap_err().to_string();
        assert!(error.contains("140 is above the maximum 100"), "{error}");
        // A stranger's `value = "yes"` passed, and each request failed with "that value doesn't fit".
        let oem =
            "[[task]]\nintent = \"trunk.open\"\ndone = \"ok\"\nset = [{ signal = \"Vehicle.Body.Trunk.Rear.IsOpen\", value = \"yes\" }]\n";
        let error = load(oem).unwrap_err().to_string();
        assert!(error.starts_with("oem-tasks.toml:4: task `trunk.open`: the value for `Vehicle.Body.Trunk.Rear.IsOpen`"), "{error}");
        let oem =
            "[[task]]\nintent = \"trunk.open\"\ndone = \"ok\"\nset = [{ signal = \"Vehicle.Body.Trunk.Rear.IsOpen\", value = \"open\" }]\n";
        assert!(load(oem).is_ok(), "a word the signal takes");
        // Nor may a slot's default that fills the value.
        let oem = "[[task]]\nintent = \"trunk.open\"\ndone = \"ok\"\nslots.state = { default = \"ajar\" }\nset = [{ signal = \"Vehicle.Body.Trunk.Rear.IsOpen\", value = \"{state}\" }]\n";
        let error = load(oem).unwrap_err().to_string();
        assert!(error.starts_with("oem-tasks.toml:5: task `trunk.open`: the value for `Vehicle.Body.Trunk.Rear.IsOpen`"), "{error}");
        assert!(load(&oem.replace("ajar", "open")).is_ok(), "a default the signal takes");
    }

    #[test]
    fn an_oem_task_replaces_the_shipped_one() {
        let oem = "[[task]]\nintent = \"trunk.open\"\ndone = \"Ask the driver to open it.\"\n";
        let book = load(oem).unwrap();
        let task = book.select("trunk.open", &Slots::new()).unwrap();
        assert!(task.set.is_empty() && task.confirm.is_none());
    }
}
