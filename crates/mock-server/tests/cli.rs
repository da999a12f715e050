//! The `rv-mock-server` binary used by the C# tests: one `listening` line, serves, exits
//! when stdin closes.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

/// Starts the binary with `args`; returns it, its stdout after the first line, and the URL
/// that line announced.
fn spawn(args: &[&str]) -> (Child, BufReader<ChildStdout>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rv-mock-server"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the binary");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = line
        .trim_end()
        .strip_prefix("listening ")
        .expect("listening line")
        .to_string();
    (child, stdout, url)
}

#[test]
fn prints_one_line_serves_and_exits_when_stdin_closes() {
    let (mut child, mut stdout, url) = spawn(&["--key", "sk-cli", "--ping-secs", "0"]);
    assert!(
        url.starts_with("ws://127.0.0.1:") && url.ends_with("/v1/realtime"),
        "{url}"
    );
    let mut c = connect_with(&url, &[("authorization", "Bearer sk-cli")], None).expect("connect");
    c.until("session.created", Duration::from_secs(5));
    assert!(matches!(
        connect_with(&url, &[], None),
        Err(ConnectError::Http(401, _))
    ));

    drop(child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server did not exit after stdin closed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "", "exactly one line on stdout");
}

#[test]
fn scripted_responses_from_the_command_line() {
    let (mut child, _stdout, url) = spawn(&[
        "--tool-call",
        "move_cube",
        r#"{"dx":1,"dy":0,"dz":0}"#,
        "--audio-ms",
        "200",
    ]);
    let mut c = connect(&url);
    c.until("session.created", Duration::from_secs(5));
    c.send(serde_json::json!({"type": "response.create"}));
    let events = c.until("response.done", Duration::from_secs(5));
    let call = events
        .iter()
        .find(|e| e["type"] == "response.function_call_arguments.done")
        .expect("the scripted call");
    assert_eq!(call["name"], "move_cube");
    assert_eq!(call["arguments"], r#"{"dx":1,"dy":0,"dz":0}"#);
    c.send(serde_json::json!({"type": "response.create"}));
    let events = c.until("response.done", Duration::from_secs(5));
    let samples = audio_samples(&events);
    assert_eq!(samples, 200 * 24, "then 200 ms of audio");
    drop(child.stdin.take());
    let _ = child.wait();
}

#[test]
fn and_tool_call_adds_a_parallel_call_to_the_same_response() {
    let (mut child, _stdout, url) = spawn(&[
        "--tool-call",
        "slow_lookup",
        r#"{"q":"cube"}"#,
        "--and-tool-call",
        "move_cube",
        r#"{"dx":1}"#,
    ]);
    let mut c = connect(&url);
    c.until("session.created", Duration::from_secs(5));
    c.send(serde_json::json!({"type": "response.create"}));
    let events = c.until("response.done", Duration::from_secs(5));
    let calls: Vec<_> = events
        .iter()
        .filter(|e| e["type"] == "response.function_call_arguments.done")
        .map(|e| (e["name"].clone(), e["arguments"].clone()))
        .collect();
    assert_eq!(
        calls,
        vec![
            (
                serde_json::json!("slow_lookup"),
                serde_json::json!(r#"{"q":"cube"}"#)
            ),
            (
                serde_json::json!("move_cube"),
                serde_json::json!(r#"{"dx":1}"#)
            ),
        ],
        "both calls in one response, in order"
    );
    drop(child.stdin.take());
    let _ = child.wait();
}

#[test]
fn and_tool_call_without_a_tool_call_before_it_is_refused() {
    let output = Command::new(env!("CARGO_BIN_EXE_rv-mock-server"))
        .args(["--and-tool-call", "move_cube", "{}"])
        .stdin(Stdio::null())
        .output()
        .expect("run the binary");
    assert!(!output.status.success(), "refused");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--and-tool-call follows a --tool-call"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "never listened");
}
