//! A client for one chat-completions endpoint: the base URL (`https://host/v1`), a model, and an
//! optional bearer key. Every failure is one error saying what went wrong where.

use std::time::Duration;

use thiserror::Error;

use crate::wire::{ChatRequest, ChatResponse, ErrorBody, ModelList};

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

    /// The models the endpoint serves; also how reachability is measured.
    pub async fn models(&self, timeout: Duration) -> Result<Vec<String>, ChatError> {
        let url = format!("{}/models", self.base);
        let text = self.send(self.http.get(&url), &url, timeout).await?;
        let list: ModelList = serde_json::from_str(&text).map_err(|e| ChatError::Garbage { url, reason: e.to_string() })?;
        Ok(list.data.into_iter().map(|m| m.id).collect())
    }

    async fn send(&self, request: reqwest::RequestBuilder, url: &str, timeout: Duration) -> Result<String, ChatError> {
        let request = match &self.key {
            Some(key) => request.bearer_auth(key),
            None => request,
        };
        let failed = |error: reqwest::Error| {
            if error.is_timeout() {
                ChatError::Timeout { url: url.to_string(), after: timeout }
            } else if error.is_connect() {
                ChatError::Unreachable { url: url.to_string(), reason: source_chain(&error) }
            } else {
                ChatError::Garbage { url: url.to_string(), reason: source_chain(&error) }
            }
        };
        let response = request.timeout(timeout).send().await.map_err(failed)?;
        let status = response.status();
        let text = response.text().await.map_err(failed)?;
        if !status.is_success() {
            let message =
                serde_json::from_str::<ErrorBody>(&text).map(|e| e.error.message).unwrap_or_else(|_| text.chars().take(200).collect());
            return Err(ChatError::Status { url: url.to_string(), status: status.as_u16(), message });
        }
        Ok(text)
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
