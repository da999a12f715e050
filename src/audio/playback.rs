//! Playback path: the model's PCM16 @ 24 kHz -> the audio thread at the device's rate.
//!
//! # Shape
//!
//! ```text
//!  worker thread (PlaybackProducer)                      audio thread (PlaybackConsumer)
//!  push_base64/push_pcm16 -> hold (24 kHz, <= 120 s)
//!  pump(): hold -> StreamResampler -> SPSC ring (mono, device rate, ~prebuffer + 60 ms) -> pull()
//!                 ^ rebuilt when the consumer reports a new rate      (copy, fan out to channels)
//! ```
//!
//! - **No audio is ever dropped because a ring is full**: the ring is small on purpose (so a
//!   device-rate change reaches the ear fast), and everything that does not fit waits in the
//!   producer's 24 kHz *hold*. Only beyond `max_hold_seconds` of held audio is anything
//!   dropped, and that is counted ([`PlaybackStats::overflow_samples`]).
//! - **The consumer never allocates, locks or blocks**: it reads the ring in place
//!   (`as_slices` + `skip`), and talks to the producer through a handful of atomics in an
//!   `Arc` it never drops inside `pull`.
//! - **Prebuffer**: after silence, playback starts once `prebuffer_ms` of audio is in the ring,
//!   or as soon as the end of an item is in the ring (so a reply shorter than the prebuffer
//!   still plays). Running dry before an item's end is an underrun (counted; the prebuffer
//!   re-arms).
//! - **Barge-in**: [`PlaybackProducer::interrupt`] drops held audio and publishes the ring
//!   position up to which the consumer discards: the next `pull` fades what was playing out
//!   over [`FADE_OUT_MS`] (a hard cut clicks) and is silent after that (unless new audio was
//!   pushed after the interrupt, which is kept).
//! - **Played-ms accounting** counts ring frames the consumer handed to the device (never wall
//!   clock). The producer maps ring positions back to 24 kHz source positions through the
//!   resampler segments it wrote (ratio and filter delay), and each item's source span gives
//!   how many ms of that item were heard. The error is at most one audio callback (the pull
//!   that may run between reading the position and the consumer seeing the flush) plus
//!   a fraction of a ms of filter-delay rounding.
//! - **Device rate change**: `pull` reports the rate it is called with; the next `pump`
//!   flushes the old resampler's tail and rebuilds it for the new rate, and publishes the ring
//!   position where new-rate audio starts. Audio already in the ring at the old rate (at most
//!   prebuffer + 60 ms) is played by the consumer through an allocation-free linear
//!   interpolator at the right speed, so the pitch is right from the first pull at the new
//!   rate; the only cost is lower quality for that short stretch and a ~2 ms dip where the
//!   resampler was rebuilt.
//! - **Mouth timeline**: the worker analyses each 10 ms hop of source audio as it is fed to
//!   the resampler ([`super::mouth`]) and queues the shape, keyed by the ring position that
//!   carries the hop's middle, in a second SPSC ring. `pull` publishes the latest shape
//!   whose position it has handed out ([`MouthCell`], readable from any thread), so the
//!   mouth follows what the device plays, not what was decoded seconds ahead of it. A
//!   flush drops the queued shapes (they carry the flush count they were made in).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

use super::mouth::{MouthAnalyzer, MouthCell, MouthShape, HOP_MS, HOP_SAMPLES};
use super::pcm::{decode_base64_pcm16, i16_to_f32};
use super::resample::StreamResampler;
use super::{check_rate, AudioError, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, MODEL_AUDIO_RATE};

/// Ring headroom above the prebuffer, in ms: room for the worker's pump period and jitter.
pub const RING_HEADROOM_MS: u32 = 60;
/// Length of the fade-out applied when a barge-in flush cuts audio that is playing, in ms.
pub const FADE_OUT_MS: usize = 3;
/// Largest accepted `prebuffer_ms`.
pub const MAX_PREBUFFER_MS: u32 = 5_000;
/// Largest accepted `max_hold_seconds`.
pub const MAX_HOLD_SECONDS: u32 = 3_600;

/// Source samples fed to the resampler per step in `pump` (20 ms at 24 kHz).
const PUMP_BLOCK: usize = 480;
/// Source history kept to pre-roll a rebuilt resampler (longer than any sinc + chunk).
const RECENT_SOURCE: usize = 2048;

/// Playback settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaybackConfig {
    /// The device rate expected first (Unity's `AudioSettings.outputSampleRate`); `pull` may
    /// change it later.
    pub output_rate: u32,
    /// Audio buffered before a response starts playing, in ms (0-5000).
    pub prebuffer_ms: u32,
    /// Cap of audio held ahead of the ring, in seconds (1-3600); beyond it audio is dropped
    /// and counted.
    pub max_hold_seconds: u32,
}

impl Default for PlaybackConfig {
    fn default() -> Self {
        Self {
            output_rate: 48_000,
            prebuffer_ms: 80,
            max_hold_seconds: 120,
        }
    }
}

/// The item that was playing when [`PlaybackProducer::interrupt`] ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interrupted {
    /// The item whose audio was cut.
    pub item_id: String,
    /// How much of it was handed to the audio device, in ms of the item's own audio
    /// (what `conversation.item.truncate` wants as `audio_end_ms`).
    pub played_ms: u32,
}

/// Counters and levels of the playback path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlaybackStats {
    /// Audio not yet played (held + resampled + in the ring), in ms.
    pub buffered_ms: u32,
    /// Source samples (24 kHz) waiting in the hold.
    pub held_samples: u64,
    /// Frames of model audio handed to the device since creation.
    pub frames_out: u64,
    /// Times the ring ran dry in the middle of an item.
    pub underruns: u64,
    /// Source samples dropped because the hold was over its cap.
    pub overflow_samples: u64,
    /// Device rate the resampler currently targets.
    pub output_rate: u32,
    /// Times the resampler was rebuilt for a new device rate.
    pub rate_changes: u64,
    /// Barge-in flushes requested.
    pub flushes: u64,
}

