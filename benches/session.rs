//! Session benchmarks over loopback, through the C ABI:
//! - mic push to bytes on the socket: `rv_push_mic` (the 10 ms push that completes a 20 ms
//!   chunk) until a minimal WebSocket server has read the `input_audio_buffer.append`, with
//!   echo cancellation on (the default) and off, split into the time inside `rv_push_mic`
//!   (resampling, the canceller, chunking) and the rest (the worker's wake-up, the socket);
//! - server delta to pull-ready: the server flushes a `response.output_audio.delta` until
//!   `rv_pull_playback` returns model audio (prebuffer 0);
//! - CPU per stream-second with 16 concurrent full-duplex sessions against the local
//!   Realtime server (mic threads pushing 10 ms of 48 kHz stereo, audio threads pulling
//!   1024-frame callbacks, 24 kHz model audio arriving in real time), counted from the
//!   plugin's own threads in /proc (schedstat, ns) and split into the workers, the mic
//!   threads (which run the echo canceller) and the audio threads; with echo cancellation
//!   on and off;
//! - idle cost: 8 ready sessions nobody talks to, for 10 s: the worker's wake-ups per
//!   second (`RvStats::worker_wakeups`) and its CPU share (from /proc schedstat, in ns).
//!
//! The latency distributions are printed as p50/p99 tables (criterion measures means; the
//! tails matter here), each followed by its p99.9 and its counts over 0.5 ms and 1 ms (to pool
//! over runs); criterion also times the push-to-socket path with `iter_custom`.
//! `SESSION_BENCH_SAMPLES=DIR` also writes each table's samples (ns, one a line) to `DIR`.
//! `SESSION_BENCH_PARTS=cpu` (or `latency`, `idle`, comma-separated) runs only those parts,
//! for a profiler.

use criterion::{criterion_group, criterion_main, Criterion};
use realtime_voice::ffi::*;
use rv_mock_server::{Fault, MockConfig, MockServer};
use serde_json::json;
use std::ffi::CString;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tungstenite::Message;

/// A bare WebSocket server: reports when each append arrives, sends deltas on request.
struct RawServer {
    url: String,
    arrivals: mpsc::Receiver<Instant>,
    send_delta: mpsc::Sender<String>,
    sent_at: mpsc::Receiver<Instant>,
}

fn raw_server() -> RawServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/v1/realtime", listener.local_addr().unwrap());
    let (arr_tx, arrivals) = mpsc::channel();
    let (send_delta, delta_rx) = mpsc::channel::<String>();
    let (sent_tx, sent_at) = mpsc::channel();
    std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_nodelay(true).unwrap();
        let mut ws = tungstenite::accept(tcp).unwrap();
        for ev in [
            json!({"type":"session.created","event_id":"e1","session":{"type":"realtime","id":"sess_bench"}}),
            json!({"type":"session.updated","event_id":"e2","session":{"type":"realtime"}}),
        ] {
            ws.send(Message::text(ev.to_string())).unwrap();
        }
        ws.get_ref()
            .set_read_timeout(Some(Duration::from_micros(200)))
            .unwrap();
        loop {
            match ws.read() {
                Ok(Message::Text(t)) => {
                    if t.as_str().contains("\"input_audio_buffer.append\"") {
                        let _ = arr_tx.send(Instant::now());
                    }
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return,
            }
            while let Ok(delta) = delta_rx.try_recv() {
                if ws.send(Message::text(delta)).is_err() {
                    return;
                }
                let _ = sent_tx.send(Instant::now());
            }
        }
    });
    RawServer {
        url,
        arrivals,
        send_delta,
        sent_at,
    }
}

fn create(config: &str) -> RvSession {
    let c = CString::new(config).unwrap();
    let mut h = 0;
    assert_eq!(unsafe { rv_session_create(c.as_ptr(), &mut h) }, RV_OK);
    assert_eq!(rv_session_connect(h), RV_OK);
    let deadline = Instant::now() + Duration::from_secs(10);
    while rv_session_state(h) != RV_STATE_READY {
        assert!(Instant::now() < deadline, "session not ready");
        std::thread::sleep(Duration::from_millis(5));
    }
    h
}

