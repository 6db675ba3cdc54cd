//! Everything an OEM integrator says about a vehicle's signals, loaded and checked before anything
//! starts: the COVESA VSS catalog, then overlays that add, change or delete nodes and declare
//! backends, roles, interlocks, CAN mapping and the simulator's setup.
//!
//! Loading reports every error it finds, each with file, line and field; a config that loads is
//! consistent (every rule names signals that exist, with values of the right type).

mod backends;
mod catalog;
mod diagnostic;
mod glob;
mod overlay;
mod rules;
mod value;

use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use crate::backends::unknown_backend;

pub use backends::{BackendKind, CanCommandMap, CanConfig, CanSignalMap, SimulatorConfig};
pub use catalog::{Catalog, LimitError, SignalKind, SignalSpec};
pub use diagnostic::{ConfigError, ConfigErrors, Source};
pub use glob::{GlobError, PathGlob};
pub use rules::{AccessPolicy, Caller, Comparison, Condition, Interlock, Operator, Role, RuleError};
pub use value::{CoerceError, Datatype, Value};

/// The catalog shipped with Cabin: the VSS 4.0 signals the default assistant needs.
pub const DEFAULT_CATALOG: &str = include_str!("../defaults/vss-catalog.json");
/// The overlay shipped with Cabin: roles for Cabin's own services, the standard interlocks.
pub const DEFAULT_OVERLAY: &str = include_str!("../defaults/overlay.toml");

/// A loaded, validated vehicle configuration.
#[derive(Debug, Clone)]
pub struct VehicleConfig {
    pub catalog: Catalog,
    pub policy: AccessPolicy,
    pub interlocks: Vec<Interlock>,
    default_backend: BackendKind,
    feeds: Vec<(PathGlob, BackendKind)>,
    pub can: Option<CanConfig>,
    pub simulator: SimulatorConfig,
}

impl VehicleConfig {
    /// The shipped catalog and overlay.
    pub fn embedded() -> Self {
        Self::load(&embedded_catalog(), &[embedded_overlay()]).expect("the embedded configuration is valid")
    }

    /// Loads a catalog and applies overlays in order. Node changes of all overlays apply before
    /// rules are checked, so a later overlay may add a signal an earlier one's rules name.
    pub fn load(catalog: &Source, overlays: &[Source]) -> Result<Self, ConfigErrors> {
        let mut errors = ConfigErrors::default();
        let mut catalog = match Catalog::from_vss_json(catalog) {
            Ok(catalog) => catalog,
            Err(e) => {
                errors.extend(e);
                Catalog::default()
            }
        };
        let mut parsed = Vec::new();
        for source in overlays {
            let (file, mistakes) = overlay::parse(source);
            mistakes.into_iter().for_each(|mistake| errors.push(mistake));
            parsed.extend(file.map(|file| (source, file)));
        }
        for (source, file) in &parsed {
            for node in &file.node {
                if let Err(e) = apply_node(&mut catalog, source, node) {
                    errors.push(e);
                }
            }
        }
        let mut config = VehicleConfig {
            catalog,
            policy: AccessPolicy::default(),
            interlocks: Vec::new(),
            default_backend: BackendKind::Simulator,
            feeds: Vec::new(),
            can: None,
            simulator: SimulatorConfig::default(),
        };
        for (source, file) in &parsed {
            config.add_rules(source, file, &mut errors);
        }
        errors.into_result(config)
    }

    pub fn backend_of(&self, path: &str) -> BackendKind {
        self.feeds.iter().rev().find(|(glob, _)| glob.matches(path)).map(|(_, b)| *b).unwrap_or(self.default_backend)
    }

