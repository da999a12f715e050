// MicrophoneCapture driven through the stub's simulated microphone and clock: every frame read
// once across the clip's wrap, a stalled or unplugged device reported once and recovered,
// device changes restart it, pause/resume never re-sends old audio, and the permission is asked
// once with a denial reported once and nothing polled per frame.
#if RV_MONO_TESTS
using System;
using System.Collections.Generic;
using NUnit.Framework;
using UnityEngine;

namespace RealtimeVoice.Tests
{
    /// <summary>A permission the test answers; counts how often it is asked and read.</summary>
    public sealed class FakePermission : IMicrophonePermission
    {
        public bool Granted;
        public bool Answers = true;   // calls back at once (Android 2020.2+, iOS) or never (Android 2019)
        public int Requests;
        public int Reads;
        public bool IsGranted { get { Reads++; return Granted; } }
        public bool CallsBack { get { return Answers; } }
        public void Request(Action<bool> done)
        {
            Requests++;
            if (Answers) done(Granted);
        }
    }

    [TestFixture]
    public static class MicrophoneCaptureTests
    {
        private const int Rate = 48000;

        /// <summary>Records what the capture hands on.</summary>
        private sealed class Sink
        {
            public readonly List<float> Samples = new List<float>();
            public int Calls;
            public int Push(float[] x, int frames, int channels, int rate)
            {
                Calls++;
                Assert.AreEqual(Rate, rate, "rate");
                for (int i = 0; i < frames * channels; i++) Samples.Add(x[i]);
                return 0;
            }
        }

        private static void FeedRamp(ref int next, int frames)
        {
            var buf = new float[frames];
            for (int i = 0; i < frames; i++) buf[i] = next++;
            Microphone.Feed(buf);
        }

        private static MicrophoneCapture Started(double now, FakePermission permission = null)
        {
            Microphone.Reset();
            Microphone.SimulatedChannels = 1;
            var c = new MicrophoneCapture(permission ?? new FakePermission { Granted = true });
            c.Start(null, now);
            return c;
        }

        [Test]
        public static void EveryFrameIsSentOnceAcrossTheClipWrap()
        {
            var c = Started(0);
            var sink = new Sink();
            int next = 0;
            double t = 0;
            // 5 s through a 2 s clip: the write position wraps twice.
            for (int frame = 0; frame < 500; frame++)
            {
                FeedRamp(ref next, 480);
                t += 0.01;
                c.Pump(sink.Push, true, t);
            }
            Assert.AreEqual(MicrophoneStatus.Running, c.Status);
            Assert.AreEqual(next, sink.Samples.Count, "every frame sent (no partial chunk left: 480 = 10 ms)");
            for (int i = 0; i < sink.Samples.Count; i++)
                if (sink.Samples[i] != i) Assert.Fail("gap or repeat at " + i + ": " + sink.Samples[i]);
            Assert.IsTrue(c.Level > 0f, "level measured");
            c.Stop();
        }

        [Test]
        public static void MutedAndOutsideTurnsAudioIsSkippedNotSentLate()
        {
            var c = Started(0);
            var sink = new Sink();
            int next = 0;
            FeedRamp(ref next, 4800);
            c.Muted = true;
            Assert.AreEqual(0, c.Pump(sink.Push, true, 0.1), "muted: nothing sent");
            c.Muted = false;
            FeedRamp(ref next, 480);
            Assert.AreEqual(0, c.Pump(sink.Push, false, 0.11), "outside a turn: nothing sent");
            FeedRamp(ref next, 480);
            Assert.AreEqual(480, c.Pump(sink.Push, true, 0.12), "only the new 10 ms");
            Assert.AreEqual(5280f, sink.Samples[0], "the first sample sent is the one after the skipped audio");
        }

