//! `rv_pull_playback`, the whole C-ABI path Unity's audio thread takes (handle lookup,
//! session, ring), never touches the heap: counted with a global allocator, on the calling
//! thread only, over pulls with model audio, silence, a device-rate change and stale handles;
//! and `rv_get_mouth`, which a script may call from the audio thread between pulls.

mod support;

use realtime_voice::ffi::*;
use rv_mock_server::{MockConfig, MockServer, ResponseSpec};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);
thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if ARMED.try_with(|a| a.get()).unwrap_or(false) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        if ARMED.try_with(|a| a.get()).unwrap_or(false) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if ARMED.try_with(|a| a.get()).unwrap_or(false) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn pull_through_the_c_abi_never_allocates() {
    let server = MockServer::start(
        MockConfig::default().respond(ResponseSpec::synthetic_audio(3000, "Long enough.")),
    )
    .unwrap();
    let mut rv = support::Rv::for_server(&server.url(), r#""prebuffer_ms":20"#);
    rv.connect();
    rv.wait_type(Duration::from_secs(10), "session_ready");
    assert_eq!(rv.send_text("talk"), RV_OK);
    rv.wait_type(Duration::from_secs(10), "response_started");
    let mut out = vec![0f32; 1024 * 2];
    let mut mouth = RvMouth::default();
    // Warm-up outside the count (first-touch of thread-locals).
    rv.pull(&mut out, 2, 48_000);
    unsafe { rv_get_mouth(0, &mut mouth) };
    let stale = rv.handle + 10_000;
    let mut mouth_open = 0;

    ARMED.with(|a| a.set(true));
    let mut with_audio = 0;
    let start = Instant::now();
    let mut calls = 0;
    while start.elapsed() < Duration::from_millis(1500) {
        let rate = if calls < 40 { 48_000 } else { 44_100 }; // device change midway
        let n = unsafe { rv_pull_playback(rv.handle, out.as_mut_ptr(), 1024, 2, rate) };
        if n > 0 {
            with_audio += 1;
        }
        let e = unsafe { rv_pull_playback(stale, out.as_mut_ptr(), 1024, 2, rate) };
        assert_eq!(e, RV_ERR_INVALID_HANDLE);
        let e = unsafe { rv_pull_playback(0, out.as_mut_ptr(), 256, 1, rate) };
        assert_eq!(e, RV_ERR_INVALID_HANDLE);
        assert_eq!(unsafe { rv_get_mouth(rv.handle, &mut mouth) }, RV_OK);
        if mouth.level > 0.1 {
            mouth_open += 1;
        }
        assert_eq!(
            unsafe { rv_get_mouth(stale, &mut mouth) },
            RV_ERR_INVALID_HANDLE
        );
        assert_eq!(
            unsafe { rv_get_mouth(rv.handle, std::ptr::null_mut()) },
            RV_ERR_INVALID_ARGUMENT
        );
        calls += 1;
        std::thread::sleep(Duration::from_millis(10));
    }
    ARMED.with(|a| a.set(false));
    let allocs = ALLOCS.load(Ordering::Relaxed);
    assert!(
        with_audio > 20,
        "model audio was playing during the count ({with_audio} pulls)"
    );
    assert!(mouth_open > 10, "the mouth moved ({mouth_open} reads)");
    assert_eq!(
        allocs, 0,
        "rv_pull_playback or rv_get_mouth allocated or freed {allocs} times over {calls} calls"
    );
}

/// `rv_push_output_mix`, called on the audio thread with the listener's mix, copies only: no
/// heap operation, also for every refused argument; a bad argument writes nothing.
#[test]
fn pushing_the_output_mix_through_the_c_abi_never_allocates() {
    let mix: Vec<f32> = (0..1024 * 2)
        .map(|i| (i as f32 * 0.01).sin() * 0.3)
        .collect();
    // Warm-up outside the count (first-touch of thread-locals, the last-error slot).
    unsafe { rv_push_output_mix(mix.as_ptr(), 1024, 2, 48_000) };
    unsafe { rv_push_output_mix(std::ptr::null(), 1024, 2, 48_000) };
    ARMED.with(|a| a.set(true));
    let mut results = Vec::with_capacity(0);
    let mut ok = 0;
    let mut refused = 0;
    for _ in 0..200 {
        for (ptr, frames, ch, rate) in [
            (mix.as_ptr(), 1024, 2, 48_000),
            (mix.as_ptr(), 512, 4, 44_100),
            (std::ptr::null(), 1024, 2, 48_000),
            (mix.as_ptr(), -1, 2, 48_000),
            (mix.as_ptr(), 1024, 0, 48_000),
            (mix.as_ptr(), 64, 33, 48_000),
            (mix.as_ptr(), 1024, 2, 1_000),
        ] {
            match unsafe { rv_push_output_mix(ptr, frames, ch, rate) } {
                RV_OK => ok += 1,
                RV_ERR_INVALID_ARGUMENT => refused += 1,
                other => results.push(other),
            }
        }
    }
    ARMED.with(|a| a.set(false));
    let allocs = ALLOCS.load(Ordering::Relaxed);
    assert!(results.is_empty(), "unexpected codes {results:?}");
    assert_eq!((ok, refused), (400, 1000));
    assert_eq!(
        allocs, 0,
        "rv_push_output_mix allocated or freed {allocs} times"
    );
}