    /// The signals a glob selects, in path order. A plain branch path selects its subtree.
    pub fn select<'a>(&'a self, glob: &'a PathGlob) -> impl Iterator<Item = &'a SignalSpec> + 'a {
        self.catalog.signals.values().filter(move |s| glob.matches_or_below(&s.path))
    }

    fn add_rules(&mut self, source: &Source, file: &overlay::OverlayFile, errors: &mut ConfigErrors) {
        let at = |offset: usize| source.line_of(offset);
        let err = |line: usize, field: &str, message: String| ConfigError::new(&source.name, line, field, message);

        if let Some(name) = &file.default_backend {
            match BackendKind::parse(name.get_ref()) {
                Some(kind) => self.default_backend = kind,
                None => errors.push(err(at(name.span().start), "default_backend", unknown_backend(name.get_ref()))),
            }
        }
        for feed in &file.feed {
            let Some(kind) = BackendKind::parse(feed.backend.get_ref()) else {
                errors.push(err(at(feed.backend.span().start), "feed.backend", unknown_backend(feed.backend.get_ref())));
                continue;
            };
            for pattern in &feed.paths {
                match self.glob_matching_signals(pattern.get_ref(), |_| true) {
                    Ok(glob) => self.feeds.push((glob, kind)),
                    Err(m) => errors.push(err(at(pattern.span().start), "feed.paths", m)),
                }
            }
        }
        for entry in &file.role {
            // Two roles of one name could not be told apart in a refusal ("caller's roles: assistant").
            if self.policy.roles.iter().any(|role| role.name == *entry.name.get_ref()) {
                let message = format!("a role named '{}' is defined already", entry.name.get_ref());
                errors.push(err(at(entry.name.span().start), "role.name", message));
            }
            let mut role = rules::Role {
                name: entry.name.get_ref().clone(),
                uids: entry.uids.clone(),
                bus_names: Vec::new(),
                service_user: entry.service_user,
                everyone: entry.everyone,
                read: Vec::new(),
                actuate: Vec::new(),
            };
            for name in &entry.bus_names {
                // Cabin's own names: a misspelt one reached nobody, and the service it meant fell
                // back to the roles of its user (in `cabin up`, every right).
                if name.get_ref().starts_with("org.cabin.") && !CABIN_BUS_NAMES.contains(&name.get_ref().as_str()) {
                    let message = format!("'{}' is no Cabin service (they are: {})", name.get_ref(), CABIN_BUS_NAMES.join(", "));
                    errors.push(err(at(name.span().start), "role.bus_names", message));
                } else if is_well_known_bus_name(name.get_ref()) {
                    role.bus_names.push(name.get_ref().clone());
                } else {
                    errors.push(err(
                        at(name.span().start),
                        "role.bus_names",
                        format!("'{}' is not a well-known D-Bus name", name.get_ref()),
                    ));
                }
            }
            for pattern in &entry.read {
                match self.glob_matching_signals(pattern.get_ref(), |_| true) {
                    Ok(glob) => role.read.push(glob),
                    Err(m) => errors.push(err(at(pattern.span().start), "role.read", m)),
                }
            }
            for pattern in &entry.actuate {
                match self.glob_matching_signals(pattern.get_ref(), |s| s.kind == SignalKind::Actuator) {
                    Ok(glob) => role.actuate.push(glob),
                    Err(m) => errors.push(err(at(pattern.span().start), "role.actuate", m)),
                }
            }
            self.policy.roles.push(role);
        }
        for entry in &file.interlock {
            // Its reason is said in other languages by its name (tasks.zh.toml's [interlocks]).
            if self.interlocks.iter().any(|interlock| interlock.name == *entry.name.get_ref()) {
                let message = format!("an interlock named '{}' is defined already", entry.name.get_ref());
                errors.push(err(at(entry.name.span().start), "interlock.name", message));
            }
            if let Some(interlock) = self.interlock(source, entry, errors) {
                self.interlocks.push(interlock);
            }
        }
        if let Some(can) = &file.can {
            self.add_can(source, can, errors);
        }
        if let Some(sim) = &file.simulator {
            if let Some(profile) = &sim.drive_profile {
                self.simulator.drive_profile = Some(resolve_beside(source, profile.get_ref()));
            }
            if let Some(instant) = sim.instant {
                self.simulator.instant = instant;
            }
            for (path, value) in &sim.initial {
                let line = at(value.span().start);
                let field = format!("simulator.initial.{path}");
                let Some(spec) = self.catalog.get(path) else {
                    errors.push(err(line, &field, "no such signal in the catalog".into()));
                    continue;
                };
                match toml_to_value(value.get_ref()).and_then(|v| checked(spec, &v)) {
                    Ok(v) => {
                        self.simulator.initial.insert(path.clone(), v);
                    }
                    Err(m) => errors.push(err(line, &field, m)),
                }
            }
        }
    }

    fn interlock(&self, source: &Source, entry: &overlay::InterlockEntry, errors: &mut ConfigErrors) -> Option<Interlock> {
        let at = |offset: usize| source.line_of(offset);
        let before = errors.0.len();
        let name = entry.name.get_ref();
        let field = |f: &str| format!("interlock '{name}'.{f}");
        let refuse = entry.refuse.as_ref().and_then(|text| match Comparison::parse(text.get_ref()) {
            Ok(c) => Some((c, at(text.span().start))),
            Err(m) => {
                errors.push(ConfigError::new(&source.name, at(text.span().start), field("refuse"), m.to_string()));
                None
            }
        });
        let mut paths = Vec::new();
        for pattern in &entry.paths {
            let line = at(pattern.span().start);
            match self.glob_matching_signals(pattern.get_ref(), |s| s.kind == SignalKind::Actuator) {
                Ok(glob) => {
                    // The refused value must be something these actuators can take.
                    if let Some((comparison, refuse_line)) = &refuse {
                        for spec in self.select(&glob).filter(|s| s.kind == SignalKind::Actuator) {
                            if let Err(e) = comparison.operand.coerce(spec.datatype) {
                                errors.push(ConfigError::new(
                                    &source.name,
                                    *refuse_line,
                                    field("refuse"),
                                    format!("{} for {}", e, spec.path),
                                ));
                            }
                        }
                    }
                    paths.push(glob);
                }
                Err(m) => errors.push(ConfigError::new(&source.name, line, field("paths"), m)),
            }
        }
        let mut when = Vec::new();
        for text in &entry.when {
            let line = at(text.span().start);
            match Condition::parse(text.get_ref()) {
                Ok(condition) => match self.catalog.get(&condition.path) {
                    None => errors.push(ConfigError::new(
                        &source.name,
                        line,
                        field("when"),
                        format!("no signal '{}' in the catalog", condition.path),
                    )),
                    Some(spec) => match condition.comparison.operand.coerce(spec.datatype) {
                        Ok(_) => when.push(condition),
                        Err(e) => errors.push(ConfigError::new(&source.name, line, field("when"), format!("{e} for {}", spec.path))),
                    },
                },
                Err(m) => errors.push(ConfigError::new(&source.name, line, field("when"), m.to_string())),
            }
        }
        if entry.reason.get_ref().trim().is_empty() {
            errors.push(ConfigError::new(
                &source.name,
                at(entry.reason.span().start),
                field("reason"),
                "say why, in words a driver understands".to_string(),
            ));
        }
        (errors.0.len() == before).then(|| Interlock {
            name: name.clone(),
            paths,
            refuse: refuse.map(|(c, _)| c),
            when,
            reason: entry.reason.get_ref().clone(),
        })
    }

    fn add_can(&mut self, source: &Source, entry: &overlay::CanEntry, errors: &mut ConfigErrors) {
        let can = self.can.get_or_insert_with(CanConfig::default);
        if entry.interface.is_some() {
            can.interface = entry.interface.clone();
        }
        if let Some(dbc) = &entry.dbc {
            can.dbc = Some(PathBuf::from(resolve_beside(source, dbc.get_ref())));
            can.dbc_origin = (source.name.clone(), source.line_of(dbc.span().start));
        }
        for signal in &entry.signal {
            let line = source.line_of(signal.path.span().start);
            let path = signal.path.get_ref();
            if self.catalog.get(path).is_none() {
                errors.push(ConfigError::new(&source.name, line, "can.signal.path", format!("no signal '{path}' in the catalog")));
                continue;
            }
            self.can.as_mut().expect("inserted above").signals.push(CanSignalMap {
                path: path.clone(),
                message: signal.message.clone(),
                signal: signal.signal.clone(),
                values: signal.values.clone(),
                command: signal.command.as_ref().map(|c| CanCommandMap {
                    message: c.message.clone(),
                    signal: c.signal.clone(),
                    values: c.values.clone(),
                }),
                file: source.name.clone(),
                line,
            });
        }
    }

    /// A glob that selects at least one signal passing `filter`: a pattern that selects nothing is
    /// almost always a typo, and a silent one in a permission or interlock is dangerous.
    fn glob_matching_signals(&self, text: &str, filter: impl Fn(&SignalSpec) -> bool) -> Result<PathGlob, String> {
        let glob = PathGlob::new(text).map_err(|e| e.to_string())?;
        let selected: Vec<&SignalSpec> = self.select(&glob).collect();
        if selected.is_empty() {
            return Err(format!("'{text}' matches no signal in the catalog"));
        }
        if !selected.into_iter().any(filter) {
            return Err(format!("'{text}' matches no actuator"));
        }
        Ok(glob)
    }
}

