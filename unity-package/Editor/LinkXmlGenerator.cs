// Managed code stripping (IL2CPP, Medium/High) removes methods nothing calls directly, and
// [RealtimeTool] methods are only ever called by reflection. Unity ignores link.xml files
// inside packages, so the build hands the linker one generated from the project's tool methods.
using System;
using System.Collections.Generic;
using System.IO;
using System.Reflection;
using System.Security;
using System.Text;
using UnityEditor;
using UnityEditor.Build;
using UnityEditor.Build.Reporting;
using CompilationPipeline = UnityEditor.Compilation.CompilationPipeline;
using AssembliesType = UnityEditor.Compilation.AssembliesType;
using UnityEditor.UnityLinker;

namespace RealtimeVoice.EditorTools
{
    /// <summary>Writes a link.xml that keeps every [RealtimeTool] method and the plugin's runtime assembly.</summary>
    public sealed class LinkXmlGenerator : IUnityLinkerProcessor
    {
        /// <summary>The runtime assembly: P/Invoke surface and reflection-driven tool binding.</summary>
        public const string RuntimeAssembly = "RealtimeVoice.Runtime";

        /// <inheritdoc />
        public int callbackOrder { get { return 0; } }

        /// <inheritdoc />
        public string GenerateAdditionalLinkXmlFile(BuildReport report, UnityLinkerBuildPipelineData data)
        {
            var player = new HashSet<string>();
            foreach (var a in CompilationPipeline.GetAssemblies(AssembliesType.Player)) player.Add(a.name);
            string path = Path.Combine(data.inputDirectory, "RealtimeVoice.link.xml");
            File.WriteAllText(path, Build(AppDomain.CurrentDomain.GetAssemblies(), player));
            return path;
        }

        // Members of the interface up to Unity 2021.1, plain methods after: defined in every version.

        /// <summary>Nothing to do before the linker runs.</summary>
        public void OnBeforeRun(BuildReport report, UnityLinkerBuildPipelineData data) { }

        /// <summary>Nothing to do after the linker ran.</summary>
        public void OnAfterRun(BuildReport report, UnityLinkerBuildPipelineData data) { }

        /// <summary>
        /// The link.xml text: the runtime assembly whole, and each [RealtimeTool] method (with its
        /// type) of the assemblies in <paramref name="playerAssemblies"/> (null: every assembly).
        /// </summary>
        public static string Build(IEnumerable<Assembly> assemblies, ICollection<string> playerAssemblies)
        {
            var sb = new StringBuilder();
            sb.Append("<linker>\n");
            sb.Append("  <assembly fullname=\"").Append(RuntimeAssembly).Append("\" preserve=\"all\"/>\n");
            foreach (var assembly in assemblies)
            {
                string name = assembly.GetName().Name;
                if (name == RuntimeAssembly || (playerAssemblies != null && !playerAssemblies.Contains(name))) continue;
                var types = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
                foreach (var type in LoadableTypes(assembly))
                {
                    foreach (var m in type.GetMethods(BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.DeclaredOnly))
                    {
                        if (!m.IsDefined(typeof(RealtimeToolAttribute), true)) continue;
                        SortedSet<string> methods;
                        if (!types.TryGetValue(type.FullName, out methods)) types[type.FullName] = methods = new SortedSet<string>(StringComparer.Ordinal);
                        methods.Add(m.Name);
                    }
                }
                if (types.Count == 0) continue;
                sb.Append("  <assembly fullname=\"").Append(SecurityElement.Escape(name)).Append("\">\n");
                foreach (var t in types)
                {
                    sb.Append("    <type fullname=\"").Append(SecurityElement.Escape(t.Key)).Append("\">\n");
                    foreach (var m in t.Value) sb.Append("      <method name=\"").Append(SecurityElement.Escape(m)).Append("\"/>\n");
                    sb.Append("    </type>\n");
                }
                sb.Append("  </assembly>\n");
            }
            sb.Append("</linker>\n");
            return sb.ToString();
        }

        private static Type[] LoadableTypes(Assembly assembly)
        {
            if (assembly.IsDynamic) return new Type[0];
            try
            {
                return assembly.GetTypes();
            }
            catch (ReflectionTypeLoadException e)
            {
                return Array.FindAll(e.Types, t => t != null);
            }
        }
    }
}
