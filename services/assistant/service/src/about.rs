//! "What can you do?", "help", "what's your name?": answered by the car from what it really can
//! do (its tasks, and the services that are up), never by a model's guess.

use cabin_dialog::TaskBook;
use cabin_nlu::Language;

/// Whether the words ask what the assistant is or can do.
pub(crate) fn asks_about_me(text: &str) -> bool {
    if Language::of(text) == Language::Chinese {
        let words: String = text.chars().filter(|c| c.is_alphanumeric()).collect();
        const ASKS: &[&str] = &[
            "你能做什么",
            "你会什么",
            "你会做什么",
            "你可以做什么",
            "你能干什么",
            "你有什么功能",
            "你是谁",
            "你叫什么",
            "你叫什么名字",
            "帮助",
            "我可以问你什么",
        ];
        return ASKS.contains(&words.trim_end_matches(['呀', '啊', '呢', '吗']));
    }
    let words: String = text.to_lowercase().chars().filter(|c| c.is_alphanumeric() || c.is_whitespace() || *c == '\'').collect();
    let words = words.split_whitespace().collect::<Vec<_>>().join(" ");
    const ASKS: &[&str] = &[
        "help",
        "help me",
        "what can you do",
        "what else can you do",
        "what do you do",
        "what are you able to do",
        "what can i ask",
        "what can i ask you",
        "what can i say",
        "how can you help",
        "how can you help me",
        "what's your name",
        "what is your name",
        "who are you",
        "what are you",
    ];
    let words = words.trim_start_matches("hey ").trim_start_matches("so ").trim_end_matches(" please");
    ASKS.contains(&words)
}

/// The persona's name ("You are Cabin, ..." gives "Cabin").
fn name_in(persona: &str) -> Option<&str> {
    let after = persona.split_once("You are ")?.1;
    let name = after.split(|c: char| !c.is_alphanumeric() && c != '-').next()?;
    (!name.is_empty() && name.chars().next().is_some_and(char::is_uppercase)).then_some(name)
}

/// "a, b and c".
fn listing(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The answer: the assistant's name and the abilities whose services answer on `connection`.
pub(crate) async fn about_me(persona: &str, tasks: &TaskBook, connection: &zbus::Connection, language: Language) -> String {
    let dbus = zbus::fdo::DBusProxy::new(connection).await.ok();
    let mut can = Vec::new();
    let mut away = Vec::new();
    for (ability, service) in tasks.abilities(language) {
        let up = match (service, &dbus) {
            (None, _) => true,
            (Some(service), Some(dbus)) => match zbus::names::BusName::try_from(service) {
                Ok(name) => dbus.name_has_owner(name).await.unwrap_or(false),
                Err(_) => false,
            },
            (Some(_), None) => false,
        };
        if up {
            can.push(ability);
        } else if !away.contains(&ability) {
            away.push(ability);
        }
    }
    if language == Language::Chinese {
        let who = name_in(persona).map_or_else(|| "我是车载助手。".to_string(), |name| format!("我是{name}，车载助手。"));
        let mut reply = format!("{who}我可以{}，还能告诉您车辆的情况。", can.join("、"));
        if !away.is_empty() {
            reply.push_str(&format!("现在还不能{}：车上这部分没有响应。", away.join("、")));
        }
        return reply;
    }
    let who = match name_in(persona) {
        Some(name) => format!("I'm {name}, the car's assistant."),
        None => "I'm the car's assistant.".to_string(),
    };
    let mut reply = format!("{who} I can {}, and tell you about the car.", listing(&can));
    if !away.is_empty() {
        reply.push_str(&format!(" Right now I can't {}: that part of the car is not responding.", listing(&away)));
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_about_the_assistant_are_told_from_requests() {
        for asked in ["你能做什么？", "你是谁", "What can you do?", "help", "Hey, what's your name?", "who are you", "what can I ask you"]
        {
            assert!(asks_about_me(asked), "{asked}");
        }
        for other in ["帮我打开车窗", "help me open the window", "what can you tell me about black holes", "why is the sky blue"] {
            assert!(!asks_about_me(other), "{other}");
        }
        assert_eq!(name_in("You are Cabin, the voice assistant"), Some("Cabin"));
        assert_eq!(name_in("Be helpful."), None);
    }
}
