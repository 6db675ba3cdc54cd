//! `org.cabin.Voice1`: the voice as a service.
//!
//! Threads and tasks, and why:
//! - the listener runs on its own thread: whisper blocks for hundreds of milliseconds and
//!   must not stall the D-Bus connection; audio reaches it through a channel from the
//!   microphone (or from `Hear`, for replays and tests);
//! - what it hears goes to an async task that announces it on D-Bus, asks the assistant,
//!   and speaks the reply;
//! - speaking runs on a blocking task that plays in 20 ms blocks and checks a stop flag
//!   between them, so the wake phrase or the button cuts a reply off at once (barge-in);
//! - when the assistant announces the first sentence of an answer still being made (its
//!   `Saying` signal), that sentence is spoken at once and the rest follows it, made while
//!   the first plays.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use cabin_assistant_client::{AssistantProxy, SayingStream};
use cabin_audio::Audio;
use cabin_speech::Voice;
use tokio::sync::Mutex;
use zbus::object_server::SignalEmitter;

use crate::{CommandJudge, Heard, Listener};

pub const BUS_NAME: &str = "org.cabin.Voice1";
pub const OBJECT_PATH: &str = "/org/cabin/Voice1";
/// What the voice says when the assistant cannot be reached, in the language of the command
/// (whisper's, as no assistant is there to tell it).
fn assistant_down(language: &str) -> String {
    match language {
        "zh" => "抱歉，现在联系不上助手。",
        _ => "Sorry, I can't reach the assistant right now.",
    }
    .to_owned()
}

/// Where spoken replies go.
#[derive(Debug, Clone)]
pub enum Sink {
    /// The default audio output.
    Device,
    /// Nowhere, in real time: no audio device (tests, a headless replay).
    Silent,
    /// Each reply written as a WAV file into this folder.
    WavFolder(std::path::PathBuf),
}

enum Input {
    Samples(Vec<f32>, Option<tokio::sync::oneshot::Sender<Vec<Heard>>>),
    PushToTalk,
    /// The reply asked a question: the answer needs no wake phrase.
    ExpectAnswer,
}

/// The running voice service.
#[derive(Debug, Clone)]
pub struct VoiceService {
    input: mpsc::Sender<Input>,
    speaker: Arc<Speaker>,
}

#[derive(Debug)]
struct Speaker {
    voice: Arc<dyn Voice>,
    sink: Sink,
    current: Mutex<Option<Speech>>,
}

/// What is being said (or waits to be): its stop flag, shared by the parts of one reply, and
/// whether it was cut off, once it is over.
#[derive(Debug)]
struct Speech {
    stop: Arc<AtomicBool>,
    done: tokio::task::JoinHandle<bool>,
}

impl VoiceService {
    /// Starts the listener thread and serves `org.cabin.Voice1` on `connection`.
    pub async fn start(listener: Listener, voice: Arc<dyn Voice>, sink: Sink, connection: &zbus::Connection) -> zbus::Result<VoiceService> {
        let listener = match AssistantProxy::new(connection).await {
            Ok(assistant) => listener.with_judge(Box::new(AssistantJudge { assistant, runtime: tokio::runtime::Handle::current() })),
            Err(_) => listener,
        };
        let (input, inbox) = mpsc::channel::<Input>();
        let (heard_tx, heard_rx) = tokio::sync::mpsc::unbounded_channel::<Heard>();
        std::thread::Builder::new()
            .name("voice-listener".into())
            .spawn(move || listen(listener, inbox, heard_tx))
            .expect("spawn the listener thread");

        let speaker = Arc::new(Speaker { voice, sink, current: Mutex::new(None) });
        let service = VoiceService { input, speaker };
        connection.object_server().at(OBJECT_PATH, VoiceInterface { service: service.clone() }).await?;
        let emitter = SignalEmitter::new(connection, OBJECT_PATH)?.into_owned();
        tokio::spawn(respond(heard_rx, service.clone(), emitter.clone(), connection.clone()));
        tokio::spawn(speak_from_the_phone_link(connection.clone(), service.speaker.clone(), emitter));
        match connection.request_name_with_flags(BUS_NAME, zbus::fdo::RequestNameFlags::DoNotQueue.into()).await {
            Ok(zbus::fdo::RequestNameReply::PrimaryOwner | zbus::fdo::RequestNameReply::AlreadyOwner) => Ok(service),
            Ok(_) => Err(zbus::Error::NameTaken),
            Err(e) => Err(e),
        }
    }

    /// Audio from the microphone (16 kHz mono).
    pub fn hear(&self, samples: Vec<f32>) {
        let _ = self.input.send(Input::Samples(samples, None));
    }
}

