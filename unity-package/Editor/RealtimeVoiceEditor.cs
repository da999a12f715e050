// The component's inspector: the default fields, with the microphone device as a list of the
// machine's devices, and a mute toggle that acts at once in Play mode.
using System;
using UnityEditor;
using UnityEngine;

namespace RealtimeVoice.EditorTools
{
    /// <summary>Inspector of <see cref="RealtimeVoice"/>: a microphone picker and live mute.</summary>
    [CustomEditor(typeof(RealtimeVoice))]
    public sealed class RealtimeVoiceEditor : Editor
    {
        /// <summary>The picker's entries: "Default" first, then the devices.</summary>
        public static string[] Choices(string[] devices)
        {
            var choices = new string[devices.Length + 1];
            choices[0] = "Default";
            Array.Copy(devices, 0, choices, 1, devices.Length);
            return choices;
        }

        /// <inheritdoc />
        public override void OnInspectorGUI()
        {
            DrawDefaultInspector();
            var v = (RealtimeVoice)target;
            var devices = Microphone.devices;
            var choices = Choices(devices);
            int current = Math.Max(0, Array.IndexOf(devices, v.MicrophoneDevice) + 1);
            int picked = EditorGUILayout.Popup("Microphone picker", current, choices);
            if (picked != current)
            {
                Undo.RecordObject(v, "Microphone device");
                v.MicrophoneDevice = picked == 0 ? "" : devices[picked - 1];
                EditorUtility.SetDirty(v);
            }
            if (Application.isPlaying)
            {
                bool muted = EditorGUILayout.Toggle("Muted (live)", v.MicrophoneMuted);
                if (muted != v.MicrophoneMuted) v.MicrophoneMuted = muted;
                EditorGUILayout.LabelField("Microphone", v.MicrophoneStatus.ToString());
                EditorGUILayout.LabelField("State", v.State.ToString());
            }
        }
    }
}
