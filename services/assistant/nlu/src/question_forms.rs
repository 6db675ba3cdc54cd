//! "Why is the window open?" shares every word that matters with "open the window", and the car
//! opened it; an integrator's four examples of a blue ambient light took 天空为什么是蓝色的 ("why
//! is the sky blue?") and turned the light blue; "what is my seat heater set to" and "tell me a
//! joke about windows" switched the seat heating on and opened every window. A question that
//! asks why, how a thing works or what something is, and "tell me ...", ask to be told, not for
//! something to be done. So an intent may take one only when its own examples do: the intents are read from their data, and an
//! OEM's intent gets the same guard as the shipped ones without naming it anywhere.

use std::sync::LazyLock;

use regex::Regex;

use cabin_language::Language;

/// The kinds of sentence that ask to be told something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QuestionForm {
    /// "why is the trunk open", 车窗为什么起雾.
    Why,
    /// "how does regenerative braking work", 发电机是怎么发电的: how a thing works, not "how do
    /// i get to the station" nor "how do i open the trunk", which ask for it done.
    HowItWorks,
    /// "what is my seat heater set to", "which windows are open", 座椅加热现在是几档; not "what
    /// about the passenger side".
    What,
    /// "how hot do the seats get", "how fast am i going".
    HowMuch,
    /// "does this car have heated seats", "do the windows open by themselves".
    Does,
    /// "tell me a joke about windows", "remind me how to turn on the seat heater".
    Tell,
}

/// The form of `text` (normalised), if it asks to be told. A suggestion put as a question
/// ("why not", "why don't you open the window", 为什么不开空调) asks for something to be done.
pub(crate) fn form_of(language: Language, text: &str) -> Option<QuestionForm> {
    static WHY: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(why|how come)\b").expect("tested"));
    static WHY_SUGGESTION: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^why (not|don't|dont|won't|wont|can't|cant|shouldn't|wouldn't)\b").expect("tested"));
    static HOW: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^how (does|do|did|is|are|was|were|can|could|would)\b.*\bwork(s|ed|ing)?\b").expect("tested"));
    static WHY_ZH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"为什么|为啥|怎么会|咋会").expect("tested"));
    static WHY_SUGGESTION_ZH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(为什么|为啥)不").expect("tested"));
    static HOW_ZH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"是怎么|怎么回事|什么原理|原理是").expect("tested"));
    static WHAT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(what|what's|whats|which)\b").expect("tested"));
    static DOES: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(does|do|did) (this|the|my|our|your|these|those) \w+").expect("tested"));
    static HOW_MUCH: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^how (hot|warm|cold|fast|far|long|much|many|loud|high|low|big|full|old|often)\b").expect("tested"));
    static WHAT_SUGGESTION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^what (about|if)\b").expect("tested"));
    // A Mandarin question word ends the sentence: 随便放点什么 ("play anything") asks nothing.
    static WHAT_ZH: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(多少|多大|几档|几度|几级|是什么|什么意思)[吗呢啊呀]?$").expect("tested"));
    static TELL: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^(tell me|explain|describe|remind me (how|what|why|where|when))\b").expect("tested"));
    match language {
        Language::English if WHY.is_match(text) => (!WHY_SUGGESTION.is_match(text)).then_some(QuestionForm::Why),
        Language::English if HOW.is_match(text) => Some(QuestionForm::HowItWorks),
        Language::English if HOW_MUCH.is_match(text) => Some(QuestionForm::HowMuch),
        Language::English if DOES.is_match(text) => Some(QuestionForm::Does),
        Language::English if WHAT.is_match(text) => (!WHAT_SUGGESTION.is_match(text)).then_some(QuestionForm::What),
        Language::English => TELL.is_match(text).then_some(QuestionForm::Tell),
        Language::Chinese if WHY_ZH.is_match(text) => (!WHY_SUGGESTION_ZH.is_match(text)).then_some(QuestionForm::Why),
        Language::Chinese if HOW_ZH.is_match(text) => Some(QuestionForm::HowItWorks),
        Language::Chinese => WHAT_ZH.is_match(text).then_some(QuestionForm::What),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_question_asking_why_or_how_has_its_form_and_a_suggestion_or_request_has_none() {
        let english = |text| form_of(Language::English, text);
        for why in ["why is the window open", "why is the sky blue", "how come the ac is on"] {
            assert_eq!(english(why), Some(QuestionForm::Why), "{why}");
        }
        assert_eq!(english("how does the heated seat work"), Some(QuestionForm::HowItWorks));
        for other in
            ["why not", "why don't you open the window", "how about some music", "how do i get to the station", "how do i open the trunk"]
        {
            assert_eq!(english(other), None, "{other}");
        }
        for what in ["what is my seat heater set to", "what's the volume"] {
            assert_eq!(english(what), Some(QuestionForm::What), "{what}");
        }
        assert_eq!(english("what about the passenger side"), None);
        assert_eq!(english("which windows are open"), Some(QuestionForm::What));
        assert_eq!(english("how hot do the seats get"), Some(QuestionForm::HowMuch));
        assert_eq!(english("does this car have heated seats"), Some(QuestionForm::Does));
        assert_eq!(english("do i need to get gas soon"), None, "a question about the driver");
        assert_eq!(english("tell me a joke about windows"), Some(QuestionForm::Tell));
        let chinese = |text| form_of(Language::Chinese, text);
        assert_eq!(chinese("座椅加热现在是几档"), Some(QuestionForm::What));
        assert_eq!(chinese("随便放点什么"), None, "a question word inside a request");
        assert_eq!(chinese("天空为什么是蓝色的"), Some(QuestionForm::Why));
        assert_eq!(chinese("发电机是怎么发电的"), Some(QuestionForm::HowItWorks));
        for other in ["为什么不开空调", "氛围灯调成蓝色", "到火车站怎么走"] {
            assert_eq!(chinese(other), None, "{other}");
        }
    }
}