/// The assistant judges whether a command is whole, in the conversation the command would go
/// to (this connection's), asked from the listener thread.
struct AssistantJudge {
    assistant: AssistantProxy<'static>,
    runtime: tokio::runtime::Handle,
}

/// Longer than the assistant takes to understand (milliseconds); a slow or absent assistant
/// costs the early end of a turn, never the command.
const JUDGE_TIMEOUT: Duration = Duration::from_millis(200);

impl CommandJudge for AssistantJudge {
    fn is_whole_command(&self, text: &str) -> bool {
        // The timer is made inside the runtime: this thread is not one of its own.
        let asked = self.runtime.block_on(async { tokio::time::timeout(JUDGE_TIMEOUT, self.assistant.is_complete(text)).await });
        matches!(asked, Ok(Ok(true)))
    }
}

/// The listener thread: audio in, what was heard out.
fn listen(mut listener: Listener, inbox: mpsc::Receiver<Input>, heard: tokio::sync::mpsc::UnboundedSender<Heard>) {
    for input in inbox {
        let events = match input {
            Input::PushToTalk => vec![listener.push_to_talk()],
            Input::ExpectAnswer => {
                listener.push_to_talk();
                Vec::new()
            }
            Input::Samples(samples, reply) => {
                let events = listener.push(&samples).unwrap_or_else(|error| {
                    // A bad utterance costs that utterance, not the service.
                    tracing::error!(%error, "could not process audio");
                    Vec::new()
                });
                if let Some(reply) = reply {
                    let _ = reply.send(events.clone());
                }
                events
            }
        };
        for event in events {
            if heard.send(event).is_err() {
                return;
            }
        }
    }
}

/// Says what the phone link tells the driver: how a hand-off to the owner's phone ended ("Your
/// phone has the directions to Shenzhen.") and what a phone sent ("A note from Ana's phone:
/// …"). The D-Bus signals are the contract: no crate of the phone link's is needed to hear them.
async fn speak_from_the_phone_link(connection: zbus::Connection, speaker: Arc<Speaker>, emitter: SignalEmitter<'static>) {
    use futures_util::StreamExt;
    // From the name's owner only: another process on the bus must not put words in the car's mouth.
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .sender("org.cabin.PhoneLink1")
        .and_then(|rule| rule.interface("org.cabin.PhoneLink1"))
        .map(|rule| rule.build());
    let mut said = match rule {
        Ok(rule) => match zbus::MessageStream::for_match_rule(rule, &connection, None).await {
            Ok(stream) => stream,
            Err(error) => return tracing::warn!(%error, "cannot follow the phone link"),
        },
        Err(error) => return tracing::warn!(%error, "cannot follow the phone link"),
    };
    while let Some(Ok(message)) = said.next().await {
        let header = message.header();
        let words = match header.member().map(|member| member.as_str()) {
            Some("HandOffAnswered") => message.body().deserialize::<(String, String, String, String)>().map(|(_, _, _, words)| words),
            Some("FromPhone") => message.body().deserialize::<(String, String, String)>().map(|(_, _, words)| words),
            _ => continue,
        };
        if let Ok(words) = words {
            speaker.clone().speak(words, emitter.clone()).await;
        }
    }
}

