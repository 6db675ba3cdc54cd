//! Things the car's intents do not control that a sentence encoder puts next to one they do:
//! "turn on the hazard lights" sits beside the interior light's examples, and a stranger's test
//! saw the dome light come on for it. Such a turn is marked unsure, so the car says it did not
//! understand (and the car's model is not asked to pretend) rather than act on the wrong thing.

use std::sync::LazyLock;

use regex::Regex;

use cabin_language::Language;

/// Whether `text` (normalised) names something `intent` does not control but is easily taken for.
pub(crate) fn names_another_thing(language: Language, text: &str, intent: &str) -> bool {
    static EXTERIOR_LIGHTS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"\b(hazards?|head ?lights?|head ?lamps?|fog ?lights?|fog ?lamps?|(high|low|full|main) beams?|indicators?|turn signals?|blinkers?|brake lights?|tail ?lights?|parking lights?|daytime running)\b",
        )
        .expect("tested")
    });
    static EXTERIOR_LIGHTS_ZH: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"双闪|危险报警|警示灯|大灯|远光|近光|雾灯|转向灯|刹车灯|尾灯|示廓灯|日间行车灯").expect("tested"));
    intent == "lights.set_interior"
        && match language {
            Language::English => EXTERIOR_LIGHTS.is_match(text),
            Language::Chinese => EXTERIOR_LIGHTS_ZH.is_match(text),
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outside_lights_are_not_the_interior_light() {
        let interior = |language, text| names_another_thing(language, text, "lights.set_interior");
        assert!(interior(Language::English, "turn on the hazard lights"));
        assert!(interior(Language::English, "turn off the headlights"));
        assert!(interior(Language::Chinese, "打开双闪"));
        assert!(!interior(Language::English, "turn on the reading light"));
        assert!(!interior(Language::English, "switch the interior light off"));
        assert!(!names_another_thing(Language::English, "turn on the hazard lights", "window.set"));
    }
}
