//! The extractors for Mandarin: patterns over characters (no word boundaries: Chinese is written
//! without spaces), numbers already as digits (`chinese_text.rs`). Values are the same as in
//! English ("driver", "on", 22), so tasks and the vehicle bus never see the language; free text
//! stays as said ("深圳").

use std::sync::LazyLock;

use regex::Regex;

use super::{first_of, re, FreeText, SlotKind, SlotValue};

pub(super) fn extract(kind: SlotKind, text: &str) -> Option<SlotValue> {
    let word = |s: &str| Some(SlotValue::Text(s.to_string()));
    match kind {
        SlotKind::Temperature => temperature(text).map(SlotValue::Number),
        SlotKind::Zone => zone(text).and_then(word),
        SlotKind::OpenPercent => open_percent(text).map(SlotValue::Number),
        SlotKind::HeatLevel => heat_level(text).map(SlotValue::Number),
        SlotKind::VolumeLevel => volume_level(text).map(SlotValue::Number),
        SlotKind::Step => step(text).map(SlotValue::Number),
        SlotKind::Warmth => warmth(text).and_then(word),
        SlotKind::Loudness => loudness(text).and_then(word),
        SlotKind::HeatStep => first_of(&HEAT_STEP, text).and_then(word),
        SlotKind::OpenStep => open_step(text).and_then(word),
        SlotKind::Closing => CLOSING.is_match(text).then(|| SlotValue::Text("closed".into())),
        SlotKind::Switch => switch(text).and_then(word),
        SlotKind::LockState => lock_state(text).and_then(word),
        SlotKind::VehicleSignal => first_of(&VEHICLE_SIGNAL, text).and_then(word),
        SlotKind::Region => first_of(&REGION, text).and_then(word),
        SlotKind::MediaAction => first_of(&MEDIA_ACTION, text).and_then(word),
        SlotKind::Destination => DESTINATION.value(&RECIPIENT.replace_all(&ARRIVAL_TIME.replace_all(text, ""), "")),
        SlotKind::Contact => CONTACT.value(text).filter(|v| !is_vague(&v.to_string())),
        SlotKind::Object => OBJECT.value(text),
        SlotKind::MediaQuery => MEDIA_QUERY.value(text).filter(|v| !is_vague(&v.to_string())),
        SlotKind::Fact => FACT.value(text).filter(|v| !is_pointer(&v.to_string())),
        SlotKind::Period => first_of(&PERIOD, text).and_then(word),
        SlotKind::Reminder => REMINDER.value(&WHEN_PARKED.replace_all(text, "")),
    }
}

/// The answer inside a request of its kind ("深圳吧" after "去哪里？" reads as "导航去深圳吧").
pub(super) fn as_request(kind: SlotKind, answer: &str) -> Option<String> {
    match kind {
        SlotKind::Destination => Some(format!("导航去{answer}")),
        SlotKind::Contact => Some(format!("打电话给{answer}")),
        SlotKind::Object => Some(format!("我的{answer}在车里吗")),
        SlotKind::MediaQuery => Some(format!("播放{answer}")),
        SlotKind::Reminder => Some(format!("提醒我{answer}")),
        _ => None,
    }
}

pub(super) fn is_no_value(value: &str) -> bool {
    value.is_empty() || TRAILING.contains(&value) || YES_OR_NO.contains(&value)
}

const YES_OR_NO: &[&str] = &["好", "好的", "是", "是的", "对", "对的", "行", "可以", "嗯", "不", "不是", "不要", "不用", "没有", "谢谢"];
/// Particles and politeness around a value: "深圳吧" is 深圳, "我的帽子" is 帽子.
const LEADING: &[&str] = &[
    "我的",
    "我们的",
    "那个",
    "这个",
    "一个",
    "一只",
    "一把",
    "一件",
    "一本",
    "一瓶",
    "一条",
    "一些",
    "一下",
    "个",
    "请",
    "帮我",
    "给我",
    "打给",
    "给",
    "去",
    "到",
    "回",
];
const TRAILING: &[&str] = &[
    "吧",
    "啊",
    "呀",
    "呢",
    "吗",
    "嘛",
    "哦",
    "了",
    "的",
    "一下",
    "谢谢",
    "好吗",
    "好不好",
    "可以吗",
    "行吗",
    "就行",
    "就好",
    "那里",
    "那儿",
    "这里",
    "吧谢谢",
    "怎么走",
    "的路线",
    "的路",
    "再说",
    "就可以",
    "请",
];

