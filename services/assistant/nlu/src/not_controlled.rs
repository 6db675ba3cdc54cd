//! Things the car's intents do not control that a sentence encoder puts next to one they do:
//! "turn on the hazard lights" sits beside the interior light's examples, and a stranger's test
//! saw the dome light come on for it; "ventilate my seat" heated it, "turn on the defroster"
//! switched the air conditioning on, "open the sunroof" asked which window. Such a turn is
//! marked unsure, so the car says it did not understand (and the car's model is not asked to
//! pretend) rather than act on the wrong thing. An intent whose own examples name the thing
//! controls it: an OEM whose car has a sunroof adds "open the sunroof" to the window intent,
//! with a slot for it, and the guard steps aside without a line of code.

use std::sync::LazyLock;

use regex::Regex;

use crate::intents::IntentCatalog;
use crate::text::normalise;
use cabin_language::Language;

/// Things near `intent` that it does not control, in English and in Mandarin.
struct OtherThing {
    intent: &'static str,
    english: Regex,
    chinese: Regex,
}

impl OtherThing {
    fn named_in(&self, language: Language, text: &str) -> bool {
        match language {
            Language::English => self.english.is_match(text),
            Language::Chinese => self.chinese.is_match(text),
        }
    }
}

static OTHER_THINGS: LazyLock<Vec<OtherThing>> = LazyLock::new(|| {
    let re = |pattern: &str| Regex::new(pattern).expect("tested");
    [
        // The outside lights, the screens, and colours: the interior lights are on or off.
        (
            "lights.set_interior",
            re(
                r"\b(hazards?|head ?lights?|head ?lamps?|fog ?lights?|fog ?lamps?|(high|low|full|main) beams?|indicators?|turn signals?|blinkers?|brake lights?|tail ?lights?|parking lights?|daytime running|colou?rs?|blue|red|green|purple|pink|orange|yellow|screens?|displays?|dashboard|dash|instruments?|backlight)\b",
            ),
            re(
                r"双闪|危险报警|警示灯|大灯|远光|近光|雾灯|转向灯|刹车灯|尾灯|示廓灯|日间行车灯|颜色|蓝|红|绿|紫|粉|橙|黄|屏幕|屏|仪表",
            ),
        ),
        // Seat ventilation, massage and position, the steering wheel's heating; and the fan,
        // which has an intent of its own (风量调到三档 once set a stranger's seat heating to its
        // top level).
        (
            "seat.set_heating",
            re(
                r"\b(ventilat\w*|cool(ing|ed)? (my |the )?seats?|seat cool\w*|massag\w*|reclin\w*|lumbar|backrest|seat ?back|headrest|steering wheel|move (my |the )?seat|seat (forward|backward|back)|fans?|blowers?)\b",
            ),
            re(r"通风|制冷|按摩|靠背|放倒|腰托|头枕|方向盘|往前|往后|向前|向后|风量|风速|风扇|鼓风"),
        ),
        // Defrosters and demisters heat glass: the air conditioning and the windows are not
        // one. Nor is the fan's speed the AC's switch.
        ("climate.set_ac", re(r"\b(defrost\w*|demist\w*|defog\w*|de ?ic\w*|fans?|blowers?)\b"), re(r"除雾|除霜|去雾|化霜|风量|风速|风扇|鼓风")),
        (
            "window.set",
            re(r"\b(sun ?roof|moon ?roof|roof|sun ?shades?|sun ?blinds?|blinds?|defrost\w*|demist\w*|defog\w*)\b"),
            re(r"天窗|遮阳帘|遮阳|除雾|除霜"),
        ),
        // Child locks keep a rear door shut from inside; they are not the central locking.
        ("doors.set_lock", re(r"\bchild (safety )?locks?\b|\bchild ?proof\b"), re(r"儿童锁")),
        // Driving functions take numbers too, and so does the fan.
        ("climate.set_temperature", re(r"\b(cruise|speed limit\w*|limiter|fans?|blowers?)\b"), re(r"巡航|限速|风量|风速|风扇|鼓风")),
        ("media.set_volume", re(r"\b(cruise|speed limit\w*|limiter|fans?|blowers?)\b"), re(r"巡航|限速|风量|风速|风扇|鼓风")),
    ]
    .into_iter()
    .map(|(intent, english, chinese)| OtherThing { intent, english, chinese })
    .collect()
});

