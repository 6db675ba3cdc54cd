//! A client for one chat-completions endpoint: the base URL (`https://host/v1`), a model, and an
//! optional bearer key. Every failure is one error saying what went wrong where.

use std::time::Duration;

use thiserror::Error;

use crate::wire::{ChatChunk, ChatRequest, ChatResponse, Choice, ErrorBody, Logprobs, Message, ModelList, TokenLogprob};

#[derive(Debug, Error)]
pub enum ChatError {
    #[error("{url}: cannot connect ({reason})")]
    Unreachable { url: String, reason: String },
    #[error("{url}: no answer within {} ms", after.as_millis())]
    Timeout { url: String, after: Duration },
    #[error("{url}: HTTP {status}: {message}")]
    Status { url: String, status: u16, message: String },
    #[error("{url}: the answer is not a chat completion ({reason})")]
    Garbage { url: String, reason: String },
}

#[derive(Debug, Clone)]
pub struct ChatClient {
    http: reqwest::Client,
    base: String,
    key: Option<String>,
}

impl ChatClient {
    /// `base` is the URL that `/chat/completions` and `/models` hang off, e.g. `http://127.0.0.1:8088/v1`.
    pub fn new(base: &str, key: Option<String>) -> ChatClient {
        ChatClient { http: reqwest::Client::new(), base: base.trim_end_matches('/').to_string(), key }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn complete(&self, request: &ChatRequest, timeout: Duration) -> Result<ChatResponse, ChatError> {
        let url = format!("{}/chat/completions", self.base);
        let text = self.send(self.http.post(&url).json(request), &url, timeout).await?;
        let response: ChatResponse =
            serde_json::from_str(&text).map_err(|e| ChatError::Garbage { url: url.clone(), reason: e.to_string() })?;
        if response.choices.is_empty() {
            return Err(ChatError::Garbage { url, reason: "no choices".into() });
        }
        Ok(response)
    }

    /// The answer streamed (`stream: true`), read only until `enough` says the text so far (and
    /// its log-probabilities, when the request asked for them) is enough: dropping the stream
    /// ends the request, and the endpoint stops generating. Tool calls are taken whole from
    /// whichever chunk carries them.
    pub async fn complete_until(
        &self,
        request: &ChatRequest,
        timeout: Duration,
        enough: impl Fn(&str, &[TokenLogprob]) -> bool,
    ) -> Result<ChatResponse, ChatError> {
        let url = format!("{}/chat/completions", self.base);
        let streamed = ChatRequest { stream: true, ..request.clone() };
        let mut response = self.start(self.http.post(&url).json(&streamed), &url, timeout).await?;
        let (mut pending, mut content, mut tool_calls, mut finish_reason) = (Vec::new(), String::new(), Vec::new(), None);
        let mut logprobs = Vec::new();
        let mut done = false;
        while !done && !enough(&content, &logprobs) {
            let Some(bytes) = response.chunk().await.map_err(|e| failure(&url, timeout, e))? else { break };
            pending.extend_from_slice(&bytes);
            while let Some(event) = next_event(&mut pending) {
                for data in event.lines().filter_map(|line| line.strip_prefix("data:")).map(str::trim) {
                    if data == "[DONE]" {
                        done = true;
                        continue;
                    }
                    let chunk: ChatChunk =
                        serde_json::from_str(data).map_err(|e| ChatError::Garbage { url: url.clone(), reason: e.to_string() })?;
                    for choice in chunk.choices {
                        content.push_str(choice.delta.content.as_deref().unwrap_or(""));
                        tool_calls.extend(choice.delta.tool_calls);
                        logprobs.extend(choice.logprobs.map(|l| l.content).unwrap_or_default());
                        finish_reason = choice.finish_reason.or(finish_reason);
                    }
                }
            }
        }
        let message = Message { role: "assistant".into(), content: Some(content), tool_calls, ..Message::default() };
        Ok(ChatResponse {
            id: String::new(),
            object: "chat.completion".into(),
            created: 0,
            model: request.model.clone(),
            choices: vec![Choice {
                index: 0,
                message,
                finish_reason: finish_reason.or(Some("stop".into())),
                logprobs: request.logprobs.unwrap_or(false).then_some(Logprobs { content: logprobs }),
            }],
            usage: None,
        })
    }

    /// The models the endpoint serves; also how reachability is measured.
    pub async fn models(&self, timeout: Duration) -> Result<Vec<String>, ChatError> {
        let url = format!("{}/models", self.base);
        let text = self.send(self.http.get(&url), &url, timeout).await?;
        let list: ModelList = serde_json::from_str(&text).map_err(|e| ChatError::Garbage { url, reason: e.to_string() })?;
        Ok(list.data.into_iter().map(|m| m.id).collect())
    }

    async fn send(&self, request: reqwest::RequestBuilder, url: &str, timeout: Duration) -> Result<String, ChatError> {
        let response = self.start(request, url, timeout).await?;
        response.text().await.map_err(|e| failure(url, timeout, e))
    }

    /// Sends with the key, within `timeout` (body included); a failed status is an error.
    async fn start(&self, request: reqwest::RequestBuilder, url: &str, timeout: Duration) -> Result<reqwest::Response, ChatError> {
        let request = match &self.key {
            Some(key) => request.bearer_auth(key),
            None => request,
        };
        let response = request.timeout(timeout).send().await.map_err(|e| failure(url, timeout, e))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.map_err(|e| failure(url, timeout, e))?;
            let message =
                serde_json::from_str::<ErrorBody>(&text).map(|e| e.error.message).unwrap_or_else(|_| text.chars().take(200).collect());
            return Err(ChatError::Status { url: url.to_string(), status: status.as_u16(), message });
        }
        Ok(response)
    }
}