pub(super) fn trim_value(value: &str) -> String {
    let mut value = value.trim();
    loop {
        let before = value;
        if let Some(rest) = LEADING.iter().find_map(|p| value.strip_prefix(p)).filter(|rest| !rest.is_empty()) {
            value = rest;
        }
        if let Some(rest) = TRAILING.iter().find_map(|p| value.strip_suffix(p)).filter(|rest| !rest.is_empty()) {
            value = rest;
        }
        if value == before {
            return value.to_string();
        }
    }
}

/// "调高2度", "升3度", "再低两度": a number after a direction says how far, never a value
/// ("最低18度" is a value). A step of 16 degrees or more, a cabin's temperature, is no step
/// anyone asks for: "温度叫大二十二度" is "调到" misheard, and 22 the temperature.
fn relative_number(text: &str) -> Option<(std::ops::Range<usize>, f64)> {
    static RELATIVE: LazyLock<Regex> = LazyLock::new(|| re(r"(?:高|低|升|降|加|减|大|小|暖|凉|热|冷)(?:了|个)?(\d+(?:\.\d+)?)(度)?"));
    RELATIVE.captures_iter(text).filter(|c| !text[..c.get(0).map_or(0, |m| m.start())].ends_with('最')).find_map(|c| {
        let number: f64 = c.get(1)?.as_str().parse().ok()?;
        let degrees = c.get(2).is_some();
        (!degrees || number < 16.0).then_some((c.get(0)?.range(), number))
    })
}

fn step(text: &str) -> Option<f64> {
    relative_number(text).map(|(_, n)| n)
}

/// The numbers said as values, with where they start; the sizes of steps are left out.
fn numbers(text: &str) -> impl Iterator<Item = (usize, f64)> + '_ {
    static NUMBER: LazyLock<Regex> = LazyLock::new(|| re(r"\d+(?:\.\d+)?"));
    let step = relative_number(text).map(|(range, _)| range);
    NUMBER
        .find_iter(text)
        .filter(move |m| !step.as_ref().is_some_and(|step| step.contains(&m.start())))
        .filter_map(|m| m.as_str().parse().ok().map(|n| (m.start(), n)))
}

fn temperature(text: &str) -> Option<f64> {
    // A value set outright ("调到40度"), outside a cabin's usual range: kept, for the vehicle bus
    // to refuse in words.
    static SET_TO: LazyLock<Regex> = LazyLock::new(|| re(r"(?:调到|调成|设到|设为|设置为|设置到|开到)(\d+(?:\.\d+)?)"));
    numbers(text)
        .find_map(|(_, n)| (10.0..=32.0).contains(&n).then_some(n))
        .or_else(|| SET_TO.captures(text)?.get(1)?.as_str().parse().ok().filter(|n| (0.0..=100.0).contains(n)))
}

fn zone(text: &str) -> Option<&'static str> {
    static TABLE: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
        vec![
            ("rear_left", re(r"后排左|左后|后面左|后座左|左边后|左侧后")),
            ("rear_right", re(r"后排右|右后|后面右|后座右|右边后|右侧后")),
            // Both rear seats: a group the task runs for each of its zones, as for "all".
            ("rear", re(r"后排|后座|后面的(?:座|窗|车窗)|后边的(?:座|窗|车窗)")),
            ("passenger", re(r"副驾|乘客|旁边|右前|前排右")),
            ("driver", re(r"主驾|驾驶|司机|我这边|我这侧|我这一侧|我的座|我这|左前|前排左|我自己")),
            ("front", re(r"前排|前面的(?:座|窗|车窗)|前边的(?:座|窗|车窗)")),
            ("all", re(r"全车|所有|全部|每个|都|两边|四个|整车|全都|全(?:关|开|打开|降|升|摇)")),
        ]
    });
    first_of(&TABLE, text)
}

static WINDOW_CLOSING: LazyLock<Regex> = LazyLock::new(|| re(r"关|升上|摇上|升起|合上|升回|摇起|升"));

/// 再开大一点 ("open it a bit more") is up, 关小一点 and 关一点 ("close it a little") down; a plain
/// 开一点 ("open it a little") is no step but 20 %.
fn open_step(text: &str) -> Option<&'static str> {
    static WIDER: LazyLock<Regex> = LazyLock::new(|| re(r"大一?点|大一些|大些|多开"));
    static NARROWER: LazyLock<Regex> = LazyLock::new(|| re(r"小一?点|小一些|小些|少开"));
    static A_LITTLE: LazyLock<Regex> = LazyLock::new(|| re(r"一点|一些|点儿"));
    // 开大点，全打开 ("wider, all the way"): the last word says how far.
    static HOW_FAR: LazyLock<Regex> = LazyLock::new(|| re(r"全|到底|一半|四分之一"));
    if numbers(text).next().is_some() || HOW_FAR.is_match(text) {
        return None;
    }
    if NARROWER.is_match(text) || (WINDOW_CLOSING.is_match(text) && A_LITTLE.is_match(text)) {
        Some("down")
    } else if WIDER.is_match(text) {
        Some("up")
    } else {
        None
    }
}

