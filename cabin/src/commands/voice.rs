//! The voice on the command line: `cabin transcribe`, `cabin say`, `cabin listen`,
//! `cabin wakeword enrol`, and `cabin serve voice`.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use cabin_asr::AsrConfig;
use cabin_speech::{ByLanguage, Espeak, Piper, PiperSettings, Voice, WithFallback};
use cabin_voice_service::{load_listener, transcribe_file, Heard, Listener, ListenerConfig, Sink, VoiceModels, VoiceService};
use cabin_wake::WakePhrase;
use clap::Args;

use super::models::DirArgs;

/// How the voice listens: whisper model, language, wake phrase, endpointing.
#[derive(Debug, Clone, Args)]
pub struct VoiceArgs {
    /// Whisper model to use
    #[arg(long, default_value = cabin_asr::DEFAULT_MODEL, env = "CABIN_WHISPER_MODEL")]
    whisper: String,
    /// Language of speech (ISO code), or `auto`
    #[arg(long, default_value = "en", env = "CABIN_LANGUAGE")]
    language: String,
    /// Recogniser threads [default: the number of cores]
    #[arg(long)]
    threads: Option<usize>,
    /// An enrolled wake phrase (from `cabin wakeword enrol`) [default: "hey cabin"; with
    /// `--language zh`, "你好小舱"; with `auto` and a multilingual whisper, either]
    #[arg(long, env = "CABIN_WAKE_PHRASE")]
    wake_phrase: Option<PathBuf>,
    /// Spot the wake phrase on whisper's text alone, running whisper on every utterance. By
    /// default an acoustic head hears the phrase first and whisper runs only when it fires,
    /// where its front end is installed (`cabin models fetch wakeword-embedding onnxruntime`)
    /// and there is a head for the phrase
    #[arg(long, env = "CABIN_TEXT_WAKE", conflicts_with = "wake_head")]
    text_wake: bool,
    /// An acoustic head from `cabin wakeword train` (a folder) for the phrase [default: the one
    /// shipped for "hey cabin"]
    #[arg(long, env = "CABIN_WAKE_HEAD")]
    wake_head: Option<PathBuf>,
    /// Silence that ends an utterance, in milliseconds
    #[arg(long, default_value_t = 600)]
    trailing_silence_ms: u32,
    /// A pause after which a turn ends when the assistant finds the command whole, in
    /// milliseconds (0: always wait out the trailing silence); where there is an assistant to
    /// ask (`cabin serve voice`, `cabin up`)
    #[arg(long, default_value_t = 250, env = "CABIN_VOICE_PAUSE_MS")]
    pause_ms: u32,
}

impl VoiceArgs {
    /// The listener, its recogniser biased towards `vocabulary` (the car's words).
    pub fn load(&self, models: &cabin_models::ModelsDir, require_wake: bool, vocabulary: Vec<String>) -> anyhow::Result<Listener> {
        let mut voice_models = VoiceModels { wake_head: self.wake_head.clone(), ..VoiceModels::locate(models, &self.whisper)? };
        if self.wake_head.is_some() {
            voice_models = voice_models.with_acoustic_wake(models)?;
        } else if require_wake && !self.text_wake {
            match voice_models.clone().with_acoustic_wake(models) {
                Ok(acoustic) => voice_models = acoustic,
                // The car still wakes without it, on text.
                Err(error) => tracing::warn!(%error, "no acoustic wake stage; spotting the wake phrase on whisper's text alone"),
            }
        }
        let models = voice_models;
        let wake = if require_wake { Some(self.phrase()?) } else { None };
        // With `auto` either language's phrase wakes the car, and the language it was said in
        // is whisper's to find (an English-only whisper, `*.en`, cannot write 你好小舱).
        let multilingual = !self.whisper.ends_with(".en");
        let also_wake = if require_wake && self.wake_phrase.is_none() && self.language == "auto" && multilingual {
            vec![WakePhrase::for_language("zh")]
        } else {
            Vec::new()
        };
        // The car's words are English: for other languages they would pull whisper towards English.
        let vocabulary = if self.language == "en" { vocabulary } else { Vec::new() };
        let mut asr = AsrConfig { language: self.language.clone(), vocabulary, ..AsrConfig::default() };
        if let Some(threads) = self.threads {
            asr.threads = threads;
        }
        let mut config = ListenerConfig { wake, also_wake, ..ListenerConfig::default() };
        config.endpoint.trailing_silence_ms = self.trailing_silence_ms;
        config.endpoint.pause_ms = self.pause_ms;
        Ok(load_listener(&models, asr, config)?.0)
    }