pub fn embedded_catalog() -> Source {
    Source::new("<embedded>/vss-catalog.json", DEFAULT_CATALOG)
}

pub fn embedded_overlay() -> Source {
    Source::new("<embedded>/overlay.toml", DEFAULT_OVERLAY)
}

fn is_well_known_bus_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() >= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && !p.starts_with(|c: char| c.is_ascii_digit())
                && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
}

fn resolve_beside(source: &Source, relative: &str) -> String {
    let path = Path::new(relative);
    if path.is_absolute() || source.name.starts_with('<') {
        return relative.to_string();
    }
    let dir = Path::new(&source.name).parent().unwrap_or(Path::new(""));
    // A built-in profile name has no slash and no extension; keep it as it is.
    if !relative.contains('/') && !relative.contains('.') {
        return relative.to_string();
    }
    dir.join(path).display().to_string()
}

fn toml_to_value(value: &toml::Value) -> Result<Value, String> {
    match value {
        toml::Value::Boolean(b) => Ok(Value::Bool(*b)),
        toml::Value::Integer(i) => Ok(Value::Int(*i)),
        toml::Value::Float(f) => Ok(Value::Float(*f)),
        toml::Value::String(s) => Ok(Value::String(s.clone())),
        other => Err(format!("expected a boolean, number or string, got {}", other.type_str())),
    }
}

