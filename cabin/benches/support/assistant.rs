//! What the voice service takes from the assistant, in process, for the voice benches
//! (`#[path]`), which run the listener without the services: the words the default task book
//! biases the recogniser with, and the dialog judging whether a command is whole (as the voice
//! service asks over D-Bus, `org.cabin.Assistant1.IsComplete`).

use cabin_voice_service::CommandJudge;

/// The words the default task book biases the recogniser with (as `cabin serve voice` does).
pub fn vocabulary() -> Vec<String> {
    let vehicle = cabin_vehicle_config::VehicleConfig::embedded();
    let intents = cabin_nlu::IntentCatalog::embedded();
    cabin_dialog::TaskBook::load(&[] as &[&str], &intents, &vehicle.catalog).expect("shipped tasks load").vocabulary()
}

pub struct DialogJudge(pub cabin_dialog::Dialog);

impl DialogJudge {
    /// The embedded car's dialog, as `cabin up` loads it.
    pub fn embedded() -> DialogJudge {
        let brain = cabin_assistant_service::Brain::load(
            &cabin_models::ModelsDir::resolve(),
            &cabin_assistant_service::BrainFiles::default(),
            &cabin_vehicle_config::VehicleConfig::embedded(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        DialogJudge(brain.dialog())
    }
}

impl CommandJudge for DialogJudge {
    fn is_whole_command(&self, text: &str) -> bool {
        self.0.understander().understand(text).is_ok_and(|understood| self.0.is_complete(text, &understood))
    }
}
