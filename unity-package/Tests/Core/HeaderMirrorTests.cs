// The C# mirrors of the C header cannot drift: RvStats and RvMouth (every field's name, type,
// offset and doc, in order), the RvState values (RealtimeState) and the status codes (RvStatus), diffed
// against include/realtime_voice.h as it is now. Generic: a field appended to the header fails
// here until the C# struct and RealtimeStats have it too, with the same doc.
#if RV_MONO_TESTS || UNITY_INCLUDE_TESTS
using System;
using System.Collections.Generic;
using System.IO;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using NUnit.Framework;
using RealtimeVoice.Native;

namespace RealtimeVoice.Tests
{
    [TestFixture]
    public static class HeaderMirrorTests
    {
        /// <summary>One field, constant or enum value: name, C or C# type (or value), doc.</summary>
        public struct Item
        {
            public string Name, Type, Doc;
            public override string ToString() { return Name + " : " + Type + " /* " + Doc + " */"; }
        }

        internal static string RepoFile(string relative)
        {
            var root = Environment.GetEnvironmentVariable("RV_REPO_ROOT");
            var candidates = new List<string>();
            if (!string.IsNullOrEmpty(root)) candidates.Add(Path.Combine(root, relative));
            for (var dir = new DirectoryInfo(AppDomain.CurrentDomain.BaseDirectory); dir != null; dir = dir.Parent)
                candidates.Add(Path.Combine(dir.FullName, relative));
            foreach (var c in candidates) if (File.Exists(c)) return File.ReadAllText(c);
            Assert.Ignore(relative + " not found (set RV_REPO_ROOT)");
            return null;
        }

        private static string Header { get { return RepoFile("include/realtime_voice.h"); } }

        /// <summary>Doc text as one line: `code` and &lt;c&gt;code&lt;/c&gt; alike, whitespace collapsed.</summary>
        public static string NormalizeDoc(string doc)
        {
            doc = Regex.Replace(doc, @"<c>(.*?)</c>", "`$1`");
            doc = doc.Replace("&lt;", "<").Replace("&gt;", ">").Replace("&amp;", "&");
            return Regex.Replace(doc, @"\s+", " ").Trim();
        }

        private static string CommentText(string block)
        {
            // " * line" lines of a /** ... */ block
            var lines = new List<string>();
            foreach (var l in block.Split('\n')) lines.Add(Regex.Replace(l, @"^\s*\*\s?", ""));
            return NormalizeDoc(string.Join(" ", lines.ToArray()));
        }

        public static List<Item> HeaderStructFields(string header, string name)
        {
            var m = Regex.Match(header, @"typedef struct " + name + @" \{(.*?)\} " + name + ";", RegexOptions.Singleline);
            Assert.IsTrue(m.Success, name + " in the header");
            var items = new List<Item>();
            foreach (Match f in Regex.Matches(m.Groups[1].Value, @"/\*\*((?:(?!\*/).)*)\*/\s*(\w+)\s+(\w+);", RegexOptions.Singleline))
                items.Add(new Item { Doc = CommentText(f.Groups[1].Value), Type = f.Groups[2].Value, Name = f.Groups[3].Value });
            return items;
        }

        public static List<Item> HeaderDefines(string header, string prefixPattern)
        {
            var items = new List<Item>();
            foreach (Match d in Regex.Matches(header, @"/\*\*((?:(?!\*/).)*)\*/\s*#define (" + prefixPattern + @"\w*) (-?\d+)", RegexOptions.Singleline))
                items.Add(new Item { Doc = CommentText(d.Groups[1].Value), Name = d.Groups[2].Value, Type = d.Groups[3].Value });
            return items;
        }

        /// <summary>The /// summary docs of the members of C# type <paramref name="typeName"/> in <paramref name="source"/>.</summary>
        public static Dictionary<string, string> CSharpDocs(string source, string typeName)
        {
            var start = Regex.Match(source, @"\b(struct|class|enum) " + typeName + @"\b");
            Assert.IsTrue(start.Success, typeName + " in the C# source");
            int open = source.IndexOf('{', start.Index), depth = 0, end = open;
            for (; end < source.Length; end++)
            {
                if (source[end] == '{') depth++;
                else if (source[end] == '}' && --depth == 0) break;
            }
            string body = source.Substring(open, end - open);
            var docs = new Dictionary<string, string>();
            foreach (Match m in Regex.Matches(body, @"/// <summary>(.*?)</summary>\s*(?:\[[^\]]*\]\s*)*(?:public |internal )?(?:const \w+ |static \w+ |\w+ )?(\w+)\s*(?:=|;|,|\{)", RegexOptions.Singleline))
                docs[m.Groups[2].Value] = NormalizeDoc(Regex.Replace(m.Groups[1].Value, @"\s*///\s*", " "));
            return docs;
        }

