// The mouth of the voice that is playing: the native RvMouth, field for field.
using System.Runtime.InteropServices;

namespace RealtimeVoice
{
    /// <summary>
    /// The mouth shape of the model audio the device is playing (<see cref="RealtimeSession.GetMouth"/>):
    /// the header's RvMouth, field for field (append-only: the order is the ABI; a test diffs both).
    /// <c>Sil + Aa + Ih + Ou + Ee + Oh</c> is 1.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct RealtimeMouth
    {
        /// <summary>Loudness of the voice now, 0..1 (fast attack, slower release): for a jaw or a meter.</summary>
        public float Level;
        /// <summary>Weight of a closed or neutral mouth: silence, and unvoiced sounds such as /s/.</summary>
        public float Sil;
        /// <summary>Weight of the VRM "aa" mouth (the vowel a).</summary>
        public float Aa;
        /// <summary>Weight of the VRM "ih" mouth (the vowel i).</summary>
        public float Ih;
        /// <summary>Weight of the VRM "ou" mouth (the vowel u).</summary>
        public float Ou;
        /// <summary>Weight of the VRM "ee" mouth (the vowel e).</summary>
        public float Ee;
        /// <summary>Weight of the VRM "oh" mouth (the vowel o).</summary>
        public float Oh;
        /// <summary>Reserved, 0 (keeps `played_ms` 8-byte aligned).</summary>
        public float Reserved0;
        /// <summary>Model audio of the current response handed to the device so far, in ms (0 again
        /// after a barge-in or cancel).</summary>
        public long PlayedMs;

        /// <summary>A closed mouth: level 0, <see cref="Sil"/> 1.</summary>
        public static RealtimeMouth Silent
        {
            get { return new RealtimeMouth { Sil = 1f }; }
        }

        /// <summary>The weight of one of the six shapes.</summary>
        public float Weight(MouthShape shape)
        {
            switch (shape)
            {
                case MouthShape.Aa: return Aa;
                case MouthShape.Ih: return Ih;
                case MouthShape.Ou: return Ou;
                case MouthShape.Ee: return Ee;
                case MouthShape.Oh: return Oh;
                default: return Sil;
            }
        }

        /// <summary>The vowel with the largest weight, or <see cref="MouthShape.Sil"/> when silence outweighs every vowel.</summary>
        public MouthShape Strongest
        {
            get
            {
                var best = MouthShape.Sil;
                float w = Sil;
                for (var s = MouthShape.Aa; s <= MouthShape.Oh; s++)
                    if (Weight(s) > w) { w = Weight(s); best = s; }
                return best;
            }
        }
    }

    /// <summary>The six mouth shapes of <see cref="RealtimeMouth"/>: silence and the five VRM vowels.</summary>
    public enum MouthShape
    {
        /// <summary>Closed or neutral mouth.</summary>
        Sil = 0,
        /// <summary>The vowel a (VRM "aa").</summary>
        Aa = 1,
        /// <summary>The vowel i (VRM "ih").</summary>
        Ih = 2,
        /// <summary>The vowel u (VRM "ou").</summary>
        Ou = 3,
        /// <summary>The vowel e (VRM "ee").</summary>
        Ee = 4,
        /// <summary>The vowel o (VRM "oh").</summary>
        Oh = 5,
    }
}
