// Microphone capture for the component, apart from it: Unity's looping mic clip read in 10 ms
// chunks (MicRingReader), and everything a real device does to it. A device that stops
// advancing (unplugged, switched, taken by another app) is reported once and retried until it
// records again; a device or audio configuration change restarts it; pause ends it and resume
// starts it afresh, so audio from before the pause is never sent; the permission is asked once
// and a denial is reported once, never polled.
using System;
using UnityEngine;

namespace RealtimeVoice
{
    /// <summary>Where the microphone is.</summary>
    public enum MicrophoneStatus
    {
        /// <summary>Not capturing (no session, or capture turned off).</summary>
        Off,
        /// <summary>The permission prompt is up.</summary>
        WaitingForPermission,
        /// <summary>The user refused the microphone.</summary>
        PermissionDenied,
        /// <summary>Recording and advancing.</summary>
        Running,
        /// <summary>No device, or the device stopped advancing: retried every <see cref="MicrophoneCapture.RetrySeconds"/>.</summary>
        Stalled,
        /// <summary>The application is paused.</summary>
        Paused,
    }

    /// <summary>Reads the microphone into 10 ms chunks for a session (main thread only).</summary>
    public sealed class MicrophoneCapture
    {
        /// <summary>Length of Unity's looping mic clip: the ring must outlast the longest frame hitch.</summary>
        public const int ClipSeconds = 2;

        /// <summary>A recording device whose position stands still this long is stalled.</summary>
        public const float StallSeconds = 1.0f;

        /// <summary>
        /// A device just opened may take this long to deliver its first sample (some Android
        /// devices need most of a second) before it counts as stalled.
        /// </summary>
        public const float FirstSampleSeconds = 3.0f;

        /// <summary>How often a stalled or missing device is restarted.</summary>
        public const float RetrySeconds = 1.0f;

        /// <summary>Receives one chunk: interleaved samples, frames, channels, rate. Returns a native status.</summary>
        public delegate int ChunkSink(float[] interleaved, int frames, int channels, int sampleRate);

        private IMicrophonePermission _permission;
        private string _device;          // requested; null: the default
        private string _deviceInUse;
        private AudioClip _clip;
        private MicRingReader _reader;
        private float[] _chunk;
        private int _channels;
        private int _rate;
        private bool _wanted;            // Start was called and Stop was not
        private bool _paused;
        private bool _deniedReported;
        private int _lastPosition = -1;
        private bool _awaitingFirstSample;
        private double _lastAdvance;
        private double _lastPump = -1;
        private double _nextRetry;
        private MicrophoneStatus _status = MicrophoneStatus.Off;

        /// <summary>Creates a capture asking <paramref name="permission"/> (null: the platform's).</summary>
        public MicrophoneCapture(IMicrophonePermission permission = null)
        {
            _permission = permission ?? new PlatformMicrophonePermission();
        }

        /// <summary>How the permission is asked (the platform's by default).</summary>
        public IMicrophonePermission Permission
        {
            get { return _permission; }
            set { _permission = value ?? new PlatformMicrophonePermission(); }
        }

        /// <summary>The status changed (main thread).</summary>
        public event Action<MicrophoneStatus> StatusChanged;

        /// <summary>Something the user must see: code, message (once per episode, never per frame).</summary>
        public event Action<string, string> Problem;

        /// <summary>Where the microphone is.</summary>
        public MicrophoneStatus Status { get { return _status; } }

        /// <summary>Audio is read but not handed on while muted (the reader keeps up, nothing is sent late).</summary>
        public bool Muted { get; set; }

        /// <summary>RMS of the last chunk read (0..1), for meters.</summary>
        public float Level { get; private set; }

        /// <summary>The device recording now (null: the default, or none).</summary>
        public string DeviceInUse { get { return _deviceInUse; } }

        /// <summary>The clip's sample rate (0 when not recording).</summary>
        public int SampleRate { get { return _clip == null ? 0 : _rate; } }

