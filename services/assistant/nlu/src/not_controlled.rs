//! Things the car's intents do not control that a sentence encoder puts next to one they do:
//! "turn on the hazard lights" sits beside the interior light's examples, and a stranger's test
//! saw the dome light come on for it; "ventilate my seat" heated it, "turn on the defroster"
//! switched the air conditioning on, "open the sunroof" asked which window. Such a turn is
//! marked unsure, so the car says it did not understand (and the car's model is not asked to
//! pretend) rather than act on the wrong thing.

use std::sync::LazyLock;

use regex::Regex;

use cabin_language::Language;

/// Whether `text` (normalised) names something `intent` does not control but is easily taken for.
pub(crate) fn names_another_thing(language: Language, text: &str, intent: &str) -> bool {
    static OTHER_THINGS: LazyLock<Vec<(&str, Regex, Regex)>> = LazyLock::new(|| {
        let re = |pattern: &str| Regex::new(pattern).expect("tested");
        vec![
            // The outside lights, the screens, and the ambient light's colours: the dome light is
            // on or off.
            (
                "lights.set_interior",
                re(
                    r"\b(hazards?|head ?lights?|head ?lamps?|fog ?lights?|fog ?lamps?|(high|low|full|main) beams?|indicators?|turn signals?|blinkers?|brake lights?|tail ?lights?|parking lights?|daytime running|ambient|colou?rs?|blue|red|green|purple|pink|orange|yellow|screens?|displays?|dashboard|dash|instruments?|backlight)\b",
                ),
                re(
                    r"双闪|危险报警|警示灯|大灯|远光|近光|雾灯|转向灯|刹车灯|尾灯|示廓灯|日间行车灯|氛围灯|颜色|蓝|红|绿|紫|粉|橙|黄|屏幕|屏|仪表",
                ),
            ),
            // Seat ventilation, massage and position, and the steering wheel's heating.
            (
                "seat.set_heating",
                re(
                    r"\b(ventilat\w*|cool(ing|ed)? (my |the )?seats?|seat cool\w*|massag\w*|reclin\w*|lumbar|backrest|seat ?back|headrest|steering wheel|move (my |the )?seat|seat (forward|backward|back))\b",
                ),
                re(r"通风|制冷|按摩|靠背|放倒|腰托|头枕|方向盘|往前|往后|向前|向后"),
            ),
            // Defrosters and demisters heat glass: the air conditioning and the windows are not
            // one. Nor is the fan's speed the AC's switch.
            ("climate.set_ac", re(r"\b(defrost\w*|demist\w*|defog\w*|de ?ic\w*|fan|blower)\b"), re(r"除雾|除霜|去雾|化霜|风量|风速|鼓风")),
            (
                "window.set",
                re(r"\b(sun ?roof|moon ?roof|roof|sun ?shades?|sun ?blinds?|blinds?|defrost\w*|demist\w*|defog\w*)\b"),
                re(r"天窗|遮阳帘|遮阳|除雾|除霜"),
            ),
            // Child locks keep a rear door shut from inside; they are not the central locking.
            ("doors.set_lock", re(r"\bchild (safety )?locks?\b|\bchild ?proof\b"), re(r"儿童锁")),
            // Driving functions take numbers too.
            ("climate.set_temperature", re(r"\b(cruise|speed limit\w*|limiter)\b"), re(r"巡航|限速")),
            ("media.set_volume", re(r"\b(cruise|speed limit\w*|limiter)\b"), re(r"巡航|限速")),
        ]
    });
    OTHER_THINGS.iter().any(|(controls, english, chinese)| {
        *controls == intent
            && match language {
                Language::English => english.is_match(text),
                Language::Chinese => chinese.is_match(text),
            }
    })
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
}