fn open_percent(text: &str) -> Option<f64> {
    static A_LITTLE: LazyLock<Regex> = LazyLock::new(|| re(r"一点|一些|一条缝|缝|稍微|一小半|小半"));
    static OPEN: LazyLock<Regex> = LazyLock::new(|| re(r"开|降下|摇下|放下|降到底|落下"));
    // 三分之一 is read as 3分之1 ("one third").
    static FRACTION: LazyLock<Regex> = LazyLock::new(|| re(r"([1-9一二三四五六七八九])分之([1-9一二三四五六七八九])"));
    let digit =
        |s: &str| s.parse::<f64>().ok().or_else(|| "一二三四五六七八九".chars().position(|c| s.starts_with(c)).map(|i| i as f64 + 1.0));
    if let Some((whole, part)) = FRACTION.captures(text).and_then(|c| Some((digit(&c[1])?, digit(&c[2])?))) {
        return Some((100.0 * part / whole).round().min(100.0));
    }
    if let Some((_, n)) = numbers(text).next() {
        return Some(n);
    }
    if open_step(text).is_some() {
        return None;
    }
    if text.contains("一半") {
        Some(50.0)
    } else if text.contains("四分之一") {
        Some(25.0)
    } else if WINDOW_CLOSING.is_match(text) {
        Some(0.0)
    } else if A_LITTLE.is_match(text) {
        // A hand's width, as in English ("crack the window").
        Some(20.0)
    } else if OPEN.is_match(text) {
        Some(100.0)
    } else {
        None
    }
}

fn heat_level(text: &str) -> Option<f64> {
    // 调高一档 is a step of one, not level one: a number after 高, 低, 降… is how far to go.
    static LEVEL: LazyLock<Regex> = LazyLock::new(|| re(r"(?:^|[^高低大小降升加减])(\d+)(?:档|级)|(?:档|级)(?:位)?(?:调到|到|为)?(\d+)"));
    if let Some(level) = LEVEL.captures(text).and_then(|c| c.get(1).or(c.get(2))).and_then(|m| m.as_str().parse().ok()) {
        Some(level)
    } else if text.contains('关') {
        Some(0.0)
    } else if ["最高", "最大", "最热", "高档", "开到最"].iter().any(|w| text.contains(w)) {
        Some(3.0)
    } else if ["最低", "低档", "小档", "低一点"].iter().any(|w| text.contains(w)) {
        Some(1.0)
    } else if ["中档", "中间", "适中"].iter().any(|w| text.contains(w)) {
        Some(2.0)
    } else {
        None
    }
}

fn volume_level(text: &str) -> Option<f64> {
    static SILENCE: LazyLock<Regex> = LazyLock::new(|| re(r"静音|(?:声音|音量)(?:给)?关(?:了|掉|上)|关(?:掉|了)?(?:声音|音量)"));
    if SILENCE.is_match(text) {
        Some(0.0)
    } else if ["最大", "开到最", "调到最高"].iter().any(|w| text.contains(w)) {
        Some(100.0)
    } else if let Some((_, n)) = numbers(text).next() {
        Some(n)
    } else {
        text.contains("一半").then_some(50.0)
    }
}

fn warmth(text: &str) -> Option<&'static str> {
    // Comparatives say the wanted direction; feelings say the opposite of what is felt.
    // 再低两度: "again" before a comparative and a step.
    static UP: LazyLock<Regex> = LazyLock::new(|| re(r"(?:暖|热|高)(?:一点|一些|点|些)|调高|升高|提高|加热|升温|往上|暖和|再(?:暖|热|高)"));
    static DOWN: LazyLock<Regex> = LazyLock::new(|| re(r"(?:凉|冷|低)(?:一点|一些|点|些)|调低|降低|降温|往下|凉快|再(?:凉|冷|低)"));
    static FEELS_COLD: LazyLock<Regex> = LazyLock::new(|| re(r"冷|冻|凉"));
    static FEELS_HOT: LazyLock<Regex> = LazyLock::new(|| re(r"热|闷|烫|晒|出汗"));
    if UP.is_match(text) {
        Some("up")
    } else if DOWN.is_match(text) {
        Some("down")
    } else if FEELS_COLD.is_match(text) {
        Some("up")
    } else if FEELS_HOT.is_match(text) {
        Some("down")
    } else if text.contains('升') || text.contains('加') {
        Some("up")
    } else if text.contains('降') || text.contains('减') {
        Some("down")
    } else {
        None
    }
}