/// State shared between the two halves; the consumer only does atomic loads/stores on it.
struct Shared {
    /// Ring frames the consumer has taken out (played or discarded by a flush).
    read_pos: AtomicU64,
    /// Ring frames of model audio handed to the device.
    frames_out: AtomicU64,
    /// Ring position up to which the consumer must discard (barge-in).
    flush_to: AtomicU64,
    /// Ring position up to which the audio of ended items is complete in the ring.
    released_to: AtomicU64,
    /// `(rate << 40) | ring position` where ring content at `rate` begins.
    switch: AtomicU64,
    /// The rate the consumer was last called with.
    device_rate: AtomicU32,
    /// Reference frames dropped because the echo canceller's side did not drain them.
    reference_dropped: AtomicU64,
    underruns: AtomicU64,
    /// Flushes requested; mouth frames made before the latest one are stale.
    mouth_epoch: AtomicU32,
    /// The mouth shape of what was handed to the device last.
    mouth: Arc<MouthCell>,
}

/// A mouth shape queued for the ring position that carries it.
#[derive(Debug, Clone, Copy)]
struct MouthFrame {
    ring_pos: u64,
    epoch: u32,
    shape: MouthShape,
    played_ms: i64,
}

/// Mouth frames queued beyond the ring's own span, for the resampler's staging.
const MOUTH_FRAME_SLACK_MS: u32 = 200;

const SWITCH_POS_BITS: u32 = 40;
const SWITCH_POS_MASK: u64 = (1 << SWITCH_POS_BITS) - 1;

fn pack_switch(rate: u32, pos: u64) -> u64 {
    ((rate as u64) << SWITCH_POS_BITS) | (pos & SWITCH_POS_MASK)
}

fn unpack_switch(v: u64) -> (u32, u64) {
    ((v >> SWITCH_POS_BITS) as u32, v & SWITCH_POS_MASK)
}

/// Create the two halves of the playback path.
pub fn playback_pipeline(
    cfg: PlaybackConfig,
) -> Result<(PlaybackProducer, PlaybackConsumer), AudioError> {
    check_rate("output sample rate", cfg.output_rate)?;
    if cfg.prebuffer_ms > MAX_PREBUFFER_MS {
        return Err(AudioError::InvalidArgument(format!(
            "prebuffer_ms {} is above {MAX_PREBUFFER_MS}",
            cfg.prebuffer_ms
        )));
    }
    if !(1..=MAX_HOLD_SECONDS).contains(&cfg.max_hold_seconds) {
        return Err(AudioError::InvalidArgument(format!(
            "max_hold_seconds {} is outside 1-{MAX_HOLD_SECONDS}",
            cfg.max_hold_seconds
        )));
    }
    // Sized for the highest rate so a rate change never reallocates.
    let ring_capacity = ((cfg.prebuffer_ms + RING_HEADROOM_MS) as u64 * MAX_SAMPLE_RATE as u64
        / 1000) as usize
        + 1024;
    let (ring_prod, ring_cons) = HeapRb::<f32>::new(ring_capacity).split();
    // One frame per 10 ms of what can be in the ring or staged ahead of it, at any rate.
    let mouth_capacity =
        ((cfg.prebuffer_ms + RING_HEADROOM_MS + MOUTH_FRAME_SLACK_MS) / HOP_MS) as usize;
    let (mouth_prod, mouth_cons) = HeapRb::<MouthFrame>::new(mouth_capacity).split();
    let shared = Arc::new(Shared {
        read_pos: AtomicU64::new(0),
        frames_out: AtomicU64::new(0),
        flush_to: AtomicU64::new(0),
        released_to: AtomicU64::new(0),
        switch: AtomicU64::new(pack_switch(cfg.output_rate, 0)),
        device_rate: AtomicU32::new(cfg.output_rate),
        reference_dropped: AtomicU64::new(0),
        underruns: AtomicU64::new(0),
        mouth_epoch: AtomicU32::new(0),
        mouth: Arc::new(MouthCell::default()),
    });
    let resampler = StreamResampler::new(MODEL_AUDIO_RATE, cfg.output_rate)?;
    let first_segment = Segment {
        ring_start: 0,
        src_start: 0.0,
        ratio: cfg.output_rate as f64 / MODEL_AUDIO_RATE as f64,
        delay: resampler.delay_output_frames(),
    };
    let producer = PlaybackProducer {
        ring: ring_prod,
        shared: shared.clone(),
        cfg,
        hold: VecDeque::new(),
        hold_cap: cfg.max_hold_seconds as usize * MODEL_AUDIO_RATE as usize,
        resampler,
        out_rate: cfg.output_rate,
        pending_out: Vec::new(),
        pending_off: 0,
        src_fed: 0,
        src_written: 0,
        ring_written: 0,
        segments: VecDeque::from([first_segment]),
        items: VecDeque::new(),
        pending_release: None,
        overflow: 0,
        rate_changes: 0,
        flushes: 0,
        last_switch_pos: 0,
        b64_scratch: Vec::new(),
        pcm_scratch: Vec::new(),
        block: vec![0.0; PUMP_BLOCK],
        recent: VecDeque::with_capacity(RECENT_SOURCE + PUMP_BLOCK),
        discard_out: 0,
        mouth: MouthAnalyzer::new(),
        mouth_frames: mouth_prod,
        #[cfg(test)]
        ring_written_at_analysis: Vec::new(),
    };
    let consumer = PlaybackConsumer {
        ring: ring_cons,
        shared,
        read_pos: 0,
        playing: false,
        content_rate: cfg.output_rate,
        next_switch: None,
        last_device_rate: cfg.output_rate,
        prebuffer_ms: cfg.prebuffer_ms,
        interp_prev: 0.0,
        interp_frac: 0.0,
        reference: None,
        mouth_frames: mouth_cons,
        mouth_epoch: 0,
        mouth_played_ms: 0,
    };
    Ok((producer, consumer))
}

