//! The C ABI from C: `tests/c/abi_smoke.c` is compiled with `-Wall -Wextra -Werror` against
//! the committed header, linked to the built shared library, and run: first alone
//! (argument handling of every function), then through a whole voice session against the
//! local Realtime server, and that session again under valgrind when valgrind is installed
//! (CI installs it; `RV_REQUIRE_VALGRIND=1` makes its absence a failure).

use rv_mock_server::{MockConfig, MockServer, ResponseSpec};
use std::path::{Path, PathBuf};
use std::process::Command;

fn lib_dir() -> PathBuf {
    // target/<profile>/deps/c_abi-<hash> -> target/<profile>
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

fn build_client(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = lib_dir();
    assert!(
        lib.join("librealtime_voice.so").exists() || lib.join("librealtime_voice.dylib").exists(),
        "the cdylib was not built in {}",
        lib.display()
    );
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let status = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-g", "-O1"])
        .arg("-I")
        .arg(root.join("include"))
        .arg(root.join("tests/c/abi_smoke.c"))
        .arg("-L")
        .arg(&lib)
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .args(["-lrealtime_voice", "-lpthread", "-lm", "-o"])
        .arg(&out)
        .status()
        .expect("a C compiler (cc) is installed");
    assert!(
        status.success(),
        "the C client did not compile cleanly against the header"
    );
    out
}

fn session_server() -> MockServer {
    MockServer::start(
        MockConfig::default()
            .respond(ResponseSpec::tool_call(
                "move_cube",
                r#"{"dx":-1,"dy":0,"dz":0}"#,
            ))
            .respond(ResponseSpec::synthetic_audio(
                1500,
                "Done, the cube moved left.",
            ))
            .audio_pacing(4.0),
    )
    .unwrap()
}

fn check(output: std::process::Output, min_passed: u32) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "C client failed:\n{stdout}\n{stderr}"
    );
    let last = stdout.lines().last().unwrap_or_default().to_string();
    assert!(last.ends_with(" passed, 0 failed"), "{stdout}");
    let passed: u32 = last.split_whitespace().next().unwrap().parse().unwrap();
    assert!(passed >= min_passed, "{last}");
    stdout
}

#[test]
fn c_client_argument_checks_and_a_whole_session() {
    let exe = build_client("abi_smoke");
    check(Command::new(&exe).output().unwrap(), 40);
    let server = session_server();
    check(Command::new(&exe).arg(server.url()).output().unwrap(), 52);
    assert_eq!(
        server.received_of_type("conversation.item.create").len(),
        1,
        "the tool result arrived"
    );
}

#[test]
fn c_client_session_is_clean_under_valgrind() {
    let have = Command::new("valgrind")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !have {
        assert!(
            std::env::var_os("RV_REQUIRE_VALGRIND").is_none(),
            "valgrind is required here but not installed"
        );
        eprintln!("valgrind not installed: skipped (tools/install-deps.sh installs it)");
        return;
    }
    let exe = build_client("abi_smoke_valgrind");
    let server = session_server();
    let output = Command::new("valgrind")
        .args([
            "--error-exitcode=99",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
            "--show-leak-kinds=definite",
            "--track-origins=yes",
            "-q",
        ])
        .arg(&exe)
        .arg(server.url())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(
        output.status.code(),
        Some(99),
        "valgrind found errors:\n{stderr}"
    );
    check(output, 52);
}
