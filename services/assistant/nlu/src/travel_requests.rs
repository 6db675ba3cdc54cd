//! An address is what a driver both remembers ("my home is forty two market street") and
//! drives to, and a stranger found "navigate to 42 market street" taken for a fact to remember:
//! the street outweighed the verb. A sentence that opens by asking to go somewhere is a
//! navigation request, whatever it goes on to name, so once the classifier has chosen a memory
//! intent, that opening decides. The other way round, "the dentist i go to is at 9 park avenue"
//! drove there: a sentence that says where something is, and asks nothing, is a fact.

use std::sync::LazyLock;

use regex::Regex;

use cabin_language::Language;

const NAVIGATION: &str = "navigation.set_destination";
const REMEMBER: &str = "memory.remember";
const MEMORY: &[&str] = &[REMEMBER, "memory.forget", "memory.facts", "memory.recall"];

/// [`NAVIGATION`] when `chosen` is a memory intent and `text` (normalised) opens with a request
/// to go somewhere; [`REMEMBER`] when `chosen` is navigation and `text` only says where
/// something is; `None` keeps the classifier's choice.
pub(crate) fn intent_by_opening(language: Language, text: &str, chosen: &str) -> Option<&'static str> {
    if MEMORY.contains(&chosen) && asks_to_go(language, text) {
        Some(NAVIGATION)
    } else if chosen == NAVIGATION && says_where_a_thing_is(language, text) && !asks_to_go(language, text) {
        Some(REMEMBER)
    } else {
        None
    }
}

/// "my dentist is at 9 park avenue", "the school's on elm road", 我的牙医在公园大道9号: a thing
/// (not the trip itself: "the destination is ...") and where it is, with nothing asked.
fn says_where_a_thing_is(language: Language, text: &str) -> bool {
    static ENGLISH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(my|our|the)( \w+)*?('s| is| are) (at|on|in) \w").expect("tested"));
    static ENGLISH_TRIP: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b(destination|address|route|way|directions|please|can you|could you|let's|take me|take us|bring me|drive me|go there|drive there|head there|navigate)\b").expect("tested")
    });
    static CHINESE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(我的|我们的|我们|我)[^去到导带送开]{1,8}在[^哪]").expect("tested"));
    match language {
        Language::English => ENGLISH.is_match(text) && !ENGLISH_TRIP.is_match(text),
        Language::Chinese => CHINESE.is_match(text),
    }
}

/// Whether `text` (normalised) opens by asking to go somewhere: a navigation request said so
/// is not a guess, however unlike the examples the rest of it is ("directions to 31 oak drive").
pub(crate) fn is_sure(language: Language, text: &str, intent: &str) -> bool {
    intent == NAVIGATION && asks_to_go(language, text)
}

fn asks_to_go(language: Language, text: &str) -> bool {
    static ENGLISH: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"^(please |can you |could you |now )?(navigate|drive|go|head|route|directions|give me directions|take me|take us|bring me|get me|guide me|drive me|route me|route us)( back| over)? to ",
        )
        .expect("tested")
    });
    // 去掉 and 去除 take something away; they open no journey.
    static CHINESE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^(请|帮我|麻烦)?(导航|带我去|带我到|送我去|送我到|开去|开到|前往|去[^掉除])").expect("tested"));
    match language {
        Language::English => ENGLISH.is_match(text),
        Language::Chinese => CHINESE.is_match(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_to_go_somewhere_is_not_a_fact_to_remember() {
        let english = |text| intent_by_opening(Language::English, text, "memory.remember");
        for request in
            ["navigate to 42 market street", "go to 42 market street", "directions to 42 market street", "take me back to 5 river road"]
        {
            assert_eq!(english(request), Some(NAVIGATION), "{request}");
        }
        for fact in ["my home is 42 market street", "remember that i go to the gym on mondays", "i drive to work at 8"] {
            assert_eq!(english(fact), None, "{fact}");
        }
        let chinese = |text| intent_by_opening(Language::Chinese, text, "memory.remember");
        assert_eq!(chinese("去南京路100号"), Some(NAVIGATION));
        assert_eq!(chinese("导航到市场街42号"), Some(NAVIGATION));
        assert_eq!(chinese("我家在市场街42号"), None);
        assert_eq!(intent_by_opening(Language::Chinese, "去掉我喜欢二十三度", "memory.forget"), None, "去掉 is taking away");
        assert_eq!(intent_by_opening(Language::English, "go to 42 market street", "phone.call"), None, "not a memory intent");
        let said_to_navigation = |language, text| intent_by_opening(language, text, NAVIGATION);
        for fact in ["the dentist i go to is at 9 park avenue", "my gym's on 5th avenue", "our office is in the harbour building"] {
            assert_eq!(said_to_navigation(Language::English, fact), Some(REMEMBER), "{fact}");
        }
        for request in
            ["the destination is 9 park avenue", "take me to the place my dentist is at", "my office is on 5th avenue take me there"]
        {
            assert_eq!(said_to_navigation(Language::English, request), None, "{request}");
        }
        assert_eq!(said_to_navigation(Language::Chinese, "我的牙医在公园大道9号"), Some(REMEMBER));
        assert_eq!(said_to_navigation(Language::Chinese, "我要去公园大道9号"), None);
        assert!(is_sure(Language::English, "directions to 31 oak drive", NAVIGATION));
        assert!(!is_sure(Language::English, "send the directions to my phone", NAVIGATION));
    }
}
