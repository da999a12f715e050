// Sample: a cube the model moves with the move_cube tool. Scene-free: add this one script to an
// empty GameObject in an empty scene and press Play; it builds the cube, a light, a camera
// and the RealtimeVoice component, and registers the tool.
using UnityEngine;

namespace RealtimeVoice.Samples
{
    /// <summary>Builds the MoveCube demo at runtime and exposes move_cube to the model.</summary>
    [AddComponentMenu("Realtime Voice/Samples/Move Cube Bootstrap")]
    public sealed class MoveCubeBootstrap : MonoBehaviour
    {
        [Tooltip("Largest move per call, in meters (the model is not always precise).")]
        [SerializeField] private float maxStep = 5f;

        private Transform _cube;

        /// <summary>The cube's transform (created in Awake).</summary>
        public Transform Cube { get { return _cube; } }

        /// <summary>The voice component this sample created.</summary>
        public RealtimeVoice Voice { get; private set; }

        private void Awake()
        {
            _cube = GameObject.CreatePrimitive(PrimitiveType.Cube).transform;
            _cube.gameObject.name = "Cube";
            _cube.position = Vector3.zero;

            if (Camera.main == null)
            {
                var cam = new GameObject("Main Camera").AddComponent<Camera>();
                cam.transform.position = new Vector3(0f, 3f, -10f);
                cam.transform.LookAt(Vector3.zero);
            }
            var light = new GameObject("Light").AddComponent<Light>();
            light.type = LightType.Directional;
            light.transform.position = new Vector3(0f, 10f, -5f);
            light.transform.LookAt(Vector3.zero);

            // The voice plays on an AudioSource the component creates on a child GameObject.
            Voice = gameObject.AddComponent<RealtimeVoice>();
            Voice.Instructions =
                "You control a cube in a 3D scene. When the user asks to move it, call move_cube with " +
                "distances in meters (x right, y up, z away from the camera). Answer in one short sentence.";
            Voice.RegisterTools(this);
            // Shipped builds: fetch an ephemeral token from your backend instead of using a key:
            // Voice.ClientSecretProvider = () => MyBackend.FetchRealtimeTokenAsync();
            Voice.onAssistantTranscript.AddListener((text, final) => { if (final) Debug.Log("Model: " + text); });
            Voice.onUserTranscript.AddListener((text, final) => { if (final) Debug.Log("You: " + text); });
            Voice.onStateChanged.AddListener(state => Debug.Log("Realtime state: " + state));
        }

        /// <summary>The tool. Runs on the main thread (from RealtimeVoice.Update), so it may touch the scene.</summary>
        [RealtimeTool("Move the cube by a distance in meters along each axis.", Name = "move_cube")]
        [UnityEngine.Scripting.Preserve] // found by reflection: keep it under IL2CPP stripping
        public string MoveCube(
            [RealtimeToolParam("meters to the right (negative: left)")] float dx,
            [RealtimeToolParam("meters up (negative: down)")] float dy,
            [RealtimeToolParam("meters away from the camera (negative: closer)")] float dz)
        {
            var step = Vector3.ClampMagnitude(new Vector3(dx, dy, dz), maxStep);
            _cube.position = _cube.position + step;
            var p = _cube.position;
            return "{\"ok\":true,\"position\":[" + Num(p.x) + "," + Num(p.y) + "," + Num(p.z) + "]}";
        }

        private static string Num(float v)
        {
            return v.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);
        }
    }
}
