//! The local LLM behind the same door a cloud model has: `POST /v1/chat/completions` (plain or
//! streamed as server-sent events, with tools) and `GET /v1/models`, on loopback. The assistant's
//! router talks to it exactly as to a cloud endpoint, so one client and one set of tests cover both.

mod translate;

use std::convert::Infallible;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cabin_local_llm::{render_prompt, Finish, LocalLlm};
use cabin_openai_compatible::{
    ChatChunk, ChatRequest, ChunkChoice, Delta, ErrorBody, ErrorDetail, Logprobs, ModelCard, ModelList, TokenLogprob,
};
use thiserror::Error;
use tokio::sync::mpsc;

pub use translate::RequestError;

#[derive(Debug, Error)]
pub enum ServeError {
    #[error("cannot open the request record {}: {source}", path.display())]
    Record { path: PathBuf, source: std::io::Error },
    #[error("serving HTTP: {0}")]
    Http(#[from] std::io::Error),
}

/// What `cabin serve llm` serves.
#[derive(Debug)]
pub struct LlmEndpoint {
    llm: Arc<LocalLlm>,
    /// The id clients name in `model`; any other name is served by this model too.
    model_id: String,
    /// Every request, one JSON line each, for audits and for tests that check what was sent.
    record: Option<Mutex<std::fs::File>>,
}

impl LlmEndpoint {
    pub fn new(llm: LocalLlm, model_id: &str) -> LlmEndpoint {
        LlmEndpoint { llm: Arc::new(llm), model_id: model_id.to_string(), record: None }
    }

    pub fn recording_to(mut self, path: &Path) -> Result<LlmEndpoint, ServeError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| ServeError::Record { path: path.to_path_buf(), source })?;
        self.record = Some(Mutex::new(file));
        Ok(self)
    }

    pub fn router(self) -> Router {
        Router::new().route("/v1/models", get(models)).route("/v1/chat/completions", post(chat_completions)).with_state(Arc::new(self))
    }

    fn record(&self, body: &serde_json::Value) {
        let Some(record) = &self.record else { return };
        let line = serde_json::json!({ "at_ms": now_ms(), "request": body });
        let mut file = record.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(error) = writeln!(file, "{line}") {
            tracing::warn!(%error, "could not record a request");
        }
    }
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    endpoint: LlmEndpoint,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    axum::serve(listener, endpoint.router()).with_graceful_shutdown(shutdown).await?;
    Ok(())
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn error(status: StatusCode, kind: &str, message: String) -> Response {
    tracing::warn!(%status, message, "refused a request");
    (status, Json(ErrorBody { error: ErrorDetail { message, kind: kind.into() } })).into_response()
}

async fn models(State(endpoint): State<Arc<LlmEndpoint>>) -> Json<ModelList> {
    Json(ModelList {
        object: "list".into(),
        data: vec![ModelCard { id: endpoint.model_id.clone(), object: "model".into(), owned_by: "cabin".into() }],
    })
}

async fn chat_completions(State(endpoint): State<Arc<LlmEndpoint>>, body: Result<Json<serde_json::Value>, JsonRejection>) -> Response {
    let Json(body) = match body {
        Ok(body) => body,
        Err(rejection) => return error(rejection.status(), "invalid_request_error", rejection.body_text()),
    };
    endpoint.record(&body);
    let request: ChatRequest = match serde_json::from_value(body) {
        Ok(request) => request,
        Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_request_error", format!("request body: {e}")),
    };
    let chat = match translate::chat_of(&request) {
        Ok(chat) => chat,
        Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_request_error", e.to_string()),
    };
    let prompt = render_prompt(&chat.messages, &chat.tools);
    let id = format!("chatcmpl-{}", now_ms());
    let created = now_ms() / 1000;
    let model = endpoint.model_id.clone();
    let llm = endpoint.llm.clone();
    let (pieces, mut received) = mpsc::unbounded_channel::<(String, f32)>();
    let sampling = chat.sampling.clone();
    let generation = tokio::task::spawn_blocking(move || {
        let generation = llm.generate(&prompt, &sampling, |piece, sure| pieces.send((piece.to_string(), sure)).is_ok());
        // The prompt's dequantized matrices, freed, would otherwise stay resident.
        cabin_heap_release::release_freed_memory();
        generation
    });

    if !request.stream {
        while received.recv().await.is_some() {}
        return match generation.await {
            Ok(Ok(generation)) => {
                tracing::info!(
                    prompt_tokens = generation.prompt_tokens,
                    cached = generation.reused_tokens,
                    tokens = generation.completion_tokens,
                    first_token_ms = generation.time_to_first_token.as_millis() as u64,
                    "answered"
                );
                Json(translate::response(id, created, model, &generation, !chat.tools.is_empty())).into_response()
            }
            Ok(Err(e)) => error(StatusCode::BAD_REQUEST, "invalid_request_error", e.to_string()),
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", format!("generation failed: {e}")),
        };
    }

    // Streamed: words as they come. With tools, a call is only known at the end, so the answer
    // is sent whole in the last chunks.
    let with_tools = !chat.tools.is_empty();
    let with_logprobs = request.logprobs.unwrap_or(false);
    let chunk = move |delta: Delta, finish: Option<&str>, logprobs: Option<Logprobs>| {
        let chunk = ChatChunk {
            id: id.clone(),
            object: "chat.completion.chunk".into(),
            created,
            model: model.clone(),
            choices: vec![ChunkChoice { index: 0, delta, finish_reason: finish.map(str::to_string), logprobs }],
        };
        Ok::<Event, Infallible>(Event::default().data(serde_json::to_string(&chunk).unwrap_or_default()))
    };
    let stream = async_stream(move |events: mpsc::UnboundedSender<Result<Event, Infallible>>| async move {
        let _ = events.send(chunk(Delta { role: Some("assistant".into()), ..Delta::default() }, None, None));
        while let Some((piece, sure)) = received.recv().await {
            // A piece is one or more tokens: its log-probability is its least likely token's.
            let logprobs =
                with_logprobs.then(|| Logprobs { content: vec![TokenLogprob { token: piece.clone(), logprob: f64::from(sure) }] });
            if !with_tools && events.send(chunk(Delta { content: Some(piece), ..Delta::default() }, None, logprobs)).is_err() {
                return;
            }
        }
        match generation.await {
            Ok(Ok(generation)) => {
                let (delta, finish) = translate::final_delta(&generation, with_tools);
                let finish = if generation.finish == Finish::Length { "length" } else { finish };
                let _ = events.send(chunk(delta, Some(finish), None));
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "streamed generation failed"),
            Err(e) => tracing::warn!(error = %e, "streamed generation failed"),
        }
        let _ = events.send(Ok(Event::default().data("[DONE]")));
    });
    Sse::new(stream).into_response()
}

/// A stream fed by a task: what `producer` sends is what the client reads.
fn async_stream<F, Fut>(producer: F) -> tokio_stream::wrappers::UnboundedReceiverStream<Result<Event, Infallible>>
where
    F: FnOnce(mpsc::UnboundedSender<Result<Event, Infallible>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (events, stream) = mpsc::unbounded_channel();
    tokio::spawn(producer(events));
    tokio_stream::wrappers::UnboundedReceiverStream::new(stream)
}
