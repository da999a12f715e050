//! Session benchmarks over loopback, through the C ABI:
//! - mic push to bytes on the socket: `rv_push_mic` (the 10 ms push that completes a 20 ms
//!   chunk) until a minimal WebSocket server has read the `input_audio_buffer.append`;
//! - server delta to pull-ready: the server flushes a `response.output_audio.delta` until
//!   `rv_pull_playback` returns model audio (prebuffer 0);
//! - CPU per stream-second with 16 concurrent full-duplex sessions against the local
//!   Realtime server (mic threads pushing 10 ms of 48 kHz stereo, audio threads pulling
//!   1024-frame callbacks, 24 kHz model audio arriving in real time), counted from the
//!   plugin's own threads in /proc.
//! - idle cost: 8 ready sessions nobody talks to, for 10 s: the worker's wake-ups per
//!   second (`RvStats::worker_wakeups`) and its CPU share (from /proc schedstat, in ns).
//!
//! The latency distributions are printed as p50/p99 tables (criterion measures means; the
//! tails matter here); criterion also times the push-to-socket path with `iter_custom`.

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

/// One push-to-socket sample: 10 ms pushes until one completes a 20 ms chunk (the chunk
/// boundary drifts with the resampler's delay), timed from that push to the server's read.
fn push_to_socket(h: RvSession, server: &RawServer, mic: &[f32]) -> Duration {
    for _ in 0..4 {
        let t = Instant::now();
        unsafe { rv_push_mic(h, mic.as_ptr(), 480, 2, 48_000) };
        if let Ok(arrived) = server.arrivals.recv_timeout(Duration::from_millis(20)) {
            return arrived.duration_since(t);
        }
    }
    panic!("no append reached the server after 40 ms of pushes");
}

fn latency_tables(c: &mut Criterion) {
    let server = raw_server();
    let h = create(&format!(
        r#"{{"url":"{}","prebuffer_ms":0,"chunk_ms":20}}"#,
        server.url
    ));
    let mic: Vec<f32> = (0..960).map(|i| ((i as f32) * 0.05).sin() * 0.2).collect();

    // Mic push -> bytes on the socket.
    for _ in 0..20 {
        push_to_socket(h, &server, &mic);
    }
    let samples: Vec<Duration> = (0..1000)
        .map(|_| push_to_socket(h, &server, &mic))
        .collect();
    let (p50, p99, max) = percentiles(samples);
    println!("\nmic push -> append read by the server (1000 samples): p50 {p50:?}, p99 {p99:?}, max {max:?}");

    c.bench_function("session/mic push to socket (20 ms chunk)", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| push_to_socket(h, &server, &mic)).sum())
    });

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
    let (p50, p99, max) = percentiles(samples);
    println!("server delta flushed -> rv_pull_playback has audio (500 samples): p50 {p50:?}, p99 {p99:?}, max {max:?}\n");
    rv_session_destroy(h);
}

/// CPU ticks (utime + stime) of this process's threads whose name starts with `prefix`.
fn thread_ticks(prefix: &str) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let p = entry.path();
        let name = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
        if !name.starts_with(prefix) {
            continue;
        }
        let stat = std::fs::read_to_string(p.join("stat")).unwrap_or_default();
        // Fields after the `(comm)`: state is field 3; utime 14, stime 15.
        if let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) {
            let f: Vec<&str> = rest.split_whitespace().collect();
            if f.len() > 13 {
                total += f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0);
            }
        }
    }
    total
}

fn cpu_16_sessions(_c: &mut Criterion) {
    const SESSIONS: usize = 16;
    const SECONDS: f64 = 6.0;
    let server = MockServer::start(MockConfig::default().ping_interval(None)).unwrap();
    let handles: Vec<RvSession> = (0..SESSIONS)
        .map(|_| {
            create(&format!(
                r#"{{"url":"{}","prebuffer_ms":40}}"#,
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
    let ticks = |p: &[&str]| p.iter().map(|x| thread_ticks(x)).sum::<u64>();
    let ours = ["realtime-voice-", "rv-bench-mic", "rv-bench-audio"];
    let before = ticks(&ours);
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
    let used = ticks(&ours) - before;
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
    let hz = 100.0; // USER_HZ on Linux
    let cpu_s = used as f64 / hz;
    let per_stream_second = cpu_s / (SESSIONS as f64 * wall);
    println!(
        "\n{SESSIONS} full-duplex sessions for {wall:.1} s: plugin threads (worker, mic, audio) used {cpu_s:.2} s CPU \
         = {:.0} us per stream-second ({:.2} % of one core per session); model audio received {:.1} s per session\n",
        per_stream_second * 1e6,
        per_stream_second * 100.0,
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
    targets = latency_tables, cpu_16_sessions, idle_sessions
}
criterion_main!(benches);
