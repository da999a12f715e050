//! Echo cancellation end to end: the model's voice comes out of the speakers and back into the mic,
//! through the C ABI, against the local Realtime server and its energy VAD.
//!
//! An "acoustic loop" stands in for Unity's audio device and microphone: the audio thread
//! pulls `rv_pull_playback` (1024 stereo frames at 48 kHz, real-time paced) and records
//! what it got; the mic thread pushes 10 ms at 48 kHz whose content is the room's echo of
//! that recording (delayed, attenuated, through a short decaying impulse response) plus
//! noise, and optionally the user's voice. Both run on one sample clock from the same
//! start, as a real device's speaker and mic do.
//!
//! Without cancellation the server hears the echo as the user and interrupts the model;
//! with it, the model plays to the end; and the user can still interrupt by voice.

mod support;

use realtime_voice::audio::wav::read_wav;
use realtime_voice::ffi::*;
use rv_mock_server::{MockConfig, MockServer, ResponseSpec};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use support::{ready, Rv, T};

const RATE: usize = 48_000;
/// Frames per audio-device callback (Unity's default DSP buffer).
const CALLBACK: usize = 1024;
/// Frames per mic push (10 ms).
const MIC_CHUNK: usize = 480;
/// The mock's VAD threshold for the default `server_vad.threshold` 0.5 (-60 + 40 * 0.5).
const VAD_THRESHOLD_DBFS: f64 = -40.0;
/// Where the user starts talking over the model, after the reply's first played frame.
const NEAR_END_AFTER_MS: usize = 1500;

/// The room between the speakers and the mic.
#[derive(Clone, Copy)]
struct Room {
    /// Speaker-to-mic delay of the direct path (device buffers included).
    delay_ms: usize,
    /// Echo level relative to what was played, dB (energy of the whole impulse response).
    gain_db: f64,
    /// Length of the decaying impulse response (60 dB down at its end).
    tail_ms: usize,
    /// Mic self-noise, dBFS RMS (white).
    noise_dbfs: f64,
}

const ROOM: Room = Room {
    delay_ms: 60,
    gain_db: -10.0,
    tail_ms: 20,
    noise_dbfs: -60.0,
};

/// A tiny deterministic generator (tests must be repeatable).
struct Lcg(u64);

