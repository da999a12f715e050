//! Fallback for run-mono-tests.sh while `rv-mock-server`'s CLI has no scripted tool-call
//! option: the same local Realtime server (the `rv_mock_server` library, built by cargo as a
//! workspace member), with its first response scripted as the model calling
//! `move_cube({"dx":1,"dy":0,"dz":0})`. Prints `listening <url>` and serves until killed.
//! Compiled with plain rustc against the workspace's build of the library (see the script).

use std::io::Write;

use rv_mock_server::{MockConfig, MockServer, ResponseSpec};

fn main() {
    let config = MockConfig::default().respond(ResponseSpec::tool_call("move_cube", r#"{"dx":1,"dy":0,"dz":0}"#));
    let server = match MockServer::start(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mock-tool-server: cannot start: {e}");
            std::process::exit(1);
        }
    };
    let mut out = std::io::stdout();
    if writeln!(out, "listening {}", server.url()).and_then(|()| out.flush()).is_err() {
        std::process::exit(1);
    }
    loop {
        std::thread::park();
    }
}