/// Where a stretch of ring content came from: ring position `r` (>= `ring_start`) carries
/// source position `src_start + (r - ring_start - delay) / ratio`.
#[derive(Debug, Clone, Copy)]
struct Segment {
    ring_start: u64,
    src_start: f64,
    ratio: f64,
    delay: f64,
}

#[derive(Debug)]
struct ItemSpan {
    id: String,
    /// First source sample (24 kHz stream position).
    src_start: u64,
    /// One past the last real source sample, once the item ended.
    src_end: Option<u64>,
}

/// The worker-thread half: accepts model audio, resamples it into the ring. `Send`.
pub struct PlaybackProducer {
    ring: HeapProd<f32>,
    shared: Arc<Shared>,
    cfg: PlaybackConfig,
    /// Source audio (24 kHz) not yet resampled.
    hold: VecDeque<f32>,
    hold_cap: usize,
    resampler: StreamResampler,
    out_rate: u32,
    /// Resampled audio that did not fit in the ring yet; `pending_off` is its read index.
    pending_out: Vec<f32>,
    pending_off: usize,
    /// Source samples given to the resampler (stream position, padding included).
    src_fed: u64,
    /// Source samples accepted (= `src_fed` + held).
    src_written: u64,
    /// Frames pushed into the ring (pending frames will follow at this position).
    ring_written: u64,
    segments: VecDeque<Segment>,
    items: VecDeque<ItemSpan>,
    /// Source position whose output, once in the ring, releases the prebuffer.
    pending_release: Option<u64>,
    overflow: u64,
    rate_changes: u64,
    flushes: u64,
    last_switch_pos: u64,
    b64_scratch: Vec<u8>,
    pcm_scratch: Vec<i16>,
    block: Vec<f32>,
    /// The last source samples fed to the resampler, to pre-roll a rebuilt one.
    recent: VecDeque<f32>,
    /// Output frames of a rebuilt resampler still to discard (its pre-roll).
    discard_out: usize,
    mouth: MouthAnalyzer,
    mouth_frames: HeapProd<MouthFrame>,
    /// Frames in the ring when each block's mouth analysis started.
    #[cfg(test)]
    ring_written_at_analysis: Vec<u64>,
}

/// Frames `ring` may still take while holding at most `target`.
fn room_below(ring: &HeapProd<f32>, target: usize) -> usize {
    target
        .saturating_sub(ring.occupied_len())
        .min(ring.vacant_len())
}

impl PlaybackProducer {
    /// Decode one base64 PCM16 delta (little-endian, 24 kHz mono) for `item_id` and queue it.
    /// Bad base64 or an odd byte count is rejected and nothing is queued. Returns the number
    /// of 24 kHz samples accepted (fewer than decoded only when the hold cap was exceeded).
    pub fn push_base64(&mut self, item_id: &str, delta: &str) -> Result<usize, AudioError> {
        let mut pcm = std::mem::take(&mut self.pcm_scratch);
        pcm.clear();
        let result = decode_base64_pcm16(delta, &mut self.b64_scratch, &mut pcm)
            .map(|_| self.push_samples(item_id, pcm.iter().map(|&s| i16_to_f32(s)), pcm.len()));
        self.pcm_scratch = pcm;
        result
    }

    /// Queue PCM16 samples (24 kHz mono) for `item_id`.
    pub fn push_pcm16(&mut self, item_id: &str, pcm: &[i16]) {
        self.push_samples(item_id, pcm.iter().map(|&s| i16_to_f32(s)), pcm.len());
    }

    fn push_samples(
        &mut self,
        item_id: &str,
        samples: impl Iterator<Item = f32>,
        len: usize,
    ) -> usize {
        if len == 0 {
            return 0;
        }
        let open =
            matches!(self.items.back(), Some(it) if it.id == item_id && it.src_end.is_none());
        if !open {
            // A new item implicitly ends the previous one (its audio is contiguous).
            if let Some(prev) = self.items.back_mut() {
                if prev.src_end.is_none() {
                    prev.src_end = Some(self.src_written);
                }
            }
            self.items.push_back(ItemSpan {
                id: item_id.to_owned(),
                src_start: self.src_written,
                src_end: None,
            });
        }
        let room = self.hold_cap.saturating_sub(self.hold.len());
        let accepted = len.min(room);
        self.overflow += (len - accepted) as u64;
        self.hold.extend(samples.take(accepted));
        self.src_written += accepted as u64;
        self.pump();
        accepted
    }

    /// No more audio for `item_id`: its tail is pushed through the resampler and the
    /// prebuffer is released for it, so a reply shorter than the prebuffer still plays.
    pub fn end_item(&mut self, item_id: &str) {
        let Some(it) = self.items.back_mut() else {
            return;
        };
        if it.id != item_id || it.src_end.is_some() {
            return;
        }
        it.src_end = Some(self.src_written);
        // Silence that carries the item's last samples through the filter and the staging.
        let pad = self.resampler.flush_input_len();
        self.hold.extend(std::iter::repeat(0.0).take(pad));
        self.src_written += pad as u64;
        self.pending_release = Some(self.src_written);
        self.pump();
    }

