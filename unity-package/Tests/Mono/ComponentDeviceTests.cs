// The component in what real Unity does to it: device changes, pause, permissions, the user's
// own AudioSource, scripts that connect from Start or while the component is disabled, the
// UnityEvents, the Input System push-to-talk. Driven through the stub, against the native
// library (sessions dial a closed loopback port: no server needed).
#if RV_MONO_TESTS
using System;
using System.Collections.Generic;
using System.Reflection;
using System.Threading.Tasks;
using NUnit.Framework;
using UnityEngine;
using Component = RealtimeVoice.RealtimeVoice;

namespace RealtimeVoice.Tests
{
    [TestFixture]
    public static class ComponentDeviceTests
    {
        internal const string ClosedPortUrl = "ws://127.0.0.1:9/v1/realtime";

        internal static void SetField(object target, string name, object value)
        {
            var f = target.GetType().GetField(name, BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public);
            if (f == null) throw new AssertionException("no field " + name);
            f.SetValue(target, value);
        }

        /// <summary>A component that does not connect by itself, on a closed port.</summary>
        internal static Component Voice(GameObject go)
        {
            var v = go.AddComponent<Component>();
            SetField(v, "connectOnStart", false);
            v.Url = ClosedPortUrl;
            return v;
        }

        [SetUp]
        public static void ResetDevices()
        {
            Microphone.Reset();
            Microphone.SimulatedChannels = 1;
            AudioSettings.outputSampleRate = 48000;
            Time.realtimeSinceStartup = 0;
        }

        [Test]
        public static void VoicePlaysOnAnOwnedChildSourceAndLeavesTheUsersAlone()
        {
            var go = new GameObject("npc");
            var user = go.AddComponent<AudioSource>();
            var userClip = AudioClip.Create("footsteps", 4800, 1, 48000, false);
            var oneShot = AudioClip.Create("ding", 480, 1, 48000, false);
            user.clip = userClip;
            user.loop = false;
            user.volume = 0.3f;
            user.spatialBlend = 0.7f;
            user.PlayOneShot(oneShot);
            var v = Voice(go);
            var mixer = new UnityEngine.Audio.AudioMixerGroup();
            SetField(v, "outputMixerGroup", mixer);
            SetField(v, "spatialBlend", 1f);
            try
            {
                v.enabled = false;
                v.enabled = true; // the inspector settings apply at enable
                v.Connect();
                AudioSettings.SimulateConfigurationChange(44100);
                v.Disconnect();

                var own = v.OutputSource;
                Assert.IsTrue(own != null && !ReferenceEquals(own, user), "a source of its own");
                Assert.IsTrue(ReferenceEquals(own.transform.parent, go.transform), "on a child of the component's GameObject");
                Assert.IsTrue((own.gameObject.hideFlags & HideFlags.DontSave) != 0, "never saved into the scene");
                Assert.IsTrue(own.spatializePostEffects, "spatializer plugins keep the voice 3D");
                Assert.AreSame(mixer, own.outputAudioMixerGroup, "the mixer group field");
                Assert.AreEqual(1f, own.spatialBlend, "the spatial blend field");
                Assert.IsTrue(own.isPlaying && own.loop, "the voice source runs");

                Assert.AreSame(userClip, user.clip, "the user's clip");
                Assert.IsFalse(user.loop, "the user's loop setting");
                Assert.AreEqual(0.3f, user.volume, "the user's volume");
                Assert.AreEqual(0.7f, user.spatialBlend, "the user's spatial blend");
                Assert.IsFalse(user.isPlaying, "never started by the component");
                Assert.AreEqual(0, user.PlayCount, "never played by the component");
                CollectionAssert.AreEqual(new[] { oneShot }, user.OneShots, "the user's one-shots");
            }
            finally
            {
                UnityEngine.Object.Destroy(go);
            }
        }

