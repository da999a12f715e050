// Lip sync: moves a character's mouth with the model's voice, from RealtimeSession.GetMouth
// (the shape of the audio the device is playing now), onto blendshapes or a jaw bone.
using System;
using System.Collections.Generic;
using UnityEngine;

namespace RealtimeVoice
{
    /// <summary>
    /// Drives a character's mouth from <see cref="RealtimeSession.GetMouth"/>: each
    /// <see cref="Binding"/> sets one blendshape of <see cref="Face"/> to a mix of the six mouth
    /// weights (silence and the VRM vowels aa, ih, ou, ee, oh), opened by the voice's level;
    /// presets name the blendshapes of VRM, ARKit and Oculus-viseme rigs. Rigs without blendshapes
    /// use <see cref="LipSyncMode.JawBone"/>: a bone rotated by how open the mouth is.
    /// </summary>
    [AddComponentMenu("Realtime Voice/Realtime Lip Sync")]
    public sealed class RealtimeLipSync : MonoBehaviour
    {
        /// <summary>One blendshape and how much of each mouth weight moves it (0..1 each).</summary>
        [Serializable]
        public sealed class Binding
        {
            /// <summary>The blendshape's name on the mesh (matched exactly, else case-insensitively
            /// or as the end of a longer name such as "Face.viseme_aa").</summary>
            public string blendShape;
            /// <summary>Contribution of silence (not scaled by the level).</summary>
            public float sil;
            /// <summary>Contribution of the vowel a.</summary>
            public float aa;
            /// <summary>Contribution of the vowel i.</summary>
            public float ih;
            /// <summary>Contribution of the vowel u.</summary>
            public float ou;
            /// <summary>Contribution of the vowel e.</summary>
            public float ee;
            /// <summary>Contribution of the vowel o.</summary>
            public float oh;

            /// <summary>An empty binding (the inspector's "+").</summary>
            public Binding() { }

            /// <summary>A binding of <paramref name="name"/> to the given contributions.</summary>
            public Binding(string name, float sil, float aa, float ih, float ou, float ee, float oh)
            {
                blendShape = name;
                this.sil = sil;
                this.aa = aa;
                this.ih = ih;
                this.ou = ou;
                this.ee = ee;
                this.oh = oh;
            }

            /// <summary>The vowel part of the mix for <paramref name="m"/>.</summary>
            public float Vowels(RealtimeMouth m)
            {
                return aa * m.Aa + ih * m.Ih + ou * m.Ou + ee * m.Ee + oh * m.Oh;
            }
        }

        [Tooltip("Where the mouth comes from (found on this GameObject when empty).")]
        [SerializeField] private RealtimeVoice voice;
        [Tooltip("Blendshapes on a face mesh, or a jaw bone.")]
        [SerializeField] private LipSyncMode mode = LipSyncMode.BlendShapes;
        [Tooltip("The face mesh whose blendshapes move (BlendShapes mode).")]
        [SerializeField] private SkinnedMeshRenderer face;
        [Tooltip("Blendshape names of a common rig; Custom keeps the bindings as edited.")]
        [SerializeField] private LipSyncPreset preset = LipSyncPreset.Vrm;
        [Tooltip("Blendshapes and their mix of the mouth weights (filled by the preset unless Custom).")]
        [SerializeField] private List<Binding> bindings = new List<Binding>();
        [Tooltip("Multiplies every driven value (1: as analysed).")]
        [SerializeField] private float gain = 1f;
        [Tooltip("How much the level opens the vowel shapes: open = clamp01(level * this). 0 ignores the level.")]
        [SerializeField] private float levelToOpen = 1.5f;
        [Tooltip("Time constant of the smoothing, in seconds (0: none).")]
        [Range(0f, 0.5f)]
        [SerializeField] private float smoothing = 0.04f;
        [Tooltip("The jaw bone (JawBone mode).")]
        [SerializeField] private Transform jaw;
        [Tooltip("Jaw rotation when fully open, in degrees.")]
        [SerializeField] private float jawOpenDegrees = 18f;
        [Tooltip("Axis of the jaw rotation, in the bone's local space.")]
        [SerializeField] private Vector3 jawAxis = new Vector3(1f, 0f, 0f);

        private int[] _indices = new int[0];
        private float[] _values = new float[0];
        private float _jawOpen;
        private Quaternion _jawRest = Quaternion.identity;
        private bool _jawRestKnown;
        private Mesh _resolvedFor;
        private LipSyncPreset _appliedPreset = LipSyncPreset.Custom;

