// Sample: a primitive face whose jaw moves with the model's voice. Scene-free: add this one
// script to an empty GameObject in an empty scene and press Play; it builds a head of
// primitives (no blendshapes, so RealtimeLipSync runs in jaw-bone mode), a light, a camera and
// the RealtimeVoice component. Talk to it: the jaw opens with the reply as you hear it.
using UnityEngine;

namespace RealtimeVoice.Samples
{
    /// <summary>Builds the LipSync demo at runtime: a talking head of primitives.</summary>
    [AddComponentMenu("Realtime Voice/Samples/Lip Sync Bootstrap")]
    public sealed class LipSyncBootstrap : MonoBehaviour
    {
        /// <summary>The voice component this sample created.</summary>
        public RealtimeVoice Voice { get; private set; }

        /// <summary>The lip-sync component driving the jaw.</summary>
        public RealtimeLipSync LipSync { get; private set; }

        /// <summary>The jaw pivot the lip sync rotates.</summary>
        public Transform Jaw { get; private set; }

        private void Awake()
        {
            var head = GameObject.CreatePrimitive(PrimitiveType.Sphere).transform;
            head.gameObject.name = "Head";
            head.position = new Vector3(0f, 1.5f, 0f);
            head.localScale = new Vector3(1f, 1.2f, 1f);
            foreach (var x in new[] { -0.2f, 0.2f })
            {
                var eye = GameObject.CreatePrimitive(PrimitiveType.Sphere).transform;
                eye.gameObject.name = "Eye";
                eye.SetParent(head, false);
                eye.localPosition = new Vector3(x, 0.15f, -0.42f);
                eye.localScale = new Vector3(0.15f, 0.15f, 0.15f);
            }
            var upperLip = GameObject.CreatePrimitive(PrimitiveType.Cube).transform;
            upperLip.gameObject.name = "Upper Lip";
            upperLip.SetParent(head, false);
            upperLip.localPosition = new Vector3(0f, -0.18f, -0.45f);
            upperLip.localScale = new Vector3(0.35f, 0.05f, 0.08f);
            // The jaw: a pivot behind the mouth with the lower lip on it; opening rotates it
            // about its local x axis.
            Jaw = new GameObject("Jaw").transform;
            Jaw.SetParent(head, false);
            Jaw.localPosition = new Vector3(0f, -0.2f, -0.1f);
            var lowerLip = GameObject.CreatePrimitive(PrimitiveType.Cube).transform;
            lowerLip.gameObject.name = "Lower Lip";
            lowerLip.SetParent(Jaw, false);
            lowerLip.localPosition = new Vector3(0f, -0.03f, -0.35f);
            lowerLip.localScale = new Vector3(0.3f, 0.05f, 0.08f);

            if (Camera.main == null)
            {
                var cam = new GameObject("Main Camera").AddComponent<Camera>();
                cam.transform.position = new Vector3(0f, 1.5f, -3f);
                cam.transform.LookAt(head.position);
            }
            var light = new GameObject("Light").AddComponent<Light>();
            light.type = LightType.Directional;
            light.transform.position = new Vector3(0f, 10f, -5f);
            light.transform.LookAt(Vector3.zero);

            Voice = gameObject.AddComponent<RealtimeVoice>();
            Voice.Instructions = "You are a friendly talking head. Answer in one or two sentences.";
            LipSync = gameObject.AddComponent<RealtimeLipSync>();
            LipSync.Voice = Voice;
            LipSync.Mode = LipSyncMode.JawBone;
            LipSync.Jaw = Jaw;
            LipSync.JawOpenDegrees = 25f;
            // With a VRM, ARKit or Ready Player Me avatar instead: Mode = BlendShapes, Face = its
            // SkinnedMeshRenderer, Preset = Vrm / ARKit / Oculus.
        }
    }
}