fn checked(spec: &SignalSpec, value: &Value) -> Result<Value, String> {
    let typed = value.coerce(spec.datatype).map_err(|e| e.to_string())?;
    spec.check_limits(&typed).map_err(|e| e.to_string())?;
    Ok(typed)
}

fn apply_node(catalog: &mut Catalog, source: &Source, node: &overlay::NodeEntry) -> Result<(), ConfigError> {
    let path = node.path.get_ref();
    let line = source.line_of(node.path.span().start);
    let error = |field: &str, message: String| ConfigError::new(&source.name, line, format!("{path}{field}"), message);
    let glob = PathGlob::new(path).map_err(|e| error("", e.to_string()))?;
    if !glob.is_literal() {
        return Err(error("", "a node path cannot hold wildcards".into()));
    }
    let below: Vec<String> = catalog
        .signals
        .keys()
        .filter(|p| p.len() > path.len() && p.starts_with(path.as_str()) && p.as_bytes()[path.len()] == b'.')
        .cloned()
        .collect();
    if node.delete {
        let existed = catalog.signals.remove(path).is_some();
        for p in &below {
            catalog.signals.remove(p);
        }
        return if existed || !below.is_empty() { Ok(()) } else { Err(error("", "no such node to delete".into())) };
    }
    // Branches are implied by the paths below them: naming one, as VSS files do, adds nothing.
    if node.kind.as_deref() == Some("branch") && catalog.get(path).is_none() {
        return Ok(());
    }
    if !below.is_empty() {
        return Err(error("", "is a branch; an overlay can only delete a branch or change its leaves".into()));
    }
    let mut fields = match catalog.get(path) {
        Some(existing) => spec_to_fields(existing),
        // A misspelt path is a new signal without a type: say where the catalog stops knowing it.
        None if node.kind.is_none() => {
            return Err(error("", format!("no such signal in the catalog ({}); a new one needs a `type`", known_up_to(catalog, path))))
        }
        None => serde_json::Map::new(),
    };
    let json = |v: &toml::Value| serde_json::to_value(v).unwrap_or(Json::Null);
    let mut set = |key: &str, value: Option<Json>| {
        if let Some(value) = value {
            fields.insert(key.to_string(), value);
        }
    };
    set("type", node.kind.clone().map(Json::String));
    set("datatype", node.datatype.clone().map(Json::String));
    set("unit", node.unit.clone().map(Json::String));
    set("min", node.min.as_ref().map(json));
    set("max", node.max.as_ref().map(json));
    set("allowed", node.allowed.as_ref().map(|items| Json::Array(items.iter().map(json).collect())));
    set("default", node.default.as_ref().map(json));
    set("description", node.description.clone().map(Json::String));
    match catalog::leaf_from_fields(path, &fields) {
        Ok(Some(spec)) => {
            catalog.origins.insert(path.clone(), (source.name.clone(), line));
            catalog.signals.insert(path.clone(), spec);
            Ok(())
        }
        Ok(None) => Ok(()),
        Err((field, message)) => {
            let line = field_line(source, node.path.span().start, field).unwrap_or(line);
            Err(ConfigError::new(&source.name, line, format!("{path}.{field}"), message))
        }
    }
}

