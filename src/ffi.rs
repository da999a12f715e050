//! The C ABI (`docs/c-abi.md`). Thin on purpose: handle lookup, argument checks, a
//! panic guard around every function, status codes and a thread-local last-error
//! message. All behaviour lives in [`crate::session`].
//!
//! Every function:
//! - catches panics (a panic never crosses the boundary; it becomes `RV_ERR_INTERNAL`);
//! - checks every pointer and length before use;
//! - sets this thread's last error (read with [`rv_last_error`]) when it fails.
#![allow(clippy::missing_safety_doc)] // each function documents its contract under "Safety"

use crate::audio::output_mix::{self, PushError};
use crate::config::SessionConfig;
use crate::session::events::PollOutcome;
use crate::session::{registry, Session, SessionError};
use serde_json::Value;
use std::borrow::Cow;
use std::cell::RefCell;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A session handle: never 0, never reused.
pub type RvSession = u64;

/// Success.
pub const RV_OK: i32 = 0;
/// Nothing to poll.
pub const RV_EMPTY: i32 = 1;
/// A pointer, length or value is invalid.
pub const RV_ERR_INVALID_ARGUMENT: i32 = -1;
/// The handle is 0, unknown, or destroyed.
pub const RV_ERR_INVALID_HANDLE: i32 = -2;
/// The buffer is too small; `*out_len` holds the needed length (without the NUL).
pub const RV_ERR_BUFFER_TOO_SMALL: i32 = -3;
/// The config JSON is invalid (the last error says which field and why).
pub const RV_ERR_INVALID_CONFIG: i32 = -4;
/// The call does not fit the session's state (e.g. not connected).
pub const RV_ERR_INVALID_STATE: i32 = -5;
/// A bounded queue is full.
pub const RV_ERR_QUEUE_FULL: i32 = -6;
/// An internal error (a caught panic, a thread that could not start).
pub const RV_ERR_INTERNAL: i32 = -7;

/// `RvState`: created, not connected.
pub const RV_STATE_IDLE: i32 = 0;
/// `RvState`: dialling / handshaking.
pub const RV_STATE_CONNECTING: i32 = 1;
/// `RvState`: WebSocket open, session not configured yet.
pub const RV_STATE_CONNECTED: i32 = 2;
/// `RvState`: configured, talking.
pub const RV_STATE_READY: i32 = 3;
/// `RvState`: connection lost, backing off.
pub const RV_STATE_RECONNECTING: i32 = 4;
/// `RvState`: closed by the host.
pub const RV_STATE_CLOSED: i32 = 5;
/// `RvState`: gave up (authentication failure, attempts exhausted).
pub const RV_STATE_FAILED: i32 = 6;

/// Largest push or pull in frames (10 s at 192 kHz): bounds work per call.
const MAX_FRAMES_PER_CALL: i32 = 1_920_000;
/// Most channels accepted in a push or pull: the mic path's limit, so that a push the
/// FFI lets through is never refused further in for its channel count.
const MAX_CHANNELS: i32 = crate::audio::capture::MAX_CHANNELS as i32;

/// Session counters (`#[repr(C)]`, append-only: new fields go at the end).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct RvStats {
    /// Mic frames pushed by the host.
    pub mic_frames_in: u64,
    /// PCM16 bytes appended to the server.
    pub audio_bytes_sent: u64,
    /// Frames handed to the audio device by `rv_pull_playback`.
    pub playback_frames_out: u64,
    /// Pulls that ran dry while model audio was still expected.
    pub playback_underruns: u64,
    /// Events and tool calls dropped because their queue was full.
    pub events_dropped: u64,
    /// Model audio buffered now, in ms.
    pub playback_buffered_ms: u32,
    /// Successful reconnects.
    pub reconnects: u32,
    /// End of user speech to first model audio of the last response, ms (-1: none yet).
    pub last_response_latency_ms: i32,
    /// Current `RvState`.
    pub state: i32,
    /// PCM16 bytes of model audio received.
    pub audio_bytes_received: u64,
    /// Server events that could not be parsed.
    pub malformed_events: u64,
    /// Model audio samples beyond the hold cap (should stay 0).
    pub playback_overflow_samples: u64,
    /// Responses started.
    pub responses: u64,
    /// Tool calls delivered.
    pub tool_calls: u64,
    /// Echo canceller: estimated echo delay in ms (-1: unknown or off).
    pub echo_delay_ms: i32,
    /// Echo canceller: echo return loss enhancement in dB.
    pub echo_erle_db: f32,
    /// Echo canceller: 1 when converged.
    pub echo_converged: i32,
    /// Reserved, 0.
    pub reserved0: i32,
    /// Times the session's worker thread woke up (socket ready, command, timer); an idle
    /// ready session wakes for its keepalive only.
    pub worker_wakeups: u64,
    /// Mic chunks dropped because the outbound queue was full (the network did not keep up).
    pub mic_chunks_dropped: u64,
    /// Echo canceller: the far end it is given: 0 none (cancellation off), 1 the session's
    /// own playback, 2 the game's output mix (`rv_push_output_mix`, fed within 200 ms).
    pub echo_reference: i32,
    /// Reserved, 0.
    pub reserved1: i32,
    /// Level (0..1, smoothed per 10 ms) of the mic audio the server is sent: after echo
    /// cancellation, what the server hears. For a UI meter.
    pub mic_level: f32,
    /// Level (0..1) of the model audio the device is playing now (`RvMouth.level`).
    pub output_level: f32,
}

