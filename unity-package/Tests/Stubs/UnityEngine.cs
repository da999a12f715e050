// A minimal stand-in for UnityEngine.dll so the package's scripts compile and run under plain
// Mono (Tests/run-mono-tests.sh). Only what the scripts use, with just enough behaviour for the
// tests: a simulated microphone whose position tests advance, AudioClip sample storage, and
// GameObject/Component bookkeeping. Unity never compiles this file (RV_MONO_TESTS is never
// defined inside Unity, and the Tests folder's asmdef has an unsatisfiable define constraint).
#if RV_MONO_TESTS
using System;
using System.Collections.Generic;

namespace UnityEngine
{
    [Flags]
    public enum HideFlags { None = 0, HideInHierarchy = 1, HideInInspector = 2, DontSaveInEditor = 4, NotEditable = 8,
        DontSaveInBuild = 16, DontUnloadUnusedAsset = 32, DontSave = 52, HideAndDontSave = 61 }

    public class Object
    {
        public string name { get; set; }
        public HideFlags hideFlags { get; set; }
        internal bool destroyed;

        /// <summary>Test hook: Destroy was called on it.</summary>
        public bool IsDestroyedForTests { get { return destroyed; } }

        public static bool operator ==(Object a, Object b)
        {
            bool aNull = ReferenceEquals(a, null) || a.destroyed, bNull = ReferenceEquals(b, null) || b.destroyed;
            if (aNull || bNull) return aNull && bNull;
            return ReferenceEquals(a, b);
        }
        public static bool operator !=(Object a, Object b) { return !(a == b); }
        public override bool Equals(object o) { return ReferenceEquals(this, o); }
        public override int GetHashCode() { return base.GetHashCode(); }
        public static implicit operator bool(Object o) { return o != null; }

        public static T[] FindObjectsOfType<T>() where T : Object { return GameObject.AllLive<T>(); }

        public static void Destroy(Object obj)
        {
            if (obj == null) return;
            obj.destroyed = true;
            var go = obj as GameObject;
            if (!ReferenceEquals(go, null)) go.DestroyAll();
        }

        public static void DestroyImmediate(Object obj) { Destroy(obj); }
    }

    public class ScriptableObject : Object { }

    public class GUIStyle { }

    public static class GUILayout
    {
        public static bool Button(string text) { return false; }
    }

    public class Component : Object
    {
        public GameObject gameObject { get; internal set; }
        public Transform transform { get { return gameObject.transform; } }
        public T GetComponent<T>() where T : Component { return gameObject.GetComponent<T>(); }
        public T[] GetComponentsInChildren<T>() where T : Component { return gameObject.GetComponentsInChildren<T>(); }
    }

    public class Behaviour : Component
    {
        private bool _enabled = true;
        public bool isActiveAndEnabled { get { return _enabled && !destroyed && gameObject != null && !gameObject.IsDestroyedForTests; } }
        public bool enabled
        {
            get { return _enabled; }
            set
            {
                if (_enabled == value) return;
                _enabled = value;
                var mb = this as MonoBehaviour;
                if (mb != null) mb.InvokeMessage(value ? "OnEnable" : "OnDisable");
            }
        }
    }

    /// <summary>Tests drive the Unity messages (Awake, OnEnable, Start, Update, ...) by name.</summary>
    public class MonoBehaviour : Behaviour
    {
        public void InvokeMessage(string message, params object[] args)
        {
            var m = GetType().GetMethod(message, System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public |
                                                 System.Reflection.BindingFlags.NonPublic);
            if (m != null) m.Invoke(this, args);
        }
    }

    public sealed class Transform : Component
    {
        internal readonly List<Transform> children = new List<Transform>();
        public Transform parent { get; private set; }
        public int childCount { get { return children.Count; } }
        public Transform GetChild(int i) { return children[i]; }
        public void SetParent(Transform p, bool worldPositionStays)
        {
            if (parent != null) parent.children.Remove(this);
            parent = p;
            if (p != null) p.children.Add(this);
        }
        public Vector3 position { get; set; }
        public Vector3 localPosition { get { return position; } set { position = value; } }
        public Vector3 localScale { get; set; }
        public Quaternion localRotation { get; set; } = Quaternion.identity;
        public void Translate(Vector3 delta) { position = position + delta; }
        public void LookAt(Vector3 target) { }
    }

    public sealed class GameObject : Object
    {
        private static readonly List<GameObject> s_live = new List<GameObject>();
        private readonly List<Component> _components = new List<Component>();
        public Transform transform { get; private set; }

