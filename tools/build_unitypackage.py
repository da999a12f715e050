#!/usr/bin/env python3
"""Build RealtimeVoice.unitypackage from unity-package/ and the native library.

    python3 tools/build_unitypackage.py

builds the native library for this machine (cargo build --release -p realtime_voice), puts it in
Runtime/Plugins/<platform>/ with its committed .meta (import settings), and writes
RealtimeVoice.unitypackage in the repository root: a gzip tar of <guid>/asset,
<guid>/asset.meta and <guid>/pathname per file, every path under Assets/RealtimeVoice/.

Options:
  --out PATH            output file (default: RealtimeVoice.unitypackage in the repo root)
  --profile P           cargo profile directory to take the host library from (release|debug)
  --no-build            do not run cargo; use what is in target/<profile>/
  --lib PATH            use this host library file instead of target/<profile>/
  --plugins-dir DIR     also take every native plugin found under DIR, laid out like
                        Runtime/Plugins/ (CI assembles all platforms this way)
  --install             also copy the host library into unity-package/Runtime/Plugins/ so the
                        folder works as a local UPM package ("Add package from disk")

The archive is deterministic: same inputs, same bytes.
"""

import argparse
import gzip
import io
import os
import platform
import shutil
import subprocess
import sys
import tarfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import unity_meta  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = os.path.join(ROOT, "unity-package")
ASSET_ROOT = "Assets/RealtimeVoice"

# Host platform -> (library file name cargo produces, package path of the plugin).
HOST_PLUGINS = {
    "Linux": ("librealtime_voice.so", "Runtime/Plugins/Linux/x86_64/librealtime_voice.so"),
    "Darwin": ("librealtime_voice.dylib", "Runtime/Plugins/macOS/librealtime_voice.dylib"),
    "Windows": ("realtime_voice.dll", "Runtime/Plugins/Windows/x86_64/realtime_voice.dll"),
}

# Package content that is not shipped in the .unitypackage (UPM-only or development files).
EXCLUDED_TOP = ("Tests", "package.json")


class BuildError(Exception):
    pass


def host_plugin():
    system = platform.system()
    if system not in HOST_PLUGINS:
        raise BuildError("no native plugin layout for host platform %r" % system)
    return HOST_PLUGINS[system]


def collect(pkg_dir, plugins):
    """[(package-relative source path, absolute file, pathname in the project)] for every shipped file.

    `plugins` maps plugin package paths to the binary files to ship for them.
    """
    entries = []
    for rel, is_dir in unity_meta.iter_assets(pkg_dir):
        if is_dir or rel.split("/")[0] in EXCLUDED_TOP:
            continue
        if rel in unity_meta.PLUGINS:
            continue  # added below from `plugins`, whether or not a copy sits in the package
        if rel.startswith("Samples~/"):
            target = "Samples/" + rel[len("Samples~/"):]  # a .unitypackage has no hidden samples
        else:
            target = rel
        entries.append((rel, os.path.join(pkg_dir, rel), ASSET_ROOT + "/" + target))
    for rel, src in sorted(plugins.items()):
        if rel not in unity_meta.PLUGINS:
            raise BuildError("unknown plugin path %s" % rel)
        entries.append((rel, src, ASSET_ROOT + "/" + rel))
    return entries


def _add_bytes(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def write_unitypackage(pkg_dir, plugins, out_path):
    entries = collect(pkg_dir, plugins)
    seen = {}
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for rel, src, pathname in sorted(entries, key=lambda e: e[2]):
            meta_path = os.path.join(pkg_dir, rel + ".meta")
            if not os.path.exists(meta_path):
                raise BuildError("%s has no .meta (run: python3 tools/unity_meta.py unity-package)" % rel)
            guid = unity_meta.read_guid(meta_path)
            if not guid:
                raise BuildError("%s.meta has no guid" % rel)
            if guid in seen:
                raise BuildError("duplicate guid %s: %s and %s" % (guid, seen[guid], rel))
            seen[guid] = rel
            with open(src, "rb") as f:
                asset = f.read()
            with open(meta_path, "rb") as f:
                meta = f.read()
            _add_bytes(tar, guid + "/asset", asset)
            _add_bytes(tar, guid + "/asset.meta", meta)
            _add_bytes(tar, guid + "/pathname", pathname.encode("utf-8"))
    with open(out_path, "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0) as gz:
            gz.write(raw.getvalue())
    return len(entries)


def find_plugins_in(plugins_dir):
    found = {}
    for rel in unity_meta.PLUGINS:
        sub = rel[len("Runtime/Plugins/"):]
        for candidate in (os.path.join(plugins_dir, rel), os.path.join(plugins_dir, sub)):
            if os.path.isfile(candidate):
                found[rel] = candidate
                break
    return found


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "RealtimeVoice.unitypackage"))
    ap.add_argument("--profile", default="release", choices=("release", "debug"))
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--lib")
    ap.add_argument("--plugins-dir")
    ap.add_argument("--no-host", action="store_true", help="ship only the plugins from --plugins-dir")
    ap.add_argument("--install", action="store_true")
    ap.add_argument("--package-dir", default=PKG, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    plugins = {}
    if args.plugins_dir:
        plugins.update(find_plugins_in(args.plugins_dir))
    if not args.no_host:
        lib_name, plugin_rel = host_plugin()
        lib = args.lib
        if not lib:
            if not args.no_build:
                cmd = ["cargo", "build", "-p", "realtime_voice"] + (["--release"] if args.profile == "release" else [])
                print("+ " + " ".join(cmd), file=sys.stderr)
                subprocess.check_call(cmd, cwd=ROOT)
            lib = os.path.join(ROOT, "target", args.profile, lib_name)
        if not os.path.isfile(lib):
            raise BuildError("native library not found: %s" % lib)
        plugins[plugin_rel] = lib
        if args.install:
            dest = os.path.join(args.package_dir, plugin_rel)
            shutil.copyfile(lib, dest)
            print("installed %s" % os.path.relpath(dest, ROOT), file=sys.stderr)
    if not plugins:
        raise BuildError("no native plugin to ship")

    n = write_unitypackage(args.package_dir, plugins, args.out)
    print("wrote %s (%d assets, plugins: %s)" % (args.out, n, ", ".join(sorted(plugins))))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (BuildError, subprocess.CalledProcessError) as e:
        print("build_unitypackage: %s" % e, file=sys.stderr)
        sys.exit(1)
