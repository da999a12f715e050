//! `cargo run --release --example talk` — a whole voice session, headless, driven through
//! the C ABI exactly as Unity drives it:
//! - a mic thread pushes a speech WAV in 10 ms chunks (then silence, as a live mic would),
//! - an audio thread pulls 1024-frame stereo callbacks at 48 kHz (Unity's `OnAudioFilterRead`),
//! - the main loop polls events and tool calls; a `move_cube` handler moves a virtual cube.
//!
//! With no `OPENAI_API_KEY` it starts the embedded local Realtime server on loopback; with the
//! key (or `--url`, `--client-secret`) it talks to that server instead.
//!
//! Options: `--mic FILE.wav` (default: the shipped fixture), `--out FILE.wav` (the model's
//! reply, default `talk_reply.wav`), `--url URL`, `--client-secret SECRET`, `--model NAME`,
//! `--timeout SECONDS` (default 60), `--local` (the embedded server even when a key is set).

use realtime_voice::audio::wav;
use realtime_voice::ffi::*;
use rv_mock_server::{MockConfig, MockServer, ResponseSpec};
use serde_json::{json, Value};
use std::ffi::{CStr, CString};
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DEFAULT_MIC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/user_move_cube_48k.wav"
);
const ASSISTANT_FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/assistant_reply_24k.wav"
);
const OUT_RATE: i32 = 48_000;
const CALLBACK_FRAMES: usize = 1024;

struct Args {
    mic: String,
    out: String,
    url: Option<String>,
    client_secret: Option<String>,
    model: Option<String>,
    timeout: Duration,
    local: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        mic: DEFAULT_MIC.to_string(),
        out: "talk_reply.wav".to_string(),
        url: None,
        client_secret: None,
        model: None,
        timeout: Duration::from_secs(60),
        local: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--mic" => a.mic = value("--mic")?,
            "--out" => a.out = value("--out")?,
            "--url" => a.url = Some(value("--url")?),
            "--client-secret" => a.client_secret = Some(value("--client-secret")?),
            "--model" => a.model = Some(value("--model")?),
            "--timeout" => {
                let s: f64 = value("--timeout")?.parse().map_err(|_| "--timeout needs seconds".to_string())?;
                a.timeout = Duration::from_secs_f64(s.max(1.0));
            }
            "--local" => a.local = true,
            "--help" | "-h" => {
                return Err("usage: talk [--mic FILE.wav] [--out FILE.wav] [--url URL] [--client-secret S] [--model M] [--timeout S] [--local]".into())
            }
            other => return Err(format!("unknown argument `{other}` (try --help)")),
        }
    }
    Ok(a)
}

fn last_error() -> String {
    let mut buf = vec![0u8; 2048];
    let mut len = 0;
    unsafe { rv_last_error(buf.as_mut_ptr().cast(), buf.len() as i32, &mut len) };
    String::from_utf8_lossy(&buf[..len.max(0) as usize]).into_owned()
}

fn poll(
    handle: RvSession,
    f: unsafe extern "C" fn(RvSession, *mut std::ffi::c_char, i32, *mut i32) -> i32,
    buf: &mut Vec<u8>,
) -> Option<Value> {
    loop {
        let mut len = 0;
        let rc = unsafe { f(handle, buf.as_mut_ptr().cast(), buf.len() as i32, &mut len) };
        match rc {
            RV_OK => {
                let text = CStr::from_bytes_until_nul(&buf[..]).ok()?.to_str().ok()?;
                return serde_json::from_str(text).ok();
            }
            RV_ERR_BUFFER_TOO_SMALL => buf.resize(len as usize + 1, 0),
            _ => return None,
        }
    }
}

fn cube_tools() -> Value {
    json!({
        "instructions": "You control a cube in a 3D scene with the move_cube tool (x is right, y is up, z is forward, in meters). Be brief.",
        "audio": {"input": {"transcription": {"model": "gpt-4o-mini-transcribe"}}},
        "tools": [{
            "type": "function",
            "name": "move_cube",
            "description": "Move the cube by a distance in meters along each axis.",
            "parameters": {
                "type": "object",
                "properties": {"dx": {"type": "number"}, "dy": {"type": "number"}, "dz": {"type": "number"}},
                "required": ["dx", "dy", "dz"]
            }
        }],
        "tool_choice": "auto"
    })
}

