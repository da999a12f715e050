// The game's final output mix as the echo canceller's far end. Unity hands the AudioListener's
// OnAudioFilterRead the mix every speaker plays (music, effects, every character's voice, after 3D
// panning and the mixer's effects); this filter copies it, untouched, into the native mix ring
// that every session's canceller reads. RealtimeVoice adds it to the scene's AudioListener when
// echo cancellation is on; without it a session cancels only its own voice.
using UnityEngine;

namespace RealtimeVoice
{
    /// <summary>Feeds the AudioListener's output mix to the echo cancellers. Added by <see cref="RealtimeVoice"/>.</summary>
    [AddComponentMenu("")]
    [DisallowMultipleComponent]
    public sealed class RealtimeOutputMixTap : MonoBehaviour
    {
        private volatile int _sampleRate; // AudioSettings may not be read on the audio thread
        private long _buffers;

        /// <summary>Buffers handed to the cancellers so far (for tests and the debug window).</summary>
        public long BuffersPushed { get { return System.Threading.Interlocked.Read(ref _buffers); } }

        /// <summary>
        /// The tap on the scene's AudioListener, added there if it is missing; null when the scene
        /// has no AudioListener (nothing plays, nothing to cancel).
        /// </summary>
        public static RealtimeOutputMixTap Attach()
        {
            var listeners = FindObjectsOfType<AudioListener>();
            if (listeners == null || listeners.Length == 0) return null;
            var go = listeners[0].gameObject;
            var tap = go.GetComponent<RealtimeOutputMixTap>();
            return tap != null ? tap : go.AddComponent<RealtimeOutputMixTap>();
        }

        private void OnEnable()
        {
            _sampleRate = AudioSettings.outputSampleRate;
            AudioSettings.OnAudioConfigurationChanged += OnAudioConfigurationChanged;
        }

        private void OnDisable()
        {
            AudioSettings.OnAudioConfigurationChanged -= OnAudioConfigurationChanged;
        }

        private void OnAudioConfigurationChanged(bool deviceWasChanged)
        {
            _sampleRate = AudioSettings.outputSampleRate;
        }

        // Audio thread: no Unity API, no allocation; the mix passes through unchanged.
        private void OnAudioFilterRead(float[] data, int channels)
        {
            int rate = _sampleRate;
            if (data == null || channels <= 0 || rate <= 0) return;
            RealtimeSession.PushOutputMix(data, data.Length / channels, channels, rate);
            System.Threading.Interlocked.Increment(ref _buffers);
        }
    }
}