static HEAT_STEP: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    vec![
        ("down", re(r"(?:低|凉|小)(?:一点|一些|点|些)|调低|调小|降低|[降减]\d|太热|太烫|太大")),
        ("up", re(r"(?:高|热|大)(?:一点|一些|点|些)|调高|调大|升高|[升加]\d|再热|加大|太小")),
    ]
});

static CLOSING: LazyLock<Regex> = LazyLock::new(|| re(r"关|合上"));

fn loudness(text: &str) -> Option<&'static str> {
    static DOWN: LazyLock<Regex> =
        LazyLock::new(|| re(r"太(?:大|吵|响)|吵死|小(?:一点|一些|点|些|声)|调小|调低|关小|降低|轻(?:一点|点)|减"));
    static UP: LazyLock<Regex> = LazyLock::new(|| re(r"大(?:一|点|些|声)|调大|调高|开大|提高|听不(?:见|清|到)|太小|响(?:一点|点)|加"));
    if DOWN.is_match(text) {
        Some("down")
    } else if UP.is_match(text) {
        Some("up")
    } else {
        None
    }
}

fn switch(text: &str) -> Option<&'static str> {
    static OFF: LazyLock<Regex> = LazyLock::new(|| re(r"关|停|不要开|不需要|不用开|别开"));
    static ON: LazyLock<Regex> = LazyLock::new(|| re(r"开|启动|启用|打开"));
    if OFF.is_match(text) {
        Some("off")
    } else if ON.is_match(text) {
        Some("on")
    } else {
        None
    }
}

fn lock_state(text: &str) -> Option<&'static str> {
    static UNLOCK: LazyLock<Regex> =
        LazyLock::new(|| re(r"解锁|解一下锁|开锁|开一下(?:门)?锁|打开车门|开车门|开门|解开|锁打开|锁开|打开.*锁"));
    if UNLOCK.is_match(text) {
        Some("unlocked")
    } else if text.contains('锁') {
        Some("locked")
    } else {
        None
    }
}

static VEHICLE_SIGNAL: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    vec![
        ("trunk_lock_state", re(r"(后备箱|后备厢|尾门).*锁|锁.*(后备箱|后备厢|尾门)")),
        ("lock_state", re(r"锁")),
        ("seat_heating_state", re(r"座椅加热|座椅.*(热|暖)|加热座椅")),
        ("volume", re(r"音量|声音")),
        ("window_state", re(r"窗")),
        ("trunk_state", re(r"后备箱|后备厢|尾门")),
        ("ac_state", re(r"空调|冷气")),
        ("light_state", re(r"灯")),
        ("tire_pressure", re(r"胎压|轮胎|气压")),
        ("range", re(r"续航|还能(?:跑|开|走)|多远|里程|公里")),
        ("battery_level", re(r"电量|电池|电还|没电|充电|几格电|多少电")),
        ("fuel_level", re(r"油")),
        ("outside_temperature", re(r"外面|外边|室外|车外|外头|天气")),
        ("cabin_temperature", re(r"车里|车内|里面|温度|多少度|热不热|冷不冷")),
        ("speed", re(r"速度|车速|多快|时速|开得")),
    ]
});

static REGION: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    vec![
        ("trunk", re(r"后备箱|尾箱|后尾箱|行李箱")),
        ("footwell", re(r"脚下|脚底|脚垫|地上|地板|座位底下|座椅下")),
        ("rear_left", re(r"后排左|左后|后座左")),
        ("rear_right", re(r"后排右|右后|后座右")),
        ("rear", re(r"后排|后座|后面|后边")),
        ("passenger", re(r"副驾")),
        ("driver", re(r"主驾|驾驶座|驾驶位|我的座位|我座位")),
    ]
});

static MEDIA_ACTION: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    vec![
        ("previous", re(r"上一(?:首|曲|个|集)|前一(?:首|曲)|返回上")),
        ("next", re(r"下一(?:首|曲|个|集)|切歌|跳过|换一首|换首|换歌")),
        // Before pause: "别停，接着放" plays on.
        ("resume", re(r"继续|接着(?:放|听|播)|恢复播放|别停")),
        ("pause", re(r"暂停|停|别放|不听了|关掉音乐|先关")),
    ]
});