fn local_server() -> Result<MockServer, String> {
    let reply = wav::read_wav(ASSISTANT_FIXTURE)
        .map_err(|e| format!("cannot read {ASSISTANT_FIXTURE}: {e}"))?;
    let pcm: Vec<i16> = reply
        .to_mono()
        .iter()
        .map(|&s| (s * 32767.0).round() as i16)
        .collect();
    let config = MockConfig::default()
        .user_transcript("Please move the cube one meter to the left.")
        .respond(ResponseSpec::tool_call(
            "move_cube",
            r#"{"dx":-1,"dy":0,"dz":0}"#,
        ))
        .respond(ResponseSpec::Audio {
            pcm24k: pcm,
            transcript: "Sure. I moved the cube one meter to the left.".into(),
        });
    MockServer::start(config).map_err(|e| format!("cannot start the local Realtime server: {e}"))
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let mic = wav::read_wav(&args.mic)
        .map_err(|e| format!("cannot read the mic WAV {}: {e}", args.mic))?;
    let api_key = std::env::var("OPENAI_API_KEY")
        .ok()
        .filter(|k| !k.is_empty());
    let use_local =
        args.local || (api_key.is_none() && args.url.is_none() && args.client_secret.is_none());

    let version = unsafe { CStr::from_ptr(rv_version()) }
        .to_string_lossy()
        .into_owned();
    let _server;
    // A demo should fail fast with one clear line when the server is unreachable.
    let mut config = json!({
        "session": cube_tools(),
        "output_sample_rate": OUT_RATE,
        "output_channels": 2,
        "reconnect": {"max_attempts": 2, "initial_backoff_ms": 250, "max_backoff_ms": 1000}
    });
    if use_local {
        let server = local_server()?;
        println!("realtime-voice {version}: local Realtime server at {} (set OPENAI_API_KEY to talk to the real API)", server.url());
        config["url"] = json!(server.url());
        _server = Some(server);
    } else {
        _server = None;
        if let Some(url) = &args.url {
            config["url"] = json!(url);
        }
        if let Some(secret) = &args.client_secret {
            config["client_secret"] = json!(secret);
        } else if let Some(key) = &api_key {
            config["api_key"] = json!(key);
        }
        println!(
            "realtime-voice {version}: talking to {}",
            args.url
                .as_deref()
                .unwrap_or(realtime_voice::config::DEFAULT_URL)
        );
    }
    if let Some(model) = &args.model {
        config["model"] = json!(model);
    }

    let config =
        CString::new(config.to_string()).map_err(|_| "config has a NUL byte".to_string())?;
    let mut handle: RvSession = 0;
    if unsafe { rv_session_create(config.as_ptr(), &mut handle) } != RV_OK {
        return Err(last_error());
    }
    let result = converse(handle, &args, &mic);
    rv_session_destroy(handle);
    result
}

struct Devices {
    stop: Arc<AtomicBool>,
    mic_done: Arc<AtomicBool>,
    model_frames: Arc<AtomicU64>,
    reply: Arc<Mutex<Vec<f32>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

fn start_devices(handle: RvSession, mic: &wav::WavAudio) -> Devices {
    let stop = Arc::new(AtomicBool::new(false));
    let mic_done = Arc::new(AtomicBool::new(false));
    let model_frames = Arc::new(AtomicU64::new(0));
    let reply = Arc::new(Mutex::new(Vec::new()));
    let mut threads = Vec::new();
    // The mic: 10 ms chunks at the file's rate and channel count, in real time.
    {
        let (stop, mic_done) = (stop.clone(), mic_done.clone());
        let samples = mic.samples.clone();
        let channels = mic.channels as usize;
        let rate = mic.sample_rate as usize;
        threads.push(std::thread::spawn(move || {
            let chunk = rate / 100;
            let silence = vec![0f32; chunk * channels];
            let start = Instant::now();
            let mut pos = 0;
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let buf: &[f32] = if pos < samples.len() {
                    let end = (pos + chunk * channels).min(samples.len());
                    let b = &samples[pos..end];
                    pos = end;
                    b
                } else {
                    mic_done.store(true, Ordering::Relaxed);
                    &silence
                };
                let frames = (buf.len() / channels) as i32;
                unsafe { rv_push_mic(handle, buf.as_ptr(), frames, channels as i32, rate as i32) };
                n += 1;
                let due = start + Duration::from_millis(10) * n;
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
            }
        }));
    }
    // The audio device: 1024-frame stereo callbacks at 48 kHz.
    {
        let (stop, model_frames, reply) = (stop.clone(), model_frames.clone(), reply.clone());
        threads.push(std::thread::spawn(move || {
            let mut out = vec![0f32; CALLBACK_FRAMES * 2];
            let start = Instant::now();
            let mut calls = 0u32;
            let mut recording = false;
            while !stop.load(Ordering::Relaxed) {
                let n = unsafe {
                    rv_pull_playback(
                        handle,
                        out.as_mut_ptr(),
                        CALLBACK_FRAMES as i32,
                        2,
                        OUT_RATE,
                    )
                };
                if n > 0 {
                    model_frames.fetch_add(n as u64, Ordering::Relaxed);
                    recording = true;
                }
                if recording {
                    if let Ok(mut r) = reply.lock() {
                        r.extend_from_slice(&out);
                    }
                }
                calls += 1;
                let due = start
                    + Duration::from_secs_f64(
                        f64::from(calls) * CALLBACK_FRAMES as f64 / f64::from(OUT_RATE),
                    );
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
            }
        }));
    }
    Devices {
        stop,
        mic_done,
        model_frames,
        reply,
        threads,
    }
}