/// The mouth shape of the model audio the device is playing (`#[repr(C)]`, append-only:
/// new fields go at the end). `sil + aa + ih + ou + ee + oh` is 1.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct RvMouth {
    /// Loudness of the voice now, 0..1 (fast attack, slower release): for a jaw or a meter.
    pub level: f32,
    /// Weight of a closed or neutral mouth: silence, and unvoiced sounds such as /s/.
    pub sil: f32,
    /// Weight of the VRM "aa" mouth (the vowel a).
    pub aa: f32,
    /// Weight of the VRM "ih" mouth (the vowel i).
    pub ih: f32,
    /// Weight of the VRM "ou" mouth (the vowel u).
    pub ou: f32,
    /// Weight of the VRM "ee" mouth (the vowel e).
    pub ee: f32,
    /// Weight of the VRM "oh" mouth (the vowel o).
    pub oh: f32,
    /// Reserved, 0 (keeps `played_ms` 8-byte aligned).
    pub reserved0: f32,
    /// Model audio of the current response handed to the device so far, in ms (0 again
    /// after a barge-in or cancel).
    pub played_ms: i64,
}

thread_local! {
    static LAST_ERROR: RefCell<Cow<'static, str>> = const { RefCell::new(Cow::Borrowed("")) };
}

fn set_last_error(msg: impl Into<Cow<'static, str>>) {
    let msg = msg.into();
    let _ = LAST_ERROR.try_with(|e| {
        if let Ok(mut slot) = e.try_borrow_mut() {
            *slot = msg;
        }
    });
}

/// An error to report: status code + message.
struct Failure(i32, Cow<'static, str>);

impl Failure {
    fn arg(msg: impl Into<Cow<'static, str>>) -> Failure {
        Failure(RV_ERR_INVALID_ARGUMENT, msg.into())
    }
}

impl From<SessionError> for Failure {
    fn from(e: SessionError) -> Failure {
        let code = match e {
            SessionError::InvalidArgument(_) => RV_ERR_INVALID_ARGUMENT,
            SessionError::InvalidState(_) => RV_ERR_INVALID_STATE,
            SessionError::QueueFull(_) => RV_ERR_QUEUE_FULL,
        };
        Failure(code, Cow::Owned(e.to_string()))
    }
}

/// Runs `f` behind the panic boundary and turns failures into status codes.
fn guard(f: impl FnOnce() -> Result<i32, Failure>) -> i32 {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(code)) => code,
        Ok(Err(Failure(code, msg))) => {
            set_last_error(msg);
            code
        }
        Err(_) => {
            set_last_error(
                "internal error: a panic was caught at the C boundary (please report it)",
            );
            RV_ERR_INTERNAL
        }
    }
}

fn session(handle: RvSession) -> Result<Arc<Session>, Failure> {
    if handle == 0 {
        return Err(Failure(RV_ERR_INVALID_HANDLE, "invalid handle 0".into()));
    }
    registry::get(handle).ok_or(Failure(
        RV_ERR_INVALID_HANDLE,
        "unknown or destroyed session handle".into(),
    ))
}

/// The common shape of a session command: look the handle up, run `f`, map its error.
fn with_session(handle: RvSession, f: impl FnOnce(&Session) -> Result<(), SessionError>) -> i32 {
    guard(|| {
        f(&*session(handle)?)?;
        Ok(RV_OK)
    })
}