        [Test]
        public static void ClipsItMadeAreDestroyedWithIt()
        {
            var go = new GameObject("voice");
            var v = Voice(go);
            try
            {
                var first = v.OutputSource.clip;
                var child = v.OutputSource.gameObject;
                AudioSettings.SimulateConfigurationChange(44100);
                var second = v.OutputSource.clip;
                Assert.IsTrue(first.IsDestroyedForTests, "the clip at the old rate is destroyed when replaced");
                Assert.AreEqual(44100, second.frequency, "a clip at the new rate");
                UnityEngine.Object.Destroy(go);
                Assert.IsTrue(second.IsDestroyedForTests, "the last clip is destroyed with the component");
                Assert.IsTrue(child.IsDestroyedForTests, "and the child it played from");
            }
            finally
            {
                UnityEngine.Object.Destroy(go);
                AudioSettings.outputSampleRate = 48000;
            }
        }

        [Test]
        public static void AudioConfigurationChangeRestartsMicAndPlayback()
        {
            var go = new GameObject("voice");
            var v = Voice(go);
            try
            {
                v.Connect();
                Assert.IsNotNull(v.Session, "session");
                Assert.AreEqual(MicrophoneStatus.Running, v.MicrophoneStatus, "mic started on connect");
                int micStarts = Microphone.StartCount;
                int plays = v.OutputSource.PlayCount;
                AudioSettings.SimulateConfigurationChange(44100); // Bluetooth headset connected
                Assert.AreEqual(micStarts + 1, Microphone.StartCount, "the microphone restarted");
                Assert.AreEqual(plays + 1, v.OutputSource.PlayCount, "playback restarted");
                Assert.AreEqual(44100, v.Output.SampleRate, "the audio thread resamples to the new rate");
                Assert.IsTrue(v.Output.enabled, "the filter is attached again");
            }
            finally
            {
                UnityEngine.Object.Destroy(go);
                AudioSettings.outputSampleRate = 48000;
            }
        }

        [Test]
        public static void StalledMicBecomesAnErrorEventTheUserSeesAndRecovers()
        {
            var go = new GameObject("voice");
            var v = Voice(go);
            var errors = new List<string>();
            var statuses = new List<MicrophoneStatus>();
            v.onError.AddListener((code, message, fatal) => errors.Add(code + (fatal ? " fatal" : "")));
            v.onMicrophoneStatusChanged.AddListener(s => statuses.Add(s));
            try
            {
                v.Connect();
                Microphone.Unplug();
                Time.realtimeSinceStartup = 0.1f;
                v.InvokeMessage("Update");
                Assert.AreEqual(MicrophoneStatus.Stalled, v.MicrophoneStatus);
                Assert.AreEqual(1, errors.FindAll(e => e == "microphone_stalled").Count, "one non-fatal error event");
                for (int i = 0; i < 30; i++)
                {
                    Time.realtimeSinceStartup += 0.1f;
                    v.InvokeMessage("Update");
                }
                Assert.AreEqual(1, errors.FindAll(e => e.StartsWith("microphone_stalled")).Count, "not repeated");
                Microphone.devices = new[] { "Stub Microphone" };
                Time.realtimeSinceStartup += 1.1f;
                v.InvokeMessage("Update"); // the retry reopens it
                Microphone.Feed(new float[480]);
                Time.realtimeSinceStartup += 0.01f;
                v.InvokeMessage("Update");
                Assert.AreEqual(MicrophoneStatus.Running, v.MicrophoneStatus, "recovered when a device returns");
                Assert.Contains(MicrophoneStatus.Running, statuses, "recovery is an event too");
            }
            finally
            {
                UnityEngine.Object.Destroy(go);
                Microphone.Reset();
            }
        }

        [Test]
        public static void PauseAndResumeBringTheMicAndPlaybackBack()
        {
            var go = new GameObject("voice");
            var v = Voice(go);
            try
            {
                v.Connect();
                v.InvokeMessage("OnApplicationPause", true);
                Assert.AreEqual(MicrophoneStatus.Paused, v.MicrophoneStatus);
                Assert.IsFalse(Microphone.IsRecording(null), "mic ended while paused");
                v.OutputSource.Stop(); // what the platform does to audio while paused
                v.InvokeMessage("OnApplicationPause", false);
                Assert.AreEqual(MicrophoneStatus.Running, v.MicrophoneStatus, "mic back");
                Assert.IsTrue(v.OutputSource.isPlaying, "playback back");
            }
            finally
            {
                UnityEngine.Object.Destroy(go);
            }
        }

