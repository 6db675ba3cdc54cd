//! `org.cabin.Assistant1` on D-Bus.

use std::sync::Arc;

use zbus::message::Header;
use zbus::object_server::SignalEmitter;

use crate::{Assistant, Camera};

pub struct AssistantInterface {
    pub assistant: Arc<Assistant>,
}

/// Each caller (a unique bus name) has its own conversation.
fn conversation_of(header: &Header<'_>) -> String {
    header.sender().map(|s| s.to_string()).unwrap_or_else(|| "anonymous".into())
}

impl AssistantInterface {
    /// The reply and the turn as JSON, announced with `Replied`.
    async fn turn(&self, emitter: &SignalEmitter<'_>, conversation: &str, text: &str, camera: Camera) -> (String, String) {
        let turn = self.assistant.converse_with(conversation, text, camera).await;
        if let Err(error) = Self::replied(emitter, conversation, text, &turn.reply).await {
            tracing::warn!(%error, "could not emit Replied");
        }
        (turn.reply.clone(), serde_json::to_string(&turn).unwrap_or_else(|_| "{}".into()))
    }
}

#[zbus::interface(name = "org.cabin.Assistant1", proxy(default_service = "org.cabin.Assistant1", default_path = "/org/cabin/Assistant1"))]
impl AssistantInterface {
    /// One utterance of the caller's conversation. Returns the reply to speak and the whole
    /// turn as JSON (intent, confidence, slots, open task, actions taken).
    async fn converse(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
        text: &str,
    ) -> (String, String) {
        self.turn(&emitter, &conversation_of(&header), text, Camera::Allowed).await
    }

    /// Like `Converse`, in one of several conversations the caller keeps apart (the phone link
    /// has one per paired phone), and with the camera only if `camera` (the phone's scope).
    async fn converse_in(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
        conversation: &str,
        text: &str,
        camera: bool,
    ) -> (String, String) {
        let camera = if camera { Camera::Allowed } else { Camera::Denied };
        self.turn(&emitter, &format!("{}/{conversation}", conversation_of(&header)), text, camera).await
    }

    /// Forgets the caller's conversation (an open question, the context of the last task).
    async fn reset(&self, #[zbus(header)] header: Header<'_>) {
        self.assistant.forget(&conversation_of(&header)).await;
    }

    /// Every reply, for consoles and loggers.
    #[zbus(signal)]
    async fn replied(emitter: &SignalEmitter<'_>, conversation: &str, text: &str, reply: &str) -> zbus::Result<()>;
}
