//! The Realtime API's wire events: what we send ([`client`]) and what we accept ([`server`]).
//!
//! Pure: no sockets, no audio, no FFI. The session worker builds client events here and
//! parses every server frame here.

pub mod client;
pub mod server;