        [Test]
        public static void DeniedPermissionIsReportedOnceThroughStateAndEvent()
        {
            var go = new GameObject("voice");
            var v = Voice(go);
            var errors = new List<string>();
            var statuses = new List<MicrophoneStatus>();
            var permission = new FakePermission { Granted = false };
            v.MicrophonePermission = permission;
            v.onError.AddListener((code, message, fatal) => errors.Add(code));
            v.onMicrophoneStatusChanged.AddListener(s => statuses.Add(s));
            try
            {
                v.Connect();
                for (int i = 0; i < 100; i++) v.InvokeMessage("Update");
                v.Connect(); // reconnect: not asked or reported again
                for (int i = 0; i < 100; i++) v.InvokeMessage("Update");
                Assert.AreEqual(MicrophoneStatus.PermissionDenied, v.MicrophoneStatus, "state");
                Assert.AreEqual(1, errors.FindAll(e => e == "microphone_permission_denied").Count, "one event");
                Assert.AreEqual(1, permission.Requests, "asked once");
                Assert.IsTrue(permission.Reads <= 4, "read on connect only, never per frame: " + permission.Reads);
                Assert.AreEqual(0, Microphone.StartCount, "never recorded");
                Assert.IsNotNull(v.Session, "the conversation goes on without the mic (text)");
            }
            finally
            {
                UnityEngine.Object.Destroy(go);
            }
        }

        [Test]
        public static void ConnectOnADisabledComponentWaitsForEnableAndConnectsOnce()
        {
            var go = new GameObject("voice");
            var v = Voice(go);
            int before = Native.SessionHandle.LiveCount;
            try
            {
                v.enabled = false;
                var task = v.ConnectAsync();
                Assert.IsTrue(task.IsCompleted, "returns at once");
                Assert.IsNull(v.Session, "no session while disabled");
                Assert.AreEqual(before, Native.SessionHandle.LiveCount, "no native session left behind");
                v.Connect(); // asked twice while disabled
                v.enabled = true;
                v.InvokeMessage("Update");
                v.InvokeMessage("Update");
                Assert.IsNotNull(v.Session, "connected once enabled");
                Assert.AreEqual(before + 1, Native.SessionHandle.LiveCount, "exactly one session");
            }
            finally
            {
                UnityEngine.Object.Destroy(go);
            }
            Wait.Until(() => Native.SessionHandle.LiveCount == before, null, 5000, "the session is released with the component");
        }

        [Test]
        public static void ProviderSetInAnotherScriptsStartIsUsedAndNothingConnectsTwice()
        {
            var go = new GameObject("voice");
            var v = go.AddComponent<Component>(); // connectOnStart
            v.Url = ClosedPortUrl;
            int before = Native.SessionHandle.LiveCount;
            int calls = 0;
            var pending = new List<TaskCompletionSource<string>>();
            try
            {
                v.InvokeMessage("Start");
                // Another script's Start, after ours:
                v.ClientSecretProvider = () =>
                {
                    calls++;
                    var tcs = new TaskCompletionSource<string>();
                    pending.Add(tcs);
                    return tcs.Task;
                };
                v.InvokeMessage("Update"); // the deferred connect
                Assert.AreEqual(1, calls, "the late provider was used");
                v.InvokeMessage("Update");
                Assert.AreEqual(1, calls, "one connect");
                // Disabled while the token is on its way: the token arrives, nothing is created.
                v.enabled = false;
                pending[0].SetResult("ek_late");
                Assert.IsNull(v.Session, "no session for a disabled component");
                Assert.AreEqual(before, Native.SessionHandle.LiveCount, "nothing leaked");
                v.enabled = true;
                v.InvokeMessage("Update");
                Assert.AreEqual(2, calls, "re-enabled: a new connect");
                v.Connect(); // and one more while the second token is pending
                pending[1].SetResult("ek_stale"); // superseded: ignored
                pending[2].SetResult("ek_current");
                Assert.IsNotNull(v.Session, "connected");
                Assert.AreEqual(before + 1, Native.SessionHandle.LiveCount, "one session, not two");
            }
            finally
            {
                UnityEngine.Object.Destroy(go);
            }
        }