    /// Move held audio through the resampler into the ring as room allows; rebuild the
    /// resampler when the consumer reported a new device rate. Call every few ms.
    pub fn pump(&mut self) {
        self.apply_rate_change();
        loop {
            self.drain_pending();
            let room = self.ring_room();
            if room == 0 || self.pending_len() > 0 || self.hold.is_empty() {
                break;
            }
            // Enough source for the room, in blocks (the output may overshoot by a block;
            // the excess waits in `pending_out`).
            let ratio = self.out_rate as f64 / MODEL_AUDIO_RATE as f64;
            let want = ((room as f64 / ratio).ceil() as usize).clamp(1, PUMP_BLOCK);
            let n = want.min(self.hold.len());
            for (dst, src) in self.block[..n].iter_mut().zip(self.hold.drain(..n)) {
                *dst = src;
            }
            // Each piece the resampler puts out (2 ms) goes straight into the ring, where
            // `pull` can take it while the rest of the block is resampled; what does not fit
            // waits in `pending_out` (empty here), and so does everything after it.
            let target = self.ring_target();
            let ring = &mut self.ring;
            let ring_written = &mut self.ring_written;
            let pending = &mut self.pending_out;
            let discard = &mut self.discard_out;
            self.resampler.process(&self.block[..n], &mut |b| {
                let k = (*discard).min(b.len());
                *discard -= k;
                let b = &b[k..];
                let mut pushed = 0;
                if pending.is_empty() {
                    let room = room_below(ring, target);
                    pushed = ring.push_slice(&b[..room.min(b.len())]);
                    *ring_written += pushed as u64;
                }
                pending.extend_from_slice(&b[pushed..]);
            });
            // The block's audio is in the ring before its mouth shapes are analysed: they are
            // keyed by ring position, so the order changes none of them (a pull in between
            // publishes a late shape with the next pull).
            self.drain_pending();
            self.analyze_mouth(n);
            self.src_fed += n as u64;
            self.recent.extend(self.block[..n].iter().copied());
            let excess = self.recent.len().saturating_sub(RECENT_SOURCE);
            self.recent.drain(..excess);
        }
        self.check_release();
        self.prune();
    }

    /// Mouth shapes of the `n` source samples in `block` being fed at `src_fed`, queued
    /// for the ring positions that will carry them.
    fn analyze_mouth(&mut self, n: usize) {
        #[cfg(test)]
        self.ring_written_at_analysis.push(self.ring_written);
        let Some(seg) = self.segments.back().copied() else {
            return;
        };
        let base = self.src_fed;
        let epoch = self.flushes as u32;
        let items = &self.items;
        let frames = &mut self.mouth_frames;
        self.mouth.push(&self.block[..n], &mut |end, shape| {
            let hop_end = base + end as u64;
            let middle = hop_end as f64 - HOP_SAMPLES as f64 / 2.0;
            let ring = seg.ring_start as f64 + seg.delay + (middle - seg.src_start) * seg.ratio;
            // The item this hop belongs to: ms of it played once the hop is heard.
            let played = items
                .iter()
                .rev()
                .find(|it| it.src_start < hop_end)
                .map_or(0, |it| {
                    let end = it.src_end.map_or(hop_end, |e| e.min(hop_end));
                    (end.saturating_sub(it.src_start) * 1000 / MODEL_AUDIO_RATE as u64) as i64
                });
            // Full only when nobody pulls (then the ring is full too): the shape is lost,
            // the mouth keeps the last one.
            let _ = frames.try_push(MouthFrame {
                ring_pos: ring.max(0.0).round() as u64,
                epoch,
                shape,
                played_ms: played,
            });
        });
    }

    fn pending_len(&self) -> usize {
        self.pending_out.len() - self.pending_off
    }

    /// Most frames the ring is filled to: prebuffer + headroom.
    fn ring_target(&self) -> usize {
        ((self.cfg.prebuffer_ms + RING_HEADROOM_MS) as u64 * self.out_rate as u64 / 1000) as usize
    }

    /// Frames the ring may still take, keeping it at most prebuffer + headroom.
    fn ring_room(&self) -> usize {
        room_below(&self.ring, self.ring_target())
    }

    fn drain_pending(&mut self) {
        let room = self.ring_room();
        let n = room.min(self.pending_len());
        if n > 0 {
            let pushed = self
                .ring
                .push_slice(&self.pending_out[self.pending_off..self.pending_off + n]);
            self.pending_off += pushed;
            self.ring_written += pushed as u64;
        }
        if self.pending_off == self.pending_out.len() {
            self.pending_out.clear();
            self.pending_off = 0;
        }
    }

    fn check_release(&mut self) {
        if let Some(src) = self.pending_release {
            if self.src_fed >= src && self.pending_len() == 0 {
                self.shared
                    .released_to
                    .store(self.ring_written, Ordering::Release);
                self.pending_release = None;
            }
        }
    }

