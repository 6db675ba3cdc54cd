//! The overlay's CAN mapping, checked against the DBC: which bits of which frame carry each VSS
//! signal, how raw values scale to physical ones, and which frame carries actuation requests.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use cabin_vehicle_config::{BackendKind, ConfigError, ConfigErrors, SignalKind, SignalSpec, Source, Value, VehicleConfig};
use can_dbc::{ByteOrder, Dbc, MessageId, ValueType};

use crate::bits::{BitLayout, Order};

/// One DBC signal: where its bits are and how they scale.
#[derive(Debug, Clone, PartialEq)]
struct Codec {
    layout: BitLayout,
    signed: bool,
    factor: f64,
    offset: f64,
}

impl Codec {
    fn from_dbc(signal: &can_dbc::Signal) -> Self {
        Self {
            layout: BitLayout {
                start_bit: signal.start_bit as u32,
                size: signal.size as u32,
                order: match signal.byte_order {
                    ByteOrder::LittleEndian => Order::Intel,
                    ByteOrder::BigEndian => Order::Motorola,
                },
            },
            signed: signal.value_type == ValueType::Signed,
            factor: signal.factor,
            offset: signal.offset,
        }
    }

    fn raw_range(&self) -> (i128, i128) {
        let bits = self.layout.size;
        if self.signed {
            (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
        } else {
            (0, (1i128 << bits) - 1)
        }
    }

    fn read(&self, data: &[u8]) -> Option<i64> {
        let raw = self.layout.extract(data)?;
        let bits = self.layout.size;
        Some(if self.signed && bits < 64 && raw & (1 << (bits - 1)) != 0 { (raw as i64) - (1i64 << bits) } else { raw as i64 })
    }

    fn write(&self, data: &mut [u8], raw: i64) {
        let bits = self.layout.size;
        let mask = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
        self.layout.insert(data, raw as u64 & mask);
    }
}

#[derive(Debug, Clone)]
struct Inbound {
    path: Arc<str>,
    spec: SignalSpec,
    codec: Codec,
    /// Raw code -> VSS value, when the overlay maps codes.
    codes: HashMap<i64, Value>,
}

#[derive(Debug, Clone)]
struct Outbound {
    frame: FrameId,
    length: usize,
    codec: Codec,
    /// VSS value (as text) -> raw code.
    codes: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameId {
    pub id: u32,
    pub extended: bool,
}

impl From<MessageId> for FrameId {
    fn from(id: MessageId) -> Self {
        match id {
            MessageId::Standard(id) => Self { id: id.into(), extended: false },
            MessageId::Extended(id) => Self { id, extended: true },
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EncodeError {
    #[error("{0} has no CAN command mapping")]
    NotMapped(String),
    #[error("{path}: value {value} has no CAN code")]
    NoCode { path: String, value: Value },
    #[error("{path}: {value} does not fit the CAN signal (raw {raw} outside {lo}..={hi})")]
    DoesNotFit { path: String, value: Value, raw: i128, lo: i128, hi: i128 },
}

/// The checked mapping, ready to decode and encode frames.
#[derive(Debug, Clone, Default)]
pub struct CanMapping {
    inbound: HashMap<FrameId, Vec<Inbound>>,
    outbound: HashMap<String, Outbound>,
    /// What was last sent in each command frame, so one command does not clear another's bits.
    pub(crate) last_sent: HashMap<FrameId, Vec<u8>>,
}

impl CanMapping {
    /// Reads the DBC the overlay names and checks the mapping against it. `Ok(None)` when the
    /// configuration has no CAN section.
    pub fn load(config: &VehicleConfig) -> Result<Option<CanMapping>, ConfigErrors> {
        let Some(can) = &config.can else { return Ok(None) };
        let (file, line) = &can.dbc_origin;
        let Some(dbc_path) = &can.dbc else {
            return Err(ConfigError::new(file, *line, "can.dbc", "the [can] section names no DBC file").into());
        };
        let source = Source::read(dbc_path).map_err(|mut e| {
            e.message = format!("{} ({}:{}: can.dbc)", e.message, file, line);
            ConfigErrors::from(e)
        })?;
        Self::from_dbc(config, &source).map(Some)
    }

    /// Checks every mapped signal against the DBC, collecting every mismatch.
    pub fn from_dbc(config: &VehicleConfig, dbc_source: &Source) -> Result<CanMapping, ConfigErrors> {
        let dbc = Dbc::try_from(dbc_source.text.as_str()).map_err(|e| dbc_parse_error(dbc_source, &e))?;
        let mut mapping = CanMapping::default();
        let mut errors = duplicates(&dbc, dbc_source);
        let Some(can) = &config.can else { return Ok(mapping) };
        for map in &can.signals {
            let error = |field: &str, message: String| ConfigError::new(&map.file, map.line, format!("can.signal.{field}"), message);
            let spec = &config.catalog.signals[&map.path];
            if config.backend_of(&map.path) != BackendKind::Can {
                errors.push(error(
                    "path",
                    format!(
                        "{} is fed by the {} backend; add it to a [[feed]] with backend = \"can\"",
                        map.path,
                        config.backend_of(&map.path).name()
                    ),
                ));
                continue;
            }
            let inbound = match find_signal(&dbc, &map.message, &map.signal, &dbc_source.name) {
                Ok((message, signal)) => {
                    let codec = Codec::from_dbc(signal);
                    if let Err(m) = check_codec(&codec, message, spec, &map.values, &map.signal) {
                        errors.push(error("signal", m));
                        continue;
                    }
                    let codes = map
                        .values
                        .iter()
                        .filter_map(|(text, raw)| Some((*raw, Value::from_text(text).coerce(spec.datatype).ok()?)))
                        .collect();
                    (FrameId::from(message.id), Inbound { path: Arc::from(map.path.as_str()), spec: spec.clone(), codec, codes })
                }
                Err(m) => {
                    errors.push(error(if m.starts_with("no message") { "message" } else { "signal" }, m));
                    continue;
                }
            };
            mapping.inbound.entry(inbound.0).or_default().push(inbound.1);

            match (&map.command, spec.kind) {
                (Some(command), SignalKind::Actuator) => match find_signal(&dbc, &command.message, &command.signal, &dbc_source.name) {
                    Ok((message, signal)) => {
                        let codec = Codec::from_dbc(signal);
                        let codes = if command.values.is_empty() { map.values.clone() } else { command.values.clone() };
                        if let Err(m) = check_codec(&codec, message, spec, &codes, &command.signal) {
                            errors.push(error("command", m));
                            continue;
                        }
                        mapping
                            .outbound
                            .insert(map.path.clone(), Outbound { frame: message.id.into(), length: message.size as usize, codec, codes });
                    }
                    Err(m) => errors.push(error("command", m)),
                },
                (Some(_), kind) => {
                    errors.push(error("command", format!("{} is a {}; only actuators take commands", map.path, kind.name())))
                }
                (None, SignalKind::Actuator) => errors.push(error(
                    "command",
                    format!("actuator {} needs a command = {{ message, signal }} to be actuated over CAN", map.path),
                )),
                (None, _) => {}
            }
        }
        // A signal fed by CAN but carried by no frame would never have a value.
        let mapped: Vec<&str> = can.signals.iter().map(|m| m.path.as_str()).collect();
        for spec in config.catalog.signals.values() {
            if config.backend_of(&spec.path) == BackendKind::Can && !mapped.contains(&spec.path.as_str()) {
                let (file, line) = config.catalog.origins.get(&spec.path).cloned().unwrap_or_default();
                errors.push(ConfigError::new(
                    &file,
                    line,
                    &spec.path,
                    "fed by the can backend but mapped to no CAN signal ([[can.signal]])",
                ));
            }
        }
        errors.into_result(mapping)
    }

    /// The VSS values carried by one frame; codes the mapping does not know are logged and skipped.
    pub fn decode(&self, frame: FrameId, data: &[u8]) -> Vec<(Arc<str>, Value)> {
        let Some(signals) = self.inbound.get(&frame) else { return Vec::new() };
        let mut values = Vec::with_capacity(signals.len());
        for signal in signals {
            let Some(raw) = signal.codec.read(data) else {
                tracing::warn!(path = %signal.path, len = data.len(), "CAN frame too short for its signal");
                continue;
            };
            let value = if signal.codes.is_empty() {
                let physical = raw as f64 * signal.codec.factor + signal.codec.offset;
                let physical = if signal.spec.datatype.is_numeric()
                    && !matches!(signal.spec.datatype, cabin_vehicle_config::Datatype::Float | cabin_vehicle_config::Datatype::Double)
                {
                    physical.round()
                } else {
                    physical
                };
                Value::Float(physical)
            } else if let Some(value) = signal.codes.get(&raw) {
                value.clone()
            } else {
                tracing::warn!(path = %signal.path, raw, "CAN code with no VSS value in the mapping");
                continue;
            };
            values.push((signal.path.clone(), value));
        }
        values
    }

    /// The command frame for an actuation request.
    pub fn encode(&mut self, path: &str, value: &Value) -> Result<(FrameId, Vec<u8>), EncodeError> {
        let out = self.outbound.get(path).ok_or_else(|| EncodeError::NotMapped(path.to_string()))?;
        let raw: i128 = if out.codes.is_empty() {
            let physical = value.as_f64().ok_or_else(|| EncodeError::NoCode { path: path.to_string(), value: value.clone() })?;
            ((physical - out.codec.offset) / out.codec.factor).round() as i128
        } else {
            let code =
                out.codes.get(&value.to_string()).ok_or_else(|| EncodeError::NoCode { path: path.to_string(), value: value.clone() })?;
            i128::from(*code)
        };
        let (lo, hi) = out.codec.raw_range();
        if raw < lo || raw > hi {
            return Err(EncodeError::DoesNotFit { path: path.to_string(), value: value.clone(), raw, lo, hi });
        }
        let data = self.last_sent.entry(out.frame).or_insert_with(|| vec![0; out.length]);
        out.codec.write(data, raw as i64);
        Ok((out.frame, data.clone()))
    }
}

fn find_signal<'a>(
    dbc: &'a Dbc,
    message: &str,
    signal: &str,
    dbc_name: &str,
) -> Result<(&'a can_dbc::Message, &'a can_dbc::Signal), String> {
    let msg = dbc.messages.iter().find(|m| m.name == message).ok_or_else(|| format!("no message '{message}' in {dbc_name}"))?;
    let sig = msg
        .signals
        .iter()
        .find(|s| s.name == signal)
        .ok_or_else(|| format!("no signal '{signal}' in message '{message}' of {dbc_name}"))?;
    Ok((msg, sig))
}

fn check_codec(
    codec: &Codec,
    message: &can_dbc::Message,
    spec: &SignalSpec,
    codes: &BTreeMap<String, i64>,
    signal: &str,
) -> Result<(), String> {
    if !codec.layout.fits(message.size as usize) {
        return Err(format!("bits of '{signal}' lie outside the {}-byte message '{}'", message.size, message.name));
    }
    if codec.factor == 0.0 {
        return Err(format!("'{signal}' has a factor of 0"));
    }
    let (lo, hi) = codec.raw_range();
    if let Some((text, raw)) = codes.iter().find(|(_, &raw)| i128::from(raw) < lo || i128::from(raw) > hi) {
        return Err(format!("code {raw} for '{text}' does not fit '{signal}' ({lo}..={hi})"));
    }
    if let Some(text) = codes.keys().find(|text| Value::from_text(text).coerce(spec.datatype).is_err()) {
        return Err(format!("'{text}' is not a {} value of {}", spec.datatype, spec.path));
    }
    if !codes.is_empty() {
        return Ok(());
    }
    if !spec.datatype.is_numeric() {
        return Err(format!("{} is a {}; map its CAN codes with values = {{ ... }}", spec.path, spec.datatype));
    }
    // The physical range the bits can carry must cover the VSS limits.
    let ends = [lo as f64 * codec.factor + codec.offset, hi as f64 * codec.factor + codec.offset];
    let (phys_lo, phys_hi) = (ends[0].min(ends[1]), ends[0].max(ends[1]));
    for limit in [&spec.min, &spec.max].into_iter().flatten() {
        let limit = limit.as_f64().unwrap_or_default();
        if limit < phys_lo - 1e-9 || limit > phys_hi + 1e-9 {
            return Err(format!("'{signal}' carries {phys_lo}..{phys_hi}, which does not cover the VSS limit {limit} of {}", spec.path));
        }
    }
    Ok(())
}

/// The DBC's own parser error, placed at its line where the parser says it.
/// Two messages with one id, or two signals of one name in a message: which one a frame or a
/// mapping means could not be told.
fn duplicates(dbc: &Dbc, source: &Source) -> ConfigErrors {
    let mut errors = ConfigErrors::default();
    let lines: Vec<&str> = source.text.lines().map(str::trim_start).collect();
    let message_line = |name: &str| {
        lines.iter().position(|l| l.starts_with("BO_ ") && l.split_whitespace().nth(2).map(|n| n.trim_end_matches(':')) == Some(name))
    };
    for (index, message) in dbc.messages.iter().enumerate() {
        let at = message_line(&message.name).unwrap_or(0);
        if let Some(first) = dbc.messages[..index].iter().find(|m| m.id == message.id) {
            let text = format!("message '{}' has the id of message '{}' ({})", message.name, first.name, message.id.raw());
            errors.push(ConfigError::new(&source.name, at + 1, "", text));
        }
        for (index, signal) in message.signals.iter().enumerate() {
            if message.signals[..index].iter().any(|s| s.name == signal.name) {
                let named = |l: &&&str| l.starts_with("SG_ ") && l.split_whitespace().nth(1) == Some(signal.name.as_str());
                let second = lines.iter().enumerate().skip(at + 1).filter(|(_, l)| named(l)).nth(1).map_or(at, |(i, _)| i);
                let text = format!("message '{}' has two signals named '{}'", message.name, signal.name);
                errors.push(ConfigError::new(&source.name, second + 1, "", text));
            }
        }
    }
    errors
}

fn dbc_parse_error(source: &Source, error: &can_dbc::DbcError) -> ConfigErrors {
    let text = error.to_string();
    // pest prints " --> LINE:COL" in its message.
    let line =
        text.split("-->").nth(1).and_then(|rest| rest.trim().split(':').next()).and_then(|l| l.trim().parse::<usize>().ok()).unwrap_or(0);
    let message = match source.text.lines().nth(line.wrapping_sub(1)) {
        Some(bad) => format!("not a valid DBC file; cannot read '{}'", bad.trim()),
        None => format!("not a valid DBC file: {}", text.lines().last().unwrap_or_default().trim_start_matches([' ', '=']).trim()),
    };
    ConfigError::new(&source.name, line, "", message).into()
}
