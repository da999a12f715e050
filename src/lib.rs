//! Realtime Voice: the native core of a Unity plugin that holds a spoken conversation
//! with OpenAI's Realtime API (or any server that speaks it).
//!
//! The crate is a C ABI (`ffi`, header `include/realtime_voice.h`) over four layers that
//! know nothing of each other's concerns:
//! - [`audio`]: pure DSP (capture: downmix, scrub, resample, PCM16 chunks; playback:
//!   decode, resample, lock-free ring read by the audio thread);
//! - [`protocol`]: the Realtime API's client and server events (GA and beta names);
//! - [`session`]: the worker thread that runs the WebSocket, reconnects, dispatches tools
//!   and queues events for the host to poll;
//! - [`config`]: the session configuration JSON, parsed and validated.
//!
//! See `docs/c-abi.md`, `docs/config.md` and `docs/events.md` for the contracts and `README.md` for the figures.
#![deny(missing_docs)]

pub mod audio;
pub mod config;
pub mod ffi;
pub mod protocol;
pub mod session;
