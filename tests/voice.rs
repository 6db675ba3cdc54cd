//! The voice end to end across real processes: `cabin serve voice` hears a spoken WAV through
//! `org.cabin.Voice1.Hear`, asks `cabin serve assistant`, which acts through `cabin serve
//! vehicle-bus`; the reply comes back as the `Spoken` signal. Needs the models from
//! `cabin models fetch minilm whisper-tiny.en silero-vad piper-joe onnxruntime` and espeak-ng.

mod support;

use std::time::Duration;

use cabin_voice_corpus::{mix_at_snr, padded, speak, HELD_OUT_VOICES};
use cabin_voice_service::VoiceProxy;
use futures_util::StreamExt;
use serde_json::Value as Json;
use support::*;

const DRIVER_TEMPERATURE: &str = "Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature";

fn wav_of(text: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::read(wav_file(&dir, text)).unwrap()
}

/// `text` said by a held-out voice in a quiet cabin, as a WAV file in `dir`.
fn wav_file(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let audio = mix_at_snr(&padded(&speak(text, &HELD_OUT_VOICES[0]), 0.8, 1.0), 20.0, 3);
    let path = dir.path().join(format!("{}.wav", text.len()));
    cabin_audio::write_wav(&path, &audio).unwrap();
    path
}

#[test]
fn transcribe_prints_the_command_after_the_wake_phrase_and_nothing_for_silence() {
    let dir = tempfile::tempdir().unwrap();
    let command = wav_file(&dir, "hey cabin, open the trunk");
    let output = cabin_with_input(None, &["transcribe", "--wake", "--json", command.to_str().unwrap()], "");
    assert!(output.status.success(), "{}", stderr(&output));
    let result: Json = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(result["text"].as_str().unwrap().to_lowercase().trim_end_matches('.'), "open the trunk", "{result}");
    assert_eq!(result["language"], "en");
    assert!(result["confidence"].as_f64().unwrap() > 0.3, "{result}");
    assert!(result["commands"][0]["timings"]["asr_ms"].as_f64().unwrap() > 0.0, "{result}");

    // The same file from stdin, as plain text.
    let bytes = std::fs::read(&command).unwrap();
    let mut child = std::process::Command::new(cabin_binary())
        .args(["transcribe", "--wake", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &bytes).unwrap();
    let piped = child.wait_with_output().unwrap();
    assert_eq!(stdout(&piped).trim().to_lowercase().trim_end_matches('.'), "open the trunk");

    let silent = dir.path().join("silent.wav");
    cabin_audio::write_wav(&silent, &cabin_audio::Audio::silence(2.0)).unwrap();
    let output = cabin_with_input(None, &["transcribe", "--json", silent.to_str().unwrap()], "");
    let result: Json = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(result["text"], "", "nobody spoke: {result}");
}

#[test]
fn say_speaks_in_the_piper_voice_and_the_car_understands_it() {
    let dir = tempfile::tempdir().unwrap();
    let reply = dir.path().join("reply.wav");
    let output = cabin_with_input(None, &["say", "The trunk is open. Anything else?", "--out", reply.to_str().unwrap()], "");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("Piper joe"), "{}", stdout(&output));
    let output = cabin_with_input(None, &["transcribe", reply.to_str().unwrap()], "");
    let words =
        |text: &str| text.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ");
    assert_eq!(words(&stdout(&output)), "the trunk is open anything else");

    // Without the Piper voice installed: espeak-ng says it, unless Piper was asked for by name.
    let no_models = tempfile::tempdir().unwrap();
    let say_without_models = |voice: &str| {
        std::process::Command::new(cabin_binary())
            .args(["say", "The trunk is open.", "--voice", voice, "--out", reply.to_str().unwrap()])
            .env("CABIN_MODELS_DIR", no_models.path())
            .output()
            .unwrap()
    };
    let output = say_without_models("auto");
    assert!(output.status.success() && stdout(&output).contains("espeak-ng en-us"), "{}{}", stdout(&output), stderr(&output));
    let output = say_without_models("piper");
    assert!(!output.status.success());
    assert_eq!(stderr(&output).lines().count(), 1, "{}", stderr(&output));
    assert!(stderr(&output).contains("run `cabin models fetch piper-joe`"), "{}", stderr(&output));
}