        /// <summary>Starts capturing from <paramref name="device"/> (null or empty: the default), asking for the permission first.</summary>
        public void Start(string device, double now)
        {
            _device = string.IsNullOrEmpty(device) ? null : device;
            _wanted = true;
            if (_paused) return; // Resume starts it
            if (!_permission.IsGranted)
            {
                if (_status == MicrophoneStatus.WaitingForPermission) return;
                if (_deniedReported)
                {
                    // Refused before (this or an earlier session): not asked again; OnFocus starts
                    // it if the user allows it in the settings.
                    SetStatus(MicrophoneStatus.PermissionDenied);
                    return;
                }
                SetStatus(MicrophoneStatus.WaitingForPermission);
                _permission.Request(granted => OnPermissionAnswer(granted, now));
                return;
            }
            Open(now);
        }

        /// <summary>Stops capturing.</summary>
        public void Stop()
        {
            _wanted = false;
            Close();
            SetStatus(MicrophoneStatus.Off);
        }

        /// <summary>The device or the audio configuration changed: start the device again.</summary>
        public void Restart(double now)
        {
            if (!_wanted || _paused || _status == MicrophoneStatus.WaitingForPermission || _status == MicrophoneStatus.PermissionDenied) return;
            Close();
            Open(now);
        }

        /// <summary>Switches to another device (null or empty: the default).</summary>
        public void SetDevice(string device, double now)
        {
            _device = string.IsNullOrEmpty(device) ? null : device;
            Restart(now);
        }

        /// <summary>Application paused (true) or resumed (false).</summary>
        public void SetPaused(bool paused, double now)
        {
            if (paused == _paused) return;
            _paused = paused;
            if (paused)
            {
                Close();
                if (_wanted) SetStatus(MicrophoneStatus.Paused);
                return;
            }
            // A fresh clip: the reader starts at the present, what was said before is never sent.
            if (_wanted) Start(_device, now);
        }

        /// <summary>The application got its focus back: the user may have answered the prompt or changed the setting.</summary>
        public void OnFocus(double now)
        {
            if (!_wanted || _paused) return;
            if (_status == MicrophoneStatus.PermissionDenied && _permission.IsGranted)
            {
                _deniedReported = false;
                Open(now);
            }
            else if (_status == MicrophoneStatus.WaitingForPermission && !_permission.CallsBack)
            {
                OnPermissionAnswer(_permission.IsGranted, now);
            }
        }

        private void OnPermissionAnswer(bool granted, double now)
        {
            if (!_wanted || _status != MicrophoneStatus.WaitingForPermission) return;
            if (granted)
            {
                Open(now);
                return;
            }
            SetStatus(MicrophoneStatus.PermissionDenied);
            if (_deniedReported) return;
            _deniedReported = true;
            RaiseProblem("microphone_permission_denied",
                         "The microphone permission was denied: the model cannot hear the user (text still works).");
        }

        private void Open(double now)
        {
            Close();
            _nextRetry = now + RetrySeconds;
            _lastAdvance = now;
            _lastPump = now;
            string device = _device != null && Array.IndexOf(Microphone.devices, _device) >= 0 ? _device : null;
            if (Microphone.devices.Length == 0)
            {
                EnterStall("no microphone found");
                return;
            }
            int minRate, maxRate;
            Microphone.GetDeviceCaps(device, out minRate, out maxRate);
            int rate = (minRate == 0 && maxRate == 0) ? 48000 : Mathf.Clamp(48000, minRate, maxRate);
            var clip = Microphone.Start(device, true, ClipSeconds, rate);
            if (clip == null)
            {
                EnterStall("Microphone.Start returned no clip");
                return;
            }
            _clip = clip;
            _deviceInUse = device;
            _channels = Math.Max(1, clip.channels);
            _rate = clip.frequency;
            int chunkFrames = Math.Max(1, _rate / 100); // 10 ms reads: low latency, one reusable buffer
            _reader = new MicRingReader(clip.samples, chunkFrames);
            _chunk = new float[chunkFrames * _channels];
            // Only movement from here on is new audio (and proof that the device records).
            _lastPosition = Microphone.GetPosition(device);
            _reader.Reset(_lastPosition);
            _awaitingFirstSample = true;
            // Running once it advances: a stall before the first sample is a stall too.
            if (_status != MicrophoneStatus.Stalled) SetStatus(MicrophoneStatus.Running);
        }