    fn apply_rate_change(&mut self) {
        let rate = self.shared.device_rate.load(Ordering::Acquire);
        if rate == self.out_rate || !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&rate) {
            return;
        }
        // One switch in flight at a time: the consumer tracks a single pending switch.
        if self.shared.read_pos.load(Ordering::Acquire) < self.last_switch_pos {
            return;
        }
        let Ok(mut new_resampler) = StreamResampler::new(MODEL_AUDIO_RATE, rate) else {
            return;
        };
        // Seamless hand-over: the old resampler's output ends at ring position `switch_pos`,
        // which carries source time `src_at_switch`. The new resampler is pre-rolled with
        // the source history before that instant, and its output up to that instant is
        // discarded, so the new-rate audio continues exactly where the old one stopped
        // (the old resampler's staged input is simply re-rendered by the new one).
        let switch_pos = self.ring_written + self.pending_len() as u64;
        let src_at_switch = self.heard_src(switch_pos);
        let oldest = self.src_fed - self.recent.len() as u64;
        let preroll = new_resampler.flush_input_len() as f64;
        let start = (src_at_switch - preroll).floor().max(oldest as f64) as u64;
        let ratio = rate as f64 / MODEL_AUDIO_RATE as f64;
        let skip = new_resampler.delay_output_frames() + (src_at_switch - start as f64) * ratio;
        self.discard_out = skip.round().max(0.0) as usize;
        // Source time actually at `switch_pos` after rounding the discard.
        let src_start =
            start as f64 + (self.discard_out as f64 - new_resampler.delay_output_frames()) / ratio;
        let from = (start - oldest) as usize;
        let pending = &mut self.pending_out;
        let discard = &mut self.discard_out;
        let (a, b) = self.recent.as_slices();
        let (a_from, b_from) = if from < a.len() {
            (from, 0)
        } else {
            (a.len(), (from - a.len()).min(b.len()))
        };
        for part in [&a[a_from..], &b[b_from..]] {
            new_resampler.process(part, &mut |blk| {
                let k = (*discard).min(blk.len());
                *discard -= k;
                pending.extend_from_slice(&blk[k..]);
            });
        }
        self.resampler = new_resampler;
        self.out_rate = rate;
        self.segments.push_back(Segment {
            ring_start: switch_pos,
            src_start,
            ratio,
            delay: 0.0,
        });
        self.last_switch_pos = switch_pos;
        self.rate_changes += 1;
        self.shared
            .switch
            .store(pack_switch(rate, switch_pos), Ordering::Release);
    }

    /// The 24 kHz source position heard up to ring position `ring_pos`.
    fn heard_src(&self, ring_pos: u64) -> f64 {
        let mut heard = self.segments.front().map_or(0.0, |s| s.src_start);
        for (i, seg) in self.segments.iter().enumerate() {
            if seg.ring_start > ring_pos {
                break;
            }
            let frames = (ring_pos - seg.ring_start) as f64 - seg.delay;
            let mut src = seg.src_start + frames.max(0.0) / seg.ratio;
            if let Some(next) = self.segments.get(i + 1) {
                src = src.min(next.src_start);
            }
            heard = src;
        }
        heard
    }

    fn item_played_ms(item: &ItemSpan, heard_src: f64, src_written: u64) -> (u32, bool) {
        let end = item.src_end.unwrap_or(src_written) as f64;
        let start = item.src_start as f64;
        let played = (heard_src - start).clamp(0.0, (end - start).max(0.0));
        let done = item.src_end.is_some() && heard_src >= end;
        let ms = (played * 1000.0 / MODEL_AUDIO_RATE as f64).round() as u32;
        (ms, done)
    }

    /// Forget items fully heard and segments no longer needed.
    fn prune(&mut self) {
        let read = self.shared.read_pos.load(Ordering::Acquire);
        let heard = self.heard_src(read);
        while let Some(front) = self.items.front() {
            let (_, done) = Self::item_played_ms(front, heard, self.src_written);
            if done {
                self.items.pop_front();
            } else {
                break;
            }
        }
        while self.segments.len() > 1 && self.segments[1].ring_start <= read {
            self.segments.pop_front();
        }
    }

    /// Barge-in: drop all queued audio and make the next `pull` discard the ring. Returns
    /// the item that was playing (or queued) and how many ms of it were heard.
    pub fn interrupt(&mut self) -> Option<Interrupted> {
        let result = self
            .playing_item()
            .map(|(item_id, played_ms)| Interrupted { item_id, played_ms });
        self.flushes += 1;
        self.mouth.reset();
        self.shared
            .mouth_epoch
            .store(self.flushes as u32, Ordering::Release);
        self.pending_out.clear();
        self.pending_off = 0;
        self.hold.clear();
        self.resampler.reset();
        self.items.clear();
        self.pending_release = None;
        self.src_fed = self.src_written;
        let end = self.ring_written;
        self.segments.clear();
        self.recent.clear();
        self.discard_out = 0;
        self.segments.push_back(Segment {
            ring_start: end,
            src_start: self.src_fed as f64,
            ratio: self.out_rate as f64 / MODEL_AUDIO_RATE as f64,
            delay: self.resampler.delay_output_frames(),
        });
        if self.last_switch_pos > end {
            self.last_switch_pos = end;
            self.shared
                .switch
                .store(pack_switch(self.out_rate, end), Ordering::Release);
        }
        self.shared.released_to.store(end, Ordering::Release);
        self.shared.flush_to.store(end, Ordering::Release);
        result
    }

    /// The item being heard (or next to be heard) and the ms of it handed to the device.
    pub fn playing_item(&self) -> Option<(String, u32)> {
        let read = self.shared.read_pos.load(Ordering::Acquire);
        let heard = self.heard_src(read);
        self.items.iter().find_map(|it| {
            let (ms, done) = Self::item_played_ms(it, heard, self.src_written);
            (!done).then(|| (it.id.clone(), ms))
        })
    }

    /// True while any model audio is held, in the ring, or not yet played.
    pub fn is_active(&self) -> bool {
        !self.hold.is_empty() || self.pending_len() > 0 || self.unplayed_ring_frames() > 0
    }

    fn unplayed_ring_frames(&self) -> u64 {
        let read = self.shared.read_pos.load(Ordering::Acquire);
        let flush = self.shared.flush_to.load(Ordering::Acquire);
        let pushed = self.ring_written;
        pushed.saturating_sub(read.max(flush))
    }

    /// Counters and levels.
    pub fn stats(&self) -> PlaybackStats {
        let out_ms =
            (self.pending_len() as u64 + self.unplayed_ring_frames()) * 1000 / self.out_rate as u64;
        let held_ms = self.hold.len() as u64 * 1000 / MODEL_AUDIO_RATE as u64;
        PlaybackStats {
            buffered_ms: (out_ms + held_ms).min(u32::MAX as u64) as u32,
            held_samples: self.hold.len() as u64,
            frames_out: self.shared.frames_out.load(Ordering::Relaxed),
            underruns: self.shared.underruns.load(Ordering::Relaxed),
            overflow_samples: self.overflow,
            output_rate: self.out_rate,
            rate_changes: self.rate_changes,
            flushes: self.flushes,
        }
    }

    /// Filter delay of the playback resampler, in ms.
    pub fn algorithmic_delay_ms(&self) -> f64 {
        self.resampler.delay_ms()
    }
}

/// The reading end of the far-end reference (see [`PlaybackConsumer::reference_tap`]),
/// owned by the capture side.
pub struct ReferenceTap {
    ring: HeapCons<f32>,
    shared: Arc<Shared>,
}