impl Lcg {
    /// Uniform in [-1, 1).
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

/// A sparse, exponentially decaying impulse response: the direct path, then a reflection
/// about every 0.25 ms with random sign, 60 dB down after `tail_ms`; scaled to `gain_db`.
/// Returns (lag in samples after the direct path, gain) pairs.
fn impulse_response(room: Room) -> Vec<(usize, f64)> {
    let mut rng = Lcg(7);
    let tail = room.tail_ms * RATE / 1000;
    let tau = tail as f64 / (60.0 / 20.0 * std::f64::consts::LN_10); // e-folding, samples
    let mut taps = vec![(0usize, 1.0f64)];
    let mut lag = 12usize; // first reflection 0.25 ms after the direct path
    while lag < tail {
        taps.push((lag, rng.next() * 0.8 * (-(lag as f64) / tau).exp()));
        lag += 8 + ((rng.next() + 1.0) * 8.0) as usize;
    }
    let energy: f64 = taps.iter().map(|(_, g)| g * g).sum();
    let scale = 10f64.powf(room.gain_db / 20.0) / energy.sqrt();
    taps.iter().map(|&(l, g)| (l, g * scale)).collect()
}

fn fixture(name: &str) -> Vec<f32> {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    read_wav(&path).unwrap().to_mono()
}

fn reply_spec() -> ResponseSpec {
    let reply = fixture("assistant_reply_24k.wav");
    ResponseSpec::Audio {
        pcm24k: reply
            .iter()
            .map(|&s| (s * 32767.0).round().clamp(-32768.0, 32767.0) as i16)
            .collect(),
        transcript: "Sure. I moved the cube one meter to the left.".into(),
    }
}

/// Loudest 20 ms frame (the VAD's frame) of `x`, dBFS RMS.
fn loudest_frame_dbfs(x: &[f32], rate: usize) -> f64 {
    x.chunks(rate / 50)
        .map(|f| {
            let e = f.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / f.len() as f64;
            10.0 * e.max(1e-12).log10()
        })
        .fold(-120.0, f64::max)
}

/// How many 20 ms frames of `x` reach the VAD threshold.
fn loud_frames(x: &[f32], rate: usize) -> usize {
    x.chunks_exact(rate / 50)
        .filter(|f| {
            let e = f.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / f.len() as f64;
            10.0 * e.max(1e-12).log10() >= VAD_THRESHOLD_DBFS
        })
        .count()
}

/// The speaker and the mic of one room, on one sample clock.
struct AcousticLoop {
    stop: Arc<AtomicBool>,
    /// What the device was given (mono, left channel), by frame position.
    played: Arc<parking_lot::Mutex<Vec<f32>>>,
    /// What the mic pushed (mono), by frame position.
    heard: Arc<parking_lot::Mutex<Vec<f32>>>,
    /// Frame position of the last reply's first frame of model audio (-1: none yet).
    reply_start: Arc<AtomicI64>,
    /// Frames that carried model audio, since the last reply started.
    model_frames: Arc<AtomicU64>,
    /// Frame position where the user's voice starts in the mic (-1: no voice).
    near_start: Arc<AtomicI64>,
    threads: Vec<JoinHandle<()>>,
}

impl AcousticLoop {
    /// Starts the device and the mic for `handle`. With `near_end`, the user's voice is
    /// mixed into the mic from [`NEAR_END_AFTER_MS`] after the reply started playing.
    fn start(handle: RvSession, room: Room, near_end: Option<Vec<f32>>) -> AcousticLoop {
        let stop = Arc::new(AtomicBool::new(false));
        let played = Arc::new(parking_lot::Mutex::new(Vec::<f32>::with_capacity(
            RATE * 30,
        )));
        let heard = Arc::new(parking_lot::Mutex::new(Vec::<f32>::with_capacity(
            RATE * 30,
        )));
        let reply_start = Arc::new(AtomicI64::new(-1));
        let model_frames = Arc::new(AtomicU64::new(0));
        let near_start = Arc::new(AtomicI64::new(-1));
        let began = Instant::now();
        let pace = move |frames: usize| {
            let due = began + Duration::from_secs_f64(frames as f64 / RATE as f64);
            if let Some(d) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(d);
            }
        };
        let device = {
            let (stop, played) = (stop.clone(), played.clone());
            let (reply_start, model_frames) = (reply_start.clone(), model_frames.clone());
            std::thread::spawn(move || {
                let mut out = vec![0f32; CALLBACK * 2];
                let mut pos = 0usize;
                let mut playing = false;
                while !stop.load(Ordering::Relaxed) {
                    let n = unsafe {
                        rv_pull_playback(handle, out.as_mut_ptr(), CALLBACK as i32, 2, 48_000)
                    };
                    if n > 0 && !playing {
                        // A reply starts where its first non-silent frame is.
                        let first = out.chunks(2).position(|f| f[0] != 0.0).unwrap_or(0);
                        reply_start.store((pos + first) as i64, Ordering::Relaxed);
                        model_frames.store(0, Ordering::Relaxed);
                    }
                    playing = n > 0;
                    model_frames.fetch_add(n.max(0) as u64, Ordering::Relaxed);
                    played.lock().extend(out.iter().step_by(2));
                    pos += CALLBACK;
                    pace(pos);
                }
            })
        };
        let mic = {
            let (stop, played, heard) = (stop.clone(), played.clone(), heard.clone());
            let (reply_start, near_start) = (reply_start.clone(), near_start.clone());
            std::thread::spawn(move || {
                let taps = impulse_response(room);
                let delay = room.delay_ms * RATE / 1000;
                let noise = 10f64.powf(room.noise_dbfs / 20.0) * 3f64.sqrt(); // uniform RMS
                let near_offset = (NEAR_END_AFTER_MS * RATE / 1000) as i64;
                let mut rng = Lcg(42);
                let mut buf = vec![0f32; MIC_CHUNK];
                let mut pos = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    // A mic delivers a stretch of time after it has passed, and by then
                    // the device has been handed that stretch (it runs a callback ahead),
                    // so this waits only if the device's thread was starved. (Waiting only
                    // for the frames the echo needs let the mic run up to the room's delay
                    // ahead of the device, which no device does: the canceller's far end
                    // then ran dry, each gap shifted the echo path, and the filter was
                    // rarely trusted; measured: speech_started from the echo in 3 of 13
                    // runs, the delay estimate anywhere in 21-48 ms. Now the same figures
                    // in every run, the delay estimate 58 ms against the room's 60.)
                    let needed = pos + MIC_CHUNK;
                    let wait_until = Instant::now() + Duration::from_millis(100);
                    while played.lock().len() < needed && Instant::now() < wait_until {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    let start = reply_start.load(Ordering::Relaxed);
                    if near_end.is_some() && start >= 0 && near_start.load(Ordering::Relaxed) < 0 {
                        near_start.store(start + near_offset, Ordering::Relaxed);
                    }
                    let near_at = near_start.load(Ordering::Relaxed);
                    {
                        let played = played.lock();
                        for (i, out) in buf.iter_mut().enumerate() {
                            let p = pos + i;
                            let mut v = rng.next() * noise;
                            for &(lag, g) in &taps {
                                if let Some(src) = p.checked_sub(delay + lag) {
                                    v += g * f64::from(played.get(src).copied().unwrap_or(0.0));
                                }
                            }
                            if let (Some(voice), true) = (near_end.as_ref(), near_at >= 0) {
                                if let Some(k) = (p as i64).checked_sub(near_at) {
                                    if k >= 0 {
                                        v += f64::from(
                                            voice.get(k as usize).copied().unwrap_or(0.0),
                                        );
                                    }
                                }
                            }
                            *out = v as f32;
                        }
                    }
                    heard.lock().extend_from_slice(&buf);
                    unsafe { rv_push_mic(handle, buf.as_ptr(), MIC_CHUNK as i32, 1, 48_000) };
                    pos += MIC_CHUNK;
                    pace(pos);
                }
            })
        };
        AcousticLoop {
            stop,
            played,
            heard,
            reply_start,
            model_frames,
            near_start,
            threads: vec![device, mic],
        }
    }

