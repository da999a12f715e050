// Read-position bookkeeping for Unity's looping microphone clip. Pure C# so the wrap-around
// logic is tested outside Unity: every frame the mic writes is read exactly once, in order.
using System;

namespace RealtimeVoice
{
    /// <summary>
    /// Tracks what has been read from a looping ring of <see cref="ClipFrames"/> frames that a
    /// writer fills (Unity's Microphone clip; its write position is Microphone.GetPosition).
    /// Reads happen in fixed-size chunks so the caller can reuse one buffer (no allocation).
    /// </summary>
    public sealed class MicRingReader
    {
        private int _readPos;

        /// <summary>Frames in the ring.</summary>
        public int ClipFrames { get; }

        /// <summary>Frames per read.</summary>
        public int ChunkFrames { get; }

        /// <summary>Where the next chunk starts.</summary>
        public int ReadPosition { get { return _readPos; } }

        /// <summary>Creates a reader; the writer is assumed to start at frame 0.</summary>
        public MicRingReader(int clipFrames, int chunkFrames)
        {
            if (clipFrames <= 0) throw new ArgumentOutOfRangeException("clipFrames");
            if (chunkFrames <= 0 || chunkFrames >= clipFrames) throw new ArgumentOutOfRangeException("chunkFrames");
            ClipFrames = clipFrames;
            ChunkFrames = chunkFrames;
        }

        /// <summary>Frames written but not yet read, given the writer's position.</summary>
        public int Available(int writePosition)
        {
            if (writePosition < 0 || writePosition >= ClipFrames) return 0;
            int n = writePosition - _readPos;
            return n < 0 ? n + ClipFrames : n;
        }

        /// <summary>
        /// True when a whole chunk is ready; <paramref name="start"/> is its first frame (the chunk
        /// may run past the end of the ring: Unity's AudioClip.GetData wraps to the start). Call
        /// <see cref="Advance"/> after reading it.
        /// </summary>
        public bool TryNextChunk(int writePosition, out int start)
        {
            start = _readPos;
            return Available(writePosition) >= ChunkFrames;
        }

        /// <summary>Marks one chunk as read.</summary>
        public void Advance()
        {
            _readPos += ChunkFrames;
            if (_readPos >= ClipFrames) _readPos -= ClipFrames;
        }

        /// <summary>Skips to the writer (after a stall longer than the ring, or a device restart).</summary>
        public void Reset(int writePosition)
        {
            _readPos = writePosition >= 0 && writePosition < ClipFrames ? writePosition : 0;
        }
    }
}