fn percentiles(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    let at = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99), *v.last().unwrap())
}

/// The far tail of a latency table, which one run's p99 does not resolve (a run's p99 is one
/// sample of ten in 1000 either waiting for a scheduler tick or not): p99.9 and how many
/// samples took over 0.5 ms and over 1 ms, counts that can be pooled over runs.
fn tail(v: &[Duration]) -> String {
    let mut v = v.to_vec();
    v.sort();
    let p999 = v[((v.len() as f64 - 1.0) * 0.999).round() as usize];
    let over = |limit: Duration| v.iter().filter(|&&d| d > limit).count();
    format!(
        "p99.9 {p999:?}, {} over 0.5 ms, {} over 1 ms",
        over(Duration::from_micros(500)),
        over(Duration::from_millis(1))
    )
}

/// With `SESSION_BENCH_SAMPLES=DIR`, writes a table's samples to `DIR/NAME.txt`, one a line in
/// ns, in the order taken, for tests over the samples of many runs.
fn dump_samples(name: &str, v: &[Duration]) {
    if let Ok(dir) = std::env::var("SESSION_BENCH_SAMPLES") {
        let text: String = v.iter().map(|d| format!("{}\n", d.as_nanos())).collect();
        let path = std::path::Path::new(&dir).join(format!("{name}.txt"));
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("could not write {}: {e}", path.display());
        }
    }
}

/// How a push-to-socket sample went: from the push that completed the chunk to the server's
/// read, the part of it spent inside `rv_push_mic` (resampling, the echo canceller, chunking,
/// queueing; the rest is the worker's wake-up, the socket and the server's read), and whether
/// it took more pushes than the chunk cadence explains.
struct PushSample {
    total: Duration,
    in_call: Duration,
    stalled: bool,
}

/// One push-to-socket sample: 10 ms pushes until one completes a 20 ms chunk (the chunk
/// boundary drifts with the resampler's delay and the canceller's 128-sample blocks, so that
/// takes one to three pushes), timed from that push to the server's read. An append later
/// than the 20 ms each push waits is counted against a later push; such a sample needs more
/// than three pushes and is reported as a stall (a loaded machine starving the worker or the
/// server), not dropped.
fn push_to_socket(h: RvSession, server: &RawServer, mic: &[f32]) -> PushSample {
    for pushes in 1..=100 {
        let t = Instant::now();
        unsafe { rv_push_mic(h, mic.as_ptr(), 480, 2, 48_000) };
        let in_call = t.elapsed();
        if let Ok(arrived) = server.arrivals.recv_timeout(Duration::from_millis(20)) {
            return PushSample {
                total: arrived.duration_since(t),
                in_call,
                stalled: pushes > 3,
            };
        }
    }
    let mut st = RvStats::default();
    unsafe { rv_get_stats(h, &mut st) };
    panic!(
        "no append reached the server after 100 pushes (state {}, {} bytes sent, {} chunks dropped)",
        st.state, st.audio_bytes_sent, st.mic_chunks_dropped
    );
}

/// Which parts run: all, or those named in `SESSION_BENCH_PARTS` (comma-separated:
/// `latency`, `cpu`, `idle`), so a profiler can look at one part alone.
fn part_enabled(part: &str) -> bool {
    std::env::var("SESSION_BENCH_PARTS").map_or(true, |v| v.split(',').any(|p| p.trim() == part))
}

