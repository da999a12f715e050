"""Unity .meta files for the UPM package: which paths need one, stable GUIDs, importer settings.

Shared by the builder (build_unitypackage.py), the checker (check_unity_package.py) and the
meta generator (`python3 tools/unity_meta.py unity-package` writes missing .meta files; it
never rewrites an existing one, so committed GUIDs stay stable forever).
"""

import hashlib
import os
import re
import sys

PACKAGE_NAME = "com.realtimevoice.unity"

GUID_RE = re.compile(r"^guid: ([0-9a-f]{32})\s*$", re.MULTILINE)

# Native plugins: package-relative path -> platform settings. The binaries are produced by
# CI (.github/workflows/native-plugins.yml) or by the builder for the host; their .meta files
# are committed so the import settings are reviewed like code.
PLUGINS = {
    "Runtime/Plugins/Windows/x86_64/realtime_voice.dll": {
        "editor": ("Windows", "x86_64"), "standalone": ("Win64", "x86_64")},
    "Runtime/Plugins/Windows/ARM64/realtime_voice.dll": {
        "editor": ("Windows", "ARM64"), "standalone": ("Win64", "ARM64")},
    "Runtime/Plugins/macOS/librealtime_voice.dylib": {
        "editor": ("OSX", "AnyCPU"), "standalone": ("OSXUniversal", "AnyCPU")},
    "Runtime/Plugins/Linux/x86_64/librealtime_voice.so": {
        "editor": ("Linux", "x86_64"), "standalone": ("Linux64", "x86_64")},
    "Runtime/Plugins/Android/arm64-v8a/librealtime_voice.so": {"android": "ARM64"},
    "Runtime/Plugins/Android/armeabi-v7a/librealtime_voice.so": {"android": "ARMv7"},
    "Runtime/Plugins/Android/x86_64/librealtime_voice.so": {"android": "X86_64"},
    # Device and simulator slices are both arm64, so they cannot share one fat archive: both
    # import for iOS and the Editor's build hook (IosSdkPluginFilter.cs) keeps the one matching
    # Player Settings > Target SDK out of the Xcode project.
    "Runtime/Plugins/iOS/librealtime_voice.a": {"ios": True},
    "Runtime/Plugins/iOS/Simulator/librealtime_voice.a": {"ios": True},
}

# iOS links the static library into the player; the Rust TLS stack needs Security.framework.
IOS_FRAMEWORKS = "Security;"


def guid_for(rel_path):
    """A GUID derived from the package name and path: stable, and unique per path."""
    return hashlib.md5((PACKAGE_NAME + "/" + rel_path).encode("utf-8")).hexdigest()


def read_guid(meta_path):
    with open(meta_path, "r", encoding="utf-8") as f:
        m = GUID_RE.search(f.read())
    return m.group(1) if m else None


def _is_ignored(name):
    # Unity ignores hidden files, names ending in '~', and a few editor/OS droppings.
    return name.startswith(".") or name.endswith("~") or name in ("cvs",) or name.endswith(".tmp")


def iter_assets(pkg_dir):
    """Yield (rel_path, is_dir) for every path under pkg_dir that needs a .meta.

    Everything Unity imports, plus the contents of Samples~/<sample>/ (Unity copies those into
    Assets/ when the user imports a sample, and their .meta files go with them). The Samples~
    folder and each sample's root folder get no .meta: they are never imported as such.
    """
    for root, dirs, files in os.walk(pkg_dir):
        rel_root = os.path.relpath(root, pkg_dir).replace(os.sep, "/")
        rel_root = "" if rel_root == "." else rel_root
        dirs[:] = sorted(d for d in dirs if (d == "Samples~" and not rel_root) or not _is_ignored(d))
        for d in dirs:
            rel = (rel_root + "/" + d) if rel_root else d
            if rel == "Samples~" or (rel.startswith("Samples~/") and rel.count("/") == 1):
                continue  # Samples~ itself and each sample's root folder
            yield rel, True
        for f in sorted(files):
            if f.endswith(".meta") or _is_ignored(f):
                continue
            yield ((rel_root + "/" + f) if rel_root else f), False