static PERIOD: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    vec![
        ("this morning", re(r"早上|上午|早晨|今早")),
        ("this afternoon", re(r"下午|中午")),
        ("this evening", re(r"晚上|今晚|傍晚")),
        ("yesterday", re(r"昨天|昨晚")),
        ("today", re(r"今天|今儿")),
        ("this week", re(r"这周|本周|这个星期|这礼拜|上周")),
    ]
});

/// "……发到我手机上", "……分享给小李": where the destination is sent, not where to go ("把去深圳
/// 的路线" stays).
static RECIPIENT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^(?:能不能|能否|可以|可不可以|请|麻烦)?(?:帮我)?(?:把|(?:发|传|推送)(?:一下|个)?)|(?:的?(?:步行|走路|徒步)?(?:目的地|路线|导航|地址))?(?:(?:发|传|同步|推送|推|分享)(?:到|给|至)?|到|给|至)(?:我的?)?手机(?:上|里)?.*$|的?(?:分享|发送|发|共享)(?:一下)?给.*$",
    )
});

/// "到达时间" names when, not where: "把到达时间分享给王总" has no destination.
static ARRIVAL_TIME: LazyLock<Regex> = LazyLock::new(|| re(r"(?:预计)?(?:到达|抵达)(?:的)?(?:时间|时刻)"));

/// "停车的时候" and the like: when the reminder goes off, not what it says.
static WHEN_PARKED: LazyLock<Regex> = LazyLock::new(|| {
    // Said with a "when" around it, so that "交停车费" keeps its 停车.
    const PARKING: &str = "(?:停好车|停完车|停车|停下来|停好|下车|熄火|到了|到达)(?:了)?";
    const WHEN: &str = "(?:以后|之后|后|的时候|时)";
    re(&format!(r"(?:等|当|在)(?:我|我们|咱们)?{PARKING}{WHEN}?(?:再)?|(?:我|我们|咱们)?{PARKING}{WHEN}(?:再)?|^到了"))
});

/// "提醒我带伞": what the phone reminds the driver of.
static REMINDER: LazyLock<FreeText> = LazyLock::new(|| {
    FreeText::new(&[
        r"(?:提醒|叫我|让我)(?:我们|我|一下我|一下)?(?:一下)?(?:要|记得|别忘了|不要忘了)?(.+?)(?:吧|啊|哦|呀|一下)?$",
        r"(?:别让我忘了|不要让我忘了|别忘了提醒我|记得提醒我)(?:要)?(.+?)(?:吧|啊|哦|呀)?$",
        r"(?:设|设置|定|加)(?:一个|个)?提醒[:：，,]?(?:要)?(.+?)(?:吧)?$",
    ])
});

static DESTINATION: LazyLock<FreeText> = LazyLock::new(|| {
    FreeText::new(&[
        r"(?:找|搜)(?:一下|一个|个)?(.+?)(?:然后)?(?:导航|带我|开|导)过去",
        r"^(.+?) ?(?:带我|导航|导|开)过去$",
        // When to get there: "告诉老婆我几点到家", "把我到酒店的时间发给她".
        r"(?:几点|什么时候|多久|多长时间)(?:能|会)?(?:到|回|抵达)(.+?)(?:吧|啊|呢)?$",
        r"我(?:大概|预计)?(?:到|回)(.+?)的时间",
        r"^(.+?)的(?:位置|定位)$",
        r"(?:带我|送我|载我|开车)?回(家|公司|酒店)",
        r"(?:导航到|导航去|导航至|导航|开导航去|带我去|送我去|送我到|带我到|开到|开去|我要去|我想去|我要到|我想到|前往|去往|我们去|咱们去|出发去|出发到|设置目的地为?|目的地(?:是|设为|设成|设置为|设置成|改成|改为|换成|定为)?|路线到|怎么去|怎么到)(.+?)(?:怎么走|的路线|的路|吧|啊|呢|呀)?$",
        r"^(?:去|到)(.+?)(?:怎么走|的路线|的路|吧|啊|呢|呀)?$",
        // "停车后还得走一段，把去餐厅……", "下车后去会展中心……".
        r"(?:把|后)(?:去|到)(.+?)(?:怎么走|的路线|的路|吧|啊|呢|呀)?$",
        r"^(.+?)(?:怎么走|怎么去)$",
    ])
});