    fn model_frames(&self) -> u64 {
        self.model_frames.load(Ordering::Relaxed)
    }

    /// Stops both threads.
    fn stop(mut self) -> (Vec<f32>, Vec<f32>, i64, i64) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            t.join().unwrap();
        }
        let played = std::mem::take(&mut *self.played.lock());
        let heard = std::mem::take(&mut *self.heard.lock());
        (
            played,
            heard,
            self.reply_start.load(Ordering::Relaxed),
            self.near_start.load(Ordering::Relaxed),
        )
    }
}

/// What happened in one run.
struct Run {
    rv: Rv,
    server: MockServer,
    /// Loudest 20 ms frame of the echo in the mic while the reply played, dBFS.
    mic_echo_peak_dbfs: f64,
    /// Loudest 20 ms frame the server heard while the reply played (before any near end).
    sent_echo_peak_dbfs: f64,
    /// 20 ms frames at or above the VAD threshold the server heard in that stretch.
    sent_loud_frames: usize,
    /// Frames of model audio played.
    model_frames: u64,
    reply_start: i64,
    near_start: i64,
}

/// Server VAD as the API's default, except that a turn does not start a response of its
/// own: the one reply under test is the only model audio (an echo turn would otherwise
/// start another reply, and its echo another).
const NO_AUTO_RESPONSE: &str = r#""session":{"audio":{"input":{"turn_detection":{"type":"server_vad","create_response":false}}}}"#;
/// The same, and a turn does not cancel the reply either: the reply always plays whole.
const NO_INTERRUPTION: &str = r#""session":{"audio":{"input":{"turn_detection":{"type":"server_vad","create_response":false,"interrupt_response":false}}}},"barge_in":false"#;