def plugin_meta(rel_path, guid):
    spec = PLUGINS[rel_path]
    editor = spec.get("editor")
    standalone = spec.get("standalone")
    android = spec.get("android")
    ios = spec.get("ios", False)

    def flag(b):
        return "1" if b else "0"

    exclude = {
        "Android": not android,
        "Editor": not editor,
        "Linux64": not (standalone and standalone[0] == "Linux64"),
        "OSXUniversal": not (standalone and standalone[0] == "OSXUniversal"),
        "Win": True,
        "Win64": not (standalone and standalone[0] == "Win64"),
        "iOS": not ios,
    }
    lines = [
        "fileFormatVersion: 2",
        "guid: " + guid,
        "PluginImporter:",
        "  externalObjects: {}",
        "  serializedVersion: 2",
        "  iconMap: {}",
        "  executionOrder: {}",
        "  defineConstraints: []",
        "  isPreloaded: 0",
        "  isOverridable: 0",
        "  isExplicitlyReferenced: 0",
        "  validateReferences: 1",
        "  platformData:",
        "  - first:",
        "      : Any",
        "    second:",
        "      enabled: 0",
        "      settings:",
    ]
    for key in sorted(exclude):
        lines.append("        Exclude %s: %s" % (key, flag(exclude[key])))
    lines += [
        "  - first:",
        "      Android: Android",
        "    second:",
        "      enabled: " + flag(android),
        "      settings:",
        "        CPU: " + (android or "ARMv7"),
        "  - first:",
        "      Any: ",
        "    second:",
        "      enabled: 0",
        "      settings: {}",
        "  - first:",
        "      Editor: Editor",
        "    second:",
        "      enabled: " + flag(editor),
        "      settings:",
        "        CPU: " + (editor[1] if editor else "AnyCPU"),
        "        DefaultValueInitialized: true",
        "        OS: " + (editor[0] if editor else "AnyOS"),
    ]
    for target in ("Linux64", "OSXUniversal", "Win", "Win64"):
        on = bool(standalone and standalone[0] == target)
        lines += [
            "  - first:",
            "      Standalone: " + target,
            "    second:",
            "      enabled: " + flag(on),
            "      settings:",
            "        CPU: " + (standalone[1] if on else "None"),
        ]
    lines += [
        "  - first:",
        "      iPhone: iOS",
        "    second:",
        "      enabled: " + flag(ios),
        "      settings:",
        "        AddToEmbeddedBinaries: false",
        "        CPU: AnyCPU",
        "        CompileFlags: ",
        "        FrameworkDependencies: " + (IOS_FRAMEWORKS if ios else ""),
        "  userData: ",
        "  assetBundleName: ",
        "  assetBundleVariant: ",
    ]
    return "\n".join(lines) + "\n"


def meta_text(rel_path, is_dir, guid=None):
    """The .meta for a path, by importer type."""
    guid = guid or guid_for(rel_path)
    head = "fileFormatVersion: 2\nguid: %s\n" % guid
    tail = "  userData: \n  assetBundleName: \n  assetBundleVariant: \n"
    if is_dir:
        return head + "folderAsset: yes\nDefaultImporter:\n  externalObjects: {}\n" + tail
    if rel_path in PLUGINS:
        return plugin_meta(rel_path, guid)
    ext = os.path.splitext(rel_path)[1].lower()
    if ext == ".cs":
        return (head + "MonoImporter:\n  externalObjects: {}\n  serializedVersion: 2\n  defaultReferences: []\n"
                "  executionOrder: 0\n  icon: {instanceID: 0}\n" + tail)
    if ext == ".prefab":
        return head + "PrefabImporter:\n  externalObjects: {}\n" + tail
    if ext == ".asmdef":
        return head + "AssemblyDefinitionImporter:\n  externalObjects: {}\n" + tail
    if ext in (".md", ".json", ".txt", ".xml", ".yml", ".yaml", ".csv", ".bytes", ".html"):
        return head + "TextScriptImporter:\n  externalObjects: {}\n" + tail
    return head + "DefaultImporter:\n  externalObjects: {}\n" + tail


def ensure_metas(pkg_dir):
    """Write a .meta for every asset (and every known plugin) that lacks one. Returns the paths written."""
    written = []
    wanted = list(iter_assets(pkg_dir))
    for rel in PLUGINS:
        if not os.path.exists(os.path.join(pkg_dir, rel)):
            wanted.append((rel, False))
        # Plugin folders need metas too, even before CI puts the binaries in them.
        parts = rel.split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            if not os.path.isdir(os.path.join(pkg_dir, d)):
                os.makedirs(os.path.join(pkg_dir, d))
                wanted.append((d, True))
    seen = set()
    for rel, is_dir in wanted:
        if rel in seen:
            continue
        seen.add(rel)
        meta = os.path.join(pkg_dir, rel + ".meta")
        if os.path.exists(meta):
            continue
        with open(meta, "w", encoding="utf-8", newline="\n") as f:
            f.write(meta_text(rel, is_dir))
        written.append(rel + ".meta")
    return written


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "unity-package")
    for p in ensure_metas(target):
        print("wrote", p)