        /// <summary>The voice the mouth follows.</summary>
        public RealtimeVoice Voice { get { return voice; } set { voice = value; } }
        /// <summary>Blendshapes or jaw bone.</summary>
        public LipSyncMode Mode { get { return mode; } set { mode = value; } }
        /// <summary>The face mesh (BlendShapes mode).</summary>
        public SkinnedMeshRenderer Face { get { return face; } set { face = value; _resolvedFor = null; } }
        /// <summary>The jaw bone (JawBone mode); its rotation when set is the closed mouth.</summary>
        public Transform Jaw { get { return jaw; } set { jaw = value; _jawRestKnown = false; } }
        /// <summary>Jaw rotation when fully open, in degrees.</summary>
        public float JawOpenDegrees { get { return jawOpenDegrees; } set { jawOpenDegrees = value; } }
        /// <summary>Multiplies every driven value.</summary>
        public float Gain { get { return gain; } set { gain = value; } }
        /// <summary>open = clamp01(level * this) scales the vowel shapes; 0 ignores the level.</summary>
        public float LevelToOpen { get { return levelToOpen; } set { levelToOpen = value; } }
        /// <summary>Smoothing time constant, in seconds (0: none).</summary>
        public float Smoothing { get { return smoothing; } set { smoothing = Mathf.Max(0f, value); } }
        /// <summary>The bindings in use (edit them with <see cref="LipSyncPreset.Custom"/>).</summary>
        public List<Binding> Bindings { get { return bindings; } }
        /// <summary>How open the jaw is now, 0..1 (both modes).</summary>
        public float JawOpen { get { return _jawOpen; } }

        /// <summary>The preset; setting one other than Custom replaces the bindings with it.</summary>
        public LipSyncPreset Preset
        {
            get { return preset; }
            set { preset = value; ApplyPreset(); }
        }

        /// <summary>The bindings of a preset (a new list each call).</summary>
        public static List<Binding> PresetBindings(LipSyncPreset preset)
        {
            var b = new List<Binding>();
            switch (preset)
            {
                case LipSyncPreset.Vrm:
                    // VRM 1.0 expression names (VRM 0.x "A I U E O" blendshape clips map the same way).
                    b.Add(new Binding("aa", 0, 1, 0, 0, 0, 0));
                    b.Add(new Binding("ih", 0, 0, 1, 0, 0, 0));
                    b.Add(new Binding("ou", 0, 0, 0, 1, 0, 0));
                    b.Add(new Binding("ee", 0, 0, 0, 0, 1, 0));
                    b.Add(new Binding("oh", 0, 0, 0, 0, 0, 1));
                    break;
                case LipSyncPreset.ARKit:
                    // ARKit has no vowels: each vowel is a mix of jaw, lip rounding and spreading.
                    b.Add(new Binding("jawOpen", 0, 0.7f, 0.25f, 0.2f, 0.4f, 0.5f));
                    b.Add(new Binding("mouthFunnel", 0, 0, 0, 0.4f, 0, 0.6f));
                    b.Add(new Binding("mouthPucker", 0, 0, 0, 0.8f, 0, 0.3f));
                    b.Add(new Binding("mouthStretch_L", 0, 0.1f, 0.5f, 0, 0.4f, 0));
                    b.Add(new Binding("mouthStretch_R", 0, 0.1f, 0.5f, 0, 0.4f, 0));
                    // Lips together while the jaw is barely open (a closed mouth at rest is 0).
                    b.Add(new Binding("mouthClose", 0, 0, 0.15f, 0.1f, 0, 0));
                    break;
                case LipSyncPreset.Oculus:
                    b.Add(new Binding("viseme_sil", 1, 0, 0, 0, 0, 0));
                    b.Add(new Binding("viseme_aa", 0, 1, 0, 0, 0, 0));
                    b.Add(new Binding("viseme_I", 0, 0, 1, 0, 0, 0));
                    b.Add(new Binding("viseme_U", 0, 0, 0, 1, 0, 0));
                    b.Add(new Binding("viseme_E", 0, 0, 0, 0, 1, 0));
                    b.Add(new Binding("viseme_O", 0, 0, 0, 0, 0, 1));
                    break;
            }
            return b;
        }

        /// <summary>How open the mouth is for <paramref name="m"/> (before smoothing), 0..1: the jaw.</summary>
        public float OpenTarget(RealtimeMouth m)
        {
            float shape = m.Aa + 0.7f * m.Oh + 0.55f * m.Ee + 0.35f * m.Ou + 0.3f * m.Ih;
            return Mathf.Clamp01(gain * Open(m) * shape);
        }

        private float Open(RealtimeMouth m)
        {
            return levelToOpen > 0f ? Mathf.Clamp01(m.Level * levelToOpen) : 1f;
        }

        /// <summary>The 0..1 target of <paramref name="binding"/> for <paramref name="m"/> (before smoothing).</summary>
        public float Target(Binding binding, RealtimeMouth m)
        {
            return Mathf.Clamp01(gain * (binding.sil * m.Sil + Open(m) * binding.Vowels(m)));
        }

