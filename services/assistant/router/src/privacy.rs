//! What in a turn is private: the camera, where the car is, the owner's contacts, what the
//! assistant remembers about them, what was said in the cabin.

use serde::Serialize;

use crate::policy::PrivateWords;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrivateData {
    Camera,
    Location,
    Contacts,
    Memory,
    CabinAudio,
}

impl PrivateData {
    pub const ALL: [PrivateData; 5] =
        [PrivateData::Camera, PrivateData::Location, PrivateData::Contacts, PrivateData::Memory, PrivateData::CabinAudio];

    /// What a task of this intent touches.
    pub fn of_intent(intent: &str) -> Vec<PrivateData> {
        // The hand-offs to the owner's phone touch what they carry: where the car goes, to whom.
        match intent {
            "phone.send_directions" => return vec![PrivateData::Location],
            "phone.share_arrival" => return vec![PrivateData::Location, PrivateData::Contacts],
            "phone.remind_when_parked" => return Vec::new(),
            _ => {}
        }
        match intent.split('.').next().unwrap_or_default() {
            "vision" => vec![PrivateData::Camera],
            "navigation" => vec![PrivateData::Location],
            "phone" => vec![PrivateData::Contacts],
            "memory" => vec![PrivateData::Memory],
            _ => Vec::new(),
        }
    }

    /// What an open question mentions, by the policy's phrases.
    pub fn in_text(text: &str, words: &PrivateWords) -> Vec<PrivateData> {
        let text = format!(" {} ", text.to_lowercase().replace(|c: char| !c.is_alphanumeric() && c != '\'', " "));
        let mentions = |phrases: &[String]| phrases.iter().any(|p| text.contains(&format!(" {} ", p.trim())));
        [
            (PrivateData::Camera, &words.camera),
            (PrivateData::Location, &words.location),
            (PrivateData::Contacts, &words.contacts),
            (PrivateData::Memory, &words.memory),
        ]
        .into_iter()
        .filter(|(_, phrases)| mentions(phrases))
        .map(|(kind, _)| kind)
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RoutingPolicy;

    #[test]
    fn a_hand_off_is_as_private_as_what_it_carries() {
        assert_eq!(PrivateData::of_intent("phone.call"), [PrivateData::Contacts]);
        assert_eq!(PrivateData::of_intent("phone.send_directions"), [PrivateData::Location]);
        assert_eq!(PrivateData::of_intent("phone.share_arrival"), [PrivateData::Location, PrivateData::Contacts]);
        assert!(PrivateData::of_intent("phone.remind_when_parked").is_empty());
    }

    #[test]
    fn questions_about_where_the_car_is_are_location() {
        let words = RoutingPolicy::embedded().private_words;
        assert_eq!(PrivateData::in_text("Where am I right now?", &words), [PrivateData::Location]);
        assert_eq!(PrivateData::in_text("what do you see on the back seat", &words), [PrivateData::Camera]);
        assert!(PrivateData::in_text("why is the sky blue", &words).is_empty());
        // Whole phrases only: "gps" is not in "gypsum".
        assert!(PrivateData::in_text("what is gypsum", &words).is_empty());
    }
}
