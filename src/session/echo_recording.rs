//! Recording what the echo canceller sees in a live session, like WebRTC's aecdump: the mic,
//! the far end (reference) and the canceller's output, as three mono PCM16 WAV files at the
//! wire rate, sample-aligned, so a user can send us what their device really does and the
//! offline example (`examples/aec_wav.rs`) can replay it.
//!
//! The mic thread only copies the three blocks into a bounded channel (a full channel drops
//! the block and counts it: the mic path never waits on a disk); a writer thread of the
//! recording's own does the file I/O and fixes the WAV headers every second and when the
//! session goes.

use std::fs::{self, File};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};

use crate::audio::pcm::f32_to_i16;

/// Blocks (one per mic push) the writer may fall behind by before blocks are dropped.
const QUEUE_BLOCKS: usize = 512;
/// How often the writer brings the headers up to date while recording.
const HEADER_EVERY: Duration = Duration::from_secs(1);

/// The three streams of one recording, in file order.
pub const STREAMS: [&str; 3] = ["mic", "reference", "output"];

/// The mic thread's end of a recording.
pub struct EchoRecorder {
    tx: Sender<[Vec<f32>; 3]>,
    dropped: Arc<AtomicU64>,
    paths: [PathBuf; 3],
}

impl EchoRecorder {
    /// Creates `dir` if needed and three new WAV files in it (`rv-<unix ms>-mic.wav`,
    /// `-reference.wav`, `-output.wav`, mono PCM16 at `rate`), and starts the writer.
    pub fn start(dir: &Path, rate: u32) -> io::Result<EchoRecorder> {
        fs::create_dir_all(dir)?;
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let paths = STREAMS.map(|s| dir.join(format!("rv-{stamp}-{s}.wav")));
        let mut files = Vec::with_capacity(3);
        for p in &paths {
            let mut f = File::create(p)?;
            f.write_all(&header(rate, 0))?;
            files.push(f);
        }
        let files: [File; 3] = files
            .try_into()
            .map_err(|_| io::Error::other("three files"))?;
        let (tx, rx) = bounded(QUEUE_BLOCKS);
        std::thread::Builder::new()
            .name("rv-echo-recording".into())
            .spawn(move || write_loop(rx, files, rate))?;
        Ok(EchoRecorder {
            tx,
            dropped: Arc::new(AtomicU64::new(0)),
            paths,
        })
    }

    /// Queues one block of the three streams (equal lengths); never blocks.
    pub fn record(&self, mic: &[f32], reference: &[f32], output: &[f32]) {
        let block = [mic.to_vec(), reference.to_vec(), output.to_vec()];
        if let Err(TrySendError::Full(_)) = self.tx.try_send(block) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Blocks dropped because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The three files, in [`STREAMS`] order.
    pub fn paths(&self) -> &[PathBuf; 3] {
        &self.paths
    }
}

fn header(rate: u32, data_bytes: u32) -> [u8; 44] {
    let mut h = [0u8; 44];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&(36 + data_bytes).to_le_bytes());
    h[8..16].copy_from_slice(b"WAVEfmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes()); // PCM
    h[22..24].copy_from_slice(&1u16.to_le_bytes()); // mono
    h[24..28].copy_from_slice(&rate.to_le_bytes());
    h[28..32].copy_from_slice(&(rate * 2).to_le_bytes());
    h[32..34].copy_from_slice(&2u16.to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_bytes.to_le_bytes());
    h
}

fn fix_header(f: &mut File, rate: u32, data_bytes: u32) -> io::Result<()> {
    let end = f.stream_position()?;
    f.seek(SeekFrom::Start(0))?;
    f.write_all(&header(rate, data_bytes))?;
    f.seek(SeekFrom::Start(end))?;
    f.flush()
}

fn write_loop(rx: Receiver<[Vec<f32>; 3]>, mut files: [File; 3], rate: u32) {
    let mut bytes = [0u32; 3];
    let mut pcm = Vec::new();
    let mut since_header = std::time::Instant::now();
    let mut failed = false;
    loop {
        match rx.recv_timeout(HEADER_EVERY) {
            Ok(block) => {
                if failed {
                    continue;
                }
                for (i, samples) in block.iter().enumerate() {
                    pcm.clear();
                    for &s in samples {
                        pcm.extend_from_slice(&f32_to_i16(s).to_le_bytes());
                    }
                    // A WAV file holds at most 4 GiB: stop there rather than wrap.
                    if bytes[i].checked_add(pcm.len() as u32).is_none()
                        || files[i].write_all(&pcm).is_err()
                    {
                        failed = true;
                        break;
                    }
                    bytes[i] += pcm.len() as u32;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if since_header.elapsed() >= HEADER_EVERY {
            since_header = std::time::Instant::now();
            for (f, &b) in files.iter_mut().zip(&bytes) {
                let _ = fix_header(f, rate, b);
            }
        }
    }
    for (f, &b) in files.iter_mut().zip(&bytes) {
        let _ = fix_header(f, rate, b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::wav::read_wav;

    #[test]
    fn records_three_aligned_streams_that_read_back() {
        let dir = std::env::temp_dir().join(format!("rv-echo-rec-{}", std::process::id()));
        let rec = EchoRecorder::start(&dir, 24_000).unwrap();
        let paths = rec.paths().clone();
        for k in 0..50 {
            let mic: Vec<f32> = (0..480)
                .map(|i| ((k * 480 + i) as f32 * 0.01).sin() * 0.5)
                .collect();
            let far: Vec<f32> = mic.iter().map(|v| v * 0.5).collect();
            let out: Vec<f32> = mic.iter().map(|v| v * 0.25).collect();
            rec.record(&mic, &far, &out);
        }
        assert_eq!(rec.dropped(), 0);
        drop(rec);
        // The writer finishes on its own thread: wait for the final headers.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let done = paths
                .iter()
                .all(|p| read_wav(p).map(|w| w.frames() == 50 * 480).unwrap_or(false));
            if done || std::time::Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let streams: Vec<Vec<f32>> = paths
            .iter()
            .map(|p| read_wav(p).unwrap().to_mono())
            .collect();
        assert!(
            streams.iter().all(|s| s.len() == 50 * 480),
            "every stream whole"
        );
        for i in (0..24_000).step_by(997) {
            assert!(
                (streams[1][i] - 0.5 * streams[0][i]).abs() < 1e-3,
                "reference aligned at {i}"
            );
            assert!(
                (streams[2][i] - 0.25 * streams[0][i]).abs() < 1e-3,
                "output aligned at {i}"
            );
        }
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_folder_that_cannot_be_made_is_an_error() {
        let file = std::env::temp_dir().join(format!("rv-echo-rec-file-{}", std::process::id()));
        fs::write(&file, b"x").unwrap();
        assert!(EchoRecorder::start(&file.join("sub"), 24_000).is_err());
        let _ = fs::remove_file(&file);
    }
}