        [Test]
        public static void AHandlerThatDisablesTheComponentMidConnectLeavesNoSession()
        {
            var go = new GameObject("voice");
            var v = Voice(go);
            int before = Native.SessionHandle.LiveCount;
            try
            {
                v.SessionCreated += s => v.enabled = false;
                v.Connect();
                Assert.IsNull(v.Session, "no session kept");
                Assert.AreEqual(before, Native.SessionHandle.LiveCount, "the half-made session was destroyed");
            }
            finally
            {
                UnityEngine.Object.Destroy(go);
            }
        }

        [Test]
        public static void SessionEventsReachTheUnityEvents()
        {
            var go = new GameObject("voice");
            var v = Voice(go);
            var seen = new List<string>();
            v.onReady.AddListener(id => seen.Add("ready " + id));
            v.onSpeechStarted.AddListener(() => seen.Add("speech started"));
            v.onSpeechStopped.AddListener(() => seen.Add("speech stopped"));
            v.onResponseStarted.AddListener(id => seen.Add("response " + id));
            v.onResponseDone.AddListener((id, status) => seen.Add("done " + id + " " + status));
            v.onInterrupted.AddListener((item, ms) => seen.Add("interrupted " + item + " " + ms));
            try
            {
                v.Connect();
                var s = v.Session;
                s.DispatchEvent("{\"type\":\"session_ready\",\"session_id\":\"sess_1\"}");
                s.DispatchEvent("{\"type\":\"speech_started\"}");
                s.DispatchEvent("{\"type\":\"speech_stopped\"}");
                s.DispatchEvent("{\"type\":\"response_started\",\"response_id\":\"resp_1\"}");
                s.DispatchEvent("{\"type\":\"audio_interrupted\",\"item_id\":\"item_1\",\"played_ms\":420}");
                s.DispatchEvent("{\"type\":\"response_done\",\"response_id\":\"resp_1\",\"status\":\"cancelled\"}");
                CollectionAssert.AreEqual(new[] { "ready sess_1", "speech started", "speech stopped", "response resp_1",
                                                  "interrupted item_1 420", "done resp_1 cancelled" }, seen);
            }
            finally
            {
                UnityEngine.Object.Destroy(go);
            }
        }

        [Test]
        public static void MuteAndDevicePickerActAtOnce()
        {
            var go = new GameObject("voice");
            var v = Voice(go);
            try
            {
                v.Connect();
                v.MicrophoneMuted = true;
                Assert.IsTrue(v.MicrophoneInput.Muted, "muted");
                Microphone.Feed(new float[4800]);
                Time.realtimeSinceStartup = 0.1f;
                v.InvokeMessage("Update");
                Assert.AreEqual(0UL, v.GetStats().MicFramesIn, "nothing pushed while muted");
                v.MicrophoneMuted = false;
                int starts = Microphone.StartCount;
                v.MicrophoneDevice = "Stub Microphone";
                Assert.AreEqual(starts + 1, Microphone.StartCount, "switching device restarts the capture");
                Assert.AreEqual("Stub Microphone", Microphone.LastStartedDevice);
                CollectionAssert.AreEqual(new[] { "Default", "A", "B" }, global::RealtimeVoice.EditorTools.RealtimeVoiceEditor.Choices(new[] { "A", "B" }));
            }
            finally
            {
                UnityEngine.Object.Destroy(go);
            }
        }

        [Test]
        public static void PushToTalkFromAnInputAction()
        {
            var go = new GameObject("voice");
            var v = Voice(go);
            var action = new UnityEngine.InputSystem.InputAction();
            var reference = new UnityEngine.InputSystem.InputActionReference { action = action };
            try
            {
                SetField(v, "pushToTalkAction", reference);
                v.PushToTalk = true;
                v.enabled = false;
                v.enabled = true; // subscribes at enable
                Assert.IsTrue(action.enabled, "the action is enabled");
                v.Connect();
                action.Simulate(true);
                Assert.IsTrue(v.IsTalking, "pressed: talking");
                action.Simulate(false);
                Assert.IsFalse(v.IsTalking, "released: the turn ends");
                v.enabled = false;
                action.Simulate(true);
                Assert.IsFalse(v.IsTalking, "unsubscribed when disabled");
            }
            finally
            {
                UnityEngine.Object.Destroy(go);
            }
        }
    }
}
#endif