/// The guards that hold for a catalog: those whose intent's examples never name the thing.
#[derive(Debug, Clone)]
pub(crate) struct NotControlled {
    holding: Vec<usize>,
}

impl NotControlled {
    pub(crate) fn for_catalog(catalog: &IntentCatalog) -> NotControlled {
        let holding = (0..OTHER_THINGS.len())
            .filter(|&row| {
                let thing = &OTHER_THINGS[row];
                catalog
                    .get(thing.intent)
                    .is_none_or(|intent| !intent.examples.iter().any(|example| thing.named_in(Language::of(example), &normalise(example))))
            })
            .collect();
        NotControlled { holding }
    }

    /// Whether `text` (normalised) names something `intent` does not control but is easily
    /// taken for.
    pub(crate) fn names_another_thing(&self, language: Language, text: &str, intent: &str) -> bool {
        self.holding.iter().map(|&row| &OTHER_THINGS[row]).any(|thing| thing.intent == intent && thing.named_in(language, text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_another_thing(language: Language, text: &str, intent: &str) -> bool {
        static SHIPPED: LazyLock<NotControlled> = LazyLock::new(|| NotControlled::for_catalog(&IntentCatalog::embedded()));
        SHIPPED.names_another_thing(language, text, intent)
    }

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

    #[test]
    fn seat_ventilation_a_defroster_and_the_sunroof_are_not_what_the_car_controls() {
        for (text, intent) in [
            ("ventilate my seat", "seat.set_heating"),
            ("cool my seat", "seat.set_heating"),
            ("recline my seat", "seat.set_heating"),
            ("turn on the steering wheel heating", "seat.set_heating"),
            ("turn on the defroster", "climate.set_ac"),
            ("open the sunroof", "window.set"),
        ] {
            assert!(names_another_thing(Language::English, text, intent), "{text}");
        }
        assert!(names_another_thing(Language::Chinese, "打开座椅通风", "seat.set_heating"));
        assert!(names_another_thing(Language::Chinese, "打开除雾", "climate.set_ac"));
        // A stranger's 打开风扇 switched the air conditioning on.
        assert!(names_another_thing(Language::Chinese, "把风扇打开", "climate.set_ac"));
        // A stranger's 风量调到三档 set the seat heating to its top level.
        for intent in ["seat.set_heating", "climate.set_temperature", "media.set_volume"] {
            assert!(names_another_thing(Language::Chinese, "风量调到三档", intent), "{intent}");
            assert!(names_another_thing(Language::English, "turn the fan up to four", intent), "{intent}");
            assert!(names_another_thing(Language::English, "the fans are too loud", intent), "{intent}");
        }
        for (text, intent) in [
            ("change the ambient lighting to blue", "lights.set_interior"),
            ("dim the screen", "lights.set_interior"),
            ("turn on the child lock on the back doors", "doors.set_lock"),
            ("set cruise control to a hundred", "climate.set_temperature"),
            ("turn the fan up to max", "climate.set_ac"),
            ("close the rear sunshade", "window.set"),
            ("defrost the rear window", "window.set"),
        ] {
            assert!(names_another_thing(Language::English, text, intent), "{text}");
        }
        for (text, intent) in
            [("heat my seat", "seat.set_heating"), ("turn on the ac", "climate.set_ac"), ("open the back window", "window.set")]
        {
            assert!(!names_another_thing(Language::English, text, intent), "{text}");
        }
    }

    #[test]
    fn every_guard_holds_for_the_shipped_intents_and_steps_aside_for_an_intent_that_names_the_thing() {
        let shipped = NotControlled::for_catalog(&IntentCatalog::embedded());
        assert_eq!(shipped.holding.len(), OTHER_THINGS.len(), "a shipped example names a thing its intent does not control");
        let mut with_a_sunroof = IntentCatalog::embedded();
        with_a_sunroof
            .add_toml("[[intent]]\nname = \"window.set\"\nexamples = [\"open the sunroof\", \"打开天窗\"]\n", "oem.toml")
            .unwrap();
        let oem = NotControlled::for_catalog(&with_a_sunroof);
        assert!(!oem.names_another_thing(Language::English, "close the sunroof", "window.set"));
        assert!(!oem.names_another_thing(Language::Chinese, "关上天窗", "window.set"));
        assert!(oem.names_another_thing(Language::English, "turn on the hazard lights", "lights.set_interior"));
    }
}
