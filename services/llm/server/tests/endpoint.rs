//! The endpoint as any OpenAI client sees it, serving the real SmolLM2 model
//! (`cabin models fetch smollm2-135m`).

use cabin_llm_server::LlmEndpoint;
use cabin_local_llm::LocalLlm;
use cabin_openai_compatible::{ChatClient, ChatError, ChatRequest, Message};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(120);

async fn start(record: Option<&std::path::Path>) -> String {
    let dir = cabin_models::ModelsDir::resolve().locate("smollm2-135m").expect("run `cabin models fetch smollm2-135m`");
    let mut endpoint = LlmEndpoint::new(LocalLlm::load(&dir).expect("the model loads"), "smollm2-135m");
    if let Some(path) = record {
        endpoint = endpoint.recording_to(path).unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(cabin_llm_server::serve(endpoint, listener, std::future::pending()));
    format!("http://{address}/v1")
}

fn question(text: &str) -> ChatRequest {
    ChatRequest {
        messages: vec![Message::new("system", "Answer in one short sentence."), Message::new("user", text)],
        max_tokens: Some(24),
        ..ChatRequest::default()
    }
}

#[tokio::test]
async fn answers_like_any_openai_endpoint_and_records_what_it_was_asked() {
    let record = tempfile::NamedTempFile::new().unwrap();
    let url = start(Some(record.path())).await;
    let client = ChatClient::new(&url, None);
    assert_eq!(client.models(TIMEOUT).await.unwrap(), ["smollm2-135m"]);

    let response = client.complete(&question("What is the capital of France?"), TIMEOUT).await.unwrap();
    let answer = response.choices[0].message.content.clone().unwrap();
    assert!(answer.contains("Paris"), "{answer}");
    let usage = response.usage.unwrap();
    assert!(usage.prompt_tokens > 10 && usage.completion_tokens > 0, "{usage:?}");

    let recorded = std::fs::read_to_string(record.path()).unwrap();
    assert_eq!(recorded.lines().count(), 1);
    assert!(recorded.contains("What is the capital of France?"));

    // The same answer, streamed as server-sent events.
    let streamed = reqwest::Client::new()
        .post(format!("{url}/chat/completions"))
        .json(&ChatRequest { stream: true, ..question("What is the capital of France?") })
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut words = String::new();
    for line in streamed.lines().filter_map(|l| l.strip_prefix("data: ")).filter(|l| *l != "[DONE]") {
        let chunk: cabin_openai_compatible::ChatChunk = serde_json::from_str(line).unwrap();
        words.push_str(chunk.choices[0].delta.content.as_deref().unwrap_or_default());
        assert!(chunk.choices[0].logprobs.is_none(), "log-probabilities only when asked for");
    }
    assert!(streamed.trim_end().ends_with("data: [DONE]"), "{streamed}");
    assert_eq!(words.trim(), answer.trim(), "streamed and whole answers differ");

    // Asked for, each piece comes with how sure the model was of it.
    let request = ChatRequest { stream: true, logprobs: Some(true), ..question("What is the capital of France?") };
    let streamed =
        reqwest::Client::new().post(format!("{url}/chat/completions")).json(&request).send().await.unwrap().text().await.unwrap();
    let mut pieces = Vec::new();
    for line in streamed.lines().filter_map(|l| l.strip_prefix("data: ")).filter(|l| *l != "[DONE]") {
        let chunk: cabin_openai_compatible::ChatChunk = serde_json::from_str(line).unwrap();
        if let Some(content) = chunk.choices[0].delta.content.as_deref().filter(|c| !c.is_empty()) {
            let logprobs = chunk.choices[0].logprobs.clone().expect("log-probabilities with every piece").content;
            assert_eq!(logprobs[0].token, content);
            assert!(logprobs[0].logprob <= 0.0, "{logprobs:?}");
            pieces.push((content.to_string(), logprobs[0].logprob));
        }
    }
    let paris = pieces.iter().find(|(piece, _)| piece.contains("Paris")).expect("Paris is said");
    assert!(paris.1 > (0.5f64).ln(), "the model is sure of Paris: {pieces:?}");
}

#[tokio::test]
async fn bad_requests_get_an_error_naming_the_field() {
    let url = start(None).await;
    let client = ChatClient::new(&url, None);
    let mut request = question("hi");
    request.messages[1].role = "robot".into();
    match client.complete(&request, TIMEOUT).await {
        Err(ChatError::Status { status: 400, message, .. }) => {
            assert_eq!(message, "messages[1].role: \"robot\" is not system, user, assistant or tool")
        }
        other => panic!("{other:?}"),
    }
    let request = ChatRequest { max_tokens: Some(0), ..question("hi") };
    assert!(matches!(client.complete(&request, TIMEOUT).await, Err(ChatError::Status { status: 400, .. })));
    let garbage = reqwest::Client::new()
        .post(format!("{url}/chat/completions"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
    assert!(garbage.text().await.unwrap().contains("\"invalid_request_error\""));
}