#[test]
fn bad_audio_and_missing_models_are_one_line_errors() {
    let (_dir, notes) = temp_file("notes.wav", "these are not samples");
    let output = cabin_with_input(None, &["transcribe", notes.to_str().unwrap()], "");
    assert!(!output.status.success());
    assert_eq!(stderr(&output).lines().count(), 1, "{}", stderr(&output));
    assert!(stderr(&output).contains("notes.wav: not a WAV file"), "{}", stderr(&output));

    let empty_models = tempfile::tempdir().unwrap();
    let silent = empty_models.path().join("silent.wav");
    cabin_audio::write_wav(&silent, &cabin_audio::Audio::silence(1.0)).unwrap();
    let output = std::process::Command::new(cabin_binary())
        .args(["transcribe", silent.to_str().unwrap()])
        .env("CABIN_MODELS_DIR", empty_models.path())
        .output()
        .unwrap();
    assert!(stderr(&output).contains("run `cabin models fetch whisper-tiny.en`"), "{}", stderr(&output));
}

/// Says `text` to the voice service and returns the reply it speaks, with what it heard.
async fn say_and_hear_reply(voice: &VoiceProxy<'_>, text: &str) -> (String, Json) {
    let mut spoken = voice.receive_speaking().await.unwrap();
    let heard: Json = serde_json::from_str(&voice.hear(wav_of(text)).await.unwrap()).unwrap();
    assert!(heard.as_array().unwrap().iter().any(|e| e["event"] == "command"), "`{text}` was not heard as a command: {heard}");
    let signal = tokio::time::timeout(Duration::from_secs(30), spoken.next()).await.expect("a reply within 30 s").unwrap();
    (signal.args().unwrap().text().to_string(), heard)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spoken_command_sets_the_temperature_and_a_refusal_is_spoken() {
    let bus = PrivateBus::start().unwrap();
    let _vehicle = tokio::task::block_in_place(|| VehicleBus::start(&bus, &[]));
    let _assistant = tokio::task::block_in_place(|| Service::assistant(&bus, &[]));
    let _voice = tokio::task::block_in_place(|| Service::voice(&bus, &["--threads", "1"]));
    let connection = zbus::connection::Builder::address(bus.address()).unwrap().build().await.unwrap();
    let voice = VoiceProxy::new(&connection).await.unwrap();

    let (reply, heard) = say_and_hear_reply(&voice, "hey cabin, set the temperature to twenty one degrees").await;
    assert_eq!(reply, "Setting the driver's side to 21 degrees.", "heard {heard}");
    let hvac = json(&cabin(&bus, &["signals", "get", DRIVER_TEMPERATURE, "--json"]));
    assert_eq!(hvac["target"].as_f64().or(hvac["value"].as_f64()), Some(21.0), "{hvac}");

    // Speech without the phrase is not for the car.
    let heard: Json = serde_json::from_str(&voice.hear(wav_of("open the trunk when we get home")).await.unwrap()).unwrap();
    assert!(!heard.as_array().unwrap().iter().any(|e| e["event"] == "command"), "{heard}");

    // While driving: the trunk asks first, the answer needs no phrase, the interlock refuses aloud.
    assert!(cabin(&bus, &["sim", "drive", "60"]).status.success());
    let (question, heard) = say_and_hear_reply(&voice, "hey cabin, open the trunk").await;
    assert!(question.ends_with('?'), "{question} (heard {heard})");
    let (refusal, heard) = say_and_hear_reply(&voice, "yes").await;
    assert!(refusal.starts_with("I can't open the trunk"), "{refusal} (heard {heard})");
    let trunk = json(&cabin(&bus, &["signals", "get", "Vehicle.Body.Trunk.Rear.IsOpen", "--json"]));
    assert_ne!(trunk["value"], true, "the trunk stays shut");
}

/// A MOCK of the car's model (`cabin serve llm`): a loopback endpoint streaming `first`, then
/// `rest` only once the test lets it, so the test knows what was said before the rest existed.
fn model_held_after_first_sentence(first: &'static str, rest: &'static str) -> (String, std::sync::mpsc::Sender<()>) {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let (release, released) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        read_http_request(&stream);
        let event = |content: &str| {
            let chunk = serde_json::json!({
                "id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
                "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]
            });
            format!("data: {chunk}\n\n")
        };
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n");
        let _ = stream.write_all(event(first).as_bytes());
        let _ = stream.flush();
        let _ = released.recv_timeout(Duration::from_secs(20));
        let _ = stream.write_all(format!("{}data: [DONE]\n\n", event(rest)).as_bytes());
    });
    (url, release)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_open_answer_is_spoken_from_its_first_sentence_while_the_rest_is_made() {
    let (model, release) = model_held_after_first_sentence("Sunlight scatters in the air. ", "Blue light scatters the most.");
    let (_dir, routing) = routing_policy(&[("url = \"http://127.0.0.1:8088/v1\"", &format!("url = \"{model}\""))]);
    let bus = PrivateBus::start().unwrap();
    let _vehicle = tokio::task::block_in_place(|| VehicleBus::start(&bus, &[]));
    let _assistant = tokio::task::block_in_place(|| Service::assistant(&bus, &["--routing", routing.to_str().unwrap()]));
    let _voice = tokio::task::block_in_place(|| Service::voice(&bus, &["--threads", "1"]));
    let connection = zbus::connection::Builder::address(bus.address()).unwrap().build().await.unwrap();
    let voice = VoiceProxy::new(&connection).await.unwrap();

    let mut speaking = voice.receive_speaking().await.unwrap();
    let heard: Json = serde_json::from_str(&voice.hear(wav_of("hey cabin, why is the sky blue")).await.unwrap()).unwrap();
    assert!(heard.as_array().unwrap().iter().any(|e| e["event"] == "command"), "{heard}");
    // The model has not made its second sentence yet, and the first is already being said.
    assert_eq!(next_said(&mut speaking).await, "Sunlight scatters in the air.");
    release.send(()).unwrap();
    assert_eq!(next_said(&mut speaking).await, "Blue light scatters the most.");
}