        public static string Pascal(string snake)
        {
            var parts = snake.ToLowerInvariant().Split('_');
            for (int i = 0; i < parts.Length; i++)
                if (parts[i].Length > 0) parts[i] = char.ToUpperInvariant(parts[i][0]) + parts[i].Substring(1);
            return string.Join("", parts);
        }

        private static readonly Dictionary<string, Type> CTypes = new Dictionary<string, Type>
        {
            { "uint64_t", typeof(ulong) }, { "int64_t", typeof(long) }, { "uint32_t", typeof(uint) }, { "int32_t", typeof(int) },
            { "uint16_t", typeof(ushort) }, { "int16_t", typeof(short) }, { "uint8_t", typeof(byte) }, { "int8_t", typeof(sbyte) },
            { "float", typeof(float) }, { "double", typeof(double) },
        };

        [Test]
        public static void RvStatsMatchesTheHeaderFieldForField()
        {
            var problems = StructMirrorProblems("RvStats", typeof(RvStats), "unity-package/Runtime/Native/NativeMethods.cs", 18);
            Assert.IsEmpty(problems, string.Join("\n", problems.ToArray()));
        }

        [Test]
        public static void RealtimeMouthMatchesRvMouthFieldForField()
        {
            var problems = StructMirrorProblems("RvMouth", typeof(RealtimeMouth), "unity-package/Runtime/RealtimeMouth.cs", 9);
            Assert.IsEmpty(problems, string.Join("\n", problems.ToArray()));
            Assert.AreEqual(40, Marshal.SizeOf(typeof(RealtimeMouth)));
        }

        /// <summary>Differences between header struct <paramref name="name"/> and its C# mirror: every
        /// field's name, type, offset and doc, in order, and the size.</summary>
        public static List<string> StructMirrorProblems(string name, Type type, string csFile, int minFields)
        {
            var header = HeaderStructFields(Header, name);
            Assert.GreaterOrEqual(header.Count, minFields, "fields parsed from the header");
            var docs = CSharpDocs(RepoFile(csFile), type.Name);
            var fields = new List<FieldInfo>(type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic));
            fields.Sort((a, b) => ((long)Marshal.OffsetOf(type, a.Name)).CompareTo((long)Marshal.OffsetOf(type, b.Name)));
            var problems = new List<string>();
            if (fields.Count != header.Count) problems.Add("C# has " + fields.Count + " fields, the header " + header.Count);
            int offset = 0, maxAlign = 1;
            for (int i = 0; i < header.Count; i++)
            {
                var h = header[i];
                Type ct;
                if (!CTypes.TryGetValue(h.Type, out ct)) { problems.Add(h.Name + ": unknown C type " + h.Type); continue; }
                int size = Marshal.SizeOf(ct);
                offset = (offset + size - 1) / size * size; // C layout: each field at its natural alignment
                maxAlign = Math.Max(maxAlign, size);
                if (i >= fields.Count) { problems.Add("missing in C#: " + h); continue; }
                var f = fields[i];
                if (f.Name != Pascal(h.Name)) problems.Add("field " + i + ": C# " + f.Name + ", header " + h.Name + " (" + Pascal(h.Name) + ")");
                if (f.FieldType != ct) problems.Add(f.Name + ": C# " + f.FieldType.Name + ", header " + h.Type);
                int csOffset = (int)Marshal.OffsetOf(type, f.Name);
                if (csOffset != offset) problems.Add(f.Name + ": offset " + csOffset + " in C#, " + offset + " in C");
                string doc;
                if (!docs.TryGetValue(f.Name, out doc)) problems.Add(f.Name + ": no /// summary");
                else if (doc != h.Doc) problems.Add(f.Name + ": doc \"" + doc + "\" but the header says \"" + h.Doc + "\"");
                offset += size;
            }
            int total = (offset + maxAlign - 1) / maxAlign * maxAlign;
            if (Marshal.SizeOf(type) != total) problems.Add("sizeof: C# " + Marshal.SizeOf(type) + ", C " + total);
            return problems;
        }

        [Test]
        public static void RealtimeStatsExposesEveryField()
        {
            var problems = new List<string>();
            var docs = CSharpDocs(RepoFile("unity-package/Runtime/RealtimeStats.cs"), "RealtimeStats");
            var header = HeaderStructFields(Header, "RvStats");
            foreach (var h in header)
            {
                var p = typeof(RealtimeStats).GetProperty(Pascal(h.Name));
                if (p == null) { problems.Add("RealtimeStats." + Pascal(h.Name) + " missing"); continue; }
                if (p.PropertyType != CTypes[h.Type]) problems.Add(p.Name + ": " + p.PropertyType.Name + ", header " + h.Type);
                string doc;
                if (!docs.TryGetValue(p.Name, out doc) || doc != h.Doc) problems.Add(p.Name + ": doc \"" + doc + "\", header \"" + h.Doc + "\"");
            }
            Assert.IsEmpty(problems, string.Join("\n", problems.ToArray()));
        }

