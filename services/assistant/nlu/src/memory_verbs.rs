//! Remembering and forgetting said about the same thing ("记住我喜欢二十三度", "忘掉我喜欢二十三
//! 度") lie close together for multilingual-e5, which weighs what is remembered above the verb,
//! and a held-out set found it choosing the wrong one. Once the classifier has chosen among the
//! memory intents, the verb decides which.

use std::sync::LazyLock;

use regex::Regex;

use cabin_language::Language;

const REMEMBER: &str = "memory.remember";
const FORGET: &str = "memory.forget";
const FACTS: &str = "memory.facts";

/// The memory intent `text`'s verb names, when `chosen` is one the verb can overrule: forgetting
/// overrules remembering and listing what is remembered ("把你记住的东西全忘了"); remembering
/// overrules forgetting. `None` keeps the classifier's choice.
pub(crate) fn intent_by_verb(language: Language, text: &str, chosen: &str) -> Option<&'static str> {
    // "别忘了" (don't forget) is remembering, and holds a 忘了.
    static KEEP: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"别忘|不要忘|不能忘").expect("tested"));
    static FORGET_VERB: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"忘掉|忘记|忘了|删掉|删了|删除|清除|清掉|清空|不用记|不用再记|别再记|不要再记|别记").expect("tested"));
    static REMEMBER_VERB: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"记住|记得|记一下|记下|记着|记好").expect("tested"));
    if language != Language::Chinese || ![REMEMBER, FORGET, FACTS].contains(&chosen) {
        return None;
    }
    let verb = if KEEP.is_match(text) {
        REMEMBER
    } else if FORGET_VERB.is_match(text) {
        FORGET
    } else if REMEMBER_VERB.is_match(text) && chosen != FACTS {
        REMEMBER
    } else {
        return None;
    };
    (verb != chosen).then_some(verb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verb_decides_between_remembering_and_forgetting() {
        let by_verb = |text, chosen| intent_by_verb(Language::Chinese, text, chosen);
        assert_eq!(by_verb("忘掉我喜欢二十三度", REMEMBER), Some(FORGET));
        assert_eq!(by_verb("不用记我每周三去健身了", REMEMBER), Some(FORGET));
        assert_eq!(by_verb("记住我车停在b2层", FORGET), Some(REMEMBER));
        assert_eq!(by_verb("别忘了我喜欢爵士乐", FORGET), Some(REMEMBER));
        assert_eq!(by_verb("把你记住的东西全忘了", FACTS), Some(FORGET));
        // Asking what is remembered stays asking, and other intents are not the verb's to change.
        assert_eq!(by_verb("你都记住了我什么", FACTS), None);
        assert_eq!(by_verb("忘掉我喜欢二十三度", FORGET), None);
        assert_eq!(by_verb("记得把空调打开", "climate.set_ac"), None);
        assert_eq!(intent_by_verb(Language::English, "forget my address", REMEMBER), None);
    }
}
