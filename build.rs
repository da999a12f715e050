//! Generates the C header with cbindgen.
//!
//! The header always goes to `$OUT_DIR/realtime_voice.h` (what the `header_is_current`
//! test compares against). Outside CI it is also written to `include/realtime_voice.h`
//! when it changed, so developers commit a fresh header; under CI (`CI` set) the
//! committed header is left as it is, so a stale one fails the test.
use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src/ffi.rs");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=CI");
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let generated = out_dir.join("realtime_voice.h");
    match cbindgen::Builder::new()
        // Only src/ffi.rs: the C ABI is exactly what that file declares, whatever other
        // public constants the Rust modules have.
        .with_src(crate_dir.join("src/ffi.rs"))
        .with_config(config)
        .generate()
    {
        Ok(bindings) => {
            bindings.write_to_file(&generated);
            if env::var_os("CI").is_none() {
                let committed = crate_dir.join("include/realtime_voice.h");
                let new = std::fs::read(&generated).unwrap_or_default();
                if std::fs::read(&committed).ok().as_deref() != Some(new.as_slice()) {
                    let _ = std::fs::create_dir_all(crate_dir.join("include"));
                    let _ = std::fs::write(&committed, &new);
                }
            }
        }
        Err(e) => {
            // A half-edited source should not break `cargo check`; the header test fails instead.
            println!("cargo:warning=cbindgen could not generate the header: {e}");
            let _ = std::fs::write(&generated, b"");
        }
    }
    println!(
        "cargo:rustc-env=RV_GENERATED_HEADER={}",
        generated.display()
    );
}
