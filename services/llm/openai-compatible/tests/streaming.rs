//! `complete_until` reads a streamed answer only as far as it needs: against an endpoint that
//! sends two sentences at once and a third only much later, it returns the two well within its
//! timeout, where waiting for the whole answer would time out.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use cabin_openai_compatible::{ChatClient, ChatError, ChatRequest, Message};

fn event(content: &str) -> String {
    let chunk = serde_json::json!({
        "id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
        "choices": [{ "index": 0, "delta": { "content": content }, "finish_reason": null }]
    });
    format!("data: {chunk}\n\n")
}

/// A loopback endpoint answering one request: `now`, then after 30 s `later` (a mock, named as such).
fn slow_endpoint(now: &'static [&'static str], later: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(value) = line.to_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let request: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(request["stream"], true, "{request}");
        let mut stream = stream;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
        let _ = stream.write_all(head.as_bytes());
        for content in now {
            let _ = stream.write_all(event(content).as_bytes());
        }
        let _ = stream.flush();
        std::thread::sleep(Duration::from_secs(30));
        let _ = stream.write_all(format!("{}data: [DONE]\n\n", event(later)).as_bytes());
    });
    format!("http://{address}/v1")
}

fn question() -> ChatRequest {
    ChatRequest { messages: vec![Message::new("user", "why is the sky blue?")], ..ChatRequest::default() }
}

fn two_sentences(text: &str, _: &[cabin_openai_compatible::TokenLogprob]) -> bool {
    text.matches(". ").count() >= 2
}

#[tokio::test]
async fn reading_stops_once_the_answer_is_enough() {
    let url = slow_endpoint(&["Light ", "scatters. ", "Blue scatters most. "], "Sunsets are red.");
    let response = ChatClient::new(&url, None).complete_until(&question(), Duration::from_secs(5), two_sentences).await.unwrap();
    assert_eq!(response.choices[0].message.content.as_deref(), Some("Light scatters. Blue scatters most. "));
}

#[tokio::test]
async fn an_answer_that_is_never_enough_times_out() {
    let url = slow_endpoint(&["Light ", "scatters. "], "Blue scatters most. ");
    let error = ChatClient::new(&url, None).complete_until(&question(), Duration::from_secs(1), two_sentences).await.unwrap_err();
    assert!(matches!(error, ChatError::Timeout { .. }), "{error}");
}