impl ReferenceTap {
    /// The device rate of the reference frames (the rate `pull` was last called with).
    pub fn device_rate(&self) -> u32 {
        self.shared.device_rate.load(Ordering::Acquire)
    }

    /// Moves every reference frame played so far into `out` (appended); returns how many.
    pub fn drain_into(&mut self, out: &mut Vec<f32>) -> usize {
        let n = self.ring.occupied_len();
        let start = out.len();
        out.resize(start + n, 0.0);
        let got = self.ring.pop_slice(&mut out[start..]);
        out.truncate(start + got);
        got
    }

    /// Reference frames dropped because they were not drained in time.
    pub fn dropped(&self) -> u64 {
        self.shared.reference_dropped.load(Ordering::Relaxed)
    }
}

/// The audio-thread half. `Send`; `pull` never allocates, locks or blocks.
pub struct PlaybackConsumer {
    ring: HeapCons<f32>,
    shared: Arc<Shared>,
    read_pos: u64,
    playing: bool,
    /// Rate of the ring content at `read_pos`.
    content_rate: u32,
    /// A published switch not reached yet: (rate, ring position).
    next_switch: Option<(u32, u64)>,
    last_device_rate: u32,
    prebuffer_ms: u32,
    /// Linear interpolator state, used only while the content rate differs from the device.
    interp_prev: f32,
    interp_frac: f64,
    /// Far-end reference for an echo canceller: every frame handed to the device (mono).
    reference: Option<HeapProd<f32>>,
    mouth_frames: HeapCons<MouthFrame>,
    /// The flush count the queued mouth frames must carry to be current.
    mouth_epoch: u32,
    /// `played_ms` of the shape published last.
    mouth_played_ms: i64,
}

impl PlaybackConsumer {
    /// The mouth shape of what `pull` handed to the device last; the cell is read lock-free
    /// from any thread.
    pub fn mouth_cell(&self) -> Arc<MouthCell> {
        Arc::clone(&self.shared.mouth)
    }

    /// After a flush: the mouth closes and the played time starts again.
    fn start_mouth_epoch(&mut self, epoch: u32, latest: &mut Option<(MouthShape, i64)>) {
        self.mouth_epoch = epoch;
        self.mouth_played_ms = 0;
        *latest = Some((MouthShape::SILENT, 0));
    }

    /// Publishes the newest mouth frame whose ring position was handed out; drops frames
    /// of flushed audio. `produced`: model frames this pull handed out.
    fn update_mouth(&mut self, produced: usize) {
        let mut latest = None;
        let epoch = self.shared.mouth_epoch.load(Ordering::Acquire);
        if epoch > self.mouth_epoch {
            self.start_mouth_epoch(epoch, &mut latest);
        }
        while let Some(f) = self.mouth_frames.try_peek().copied() {
            if f.epoch < self.mouth_epoch {
                self.mouth_frames.skip(1);
                continue;
            }
            if f.epoch > self.mouth_epoch {
                // A frame made after a flush whose count this pull did not load yet.
                self.start_mouth_epoch(f.epoch, &mut latest);
            }
            if f.ring_pos > self.read_pos {
                break;
            }
            latest = Some((f.shape, f.played_ms));
            self.mouth_frames.skip(1);
        }
        if produced == 0 && latest.is_none() {
            // Nothing playing (idle, prebuffering or run dry): a closed mouth.
            latest = Some((MouthShape::SILENT, self.mouth_played_ms));
        }
        if let Some((shape, played_ms)) = latest {
            self.mouth_played_ms = played_ms;
            self.shared.mouth.publish(&shape, played_ms);
        }
    }

    /// Taps the far-end reference for an echo canceller: from now on every frame `pull`
    /// hands to the device (mono: the first channel, silence included) is also copied into
    /// a lock-free ring holding `capacity_ms` at the highest device rate. Call before the
    /// audio thread starts (it allocates the ring); `pull` itself only copies.
    pub fn reference_tap(&mut self, capacity_ms: u32) -> ReferenceTap {
        let capacity = (MAX_SAMPLE_RATE as u64 * capacity_ms.max(10) as u64 / 1000) as usize;
        let (prod, cons) = HeapRb::<f32>::new(capacity).split();
        self.reference = Some(prod);
        ReferenceTap {
            ring: cons,
            shared: Arc::clone(&self.shared),
        }
    }