/// Announces what was heard, asks the assistant, speaks the reply.
async fn respond(
    mut heard: tokio::sync::mpsc::UnboundedReceiver<Heard>,
    service: VoiceService,
    emitter: SignalEmitter<'static>,
    connection: zbus::Connection,
) {
    // Each caller is its own conversation to the assistant, named by its unique bus name.
    let me = connection.unique_name().map(|name| name.to_string()).unwrap_or_default();
    let mut assistant = match AssistantProxy::new(&connection).await {
        Ok(assistant) => match assistant.receive_saying().await {
            Ok(sayings) => Some((assistant, sayings)),
            Err(error) => {
                tracing::warn!(%error, "cannot follow the assistant's first sentences");
                None
            }
        },
        Err(_) => None,
    };
    while let Some(event) = heard.recv().await {
        let emitted = match &event {
            Heard::Wake { at_secs, confidence, push_to_talk } => {
                // Barge-in: the phrase (or the button) stops a reply mid-sentence.
                service.speaker.stop().await;
                VoiceInterface::wake(&emitter, *at_secs as f64, *confidence as f64, *push_to_talk).await
            }
            Heard::Command(command) => {
                let timings = serde_json::to_string(&command.timings).unwrap_or_default();
                let emitted = VoiceInterface::utterance(
                    &emitter,
                    &command.text,
                    &command.language,
                    command.confidence as f64,
                    command.audio_secs as f64,
                    &timings,
                )
                .await;
                let (reply, said_first) = match &mut assistant {
                    Some((assistant, sayings)) => {
                        let asking = ask(assistant, sayings, &me, &command.text, &service.speaker, &emitter);
                        match tokio::time::timeout(Duration::from_secs(15), asking).await {
                            Ok((Ok(reply), said_first)) => (reply, said_first),
                            Ok((Err(error), _)) => {
                                tracing::warn!(%error, "the assistant did not answer");
                                (assistant_down(&command.language), None)
                            }
                            Err(_) => {
                                tracing::warn!("the assistant took over 15 s");
                                (assistant_down(&command.language), None)
                            }
                        }
                    }
                    None => (assistant_down(&command.language), None),
                };
                if reply.trim_end().ends_with('?') {
                    let _ = service.input.send(Input::ExpectAnswer);
                }
                match said_first.as_deref().and_then(|first| reply.strip_prefix(first)) {
                    Some(rest) if rest.trim().is_empty() => {}
                    Some(rest) => service.speaker.clone().then_speak(rest.trim().to_owned(), emitter.clone()).await,
                    None => service.speaker.clone().speak(reply, emitter.clone()).await,
                }
                emitted
            }
            Heard::NotForUs { text } => {
                tracing::debug!(%text, "speech without the wake phrase");
                Ok(())
            }
            Heard::SpeechStarted { .. } | Heard::WakeTimedOut => Ok(()),
        };
        if let Err(error) = emitted {
            tracing::warn!(%error, "could not emit a Voice1 signal");
        }
        // Whisper's buffers for the utterance, freed, would otherwise stay resident.
        cabin_heap_release::release_freed_memory();
    }
}

/// Asks the assistant about `text`; a first sentence it announces while the rest is being made
/// is spoken at once. Returns the reply, and that sentence if it was spoken.
async fn ask(
    assistant: &AssistantProxy<'_>,
    sayings: &mut SayingStream,
    me: &str,
    text: &str,
    speaker: &Arc<Speaker>,
    emitter: &SignalEmitter<'static>,
) -> (zbus::Result<String>, Option<String>) {
    use futures_util::StreamExt;
    let converse = assistant.converse(text);
    tokio::pin!(converse);
    let mut said_first = None;
    loop {
        tokio::select! {
            // The signal comes before the reply; taking signals first leaves none for the next turn.
            biased;
            Some(signal) = sayings.next() => {
                let Ok(args) = signal.args() else { continue };
                if args.conversation == me && args.text == text && said_first.is_none() {
                    speaker.clone().speak(args.sentence.to_owned(), emitter.clone()).await;
                    said_first = Some(args.sentence.to_owned());
                }
            }
            answered = &mut converse => return (answered.map(|(reply, _turn)| reply), said_first),
        }
    }
}

