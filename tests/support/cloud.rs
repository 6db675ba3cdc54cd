//! `ScriptedCloud`, a MOCK cloud model: a loopback HTTP server answering the chat-completions
//! protocol with scripted replies and recording every request, for tests that need a cloud to
//! say one particular thing (a tool call, what it saw in a photo): no model that runs here does
//! so reliably, and no vision-language model runs here at all.

use std::io::Write;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value as Json};

use super::read_http_request;

/// What a scripted cloud does with one chat request.
#[derive(Clone)]
pub enum Scripted {
    /// Answer with this assistant message.
    Says(Json),
    /// HTTP 200 with a body that is not a chat completion.
    Garbage,
    /// Never answer.
    Hangs,
}

/// A MOCK cloud model (see the file's comment): scripted answers, every request recorded.
pub struct ScriptedCloud {
    pub url: String,
    requests: Arc<Mutex<Vec<Json>>>,
}

impl ScriptedCloud {
    pub fn start(script: Vec<Scripted>) -> ScriptedCloud {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        std::thread::spawn(move || {
            let mut script = script.into_iter();
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (request_line, body) = read_http_request(&stream);
                let answer = if request_line.starts_with("GET /v1/models") {
                    json!({"object": "list", "data": [{"id": "scripted", "object": "model", "owned_by": "test"}]}).to_string()
                } else {
                    recorded.lock().unwrap().push(serde_json::from_slice(&body).unwrap());
                    match script.next() {
                        Some(Scripted::Says(message)) => json!({
                            "id": "x", "object": "chat.completion", "created": 0, "model": "scripted",
                            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]
                        })
                        .to_string(),
                        Some(Scripted::Garbage) => "<html>502 Bad Gateway</html>".into(),
                        Some(Scripted::Hangs) | None => {
                            std::thread::sleep(std::time::Duration::from_secs(30));
                            continue;
                        }
                    }
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                );
            }
        });
        ScriptedCloud { url, requests }
    }

    pub fn requests(&self) -> Vec<Json> {
        self.requests.lock().unwrap().clone()
    }
}