        public GameObject() : this("GameObject") { }

        public GameObject(string name)
        {
            this.name = name;
            transform = new Transform { gameObject = this };
            _components.Add(transform);
            s_live.Add(this);
        }

        internal static T[] AllLive<T>() where T : Object
        {
            var found = new List<T>();
            foreach (var go in s_live)
                foreach (var c in go._components)
                    if (c is T && !c.destroyed) found.Add((T)(Object)c);
            return found.ToArray();
        }

        public T[] GetComponentsInChildren<T>() where T : Component
        {
            var found = new List<T>();
            foreach (var c in _components) if (c is T && !c.destroyed) found.Add((T)c);
            foreach (var child in transform.children) found.AddRange(child.gameObject.GetComponentsInChildren<T>());
            return found.ToArray();
        }

        public T AddComponent<T>() where T : Component, new()
        {
            var c = new T { gameObject = this };
            _components.Add(c);
            // RequireComponent is honoured for the one case the package uses.
            foreach (RequireComponent req in typeof(T).GetCustomAttributes(typeof(RequireComponent), true))
            {
                if (req.m_Type0 == typeof(AudioSource) && GetComponent<AudioSource>() == null)
                    _components.Insert(_components.Count - 1, new AudioSource { gameObject = this });
            }
            var mb = c as MonoBehaviour;
            if (mb != null)
            {
                mb.InvokeMessage("Awake");
                mb.InvokeMessage("OnEnable");
            }
            return c;
        }

        public T GetComponent<T>() where T : Component
        {
            foreach (var c in _components)
                if (c is T) return (T)c;
            return null;
        }

        internal void DestroyAll()
        {
            foreach (var c in _components.ToArray())
            {
                var mb = c as MonoBehaviour;
                if (mb != null && !mb.destroyed)
                {
                    if (mb.enabled) mb.InvokeMessage("OnDisable");
                    mb.InvokeMessage("OnDestroy");
                }
                c.destroyed = true;
            }
            foreach (var child in transform.children.ToArray()) Destroy(child.gameObject);
            s_live.Remove(this);
        }

        public static GameObject CreatePrimitive(PrimitiveType type)
        {
            var go = new GameObject(type.ToString());
            go.AddComponent<MeshRenderer>();
            return go;
        }

        public static GameObject Find(string name) { return null; }
    }

    public enum PrimitiveType { Sphere, Capsule, Cylinder, Cube, Plane, Quad }

    public class Renderer : Component
    {
        private Material _material = new Material();
        public Material material { get { return _material; } set { _material = value; } }
    }

    public sealed class MeshRenderer : Renderer { }

    /// <summary>Blendshape names only; tests add them with <see cref="AddBlendShapeForTests"/>.</summary>
    public sealed class Mesh : Object
    {
        private readonly List<string> _shapes = new List<string>();
        public int blendShapeCount { get { return _shapes.Count; } }
        public int GetBlendShapeIndex(string blendShapeName) { return _shapes.IndexOf(blendShapeName); }
        public string GetBlendShapeName(int shapeIndex) { return _shapes[shapeIndex]; }
        public void AddBlendShapeForTests(string shapeName) { _shapes.Add(shapeName); }
    }

    public sealed class SkinnedMeshRenderer : Renderer
    {
        private readonly Dictionary<int, float> _weights = new Dictionary<int, float>();
        public Mesh sharedMesh { get; set; }
        public void SetBlendShapeWeight(int index, float value)
        {
            if (sharedMesh == null || index < 0 || index >= sharedMesh.blendShapeCount) throw new ArgumentOutOfRangeException("index");
            _weights[index] = value;
        }
        public float GetBlendShapeWeight(int index) { float w; return _weights.TryGetValue(index, out w) ? w : 0f; }
    }

