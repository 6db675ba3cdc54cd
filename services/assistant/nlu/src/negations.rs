//! "Don't open the windows, it's raining" opened them, and 别锁门 ("don't lock the doors")
//! locked them: to a sentence encoder a request and its negation are the same words. A verb
//! said with "don't" asks for that thing not to be done, so the understanding says so and the
//! dialog does nothing; so is "leave the windows alone". "I don't need the AC any more" and 空调别开了 ("stop the AC") name no
//! action to withhold: they ask for a change, and stay with the classifier.

use std::sync::LazyLock;

use regex::Regex;

use cabin_language::Language;

/// Whether `text` (normalised) asks for an action not to be done.
pub(crate) fn negates_an_action(language: Language, text: &str) -> bool {
    static ENGLISH: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"^((please|no|oh|and|but|actually|just|okay|ok|so) )*(don't|dont|do not|never|no need to|there's no need to|you don't need to|you don't have to|you needn't) (you )?(open|close|shut|turn|switch|put|lock|unlock|set|change|heat|warm|cool|start|play|call|ring|navigate|roll|raise|lower|crack|move|adjust|touch|make)\b",
        )
        .expect("tested")
    });
    // Not 别开了 / 不要放了 ("stop it"): 了 after the verb asks for the change.
    static CHINESE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(不要|别|千万别|千万不要|不用|不必|没必要|用不着|不需要)(再|帮我|给我)?(把|将)?[^忘了]{0,6}?(打开|开|关|锁|解锁|调|放|播|升|降|加热)([^了]|$)")
            .expect("tested")
    });
    // "Leave the windows alone", "keep the seat heating as it is", 窗户别动.
    static LEAVE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^((please|just|and|but|ok|okay|so) )*(leave|keep) .{1,40}\b(alone|as (it is|they are|it was|they were)|the way (it is|they are))\b")
            .expect("tested")
    });
    static LEAVE_ZH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"别动|不要动|不用动|别碰|保持原样|保持不变|别管").expect("tested"));
    match language {
        Language::English => ENGLISH.is_match(text) || LEAVE.is_match(text),
        Language::Chinese => CHINESE.is_match(text) || LEAVE_ZH.is_match(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verb_said_with_dont_is_negated_and_a_wish_for_a_change_is_not() {
        let english = |text| negates_an_action(Language::English, text);
        for negated in
            ["don't open the windows it's raining", "please don't unlock the car", "no need to heat my seat", "do not open the trunk"]
        {
            assert!(english(negated), "{negated}");
        }
        for request in
            ["open the windows", "i don't need the air con any more", "don't let me forget my laptop", "don't forget to lock the car"]
        {
            assert!(!english(request), "{request}");
        }
        let chinese = |text| negates_an_action(Language::Chinese, text);
        for negated in ["别锁门", "不要开座椅加热", "座椅加热不用开", "别把车门解锁", "千万别开后备箱", "窗户别动"]
        {
            assert!(chinese(negated), "{negated}");
        }
        for request in ["空调别开了太吵", "先别放了", "不需要空调了", "别忘了开空调", "打开车窗"] {
            assert!(!chinese(request), "{request}");
        }
    }
}
