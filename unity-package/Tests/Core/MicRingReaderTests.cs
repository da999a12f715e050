#if RV_MONO_TESTS || UNITY_INCLUDE_TESTS
using System;
using NUnit.Framework;

namespace RealtimeVoice.Tests
{
    [TestFixture]
    public static class MicRingReaderTests
    {
        [Test]
        public static void EveryWrittenFrameIsReadOnceInOrderAcrossWraps()
        {
            const int clip = 1000, chunk = 96; // 96 does not divide 1000: chunks straddle the loop point
            var ring = new float[clip];
            var reader = new MicRingReader(clip, chunk);
            var rng = new Random(7);
            int writePos = 0;
            long written = 0, expectedNext = 0, read = 0;
            var buf = new float[chunk];
            for (int step = 0; step < 5000; step++)
            {
                // The writer never laps the reader by more than the ring minus one chunk.
                int backlog = reader.Available(writePos);
                int n = rng.Next(0, clip - chunk - backlog);
                for (int i = 0; i < n; i++)
                {
                    ring[writePos] = written++;
                    writePos = (writePos + 1) % clip;
                }
                int start;
                while (reader.TryNextChunk(writePos, out start))
                {
                    for (int i = 0; i < chunk; i++) buf[i] = ring[(start + i) % clip]; // GetData's wrap
                    for (int i = 0; i < chunk; i++)
                    {
                        if (buf[i] != expectedNext)
                            throw new AssertionException("gap or repeat: expected frame " + expectedNext + ", read " + buf[i]);
                        expectedNext++;
                    }
                    read += chunk;
                    reader.Advance();
                }
                Assert.IsTrue(reader.Available(writePos) < chunk, "only a partial chunk is left behind");
            }
            Assert.IsTrue(read > 100000, "many wraps exercised: " + read);
            Assert.AreEqual(written - read, (long)reader.Available(writePos), "unread remainder accounted");
        }

        [Test]
        public static void AvailableHandlesWrapAndBadPositions()
        {
            var reader = new MicRingReader(100, 10);
            Assert.AreEqual(0, reader.Available(0), "empty");
            Assert.AreEqual(95, reader.Available(95), "before wrap");
            for (int i = 0; i < 9; i++) reader.Advance();
            Assert.AreEqual(90, reader.ReadPosition, "advanced");
            Assert.AreEqual(15, reader.Available(5), "after the writer wrapped");
            reader.Advance();
            Assert.AreEqual(0, reader.ReadPosition, "read position wraps");
            Assert.AreEqual(0, reader.Available(-1), "negative position ignored");
            Assert.AreEqual(0, reader.Available(100), "out-of-range position ignored");
            reader.Reset(42);
            Assert.AreEqual(42, reader.ReadPosition, "reset to the writer");
            Assert.Catch<ArgumentOutOfRangeException>(() => new MicRingReader(10, 10), "chunk must be smaller than the ring");
        }
    }
}
#endif
