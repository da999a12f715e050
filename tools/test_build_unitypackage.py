"""Tests of the .unitypackage builder and the package checks.

    python3 -m unittest tools/test_build_unitypackage.py
"""

import gzip
import io
import os
import re
import shutil
import sys
import tarfile
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import build_unitypackage  # noqa: E402
import check_unity_package  # noqa: E402
import unity_meta  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = os.path.join(ROOT, "unity-package")


def read_package(path):
    groups = {}
    with tarfile.open(path, "r:gz") as tar:
        for m in tar.getmembers():
            guid, name = m.name.split("/")
            groups.setdefault(guid, {})[name] = tar.extractfile(m).read()
    return groups


def host_library():
    name, _ = build_unitypackage.host_plugin()
    for profile in ("release", "debug"):
        p = os.path.join(ROOT, "target", profile, name)
        if os.path.isfile(p):
            return p
    return None


class BuilderTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        # A stand-in binary unless the real library has been built.
        self.lib = host_library()
        if not self.lib:
            self.lib = os.path.join(self.tmp, "fake-native-lib")
            with open(self.lib, "wb") as f:
                f.write(b"\x7fELF not really")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def build(self, name="out.unitypackage", extra=()):
        out = os.path.join(self.tmp, name)
        build_unitypackage.main(["--lib", self.lib, "--out", out] + list(extra))
        return out

    def test_package_folder_is_valid(self):
        self.assertEqual(check_unity_package.check_package_dir(PKG), [])

    def test_built_package_passes_the_checks(self):
        out = self.build()
        self.assertEqual(check_unity_package.check_unitypackage(out), [])
        groups = read_package(out)
        pathnames = {g["pathname"].decode(): guid for guid, g in groups.items()}
        # Every entry is complete, under Assets/, and the GUIDs are the committed ones.
        for guid, g in groups.items():
            self.assertEqual(set(g), {"asset", "asset.meta", "pathname"})
            self.assertTrue(g["pathname"].startswith(b"Assets/RealtimeVoice/"))
            self.assertIn(("guid: " + guid).encode(), g["asset.meta"])
        self.assertEqual(len(pathnames), len(groups), "pathnames unique")
        for rel in ("Runtime/RealtimeSession.cs", "Runtime/Native/NativeMethods.cs", "Runtime/RealtimeVoice.cs",
                    "Runtime/RealtimeVoice.Runtime.asmdef", "Samples/MoveCube/MoveCubeBootstrap.cs",
                    "Editor/ApiKeyWindow.cs", "README.md"):
            self.assertIn("Assets/RealtimeVoice/" + rel, pathnames)
        src_rel = "Runtime/RealtimeSession.cs"
        self.assertEqual(pathnames["Assets/RealtimeVoice/" + src_rel],
                         unity_meta.read_guid(os.path.join(PKG, src_rel + ".meta")))
        # Development-only files stay out.
        self.assertFalse(any("/Tests/" in p for p in pathnames))
        self.assertNotIn("Assets/RealtimeVoice/package.json", pathnames)

    def test_host_plugin_is_placed_with_its_import_settings(self):
        out = self.build()
        groups = read_package(out)
        _, plugin_rel = build_unitypackage.host_plugin()
        by_path = {g["pathname"].decode(): g for g in groups.values()}
        plugin = by_path["Assets/RealtimeVoice/" + plugin_rel]
        with open(self.lib, "rb") as f:
            self.assertEqual(plugin["asset"], f.read())
        meta = plugin["asset.meta"].decode()
        self.assertIn("PluginImporter:", meta)
        self.assertRegex(meta, r"Editor: Editor\n    second:\n      enabled: 1")
        # Only the host plugin: no orphan metas for platforms that were not built.
        plugins = [p for p in by_path if "/Plugins/" in p]
        self.assertEqual(plugins, ["Assets/RealtimeVoice/" + plugin_rel])

    def test_all_platforms_from_a_plugins_dir(self):
        plugins_dir = os.path.join(self.tmp, "plugins")
        for rel in unity_meta.PLUGINS:
            p = os.path.join(plugins_dir, rel[len("Runtime/Plugins/"):])
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(rel.encode())
        out = self.build(extra=["--plugins-dir", plugins_dir, "--no-host"])
        self.assertEqual(check_unity_package.check_unitypackage(out), [])
        by_path = {g["pathname"].decode(): g for g in read_package(out).values()}
        for rel in unity_meta.PLUGINS:
            self.assertEqual(by_path["Assets/RealtimeVoice/" + rel]["asset"], rel.encode())
        ios = by_path["Assets/RealtimeVoice/Runtime/Plugins/iOS/librealtime_voice.a"]["asset.meta"].decode()
        self.assertRegex(ios, r"iPhone: iOS\n    second:\n      enabled: 1")
        self.assertIn("FrameworkDependencies: Security;", ios)
        arm64 = by_path["Assets/RealtimeVoice/Runtime/Plugins/Android/arm64-v8a/librealtime_voice.so"]["asset.meta"].decode()
        self.assertRegex(arm64, r"Android: Android\n    second:\n      enabled: 1\n      settings:\n        CPU: ARM64")
        v7 = by_path["Assets/RealtimeVoice/Runtime/Plugins/Android/armeabi-v7a/librealtime_voice.so"]["asset.meta"].decode()
        self.assertIn("CPU: ARMv7", v7)
        win = by_path["Assets/RealtimeVoice/Runtime/Plugins/Windows/x86_64/realtime_voice.dll"]["asset.meta"].decode()
        self.assertRegex(win, r"Standalone: Win64\n    second:\n      enabled: 1\n      settings:\n        CPU: x86_64")
        self.assertIn("OS: Windows", win)
        mac = by_path["Assets/RealtimeVoice/Runtime/Plugins/macOS/librealtime_voice.dylib"]["asset.meta"].decode()
        self.assertRegex(mac, r"Standalone: OSXUniversal\n    second:\n      enabled: 1")
        x64 = by_path["Assets/RealtimeVoice/Runtime/Plugins/Android/x86_64/librealtime_voice.so"]["asset.meta"].decode()
        self.assertIn("CPU: X86_64", x64)
        win_arm = by_path["Assets/RealtimeVoice/Runtime/Plugins/Windows/ARM64/realtime_voice.dll"]["asset.meta"].decode()
        self.assertRegex(win_arm, r"Standalone: Win64\n    second:\n      enabled: 1\n      settings:\n        CPU: ARM64")
        sim = by_path["Assets/RealtimeVoice/Runtime/Plugins/iOS/Simulator/librealtime_voice.a"]["asset.meta"].decode()
        self.assertRegex(sim, r"iPhone: iOS\n    second:\n      enabled: 1")
        linux = by_path["Assets/RealtimeVoice/Runtime/Plugins/Linux/x86_64/librealtime_voice.so"]["asset.meta"].decode()
        self.assertRegex(linux, r"Standalone: Linux64\n    second:\n      enabled: 1")

    def test_build_is_deterministic(self):
        a = self.build("a.unitypackage")
        b = self.build("b.unitypackage")
        with open(a, "rb") as fa, open(b, "rb") as fb:
            self.assertEqual(fa.read(), fb.read())