fn stats(handle: RvSession) -> RvStats {
    let mut s = RvStats::default();
    unsafe { rv_get_stats(handle, &mut s) };
    s
}

fn converse(handle: RvSession, args: &Args, mic: &wav::WavAudio) -> Result<(), String> {
    if rv_session_connect(handle) != RV_OK {
        return Err(last_error());
    }
    let mut buf = vec![0u8; 1 << 16];
    let mut devices: Option<Devices> = None;
    let mut cube = [0.0f64; 3];
    let mut audio_responses = 0;
    let mut open_calls = 0usize;
    let mut mid_caption = false;
    let mut drained_since: Option<Instant> = None;
    let mut printed_latency = -1;
    let start = Instant::now();
    let outcome: Result<(), String> = 'session: loop {
        if start.elapsed() > args.timeout {
            break Err(format!("timed out after {} s", args.timeout.as_secs()));
        }
        while let Some(ev) = poll(handle, rv_poll_event, &mut buf) {
            let ty = ev["type"].as_str().unwrap_or("");
            if mid_caption && ty != "assistant_transcript" {
                println!();
                mid_caption = false;
            }
            match ty {
                "state" => {
                    let reason = ev["reason"]
                        .as_str()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default();
                    println!("[state] {}{reason}", ev["state"].as_str().unwrap_or("?"));
                }
                "session_ready" if devices.is_none() => {
                    println!(
                        "[mic] speaking {} ({:.1} s at {} Hz, {} ch) in 10 ms chunks; playback at {} Hz in {}-frame callbacks",
                        args.mic,
                        mic.frames() as f64 / f64::from(mic.sample_rate),
                        mic.sample_rate,
                        mic.channels,
                        OUT_RATE,
                        CALLBACK_FRAMES
                    );
                    devices = Some(start_devices(handle, mic));
                }
                "speech_started" => println!("[vad] you started speaking"),
                "speech_stopped" => println!("[vad] you stopped speaking"),
                "user_transcript" if ev["final"] == true => {
                    println!("you: {}", ev["text"].as_str().unwrap_or(""))
                }
                "assistant_transcript" => {
                    if ev["final"] == true {
                        if mid_caption {
                            println!(); // the deltas already showed the text
                        } else {
                            println!("assistant: {}", ev["text"].as_str().unwrap_or(""));
                        }
                        mid_caption = false;
                    } else {
                        if !mid_caption {
                            print!("assistant: ");
                            mid_caption = true;
                        }
                        print!("{}", ev["delta"].as_str().unwrap_or(""));
                        let _ = std::io::stdout().flush();
                    }
                }
                "audio_interrupted" => {
                    println!("[barge-in] playback cut at {} ms", ev["played_ms"])
                }
                "response_done" => {
                    let s = stats(handle);
                    if s.last_response_latency_ms >= 0
                        && s.last_response_latency_ms != printed_latency
                    {
                        printed_latency = s.last_response_latency_ms;
                        println!(
                            "[latency] {} ms from the end of your speech to the first model audio",
                            printed_latency
                        );
                    }
                    if s.audio_bytes_received > 0 {
                        audio_responses += 1;
                    }
                }
                "error" => {
                    let msg = ev["message"].as_str().unwrap_or("unknown error");
                    if ev["fatal"] == true {
                        break 'session Err(msg.to_string());
                    }
                    println!("[warning] {} {msg}", ev["code"].as_str().unwrap_or(""));
                }
                "log" => println!("[log] {}", ev["message"].as_str().unwrap_or("")),
                _ => {}
            }
        }
        while let Some(call) = poll(handle, rv_poll_tool_call, &mut buf) {
            open_calls += 1;
            let name = call["name"].as_str().unwrap_or("");
            let output = if name == "move_cube" {
                let a = &call["arguments"];
                let d = [a["dx"].as_f64(), a["dy"].as_f64(), a["dz"].as_f64()];
                if a.is_object() {
                    for (c, v) in cube.iter_mut().zip(d) {
                        *c += v.unwrap_or(0.0);
                    }
                    println!(
                        "tool: move_cube({}) -> the cube is now at ({:.2}, {:.2}, {:.2})",
                        call["arguments_raw"].as_str().unwrap_or(""),
                        cube[0],
                        cube[1],
                        cube[2]
                    );
                    json!({"ok": true, "position": cube}).to_string()
                } else {
                    println!(
                        "tool: move_cube got invalid arguments: {}",
                        call["arguments_raw"]
                    );
                    json!({"error": "arguments must be a JSON object with dx, dy, dz"}).to_string()
                }
            } else {
                json!({"error": format!("unknown tool {name}")}).to_string()
            };
            let id = CString::new(call["call_id"].as_str().unwrap_or("")).unwrap_or_default();
            let out = CString::new(output).unwrap_or_default();
            if unsafe { rv_submit_tool_result(handle, id.as_ptr(), out.as_ptr()) } == RV_OK {
                open_calls -= 1;
            } else {
                println!("[warning] tool result not accepted: {}", last_error());
            }
        }
        let state = rv_session_state(handle);
        if state == RV_STATE_FAILED || state == RV_STATE_CLOSED {
            break Err("the session ended".into());
        }
        // Done: the mic is through, a spoken answer came, and it has been played out.
        if let Some(d) = &devices {
            let s = stats(handle);
            let drained = s.playback_buffered_ms == 0 && d.model_frames.load(Ordering::Relaxed) > 0;
            if d.mic_done.load(Ordering::Relaxed)
                && audio_responses > 0
                && open_calls == 0
                && drained
            {
                let since = *drained_since.get_or_insert_with(Instant::now);
                if since.elapsed() > Duration::from_millis(400) {
                    break Ok(());
                }
            } else {
                drained_since = None;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if mid_caption {
        println!();
    }
    let s = stats(handle);
    let reply = stop_devices(devices.take());
    outcome?;
    let reply = trim_trailing_silence(reply);
    wav::write_wav_pcm16(&args.out, &reply, 2, OUT_RATE as u32)
        .map_err(|e| format!("cannot write {}: {e}", args.out))?;
    println!(
        "summary: sent {:.2} s of mic audio, received {:.2} s of model audio, played {:.2} s, {} underruns, {} events dropped, cube at ({:.2}, {:.2}, {:.2})",
        s.audio_bytes_sent as f64 / 2.0 / 24_000.0,
        s.audio_bytes_received as f64 / 2.0 / 24_000.0,
        s.playback_frames_out as f64 / f64::from(OUT_RATE),
        s.playback_underruns,
        s.events_dropped,
        cube[0],
        cube[1],
        cube[2]
    );
    println!(
        "reply written to {} ({:.2} s, 48 kHz stereo)",
        args.out,
        reply.len() as f64 / 2.0 / f64::from(OUT_RATE)
    );
    Ok(())
}

fn stop_devices(devices: Option<Devices>) -> Vec<f32> {
    let Some(mut d) = devices else {
        return Vec::new();
    };
    d.stop.store(true, Ordering::Relaxed);
    for t in d.threads.drain(..) {
        let _ = t.join();
    }
    let reply = std::mem::take(&mut *d.reply.lock().unwrap_or_else(|e| e.into_inner()));
    reply
}

fn trim_trailing_silence(mut stereo: Vec<f32>) -> Vec<f32> {
    let last = stereo
        .iter()
        .rposition(|s| s.abs() > 1e-4)
        .map(|i| i + 1)
        .unwrap_or(0);
    stereo.truncate(last.div_ceil(2) * 2);
    stereo
}