    public struct Quaternion
    {
        public float x, y, z, w;
        public Quaternion(float x, float y, float z, float w) { this.x = x; this.y = y; this.z = z; this.w = w; }
        public static Quaternion identity { get { return new Quaternion(0, 0, 0, 1); } }
        public static Quaternion AngleAxis(float angle, Vector3 axis)
        {
            double n = Math.Sqrt(axis.x * axis.x + axis.y * axis.y + axis.z * axis.z);
            if (n < 1e-9) return identity;
            double h = angle * Math.PI / 360.0, s = Math.Sin(h) / n;
            return new Quaternion((float)(axis.x * s), (float)(axis.y * s), (float)(axis.z * s), (float)Math.Cos(h));
        }
        public static Quaternion operator *(Quaternion a, Quaternion b)
        {
            return new Quaternion(
                a.w * b.x + a.x * b.w + a.y * b.z - a.z * b.y,
                a.w * b.y - a.x * b.z + a.y * b.w + a.z * b.x,
                a.w * b.z + a.x * b.y - a.y * b.x + a.z * b.w,
                a.w * b.w - a.x * b.x - a.y * b.y - a.z * b.z);
        }
        public static float Angle(Quaternion a, Quaternion b)
        {
            double dot = Math.Min(1.0, Math.Abs(a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w));
            return (float)(2.0 * Math.Acos(dot) * 180.0 / Math.PI);
        }
    }

    public sealed class Material
    {
        public Color color { get; set; }
    }

    public sealed class Light : Behaviour
    {
        public LightType type { get; set; }
        public float intensity { get; set; }
    }

    public enum LightType { Spot, Directional, Point }

    public sealed class Camera : Behaviour
    {
        public static Camera main { get; set; }
        private int _pixelWidth = 1920, _pixelHeight = 1080;
        /// <summary>The viewport's size: the target texture's when there is one (test hook: SetScreenSize).</summary>
        public int pixelWidth { get { return targetTexture != null ? targetTexture.width : _pixelWidth; } }
        public int pixelHeight { get { return targetTexture != null ? targetTexture.height : _pixelHeight; } }
        public float aspect { get { return pixelHeight > 0 ? (float)pixelWidth / pixelHeight : 0f; } }
        public RenderTexture targetTexture { get; set; }
        /// <summary>Test hook: the size of the screen the camera renders to without a target texture.</summary>
        public void SetScreenSize(int width, int height) { _pixelWidth = width; _pixelHeight = height; }
        /// <summary>Test hook: the texture each Render drew into (null: the screen).</summary>
        public readonly List<RenderTexture> RenderedInto = new List<RenderTexture>();
        public void Render() { RenderedInto.Add(targetTexture); }
    }

    public struct Rect
    {
        public float x, y, width, height;
        public Rect(float x, float y, float width, float height) { this.x = x; this.y = y; this.width = width; this.height = height; }
    }

    public enum TextureFormat { RGB24 = 3, RGBA32 = 4 }

    public class Texture : Object
    {
        public int width { get; protected set; }
        public int height { get; protected set; }
    }

    public sealed class RenderTexture : Texture
    {
        /// <summary>Test hook: temporaries handed out and not released yet.</summary>
        public static int TemporariesInUse;
        public static RenderTexture active { get; set; }
        public int depth { get; private set; }
        public static RenderTexture GetTemporary(int width, int height, int depthBuffer)
        {
            TemporariesInUse++;
            return new RenderTexture { width = width, height = height, depth = depthBuffer };
        }
        public static void ReleaseTemporary(RenderTexture texture)
        {
            if (texture != null) TemporariesInUse--;
        }
    }

    public sealed class Texture2D : Texture
    {
        public TextureFormat format { get; private set; }
        /// <summary>Test hook: the render texture ReadPixels read from (RenderTexture.active then), and what it read.</summary>
        public RenderTexture ReadFrom { get; private set; }
        public Rect ReadRect { get; private set; }
        public bool Applied { get; private set; }
        public Texture2D(int width, int height, TextureFormat format, bool mipChain)
        {
            this.width = width;
            this.height = height;
            this.format = format;
        }
        public void ReadPixels(Rect source, int destX, int destY)
        {
            ReadFrom = RenderTexture.active;
            ReadRect = source;
        }
        public void Apply(bool updateMipmaps) { Applied = true; }
    }

    public static class ImageConversion
    {
        /// <summary>Test hook: the textures encoded, in order.</summary>
        public static readonly List<Texture2D> Encoded = new List<Texture2D>();

        /// <summary>
        /// Not an encoder: the JPEG markers that say what was encoded (SOI, a SOF0 frame header with
        /// the texture's size and 3 components, EOI), and no image data. Enough for a format check
        /// by signature and for tests to read the size back.
        /// </summary>
        public static byte[] EncodeToJPG(this Texture2D tex, int quality)
        {
            Encoded.Add(tex);
            int w = tex.width, h = tex.height;
            return new byte[]
            {
                0xFF, 0xD8, // SOI
                0xFF, 0xC0, 0x00, 0x11, 0x08, (byte)(h >> 8), (byte)h, (byte)(w >> 8), (byte)w, 0x03,
                0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, // SOF0: 8-bit, h x w, Y Cb Cr
                0xFF, 0xD9, // EOI
            };
        }
    }

