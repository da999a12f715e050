//! `rv-mock-server [--port N] [--tls] [--key KEY] [--no-stdin] [--pacing F] [--ping-secs N]
//! [--max-session-secs N] [--first-output-ms N] [--any-rate]
//! [--identity-fields]`: serve the mock Realtime API on
//! 127.0.0.1, print `listening <url>` once, and run until stdin closes (or, with `--no-stdin`,
//! until killed).

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use rv_mock_server::{MockConfig, MockServer, ResponseSpec};

fn main() -> ExitCode {
    let mut config = MockConfig::default();
    let mut wait_for_stdin = true;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => match args.next().and_then(|p| p.parse().ok()) {
                Some(port) => config.port = port,
                None => return usage("--port needs a number"),
            },
            "--tls" => config.tls = true,
            "--key" => match args.next() {
                Some(key) => config.api_key = Some(key),
                None => return usage("--key needs a value"),
            },
            "--no-stdin" => wait_for_stdin = false,
            // Scripted responses, in order: a function call, or spoken audio of N ms.
            "--tool-call" => match (args.next(), args.next()) {
                (Some(name), Some(arguments)) => {
                    config = config.respond(ResponseSpec::tool_call(name, arguments))
                }
                _ => return usage("--tool-call needs NAME and ARGUMENTS_JSON"),
            },
            // One more call in the same response as the --tool-call before it (parallel calls).
            "--and-tool-call" => match (args.next(), args.next()) {
                (Some(name), Some(arguments)) => match config.script.responses.last_mut() {
                    Some(ResponseSpec::ToolCalls(calls)) => calls.push((name, arguments)),
                    _ => return usage("--and-tool-call follows a --tool-call"),
                },
                _ => return usage("--and-tool-call needs NAME and ARGUMENTS_JSON"),
            },
            "--audio-ms" => match args.next().and_then(|p| p.parse().ok()) {
                Some(ms) => {
                    config =
                        config.respond(ResponseSpec::synthetic_audio(ms, "Sure, moving the cube."))
                }
                None => return usage("--audio-ms needs a number of ms"),
            },
            "--user-transcript" => match args.next() {
                Some(text) => config = config.user_transcript(text),
                None => return usage("--user-transcript needs a text"),
            },
            "--pacing" => match args.next().and_then(|p| p.parse().ok()) {
                Some(factor) => config.audio_pacing = factor,
                None => return usage("--pacing needs a number (e.g. 1 for real time)"),
            },
            "--ping-secs" => match args.next().and_then(|p| p.parse::<u64>().ok()) {
                Some(0) => config.ping_interval = None,
                Some(secs) => config.ping_interval = Some(Duration::from_secs(secs)),
                None => return usage("--ping-secs needs a number"),
            },
            "--max-session-secs" => match args.next().and_then(|p| p.parse().ok()) {
                Some(secs) => config.max_session_duration = Some(Duration::from_secs(secs)),
                None => return usage("--max-session-secs needs a number"),
            },
            "--first-output-ms" => match args.next().and_then(|p| p.parse().ok()) {
                Some(ms) => config.first_output_delay = Duration::from_millis(ms),
                None => return usage("--first-output-ms needs a number"),
            },
            "--any-rate" => config.accept_any_pcm_rate = true,
            "--identity-fields" => config.session_identity_fields = true,
            "--help" | "-h" => return usage(""),
            other => return usage(&format!("unknown argument {other}")),
        }
    }
    let server = match MockServer::start(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rv-mock-server: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout();
    if writeln!(stdout, "listening {}", server.url())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    if wait_for_stdin {
        let mut sink = [0u8; 1024];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
    } else {
        loop {
            std::thread::park();
        }
    }
    server.shutdown();
    ExitCode::SUCCESS
}

fn usage(problem: &str) -> ExitCode {
    if !problem.is_empty() {
        eprintln!("rv-mock-server: {problem}");
    }
    eprintln!(
        "usage: rv-mock-server [--port N] [--tls] [--key KEY] [--no-stdin] [--pacing F] \
         [--ping-secs N] [--max-session-secs N] [--first-output-ms N] [--any-rate] [--identity-fields] \
         [--tool-call NAME ARGS_JSON [--and-tool-call NAME ARGS_JSON]...]... [--audio-ms N]... [--user-transcript TEXT]..."
    );
    if problem.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
