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

use crate::intents::IntentDef;
use crate::slots::SlotKind;
use cabin_language::Language;

/// The intent that reads the car's state.
pub(crate) const QUERY: &str = "vehicle.query";
/// Whether `intent` sets something a question could ask about: it has a slot for a state or
/// a level. Read from the catalog, so an OEM's intent (a defroster with a `switch` slot) is
/// guarded as the shipped ones are: "is the defroster on" switched it on.
pub(crate) fn is_setting(intent: &IntentDef) -> bool {
    intent.slots.values().any(|kind| {
        matches!(
            kind,
            SlotKind::Switch
                | SlotKind::LockState
                | SlotKind::OpenPercent
                | SlotKind::HeatLevel
                | SlotKind::VolumeLevel
                | SlotKind::Temperature
                | SlotKind::Closing
        )
    })
}

/// [`QUERY`] when the chosen intent is a setting and `text` (normalised) asks or says how
/// things are rather than asking for something to be done; `None` keeps the classifier's choice.
pub(crate) fn intent_by_form(language: Language, text: &str, chosen_is_setting: bool) -> Option<&'static str> {
    (chosen_is_setting && (asks_a_state(language, text) || remarks_on_a_state(language, text))).then_some(QUERY)
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

/// Whether `text` (normalised) is said as a statement, its subject first and then a verb ("the
/// trunk was open all night", "it's getting too hot", "i'd love some fresh air"), rather than
/// as a command ("open the window") or a phrase without a verb ("windows down"). Mandarin puts
/// its topic first in commands too (空调开大点), so no Mandarin sentence is taken for one.
pub(crate) fn is_statement(language: Language, text: &str) -> bool {
    static SUBJECT_AND_VERB: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"^((yeah|yep|so|well|funny|oh|honestly|actually|anyway|once|yesterday|last (night|week|month|year|time|winter|summer|spring|autumn|fall)|this morning)\s+)*(the|my|our|your|his|her|their|its|this|that|these|those|both|a|an|some|i|we|he|she|they|it|there|someone|somebody|everyone|nobody)\b(\s+\S+){0,6}?('s|'re|'m|'d|'ll|\s+(is|are|am|was|were|has|have|had|does|do|did|will|would|can|could|should|might|may|must|isn't|aren't|wasn't|weren't|hasn't|haven't|doesn't|don't|didn't|won't|can't|got|gets|keeps?|kept|seems?|looks?|feels?|makes?|made|loves?|likes?|smells?|sounds?|shows|says|reads|displays|goes|went|came|comes|left|froze|broke|took|ran|sat|saw|heard|found|forgot|thought|told|said|drove|gave|brought|bought|spent|stood|fell|felt|knew|wore|\w{3,}ed))\b",
        )
        .expect("tested")
    });
    language == Language::English && SUBJECT_AND_VERB.is_match(text)
}