        private void Awake()
        {
            if (voice == null) voice = GetComponent<RealtimeVoice>();
            ApplyPreset();
        }

        private void ApplyPreset()
        {
            if (preset == LipSyncPreset.Custom || preset == _appliedPreset) return;
            bindings = PresetBindings(preset);
            _appliedPreset = preset;
            _resolvedFor = null;
        }

        private void Update()
        {
            RealtimeMouth m;
            var session = voice != null ? voice.Session : null;
            if (session == null || !session.GetMouth(out m)) m = RealtimeMouth.Silent;
            Apply(m, Time.deltaTime);
        }

        private void OnDisable()
        {
            Apply(RealtimeMouth.Silent, float.PositiveInfinity); // a closed mouth, at once
        }

        /// <summary>
        /// Moves the face to <paramref name="mouth"/>, smoothed over <paramref name="deltaTime"/>
        /// seconds (Update calls it with GetMouth each frame; call it yourself to drive the face
        /// from another source).
        /// </summary>
        public void Apply(RealtimeMouth mouth, float deltaTime)
        {
            ApplyPreset();
            float k = smoothing <= 0f || float.IsInfinity(deltaTime) ? 1f : 1f - Mathf.Exp(-Mathf.Max(0f, deltaTime) / smoothing);
            _jawOpen += k * (OpenTarget(mouth) - _jawOpen);
            if (mode == LipSyncMode.JawBone)
            {
                if (jaw == null) return;
                if (!_jawRestKnown) { _jawRest = jaw.localRotation; _jawRestKnown = true; }
                jaw.localRotation = _jawRest * Quaternion.AngleAxis(jawOpenDegrees * _jawOpen, jawAxis);
                return;
            }
            if (face == null || face.sharedMesh == null) return;
            Resolve(face.sharedMesh);
            for (int i = 0; i < bindings.Count; i++)
            {
                _values[i] += k * (Target(bindings[i], mouth) - _values[i]);
                if (_indices[i] >= 0) face.SetBlendShapeWeight(_indices[i], 100f * _values[i]);
            }
        }

        /// <summary>The blendshape index a binding drives on the current face (-1: not found).</summary>
        public int BlendShapeIndex(int binding)
        {
            if (face == null || face.sharedMesh == null) return -1;
            Resolve(face.sharedMesh);
            return binding >= 0 && binding < _indices.Length ? _indices[binding] : -1;
        }

        private void Resolve(Mesh mesh)
        {
            if (_resolvedFor == mesh && _indices.Length == bindings.Count) return;
            _resolvedFor = mesh;
            _indices = new int[bindings.Count];
            _values = new float[bindings.Count];
            for (int i = 0; i < bindings.Count; i++) _indices[i] = FindBlendShape(mesh, bindings[i].blendShape);
        }

        /// <summary>
        /// The index of blendshape <paramref name="name"/> on <paramref name="mesh"/>: exact, else a
        /// case-insensitive match, else a name ending in "." or "_" followed by it (exporters prefix
        /// names, e.g. "Face.viseme_aa", "Fcl_MTH_aa"); -1 when none.
        /// </summary>
        public static int FindBlendShape(Mesh mesh, string name)
        {
            if (mesh == null || string.IsNullOrEmpty(name)) return -1;
            int exact = mesh.GetBlendShapeIndex(name);
            if (exact >= 0) return exact;
            int suffix = -1;
            for (int i = 0; i < mesh.blendShapeCount; i++)
            {
                string n = mesh.GetBlendShapeName(i);
                if (string.Equals(n, name, StringComparison.OrdinalIgnoreCase)) return i;
                if (suffix < 0 && n.Length > name.Length && n.EndsWith(name, StringComparison.OrdinalIgnoreCase))
                {
                    char sep = n[n.Length - name.Length - 1];
                    if (sep == '.' || sep == '_') suffix = i;
                }
            }
            return suffix;
        }
    }

    /// <summary>What <see cref="RealtimeLipSync"/> moves.</summary>
    public enum LipSyncMode
    {
        /// <summary>Blendshapes of a SkinnedMeshRenderer.</summary>
        BlendShapes = 0,
        /// <summary>A jaw bone, rotated by how open the mouth is.</summary>
        JawBone = 1,
    }

    /// <summary>Blendshape names of common rigs.</summary>
    public enum LipSyncPreset
    {
        /// <summary>The bindings as edited.</summary>
        Custom = 0,
        /// <summary>VRM: aa, ih, ou, ee, oh.</summary>
        Vrm = 1,
        /// <summary>ARKit face blendshapes: jawOpen, mouthFunnel, mouthPucker, mouthStretch_L/R, mouthClose.</summary>
        ARKit = 2,
        /// <summary>Oculus / Ready Player Me visemes: viseme_sil, viseme_aa, viseme_I, viseme_U, viseme_E, viseme_O.</summary>
        Oculus = 3,
    }
}