/// Reads a NUL-terminated UTF-8 string argument.
unsafe fn c_str<'a>(ptr: *const c_char, what: &'static str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(Failure::arg(format!("{what} is NULL")));
    }
    // SAFETY: the caller guarantees a NUL-terminated string (documented contract).
    unsafe { CStr::from_ptr(ptr) }
        .to_str()
        .map_err(|_| Failure::arg(format!("{what} is not valid UTF-8")))
}

fn parse_json_object(text: &str, what: &'static str) -> Result<Value, Failure> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| Failure::arg(format!("{what} is not valid JSON ({e})")))?;
    if !v.is_object() {
        return Err(Failure::arg(format!("{what} must be a JSON object")));
    }
    Ok(v)
}

/// The library version, a static NUL-terminated string such as `"0.1.0"`.
///
/// # Safety
/// Always safe; the pointer stays valid for the life of the process. Do not free it.
#[no_mangle]
pub extern "C" fn rv_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Copies this thread's last error message (UTF-8, NUL-terminated) into `buf`.
/// Returns `RV_OK` (an empty string when there was no error) or
/// `RV_ERR_BUFFER_TOO_SMALL` with `*out_len` set to the needed length without NUL.
///
/// # Safety
/// `buf` must be NULL (with `cap` 0, to ask the length) or point to `cap` writable bytes;
/// `out_len` must be NULL or point to a writable `int32_t`.
#[no_mangle]
pub unsafe extern "C" fn rv_last_error(buf: *mut c_char, cap: i32, out_len: *mut i32) -> i32 {
    let message: String = LAST_ERROR
        .try_with(|e| e.try_borrow().map(|m| m.to_string()).unwrap_or_default())
        .unwrap_or_default();
    catch_unwind(AssertUnwindSafe(|| unsafe {
        write_out(message.as_bytes(), buf, cap, out_len)
    }))
    .unwrap_or(RV_ERR_INTERNAL)
}

/// Writes `bytes` + NUL into a caller buffer; never sets the last error (so that
/// `rv_last_error` cannot overwrite what it reports).
unsafe fn write_out(bytes: &[u8], buf: *mut c_char, cap: i32, out_len: *mut i32) -> i32 {
    let n = bytes.len();
    if !out_len.is_null() {
        // SAFETY: non-NULL out_len points to a writable int32_t (contract).
        unsafe { *out_len = i32::try_from(n).unwrap_or(i32::MAX) };
    }
    if cap < 0 || (buf.is_null() && cap != 0) {
        return RV_ERR_INVALID_ARGUMENT;
    }
    if buf.is_null() || (cap as usize) < n + 1 {
        return RV_ERR_BUFFER_TOO_SMALL;
    }
    // SAFETY: buf points to cap >= n + 1 writable bytes (contract, checked above).
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), n);
        *buf.add(n) = 0;
    }
    RV_OK
}

/// Parses and validates `config_json` (`docs/config.md`) and creates a session. No
/// network happens here. On success `*out` receives the new handle.
///
/// # Safety
/// `config_json` must be NULL or a NUL-terminated UTF-8 string; `out` must point to a
/// writable `RvSession`.
#[no_mangle]
pub unsafe extern "C" fn rv_session_create(config_json: *const c_char, out: *mut RvSession) -> i32 {
    guard(|| {
        if out.is_null() {
            return Err(Failure::arg("out is NULL"));
        }
        // SAFETY: checked non-NULL; writable per contract. 0 = no session on failure.
        unsafe { *out = 0 };
        let text = unsafe { c_str(config_json, "config_json") }?;
        let config = SessionConfig::from_json(text)
            .map_err(|e| Failure(RV_ERR_INVALID_CONFIG, e.to_string().into()))?;
        let session = Session::new(config)
            .map_err(|e| Failure(RV_ERR_INVALID_CONFIG, e.to_string().into()))?;
        let handle = registry::insert(Arc::new(session));
        // SAFETY: as above.
        unsafe { *out = handle };
        Ok(RV_OK)
    })
}

/// Starts the session's worker thread and returns at once; progress arrives as
/// `state` events. A session connects once (create a new one to start over).
///
/// # Safety
/// Any handle value is safe; unknown handles return `RV_ERR_INVALID_HANDLE`.
#[no_mangle]
pub extern "C" fn rv_session_connect(s: RvSession) -> i32 {
    with_session(s, |session| session.connect())
}

