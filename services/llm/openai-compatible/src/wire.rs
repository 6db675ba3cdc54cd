//! Request and response bodies of `POST /v1/chat/completions` and `GET /v1/models`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    #[serde(default)]
    pub model: String,
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
    /// "none", "auto", "required", or `{"type": "function", "function": {"name": ...}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Ask for each token's log-probability (in a stream, with each chunk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

impl Stop {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            Stop::One(s) => vec![s],
            Stop::Many(v) => v,
        }
    }
}

/// One message. On the wire its content is a string, or, when it carries images, a list of
/// parts (`{"type": "text", ...}`, `{"type": "image_url", ...}`), the form vision-language
/// servers (GPT-4o, GLM-4V, Qwen-VL) accept. Either form is read; a server that reads no images
/// gets their text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "WireMessage", into = "WireMessage")]
pub struct Message {
    /// system | user | assistant | tool
    pub role: String,
    pub content: Option<String>,
    /// Images after the text, as URLs (`data:image/jpeg;base64,...` for the car's own frames).
    pub images: Vec<String>,
    pub tool_calls: Vec<ToolCall>,
    pub tool_call_id: Option<String>,
}

impl Message {
    pub fn new(role: &str, content: impl Into<String>) -> Message {
        Message { role: role.into(), content: Some(content.into()), ..Message::default() }
    }

    /// A user message with JPEG images after its text.
    pub fn with_jpegs<'a>(text: impl Into<String>, jpegs: impl IntoIterator<Item = &'a [u8]>) -> Message {
        use base64::Engine as _;
        let url = |jpeg: &[u8]| format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(jpeg));
        Message { images: jpegs.into_iter().map(url).collect(), ..Message::new("user", text) }
    }
}

#[derive(Serialize, Deserialize)]
struct WireMessage {
    role: String,
    #[serde(default)]
    content: Option<Content>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<ToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Part {
    Text { text: String },
    ImageUrl { image_url: ImageUrl },
}

#[derive(Serialize, Deserialize)]
struct ImageUrl {
    url: String,
}

impl From<WireMessage> for Message {
    fn from(wire: WireMessage) -> Message {
        let (content, images) = match wire.content {
            None => (None, Vec::new()),
            Some(Content::Text(text)) => (Some(text), Vec::new()),
            Some(Content::Parts(parts)) => {
                let (mut texts, mut images) = (Vec::new(), Vec::new());
                for part in parts {
                    match part {
                        Part::Text { text } => texts.push(text),
                        Part::ImageUrl { image_url } => images.push(image_url.url),
                    }
                }
                (Some(texts.join("\n")), images)
            }
        };
        Message { role: wire.role, content, images, tool_calls: wire.tool_calls, tool_call_id: wire.tool_call_id }
    }
}

impl From<Message> for WireMessage {
    fn from(message: Message) -> WireMessage {
        let content = if message.images.is_empty() {
            message.content.map(Content::Text)
        } else {
            let text = message.content.map(|text| Part::Text { text });
            let images = message.images.into_iter().map(|url| Part::ImageUrl { image_url: ImageUrl { url } });
            Some(Content::Parts(text.into_iter().chain(images).collect()))
        };
        WireMessage { role: message.role, content, tool_calls: message.tool_calls, tool_call_id: message.tool_call_id }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_travel_as_parts_after_the_text_and_come_back() {
        let message = Message::with_jpegs("Is there a hat?", [&b"\xff\xd8jpeg"[..]]);
        let wire = serde_json::to_value(&message).unwrap();
        assert_eq!(
            wire,
            serde_json::json!({"role": "user", "content": [
                {"type": "text", "text": "Is there a hat?"},
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9hqcGVn"}}
            ]})
        );
        assert_eq!(serde_json::from_value::<Message>(wire).unwrap(), message);
        let plain = serde_json::to_value(Message::new("user", "hello")).unwrap();
        assert_eq!(plain, serde_json::json!({"role": "user", "content": "hello"}));
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    #[serde(rename = "type")]
    pub kind: String,
    pub function: Function,
}

impl Tool {
    pub fn function(name: impl Into<String>, description: impl Into<String>, parameters: Value) -> Tool {
        Tool {
            kind: "function".into(),
            function: Function { name: name.into(), description: Some(description.into()), parameters: Some(parameters) },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Function {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A JSON schema of the arguments object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub function: FunctionCall,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    pub name: String,
    /// The arguments object as JSON text, as the model wrote it: it may not parse.
    pub arguments: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    pub id: String,
    pub object: String,
    pub created: u64,
    pub model: String,
    pub choices: Vec<Choice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    pub index: u32,
    pub message: Message,
    #[serde(default)]
    pub finish_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Logprobs>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
}

/// One server-sent event of a streamed answer (`"stream": true`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatChunk {
    pub id: String,
    pub object: String,
    pub created: u64,
    pub model: String,
    pub choices: Vec<ChunkChoice>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkChoice {
    pub index: u32,
    pub delta: Delta,
    #[serde(default)]
    pub finish_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Logprobs>,
}

/// How sure the model was of what it said, token by token (or piece by piece).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Logprobs {
    pub content: Vec<TokenLogprob>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenLogprob {
    pub token: String,
    /// Natural log of the probability the model gave it.
    pub logprob: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelList {
    pub object: String,
    pub data: Vec<ModelCard>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    pub id: String,
    pub object: String,
    pub owned_by: String,
}

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: String,
}