        [Test]
        public static void StalledMicIsReportedOnceRetriedAndRecovers()
        {
            var c = Started(0);
            var problems = new List<string>();
            var statuses = new List<MicrophoneStatus>();
            c.Problem += (code, message) => problems.Add(code);
            c.StatusChanged += s => statuses.Add(s);
            var sink = new Sink();
            int next = 0;
            FeedRamp(ref next, 480);
            c.Pump(sink.Push, true, 0.1);
            // The device stops advancing (switched to another app, driver hiccup).
            c.Pump(sink.Push, true, 0.6);
            Assert.AreEqual(MicrophoneStatus.Running, c.Status, "half a second without samples is not a stall yet");
            c.Pump(sink.Push, true, 0.1 + MicrophoneCapture.StallSeconds + 0.05);
            Assert.AreEqual(MicrophoneStatus.Stalled, c.Status, "stalled after StallSeconds");
            Assert.AreEqual(new[] { "microphone_stalled" }, problems.ToArray(), "reported once");
            int starts = Microphone.StartCount;
            // Retries open the device (RetrySeconds after the stall), and give it FirstSampleSeconds
            // to record before closing it for the next retry: opened at ~2.2 s and ~6.2 s.
            for (double t = 1.2; t < 8.0; t += 0.05) c.Pump(sink.Push, true, t);
            Assert.AreEqual(1, problems.Count, "not reported again while retrying");
            Assert.IsTrue(Microphone.StartCount >= starts + 2, "retried about every RetrySeconds: " + (Microphone.StartCount - starts));
            Assert.IsTrue(Microphone.StartCount <= starts + 3, "not every frame: " + (Microphone.StartCount - starts));
            // A retry opened the device; now it records again.
            Assert.IsTrue(Microphone.IsRecording(null), "device reopened by a retry");
            int sentBefore = sink.Samples.Count;
            FeedRamp(ref next, 480);
            c.Pump(sink.Push, true, 8.0);
            Assert.AreEqual(MicrophoneStatus.Running, c.Status, "recovered");
            Assert.AreEqual(sentBefore + 480, sink.Samples.Count, "audio flows again");
            CollectionAssert.AreEqual(new[] { MicrophoneStatus.Stalled, MicrophoneStatus.Running }, statuses.ToArray());
        }

        [Test]
        public static void ADeviceSlowToStartIsNotAStall()
        {
            var c = Started(0);
            var sink = new Sink();
            for (double t = 0; t < MicrophoneCapture.FirstSampleSeconds - 0.1; t += 0.1) c.Pump(sink.Push, true, t);
            Assert.AreEqual(MicrophoneStatus.Running, c.Status, "no sample yet, within the start-up grace");
            int next = 0;
            FeedRamp(ref next, 480);
            c.Pump(sink.Push, true, MicrophoneCapture.FirstSampleSeconds - 0.05);
            Assert.AreEqual(480, sink.Samples.Count);
            c.Pump(sink.Push, true, MicrophoneCapture.FirstSampleSeconds + MicrophoneCapture.StallSeconds);
            Assert.AreEqual(MicrophoneStatus.Stalled, c.Status, "once it has recorded, StallSeconds without samples is a stall");
        }

        [Test]
        public static void UnpluggedMicStallsAtOnceAndComesBackWithADevice()
        {
            var c = Started(0);
            var problems = new List<string>();
            c.Problem += (code, message) => problems.Add(code);
            var sink = new Sink();
            int next = 0;
            FeedRamp(ref next, 480);
            c.Pump(sink.Push, true, 0.01);
            Microphone.Unplug();
            c.Pump(sink.Push, true, 0.02);
            Assert.AreEqual(MicrophoneStatus.Stalled, c.Status, "a device that stops recording is stalled at once");
            for (double t = 0.03; t < 4; t += 0.1) c.Pump(sink.Push, true, t);
            Assert.IsFalse(Microphone.IsRecording(null), "nothing to record from");
            Assert.AreEqual(1, problems.Count, "reported once");
            Microphone.devices = new[] { "USB Headset" }; // plugged back (another device)
            c.Pump(sink.Push, true, 5.0);
            Assert.IsTrue(Microphone.IsRecording(null), "the retry opened the new device");
            Assert.IsNull(Microphone.LastStartedDevice, "the default device (the requested one is gone)");
            FeedRamp(ref next, 960);
            Assert.AreEqual(960, c.Pump(sink.Push, true, 5.05), "audio from the new device");
            Assert.AreEqual(MicrophoneStatus.Running, c.Status);
            Microphone.Reset();
        }

        [Test]
        public static void DeviceChangeRestartsTheMicWithoutResendingAudio()
        {
            var c = Started(0);
            var sink = new Sink();
            int next = 0;
            FeedRamp(ref next, 960);
            c.Pump(sink.Push, true, 0.02);
            FeedRamp(ref next, 480); // recorded, not read yet: lost with the old device, never sent late
            int starts = Microphone.StartCount;
            c.Restart(0.03);
            Assert.AreEqual(starts + 1, Microphone.StartCount, "Microphone.Start again");
            FeedRamp(ref next, 480);
            c.Pump(sink.Push, true, 0.04);
            Assert.AreEqual(960 + 480, sink.Samples.Count, "only the new device's audio after the restart");
            Assert.AreEqual(1440f, sink.Samples[960], "first sample from the new clip");
            c.SetDevice("Stub Microphone", 0.05);
            Assert.AreEqual("Stub Microphone", Microphone.LastStartedDevice, "device picker switches at once");
        }