/// Closes the session gracefully (idempotent). The handle stays valid until destroyed.
///
/// # Safety
/// Any handle value is safe.
#[no_mangle]
pub extern "C" fn rv_session_close(s: RvSession) -> i32 {
    with_session(s, |session| {
        session.close();
        Ok(())
    })
}

/// Closes if needed and returns at once (it never waits for the network): the handle is
/// invalid afterwards, also for calls racing on other threads. The worker finishes
/// closing on its own thread (a graceful close frame when connected; a dial in progress
/// is abandoned) and the session is freed on a background thread, never the audio thread.
///
/// # Safety
/// Any handle value is safe.
#[no_mangle]
pub extern "C" fn rv_session_destroy(s: RvSession) -> i32 {
    guard(|| {
        if s == 0 {
            return Err(Failure(RV_ERR_INVALID_HANDLE, "invalid handle 0".into()));
        }
        let session = registry::remove(s).ok_or(Failure(
            RV_ERR_INVALID_HANDLE,
            "unknown or already destroyed session handle".into(),
        ))?;
        // Signal only: the worker finishes closing on its own thread, and the reaper frees
        // the session once no audio or mic callback holds it (never on the audio thread).
        session.shutdown();
        crate::session::reaper::release(session);
        Ok(RV_OK)
    })
}

/// The session's state (`RvState`, >= 0) or a negative error code.
///
/// # Safety
/// Any handle value is safe.
#[no_mangle]
pub extern "C" fn rv_session_state(s: RvSession) -> i32 {
    guard(|| Ok(session(s)?.state() as i32))
}

fn check_audio_args(frames: i32, channels: i32, sample_rate: i32) -> Result<usize, Failure> {
    if !(0..=MAX_FRAMES_PER_CALL).contains(&frames) {
        return Err(Failure::arg("frames must be between 0 and 1920000"));
    }
    if !(1..=MAX_CHANNELS).contains(&channels) {
        // A static message: this check runs on the audio thread, which never allocates.
        const _: () = assert!(MAX_CHANNELS == 32, "update the message below");
        return Err(Failure::arg("channels must be between 1 and 32"));
    }
    if !(8000..=192_000).contains(&sample_rate) {
        return Err(Failure::arg(
            "sample_rate must be between 8000 and 192000 Hz",
        ));
    }
    Ok(frames as usize * channels as usize)
}

/// The `len` floats a caller passed at `samples` (`len` from [`check_audio_args`]): empty when
/// `len` is 0 (`samples` may then be NULL), an error when NULL otherwise.
///
/// # Safety
/// When `len` > 0 and `samples` is not NULL, `samples` must point to `len` readable floats.
unsafe fn input_samples<'a>(samples: *const f32, len: usize) -> Result<&'a [f32], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if samples.is_null() {
        return Err(Failure::arg("samples is NULL"));
    }
    // SAFETY: non-NULL, `len` readable floats (contract).
    Ok(unsafe { std::slice::from_raw_parts(samples, len) })
}

/// Pushes `frames` frames of interleaved float mic audio (`channels` channels at
/// `sample_rate` Hz). Cheap: the caller's thread never waits on the network. NaN/Inf
/// become 0 and samples clamp to [-1, 1].
///
/// # Safety
/// `samples` must point to `frames * channels` readable floats (it may be NULL when
/// `frames` is 0).
#[no_mangle]
pub unsafe extern "C" fn rv_push_mic(
    s: RvSession,
    samples: *const f32,
    frames: i32,
    channels: i32,
    sample_rate: i32,
) -> i32 {
    guard(|| {
        let len = check_audio_args(frames, channels, sample_rate)?;
        let session = session(s)?;
        let data = unsafe { input_samples(samples, len) }?;
        if data.is_empty() {
            return Ok(RV_OK);
        }
        session.push_mic(data, channels as usize, sample_rate as u32)?;
        Ok(RV_OK)
    })
}