    public struct Color
    {
        public float r, g, b, a;
        public Color(float r, float g, float b, float a = 1f) { this.r = r; this.g = g; this.b = b; this.a = a; }
        public static Color white { get { return new Color(1, 1, 1); } }
    }

    public struct Vector3
    {
        public float x, y, z;
        public Vector3(float x, float y, float z) { this.x = x; this.y = y; this.z = z; }
        public static Vector3 zero { get { return new Vector3(0, 0, 0); } }
        public static Vector3 one { get { return new Vector3(1, 1, 1); } }
        public static Vector3 operator +(Vector3 a, Vector3 b) { return new Vector3(a.x + b.x, a.y + b.y, a.z + b.z); }
        public static Vector3 operator -(Vector3 a, Vector3 b) { return new Vector3(a.x - b.x, a.y - b.y, a.z - b.z); }
        public static Vector3 operator *(Vector3 a, float d) { return new Vector3(a.x * d, a.y * d, a.z * d); }
        public static Vector3 ClampMagnitude(Vector3 v, float max)
        {
            float m = (float)Math.Sqrt(v.x * v.x + v.y * v.y + v.z * v.z);
            return m > max && m > 0 ? v * (max / m) : v;
        }
        public override string ToString() { return "(" + x + ", " + y + ", " + z + ")"; }
    }

    public static class Mathf
    {
        public static int Clamp(int v, int min, int max) { return v < min ? min : v > max ? max : v; }
        public static float Clamp(float v, float min, float max) { return v < min ? min : v > max ? max : v; }
        public static float Clamp01(float v) { return v < 0f ? 0f : v > 1f ? 1f : v; }
        public static float Max(float a, float b) { return a > b ? a : b; }
        public static float Exp(float p) { return (float)Math.Exp(p); }
    }

    public static class Time
    {
        public static float deltaTime { get; set; }
        public static float unscaledDeltaTime { get; set; }
        /// <summary>Test hook: tests advance it by hand.</summary>
        public static float realtimeSinceStartup { get; set; }
    }

    public enum UserAuthorization { WebCam = 1, Microphone = 2 }

    public class AsyncOperation
    {
        public bool isDone { get; internal set; }
        public event Action<AsyncOperation> completed;
        internal void Complete() { isDone = true; var h = completed; if (h != null) h(this); }
    }

    public static class Application
    {
        public static bool isPlaying { get; set; }
        public static bool MicrophoneAuthorized = true;
        public static AsyncOperation RequestUserAuthorization(UserAuthorization mode)
        {
            var op = new AsyncOperation();
            op.Complete();
            return op;
        }
        public static bool HasUserAuthorization(UserAuthorization mode) { return MicrophoneAuthorized; }
    }

    public static class Debug
    {
        public static readonly List<string> Messages = new List<string>();
        public static void Log(object m) { Messages.Add("log: " + m); }
        public static void LogWarning(object m) { Messages.Add("warning: " + m); }
        public static void LogError(object m) { Messages.Add("error: " + m); }
        public static void LogException(Exception e) { Messages.Add("exception: " + e); }
    }

    public enum KeyCode { None = 0, Space = 32, T = 116, V = 118 }

    public static class Input
    {
        public static readonly HashSet<KeyCode> Down = new HashSet<KeyCode>();
        public static readonly HashSet<KeyCode> Up = new HashSet<KeyCode>();
        public static bool GetKeyDown(KeyCode k) { return Down.Contains(k); }
        public static bool GetKeyUp(KeyCode k) { return Up.Contains(k); }
        public static bool GetKey(KeyCode k) { return Down.Contains(k); }
    }

    public sealed class AudioClip : Object
    {
        internal float[] data;
        public int samples { get; private set; }
        public int channels { get; private set; }
        public int frequency { get; private set; }

        public static AudioClip Create(string name, int lengthSamples, int channels, int frequency, bool stream)
        {
            return new AudioClip
            {
                name = name, samples = lengthSamples, channels = channels, frequency = frequency,
                data = new float[lengthSamples * channels],
            };
        }

