//! `org.cabin.Assistant1` on D-Bus.

use std::sync::Arc;

use zbus::message::Header;
use zbus::object_server::SignalEmitter;

use crate::{Assistant, Principal, Scope};

pub struct AssistantInterface {
    pub assistant: Arc<Assistant>,
}

/// Each caller (a unique bus name) has its own conversation.
fn conversation_of(header: &Header<'_>) -> String {
    header.sender().map(|s| s.to_string()).unwrap_or_else(|| "anonymous".into())
}

impl AssistantInterface {
    /// The reply and the turn as JSON, announced with `Replied`; the first sentence of an
    /// answer from the car's model is announced with `Saying` as soon as it is made.
    async fn turn(
        &self,
        emitter: &SignalEmitter<'_>,
        conversation: &str,
        text: &str,
        principal: Principal,
        on_behalf_of: Option<String>,
    ) -> (String, String) {
        let (sentences, mut made) = tokio::sync::mpsc::unbounded_channel::<String>();
        let answering = async move {
            let first_sentence = move |sentence: &str| {
                let _ = sentences.send(sentence.to_owned());
            };
            self.assistant.converse_saying(conversation, text, principal, on_behalf_of, &first_sentence).await
        };
        // Sent as it comes, and all of it before the reply: a listener hears the signal first.
        let announcing = async {
            while let Some(sentence) = made.recv().await {
                if let Err(error) = Self::saying(emitter, conversation, text, &sentence).await {
                    tracing::warn!(%error, "could not emit Saying");
                }
            }
        };
        let (turn, ()) = tokio::join!(answering, announcing);
        if let Err(error) = Self::replied(emitter, conversation, text, &turn.reply).await {
            tracing::warn!(%error, "could not emit Replied");
        }
        (turn.reply.clone(), serde_json::to_string(&turn).unwrap_or_else(|_| "{}".into()))
    }
}

// Its callers' proxy is `cabin-assistant-client`'s, which the tests use against this interface.
#[zbus::interface(name = "org.cabin.Assistant1")]
impl AssistantInterface {
    /// One utterance of the caller's conversation. Returns the reply to speak and the whole
    /// turn as JSON (intent, confidence, slots, open task, actions taken).
    async fn converse(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
        text: &str,
    ) -> (String, String) {
        self.turn(&emitter, &conversation_of(&header), text, Principal::Driver, None).await
    }

    /// A turn for a paired phone, from the phone link: the conversation and memory are the
    /// phone's own, and what the assistant does for it is bound to `scopes` (as the phone was
    /// granted them: "read", "ask", "comfort", "access", "camera", "memory") in words, and to
    /// the caller's own rights on the vehicle bus.
    async fn converse_in(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
        phone: &str,
        text: &str,
        scopes: Vec<String>,
    ) -> (String, String) {
        let principal = Principal::Phone { id: phone.to_string(), scopes: scopes.iter().filter_map(|s| Scope::parse(s)).collect() };
        let caller = header.sender().map(|s| s.to_string());
        self.turn(&emitter, &format!("{}/{phone}", conversation_of(&header)), text, principal, caller).await
    }

    /// Whether `text`, said now in the caller's conversation, needs nothing more from the
    /// speaker (a task with all it requires, the answer asked for, a yes or a no): a voice may
    /// end the turn at a short pause. Changes nothing.
    async fn is_complete(&self, #[zbus(header)] header: Header<'_>, text: &str) -> bool {
        self.assistant.is_complete(&conversation_of(&header), text).await
    }

    /// Forgets the caller's conversation (an open question, the context of the last task).
    async fn reset(&self, #[zbus(header)] header: Header<'_>) {
        self.assistant.forget(&conversation_of(&header)).await;
    }

    /// Every reply, for consoles and loggers.
    #[zbus(signal)]
    async fn replied(emitter: &SignalEmitter<'_>, conversation: &str, text: &str, reply: &str) -> zbus::Result<()>;

    /// The first sentence of the reply to `text` in `conversation`, while the rest is still
    /// being made (open questions answered by the car's own model): a voice can start saying
    /// it. The reply `Converse` returns begins with it. Emitted before that reply.
    #[zbus(signal)]
    async fn saying(emitter: &SignalEmitter<'_>, conversation: &str, text: &str, sentence: &str) -> zbus::Result<()>;
}