/// Pushes the game's final output mix: `frames` frames of interleaved float audio
/// (`channels` channels at `sample_rate` Hz), as Unity's `OnAudioFilterRead` on the
/// AudioListener sees it. Process-wide (no session): while it is fed (within the last
/// 200 ms), every session with echo cancellation cancels this mix (music, effects, every
/// session's voice, after 3D panning and mixer effects) instead of its own playback.
/// Made for the audio thread: it copies into a static lock-free ring and never allocates,
/// locks or blocks. Returns `RV_OK`, or `RV_ERR_INVALID_ARGUMENT` (bad pointer, count, channel
/// count or rate: nothing is written), or `RV_ERR_INVALID_STATE` when another thread is
/// pushing at that moment (only one listener feeds the mix; nothing is written).
///
/// # Safety
/// `samples` must point to `frames * channels` readable floats (NULL only when `frames` is 0).
#[no_mangle]
pub unsafe extern "C" fn rv_push_output_mix(
    samples: *const f32,
    frames: i32,
    channels: i32,
    sample_rate: i32,
) -> i32 {
    guard(|| {
        let len = check_audio_args(frames, channels, sample_rate)?;
        let data = unsafe { input_samples(samples, len) }?;
        if data.is_empty() {
            return Ok(RV_OK);
        }
        match output_mix::GLOBAL.push(data, channels as usize, sample_rate as u32) {
            Ok(_) => Ok(RV_OK),
            Err(PushError::Busy) => Err(Failure(
                RV_ERR_INVALID_STATE,
                "another thread is pushing the output mix".into(),
            )),
            Err(PushError::Channels) => Err(Failure::arg("channels must be between 1 and 32")),
            Err(PushError::SampleRate | PushError::Length) => {
                Err(Failure::arg("invalid output mix format"))
            }
        }
    })
}

/// Fills `out` with exactly `frames * channels` interleaved floats of model audio at
/// `sample_rate` (silence where there is none, and on any error) and returns how many
/// frames carried model audio (0..frames), or an error code. Made for Unity's audio
/// thread: it never allocates, never blocks, never does I/O, and is safe to call with a
/// destroyed handle (silence + `RV_ERR_INVALID_HANDLE`).
///
/// # Safety
/// `out` must point to `frames * channels` writable floats (NULL only when `frames` is 0).
#[no_mangle]
pub unsafe extern "C" fn rv_pull_playback(
    s: RvSession,
    out: *mut f32,
    frames: i32,
    channels: i32,
    sample_rate: i32,
) -> i32 {
    // Every error path here uses static messages: no allocation on the audio thread.
    let result = catch_unwind(AssertUnwindSafe(|| {
        let len_ok =
            (0..=MAX_FRAMES_PER_CALL).contains(&frames) && (1..=MAX_CHANNELS).contains(&channels);
        if out.is_null() || !len_ok {
            return Err(Failure(
                RV_ERR_INVALID_ARGUMENT,
                Cow::Borrowed("out is NULL, or frames/channels out of range"),
            ));
        }
        let len = frames as usize * channels as usize;
        // SAFETY: non-NULL, frames*channels writable floats (contract).
        let buf = unsafe { std::slice::from_raw_parts_mut(out, len) };
        if !(8000..=192_000).contains(&sample_rate) {
            buf.fill(0.0);
            return Err(Failure(
                RV_ERR_INVALID_ARGUMENT,
                Cow::Borrowed("sample_rate must be between 8000 and 192000 Hz"),
            ));
        }
        if s == 0 {
            buf.fill(0.0);
            return Err(Failure(
                RV_ERR_INVALID_HANDLE,
                Cow::Borrowed("invalid handle 0"),
            ));
        }
        match registry::get_nonblocking(s) {
            Ok(Some(session)) => {
                Ok(session.pull_playback(buf, channels as usize, sample_rate as u32) as i32)
            }
            Ok(None) => {
                buf.fill(0.0);
                Err(Failure(
                    RV_ERR_INVALID_HANDLE,
                    Cow::Borrowed("unknown or destroyed session handle"),
                ))
            }
            Err(()) => {
                buf.fill(0.0);
                Ok(0)
            }
        }
    }));
    match result {
        Ok(Ok(n)) => n,
        Ok(Err(Failure(code, msg))) => {
            set_last_error(msg);
            code
        }
        Err(_) => {
            set_last_error(
                "internal error: a panic was caught at the C boundary (please report it)",
            );
            RV_ERR_INTERNAL
        }
    }
}