        // As documented for Unity: a read past the end wraps to the start of the clip.
        public bool GetData(float[] buffer, int offsetSamples)
        {
            int frames = buffer.Length / channels;
            for (int f = 0; f < frames; f++)
            {
                int src = (offsetSamples + f) % samples;
                for (int c = 0; c < channels; c++) buffer[f * channels + c] = data[src * channels + c];
            }
            return true;
        }

        public bool SetData(float[] buffer, int offsetSamples)
        {
            int frames = buffer.Length / channels;
            for (int f = 0; f < frames; f++)
            {
                int dst = (offsetSamples + f) % samples;
                for (int c = 0; c < channels; c++) data[dst * channels + c] = buffer[f * channels + c];
            }
            return true;
        }
    }

    public sealed class AudioListener : Behaviour { }

    public sealed class AudioSource : Behaviour
    {
        public AudioClip clip { get; set; }
        public bool loop { get; set; }
        public bool playOnAwake { get; set; }
        public float spatialBlend { get; set; }
        public float volume { get; set; }
        public bool spatialize { get; set; }
        public bool spatializePostEffects { get; set; }
        public Audio.AudioMixerGroup outputAudioMixerGroup { get; set; }
        public bool isPlaying { get; private set; }
        public int PlayCount { get; private set; }
        public readonly List<AudioClip> OneShots = new List<AudioClip>();
        public AudioSource() { volume = 1f; }
        public void Play() { isPlaying = true; PlayCount++; }
        public void Stop() { isPlaying = false; }
        public void Pause() { isPlaying = false; }
        public void PlayOneShot(AudioClip c) { OneShots.Add(c); }
    }

    public static class AudioSettings
    {
        public delegate void AudioConfigurationChangeHandler(bool deviceWasChanged);
        public static event AudioConfigurationChangeHandler OnAudioConfigurationChanged;
        public static int outputSampleRate { get; set; }

        static AudioSettings() { outputSampleRate = 48000; }

        /// <summary>Test hook: change the rate and notify, as a device change would.</summary>
        public static void SimulateConfigurationChange(int newRate)
        {
            outputSampleRate = newRate;
            var h = OnAudioConfigurationChanged;
            if (h != null) h(true);
        }

        public static int HandlerCount
        {
            get { var h = OnAudioConfigurationChanged; return h == null ? 0 : h.GetInvocationList().Length; }
        }
    }

    /// <summary>
    /// A simulated microphone: tests write samples with Feed, which advances the position; the
    /// position stands still otherwise (a stalled device). Unplug removes the device.
    /// </summary>
    public static class Microphone
    {
        public static string[] devices = { "Stub Microphone" };
        public static int SimulatedChannels = 1;
        public static int StartCount;
        public static string LastStartedDevice;
        private static AudioClip s_clip;
        private static int s_position;
        private static bool s_recording;

        public static AudioClip Start(string deviceName, bool loop, int lengthSec, int frequency)
        {
            StartCount++;
            LastStartedDevice = deviceName;
            if (devices.Length == 0 || (deviceName != null && Array.IndexOf(devices, deviceName) < 0)) return null;
            s_clip = AudioClip.Create("Microphone", lengthSec * frequency, SimulatedChannels, frequency, false);
            s_position = 0;
            s_recording = true;
            return s_clip;
        }

        public static void End(string deviceName) { s_recording = false; }
        public static bool IsRecording(string deviceName) { return s_recording; }
        public static int GetPosition(string deviceName) { return s_recording ? s_position : 0; }

        public static void GetDeviceCaps(string deviceName, out int minFreq, out int maxFreq)
        {
            minFreq = 0;
            maxFreq = 0;
        }

        /// <summary>Test hook: the device records these interleaved samples (wrapping in the clip).</summary>
        public static void Feed(float[] interleaved)
        {
            if (!s_recording) return;
            s_clip.SetData(interleaved, s_position);
            s_position = (s_position + interleaved.Length / s_clip.channels) % s_clip.samples;
        }

        /// <summary>Test hook: the device goes away (recording stops, the list is empty).</summary>
        public static void Unplug()
        {
            devices = new string[0];
            s_recording = false;
        }

        /// <summary>Test hook: back to one default device, not recording.</summary>
        public static void Reset()
        {
            devices = new[] { "Stub Microphone" };
            s_recording = false;
            StartCount = 0;
            LastStartedDevice = null;
        }
    }

