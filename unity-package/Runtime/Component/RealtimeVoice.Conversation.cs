// The component's conversation calls beyond text and audio: images (a camera's view among them),
// any client event, item deletion. Like the other calls, a native refusal is reported through
// onError, never thrown; wrong arguments throw where they were made.
using System;
using UnityEngine;

namespace RealtimeVoice
{
    public sealed partial class RealtimeVoice
    {
        /// <summary>
        /// Shows the model an image (PNG or JPEG bytes; "image/png" or "image/jpeg"), with an optional
        /// text part before it. The model sees it in its next response. Without a session: nothing.
        /// </summary>
        public void SendImage(byte[] bytes, string mimeType, string text = null)
        {
            if (bytes == null) throw new ArgumentNullException("bytes");
            if (mimeType == null) throw new ArgumentNullException("mimeType");
            var s = _session;
            if (s != null) Guard(() => s.SendImage(bytes, mimeType, text));
        }

        /// <summary>Sends any client event JSON as is (see <see cref="RealtimeSession.SendEvent"/>).</summary>
        public void SendEvent(string clientEventJson)
        {
            if (clientEventJson == null) throw new ArgumentNullException("clientEventJson");
            var s = _session;
            if (s != null) Guard(() => s.SendEvent(clientEventJson));
        }

        /// <summary>Removes an item from the conversation.</summary>
        public void DeleteItem(string itemId)
        {
            if (itemId == null) throw new ArgumentNullException("itemId");
            var s = _session;
            if (s != null) Guard(() => s.DeleteItem(itemId));
        }

        /// <summary>
        /// Shows the model what <paramref name="camera"/> sees now: renders it into a temporary
        /// RenderTexture whose longer side is <paramref name="maxSide"/> pixels (the camera's aspect
        /// kept), reads it back, encodes a JPEG and sends it as <see cref="SendImage"/> does. Main thread
        /// only (it renders the camera once more this frame). Returns the JPEG's size in bytes, or 0 when
        /// there is no session (nothing is rendered then).
        /// </summary>
        /// <exception cref="ArgumentNullException">No camera.</exception>
        /// <exception cref="ArgumentOutOfRangeException">maxSide outside 16..4096 or jpegQuality outside 1..100.</exception>
        public int SendCameraFrame(Camera camera, int maxSide = 512, string text = null, int jpegQuality = 75)
        {
            if (camera == null) throw new ArgumentNullException("camera");
            if (maxSide < 16 || maxSide > 4096) throw new ArgumentOutOfRangeException("maxSide", maxSide, "16 to 4096 pixels");
            if (jpegQuality < 1 || jpegQuality > 100) throw new ArgumentOutOfRangeException("jpegQuality", jpegQuality, "1 to 100");
            var s = _session;
            if (s == null) return 0;
            int width, height;
            FrameSize(camera, maxSide, out width, out height);
            byte[] jpeg = RenderJpeg(camera, width, height, jpegQuality);
            Guard(() => s.SendImage(jpeg, "image/jpeg", text));
            return jpeg.Length;
        }

        /// <summary>The frame size for a camera: the longer side <paramref name="maxSide"/>, the aspect kept.</summary>
        internal static void FrameSize(Camera camera, int maxSide, out int width, out int height)
        {
            double w = camera.pixelWidth, h = camera.pixelHeight;
            if (w <= 0 || h <= 0)
            {
                // No viewport yet (e.g. a disabled camera): its aspect still says the shape.
                double aspect = camera.aspect > 0 ? camera.aspect : 1.0;
                w = aspect;
                h = 1.0;
            }
            if (w >= h)
            {
                width = maxSide;
                height = Math.Max(1, (int)Math.Round(maxSide * h / w));
            }
            else
            {
                height = maxSide;
                width = Math.Max(1, (int)Math.Round(maxSide * w / h));
            }
        }

        private static byte[] RenderJpeg(Camera camera, int width, int height, int quality)
        {
            var target = RenderTexture.GetTemporary(width, height, 24);
            var previousTarget = camera.targetTexture;
            var previousActive = RenderTexture.active;
            Texture2D frame = null;
            try
            {
                camera.targetTexture = target;
                camera.Render();
                RenderTexture.active = target;
                frame = new Texture2D(width, height, TextureFormat.RGB24, false);
                frame.ReadPixels(new Rect(0, 0, width, height), 0, 0);
                frame.Apply(false);
                return frame.EncodeToJPG(quality);
            }
            finally
            {
                camera.targetTexture = previousTarget;
                RenderTexture.active = previousActive;
                RenderTexture.ReleaseTemporary(target);
                if (frame != null) Destroy(frame);
            }
        }
    }
}
