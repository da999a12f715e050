// Window > Realtime Voice > Debug: what each RealtimeVoice in the scene is doing, refreshed
// ten times a second in Play mode. Reads the session's counters (rv_get_stats), never blocks.
using System.Collections.Generic;
using UnityEditor;
using UnityEngine;

namespace RealtimeVoice.EditorTools
{
    /// <summary>Live state, levels, buffering and echo figures of every RealtimeVoice component.</summary>
    public sealed class RealtimeVoiceDebugWindow : EditorWindow
    {
        /// <summary>Opens the window.</summary>
        [MenuItem("Window/Realtime Voice/Debug")]
        public static void Open()
        {
            GetWindow<RealtimeVoiceDebugWindow>(false, "Realtime Voice");
        }

        private void OnInspectorUpdate()
        {
            if (Application.isPlaying) Repaint();
        }

        private void OnGUI()
        {
            var voices = FindObjectsOfType<RealtimeVoice>();
            if (voices.Length == 0)
            {
                EditorGUILayout.HelpBox("No RealtimeVoice component in the open scenes.", MessageType.Info);
                return;
            }
            foreach (var v in voices)
            {
                EditorGUILayout.LabelField(v.name, EditorStyles.boldLabel);
                foreach (var row in Rows(v)) EditorGUILayout.LabelField(row.Key, row.Value);
                EditorGUILayout.Space();
            }
        }

        /// <summary>The label/value rows shown for <paramref name="v"/>.</summary>
        public static List<KeyValuePair<string, string>> Rows(RealtimeVoice v)
        {
            var stats = v.GetStats();
            var rows = new List<KeyValuePair<string, string>>();
            rows.Add(Row("State", v.State.ToString()));
            rows.Add(Row("Microphone", v.MicrophoneStatus + (v.MicrophoneMuted ? " (muted)" : "")));
            rows.Add(Row("Mic level", Db(v.InputLevel)));
            rows.Add(Row("Output level", Db(v.OutputLevel)));
            rows.Add(Row("Sent to server", Meter(stats.MicLevel)));
            rows.Add(Row("Voice playing", Meter(stats.OutputLevel)));
            var mouth = RealtimeMouth.Silent;
            if (v.Session != null) v.Session.GetMouth(out mouth);
            rows.Add(Row("Mouth", mouth.Strongest + " (" + mouth.Weight(mouth.Strongest).ToString("0.00") + "), played " + mouth.PlayedMs + " ms"));
            rows.Add(Row("Buffered", stats.PlaybackBufferedMs + " ms"));
            rows.Add(Row("Underruns", stats.PlaybackUnderruns.ToString()));
            rows.Add(Row("Last latency", stats.LastResponseLatencyMs < 0 ? "-" : stats.LastResponseLatencyMs + " ms"));
            rows.Add(Row("Echo delay", stats.EchoDelayMs < 0 ? "-" : stats.EchoDelayMs + " ms"));
            rows.Add(Row("Echo ERLE", stats.EchoErleDb.ToString("0.0") + " dB" + (stats.EchoConverged != 0 ? " (converged)" : "")));
            rows.Add(Row("Reconnects", stats.Reconnects.ToString()));
            return rows;
        }

        private static KeyValuePair<string, string> Row(string k, string v)
        {
            return new KeyValuePair<string, string>(k, v);
        }

        /// <summary>A 0..1 level as a text bar of 20 cells and its value.</summary>
        public static string Meter(float level)
        {
            int n = (int)System.Math.Round(20 * System.Math.Max(0f, System.Math.Min(1f, level)));
            return new string('|', n) + new string('.', 20 - n) + " " + level.ToString("0.00");
        }

        private static string Db(float linear)
        {
            if (linear <= 1e-5f) return "-100 dBFS";
            return (20.0 * System.Math.Log10(linear)).ToString("0") + " dBFS";
        }
    }
}