async fn next_said(speaking: &mut cabin_voice_service::SpeakingStream) -> String {
    let signal = tokio::time::timeout(Duration::from_secs(30), speaking.next()).await.expect("speech within 30 s").unwrap();
    signal.args().unwrap().text().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn push_to_talk_and_barge_in() {
    let bus = PrivateBus::start().unwrap();
    let _voice = tokio::task::block_in_place(|| Service::voice(&bus, &["--threads", "1"]));
    let connection = zbus::connection::Builder::address(bus.address()).unwrap().build().await.unwrap();
    let voice = VoiceProxy::new(&connection).await.unwrap();

    // A long reply, cut off by the steering-wheel button.
    let mut spoken = voice.receive_spoken().await.unwrap();
    let mut speaking = voice.receive_speaking().await.unwrap();
    voice
        .speak("This is a long announcement about the weather, the traffic ahead, and the charging stations along your route.")
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), speaking.next()).await.expect("speaking starts");
    voice.listen().await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(5), spoken.next()).await.expect("the reply stops").unwrap();
    assert!(ended.args().unwrap().interrupted, "barge-in cuts the reply off");

    // After the button, a command needs no phrase; with no assistant running, the car says so.
    let (reply, heard) = say_and_hear_reply(&voice, "turn on the seat heating").await;
    assert_eq!(reply, "Sorry, I can't reach the assistant right now.", "heard {heard}");

    // A WAV that is not audio is refused with a reason, and the service goes on.
    let error = voice.hear(b"RIFF nonsense".to_vec()).await.unwrap_err();
    assert!(error.to_string().contains("not a WAV file"), "{error}");
    assert!(voice.stop_speaking().await.unwrap(), "the apology was still being said");
    assert!(!voice.stop_speaking().await.unwrap(), "and now nothing is");
}