        [Test]
        public static void RealtimeStateMatchesRvState()
        {
            var header = HeaderDefines(Header, "RV_STATE_");
            Assert.GreaterOrEqual(header.Count, 7, "states parsed");
            var docs = CSharpDocs(RepoFile("unity-package/Runtime/RealtimeTypes.cs"), "RealtimeState");
            var names = Enum.GetNames(typeof(RealtimeState));
            var problems = new List<string>();
            if (names.Length != header.Count) problems.Add("C# has " + names.Length + " states, the header " + header.Count);
            foreach (var h in header)
            {
                string name = Pascal(h.Name.Substring("RV_STATE_".Length));
                if (Array.IndexOf(names, name) < 0) { problems.Add("RealtimeState." + name + " missing (" + h.Name + ")"); continue; }
                int value = (int)Enum.Parse(typeof(RealtimeState), name);
                if (value.ToString() != h.Type) problems.Add(name + " = " + value + ", header " + h.Type);
                // The header's docs say "`RvState`: what it is."; the enum's say "What it is."
                string want = Regex.Replace(h.Doc, @"^`RvState`:\s*", "");
                want = char.ToUpperInvariant(want[0]) + want.Substring(1);
                string doc;
                if (!docs.TryGetValue(name, out doc) || doc != want) problems.Add(name + ": doc \"" + doc + "\", header \"" + want + "\"");
            }
            Assert.IsEmpty(problems, string.Join("\n", problems.ToArray()));
        }

        [Test]
        public static void StatusCodesMatchTheHeader()
        {
            var header = HeaderDefines(Header, "RV_(?:OK|EMPTY|ERR_)");
            Assert.GreaterOrEqual(header.Count, 9, "status codes parsed");
            var docs = CSharpDocs(RepoFile("unity-package/Runtime/Native/NativeMethods.cs"), "RvStatus");
            var consts = typeof(RvStatus).GetFields(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic);
            var problems = new List<string>();
            int constCount = 0;
            foreach (var c in consts) if (c.IsLiteral) constCount++;
            if (constCount != header.Count) problems.Add("C# has " + constCount + " codes, the header " + header.Count);
            foreach (var h in header)
            {
                string name = Pascal(Regex.Replace(h.Name, "^RV_(ERR_)?", ""));
                var f = typeof(RvStatus).GetField(name, BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic);
                if (f == null) { problems.Add("RvStatus." + name + " missing (" + h.Name + ")"); continue; }
                int value = (int)f.GetRawConstantValue();
                if (value.ToString() != h.Type) problems.Add(name + " = " + value + ", header " + h.Type);
                if (RvStatus.Name(value) != h.Name) problems.Add("RvStatus.Name(" + value + ") = " + RvStatus.Name(value) + ", header " + h.Name);
                string doc;
                if (!docs.TryGetValue(name, out doc) || doc != h.Doc) problems.Add(name + ": doc \"" + doc + "\", header \"" + h.Doc + "\"");
            }
            Assert.IsEmpty(problems, string.Join("\n", problems.ToArray()));
        }

        [Test]
        public static void TheDiffCatchesADriftedMirror()
        {
            // The parsers on a header and a C# struct that differ in one doc, one type and one
            // appended field: each difference is seen.
            const string header = "typedef struct RvStats {\n  /**\n   * Frames in.\n   */\n  uint64_t mic_frames_in;\n" +
                                  "  /**\n   * New, appended.\n   */\n  int32_t new_field;\n} RvStats;";
            var fields = HeaderStructFields(header, "RvStats");
            Assert.AreEqual(2, fields.Count);
            Assert.AreEqual("new_field", fields[1].Name);
            Assert.AreEqual("int32_t", fields[1].Type);
            Assert.AreEqual("New, appended.", fields[1].Doc);
            const string cs = "struct RvStats {\n /// <summary>Frames pushed.</summary>\n public ulong MicFramesIn;\n}";
            var docs = CSharpDocs(cs, "RvStats");
            Assert.AreEqual(1, docs.Count, "the appended field is missing in C#");
            Assert.AreNotEqual(fields[0].Doc, docs["MicFramesIn"], "a doc that says something else");
            Assert.AreEqual("Frames handed to `rv_pull_playback`.", NormalizeDoc("Frames handed to <c>rv_pull_playback</c>."));
        }
    }
}
#endif
