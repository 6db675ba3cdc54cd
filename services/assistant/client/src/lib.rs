//! A typed client of the assistant, `org.cabin.Assistant1`: the voice, the phone link and the
//! tests talk to it through this proxy, without depending on the service.

pub const BUS_NAME: &str = "org.cabin.Assistant1";
pub const OBJECT_PATH: &str = "/org/cabin/Assistant1";

#[zbus::proxy(
    interface = "org.cabin.Assistant1",
    default_service = "org.cabin.Assistant1",
    default_path = "/org/cabin/Assistant1",
    gen_blocking = false
)]
pub trait Assistant {
    /// One utterance of the caller's conversation: the reply to speak, and the whole turn as
    /// JSON (intent, confidence, slots, open task, actions taken).
    fn converse(&self, text: &str) -> zbus::Result<(String, String)>;

    /// A turn for a paired phone: its own conversation and memory, bound to `scopes` ("read",
    /// "ask", "comfort", "access", "camera", "memory") and to the caller's rights on the bus.
    fn converse_in(&self, phone: &str, text: &str, scopes: &[&str]) -> zbus::Result<(String, String)>;

    /// Whether `text`, said now in the caller's conversation, is a whole turn (a voice may end
    /// it at a short pause).
    fn is_complete(&self, text: &str) -> zbus::Result<bool>;

    /// Forgets the caller's conversation.
    fn reset(&self) -> zbus::Result<()>;

    /// Every reply, for consoles and loggers.
    #[zbus(signal)]
    fn replied(&self, conversation: &str, text: &str, reply: &str) -> zbus::Result<()>;

    /// The first sentence of a reply while the rest is still being made.
    #[zbus(signal)]
    fn saying(&self, conversation: &str, text: &str, sentence: &str) -> zbus::Result<()>;
}
