#!/usr/bin/env python3
"""Checks the UPM package folder and built .unitypackage files.

    python3 tools/check_unity_package.py unity-package [RealtimeVoice.unitypackage ...]

Package folder: package.json is valid (name, version, unity 2019.4, samples that exist); every
asset has a .meta, every .meta belongs to an asset (native plugin metas excepted: CI supplies
their binaries), GUIDs are 32 hex digits and unique, native plugin metas are PluginImporters.
.unitypackage: every entry has asset, asset.meta and pathname; the directory name is the GUID
in asset.meta; GUIDs and pathnames are unique; pathnames are under Assets/ with no '..'.
Exit status 1 and one line per problem when anything is wrong.
"""

import json
import os
import re
import sys
import tarfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import unity_meta  # noqa: E402

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def check_package_dir(pkg_dir):
    problems = []
    try:
        with open(os.path.join(pkg_dir, "package.json"), encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError) as e:
        return ["package.json: %s" % e]
    if manifest.get("name") != unity_meta.PACKAGE_NAME:
        problems.append("package.json: name must be %s" % unity_meta.PACKAGE_NAME)
    if not re.match(r"^\d+\.\d+\.\d+", str(manifest.get("version", ""))):
        problems.append("package.json: version must be semver")
    if manifest.get("unity") != "2019.4":
        problems.append("package.json: unity must be 2019.4")
    for s in manifest.get("samples", []):
        if not os.path.isdir(os.path.join(pkg_dir, s.get("path", ""))):
            problems.append("package.json: sample path %s does not exist" % s.get("path"))
    for required in ("README.md", "CHANGELOG.md", "LICENSE.md"):
        if not os.path.isfile(os.path.join(pkg_dir, required)):
            problems.append("missing %s" % required)

    assets = dict(unity_meta.iter_assets(pkg_dir))
    guids = {}
    for rel in sorted(assets):
        meta = os.path.join(pkg_dir, rel + ".meta")
        if not os.path.isfile(meta):
            problems.append("%s has no .meta" % rel)
    for root, _dirs, files in os.walk(pkg_dir):
        for f in files:
            if not f.endswith(".meta"):
                continue
            meta = os.path.join(root, f)
            rel = os.path.relpath(meta, pkg_dir).replace(os.sep, "/")[: -len(".meta")]
            guid = unity_meta.read_guid(meta)
            if not guid or not HEX32.match(guid):
                problems.append("%s.meta: missing or malformed guid" % rel)
                continue
            if guid in guids:
                problems.append("duplicate guid %s: %s and %s" % (guid, guids[guid], rel))
            guids[guid] = rel
            if rel in unity_meta.PLUGINS:
                with open(meta, encoding="utf-8") as mf:
                    if "PluginImporter:" not in mf.read():
                        problems.append("%s.meta: not a PluginImporter" % rel)
            elif rel not in assets and not os.path.isdir(os.path.join(pkg_dir, rel)):
                problems.append("%s.meta: orphan (no such asset)" % rel)
    for rel in unity_meta.PLUGINS:
        if not os.path.isfile(os.path.join(pkg_dir, rel + ".meta")):
            problems.append("%s.meta: native plugin meta missing" % rel)
    for rel in sorted(assets):
        if rel.endswith(".prefab"):
            problems.extend(check_prefab(os.path.join(pkg_dir, rel), rel, guids))
    return problems


PREFAB_OBJECT = re.compile(r"^--- !u!\d+ &(\d+)", re.MULTILINE)
PREFAB_REF = re.compile(r"\{fileID: (-?\d+)(?:, guid: ([0-9a-f]{32}), type: \d+)?\}")


def check_prefab(path, rel, guids):
    """A prefab's local references point at its own objects, and its script GUIDs at package assets."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    problems = []
    if not text.startswith("%YAML 1.1\n%TAG !u! tag:unity3d.com,2011:\n"):
        problems.append("%s: not a Unity YAML file" % rel)
    objects = set(PREFAB_OBJECT.findall(text))
    if not objects:
        problems.append("%s: no objects" % rel)
    for file_id, guid in PREFAB_REF.findall(text):
        if guid:
            if guid not in guids:
                problems.append("%s: references guid %s, not an asset of the package" % (rel, guid))
        elif file_id != "0" and file_id not in objects:
            problems.append("%s: references fileID %s, not an object of the prefab" % (rel, file_id))
    return problems


def check_unitypackage(path):
    problems = []
    try:
        tar = tarfile.open(path, "r:gz")
    except (OSError, tarfile.TarError) as e:
        return ["%s: not a gzip tar: %s" % (path, e)]
    groups = {}
    with tar:
        for member in tar.getmembers():
            name = member.name.lstrip("./")
            if not name:
                continue
            parts = name.split("/")
            if len(parts) == 1:
                if member.isdir():
                    groups.setdefault(parts[0], {})
                else:
                    problems.append("%s: file at the archive root" % name)
                continue
            if len(parts) != 2 or not member.isfile():
                problems.append("%s: unexpected entry" % name)
                continue
            f = tar.extractfile(member)
            groups.setdefault(parts[0], {})[parts[1]] = f.read() if f else b""
    pathnames = {}
    for guid, files in sorted(groups.items()):
        if not HEX32.match(guid):
            problems.append("%s: entry name is not a 32-digit lowercase hex GUID" % guid)
        for needed in ("asset", "asset.meta", "pathname"):
            if needed not in files:
                problems.append("%s: missing %s" % (guid, needed))
        extra = set(files) - {"asset", "asset.meta", "pathname", "preview.png"}
        if extra:
            problems.append("%s: unexpected files %s" % (guid, sorted(extra)))
        meta = files.get("asset.meta", b"").decode("utf-8", "replace")
        m = unity_meta.GUID_RE.search(meta)
        if "asset.meta" in files and (not m or m.group(1) != guid):
            problems.append("%s: asset.meta guid does not match the entry" % guid)
        pathname = files.get("pathname", b"").decode("utf-8", "replace").split("\n")[0]
        if "pathname" in files:
            if not pathname.startswith("Assets/") or "/../" in pathname or "\\" in pathname or pathname.endswith("/"):
                problems.append("%s: bad pathname %r" % (guid, pathname))
            if pathname in pathnames:
                problems.append("%s: pathname %s also used by %s" % (guid, pathname, pathnames[pathname]))
            pathnames[pathname] = guid
        if pathname.endswith((".dll", ".so", ".dylib", ".a")) and "PluginImporter:" not in meta:
            problems.append("%s: native plugin %s without PluginImporter settings" % (guid, pathname))
    if not groups:
        problems.append("%s: empty package" % path)
    return problems


def main(argv):
    if not argv:
        print(__doc__)
        return 2
    problems = []
    for target in argv:
        if os.path.isdir(target):
            problems += check_package_dir(target)
        else:
            problems += check_unitypackage(target)
    for p in problems:
        print("problem: " + p)
    if not problems:
        print("ok: " + ", ".join(argv))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