/// Takes the next event (a JSON object, `docs/events.md`) into `buf`. `RV_OK`: written,
/// NUL-terminated, `*out_len` = its length without NUL; `RV_EMPTY`: nothing queued;
/// `RV_ERR_BUFFER_TOO_SMALL`: `*out_len` = the needed length, and the event stays queued.
///
/// # Safety
/// `buf` must be NULL (with `cap` 0) or point to `cap` writable bytes; `out_len` must be
/// NULL or point to a writable `int32_t`.
#[no_mangle]
pub unsafe extern "C" fn rv_poll_event(
    s: RvSession,
    buf: *mut c_char,
    cap: i32,
    out_len: *mut i32,
) -> i32 {
    guard(|| {
        let session = session(s)?;
        unsafe { poll_queue(&session.shared().events, buf, cap, out_len) }
    })
}

/// Takes the next tool call (`{"call_id","name","arguments","arguments_raw",...}`) into
/// `buf`, with the same contract as [`rv_poll_event`].
///
/// # Safety
/// As [`rv_poll_event`].
#[no_mangle]
pub unsafe extern "C" fn rv_poll_tool_call(
    s: RvSession,
    buf: *mut c_char,
    cap: i32,
    out_len: *mut i32,
) -> i32 {
    guard(|| {
        let session = session(s)?;
        unsafe { poll_queue(&session.shared().tool_calls, buf, cap, out_len) }
    })
}

unsafe fn poll_queue(
    queue: &crate::session::events::JsonQueue,
    buf: *mut c_char,
    cap: i32,
    out_len: *mut i32,
) -> Result<i32, Failure> {
    if cap < 0 || (buf.is_null() && cap != 0) {
        return Err(Failure::arg(
            "buf is NULL with a non-zero cap, or cap is negative",
        ));
    }
    let slice: &mut [u8] = if buf.is_null() {
        &mut []
    } else {
        // SAFETY: buf points to cap writable bytes (contract).
        unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), cap as usize) }
    };
    let set_len = |n: usize| {
        if !out_len.is_null() {
            // SAFETY: non-NULL out_len is writable (contract).
            unsafe { *out_len = i32::try_from(n).unwrap_or(i32::MAX) };
        }
    };
    match queue.poll_into(slice) {
        PollOutcome::Written(n) => {
            set_len(n);
            Ok(RV_OK)
        }
        PollOutcome::Empty => {
            set_len(0);
            Ok(RV_EMPTY)
        }
        PollOutcome::TooSmall(n) => {
            set_len(n);
            Err(Failure(
                RV_ERR_BUFFER_TOO_SMALL,
                format!("buffer too small: {} bytes needed (plus NUL)", n).into(),
            ))
        }
    }
}

/// Answers tool call `call_id` with `output` (sent as `function_call_output`). When
/// every call of that response is answered, the session sends ONE `response.create`.
///
/// # Safety
/// `call_id` and `output` must be NULL or NUL-terminated UTF-8 strings.
#[no_mangle]
pub unsafe extern "C" fn rv_submit_tool_result(
    s: RvSession,
    call_id: *const c_char,
    output: *const c_char,
) -> i32 {
    guard(|| {
        let call_id = unsafe { c_str(call_id, "call_id") }?;
        let output = unsafe { c_str(output, "output") }?;
        session(s)?.submit_tool_result(call_id, output)?;
        Ok(RV_OK)
    })
}

/// Sends a user text message, then `response.create` (queued while a response runs).
///
/// # Safety
/// `text` must be NULL or a NUL-terminated UTF-8 string.
#[no_mangle]
pub unsafe extern "C" fn rv_send_text(s: RvSession, text: *const c_char) -> i32 {
    guard(|| {
        let text = unsafe { c_str(text, "text") }?;
        session(s)?.send_text(text)?;
        Ok(RV_OK)
    })
}

/// Sends any client event as is, in order with the rest: `client_event_json` must be a
/// JSON object with a string `"type"` (else `RV_ERR_INVALID_ARGUMENT` and nothing is sent).
/// The escape hatch for what the API adds before the plugin does.
///
/// # Safety
/// `client_event_json` must be NULL or a NUL-terminated UTF-8 string.
#[no_mangle]
pub unsafe extern "C" fn rv_send_event(s: RvSession, client_event_json: *const c_char) -> i32 {
    guard(|| {
        let text = unsafe { c_str(client_event_json, "client_event_json") }?;
        let event: Value = serde_json::from_str(text)
            .map_err(|e| Failure::arg(format!("client_event_json is not valid JSON ({e})")))?;
        session(s)?.send_event(event)?;
        Ok(RV_OK)
    })
}

