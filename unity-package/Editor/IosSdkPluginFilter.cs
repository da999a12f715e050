// The device and simulator static libraries are both arm64, so they ship as two files and
// both import for iOS; an Xcode project must get only the one for the SDK it targets
// (Player Settings > iOS > Target SDK).
using UnityEditor;

namespace RealtimeVoice.EditorTools
{
    /// <summary>Keeps the iOS library of the other SDK out of the build.</summary>
    [InitializeOnLoad]
    public static class IosSdkPluginFilter
    {
        static IosSdkPluginFilter()
        {
            Install();
        }

        /// <summary>Puts the filter on every imported librealtime_voice.a (again after an import).</summary>
        public static void Install()
        {
            foreach (var importer in PluginImporter.GetAllImporters())
            {
                string path = importer.assetPath;
                if (!path.EndsWith("/librealtime_voice.a")) continue;
                importer.SetIncludeInBuildDelegate(p => Include(p, PlayerSettings.iOS.sdkVersion == iOSSdkVersion.SimulatorSDK));
            }
        }

        /// <summary>True when the library at <paramref name="assetPath"/> belongs in a build for the simulator (or the device).</summary>
        public static bool Include(string assetPath, bool simulator)
        {
            bool simulatorSlice = assetPath.Replace('\\', '/').Contains("/iOS/Simulator/");
            return simulatorSlice == simulator;
        }
    }
}