    [AttributeUsage(AttributeTargets.Field)] public sealed class SerializeField : Attribute { }
    [AttributeUsage(AttributeTargets.Field)] public sealed class HideInInspector : Attribute { }
    [AttributeUsage(AttributeTargets.Field, AllowMultiple = true)]
    public sealed class HeaderAttribute : Attribute { public HeaderAttribute(string header) { } }
    [AttributeUsage(AttributeTargets.Field)]
    public sealed class TooltipAttribute : Attribute { public TooltipAttribute(string tooltip) { } }
    [AttributeUsage(AttributeTargets.Field)]
    public sealed class TextAreaAttribute : Attribute { public TextAreaAttribute() { } public TextAreaAttribute(int minLines, int maxLines) { } }
    [AttributeUsage(AttributeTargets.Field)]
    public sealed class RangeAttribute : Attribute { public RangeAttribute(float min, float max) { } }
    [AttributeUsage(AttributeTargets.Class)] public sealed class DisallowMultipleComponent : Attribute { }
    [AttributeUsage(AttributeTargets.Class)]
    public sealed class AddComponentMenu : Attribute { public AddComponentMenu(string menuName) { } }
    [AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
    public sealed class RequireComponent : Attribute
    {
        public Type m_Type0;
        public RequireComponent(Type requiredComponent) { m_Type0 = requiredComponent; }
    }
}

namespace UnityEngine.Events
{
    public abstract class UnityEventBase
    {
    }

    public class UnityEvent : UnityEventBase
    {
        private Action _calls;
        public void AddListener(Action call) { _calls += call; }
        public void RemoveListener(Action call) { _calls -= call; }
        public void Invoke() { if (_calls != null) _calls(); }
    }

    public class UnityEvent<T0> : UnityEventBase
    {
        private Action<T0> _calls;
        public void AddListener(Action<T0> call) { _calls += call; }
        public void RemoveListener(Action<T0> call) { _calls -= call; }
        public void Invoke(T0 a) { if (_calls != null) _calls(a); }
    }

    public class UnityEvent<T0, T1> : UnityEventBase
    {
        private Action<T0, T1> _calls;
        public void AddListener(Action<T0, T1> call) { _calls += call; }
        public void RemoveListener(Action<T0, T1> call) { _calls -= call; }
        public void Invoke(T0 a, T1 b) { if (_calls != null) _calls(a, b); }
    }

    public class UnityEvent<T0, T1, T2> : UnityEventBase
    {
        private Action<T0, T1, T2> _calls;
        public void AddListener(Action<T0, T1, T2> call) { _calls += call; }
        public void RemoveListener(Action<T0, T1, T2> call) { _calls -= call; }
        public void Invoke(T0 a, T1 b, T2 c) { if (_calls != null) _calls(a, b, c); }
    }
}

namespace UnityEngine.Scripting
{
    [AttributeUsage(AttributeTargets.All)] public sealed class PreserveAttribute : Attribute { }
}

namespace UnityEngine.Android
{
    public class PermissionCallbacks
    {
        public event Action<string> PermissionGranted;
        public event Action<string> PermissionDenied;
        public event Action<string> PermissionDeniedAndDontAskAgain;
        internal void Raise(bool granted)
        {
            var h = granted ? PermissionGranted : PermissionDenied;
            if (h != null) h(Permission.Microphone);
            if (!granted && PermissionDeniedAndDontAskAgain != null) { }
        }
    }

    public static class Permission
    {
        public const string Microphone = "android.permission.RECORD_AUDIO";
        public static bool Granted = true;
        public static int RequestCount;
        public static bool HasUserAuthorizedPermission(string permission) { return Granted; }
        public static void RequestUserPermission(string permission) { RequestCount++; }
        public static void RequestUserPermission(string permission, PermissionCallbacks callbacks)
        {
            RequestCount++;
            callbacks.Raise(Granted);
        }
    }
}

namespace UnityEngine.Audio
{
    public class AudioMixerGroup : Object { }
}

namespace UnityEngine.InputSystem
{
    public class InputAction
    {
        public struct CallbackContext { }
        public bool enabled { get; private set; }
        public event Action<CallbackContext> started;
        public event Action<CallbackContext> canceled;
        public void Enable() { enabled = true; }
        public void Disable() { enabled = false; }
        /// <summary>Test hook: the control is pressed (true) or released (false).</summary>
        public void Simulate(bool pressed)
        {
            var h = pressed ? started : canceled;
            if (h != null) h(new CallbackContext());
        }
    }

    public class InputActionReference : ScriptableObject
    {
        public InputAction action { get; set; }
    }
}
#endif