    /// Fill `out` (exactly `out.len()` samples, `channels` interleaved; mono model audio is
    /// copied to every channel) and return the frames that carried model audio. Silence on
    /// underrun, before the prebuffer is met, and for any invalid argument.
    pub fn pull(&mut self, out: &mut [f32], channels: usize, sample_rate: u32) -> usize {
        if channels == 0 {
            out.fill(0.0);
            return 0;
        }
        let frames = out.len() / channels;
        if sample_rate != self.last_device_rate
            && (MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&sample_rate)
        {
            self.last_device_rate = sample_rate;
            self.shared
                .device_rate
                .store(sample_rate, Ordering::Release);
        }
        let device_rate = self.last_device_rate;

        // Barge-in: discard up to the published position, after a short fade-out of what was
        // playing (a hard cut clicks).
        let mut produced = 0;
        let flush_to = self.shared.flush_to.load(Ordering::Acquire);
        if flush_to > self.read_pos {
            let n = (flush_to - self.read_pos).min(self.ring.occupied_len() as u64) as usize;
            if self.playing {
                produced = self.fade_out(out, channels, frames.min(n), device_rate);
            }
            let skipped = self.ring.skip(n);
            self.read_pos += skipped as u64;
            self.playing = false;
            self.interp_frac = 0.0;
            self.interp_prev = 0.0;
        }
        self.load_switch();
        self.apply_switch();

        if !self.playing {
            let occupied = self.ring.occupied_len();
            let prebuffer = self.prebuffer_ms as u64 * self.content_rate as u64 / 1000;
            let released = self.shared.released_to.load(Ordering::Acquire);
            if occupied > 0 && (occupied as u64 >= prebuffer.max(1) || released > self.read_pos) {
                self.playing = true;
            }
        }

        if self.playing {
            while produced < frames {
                let n = if self.content_rate == device_rate {
                    self.copy_direct(&mut out[produced * channels..frames * channels], channels)
                } else {
                    self.copy_interpolated(
                        &mut out[produced * channels..frames * channels],
                        channels,
                        device_rate,
                    )
                };
                produced += n;
                if self.apply_switch() {
                    continue;
                }
                if n == 0 {
                    break;
                }
            }
            if produced < frames {
                // Ran dry. An underrun unless the current item's end was reached.
                self.playing = false;
                if self.shared.released_to.load(Ordering::Acquire) < self.read_pos {
                    self.shared.underruns.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        out[produced * channels..].fill(0.0);
        if let Some(reference) = self.reference.as_mut() {
            // What the device gets, silence included, so the reference keeps time with the
            // mic. A full ring (nobody draining) drops the rest: no allocation, no waiting.
            for frame in out.chunks_exact(channels) {
                if reference.try_push(frame[0]).is_err() {
                    self.shared
                        .reference_dropped
                        .fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
        }
        self.shared.read_pos.store(self.read_pos, Ordering::Release);
        self.update_mouth(produced);
        if produced > 0 {
            self.shared
                .frames_out
                .fetch_add(produced as u64, Ordering::Relaxed);
        }
        produced
    }

    /// Write up to [`FADE_OUT_MS`] of the ring's head with a linear ramp to silence; the
    /// caller discards those frames. Returns the frames written.
    fn fade_out(&self, out: &mut [f32], channels: usize, max: usize, device_rate: u32) -> usize {
        let len = (device_rate as usize * FADE_OUT_MS / 1000).min(max);
        let (a, b) = self.ring.as_slices();
        for (f, (frame, &s)) in out
            .chunks_exact_mut(channels)
            .zip(a.iter().chain(b.iter()))
            .take(len)
            .enumerate()
        {
            frame.fill(s * (1.0 - (f + 1) as f32 / len as f32));
        }
        len
    }

    /// Ring frames readable before the next rate switch.
    fn readable(&self) -> usize {
        let occupied = self.ring.occupied_len();
        match self.next_switch {
            Some((_, pos)) if pos > self.read_pos => occupied.min((pos - self.read_pos) as usize),
            _ => occupied,
        }
    }

    fn load_switch(&mut self) {
        let (rate, pos) = unpack_switch(self.shared.switch.load(Ordering::Acquire));
        if rate != self.content_rate || pos > self.read_pos {
            self.next_switch = Some((rate, pos));
        }
    }

    /// Adopt the published rate once its position is reached. True when a switch was taken.
    fn apply_switch(&mut self) -> bool {
        match self.next_switch {
            Some((rate, pos)) if pos <= self.read_pos => {
                self.next_switch = None;
                if rate != self.content_rate {
                    self.content_rate = rate;
                    self.interp_frac = 0.0;
                }
                true
            }
            _ => false,
        }
    }

    fn copy_direct(&mut self, out: &mut [f32], channels: usize) -> usize {
        let want = (out.len() / channels).min(self.readable());
        if want == 0 {
            return 0;
        }
        let (a, b) = self.ring.as_slices();
        let from_a = want.min(a.len());
        let from_b = want - from_a;
        let (out_a, out_b) = out.split_at_mut(from_a * channels);
        fan_out(&a[..from_a], out_a, channels);
        fan_out(&b[..from_b], &mut out_b[..from_b * channels], channels);
        if let Some(&last) = if from_b > 0 {
            b.get(from_b - 1)
        } else {
            a.get(from_a - 1)
        } {
            self.interp_prev = last;
        }
        let skipped = self.ring.skip(want);
        self.read_pos += skipped as u64;
        want
    }

    /// Play old-rate ring content at the device rate (only after a device-rate change).
    fn copy_interpolated(&mut self, out: &mut [f32], channels: usize, device_rate: u32) -> usize {
        let step = self.content_rate as f64 / device_rate as f64;
        let mut readable = self.readable();
        let mut written = 0;
        for frame in out.chunks_exact_mut(channels) {
            if readable == 0 {
                break;
            }
            let Some(&next) = self.ring.try_peek() else {
                break;
            };
            let v = self.interp_prev + (next - self.interp_prev) * self.interp_frac as f32;
            frame.fill(v);
            written += 1;
            self.interp_frac += step;
            while self.interp_frac >= 1.0 && readable > 0 {
                self.interp_frac -= 1.0;
                if let Some(s) = self.ring.try_pop() {
                    self.interp_prev = s;
                    self.read_pos += 1;
                    readable -= 1;
                }
            }
        }
        written
    }
}

#[inline]
fn fan_out(src: &[f32], out: &mut [f32], channels: usize) {
    match channels {
        1 => out.copy_from_slice(src),
        2 => {
            for (o, &s) in out.chunks_exact_mut(2).zip(src) {
                o[0] = s;
                o[1] = s;
            }
        }
        _ => {
            for (o, &s) in out.chunks_exact_mut(channels).zip(src) {
                o.fill(s);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| ((i as f64 * 0.1).sin() * 10_000.0) as i16)
            .collect()
    }

    #[test]
    fn rejects_bad_config() {
        let bad_rate = PlaybackConfig {
            output_rate: 7_000,
            ..Default::default()
        };
        assert!(playback_pipeline(bad_rate).is_err());
        let bad_hold = PlaybackConfig {
            max_hold_seconds: 0,
            ..Default::default()
        };
        assert!(playback_pipeline(bad_hold).is_err());
    }

    #[test]
    fn silence_before_any_audio() {
        let (_p, mut c) = playback_pipeline(PlaybackConfig::default()).unwrap();
        let mut out = vec![1.0; 512];
        assert_eq!(c.pull(&mut out, 2, 48_000), 0);
        assert!(out.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn short_item_plays_after_end() {
        let (mut p, mut c) = playback_pipeline(PlaybackConfig::default()).unwrap();
        p.push_pcm16("a", &tone(240)); // 10 ms < 80 ms prebuffer
        let mut out = vec![0.0; 960];
        assert_eq!(c.pull(&mut out, 1, 48_000), 0, "prebuffer holds it");
        p.end_item("a");
        assert!(c.pull(&mut out, 1, 48_000) > 0, "end of item releases it");
    }

    /// The mouth follows the pulled position, not the audio already received: 500 ms of
    /// silence then a loud tone, all pushed before the first pull.
    #[test]
    fn mouth_follows_what_was_pulled_and_a_flush_closes_it() {
        let (mut p, mut c) = playback_pipeline(PlaybackConfig::default()).unwrap();
        let cell = c.mouth_cell();
        let mut pcm = vec![0i16; 12_000];
        pcm.extend(tone(12_000));
        p.push_pcm16("a", &pcm);
        let mut out = vec![0.0; 480];
        let mut pulled = 0usize;
        let mut opened_at = None;
        // Less than all of it: without an end of item the resampler holds its last few ms.
        for _ in 0..200 {
            if pulled >= 46_000 {
                break;
            }
            p.pump();
            pulled += c.pull(&mut out, 1, 48_000);
            let (shape, played_ms) = cell.read();
            if pulled < 23_500 {
                assert!(
                    shape.level < 0.05,
                    "open at {pulled} before the tone: {shape:?}"
                );
            }
            if opened_at.is_none() && shape.level > 0.5 {
                opened_at = Some(pulled);
            }
            assert!(
                (played_ms - (pulled as i64 / 48)).abs() <= 15,
                "{played_ms} at {pulled}"
            );
        }
        assert!(pulled >= 46_000, "pulled {pulled}");
        let opened_at = opened_at.expect("the tone opened the mouth");
        // The tone reaches the device at 24000 frames (+ the filter delay): within 20 ms.
        assert!(
            (24_000..25_000).contains(&opened_at),
            "opened at {opened_at}"
        );
        p.interrupt();
        c.pull(&mut out, 1, 48_000);
        assert_eq!(cell.read(), (MouthShape::SILENT, 0));
    }

    /// A delta's audio is in the ring, pullable, before its mouth analysis runs.
    #[test]
    fn a_blocks_audio_is_pullable_before_its_mouth_analysis() {
        let (mut p, mut c) = playback_pipeline(PlaybackConfig {
            prebuffer_ms: 0,
            ..Default::default()
        })
        .unwrap();
        // Two pump blocks, both fitting in the ring's headroom (no pull in between).
        p.push_pcm16("a", &tone(2 * PUMP_BLOCK));
        let at = p.ring_written_at_analysis.clone();
        assert_eq!(at.len(), 2, "one analysis per block: {at:?}");
        assert!(at[0] > 0, "the first block's audio was in the ring: {at:?}");
        assert!(at[1] > at[0], "so was the second's: {at:?}");
        assert_eq!(
            at[1], p.ring_written,
            "nothing pending at the last analysis"
        );
        // With room in the ring, the resampler's pieces went straight into it.
        assert_eq!(p.pending_out.capacity(), 0, "nothing was staged");
        let mut out = vec![0.0; 4096];
        assert_eq!(c.pull(&mut out, 1, 48_000) as u64, p.ring_written);
    }

    /// What the ring cannot take waits, in order: the same audio comes out whether the
    /// ring had room or was drained a little at a time.
    #[test]
    fn a_full_ring_keeps_the_rest_in_order() {
        let cfg = PlaybackConfig {
            prebuffer_ms: 0,
            ..Default::default()
        };
        let pcm = tone(24_000);
        let (mut p, mut c) = playback_pipeline(cfg).unwrap();
        // Pulled in small pieces while pushed in one go: the ring fills and the rest waits.
        p.push_pcm16("a", &pcm);
        p.end_item("a");
        assert!(p.pending_len() > 0 || !p.hold.is_empty(), "the ring filled");
        let mut small = Vec::new();
        let mut out = vec![0.0; 100];
        for _ in 0..10_000 {
            let n = c.pull(&mut out, 1, 48_000);
            small.extend_from_slice(&out[..n]);
            p.pump();
            if n == 0 && !p.is_active() {
                break;
            }
        }
        // Pushed a block at a time with the ring drained in between: no staging.
        let (mut p, mut c) = playback_pipeline(cfg).unwrap();
        let mut big = Vec::new();
        let mut out = vec![0.0; 4096];
        for block in pcm.chunks(PUMP_BLOCK) {
            p.push_pcm16("a", block);
            let n = c.pull(&mut out, 1, 48_000);
            big.extend_from_slice(&out[..n]);
        }
        p.end_item("a");
        loop {
            let n = c.pull(&mut out, 1, 48_000);
            big.extend_from_slice(&out[..n]);
            p.pump();
            if n == 0 && !p.is_active() {
                break;
            }
        }
        assert!(small.len() >= 48_000, "all of it: {}", small.len());
        assert_eq!(small.len(), big.len());
        assert!(small == big, "the same samples in the same order");
    }

    #[test]
    fn halves_are_send() {
        fn assert_send<T: Send>() {}
        assert_send::<PlaybackProducer>();
        assert_send::<PlaybackConsumer>();
    }

    #[test]
    fn zero_channels_is_harmless() {
        let (_p, mut c) = playback_pipeline(PlaybackConfig::default()).unwrap();
        let mut out = vec![1.0; 7];
        assert_eq!(c.pull(&mut out, 0, 48_000), 0);
        assert!(out.iter().all(|&v| v == 0.0));
    }
}
