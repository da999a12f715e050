//! Test helpers: drive the plugin exactly as Unity does, through the C ABI.
#![allow(dead_code)]

use realtime_voice::ffi::*;
use serde_json::Value;
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a test waits for anything before failing (generous: the machine is shared).
pub const T: Duration = Duration::from_secs(10);

/// A session on `server`, connected and ready. `extra` is more config JSON members.
pub fn ready(server: &rv_mock_server::MockServer, extra: &str) -> Rv {
    let mut rv = Rv::for_server(&server.url(), extra);
    rv.connect();
    rv.wait_type(T, "session_ready");
    rv
}

/// A session handle with helpers; destroyed on drop.
pub struct Rv {
    pub handle: RvSession,
    pub events: Vec<Value>,
}

pub fn last_error() -> String {
    let mut buf = vec![0u8; 4096];
    let mut len = 0i32;
    unsafe { rv_last_error(buf.as_mut_ptr().cast(), buf.len() as i32, &mut len) };
    String::from_utf8_lossy(&buf[..len.max(0) as usize]).into_owned()
}

impl Rv {
    pub fn create(config: &str) -> Result<Rv, (i32, String)> {
        let c = CString::new(config).unwrap();
        let mut h = 0u64;
        let rc = unsafe { rv_session_create(c.as_ptr(), &mut h) };
        if rc != RV_OK {
            return Err((rc, last_error()));
        }
        Ok(Rv {
            handle: h,
            events: Vec::new(),
        })
    }

    pub fn for_server(url: &str, extra: &str) -> Rv {
        let cfg = if extra.is_empty() {
            format!(r#"{{"url":"{url}"}}"#)
        } else {
            format!(r#"{{"url":"{url}",{extra}}}"#)
        };
        Rv::create(&cfg).unwrap_or_else(|e| panic!("create failed: {e:?}"))
    }

    pub fn connect(&self) {
        assert_eq!(rv_session_connect(self.handle), RV_OK, "{}", last_error());
    }

    pub fn state(&self) -> i32 {
        rv_session_state(self.handle)
    }

    pub fn update_session(&self, json: &str) -> i32 {
        let c = CString::new(json).unwrap();
        unsafe { rv_update_session(self.handle, c.as_ptr()) }
    }

    pub fn send_text(&self, text: &str) -> i32 {
        let c = CString::new(text).unwrap();
        unsafe { rv_send_text(self.handle, c.as_ptr()) }
    }

    pub fn submit(&self, call_id: &str, output: &str) -> i32 {
        let a = CString::new(call_id).unwrap();
        let b = CString::new(output).unwrap();
        unsafe { rv_submit_tool_result(self.handle, a.as_ptr(), b.as_ptr()) }
    }

    /// Drains new events into `self.events` and returns them.
    pub fn poll(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let mut len = 0i32;
            let rc = unsafe {
                rv_poll_event(
                    self.handle,
                    buf.as_mut_ptr().cast(),
                    buf.len() as i32,
                    &mut len,
                )
            };
            if rc == RV_ERR_BUFFER_TOO_SMALL {
                buf.resize(len as usize + 1, 0);
                continue;
            }
            if rc != RV_OK {
                break;
            }
            let v: Value = serde_json::from_slice(&buf[..len as usize]).expect("events are JSON");
            out.push(v);
        }
        self.events.extend(out.iter().cloned());
        out
    }

    pub fn poll_tool_calls(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let mut len = 0i32;
            let rc = unsafe {
                rv_poll_tool_call(
                    self.handle,
                    buf.as_mut_ptr().cast(),
                    buf.len() as i32,
                    &mut len,
                )
            };
            if rc != RV_OK {
                break;
            }
            out.push(serde_json::from_slice(&buf[..len as usize]).unwrap());
        }
        out
    }