/// The push -> wire table of one session with echo cancellation on or off; with `c`, criterion
/// also times the path.
fn push_to_wire_table(c: Option<&mut Criterion>, echo_cancellation: bool) {
    let server = raw_server();
    let h = create(&format!(
        r#"{{"url":"{}","prebuffer_ms":0,"chunk_ms":20,"echo_cancellation":{echo_cancellation}}}"#,
        server.url
    ));
    let mic: Vec<f32> = (0..960).map(|i| ((i as f32) * 0.05).sin() * 0.2).collect();
    for _ in 0..20 {
        push_to_socket(h, &server, &mic);
    }
    let samples: Vec<PushSample> = (0..1000)
        .map(|_| push_to_socket(h, &server, &mic))
        .collect();
    let stalls = samples.iter().filter(|s| s.stalled).count();
    // The woken worker may take the pushing thread's core and send before the call returns.
    let sent_before_return = samples.iter().filter(|s| s.total < s.in_call).count();
    let total: Vec<Duration> = samples.iter().map(|s| s.total).collect();
    let in_call: Vec<Duration> = samples.iter().map(|s| s.in_call).collect();
    let after_call: Vec<Duration> = samples
        .iter()
        .map(|s| s.total.saturating_sub(s.in_call))
        .collect();
    let echo = if echo_cancellation { "on" } else { "off" };
    dump_samples(&format!("push-{echo}-total"), &total);
    dump_samples(&format!("push-{echo}-in-call"), &in_call);
    let tails = format!(
        "push -> append {}; inside rv_push_mic {}",
        tail(&total),
        tail(&in_call)
    );
    let (p50, p99, max) = percentiles(total);
    let (c50, c99, _) = percentiles(in_call);
    let (w50, w99, _) = percentiles(after_call);
    println!(
        "\nmic push -> append read by the server, echo cancellation {echo} (1000 samples): \
         p50 {p50:?}, p99 {p99:?}, max {max:?}; of which inside rv_push_mic p50 {c50:?}, p99 {c99:?}; \
         after it returned (wake, worker, socket) p50 {w50:?}, p99 {w99:?}; {sent_before_return} read before the call returned; {stalls} stalls; \
         tail: {tails}"
    );
    if let Some(c) = c {
        c.bench_function("session/mic push to socket (20 ms chunk)", |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| push_to_socket(h, &server, &mic).total)
                    .sum()
            })
        });
    }
    rv_session_destroy(h);
}

fn latency_tables(c: &mut Criterion) {
    if !part_enabled("latency") {
        return;
    }
    push_to_wire_table(Some(c), true);
    push_to_wire_table(None, false);

    let server = raw_server();
    let h = create(&format!(
        r#"{{"url":"{}","prebuffer_ms":0,"chunk_ms":20}}"#,
        server.url
    ));
    // Server delta -> pull-ready.
    use base64::Engine;
    let pcm: Vec<u8> = (0..480i16).flat_map(|i| (i * 20).to_le_bytes()).collect(); // 20 ms at 24 kHz
    let b64 = base64::engine::general_purpose::STANDARD.encode(&pcm);
    let mut out = vec![0f32; 1024 * 2];
    let mut samples = Vec::new();
    for i in 0..520 {
        let delta = json!({"type":"response.output_audio.delta","event_id":format!("ev{i}"),"response_id":"resp_b",
            "item_id":format!("item_{i}"),"output_index":0,"content_index":0,"delta":b64});
        let done = json!({"type":"response.output_audio.done","event_id":format!("evd{i}"),"response_id":"resp_b",
            "item_id":format!("item_{i}"),"output_index":0,"content_index":0});
        server.send_delta.send(delta.to_string()).unwrap();
        let sent = server.sent_at.recv_timeout(Duration::from_secs(2)).unwrap();
        let deadline = Instant::now() + Duration::from_secs(2);
        let ready = loop {
            let n = unsafe { rv_pull_playback(h, out.as_mut_ptr(), 64, 2, 48_000) };
            if n > 0 {
                break Instant::now();
            }
            assert!(Instant::now() < deadline, "delta never became playable");
            // Poll, don't spin: a spinning thread on a 2-core machine delays the worker
            // it is waiting for by a scheduler slice.
            std::thread::sleep(Duration::from_micros(50));
        };
        if i >= 20 {
            samples.push(ready.duration_since(sent));
        }
        server.send_delta.send(done.to_string()).unwrap();
        let _ = server.sent_at.recv_timeout(Duration::from_secs(2));
        // Drain this item before the next sample.
        let drain_deadline = Instant::now() + Duration::from_millis(500);
        while Instant::now() < drain_deadline {
            std::thread::sleep(Duration::from_millis(3));
            if unsafe { rv_pull_playback(h, out.as_mut_ptr(), 1024, 2, 48_000) } == 0 {
                break;
            }
        }
    }
    dump_samples("delta-pull-ready", &samples);
    let tails = tail(&samples);
    let (p50, p99, max) = percentiles(samples);
    println!("server delta flushed -> rv_pull_playback has audio (500 samples): p50 {p50:?}, p99 {p99:?}, max {max:?}; tail: {tails}\n");
    rv_session_destroy(h);
}