    fn phrase(&self) -> anyhow::Result<WakePhrase> {
        Ok(match &self.wake_phrase {
            Some(path) => WakePhrase::load(path)?,
            None => WakePhrase::for_language(&self.language),
        })
    }
}

/// The car's words, from the task book's signals, for whisper's prompt. The OEM's intents
/// are read too: their tasks name them (without them, a task of the OEM's turned the voice off).
pub fn vocabulary(
    (intents, tasks): (&[PathBuf], &[PathBuf]),
    vehicle: &cabin_vehicle_config::VehicleConfig,
) -> anyhow::Result<Vec<String>> {
    let intents = cabin_nlu::IntentCatalog::load(intents)?;
    Ok(cabin_dialog::TaskBook::load(tasks, &intents, &vehicle.catalog)?.vocabulary())
}

/// The voice's settings with what it needs of the car: its config, models and tasks.
#[derive(Debug, Clone, Args)]
pub struct ListenArgs {
    #[command(flatten)]
    voice: VoiceArgs,
    /// OEM intent files, as the assistant is given: the OEM's tasks name their intents
    #[arg(long = "intents", env = "CABIN_INTENTS", value_delimiter = ':')]
    intents: Vec<PathBuf>,
    /// OEM task files, as the assistant is given: their signals bias the recogniser
    #[arg(long = "tasks", env = "CABIN_TASKS", value_delimiter = ':')]
    tasks: Vec<PathBuf>,
    #[command(flatten)]
    config: crate::ConfigArgs,
    #[command(flatten)]
    models: DirArgs,
}

impl ListenArgs {
    fn load(&self, require_wake: bool) -> anyhow::Result<Listener> {
        let vehicle = super::load_config(&self.config).map_err(|errors| anyhow::anyhow!("invalid vehicle configuration:\n{errors}"))?;
        self.voice.load(&self.models.resolve(), require_wake, vocabulary((&self.intents, &self.tasks), &vehicle)?)
    }
}

#[derive(Debug, Args)]
pub struct TranscribeArgs {
    /// A WAV file (any rate, mono or stereo), or `-` for stdin
    file: PathBuf,
    /// Only what follows the wake phrase counts
    #[arg(long)]
    wake: bool,
    /// Print one JSON object: text, language, confidence, timings, commands
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    listen: ListenArgs,
}

pub fn transcribe(args: TranscribeArgs) -> anyhow::Result<ExitCode> {
    let audio = cabin_voice_service::read_audio(&args.file)?;
    let mut listener = args.listen.load(args.wake)?;
    let result = transcribe_file(&mut listener, &audio)?;
    if args.json {
        println!("{}", serde_json::to_string(&result)?);
    } else if result.text.is_empty() {
        eprintln!("{}", if args.wake && !result.woke { "(no wake phrase heard)" } else { "(no speech)" });
    } else {
        println!("{}", result.text);
    }
    Ok(ExitCode::SUCCESS)
}

/// The voice replies are spoken in.
#[derive(Debug, Clone, Args)]
pub struct SpeakArgs {
    /// `piper` (the Piper voice, from `cabin models fetch piper-joe onnxruntime`), an espeak-ng
    /// voice (en-us, en-gb, cmn, ...), or `auto`: Piper when installed, else espeak-ng; with
    /// `piper` and `auto`, Mandarin replies are said by espeak-ng's `cmn-latn-pinyin`
    #[arg(long = "voice", default_value = "auto", env = "CABIN_VOICE")]
    choice: String,
    /// Speaking speed of the Piper voice: above 1 is faster
    #[arg(long, default_value_t = 1.0)]
    speed: f32,
}

impl SpeakArgs {
    /// The chosen voice. Piper speaks with espeak-ng behind it, so a reply it cannot say is
    /// still heard; `auto` without Piper installed is espeak-ng, said once in the log.
    pub fn load(&self, models: &cabin_models::ModelsDir) -> anyhow::Result<Arc<dyn Voice>> {
        if !(0.25..=4.0).contains(&self.speed) {
            anyhow::bail!("--speed {} is out of range (0.25 to 4)", self.speed);
        }
        let espeak = Espeak::default();
        let installed = models.locate("piper-joe").and_then(|voice| Ok((voice, models.locate("onnxruntime")?)));
        let (voice_dir, runtime_dir) = match (self.choice.as_str(), installed) {
            ("piper" | "auto", Ok(found)) => found,
            ("piper", Err(missing)) => return Err(missing.into()),
            ("auto", Err(missing)) => {
                tracing::info!("speaking with espeak-ng: {missing}");
                return Ok(Arc::new(ByLanguage::new(espeak)));
            }
            (espeak_voice, _) => return Ok(Arc::new(Espeak { voice: espeak_voice.to_owned(), ..espeak })),
        };
        let settings = PiperSettings { length_scale: Some(1.0 / self.speed), ..PiperSettings::default() };
        let piper = Piper::load(&voice_dir, &runtime_dir.join("libonnxruntime.so"), &settings)?;
        // Piper's voice is English: Mandarin replies are said by espeak-ng's.
        Ok(Arc::new(ByLanguage::new(WithFallback { first: piper, then: espeak })))
    }
}

