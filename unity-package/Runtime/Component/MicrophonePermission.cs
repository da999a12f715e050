// Asking for the microphone, per platform: Android's runtime permission, iOS's authorization,
// nothing elsewhere. The answer arrives once, as a callback: nothing polls every frame.
using System;
using UnityEngine;

namespace RealtimeVoice
{
    /// <summary>Whether the app may record, and how to ask (replaceable, e.g. by tests).</summary>
    public interface IMicrophonePermission
    {
        /// <summary>True when recording is allowed now.</summary>
        bool IsGranted { get; }

        /// <summary>
        /// True when <see cref="Request"/> always calls back. False where the platform gives no
        /// answer (Android before Unity 2020.2): the capture then reads the answer when the app
        /// gets its focus back from the permission dialog.
        /// </summary>
        bool CallsBack { get; }

        /// <summary>Shows the system prompt; <paramref name="done"/> receives the answer (main thread).</summary>
        void Request(Action<bool> done);
    }

    /// <summary>The running platform's microphone permission.</summary>
    public sealed class PlatformMicrophonePermission : IMicrophonePermission
    {
#if UNITY_ANDROID && !UNITY_EDITOR
        /// <inheritdoc />
        public bool IsGranted
        {
            get { return UnityEngine.Android.Permission.HasUserAuthorizedPermission(UnityEngine.Android.Permission.Microphone); }
        }

#if UNITY_2020_2_OR_NEWER
        /// <inheritdoc />
        public bool CallsBack { get { return true; } }

        /// <inheritdoc />
        public void Request(Action<bool> done)
        {
            var callbacks = new UnityEngine.Android.PermissionCallbacks();
            callbacks.PermissionGranted += _ => done(true);
            callbacks.PermissionDenied += _ => done(false);
            callbacks.PermissionDeniedAndDontAskAgain += _ => done(false);
            UnityEngine.Android.Permission.RequestUserPermission(UnityEngine.Android.Permission.Microphone, callbacks);
        }
#else
        /// <inheritdoc />
        public bool CallsBack { get { return false; } }

        /// <inheritdoc />
        public void Request(Action<bool> done)
        {
            UnityEngine.Android.Permission.RequestUserPermission(UnityEngine.Android.Permission.Microphone);
        }
#endif
#elif UNITY_IOS && !UNITY_EDITOR
        /// <inheritdoc />
        public bool IsGranted { get { return Application.HasUserAuthorization(UserAuthorization.Microphone); } }

        /// <inheritdoc />
        public bool CallsBack { get { return true; } }

        /// <inheritdoc />
        public void Request(Action<bool> done)
        {
            // Needs NSMicrophoneUsageDescription (Player Settings > Microphone Usage Description);
            // the build validation fails the build without it.
            var op = Application.RequestUserAuthorization(UserAuthorization.Microphone);
            if (op.isDone) done(IsGranted);
            else op.completed += _ => done(IsGranted);
        }
#else
        /// <inheritdoc />
        public bool IsGranted { get { return true; } }

        /// <inheritdoc />
        public bool CallsBack { get { return true; } }

        /// <inheritdoc />
        public void Request(Action<bool> done)
        {
            done(true);
        }
#endif
    }
}