impl Speaker {
    /// Speaks `text` in the background; a reply already playing is cut off first.
    async fn speak(self: Arc<Self>, text: String, emitter: SignalEmitter<'static>) {
        let mut current = self.current.lock().await;
        if let Some(speech) = current.take() {
            speech.stop.store(true, Ordering::SeqCst);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let done = tokio::spawn(self.clone().say(text, emitter, stop.clone(), None));
        *current = Some(Speech { stop, done });
    }

    /// Speaks `text` once what is being said is over (the rest of a reply whose first sentence
    /// is playing); nothing if that is cut off.
    async fn then_speak(self: Arc<Self>, text: String, emitter: SignalEmitter<'static>) {
        let mut current = self.current.lock().await;
        let (stop, before) = match current.take() {
            Some(speech) => (speech.stop, Some(speech.done)),
            None => (Arc::new(AtomicBool::new(false)), None),
        };
        let done = tokio::spawn(self.clone().say(text, emitter, stop.clone(), before));
        *current = Some(Speech { stop, done });
    }

    /// Makes the audio at once, plays it after `before`; true if it was cut off.
    async fn say(
        self: Arc<Self>,
        text: String,
        emitter: SignalEmitter<'static>,
        stop: Arc<AtomicBool>,
        before: Option<tokio::task::JoinHandle<bool>>,
    ) -> bool {
        let voice = self.voice.clone();
        let spoken = text.clone();
        let synthesis = tokio::task::spawn_blocking(move || voice.synthesize(&spoken));
        if let Some(before) = before {
            if before.await.unwrap_or(true) {
                return true;
            }
        }
        let audio = match synthesis.await {
            Ok(Ok(audio)) => audio,
            Ok(Err(error)) => {
                tracing::error!(%error, "cannot speak the reply");
                return false;
            }
            Err(_) => return false,
        };
        if stop.load(Ordering::SeqCst) {
            return true;
        }
        let _ = VoiceInterface::speaking(&emitter, &text, audio.duration_secs() as f64).await;
        let sink = self.sink.clone();
        let flag = stop.clone();
        let interrupted = tokio::task::spawn_blocking(move || play(&sink, &audio, &flag)).await.unwrap_or(true);
        let _ = VoiceInterface::spoken(&emitter, &text, interrupted).await;
        // ONNX Runtime's buffers for the sentence, freed, would otherwise stay resident.
        cabin_heap_release::release_freed_memory();
        interrupted
    }

    /// Stops what is being said; true if something was.
    async fn stop(&self) -> bool {
        match self.current.lock().await.take() {
            Some(speech) => !speech.done.is_finished() && !speech.stop.swap(true, Ordering::SeqCst),
            None => false,
        }
    }
}

/// Plays `audio` to the sink in 20 ms blocks; returns true if stopped before the end.
fn play(sink: &Sink, audio: &Audio, stop: &AtomicBool) -> bool {
    if let Sink::Device = sink {
        return cabin_audio::play_until(audio, None, stop).unwrap_or_else(|error| {
            tracing::error!(%error, "cannot play the reply");
            false
        });
    }
    if let Sink::WavFolder(folder) = sink {
        let name =
            format!("reply-{}.wav", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0));
        if let Err(error) = cabin_audio::write_wav(&folder.join(name), audio) {
            tracing::error!(%error, "cannot write the reply");
        }
    }
    let blocks = (audio.duration_secs() / 0.02).ceil() as usize;
    for _ in 0..blocks {
        if stop.load(Ordering::SeqCst) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

struct VoiceInterface {
    service: VoiceService,
}

#[zbus::interface(name = "org.cabin.Voice1", proxy(default_service = "org.cabin.Voice1", default_path = "/org/cabin/Voice1"))]
impl VoiceInterface {
    /// Says `text` (cutting off anything being said).
    async fn speak(&self, #[zbus(signal_emitter)] emitter: SignalEmitter<'_>, text: &str) -> zbus::fdo::Result<()> {
        if text.trim().is_empty() {
            return Err(zbus::fdo::Error::InvalidArgs("nothing to say".into()));
        }
        self.service.speaker.clone().speak(text.to_owned(), emitter.into_owned()).await;
        Ok(())
    }

    /// Stops speaking; returns whether anything was being said.
    async fn stop_speaking(&self) -> bool {
        self.service.speaker.stop().await
    }

    /// Push-to-talk (the steering-wheel button): the next utterance is a command.
    async fn listen(&self) -> zbus::fdo::Result<()> {
        self.service.input.send(Input::PushToTalk).map_err(|_| zbus::fdo::Error::Failed("the listener has stopped".into()))
    }

    /// Feeds a WAV recording to the listener as if the microphone heard it (replays,
    /// scripted demos, tests). Returns what it heard, as JSON events.
    async fn hear(&self, wav: Vec<u8>) -> zbus::fdo::Result<String> {
        // Decoding and resampling minutes of audio is CPU work: on a blocking thread.
        let audio = tokio::task::spawn_blocking(move || cabin_audio::read_wav_bytes(&wav, Path::new("Hear argument")))
            .await
            .map_err(|e| zbus::fdo::Error::Failed(e.to_string()))?
            .map_err(|e| zbus::fdo::Error::InvalidArgs(e.to_string()))?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.service
            .input
            .send(Input::Samples(audio.samples, Some(reply)))
            .map_err(|_| zbus::fdo::Error::Failed("the listener has stopped".into()))?;
        let heard = answer.await.map_err(|_| zbus::fdo::Error::Failed("the listener has stopped".into()))?;
        Ok(serde_json::to_string(&heard).unwrap_or_else(|_| "[]".into()))
    }

    /// The wake phrase was heard, or the button pressed.
    #[zbus(signal)]
    async fn wake(emitter: &SignalEmitter<'_>, at_secs: f64, confidence: f64, push_to_talk: bool) -> zbus::Result<()>;

    /// A command was transcribed. `timings` is JSON: endpoint_ms, wake_ms, asr_ms, end_of_speech_to_text_ms.
    #[zbus(signal)]
    async fn utterance(
        emitter: &SignalEmitter<'_>,
        text: &str,
        language: &str,
        confidence: f64,
        audio_secs: f64,
        timings: &str,
    ) -> zbus::Result<()>;

    /// A reply started playing.
    #[zbus(signal)]
    async fn speaking(emitter: &SignalEmitter<'_>, text: &str, seconds: f64) -> zbus::Result<()>;

    /// A reply ended, played to the end or cut off.
    #[zbus(signal)]
    async fn spoken(emitter: &SignalEmitter<'_>, text: &str, interrupted: bool) -> zbus::Result<()>;
}

pub use VoiceInterfaceProxy as VoiceProxy;
