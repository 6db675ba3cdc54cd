//! The car's tasks offered to a model as functions, and a model's call turned back into a task
//! request, checked against what was offered before anything runs.

use std::collections::BTreeMap;

use cabin_nlu::{IntentCatalog, SlotKind, SlotValue, Slots};
use cabin_openai_compatible::{Tool, ToolCall};
use serde_json::{json, Value};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum ToolCallError {
    #[error("the model called {0:?}, which it was not offered")]
    UnknownTool(String),
    #[error("{tool}: arguments are not a JSON object: {arguments}")]
    NotAnObject { tool: String, arguments: String },
    #[error("{tool}: unknown argument {argument:?}")]
    UnknownArgument { tool: String, argument: String },
    #[error("{tool}: argument {argument:?} should be {expected}, not {value}")]
    BadArgument { tool: String, argument: String, expected: &'static str, value: String },
}

/// A task the model asked for: run it through the dialog like the driver's own words.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolRequest {
    pub intent: String,
    pub slots: Slots,
}

/// Function names allow no dots: `climate.set_temperature` is offered as `climate_set_temperature`.
pub fn tool_name(intent: &str) -> String {
    intent.replace('.', "_")
}

fn is_number(kind: SlotKind) -> bool {
    matches!(kind, SlotKind::Temperature | SlotKind::OpenPercent | SlotKind::HeatLevel | SlotKind::VolumeLevel)
}

fn schema_of(kind: SlotKind) -> Value {
    match kind {
        SlotKind::Temperature => json!({"type": "number", "description": "degrees Celsius"}),
        SlotKind::OpenPercent => json!({"type": "number", "description": "percent open, 0 closed to 100 fully open"}),
        SlotKind::HeatLevel => json!({"type": "number", "description": "0 off, 1 low, 2 medium, 3 high"}),
        SlotKind::VolumeLevel => json!({"type": "number", "description": "0 to 100"}),
        SlotKind::Zone => json!({"type": "string", "enum": ["driver", "passenger", "rear_left", "rear_right", "rear", "front", "all"]}),
        SlotKind::Warmth | SlotKind::Loudness => json!({"type": "string", "enum": ["up", "down"]}),
        SlotKind::Switch => json!({"type": "string", "enum": ["on", "off"]}),
        SlotKind::LockState => json!({"type": "string", "enum": ["locked", "unlocked"]}),
        SlotKind::MediaAction => json!({"type": "string", "enum": ["pause", "resume", "next", "previous"]}),
        SlotKind::Region => {
            json!({"type": "string", "enum": ["driver", "passenger", "rear_left", "rear_right", "rear", "trunk", "footwell"]})
        }
        _ => json!({"type": "string"}),
    }
}

/// One function per task intent in `intents`.
pub(crate) fn offer(catalog: &IntentCatalog, intents: &[&str]) -> Vec<Tool> {
    intents
        .iter()
        .filter_map(|name| catalog.get(name))
        .map(|def| {
            let properties: BTreeMap<&String, Value> = def.slots.iter().map(|(slot, kind)| (slot, schema_of(*kind))).collect();
            Tool::function(tool_name(&def.name), def.description.clone(), json!({"type": "object", "properties": properties}))
        })
        .collect()
}

/// Checks a call against the offered intents and reads its arguments as slots.
pub(crate) fn request_of(call: &ToolCall, catalog: &IntentCatalog, offered: &[&str]) -> Result<ToolRequest, ToolCallError> {
    let tool = call.function.name.clone();
    let intent = offered.iter().find(|i| tool_name(i) == tool).ok_or_else(|| ToolCallError::UnknownTool(tool.clone()))?;
    let def = catalog.get(intent).ok_or_else(|| ToolCallError::UnknownTool(tool.clone()))?;
    let arguments: Value = serde_json::from_str(&call.function.arguments).unwrap_or(Value::Null);
    let Value::Object(arguments) = arguments else {
        return Err(ToolCallError::NotAnObject { tool, arguments: call.function.arguments.clone() });
    };
    let mut slots = Slots::new();
    for (argument, value) in arguments {
        let kind =
            *def.slots.get(&argument).ok_or_else(|| ToolCallError::UnknownArgument { tool: tool.clone(), argument: argument.clone() })?;
        let bad =
            |expected| ToolCallError::BadArgument { tool: tool.clone(), argument: argument.clone(), expected, value: value.to_string() };
        let slot = if is_number(kind) {
            match &value {
                Value::Number(n) => SlotValue::Number(n.as_f64().ok_or_else(|| bad("a number"))?),
                Value::String(s) => SlotValue::Number(s.trim().parse().map_err(|_| bad("a number"))?),
                _ => return Err(bad("a number")),
            }
        } else {
            match &value {
                Value::String(s) if !s.trim().is_empty() => SlotValue::Text(s.trim().to_lowercase()),
                _ => return Err(bad("a word")),
            }
        };
        slots.insert(argument, slot);
    }
    Ok(ToolRequest { intent: intent.to_string(), slots })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cabin_openai_compatible::FunctionCall;

    fn call(name: &str, arguments: &str) -> ToolCall {
        ToolCall { id: "call_0".into(), kind: "function".into(), function: FunctionCall { name: name.into(), arguments: arguments.into() } }
    }

    #[test]
    fn calls_become_task_requests_and_mistakes_are_named() {
        let catalog = IntentCatalog::load(&[] as &[&str]).unwrap();
        let offered = ["climate.set_temperature", "trunk.open"];
        let tools = offer(&catalog, &offered);
        assert_eq!(tools.len(), 2);
        assert_eq!(tools[0].function.name, "climate_set_temperature");

        let request =
            request_of(&call("climate_set_temperature", r#"{"temperature": 21, "zone": "Passenger"}"#), &catalog, &offered).unwrap();
        assert_eq!(request.intent, "climate.set_temperature");
        assert_eq!(request.slots["temperature"], SlotValue::Number(21.0));
        assert_eq!(request.slots["zone"], SlotValue::Text("passenger".into()));

        let unknown = request_of(&call("trunk_open", r#"{"temperature": 25}"#), &catalog, &offered).unwrap_err();
        assert_eq!(unknown.to_string(), "trunk_open: unknown argument \"temperature\"");
        let not_offered = request_of(&call("doors_set_lock", "{}"), &catalog, &offered).unwrap_err();
        assert_eq!(not_offered, ToolCallError::UnknownTool("doors_set_lock".into()));
        let garbage = request_of(&call("trunk_open", "[1,"), &catalog, &offered).unwrap_err();
        assert!(matches!(garbage, ToolCallError::NotAnObject { .. }));
        let wrong_type = request_of(&call("climate_set_temperature", r#"{"temperature": "warm"}"#), &catalog, &offered).unwrap_err();
        assert!(wrong_type.to_string().contains("should be a number"), "{wrong_type}");
    }
}