/// Adds a user message with an image (`input_image`, as a data URL) and, when `text` is
/// not NULL, a text part before it. `mime_type` is `"image/png"` or `"image/jpeg"`, and
/// the bytes must really be that format; 1 byte to 4 MiB. No `response.create`: the model
/// sees the image on its next response. Anything else: `RV_ERR_INVALID_ARGUMENT`, nothing
/// sent.
///
/// # Safety
/// `data` must be NULL or point to `len` readable bytes; `mime_type` and `text` must be
/// NULL or NUL-terminated UTF-8 strings (`text` NULL for none).
#[no_mangle]
pub unsafe extern "C" fn rv_send_image(
    s: RvSession,
    data: *const u8,
    len: i32,
    mime_type: *const c_char,
    text: *const c_char,
) -> i32 {
    guard(|| {
        if data.is_null() {
            return Err(Failure::arg("data is NULL"));
        }
        let max = crate::protocol::client::MAX_IMAGE_BYTES;
        if len <= 0 || len as usize > max {
            return Err(Failure::arg(format!(
                "len is {len}; an image is 1 to {max} bytes"
            )));
        }
        let mime_type = unsafe { c_str(mime_type, "mime_type") }?;
        let text = if text.is_null() {
            None
        } else {
            Some(unsafe { c_str(text, "text") }?)
        };
        // SAFETY: non-NULL and `len` readable bytes (contract); len > 0 checked.
        let bytes = unsafe { std::slice::from_raw_parts(data, len as usize) };
        session(s)?.send_image(bytes, mime_type, text)?;
        Ok(RV_OK)
    })
}

/// `conversation.item.delete` for `item_id`.
///
/// # Safety
/// `item_id` must be NULL or a NUL-terminated UTF-8 string.
#[no_mangle]
pub unsafe extern "C" fn rv_delete_item(s: RvSession, item_id: *const c_char) -> i32 {
    guard(|| {
        let item_id = unsafe { c_str(item_id, "item_id") }?;
        session(s)?.delete_item(item_id)?;
        Ok(RV_OK)
    })
}

/// Merges a partial `session` object into the configuration that the first
/// `session.update` and every reconnect send; once connected it is also sent as a
/// `session.update` at once. Valid from create on (register tools before connect).
///
/// # Safety
/// `session_json` must be NULL or a NUL-terminated UTF-8 string.
#[no_mangle]
pub unsafe extern "C" fn rv_update_session(s: RvSession, session_json: *const c_char) -> i32 {
    guard(|| {
        let text = unsafe { c_str(session_json, "session_json") }?;
        let partial = parse_json_object(text, "session_json")?;
        session(s)?.update_session(partial)?;
        Ok(RV_OK)
    })
}

/// `input_audio_buffer.commit` for push-to-talk (the partial mic chunk is sent first;
/// skipped with a `log` event when less than 100 ms of new audio was sent).
///
/// # Safety
/// Any handle value is safe.
#[no_mangle]
pub extern "C" fn rv_commit_audio(s: RvSession) -> i32 {
    with_session(s, |session| session.commit_audio())
}

/// `input_audio_buffer.clear`.
///
/// # Safety
/// Any handle value is safe.
#[no_mangle]
pub extern "C" fn rv_clear_audio(s: RvSession) -> i32 {
    with_session(s, |session| session.clear_audio())
}

/// `response.create`, with an optional `response` parameters object (NULL for none);
/// queued until the response in progress is done.
///
/// # Safety
/// `response_json` must be NULL or a NUL-terminated UTF-8 string.
#[no_mangle]
pub unsafe extern "C" fn rv_create_response(s: RvSession, response_json: *const c_char) -> i32 {
    guard(|| {
        let params = if response_json.is_null() {
            None
        } else {
            let text = unsafe { c_str(response_json, "response_json") }?;
            Some(parse_json_object(text, "response_json")?)
        };
        session(s)?.create_response(params)?;
        Ok(RV_OK)
    })
}

/// User barge-in: `response.cancel`, flush playback at the next pull, and truncate the
/// playing item to what was actually heard.
///
/// # Safety
/// Any handle value is safe.
#[no_mangle]
pub extern "C" fn rv_cancel_response(s: RvSession) -> i32 {
    with_session(s, |session| session.cancel_response())
}