static CONTACT: LazyLock<FreeText> = LazyLock::new(|| {
    FreeText::new(&[
        // Sharing the arrival time: "把到达时间分享给安娜", "告诉老王我几点到".
        r"(?:到达时间|到达时刻|抵达时间|到的时间|预计到达|行程|位置)(?:分享|发送|发|告诉|同步|共享)(?:一下)?给(.+?)(?:吧|一下|好吗)?$",
        r"(?:分享|发送|发|共享)给(.+?)(?:我的?)?(?:预计)?(?:到达时间|到达时刻|抵达时间|行程)",
        r"让(.+?)知道",
        r"(?:分享|共享|发送|发)给(.+?)(?:吧|一下)?$",
        r"(?:分享|共享|发送|发)(?:一下)?(?:我的?)?(?:预计)?(?:到达时间|到达时刻|抵达时间|行程)给(.+?)(?:吧|一下)?$",
        r"(?:告诉|通知|跟|和|给)(.+?)(?:说一下|说一声|说|讲)?(?:一下)?我(?:们)?(?:大概|预计|大约|还有|还要|还得)?(?:几点|什么时候|多久|多长时间)(?:能|会)?(?:到|回|抵达)",
        r"(?:打电话给|打个电话给|电话打给|打给|拨给|拨打|拨通|呼叫|联系|致电|call)(?:一下)?(.+?)(?:的电话|的手机|电话|打(?:他|她)的?(?:手机|电话))?$",
        r"给(.+?)(?:打|拨)(?:个|一个|通)?(?:电话|过去)",
        r"^(?:帮我|麻烦)?(?:拨|打一下)(\d+)$",
        r"^(?:帮我|麻烦)?(?:拨|打)(?:一下)?(.+?)的(?:电话|手机|号码)",
        r"^(?:帮我)?(?:打|拨)(.+?)的(?:电话|手机)",
    ])
});

static OBJECT: LazyLock<FreeText> = LazyLock::new(|| {
    FreeText::new(&[
        r"我的(.+?)(?:是不是|还在|在不在|在|落|忘|丢|掉|放|吗|呢|没有|没|$)",
        r"(?:有没有|有个|有一个|有只|有条|有把|有件|有瓶|有本)(?:落下|落了|忘了|丢了|留下)?(?:我的)?(.+?)(?:吗|呢|没有|没)?$",
        r"(?:里|上|下|边)(?:还)?有(?:我的)?(.+?)(?:吗|呢|没有|没)$",
        r"^我(.+?)(?:是不是|还在|在不在|在|落|忘|丢|放)",
        r"(?:有没有|有个|有一个|找一下|找找|找|看看|看一下|看到|看见|忘了|落了|落下|丢了|留在车里的)(.+?)(?:是不是|还|有没有|在不在|在|落|忘|丢|放|吗|呢|没有|没)",
        // "钥匙掉座位底下了": what fell, then where.
        r"^(?:我的?)?(.+?)(?:掉|落|丢)(?:到|在|了|哪|座|脚|地)",
        r"(?:我的|有没有|找一下|找找|找|看看|看一下|看到|看见)(.+)$",
        r"^(.+?)(?:是不是|还|有没有)?(?:在不在|在|落在|忘在|丢在|放在)",
    ])
});

static MEDIA_QUERY: LazyLock<FreeText> = LazyLock::new(|| {
    FreeText::new(&[
        r"(?:播放|放一首|放几首|放首|放一下|放点儿|放点|放个|放一段|放段|放|听一下|听听|听点儿|听点|听|来一首|来几首|来首|来一段|来段|来点儿|来点|来一点|来个|我想听|我要听|切到)(?:歌单|专辑|电台|播客|有声书)?(.+?)(?:给.+听)?(?:的歌曲|的歌|的音乐|的专辑|的有声书|的相声|的评书|的播客|的小说|这首歌|这张专辑|这首|这张|听听|吧|啊|呀)*$",
        r"(?:打开|切换到|换到)(.+?(?:广播|电台|之声|频道|fm))",
    ])
});

fn is_vague(value: &str) -> bool {
    matches!(
        value,
        "一下"
            | "音乐"
            | "歌"
            | "歌曲"
            | "首歌"
            | "一首歌"
            | "点歌"
            | "点音乐"
            | "什么"
            | "东西"
            | "他"
            | "她"
            | "它"
            | "谁"
            | "人"
            | "随便"
    )
}

/// "那个", "刚才让你记的", "你记住的所有": a fact pointed at, not said (the dialog asks which).
fn is_pointer(fact: &str) -> bool {
    matches!(fact, "这个" | "那个" | "它")
        || ["让你记", "你记的", "你记住的", "刚才说的", "刚说的", "所有"].iter().any(|p| fact.contains(p))
}

