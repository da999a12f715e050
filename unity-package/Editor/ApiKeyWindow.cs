// Editor-only API key storage: EditorPrefs live in the user's profile (registry / plist),
// never in the project, so the key cannot end up in a scene, a prefab or a build.
using UnityEditor;
using UnityEngine;

namespace RealtimeVoice.EditorTools
{
    /// <summary>Window > Realtime Voice > API Key: stores the key for Play mode in the editor only.</summary>
    public sealed class ApiKeyWindow : EditorWindow
    {
        private string _key;

        /// <summary>Opens the window.</summary>
        [MenuItem("Window/Realtime Voice/API Key (Editor only)")]
        public static void Open()
        {
            GetWindow<ApiKeyWindow>(true, "Realtime Voice API Key");
        }

        private void OnEnable()
        {
            _key = EditorPrefs.GetString(RealtimeVoice.EditorApiKeyPref, "");
        }

        private void OnGUI()
        {
            EditorGUILayout.HelpBox(
                "Used in the editor's Play mode only. It is stored in your user profile (EditorPrefs), " +
                "not in the project, and player builds never read it: ship a ClientSecretProvider that " +
                "fetches an ephemeral token from your backend instead.", MessageType.Info);
            _key = EditorGUILayout.PasswordField("OpenAI API key", _key ?? "");
            if (GUILayout.Button("Save"))
            {
                EditorPrefs.SetString(RealtimeVoice.EditorApiKeyPref, (_key ?? "").Trim());
                Close();
            }
            if (GUILayout.Button("Forget the key"))
            {
                EditorPrefs.DeleteKey(RealtimeVoice.EditorApiKeyPref);
                _key = "";
            }
        }
    }
}