        [Test]
        public static void PauseAndResumeNeverResendOldAudio()
        {
            var c = Started(0);
            var sink = new Sink();
            int next = 0;
            FeedRamp(ref next, 4800);
            c.Pump(sink.Push, true, 0.1);
            FeedRamp(ref next, 960); // said just before the pause, never read
            c.SetPaused(true, 0.12);
            Assert.AreEqual(MicrophoneStatus.Paused, c.Status);
            Assert.IsFalse(Microphone.IsRecording(null), "the mic ends while paused");
            Assert.AreEqual(0, c.Pump(sink.Push, true, 5.0), "nothing while paused");
            c.SetPaused(false, 30.0); // headset back on half a minute later
            Assert.AreEqual(MicrophoneStatus.Running, c.Status, "the mic comes back");
            Assert.IsTrue(Microphone.IsRecording(null), "recording again");
            FeedRamp(ref next, 480);
            c.Pump(sink.Push, true, 30.01);
            Assert.AreEqual(4800 + 480, sink.Samples.Count, "what was said before the pause is not sent");
            Assert.AreEqual(5760f, sink.Samples[4800], "the first sample after resume is new audio");
            c.Pump(sink.Push, true, 30.02 + MicrophoneCapture.StallSeconds / 2);
            Assert.AreEqual(MicrophoneStatus.Running, c.Status, "the pause does not count as a stall");
        }

        [Test]
        public static void DeniedPermissionIsReportedOnceAndNeverPolled()
        {
            Microphone.Reset();
            var permission = new FakePermission { Granted = false };
            var c = new MicrophoneCapture(permission);
            var problems = new List<string>();
            c.Problem += (code, message) => problems.Add(code);
            c.Start(null, 0);
            Assert.AreEqual(MicrophoneStatus.PermissionDenied, c.Status);
            Assert.AreEqual(1, permission.Requests, "asked once");
            Assert.AreEqual(new[] { "microphone_permission_denied" }, problems.ToArray(), "reported once");
            int reads = permission.Reads;
            var sink = new Sink();
            for (int i = 0; i < 300; i++) c.Pump(sink.Push, true, i * 0.016);
            Assert.AreEqual(reads, permission.Reads, "no per-frame polling of the permission");
            Assert.AreEqual(0, Microphone.StartCount, "the mic is never started without the permission");
            c.Start(null, 5); // a reconnect
            Assert.AreEqual(1, permission.Requests, "not asked again");
            Assert.AreEqual(1, problems.Count, "not reported again");
            // The user allows it in the system settings and comes back to the app.
            permission.Granted = true;
            c.OnFocus(6);
            Assert.AreEqual(MicrophoneStatus.Running, c.Status, "starts once allowed");
            Assert.AreEqual(1, Microphone.StartCount);
        }

        [Test]
        public static void PermissionWithoutCallbackIsReadWhenTheAppGetsFocusBack()
        {
            Microphone.Reset();
            var permission = new FakePermission { Granted = false, Answers = false }; // Android before 2020.2
            var c = new MicrophoneCapture(permission);
            var problems = new List<string>();
            c.Problem += (code, message) => problems.Add(code);
            c.Start(null, 0);
            Assert.AreEqual(MicrophoneStatus.WaitingForPermission, c.Status);
            int reads = permission.Reads;
            for (int i = 0; i < 100; i++) c.Pump(null, true, i * 0.016);
            Assert.AreEqual(reads, permission.Reads, "no polling while the prompt is up");
            c.OnFocus(2); // the prompt closed: refused
            Assert.AreEqual(MicrophoneStatus.PermissionDenied, c.Status);
            Assert.AreEqual(1, problems.Count, "denial reported once");
            c.OnFocus(3);
            Assert.AreEqual(1, problems.Count, "still once");
        }

        [Test]
        public static void GrantedPermissionStartsTheMic()
        {
            Microphone.Reset();
            // The user taps Allow: the answer arrives with the permission now granted.
            var granting = new GrantingPermission();
            var c = new MicrophoneCapture(granting);
            c.Start(null, 0);
            Assert.AreEqual(1, granting.Requests);
            Assert.AreEqual(MicrophoneStatus.Running, c.Status);
            Assert.AreEqual(1, Microphone.StartCount);
        }

        private sealed class GrantingPermission : IMicrophonePermission
        {
            private bool _granted;
            public int Requests;
            public bool IsGranted { get { return _granted; } }
            public bool CallsBack { get { return true; } }
            public void Request(Action<bool> done)
            {
                Requests++;
                _granted = true;
                done(true);
            }
        }
    }
}
#endif
