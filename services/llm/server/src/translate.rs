//! Between the wire (OpenAI's JSON) and the model (ChatML messages, tool specs, sampling).

use cabin_local_llm::{parse_reply, ChatMessage, Finish, Generation, Role, Sampling, ToolCall as ModelCall, ToolSpec};
use cabin_openai_compatible::{ChatRequest, ChatResponse, Choice, Delta, FunctionCall, Message, ToolCall, Usage};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RequestError {
    #[error("messages: empty")]
    NoMessages,
    #[error("messages[{index}].role: {role:?} is not system, user, assistant or tool")]
    Role { index: usize, role: String },
    #[error("messages[{index}].tool_calls[{call}].function.arguments: not a JSON object")]
    Arguments { index: usize, call: usize },
    #[error("tools[{index}].type: {kind:?}; only \"function\" tools are served")]
    ToolKind { index: usize, kind: String },
    #[error("max_tokens: {0} is not between 1 and 4096")]
    MaxTokens(u32),
    #[error("temperature: {0} is not between 0 and 2")]
    Temperature(f64),
    #[error("frequency_penalty: {0} is not between -2 and 2")]
    FrequencyPenalty(f64),
}

#[derive(Debug)]
pub(crate) struct Chat {
    pub messages: Vec<ChatMessage>,
    pub tools: Vec<ToolSpec>,
    pub sampling: Sampling,
}

pub(crate) fn chat_of(request: &ChatRequest) -> Result<Chat, RequestError> {
    if request.messages.is_empty() {
        return Err(RequestError::NoMessages);
    }
    let mut messages = Vec::new();
    for (index, message) in request.messages.iter().enumerate() {
        let role = match message.role.as_str() {
            "system" | "developer" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "tool" => Role::Tool,
            other => return Err(RequestError::Role { index, role: other.into() }),
        };
        let mut tool_calls = Vec::new();
        for (call, tool_call) in message.tool_calls.iter().enumerate() {
            let arguments = serde_json::from_str(&tool_call.function.arguments).map_err(|_| RequestError::Arguments { index, call })?;
            tool_calls.push(ModelCall { name: tool_call.function.name.clone(), arguments });
        }
        messages.push(ChatMessage { role, content: message.content.clone().unwrap_or_default(), tool_calls });
    }
    let tools = if request.tool_choice.as_ref().and_then(|c| c.as_str()) == Some("none") {
        Vec::new()
    } else {
        let mut tools = Vec::new();
        for (index, tool) in request.tools.iter().enumerate() {
            if tool.kind != "function" {
                return Err(RequestError::ToolKind { index, kind: tool.kind.clone() });
            }
            tools.push(ToolSpec {
                name: tool.function.name.clone(),
                description: tool.function.description.clone().unwrap_or_default(),
                parameters: tool.function.parameters.clone().unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}})),
            });
        }
        tools
    };
    let mut sampling = Sampling::default();
    if let Some(max) = request.max_tokens {
        if !(1..=4096).contains(&max) {
            return Err(RequestError::MaxTokens(max));
        }
        sampling.max_tokens = max as usize;
    }
    if let Some(temperature) = request.temperature {
        if !(0.0..=2.0).contains(&temperature) {
            return Err(RequestError::Temperature(temperature));
        }
        sampling.temperature = temperature;
    }
    sampling.top_p = request.top_p;
    if let Some(penalty) = request.frequency_penalty {
        if !(-2.0..=2.0).contains(&penalty) {
            return Err(RequestError::FrequencyPenalty(penalty));
        }
        // OpenAI subtracts a penalty; candle divides. 0 is off in both.
        sampling.repeat_penalty = 1.0 + penalty.max(0.0) as f32;
    }
    if let Some(seed) = request.seed {
        sampling.seed = seed;
    }
    sampling.stop = request.stop.clone().map(|s| s.into_vec()).unwrap_or_default();
    Ok(Chat { messages, tools, sampling })
}

/// The answer's words and calls, and why it ended.
fn message_of(generation: &Generation, with_tools: bool) -> (Option<String>, Vec<ToolCall>, &'static str) {
    if !with_tools {
        let finish = if generation.finish == Finish::Length { "length" } else { "stop" };
        return (Some(generation.text.clone()), Vec::new(), finish);
    }
    let reply = parse_reply(&generation.text);
    for malformed in &reply.malformed_calls {
        tracing::warn!(call = %malformed, "the model wrote a tool call that is not JSON; dropped");
    }
    let calls: Vec<ToolCall> = reply
        .tool_calls
        .iter()
        .enumerate()
        .map(|(n, call)| ToolCall {
            id: format!("call_{n}"),
            kind: "function".into(),
            function: FunctionCall { name: call.name.clone(), arguments: call.arguments.to_string() },
        })
        .collect();
    let finish = if !calls.is_empty() {
        "tool_calls"
    } else if generation.finish == Finish::Length {
        "length"
    } else {
        "stop"
    };
    let content = (!reply.content.is_empty() || calls.is_empty()).then_some(reply.content);
    (content, calls, finish)
}

pub(crate) fn response(id: String, created: u64, model: String, generation: &Generation, with_tools: bool) -> ChatResponse {
    let (content, tool_calls, finish) = message_of(generation, with_tools);
    ChatResponse {
        id,
        object: "chat.completion".into(),
        created,
        model,
        choices: vec![Choice {
            index: 0,
            message: Message { role: "assistant".into(), content, tool_calls, ..Message::default() },
            finish_reason: Some(finish.into()),
            logprobs: None,
        }],
        usage: Some(Usage {
            prompt_tokens: generation.prompt_tokens as u32,
            completion_tokens: generation.completion_tokens as u32,
            total_tokens: (generation.prompt_tokens + generation.completion_tokens) as u32,
        }),
    }
}

/// The last chunk of a stream: with tools, the whole answer; without, nothing more to say.
pub(crate) fn final_delta(generation: &Generation, with_tools: bool) -> (Delta, &'static str) {
    let (content, tool_calls, finish) = message_of(generation, with_tools);
    if with_tools {
        (Delta { content, tool_calls, ..Delta::default() }, finish)
    } else {
        (Delta::default(), finish)
    }
}