/// One set for remembering and forgetting: the ways of saying "forget" come first, as "别再记着"
/// holds a "记着".
static FACT: LazyLock<FreeText> = LazyLock::new(|| {
    FreeText::new(&[
        r"(?:别再|不要再|别|不用再|不用)记(?:着|住|得)?(.+?)(?:这件事|这条|这个)?了?$",
        r"把(.+?)(?:这条记录|这件事|这条|这个|那个|那条)?(?:给)?(?:删了|删掉|删除|忘掉|忘了|忘记|清除|清掉)",
        r"记的(?:那个|那条)?(.+?)(?:删掉|删了|删除|忘掉|忘了)",
        r"^你?(?:忘掉|忘记|忘了|删掉|删除|清除)(?:你记住的|你记的|记住的)?(?:关于)?(.+?)(?:的事|这件事|那件事|这条|那条|的记忆|的记录|吧)*$",
        r"(?:请|帮我|麻烦)?(?:记住|记下来|记下|记一下|记好了|记好|记着|记得|别忘了|不要忘了|你要记住)(?:了|来)?(.+)$",
    ])
});

#[cfg(test)]
mod tests {
    use super::super::{reads, SlotKind};

    #[test]
    fn temperatures_steps_and_directions() {
        reads(&[
            (SlotKind::Temperature, "把温度调到二十二度", Some("22")),
            (SlotKind::Temperature, "把温度调到四十度", Some("40")),
            (SlotKind::Temperature, "二十一点五度", Some("21.5")),
            (SlotKind::Temperature, "调高两度", None),
            (SlotKind::Step, "调高两度", Some("2")),
            (SlotKind::Step, "把温度调到二十二度", None),
            (SlotKind::Step, "温度叫大二十二度", None),
            (SlotKind::Temperature, "温度叫大二十二度", Some("22")),
            (SlotKind::Step, "音量调大二十", Some("20")),
            (SlotKind::Warmth, "调高一点", Some("up")),
            (SlotKind::Warmth, "我好冷", Some("up")),
            (SlotKind::Warmth, "太热了", Some("down")),
            (SlotKind::Warmth, "凉快一点", Some("down")),
            (SlotKind::Warmth, "再低两度", Some("down")),
            (SlotKind::Warmth, "再高2度", Some("up")),
        ]);
    }

    #[test]
    fn seats_windows_and_switches() {
        reads(&[
            (SlotKind::Zone, "主驾", Some("driver")),
            (SlotKind::Zone, "副驾驶也一样", Some("passenger")),
            (SlotKind::Zone, "后排左侧的车窗", Some("rear_left")),
            (SlotKind::OpenPercent, "把车窗打开一半", Some("50")),
            (SlotKind::OpenPercent, "关上车窗", Some("0")),
            (SlotKind::OpenPercent, "打开车窗", Some("100")),
            (SlotKind::OpenPercent, "车窗开一点", Some("20")),
            (SlotKind::OpenPercent, "再开大一点", None),
            (SlotKind::OpenStep, "再开大一点", Some("up")),
            (SlotKind::OpenStep, "关小一点", Some("down")),
            (SlotKind::OpenStep, "车窗关一点", Some("down")),
            (SlotKind::OpenStep, "车窗开一点", None),
            (SlotKind::OpenStep, "窗户开大点全打开", None),
            (SlotKind::OpenPercent, "主驾车窗开三分之一", Some("33")),
            (SlotKind::OpenPercent, "车窗开四分之三", Some("75")),
            (SlotKind::HeatLevel, "座椅加热开到三档", Some("3")),
            (SlotKind::HeatStep, "风太小了", Some("up")),
            (SlotKind::HeatStep, "出风太大", Some("down")),
            (SlotKind::HeatLevel, "风速调高一档", None),
            (SlotKind::HeatStep, "风速调高一档", Some("up")),
            (SlotKind::HeatLevel, "座椅加热降一档", None),
            (SlotKind::HeatStep, "座椅加热降一档", Some("down")),
            (SlotKind::HeatLevel, "风量调到一档", Some("1")),
            (SlotKind::VolumeLevel, "音量调到百分之五十", Some("50")),
            (SlotKind::Switch, "把空调关了", Some("off")),
            (SlotKind::Switch, "打开空调", Some("on")),
            (SlotKind::LockState, "锁车", Some("locked")),
            (SlotKind::LockState, "解锁车门", Some("unlocked")),
        ]);
    }

