//! Prompts in ChatML, the format both shipped models were tuned on, with tools the way Qwen2.5's
//! own chat template offers them: the functions' JSON schemas in the system turn, and calls
//! answered as `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
    /// The calls an assistant turn made.
    pub tool_calls: Vec<ToolCall>,
}

impl ChatMessage {
    pub fn new(role: Role, content: impl Into<String>) -> ChatMessage {
        ChatMessage { role, content: content.into(), tool_calls: Vec::new() }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub name: String,
    pub arguments: Value,
}

/// A function the model may call: its name, what it does, and a JSON schema of its arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: Value,
}

const TOOLS_PREAMBLE: &str = "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n\
You are provided with function signatures within <tools></tools> XML tags:\n<tools>";
const TOOLS_EPILOGUE: &str = "\n</tools>\n\nFor each function call, return a json object with function name and arguments within \
<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>";

/// The prompt for the model's next assistant turn.
pub fn render_prompt(messages: &[ChatMessage], tools: &[ToolSpec]) -> String {
    let mut prompt = String::new();
    let (system, rest) = match messages.first() {
        Some(first) if first.role == Role::System => (first.content.as_str(), &messages[1..]),
        _ => ("You are a helpful assistant.", messages),
    };
    prompt.push_str("<|im_start|>system\n");
    prompt.push_str(system);
    if !tools.is_empty() {
        prompt.push_str(TOOLS_PREAMBLE);
        for tool in tools {
            let function = serde_json::json!({
                "type": "function",
                "function": { "name": tool.name, "description": tool.description, "parameters": tool.parameters },
            });
            prompt.push('\n');
            prompt.push_str(&function.to_string());
        }
        prompt.push_str(TOOLS_EPILOGUE);
    }
    prompt.push_str("<|im_end|>\n");
    let mut in_tool_responses = false;
    for message in rest {
        if message.role != Role::Tool && in_tool_responses {
            prompt.push_str("<|im_end|>\n");
            in_tool_responses = false;
        }
        match message.role {
            Role::Tool => {
                prompt.push_str(if in_tool_responses { "\n" } else { "<|im_start|>user\n" });
                prompt.push_str("<tool_response>\n");
                prompt.push_str(&message.content);
                prompt.push_str("\n</tool_response>");
                in_tool_responses = true;
            }
            Role::Assistant if !message.tool_calls.is_empty() => {
                prompt.push_str("<|im_start|>assistant");
                if !message.content.is_empty() {
                    prompt.push('\n');
                    prompt.push_str(&message.content);
                }
                for call in &message.tool_calls {
                    let call = serde_json::json!({ "name": call.name, "arguments": call.arguments });
                    prompt.push_str("\n<tool_call>\n");
                    prompt.push_str(&call.to_string());
                    prompt.push_str("\n</tool_call>");
                }
                prompt.push_str("<|im_end|>\n");
            }
            role => {
                let name = match role {
                    Role::System => "system",
                    Role::User => "user",
                    _ => "assistant",
                };
                prompt.push_str(&format!("<|im_start|>{name}\n{}<|im_end|>\n", message.content));
            }
        }
    }
    if in_tool_responses {
        prompt.push_str("<|im_end|>\n");
    }
    prompt.push_str("<|im_start|>assistant\n");
    prompt
}

/// What the model said: its words, and the calls it asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedReply {
    pub content: String,
    pub tool_calls: Vec<ToolCall>,
    /// `<tool_call>` blocks that were not a JSON object with a name and arguments.
    pub malformed_calls: Vec<String>,
}

pub fn parse_reply(text: &str) -> ParsedReply {
    let mut reply = ParsedReply::default();
    let mut rest = text;
    let mut content = String::new();
    while let Some(start) = rest.find("<tool_call>") {
        content.push_str(&rest[..start]);
        let after = &rest[start + "<tool_call>".len()..];
        let (body, next) = match after.find("</tool_call>") {
            Some(end) => (&after[..end], &after[end + "</tool_call>".len()..]),
            None => (after, ""),
        };
        match serde_json::from_str::<ToolCall>(body.trim()) {
            Ok(call) if call.arguments.is_object() => reply.tool_calls.push(call),
            _ => reply.malformed_calls.push(body.trim().to_string()),
        }
        rest = next;
    }
    content.push_str(rest);
    let content = content.trim();
    // Small models often drop the tags and answer with the call's JSON alone.
    if reply.tool_calls.is_empty() && reply.malformed_calls.is_empty() && content.starts_with('{') {
        if let Ok(call) = serde_json::from_str::<ToolCall>(content) {
            if call.arguments.is_object() {
                reply.tool_calls.push(call);
                return reply;
            }
        }
    }
    reply.content = content.to_string();
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_is_chatml_with_tools_in_the_system_turn() {
        let tools = [ToolSpec {
            name: "open_trunk".into(),
            description: "Opens the trunk".into(),
            parameters: serde_json::json!({"type": "object"}),
        }];
        let prompt = render_prompt(&[ChatMessage::new(Role::System, "You are Cabin."), ChatMessage::new(Role::User, "hi")], &tools);
        assert!(prompt.starts_with("<|im_start|>system\nYou are Cabin.\n\n# Tools"));
        assert!(prompt.contains(
            r#"{"function":{"description":"Opens the trunk","name":"open_trunk","parameters":{"type":"object"}},"type":"function"}"#
        ));
        assert!(prompt.ends_with("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"));
    }

    #[test]
    fn tool_results_go_back_as_one_user_turn() {
        let call = ToolCall { name: "get".into(), arguments: serde_json::json!({"path": "Vehicle.Speed"}) };
        let messages = [
            ChatMessage::new(Role::User, "how fast?"),
            ChatMessage { role: Role::Assistant, content: String::new(), tool_calls: vec![call] },
            ChatMessage::new(Role::Tool, "42"),
            ChatMessage::new(Role::Tool, "km/h"),
        ];
        let prompt = render_prompt(&messages, &[]);
        assert!(prompt.contains(
            "<|im_start|>assistant\n<tool_call>\n{\"arguments\":{\"path\":\"Vehicle.Speed\"},\"name\":\"get\"}\n</tool_call><|im_end|>"
        ));
        assert!(prompt.contains("<|im_start|>user\n<tool_response>\n42\n</tool_response>\n<tool_response>\nkm/h\n</tool_response><|im_end|>\n<|im_start|>assistant\n"));
    }

    #[test]
    fn calls_are_parsed_and_bad_ones_kept_apart() {
        let reply =
            parse_reply("Sure.\n<tool_call>\n{\"name\": \"open_trunk\", \"arguments\": {}}\n</tool_call>\n<tool_call>{oops</tool_call>");
        assert_eq!(reply.content, "Sure.");
        assert_eq!(reply.tool_calls, vec![ToolCall { name: "open_trunk".into(), arguments: serde_json::json!({}) }]);
        assert_eq!(reply.malformed_calls, vec!["{oops".to_string()]);
        assert_eq!(parse_reply("Paris is the capital.").content, "Paris is the capital.");
        let bare = parse_reply(r#"{"name": "trunk_open", "arguments": {}}"#);
        assert_eq!(bare.tool_calls.len(), 1);
        assert_eq!(bare.content, "");
        assert_eq!(parse_reply("{not a call}").content, "{not a call}");
    }
}