/// Fills `*out` with the session's counters.
///
/// # Safety
/// `out` must point to a writable `RvStats`.
#[no_mangle]
pub unsafe extern "C" fn rv_get_stats(s: RvSession, out: *mut RvStats) -> i32 {
    guard(|| {
        if out.is_null() {
            return Err(Failure::arg("out is NULL"));
        }
        let session = session(s)?;
        let sh = session.shared();
        let st = &sh.stats;
        let stats = RvStats {
            mic_frames_in: st.mic_frames_in.load(Ordering::Relaxed),
            audio_bytes_sent: st.audio_bytes_sent.load(Ordering::Relaxed),
            playback_frames_out: st.playback_frames_out.load(Ordering::Relaxed),
            playback_underruns: st.playback_underruns.load(Ordering::Relaxed),
            events_dropped: sh.events.dropped() + sh.tool_calls.dropped(),
            playback_buffered_ms: st.playback_buffered_ms.load(Ordering::Relaxed),
            reconnects: st.reconnects.load(Ordering::Relaxed),
            last_response_latency_ms: st.last_response_latency_ms.load(Ordering::Relaxed),
            state: session.state() as i32,
            audio_bytes_received: st.audio_bytes_received.load(Ordering::Relaxed),
            malformed_events: st.malformed_events.load(Ordering::Relaxed),
            playback_overflow_samples: st.playback_overflow_samples.load(Ordering::Relaxed),
            responses: st.responses.load(Ordering::Relaxed),
            tool_calls: st.tool_calls.load(Ordering::Relaxed),
            echo_delay_ms: st.echo_delay_ms.load(Ordering::Relaxed),
            echo_erle_db: f32::from_bits(st.echo_erle_db_bits.load(Ordering::Relaxed)),
            echo_converged: i32::from(st.echo_converged.load(Ordering::Relaxed)),
            reserved0: 0,
            worker_wakeups: st.worker_wakeups.load(Ordering::Relaxed),
            mic_chunks_dropped: st.mic_chunks_dropped.load(Ordering::Relaxed),
            echo_reference: st.echo_reference.load(Ordering::Relaxed),
            reserved1: 0,
            mic_level: f32::from_bits(st.mic_level_bits.load(Ordering::Relaxed)),
            output_level: session.mouth().0.level,
        };
        // SAFETY: non-NULL, writable RvStats (contract).
        unsafe { out.write(stats) };
        Ok(RV_OK)
    })
}

/// Fills `*out` with the mouth shape of the model audio the device is playing at this
/// moment: the shape of the last 10 ms `rv_pull_playback` handed out (not of audio decoded
/// ahead of it), so it moves with the sound to within one audio callback. Silence gives
/// `level` 0 and `sil` 1. Returns `RV_OK`; `RV_EMPTY` (and `*out` untouched) in the rare
/// instant another thread is creating or destroying a session (call again next frame).
/// Cheap, lock-free and allocation-free: safe every frame from the main thread and from
/// the audio thread.
///
/// # Safety
/// `out` must point to a writable `RvMouth`.
#[no_mangle]
pub unsafe extern "C" fn rv_get_mouth(s: RvSession, out: *mut RvMouth) -> i32 {
    // Static messages only: the audio thread may call this, and must not allocate.
    let result = catch_unwind(AssertUnwindSafe(|| {
        if out.is_null() {
            return Err(Failure::arg("out is NULL"));
        }
        if s == 0 {
            return Err(Failure(
                RV_ERR_INVALID_HANDLE,
                Cow::Borrowed("invalid handle 0"),
            ));
        }
        let session = match registry::get_nonblocking(s) {
            Ok(Some(session)) => session,
            Ok(None) => {
                return Err(Failure(
                    RV_ERR_INVALID_HANDLE,
                    Cow::Borrowed("unknown or destroyed session handle"),
                ))
            }
            Err(()) => return Ok(RV_EMPTY),
        };
        let (shape, played_ms) = session.mouth();
        let mouth = RvMouth {
            level: shape.level,
            sil: shape.sil,
            aa: shape.aa,
            ih: shape.ih,
            ou: shape.ou,
            ee: shape.ee,
            oh: shape.oh,
            reserved0: 0.0,
            played_ms,
        };
        // SAFETY: non-NULL, writable RvMouth (contract).
        unsafe { out.write(mouth) };
        Ok(RV_OK)
    }));
    match result {
        Ok(Ok(code)) => code,
        Ok(Err(Failure(code, msg))) => {
            set_last_error(msg);
            code
        }
        Err(_) => {
            set_last_error("internal error: a panic was caught at the C boundary");
            RV_ERR_INTERNAL
        }
    }
}