/// The thread classes the 16-session figure is split into, by thread name prefix: the
/// workers (socket, conversation, playback pump with the mouth analysis), the host's mic
/// threads (`rv_push_mic`: resampling, the echo canceller, chunking), the audio threads
/// (`rv_pull_playback`).
const CPU_CLASSES: [(&str, &str); 3] = [
    ("realtime-voice-", "workers"),
    ("rv-bench-mic", "mic threads"),
    ("rv-bench-audio", "audio threads"),
];

fn cpu_by_class() -> [u64; 3] {
    CPU_CLASSES.map(|(prefix, _)| thread_cpu_ns(prefix))
}

fn cpu_16_sessions_both(_c: &mut Criterion) {
    if !part_enabled("cpu") {
        return;
    }
    cpu_16_sessions(true);
    cpu_16_sessions(false);
}

fn cpu_16_sessions(echo_cancellation: bool) {
    const SESSIONS: usize = 16;
    const SECONDS: f64 = 6.0;
    let server = MockServer::start(MockConfig::default().ping_interval(None)).unwrap();
    let handles: Vec<RvSession> = (0..SESSIONS)
        .map(|_| {
            create(&format!(
                r#"{{"url":"{}","prebuffer_ms":40,"echo_cancellation":{echo_cancellation}}}"#,
                server.url()
            ))
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for &h in &handles {
        let s = stop.clone();
        threads.push(
            std::thread::Builder::new()
                .name("rv-bench-mic".into())
                .spawn(move || {
                    // Quiet room noise (-50 dBFS): streamed, below the server's speech threshold.
                    let mic: Vec<f32> = (0..960)
                        .map(|i| (((i * 7919) % 200) as f32 / 100.0 - 1.0) * 0.003)
                        .collect();
                    let start = Instant::now();
                    let mut n = 0u32;
                    while !s.load(Ordering::Relaxed) {
                        unsafe { rv_push_mic(h, mic.as_ptr(), 480, 2, 48_000) };
                        n += 1;
                        std::thread::sleep(
                            (start + Duration::from_millis(10) * n)
                                .saturating_duration_since(Instant::now()),
                        );
                    }
                })
                .unwrap(),
        );
        let s = stop.clone();
        threads.push(
            std::thread::Builder::new()
                .name("rv-bench-audio".into())
                .spawn(move || {
                    let mut out = vec![0f32; 2048];
                    let start = Instant::now();
                    let mut n = 0u32;
                    while !s.load(Ordering::Relaxed) {
                        unsafe { rv_pull_playback(h, out.as_mut_ptr(), 1024, 2, 48_000) };
                        n += 1;
                        let due = start + Duration::from_secs_f64(f64::from(n) * 1024.0 / 48_000.0);
                        std::thread::sleep(due.saturating_duration_since(Instant::now()));
                    }
                })
                .unwrap(),
        );
    }
    // Model audio in real time: a 20 ms delta every 20 ms to every session.
    use base64::Engine;
    let pcm: Vec<u8> = (0..480i16)
        .flat_map(|i| ((i % 50) * 300).to_le_bytes())
        .collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&pcm);
    std::thread::sleep(Duration::from_millis(300));
    let worker_wakeups = |h: RvSession| {
        let mut st = RvStats::default();
        unsafe { rv_get_stats(h, &mut st) };
        st.worker_wakeups
    };
    let wakeups_at_start: Vec<u64> = handles.iter().map(|&h| worker_wakeups(h)).collect();
    let before = cpu_by_class();
    let start = Instant::now();
    let mut i = 0u32;
    while start.elapsed().as_secs_f64() < SECONDS {
        let delta = json!({"type":"response.output_audio.delta","event_id":format!("e{i}"),"response_id":"resp_cpu",
            "item_id":"item_cpu","output_index":0,"content_index":0,"delta":b64});
        server.inject(Fault::SendEvent(delta));
        i += 1;
        std::thread::sleep(
            (start + Duration::from_millis(20) * i).saturating_duration_since(Instant::now()),
        );
    }
    let wall = start.elapsed().as_secs_f64();
    let after = cpu_by_class();
    let wakeups: u64 = handles
        .iter()
        .zip(&wakeups_at_start)
        .map(|(&h, w0)| worker_wakeups(h) - w0)
        .sum();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let mut received = 0;
    for h in handles {
        let mut st = RvStats::default();
        unsafe { rv_get_stats(h, &mut st) };
        received += st.audio_bytes_received;
        rv_session_destroy(h);
    }
    let stream_seconds = SESSIONS as f64 * wall;
    let per_stream_second_ms = |ns: u64| ns as f64 / 1e6 / stream_seconds;
    let total: u64 = (0..3).map(|k| after[k] - before[k]).sum();
    let parts: Vec<String> = (0..3)
        .map(|k| {
            format!(
                "{} {:.1} ms",
                CPU_CLASSES[k].1,
                per_stream_second_ms(after[k] - before[k])
            )
        })
        .collect();
    println!(
        "\n{SESSIONS} full-duplex sessions for {wall:.1} s, echo cancellation {}: plugin threads used {:.2} s CPU \
         = {:.1} ms per stream-second ({:.2} % of one core per session): {}; {:.0} worker wake-ups per session-second; model audio received {:.1} s per session\n",
        if echo_cancellation { "on" } else { "off" },
        total as f64 / 1e9,
        per_stream_second_ms(total),
        per_stream_second_ms(total) / 10.0,
        parts.join(", "),
        wakeups as f64 / stream_seconds,
        received as f64 / 2.0 / 24_000.0 / SESSIONS as f64
    );
}

/// CPU time in ns of this process's threads whose name starts with `prefix` (schedstat:
/// nanosecond resolution, where utime/stime tick at 10 ms).
fn thread_cpu_ns(prefix: &str) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let p = entry.path();
        let name = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
        if name.starts_with(prefix) {
            let stat = std::fs::read_to_string(p.join("schedstat")).unwrap_or_default();
            total += stat
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

fn idle_sessions(_c: &mut Criterion) {
    if !part_enabled("idle") {
        return;
    }
    const SESSIONS: usize = 8;
    const SECONDS: u64 = 10;
    let server = MockServer::start(MockConfig::default().ping_interval(None)).unwrap();
    let handles: Vec<RvSession> = (0..SESSIONS)
        .map(|_| create(&format!(r#"{{"url":"{}"}}"#, server.url())))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let wakeups = || -> u64 {
        handles
            .iter()
            .map(|&h| {
                let mut st = RvStats::default();
                unsafe { rv_get_stats(h, &mut st) };
                st.worker_wakeups
            })
            .sum()
    };
    let (w0, cpu0, t0) = (wakeups(), thread_cpu_ns("realtime-voice-"), Instant::now());
    std::thread::sleep(Duration::from_secs(SECONDS));
    let (w1, cpu1, wall) = (wakeups(), thread_cpu_ns("realtime-voice-"), t0.elapsed());
    for h in handles {
        rv_session_destroy(h);
    }
    let per_session_wakeups = (w1 - w0) as f64 / SESSIONS as f64 / wall.as_secs_f64();
    let share = (cpu1 - cpu0) as f64 / 1e9 / wall.as_secs_f64() / SESSIONS as f64 * 100.0;
    println!(
        "\n{SESSIONS} idle ready sessions for {:.1} s: {per_session_wakeups:.2} worker wake-ups/s and {share:.4} % of one core per session\n",
        wall.as_secs_f64()
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_millis(500));
    targets = latency_tables, cpu_16_sessions_both, idle_sessions
}
criterion_main!(benches);