class CheckerCatchesBrokenPackages(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def write(self, entries):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tar:
            for name, data in entries:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        path = os.path.join(self.tmp, "p.unitypackage")
        with gzip.open(path, "wb") as f:
            f.write(raw.getvalue())
        return path

    def entry(self, guid, pathname, meta_guid=None, skip=()):
        out = []
        if "asset" not in skip:
            out.append((guid + "/asset", b"x"))
        if "asset.meta" not in skip:
            out.append((guid + "/asset.meta", ("fileFormatVersion: 2\nguid: %s\n" % (meta_guid or guid)).encode()))
        if "pathname" not in skip:
            out.append((guid + "/pathname", pathname.encode()))
        return out

    def test_good_package_passes(self):
        g = "a" * 32
        self.assertEqual(check_unity_package.check_unitypackage(self.write(self.entry(g, "Assets/X/a.cs"))), [])

    def test_each_defect_is_reported(self):
        g1, g2 = "a" * 32, "b" * 32
        cases = {
            "missing pathname": self.entry(g1, "Assets/a.cs", skip=("pathname",)),
            "missing asset": self.entry(g1, "Assets/a.cs", skip=("asset",)),
            "missing asset.meta": self.entry(g1, "Assets/a.cs", skip=("asset.meta",)),
            "not under Assets/": self.entry(g1, "Packages/a.cs"),
            "path escapes": self.entry(g1, "Assets/../etc/passwd"),
            "meta guid mismatch": self.entry(g1, "Assets/a.cs", meta_guid=g2),
            "bad guid": self.entry("not-a-guid", "Assets/a.cs"),
            "duplicate pathname": self.entry(g1, "Assets/a.cs") + self.entry(g2, "Assets/a.cs"),
            "plugin without importer": self.entry(g1, "Assets/P/lib.so"),
        }
        for what, entries in cases.items():
            problems = check_unity_package.check_unitypackage(self.write(entries))
            self.assertTrue(problems, what)

    def test_package_dir_defects_are_reported(self):
        pkg = os.path.join(self.tmp, "pkg")
        shutil.copytree(PKG, pkg, ignore=shutil.ignore_patterns("*.so", "*.dll", "*.dylib", "*.a"))
        self.assertEqual(check_unity_package.check_package_dir(pkg), [])
        os.remove(os.path.join(pkg, "Runtime", "Json.cs.meta"))
        with open(os.path.join(pkg, "Runtime", "Orphan.cs.meta"), "w") as f:
            f.write("fileFormatVersion: 2\nguid: %s\n" % ("c" * 32))
        shutil.copyfile(os.path.join(pkg, "Runtime", "RealtimeSession.cs.meta"),
                        os.path.join(pkg, "Runtime", "RealtimeTypes.cs.meta"))
        problems = "\n".join(check_unity_package.check_package_dir(pkg))
        self.assertIn("Runtime/Json.cs has no .meta", problems)
        self.assertIn("Runtime/Orphan.cs.meta: orphan", problems)
        self.assertIn("duplicate guid", problems)


if __name__ == "__main__":
    unittest.main()


class PrefabCheck(unittest.TestCase):
    """check_prefab on the committed prefab and on broken copies of it."""

    PREFAB = os.path.join(ROOT, "unity-package", "Runtime", "Prefabs", "RealtimeVoice.prefab")

    def guids(self):
        pkg = os.path.join(ROOT, "unity-package")
        out = {}
        for root, _dirs, files in os.walk(pkg):
            for f in files:
                if f.endswith(".meta"):
                    out[unity_meta.read_guid(os.path.join(root, f))] = f
        return out

    def check(self, text):
        tmp = tempfile.mkdtemp()
        try:
            path = os.path.join(tmp, "p.prefab")
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            return check_unity_package.check_prefab(path, "p.prefab", self.guids())
        finally:
            shutil.rmtree(tmp)

    def test_committed_prefab_is_sound(self):
        with open(self.PREFAB, encoding="utf-8") as f:
            self.assertEqual(self.check(f.read()), [])

    def test_broken_references_are_reported(self):
        with open(self.PREFAB, encoding="utf-8") as f:
            good = f.read()
        bad_guid = re.sub(r"guid: [0-9a-f]{32}", "guid: " + "0" * 32, good)
        self.assertTrue(any("references guid" in p for p in self.check(bad_guid)))
        bad_local = good.replace("m_GameObject: {fileID: 2471830926110264301}", "m_GameObject: {fileID: 12345}", 1)
        self.assertTrue(any("references fileID 12345" in p for p in self.check(bad_local)))
