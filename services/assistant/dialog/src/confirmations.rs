//! What a reply to "Open the trunk?" or "Unlock all the doors?" says. A stranger's "what",
//! "huh", "maybe later", "ok no" and 等一下 each opened the trunk or unlocked the doors: the
//! classifier put them nearest the examples of a yes. A question asked because the action is
//! risky takes only a plain yes; a reply that takes the yes back is a no, and one that puts it
//! off or asks what was said gets the question again.

use std::sync::LazyLock;

use regex::Regex;

use cabin_nlu::Language;

/// How a reply to a confirmation reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    Yes,
    No,
    /// Neither: the question is asked again.
    Unclear,
}

/// Reads a reply (normalised) the classifier took for a yes, and whether it was unsure of it:
/// an unsure one is a yes only when it opens with a yes word ("对，打吧").
pub(crate) fn read_yes(language: Language, text: &str, unsure: bool) -> Answer {
    static ENGLISH_YES: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(yes|yeah|yep|yup|sure|ok|okay|alright|go ahead|do it|please do|correct|right|absolutely|of course|definitely)\b")
            .expect("tested")
    });
    // The action asked about, said back (打开吧, 那就开吧: 嗯 is dropped as a filler), is a yes.
    static CHINESE_YES: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^(对|是|好|行|可以|没问题|确定|(那就)?(打开|开|关上|关|锁上|锁|解锁)吧$)").expect("tested"));
    static ENGLISH_NO: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(no|not|nope|nah|don't|dont|never)\b").expect("tested"));
    static ENGLISH_PUT_OFF: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b(later|wait|hold|what|huh|sorry|pardon|maybe|perhaps|hmm|eh|think|moment|second|minute)\b").expect("tested")
    });
    static CHINESE_NO: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"不|没|别|算了").expect("tested"));
    static CHINESE_PUT_OFF: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"等|想想|什么|啥|再说|以后|回头|稍后|一会|^(啊|哈|诶|咦|嗯)$").expect("tested"));
    let (yes, no, put_off) = match language {
        Language::English => (&ENGLISH_YES, &ENGLISH_NO, &ENGLISH_PUT_OFF),
        Language::Chinese => (&CHINESE_YES, &CHINESE_NO, &CHINESE_PUT_OFF),
    };
    if no.is_match(text) {
        Answer::No
    } else if put_off.is_match(text) || (unsure && !yes.is_match(text)) {
        Answer::Unclear
    } else {
        Answer::Yes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_plain_yes_is_a_yes() {
        let english = |text| read_yes(Language::English, text, false);
        for yes in ["yes", "yes please", "sure", "go ahead", "ok", "do it"] {
            assert_eq!(english(yes), Answer::Yes, "{yes}");
        }
        for no in ["ok no", "no thanks", "not now"] {
            assert_eq!(english(no), Answer::No, "{no}");
        }
        for unclear in ["maybe later", "what", "huh", "sorry", "hold on a second"] {
            assert_eq!(english(unclear), Answer::Unclear, "{unclear}");
        }
        assert_eq!(read_yes(Language::English, "fine by me i suppose", true), Answer::Unclear, "the classifier's doubt");
        assert_eq!(read_yes(Language::Chinese, "对打吧", true), Answer::Yes, "a yes word outweighs it");
        assert_eq!(read_yes(Language::Chinese, "打开吧", true), Answer::Yes, "a stranger's 嗯，打开吧");
        let chinese = |text| read_yes(Language::Chinese, text, false);
        for yes in ["好的", "对", "可以", "是的", "打开吧"] {
            assert_eq!(chinese(yes), Answer::Yes, "{yes}");
        }
        assert_eq!(chinese("不用了"), Answer::No);
        for unclear in ["等一下", "我想想", "啊", "什么", "再说吧"] {
            assert_eq!(chinese(unclear), Answer::Unclear, "{unclear}");
        }
    }
}
