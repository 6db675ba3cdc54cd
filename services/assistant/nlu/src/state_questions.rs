//! "Is the driver's window open?" and "open the driver's window" share every word that matters
//! to a sentence encoder, and a stranger's questions found the classifier taking such questions
//! for the request: the car opened the window it was asked about. A question about a state
//! must never move the car, so once the classifier has chosen a setting, the question's form
//! decides: a yes/no question about how things are is a vehicle query. So is a remark about
//! how things are: strangers' "the passenger window is dirty" opened it and "the trunk is
//! open" asked to open the trunk. A remark about comfort ("my seat is cold", "the music is too
//! loud") asks for something to be done, and keeps the classifier's choice.

use std::sync::LazyLock;

use regex::Regex;

use cabin_language::Language;

/// The intent that reads the car's state.
pub(crate) const QUERY: &str = "vehicle.query";
/// Intents that change what a question could ask about.
const SETTINGS: &[&str] = &[
    "window.set",
    "trunk.open",
    "climate.set_ac",
    "lights.set_interior",
    "doors.set_lock",
    "seat.set_heating",
    "climate.set_temperature",
    "media.set_volume",
];

/// [`QUERY`] when `chosen` is a setting and `text` (normalised) asks or says how things are
/// rather than asking for something to be done; `None` keeps the classifier's choice.
pub(crate) fn intent_by_form(language: Language, text: &str, chosen: &str) -> Option<&'static str> {
    (SETTINGS.contains(&chosen) && (asks_a_state(language, text) || remarks_on_a_state(language, text))).then_some(QUERY)
}

/// Whether `text` is a yes/no question about a state: "is the trunk open", "are the windows
/// closed", 车窗开着吗; not a request put as a question ("can you open the trunk", "is it ok
/// to open the window", 能打开车窗吗, 打开车窗好吗) nor a question with a request after it.
fn asks_a_state(language: Language, text: &str) -> bool {
    static ENGLISH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(is|are|was|were|did|has|have)\s").expect("tested"));
    static ENGLISH_REQUEST: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b(you|please|possible|ok|okay|alright|allowed|safe|could|would|can|will|and|then|but)\b|,").expect("tested")
    });
    static CHINESE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(吗|没有|了没|没)[？?]?$").expect("tested"));
    static CHINESE_REQUEST: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"能|可以|可不可以|帮|请|麻烦|好吗|行吗|要不要|给我|你").expect("tested"));
    match language {
        Language::English => ENGLISH.is_match(text) && !ENGLISH_REQUEST.is_match(text),
        Language::Chinese => CHINESE.is_match(text) && !CHINESE_REQUEST.is_match(text),
    }
}

/// Whether `text` says how a thing is without asking for anything: "the lights are on", "my
/// window is dirty", "the window's open", 后备箱开着, 车窗脏了; not a complaint about comfort
/// ("the car is too hot", "my seat is cold", 车里太热了) nor a remark with a request after it
/// ("the window is open close it", 车窗开着帮我关上).
fn remarks_on_a_state(language: Language, text: &str) -> bool {
    static ENGLISH: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(the|my|our|your|this|that|these|those|both)(\s+\S+){1,4}?('s|\s+(is|are|was|were|seems?|looks?|feels?|has been|have been))\s+(?P<state>\S+(\s+\S+){0,2})$")
            .expect("tested")
    });
    static COMFORT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b(too|enough|cold|chilly|freezing|cool|hot|warm|boiling|stuffy|humid|muggy|loud|quiet|noisy|dark|bright|dim|uncomfortable|fogg\w*|misted|steamed|it|them|please)\b")
            .expect("tested")
    });
    static CHINESE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(开着|关着|亮着|锁着|是开的|是关的|是锁着的|脏了|坏了)[呢的啊呀]?$").expect("tested"));
    static CHINESE_REQUEST: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"把|让|能|可以|帮|请|麻烦|给我|你|太|冷|热").expect("tested"));
    match language {
        Language::English => ENGLISH.captures(text).is_some_and(|remark| !COMFORT.is_match(&remark["state"])),
        Language::Chinese => CHINESE.is_match(text) && !CHINESE_REQUEST.is_match(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_question_about_a_state_is_a_query_and_a_request_put_as_a_question_is_not() {
        let english = |text| intent_by_form(Language::English, text, "window.set");
        for question in ["is the driver's window open", "are the windows closed", "is the trunk open", "was the ac on"] {
            assert_eq!(english(question), Some(QUERY), "{question}");
        }
        for request in ["open the driver's window", "can you open the window", "is it ok to open the window", "is it cold, open the window"]
        {
            assert_eq!(english(request), None, "{request}");
        }
        let chinese = |text| intent_by_form(Language::Chinese, text, "trunk.open");
        for question in ["车窗开着吗", "后备箱开着吗？", "空调关了没"] {
            assert_eq!(chinese(question), Some(QUERY), "{question}");
        }
        for request in ["打开后备箱", "能打开后备箱吗", "帮我打开后备箱好吗", "你可以开一下后备箱吗"] {
            assert_eq!(chinese(request), None, "{request}");
        }
        assert_eq!(intent_by_form(Language::English, "is my phone in the car", "vision.find_object"), None, "not a setting");
    }

    #[test]
    fn a_remark_about_a_state_is_a_query_and_a_complaint_about_comfort_is_not() {
        let english = |text| intent_by_form(Language::English, text, "window.set");
        for remark in
            ["the passenger window is dirty", "the lights are on", "the trunk is still open", "my window's open", "the doors are locked"]
        {
            assert_eq!(english(remark), Some(QUERY), "{remark}");
        }
        for request in [
            "the car is too hot",
            "my seat is cold",
            "the music is too loud",
            "the windshield is fogged up",
            "the window is open close it",
            "the passenger wants the window open",
            "open the window",
            "it's open",
        ] {
            assert_eq!(english(request), None, "{request}");
        }
        let chinese = |text| intent_by_form(Language::Chinese, text, "trunk.open");
        for remark in ["后备箱开着", "车窗脏了", "灯亮着呢"] {
            assert_eq!(chinese(remark), Some(QUERY), "{remark}");
        }
        for request in ["打开后备箱", "把空调开着", "后备箱开着帮我关上", "车里太热了"] {
            assert_eq!(chinese(request), None, "{request}");
        }
    }
}