    /// Polls until an event matches, or panics after `timeout`.
    pub fn wait_event(&mut self, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        if let Some(v) = self.events.iter().find(|v| pred(v)) {
            return v.clone();
        }
        while Instant::now() < deadline {
            for v in self.poll() {
                if pred(&v) {
                    return v;
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("timed out waiting for an event; got: {:#?}", self.events);
    }

    pub fn wait_type(&mut self, timeout: Duration, ty: &str) -> Value {
        self.wait_event(timeout, |v| v["type"] == ty)
    }

    pub fn wait_state(&mut self, timeout: Duration, state: &str) -> Value {
        self.wait_event(timeout, |v| v["type"] == "state" && v["state"] == state)
    }

    pub fn stats(&self) -> RvStats {
        let mut s = RvStats::default();
        assert_eq!(unsafe { rv_get_stats(self.handle, &mut s) }, RV_OK);
        s
    }

    pub fn push(&self, samples: &[f32], channels: i32, rate: i32) -> i32 {
        unsafe {
            rv_push_mic(
                self.handle,
                samples.as_ptr(),
                samples.len() as i32 / channels,
                channels,
                rate,
            )
        }
    }

    pub fn pull(&self, out: &mut [f32], channels: i32, rate: i32) -> i32 {
        unsafe {
            rv_pull_playback(
                self.handle,
                out.as_mut_ptr(),
                out.len() as i32 / channels,
                channels,
                rate,
            )
        }
    }

    pub fn events_of(&self, ty: &str) -> Vec<Value> {
        self.events
            .iter()
            .filter(|v| v["type"] == ty)
            .cloned()
            .collect()
    }
}

impl Drop for Rv {
    fn drop(&mut self) {
        rv_session_destroy(self.handle);
    }
}

/// A speech-like test signal: 180 Hz voiced buzz with harmonics, `amp` peak.
pub fn voice(rate: u32, seconds: f64, amp: f32) -> Vec<f32> {
    let n = (rate as f64 * seconds) as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 / rate as f64;
            let v = (2.0 * std::f64::consts::PI * 180.0 * t).sin() * 0.6
                + (2.0 * std::f64::consts::PI * 360.0 * t).sin() * 0.3
                + (2.0 * std::f64::consts::PI * 720.0 * t).sin() * 0.1;
            (v as f32) * amp
        })
        .collect()
}

/// Checks `events` with the official SDK's models (`tools/validate_events.py`, strict keys):
/// `kind` is `client` (what the plugin sent) or `server` (what the local server sent). The
/// lines are kept as `name` in the test target's temporary directory for a failure's reader.
pub fn validate_with_sdk(kind: &str, events: &[Value], name: &str) {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let lines: Vec<String> = events.iter().map(Value::to_string).collect();
    std::fs::write(&path, lines.join("\n")).unwrap();
    let out = std::process::Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tools/validate_events.py"
        ))
        .args(["--kind", kind])
        .arg(&path)
        .output()
        .expect("python3 runs (pip install -r tools/requirements.txt)");
    let report =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "SDK validation failed:\n{report}");
    assert!(
        report.contains(&format!("{} passed, 0 failed", lines.len())),
        "{report}"
    );
}

/// Stereo-interleaves a mono signal.
pub fn stereo(mono: &[f32]) -> Vec<f32> {
    mono.iter().flat_map(|&s| [s, s]).collect()
}

/// Threads that act as Unity's mic and audio device for a session.
pub struct Devices {
    stop: Arc<AtomicBool>,
    pub model_frames: Arc<AtomicU64>,
    pub pulled_frames: Arc<AtomicU64>,
    threads: Vec<JoinHandle<Vec<f32>>>,
}

impl Devices {
    /// A mic thread pushing `mic` (mono @ 48 kHz, stereo-duplicated) in 10 ms chunks at
    /// `speed` x real time, then silence; an audio thread pulling 1024-frame stereo
    /// callbacks at 48 kHz in real time, recording what it got (mono, left channel).
    pub fn start(handle: RvSession, mic: Vec<f32>, speed: f64) -> Devices {
        let stop = Arc::new(AtomicBool::new(false));
        let model_frames = Arc::new(AtomicU64::new(0));
        let pulled_frames = Arc::new(AtomicU64::new(0));
        let mut threads = Vec::new();
        {
            let stop = stop.clone();
            threads.push(std::thread::spawn(move || {
                let chunk = 480;
                let mut pos = 0;
                let start = Instant::now();
                let mut pushed = 0u64;
                let silence = vec![0f32; chunk * 2];
                while !stop.load(Ordering::Relaxed) {
                    let buf: Vec<f32> = if pos < mic.len() {
                        let end = (pos + chunk).min(mic.len());
                        let mut b = stereo(&mic[pos..end]);
                        b.resize(chunk * 2, 0.0);
                        pos = end;
                        b
                    } else {
                        silence.clone()
                    };
                    unsafe { rv_push_mic(handle, buf.as_ptr(), chunk as i32, 2, 48_000) };
                    pushed += 1;
                    let due = start + Duration::from_secs_f64(pushed as f64 * 0.010 / speed);
                    if let Some(d) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(d);
                    }
                }
                Vec::new()
            }));
        }
        {
            let stop = stop.clone();
            let model_frames = model_frames.clone();
            let pulled_frames = pulled_frames.clone();
            threads.push(std::thread::spawn(move || {
                let mut out = vec![0f32; 2048];
                let mut recorded = Vec::new();
                let start = Instant::now();
                let mut calls = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let n = unsafe { rv_pull_playback(handle, out.as_mut_ptr(), 1024, 2, 48_000) };
                    if n > 0 {
                        model_frames.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    pulled_frames.fetch_add(1024, Ordering::Relaxed);
                    recorded.extend(out.iter().step_by(2));
                    calls += 1;
                    let due = start + Duration::from_secs_f64(calls as f64 * 1024.0 / 48_000.0);
                    if let Some(d) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(d);
                    }
                }
                recorded
            }));
        }
        Devices {
            stop,
            model_frames,
            pulled_frames,
            threads,
        }
    }

    /// Stops both threads; returns what the audio thread recorded.
    pub fn stop(mut self) -> Vec<f32> {
        self.stop.store(true, Ordering::Relaxed);
        let audio = self.threads.pop().unwrap().join().unwrap();
        for t in self.threads.drain(..) {
            t.join().unwrap();
        }
        audio
    }
}
