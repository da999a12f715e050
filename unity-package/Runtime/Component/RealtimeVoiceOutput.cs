// The model's voice: a filter on the AudioSource the RealtimeVoice component owns (a child
// GameObject it creates), so the user's own AudioSource, its clip and PlayOneShot sounds stay
// theirs. The filter replaces the source's (silent, looping) clip with the model's audio; the
// source's spatialBlend, spatializer (spatializePostEffects) and mixer group then apply to it.
using System;
using UnityEngine;

namespace RealtimeVoice
{
    /// <summary>Plays a session's model audio from OnAudioFilterRead. Added by <see cref="RealtimeVoice"/>; not for direct use.</summary>
    [AddComponentMenu("")]
    [DisallowMultipleComponent]
    public sealed class RealtimeVoiceOutput : MonoBehaviour
    {
        private volatile RealtimeSession _session; // read by the audio thread
        private volatile int _sampleRate;          // AudioSettings may not be read on the audio thread
        private volatile float _level;

        /// <summary>The session whose audio plays (null: silence).</summary>
        public RealtimeSession Session { get { return _session; } internal set { _session = value; } }

        /// <summary>The output rate the audio thread resamples to.</summary>
        public int SampleRate { get { return _sampleRate; } internal set { _sampleRate = value; } }

        /// <summary>Peak of the last buffer played (0..1), for meters.</summary>
        public float Level { get { return _level; } }

        // Audio thread: no Unity API here, no allocation; the session fills silence when it has nothing.
        private void OnAudioFilterRead(float[] data, int channels)
        {
            var s = _session;
            int rate = _sampleRate;
            if (s == null || channels <= 0 || rate <= 0)
            {
                Array.Clear(data, 0, data.Length);
                _level = 0f;
                return;
            }
            s.PullPlayback(data, data.Length / channels, channels, rate);
            float peak = 0f;
            for (int i = 0; i < data.Length; i++)
            {
                float a = data[i] < 0 ? -data[i] : data[i];
                if (a > peak) peak = a;
            }
            _level = peak;
        }
    }
}