fn failure(url: &str, timeout: Duration, error: reqwest::Error) -> ChatError {
    if error.is_timeout() {
        ChatError::Timeout { url: url.to_string(), after: timeout }
    } else if error.is_connect() {
        ChatError::Unreachable { url: url.to_string(), reason: source_chain(&error) }
    } else {
        ChatError::Garbage { url: url.to_string(), reason: source_chain(&error) }
    }
}

/// reqwest's own message is "error sending request"; the cause is further down.
fn source_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    message
}

/// The next whole server-sent event in `pending` (taken out of it), as text. Events end with a
/// blank line, `\n\n` or `\r\n\r\n`; bytes are decoded only once the event is whole, so a
/// character split across network chunks stays whole. A partial event waits for more bytes.
fn next_event(pending: &mut Vec<u8>) -> Option<String> {
    let end = [&b"\r\n\r\n"[..], &b"\n\n"[..]]
        .iter()
        .filter_map(|blank| pending.windows(blank.len()).position(|w| w == *blank).map(|at| at + blank.len()))
        .min()?;
    let event: Vec<u8> = pending.drain(..end).collect();
    Some(String::from_utf8_lossy(&event).replace("\r\n", "\n"))
}

#[cfg(test)]
mod tests {
    use super::next_event;

    #[test]
    fn events_are_read_whole_across_chunks_and_in_crlf_framing() {
        let event = "data: {\"content\":\"深圳\"}\n\n".as_bytes();
        let split = event.iter().position(|b| *b >= 0x80).unwrap() + 1;
        let mut pending = event[..split].to_vec();
        assert_eq!(next_event(&mut pending), None, "half an event waits");
        pending.extend_from_slice(&event[split..]);
        assert_eq!(next_event(&mut pending).as_deref(), Some("data: {\"content\":\"深圳\"}\n\n"), "the split character is whole");
        pending.extend_from_slice(b"data: one\r\n\r\ndata: [DONE]\r\n\r\n");
        assert_eq!(next_event(&mut pending).as_deref(), Some("data: one\n\n"));
        assert_eq!(next_event(&mut pending).as_deref(), Some("data: [DONE]\n\n"));
        assert!(pending.is_empty());
    }
}