        private void Close()
        {
            if (_clip != null)
            {
                Microphone.End(_deviceInUse);
                UnityEngine.Object.Destroy(_clip);
            }
            _clip = null;
            _reader = null;
            _deviceInUse = null;
            Level = 0f;
        }

        private void EnterStall(string why)
        {
            bool first = _status != MicrophoneStatus.Stalled;
            SetStatus(MicrophoneStatus.Stalled);
            if (first)
                RaiseProblem("microphone_stalled",
                             "The microphone stopped (" + why + "); retrying every " + RetrySeconds + " s until a device records again.");
        }

        /// <summary>
        /// Reads what the device recorded since the last call and hands each 10 ms chunk to
        /// <paramref name="sink"/> when <paramref name="send"/> (audio outside a turn is skipped,
        /// never sent late). Call once per frame. Returns the frames handed on.
        /// </summary>
        public int Pump(ChunkSink sink, bool send, double now)
        {
            if (!_wanted || _paused) return 0;
            if (_status == MicrophoneStatus.Stalled && _clip == null)
            {
                if (now >= _nextRetry) Open(now);
                return 0;
            }
            if (_clip == null || _reader == null) return 0;

            int writePos = Microphone.GetPosition(_deviceInUse);
            bool recording = Microphone.IsRecording(_deviceInUse);
            if (writePos != _lastPosition)
            {
                _lastPosition = writePos;
                _lastAdvance = now;
                _awaitingFirstSample = false;
                if (_status == MicrophoneStatus.Stalled) SetStatus(MicrophoneStatus.Running); // a device records again
            }
            if (!recording || now - _lastAdvance > (_awaitingFirstSample ? FirstSampleSeconds : StallSeconds))
            {
                if (now >= _nextRetry || _status != MicrophoneStatus.Stalled)
                {
                    EnterStall(recording ? "no new samples for " + StallSeconds + " s" : "the device stopped recording");
                    Close();
                    _nextRetry = now + RetrySeconds;
                }
                return 0;
            }
            bool hitch = _lastPump >= 0 && now - _lastPump > ClipSeconds * 0.9;
            _lastPump = now;
            if (hitch)
            {
                // A hitch (loading, breakpoint) as long as the ring: the writer may have lapped the
                // reader, so what lies behind it is a mix of old and new audio. Skip to the present.
                _reader.Reset(writePos);
                return 0;
            }
            int sent = 0;
            int start;
            while (_reader.TryNextChunk(writePos, out start))
            {
                // GetData wraps past the clip's end, so a chunk straddling the loop point reads whole.
                _clip.GetData(_chunk, start);
                Level = Rms(_chunk);
                if (send && !Muted && sink != null)
                {
                    int rc = sink(_chunk, _reader.ChunkFrames, _channels, _rate);
                    if (rc == Native.RvStatus.InvalidHandle) return sent;
                    sent += _reader.ChunkFrames;
                }
                _reader.Advance();
            }
            return sent;
        }

        private static float Rms(float[] x)
        {
            double sum = 0;
            for (int i = 0; i < x.Length; i++) sum += x[i] * x[i];
            return x.Length == 0 ? 0f : (float)Math.Sqrt(sum / x.Length);
        }

        private void SetStatus(MicrophoneStatus s)
        {
            if (s == _status) return;
            _status = s;
            var h = StatusChanged;
            if (h != null) h(s);
        }

        private void RaiseProblem(string code, string message)
        {
            var h = Problem;
            if (h != null) h(code, message);
        }
    }
}