fn run(extra: &str, near_end: Option<Vec<f32>>) -> Run {
    run_with(NO_AUTO_RESPONSE, extra, near_end, false)
}

/// Asks for the reply and waits until it played out (or was cut), plus 600 ms of tail.
fn play_reply(rv: &mut Rv, room: &AcousticLoop) {
    let responses = rv.events_of("response_done").len();
    assert_eq!(rv.send_text("Move the cube one meter to the left."), RV_OK);
    let deadline = Instant::now() + T;
    let mut quiet_since = Instant::now();
    let mut last = room.model_frames();
    while Instant::now() < deadline {
        rv.poll();
        let now = room.model_frames();
        if now != last {
            last = now;
            quiet_since = Instant::now();
        }
        let done = rv.events_of("response_done").len() > responses;
        if done && now > 0 && quiet_since.elapsed() > Duration::from_millis(600) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One reply through the room (after a first one, with the server's VAD off, when
/// `warm_up`: the canceller then starts from what it learnt of the room).
fn run_with(vad: &str, extra: &str, near_end: Option<Vec<f32>>, warm_up: bool) -> Run {
    let server = MockServer::start(
        MockConfig::default()
            .respond(reply_spec())
            .respond(reply_spec()),
    )
    .unwrap();
    let mut rv = ready(&server, &format!("{vad},{extra}"));
    let room = AcousticLoop::start(rv.handle, ROOM, near_end);
    // Half a second of room noise first: the canceller and the VAD see a quiet room.
    std::thread::sleep(Duration::from_millis(500));
    if warm_up {
        let turn = |td: &str| format!(r#"{{"audio":{{"input":{{"turn_detection":{td}}}}}}}"#);
        assert_eq!(rv.update_session(&turn("null")), RV_OK);
        play_reply(&mut rv, &room);
        let vad_on = turn(r#"{"type":"server_vad","create_response":false}"#);
        assert_eq!(rv.update_session(&vad_on), RV_OK);
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            speech_onsets_ms(&server).is_empty(),
            "no VAD in the warm-up"
        );
    }
    play_reply(&mut rv, &room);
    let model_frames = room.model_frames();
    let (_played, heard, reply_start, near_start) = room.stop();
    rv.poll();
    assert!(reply_start >= 0, "the reply was played");
    // The stretch where the reply played, minus the near end: what the echo alone did.
    let end = if near_start >= 0 {
        near_start as usize
    } else {
        reply_start as usize + model_frames as usize + ROOM.delay_ms * RATE / 1000
    };
    let begin = reply_start as usize;
    let mic_echo_peak_dbfs = loudest_frame_dbfs(&heard[begin..end.min(heard.len())], RATE);
    let sent: Vec<f32> = server
        .received_audio()
        .iter()
        .map(|&s| f32::from(s) / 32768.0)
        .collect();
    // The wire is at 24 kHz and starts with the mic's first push (the session was ready).
    let (b24, e24) = (begin / 2, (end / 2).min(sent.len()));
    let sent_stretch = &sent[b24.min(e24)..e24];
    Run {
        mic_echo_peak_dbfs,
        sent_echo_peak_dbfs: loudest_frame_dbfs(sent_stretch, 24_000),
        sent_loud_frames: loud_frames(sent_stretch, 24_000),
        model_frames,
        reply_start,
        near_start,
        rv,
        server,
    }
}

/// The server's `speech_started` events as onset times in ms of the input audio (the
/// mock puts `audio_start_ms` 300 ms of prefix padding before the onset).
fn speech_onsets_ms(server: &MockServer) -> Vec<i64> {
    server
        .sent_of_type("input_audio_buffer.speech_started")
        .iter()
        .map(|e| e["audio_start_ms"].as_i64().unwrap_or(-1) + 300)
        .collect()
}

fn report(label: &str, r: &Run) {
    eprintln!(
        "{label}: echo in the mic peaks at {:.1} dBFS (20 ms frames; VAD threshold {VAD_THRESHOLD_DBFS} dBFS); \
         the server heard a peak of {:.1} dBFS with {} frames over the threshold; \
         speech_started at {:?} ms of input (reply from {} ms, near end from {} ms); \
         {} model frames played; stats {:?}",
        r.mic_echo_peak_dbfs,
        r.sent_echo_peak_dbfs,
        r.sent_loud_frames,
        speech_onsets_ms(&r.server),
        r.reply_start * 1000 / RATE as i64,
        if r.near_start >= 0 { r.near_start * 1000 / RATE as i64 } else { -1 },
        r.model_frames,
        r.rv.stats()
    );
}

/// What the server heard along the reply (for the canceller's authors): 20 ms frames over
/// the VAD threshold per 250 ms of reply, from the reply's first frame on.
fn loud_timeline(r: &Run) -> Vec<usize> {
    let sent: Vec<f32> = r
        .server
        .received_audio()
        .iter()
        .map(|&x| f32::from(x) / 32768.0)
        .collect();
    let begin = r.reply_start.max(0) as usize / 2;
    (0..14)
        .map(|k| {
            let a = (begin + k * 6000).min(sent.len());
            let b = (a + 6000).min(sent.len());
            loud_frames(&sent[a..b], 24_000)
        })
        .collect()
}

const REPLY_FRAMES: u64 = 146_088; // 3.0435 s at 48 kHz

#[test]
fn without_cancellation_the_echo_interrupts_the_model() {
    let r = run(r#""echo_cancellation":false"#, None);
    report("echo_cancellation off", &r);
    assert!(
        r.mic_echo_peak_dbfs > VAD_THRESHOLD_DBFS + 6.0,
        "the room's echo is loud enough to matter ({:.1} dBFS)",
        r.mic_echo_peak_dbfs
    );
    let onsets = speech_onsets_ms(&r.server);
    let reply_ms = r.reply_start * 1000 / RATE as i64;
    assert!(
        onsets.iter().any(|&ms| ms >= reply_ms),
        "the server took the echo for the user: speech_started during the reply ({onsets:?}, reply from {reply_ms} ms)"
    );
    assert!(
        r.model_frames < REPLY_FRAMES - 4_800,
        "the echo cut the reply short ({} of {REPLY_FRAMES} frames)",
        r.model_frames
    );
    assert!(!r.rv.events_of("audio_interrupted").is_empty());
    let stats = r.rv.stats();
    assert_eq!(
        (
            stats.echo_delay_ms,
            stats.echo_erle_db,
            stats.echo_converged
        ),
        (-1, 0.0, 0),
        "no canceller, no figures"
    );
}

/// The room's echo was loud enough to matter, yet the server never took it for the user and
/// the whole reply played.
fn assert_the_reply_played_unheard(r: &Run) {
    assert!(
        r.mic_echo_peak_dbfs > VAD_THRESHOLD_DBFS + 6.0,
        "the room's echo is loud enough to matter ({:.1} dBFS)",
        r.mic_echo_peak_dbfs
    );
    assert!(
        r.model_frames >= REPLY_FRAMES - 2_048,
        "the whole reply played ({} of {REPLY_FRAMES} frames)",
        r.model_frames
    );
    assert_eq!(
        speech_onsets_ms(&r.server),
        Vec::<i64>::new(),
        "no speech_started: the server heard a peak of {:.1} dBFS",
        r.sent_echo_peak_dbfs
    );
}

#[test]
fn with_cancellation_the_model_plays_to_the_end() {
    let r = run(r#""echo_cancellation":true"#, None);
    report("echo_cancellation on", &r);
    assert_the_reply_played_unheard(&r);
    assert!(r.rv.events_of("speech_started").is_empty());
    assert!(r.rv.events_of("audio_interrupted").is_empty());
}

#[test]
fn with_cancellation_a_second_reply_plays_to_the_end() {
    // The room stays the same between replies: the canceller has learnt it on the first.
    let r = run_with(NO_AUTO_RESPONSE, r#""echo_cancellation":true"#, None, true);
    report("echo_cancellation on, second reply", &r);
    eprintln!(
        "second reply: 20 ms frames over the VAD threshold per 250 ms: {:?}",
        loud_timeline(&r)
    );
    assert_the_reply_played_unheard(&r);
}

#[test]
fn with_cancellation_the_user_still_interrupts_by_voice() {
    let voice = fixture("user_interrupt_48k.wav");
    let r = run(r#""echo_cancellation":true"#, Some(voice));
    report("echo_cancellation on, user interrupts", &r);
    assert!(r.near_start >= 0, "the user spoke");
    let near_ms = r.near_start * 1000 / RATE as i64;
    let onsets = speech_onsets_ms(&r.server);
    assert!(!onsets.is_empty(), "the user's voice was heard");
    // The first onset is the user's (not the echo's): at most one VAD frame early, for the
    // VAD's 20 ms frame grid.
    assert!(
        onsets[0] >= near_ms - 20,
        "speech_started at {} ms, before the user spoke at {near_ms} ms: the echo leaked",
        onsets[0]
    );
    assert!(
        onsets[0] <= near_ms + 500,
        "heard late: {} ms vs {near_ms} ms",
        onsets[0]
    );
    // The session's barge-in: playback cut, the item truncated to what was heard.
    let mut rv = r.rv;
    let cut = rv.wait_type(T, "audio_interrupted");
    assert!(r.server.wait_for(T, |ev| ev
        .iter()
        .any(|e: &Value| e["type"] == "conversation.item.truncate")));
    let truncate = &r.server.received_of_type("conversation.item.truncate")[0];
    let end_ms = truncate["audio_end_ms"].as_i64().unwrap();
    assert_eq!(cut["played_ms"].as_i64().unwrap(), end_ms);
    assert!(
        (NEAR_END_AFTER_MS as i64..NEAR_END_AFTER_MS as i64 + 800).contains(&end_ms),
        "truncated at {end_ms} ms of the reply; the user spoke at {NEAR_END_AFTER_MS} ms"
    );
    assert!(
        r.model_frames < REPLY_FRAMES - 24_000,
        "playback stopped ({} frames)",
        r.model_frames
    );
}

#[test]
fn stats_report_the_canceller_through_the_c_abi() {
    // Off: -1 / 0 / 0, whatever runs.
    let r = run_with(NO_INTERRUPTION, r#""echo_cancellation":false"#, None, false);
    report("echo_cancellation off, reply never interrupted", &r);
    eprintln!(
        "off: 20 ms frames over the VAD threshold the server heard per 250 ms of reply: {:?}",
        loud_timeline(&r)
    );
    let s = r.rv.stats();
    assert!(s.mic_frames_in > 0);
    assert_eq!(
        (s.echo_delay_ms, s.echo_erle_db, s.echo_converged),
        (-1, 0.0, 0)
    );
    drop(r);
    // On, before any mic audio: unknown delay.
    let server = MockServer::start(MockConfig::default()).unwrap();
    let rv = ready(&server, r#""echo_cancellation":true"#);
    let s = rv.stats();
    assert_eq!((s.echo_delay_ms, s.echo_converged), (-1, 0));
    drop(rv);
    // On, after a reply echoed through the room: the canceller's delay estimate covers
    // the room's 60 ms (plus the devices' buffering), and the figures are sane.
    let r = run_with(NO_INTERRUPTION, r#""echo_cancellation":true"#, None, false);
    let s = r.rv.stats();
    report("echo_cancellation on, reply never interrupted", &r);
    eprintln!(
        "on: 20 ms frames over the VAD threshold the server heard per 250 ms of reply: {:?}",
        loud_timeline(&r)
    );
    assert!(
        (20..=400).contains(&s.echo_delay_ms),
        "estimated echo delay {} ms",
        s.echo_delay_ms
    );
    // Any finite figure but the exact 0.0 of "off" is the canceller's own.
    assert!(
        s.echo_erle_db.is_finite() && s.echo_erle_db != 0.0,
        "{}",
        s.echo_erle_db
    );
    assert!(s.echo_converged == 0 || s.echo_converged == 1);
}