/// The line of `field = ...` in the overlay entry around `within` (an offset inside it); `None`
/// when the field is not written on a line of its own there (an inline table, or a field the
/// catalog gave the signal).
fn field_line(source: &Source, within: usize, field: &str) -> Option<usize> {
    let text = &source.text;
    let start = text[..within].rfind("\n[").map_or(0, |at| at + 1);
    let end = text[within..].find("\n[").map_or(text.len(), |at| within + at);
    let mut offset = start;
    for line in text[start..end].split_inclusive('\n') {
        let names_it = line.trim_start().strip_prefix(field).is_some_and(|rest| rest.trim_start().starts_with('='));
        if names_it {
            return Some(source.line_of(offset));
        }
        offset += line.len();
    }
    None
}

/// Where a path leaves the catalog: "`Vehicle.Cabin.HVAC` has no `Staton`".
fn known_up_to(catalog: &Catalog, path: &str) -> String {
    let is_branch = |branch: &str| {
        catalog.signals.keys().any(|p| p.len() > branch.len() && p.starts_with(branch) && p.as_bytes()[branch.len()] == b'.')
    };
    let mut known = "";
    for (end, _) in path.match_indices('.').chain([(path.len(), "")]) {
        if !is_branch(&path[..end]) {
            let missing = path[known.len()..end].trim_start_matches('.');
            return if known.is_empty() { format!("no branch `{missing}`") } else { format!("`{known}` has no `{missing}`") };
        }
        known = &path[..end];
    }
    format!("`{known}` is a branch")
}

/// The D-Bus names Cabin's services own; `org.cabin.` is Cabin's.
const CABIN_BUS_NAMES: &[&str] = &[
    "org.cabin.Assistant1",
    "org.cabin.PhoneLink1",
    "org.cabin.Voice1",
    "org.cabin.Vision1",
    "org.cabin.VehicleBus1",
    "org.cabin.HeadUnit1",
    "org.cabin.Phone1",
];

fn spec_to_fields(spec: &SignalSpec) -> serde_json::Map<String, Json> {
    let mut fields = serde_json::Map::new();
    let value = |v: &Value| serde_json::to_value(v).unwrap_or(Json::Null);
    fields.insert("type".into(), Json::String(spec.kind.name().into()));
    fields.insert("datatype".into(), Json::String(spec.datatype.name().into()));
    fields.insert("description".into(), Json::String(spec.description.clone()));
    if let Some(unit) = &spec.unit {
        fields.insert("unit".into(), Json::String(unit.clone()));
    }
    for (key, v) in [("min", &spec.min), ("max", &spec.max), ("default", &spec.default)] {
        if let Some(v) = v {
            fields.insert(key.into(), value(v));
        }
    }
    if let Some(allowed) = &spec.allowed {
        fields.insert("allowed".into(), Json::Array(allowed.iter().map(value).collect()));
    }
    fields
}

#[cfg(test)]
mod tests;
