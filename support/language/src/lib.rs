//! Which language a text is in. Cabin understands English and Mandarin; the script tells them
//! apart without a model: speech recognisers write Mandarin in Han characters.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub enum Language {
    #[default]
    #[serde(rename = "en")]
    English,
    #[serde(rename = "zh")]
    Chinese,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::English, Language::Chinese];

    /// Chinese when the text holds a Han character: "把AC打开" is Mandarin with an English word in it.
    pub fn of(text: &str) -> Language {
        if text.chars().any(is_han) {
            Language::Chinese
        } else {
            Language::English
        }
    }

    /// The ISO 639-1 code: what whisper, configuration files and the wire use.
    pub fn code(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::Chinese => "zh",
        }
    }

    pub fn from_code(code: &str) -> Option<Language> {
        Language::ALL.into_iter().find(|language| language.code() == code)
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// CJK unified ideographs, their extension A and the compatibility block.
pub fn is_han(c: char) -> bool {
    matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}' | '\u{f900}'..='\u{faff}')
}

#[cfg(test)]
mod tests {
    use super::Language;

    #[test]
    fn the_script_names_the_language() {
        assert_eq!(Language::of("set it to 22"), Language::English);
        assert_eq!(Language::of("把AC打开"), Language::Chinese);
        assert_eq!(Language::of("不是上海，是深圳"), Language::Chinese);
        assert_eq!(Language::from_code("zh"), Some(Language::Chinese));
        assert_eq!(Language::from_code("fr"), None);
    }
}
