// RealtimeSession: the mouth of the voice that is playing (for lip sync and meters).
using RealtimeVoice.Native;

namespace RealtimeVoice
{
    public sealed partial class RealtimeSession
    {
        /// <summary>
        /// The mouth shape of the model audio the device is playing at this moment (not of audio
        /// decoded ahead of it): true and <paramref name="mouth"/> filled; silence gives level 0 and
        /// <c>Sil</c> 1. False (and a closed mouth) when the session is disposed or the value could
        /// not be read this instant. Cheap, lock-free and never throws: safe every frame from the main
        /// thread and from the audio thread.
        /// </summary>
        public bool GetMouth(out RealtimeMouth mouth)
        {
            ulong h = Handle;
            if (h != 0 && NativeMethods.rv_get_mouth(h, out mouth) == RvStatus.Ok) return true;
            mouth = RealtimeMouth.Silent;
            return false;
        }
    }
}