/// Whether `text` says how things are or were without asking for anything: "the lights are on",
/// "the passenger window was open all night", "i locked the doors before we went in",
/// "the dog loves sitting on the passenger seat", 后备箱开着, 车窗脏了. A sentence that opens
/// with its subject and a verb says something; one that opens with a verb ("open the window"),
/// or has none ("windows down"), asks. Not a remark: a complaint about comfort or one about
/// how the speaker is ("the car is too hot", "my seat could be warmer", "i'm roasting",
/// 车里太热了), a wish ("i want the window open", "we need some air"),
/// a wish put as what could be ("the heating can go off now"), or one with a request in it
/// ("the window is open close it", 车窗开着帮我关上).
fn remarks_on_a_state(language: Language, text: &str) -> bool {
    static COMFORT_WISH_OR_REQUEST: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"^(i'm|i am|we're|we are)\b|\b(too|enough|cold\w*|chilly|freez\w*|frozen|cool\w*|hot\w*|warm\w*|boiling|roasting|sweltering|stuffy|stale|fresh air|there's no|there is no|humid|muggy|loud\w*|quiet\w*|noisy|dark|pitch black|can't see|bright|dim|uncomfortable|can't hear|hard to hear|barely|audible|blasting|blazing|sweat\w*|shiver\w*|fogg\w*|misted|steamed|want|wanna|need|needs to|has to|have to|can|could|should|ought|may as well|might as well|like to|'d like|would like|let's|please|you|it up|it down|it off|it on|them)\b",
        )
        .expect("tested")
    });
    // A command after the statement asks ("the window is open close it", "i dropped something
    // turn on the light": whisper writes no comma); "... when i open it" does not.
    static DOING_IT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(\S+)\s+(open|close|shut|lock|unlock|turn|switch|put|set|raise|lower|roll|crack|make|play|heat|warm|cool|dim|start|stop)\s+(it|them|that|this|on|off|up|down|the|my|a|some)\b").expect("tested")
    });
    // The words before a verb that make it no command: a subject, a modal, "to", a be-verb.
    const NO_COMMAND_AFTER: &[&str] = &[
        "i", "we", "you", "he", "she", "they", "to", "who", "can", "could", "would", "will", "should", "didn't", "don't", "doesn't",
        "won't", "can't", "couldn't", "never", "always", "just", "first", "is", "are", "was", "were", "be", "been", "still", "wide",
    ];
    let asks_it_done = |text: &str| DOING_IT.captures_iter(text).any(|doing| !NO_COMMAND_AFTER.contains(&&doing[1]));
    static CHINESE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(开着|关着|亮着|锁着|是开的|是关的|是锁着的|脏了|坏了|舒服|没关|没关好|没关上|没锁|没锁好|没锁上|忘关了|忘锁了)[呢的啊呀吧]?$")
                .expect("tested")
    });
    static CHINESE_REQUEST: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"把|让|能|可以|帮|请|麻烦|给我|你|太|冷|热").expect("tested"));
    match language {
        Language::English => is_statement(language, text) && !COMFORT_WISH_OR_REQUEST.is_match(text) && !asks_it_done(text),
        Language::Chinese => CHINESE.is_match(text) && !CHINESE_REQUEST.is_match(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_question_about_a_state_is_a_query_and_a_request_put_as_a_question_is_not() {
        let english = |text| intent_by_form(Language::English, text, true);
        for question in ["is the driver's window open", "are the windows closed", "is the trunk open", "was the ac on"] {
            assert_eq!(english(question), Some(QUERY), "{question}");
        }
        for request in ["open the driver's window", "can you open the window", "is it ok to open the window", "is it cold, open the window"]
        {
            assert_eq!(english(request), None, "{request}");
        }
        let chinese = |text| intent_by_form(Language::Chinese, text, true);
        for question in ["车窗开着吗", "后备箱开着吗？", "空调关了没"] {
            assert_eq!(chinese(question), Some(QUERY), "{question}");
        }
        for request in ["打开后备箱", "能打开后备箱吗", "帮我打开后备箱好吗", "你可以开一下后备箱吗"] {
            assert_eq!(chinese(request), None, "{request}");
        }
        assert_eq!(intent_by_form(Language::English, "is my phone in the car", false), None, "not a setting");
        let catalog = crate::intents::IntentCatalog::embedded();
        let setting = |name| is_setting(catalog.get(name).expect("shipped"));
        for name in
            ["window.set", "trunk.open", "climate.set_ac", "lights.set_interior", "doors.set_lock", "seat.set_heating", "media.set_volume"]
        {
            assert!(setting(name), "{name}");
        }
        for name in ["vision.find_object", "navigation.set_destination", "media.play", "vehicle.query", "memory.remember"] {
            assert!(!setting(name), "{name}");
        }
    }

    #[test]
    fn a_remark_about_a_state_is_a_query_and_a_complaint_about_comfort_is_not() {
        let english = |text| intent_by_form(Language::English, text, true);
        for remark in [
            "the passenger window is dirty",
            "the lights are on",
            "the trunk is still open",
            "my window's open",
            "the doors are locked",
            "the passenger window was open all night",
            "i closed the trunk before we left",
            "the kids love the back windows",
            "the window makes a noise when i open it",
            "the display shows 21 degrees",
        ] {
            assert_eq!(english(remark), Some(QUERY), "{remark}");
        }
        for request in [
            "the car is too hot",
            "my seat is cold",
            "the music is too loud",
            "the windshield is fogged up",
            "the window is open close it",
            "i want the window open",
            "i'm roasting",
            "my seat could be warmer",
            "there's no fresh air in here",
            "the heating can go off now",
            "the music is barely audible",
            "i spilled my coffee turn on the light",
            "we need some fresh air in here",
            "open the window",
            "windows down",
            "the passenger window halfway",
        ] {
            assert_eq!(english(request), None, "{request}");
        }
        let chinese = |text| intent_by_form(Language::Chinese, text, true);
        for remark in ["后备箱开着", "车窗脏了", "灯亮着呢", "后备箱好像没关", "车门没锁好"] {
            assert_eq!(chinese(remark), Some(QUERY), "{remark}");
        }
        for request in ["打开后备箱", "把空调开着", "后备箱开着帮我关上", "车里太热了"] {
            assert_eq!(chinese(request), None, "{request}");
        }
    }
}