    #[test]
    fn free_text_keeps_the_name_and_loses_the_particles() {
        reads(&[
            (SlotKind::Destination, "导航去深圳", Some("深圳")),
            (SlotKind::Destination, "带我去最近的充电站吧", Some("最近的充电站")),
            (SlotKind::Destination, "把去深圳的路线发到手机上", Some("深圳")),
            (SlotKind::Destination, "把目的地发到我手机上", None),
            (SlotKind::Contact, "给妈妈打个电话", Some("妈妈")),
            (SlotKind::Contact, "把到达时间分享给安娜", Some("安娜")),
            (SlotKind::Contact, "告诉老王我几点到", Some("老王")),
            (SlotKind::Reminder, "停车的时候提醒我带伞", Some("带伞")),
            (SlotKind::Reminder, "提醒我停好车以后拿上后座的包", Some("拿上后座的包")),
            (SlotKind::Reminder, "到了别忘了提醒我买牛奶", Some("买牛奶")),
            (SlotKind::Reminder, "停车后记得提醒我交停车费", Some("交停车费")),
            (SlotKind::Destination, "把到达时间分享给王总", None),
            (SlotKind::Destination, "把去博物馆的步行路线发到我手机", Some("博物馆")),
            (SlotKind::Object, "我的帽子在车里吗", Some("帽子")),
            (SlotKind::MediaQuery, "播放周杰伦的歌", Some("周杰伦")),
            (SlotKind::MediaQuery, "放点音乐", None),
            (SlotKind::Fact, "记住我喜欢二十二度", Some("我喜欢22度")),
            (SlotKind::VehicleSignal, "还能跑多远", Some("range")),
            (SlotKind::VehicleSignal, "后备箱锁了吗", Some("trunk_lock_state")),
            (SlotKind::VehicleSignal, "座椅加热开着吗", Some("seat_heating_state")),
        ]);
    }

    #[test]
    fn rows_silence_and_the_ways_round_a_name() {
        reads(&[
            (SlotKind::MediaAction, "继续播放", Some("resume")),
            (SlotKind::MediaAction, "别停，接着放", Some("resume")),
            (SlotKind::MediaAction, "先暂停一下", Some("pause")),
            (SlotKind::MediaQuery, "继续播放", None),
            (SlotKind::Zone, "后排车窗关上", Some("rear")),
            (SlotKind::Zone, "前排座椅加热打开", Some("front")),
            (SlotKind::Zone, "下雨了车窗全关上", Some("all")),
            (SlotKind::LockState, "把门解一下锁", Some("unlocked")),
            (SlotKind::VolumeLevel, "音乐声音关掉", Some("0")),
            (SlotKind::Period, "今儿都说了什么", Some("today")),
            (SlotKind::Destination, "请导航至杭州东站", Some("杭州东站")),
            (SlotKind::Destination, "最近的加油站，带我过去", Some("最近的加油站")),
            (SlotKind::Destination, "跟我爸说我几点到机场", Some("机场")),
            (SlotKind::Destination, "把去公司的预计到达时间发给老板", Some("公司")),
            (SlotKind::Destination, "停好车还要走一段，把去博物馆的路线推到我手机上", Some("博物馆")),
            (SlotKind::Destination, "美术馆的位置发我手机", Some("美术馆")),
            (SlotKind::Contact, "给老李拨过去", Some("老李")),
            (SlotKind::Contact, "拨打客服电话", Some("客服")),
            (SlotKind::Contact, "拨10086", Some("10086")),
            (SlotKind::Contact, "跟客户说一下我还要多久到", Some("客户")),
            (SlotKind::Contact, "分享一下到达时间给老婆", Some("老婆")),
            (SlotKind::Object, "钥匙掉座位底下了，帮我找找", Some("钥匙")),
            (SlotKind::Object, "后座上有水杯吗", Some("水杯")),
            (SlotKind::Object, "副驾是不是有把雨伞", Some("雨伞")),
            (SlotKind::Object, "后排有没有落下围巾", Some("围巾")),
            (SlotKind::MediaQuery, "来段德云社的相声", Some("德云社")),
            (SlotKind::MediaQuery, "放一下稻香这首歌", Some("稻香")),
            (SlotKind::MediaQuery, "放首歌听听", None),
            (SlotKind::Fact, "忘了我女儿钢琴课那件事", Some("我女儿钢琴课")),
            (SlotKind::Fact, "把刚才让你记的那个删掉", None),
            (SlotKind::Fact, "清除关于我家地址的记忆", Some("我家地址")),
        ]);
        assert_eq!(SlotKind::Destination.extract_answer("深圳吧").map(|v| v.to_string()).as_deref(), Some("深圳"));
        assert_eq!(SlotKind::Destination.extract_answer("好的"), None);
        assert_eq!(SlotKind::Contact.extract_answer("给张经理").map(|v| v.to_string()).as_deref(), Some("张经理"));
    }
}
