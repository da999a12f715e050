//! The cargo-fuzz targets as a bounded randomized test on stable (CI machines may have no
//! nightly): each target body runs on thousands of mutations of valid seeds (real configs,
//! the SDK-shaped server events in tests/fixtures, real base64 audio) from a seeded PRNG,
//! plus every file committed under fuzz/corpus_seed/<target>/. A panic anywhere fails it.

#[path = "../fuzz/targets_common.rs"]
mod targets_common;

use std::path::Path;

const ITERATIONS: usize = 20_000;

/// xorshift64*: a tiny deterministic PRNG (no crate needed for test inputs).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[&str] = &[
    "0",
    "-1",
    "1e309",
    "18446744073709551616",
    "-9223372036854775809",
    "null",
    "true",
    "\"\"",
    "[]",
    "{}",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "NaN",
    "192001",
    "7999",
    "24000",
    "\"beta\"",
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut v = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(4) {
        let len = v.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => v.truncate(rng.below(len)),
            2 => {
                let i = rng.below(len + 1);
                let b = (rng.next() & 0xff) as u8;
                v.insert(i, b);
            }
            3 if len > 1 => {
                let (a, b) = (rng.below(len), rng.below(len));
                let (a, b) = (a.min(b), a.max(b));
                v.drain(a..b);
            }
            4 => {
                // splice in part of another seed
                let other = &seeds[rng.below(seeds.len())];
                let a = rng.below(other.len() + 1);
                let b = a + rng.below(other.len() - a + 1);
                let i = rng.below(len + 1);
                v.splice(i..i, other[a..b].iter().copied());
            }
            5 => {
                // replace a number-ish run by an interesting token
                if let Some(i) = v.iter().position(|c| c.is_ascii_digit()) {
                    let end = v[i..]
                        .iter()
                        .position(|c| !c.is_ascii_digit())
                        .map_or(v.len(), |e| i + e);
                    let tok = INTERESTING[rng.below(INTERESTING.len())].as_bytes();
                    v.splice(i..end, tok.iter().copied());
                }
            }
            6 => {
                // deep nesting
                let depth = 1 + rng.below(5000);
                let mut d = vec![b'['; depth];
                d.resize(depth * 2, b']');
                let i = rng.below(len + 1);
                v.splice(i..i, d);
            }
            _ => {
                let i = rng.below(len + 1);
                let tok = INTERESTING[rng.below(INTERESTING.len())].as_bytes();
                v.splice(i..i, tok.iter().copied());
            }
        }
    }
    v
}

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus_seed")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

fn run(target: &str, body: fn(&[u8]), mut seeds: Vec<Vec<u8>>, iterations: usize, seed: u64) {
    let committed = corpus(target);
    assert!(
        !committed.is_empty(),
        "fuzz/corpus_seed/{target}/ has seed files"
    );
    for input in &committed {
        body(input);
    }
    seeds.extend(committed);
    let mut rng = Rng(seed);
    for _ in 0..iterations {
        let input = mutate(&mut rng, &seeds);
        body(&input);
    }
}

#[test]
fn config_parser_survives_random_input() {
    let seeds = vec![
        br#"{"url":"ws://127.0.0.1:9/v1/realtime","input_sample_rate":16000,"output_sample_rate":44100,"output_channels":2}"#.to_vec(),
        br#"{"api_key":"sk-abcdefgh","model":"gpt-realtime-mini","session":{"instructions":"x","audio":{"output":{"voice":"marin"}}},"reconnect":{"max_attempts":3,"initial_backoff_ms":10,"max_backoff_ms":20},"protocol":"beta"}"#.to_vec(),
        br#"{"url":"wss://example.com/x?model=m","headers":{"api-key":"k"},"prebuffer_ms":0,"barge_in":false,"half_duplex":true,"chunk_ms":40}"#.to_vec(),
    ];
    run(
        "config",
        targets_common::config,
        seeds,
        ITERATIONS,
        0x5EED_0001,
    );
}

#[test]
fn server_event_parser_survives_random_input() {
    let fixtures = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/server_events_ga.jsonl"
    ))
    .unwrap();
    let seeds: Vec<Vec<u8>> = fixtures
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.as_bytes().to_vec())
        .collect();
    assert!(seeds.len() >= 40);
    run(
        "server_event",
        targets_common::server_event,
        seeds,
        ITERATIONS * 4,
        0x5EED_0002,
    );
}

#[test]
fn audio_delta_decoder_survives_random_input() {
    use base64::Engine;
    let pcm: Vec<u8> = (0..960i16)
        .flat_map(|i| (i.wrapping_mul(97)).to_le_bytes())
        .collect();
    let seeds = vec![
        base64::engine::general_purpose::STANDARD
            .encode(&pcm)
            .into_bytes(),
        base64::engine::general_purpose::STANDARD
            .encode(&pcm[..6])
            .into_bytes(),
        b"AAAA".to_vec(),
    ];
    run(
        "audio_delta",
        targets_common::audio_delta,
        seeds,
        ITERATIONS / 2,
        0x5EED_0003,
    );
}