#[derive(Debug, Args)]
pub struct SayArgs {
    /// What to say
    text: String,
    /// Write a WAV file instead of playing
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    speak: SpeakArgs,
    #[command(flatten)]
    models: DirArgs,
}

pub fn say(args: SayArgs) -> anyhow::Result<ExitCode> {
    let voice = args.speak.load(&args.models.resolve())?;
    let audio = voice.synthesize(&args.text)?;
    match args.out {
        Some(path) => {
            cabin_audio::write_wav(&path, &audio)?;
            println!("{}: {:.1} s of speech ({})", path.display(), audio.duration_secs(), voice.name());
        }
        None => cabin_audio::play(&audio, None).context("no audio output; write a file with --out")?,
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct ListenCommandArgs {
    /// Audio to listen to: a named input device, or `-` for 16 kHz 16-bit mono PCM on stdin
    /// (e.g. `arecord -f S16_LE -r 16000 -c 1 | cabin listen --input -`) [default: the default microphone]
    #[arg(long)]
    input: Option<String>,
    /// Take every utterance as a command, without the wake phrase
    #[arg(long)]
    no_wake: bool,
    #[command(flatten)]
    listen: ListenArgs,
}

/// Live: prints wake events and transcripts as JSON lines.
pub fn listen(args: ListenCommandArgs) -> anyhow::Result<ExitCode> {
    let mut listener = args.listen.load(!args.no_wake)?;
    let (tx, rx) = std::sync::mpsc::channel::<Vec<f32>>();
    let _capture = open_input(args.input.as_deref(), tx)?;
    eprintln!("listening{}; Ctrl-C to stop", if args.no_wake { "" } else { " for the wake phrase" });
    for samples in rx {
        for heard in listener.push(&samples)? {
            if !matches!(heard, Heard::SpeechStarted { .. }) {
                println!("{}", serde_json::to_string(&heard)?);
            }
        }
    }
    for heard in listener.finish()? {
        println!("{}", serde_json::to_string(&heard)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// Starts capture into `tx`: stdin PCM on a thread, or a device through cpal.
fn open_input(input: Option<&str>, tx: std::sync::mpsc::Sender<Vec<f32>>) -> anyhow::Result<Option<cabin_audio::Capture>> {
    if input == Some("-") {
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buffer = vec![0u8; 3200];
            loop {
                match stdin.read(&mut buffer) {
                    Ok(0) | Err(_) => return,
                    Ok(read) => {
                        let samples =
                            buffer[..read - read % 2].chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0).collect();
                        if tx.send(samples).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        return Ok(None);
    }
    Ok(Some(cabin_audio::Capture::start(input, move |samples| {
        let _ = tx.send(samples);
    })?))
}

#[derive(Debug, Args)]
pub struct EnrolArgs {
    /// Three or more recordings of the phrase, said alone (WAV)
    #[arg(required = true)]
    recordings: Vec<PathBuf>,
    /// The phrase
    #[arg(long, default_value = cabin_wake::DEFAULT_PHRASE)]
    phrase: String,
    /// Where to write the enrolled phrase (pass it to --wake-phrase)
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    listen: ListenArgs,
}

pub fn enrol(args: EnrolArgs) -> anyhow::Result<ExitCode> {
    let recordings = args.recordings.iter().map(|path| cabin_audio::read_wav(path)).collect::<Result<Vec<_>, _>>()?;
    let mut phrase = match &args.listen.voice.wake_phrase {
        Some(path) => WakePhrase::load(path)?,
        None => WakePhrase::new(&args.phrase)?,
    };
    let mut listener = args.listen.load(false)?;
    let learnt = cabin_voice_service::enrol(&mut listener, &mut phrase, &recordings)?;
    phrase.save(&args.out)?;
    println!("{}: \"{}\" with {} learnt spelling(s) ({} new)", args.out.display(), phrase.phrase, phrase.variants.len(), learnt);
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The phrase
    #[arg(long, default_value = cabin_wake::DEFAULT_PHRASE)]
    phrase: String,
    /// The folder to write the head to (head.json, head.safetensors)
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    models: DirArgs,
}

pub fn train(args: TrainArgs) -> anyhow::Result<ExitCode> {
    let models = args.models.resolve();
    let embedder = cabin_wake::acoustic::SpeechEmbedder::load(
        &models.locate(cabin_wake::acoustic::FRONT_END_MODEL)?,
        &models.locate("onnxruntime")?.join(cabin_onnx_runtime::LIBRARY_FILE),
    )?;
    let command = format!("cabin wakeword train --phrase \"{}\" --out {}", args.phrase, args.out.display());
    let report = cabin_wake_training::train(&args.phrase, &embedder, &args.out, &command)?;
    println!(
        "{}: \"{}\", {} positive and {} negative windows; threshold {:.2}: validation voices' phrases heard {:.1} %, {} of {} other clips woke it",
        args.out.display(),
        args.phrase,
        report.positives,
        report.negatives,
        report.threshold,
        report.validation_recall * 100.0,
        report.validation_false_accepts,
        report.validation_clips_without
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct ServeVoiceArgs {
    /// Audio to listen to: a named input device, `-` for 16 kHz 16-bit mono PCM on stdin, or
    /// `none` to listen only to `Hear` calls [default: the default microphone]
    #[arg(long, env = "CABIN_VOICE_INPUT")]
    input: Option<String>,
    /// Write each spoken reply as a WAV file in this folder instead of playing it
    #[arg(long, env = "CABIN_VOICE_REPLIES")]
    replies_to: Option<PathBuf>,
    #[command(flatten)]
    speak: SpeakArgs,
    /// D-Bus address [default: the system bus]
    #[arg(long, env = "CABIN_BUS_ADDRESS")]
    bus: Option<String>,
    #[command(flatten)]
    listen: ListenArgs,
}

pub async fn serve_voice(args: ServeVoiceArgs) -> anyhow::Result<ExitCode> {
    let listener = args.listen.load(true)?;
    let voice = args.speak.load(&args.listen.models.resolve())?;
    let connection = match &args.bus {
        Some(address) => zbus::connection::Builder::address(address.as_str())?.build().await,
        None => zbus::Connection::system().await,
    }
    .context("cannot connect to D-Bus")?;
    let sink = match args.replies_to {
        Some(folder) => Sink::WavFolder(folder),
        None if args.input.as_deref() == Some("none") => Sink::Silent,
        None => Sink::Device,
    };
    let feed = open_feed(args.input.as_deref())?;
    let _voice = start(listener, voice, sink, feed, &connection).await?;
    tracing::info!("voice serving {}", cabin_voice_service::BUS_NAME);
    super::serve::ready_until_shutdown(&connection).await
}

/// Audio for the voice: the capture (kept open while it lives) and its samples.
#[derive(Debug)]
pub struct AudioFeed {
    capture: Option<cabin_audio::Capture>,
    samples: std::sync::mpsc::Receiver<Vec<f32>>,
}

/// Opens `input` (see `--input`); None for `none`.
pub fn open_feed(input: Option<&str>) -> anyhow::Result<Option<AudioFeed>> {
    if input == Some("none") {
        return Ok(None);
    }
    let (tx, samples) = std::sync::mpsc::channel::<Vec<f32>>();
    let capture = open_input(input, tx)?;
    Ok(Some(AudioFeed { capture, samples }))
}

/// The voice service and the capture feeding it.
pub type RunningVoice = (VoiceService, Option<cabin_audio::Capture>);

/// Serves `org.cabin.Voice1` on `connection`, listening to `feed` (and to `Hear` calls).
pub async fn start(
    listener: Listener,
    voice: Arc<dyn Voice>,
    sink: Sink,
    feed: Option<AudioFeed>,
    connection: &zbus::Connection,
) -> anyhow::Result<RunningVoice> {
    let service = VoiceService::start(listener, voice, sink, connection).await.context("cannot serve org.cabin.Voice1")?;
    let capture = feed.and_then(|AudioFeed { capture, samples }| {
        let hearing = service.clone();
        std::thread::spawn(move || samples.into_iter().for_each(|samples| hearing.hear(samples)));
        capture
    });
    Ok((service, capture))
}
