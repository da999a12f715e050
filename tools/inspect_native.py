#!/usr/bin/env python3
"""Inspects a built native plugin and fails when it would not load on its Unity platform.

    tools/inspect_native.py --platform linux   target/release/librealtime_voice.so --max-glibc 2.31
    tools/inspect_native.py --platform android jniLibs/arm64-v8a/librealtime_voice.so --arch arm64
    tools/inspect_native.py --platform windows realtime_voice.dll --arch x86_64
    tools/inspect_native.py --platform macos   librealtime_voice.dylib
    tools/inspect_native.py --platform ios     librealtime_voice.a

What is checked, per platform (every failure is listed, exit status 1 when there is one):
  - every function declared in include/realtime_voice.h is exported (rv_*);
  - linux:   no dynamic libssl/libcrypto (nor anything outside the base system libraries);
             the glibc floor (the highest GLIBC_x.y version needed) is reported and, with
             --max-glibc, must not exceed it;
  - android: every PT_LOAD segment aligned to at least --page-size (16384 by default: Google
             Play's 16 KB page requirement); no libssl/libcrypto/libc++_shared dependency;
  - windows: the C runtime linked statically (no VCRUNTIME*, MSVCP*, api-ms-win-crt-*,
             ucrtbase.dll imports);
  - macos/ios: exports through `nm`, dependencies through `otool -L` (only system libraries);
             these need the Xcode command line tools and run in the release workflow.
  - --arch:  the machine type of ELF and PE files.

ELF and PE files are parsed here (no binutils needed), so the same checks run on any CI host.
"""
import argparse
import json
import os
import re
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_HEADER = os.path.join(ROOT, "include", "realtime_voice.h")

# Libraries every Linux distribution has; anything else must be linked in.
LINUX_SYSTEM_LIBS = re.compile(r"^(libc|libm|libdl|libpthread|librt|libgcc_s|ld-linux[-\w.]*)\.so(\.\d+)*$")
OPENSSL_LIBS = re.compile(r"^(libssl|libcrypto)\b")
ANDROID_FORBIDDEN = re.compile(r"^(libssl|libcrypto|libc\+\+_shared)\b")
# Dynamic MSVC runtime: absent on players without the VC++ redistributable.
WINDOWS_DYNAMIC_CRT = re.compile(r"^(vcruntime[\d_]*|msvcp[\d_]*|msvcr[\d_]*|ucrtbase|api-ms-win-crt-[\w-]+)d?\.dll$", re.I)
ELF_MACHINES = {"x86_64": 62, "arm64": 183, "armv7": 40, "x86": 3}
PE_MACHINES = {"x86_64": 0x8664, "arm64": 0xAA64, "x86": 0x14C}


def header_functions(header_path):
    """The rv_* function names declared in the C header, in order."""
    with open(header_path, encoding="utf-8") as f:
        text = f.read()
    return re.findall(r"^[A-Za-z_][\w \t\*]*?\b(rv_\w+)\s*\(", text, re.M)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


# ---- ELF ----

class Elf:
    """The parts of an ELF shared object a loader looks at."""

    def __init__(self, data):
        if data[:4] != b"\x7fELF":
            raise ValueError("not an ELF file")
        self.is64 = data[4] == 2
        self.endian = "<" if data[5] == 1 else ">"
        e = self.endian
        self.data = data
        if self.is64:
            (self.type, self.machine, _, _, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum,
             _) = struct.unpack_from(e + "HHIQQQIHHHHHH", data, 16)
        else:
            (self.type, self.machine, _, _, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum,
             _) = struct.unpack_from(e + "HHIIIIIHHHHHH", data, 16)
        self.segments = []  # (p_type, p_align)
        for i in range(phnum):
            off = phoff + i * phentsize
            if self.is64:
                p_type, _, _, _, _, _, _, p_align = struct.unpack_from(e + "IIQQQQQQ", data, off)
            else:
                p_type, _, _, _, _, _, _, p_align = struct.unpack_from(e + "IIIIIIII", data, off)
            self.segments.append((p_type, p_align))
        self.sections = []  # (sh_type, offset, size, link, entsize)
        for i in range(shnum):
            off = shoff + i * shentsize
            if self.is64:
                _, sh_type, _, _, sh_off, sh_size, sh_link, _, _, sh_entsize = struct.unpack_from(e + "IIQQQQIIQQ", data, off)
            else:
                _, sh_type, _, _, sh_off, sh_size, sh_link, _, _, sh_entsize = struct.unpack_from(e + "IIIIIIIIII", data, off)
            self.sections.append((sh_type, sh_off, sh_size, sh_link, sh_entsize))

    def _string(self, strtab_index, offset):
        _, base, size, _, _ = self.sections[strtab_index]
        start = base + offset
        end = self.data.index(b"\0", start)
        return self.data[start:end].decode("utf-8", "replace")

    def _sections_of(self, sh_type):
        return [s for s in self.sections if s[0] == sh_type]

    def load_alignments(self):
        return [align for p_type, align in self.segments if p_type == 1]  # PT_LOAD

    def needed(self):
        """DT_NEEDED entries of the dynamic section."""
        out = []
        e = self.endian
        for _, off, size, link, _ in self._sections_of(6):  # SHT_DYNAMIC
            fmt, step = (e + "qQ", 16) if self.is64 else (e + "iI", 8)
            for pos in range(off, off + size, step):
                tag, val = struct.unpack_from(fmt, self.data, pos)
                if tag == 0:
                    break
                if tag == 1:  # DT_NEEDED
                    out.append(self._string(link, val))
        return out

    def exported_functions(self):
        """Defined, global or weak, default-visibility symbols of the dynamic symbol table."""
        out = set()
        e = self.endian
        for _, off, size, link, entsize in self._sections_of(11):  # SHT_DYNSYM
            step = entsize or (24 if self.is64 else 16)
            for pos in range(off, off + size, step):
                if self.is64:
                    name, info, other, shndx, _, _ = struct.unpack_from(e + "IBBHQQ", self.data, pos)
                else:
                    name, _, _, info, other, shndx = struct.unpack_from(e + "IIIBBH", self.data, pos)
                if shndx != 0 and (info >> 4) in (1, 2) and (other & 3) == 0 and name:
                    out.add(self._string(link, name))
        return out

    def version_needs(self):
        """{library: [version names]} from .gnu.version_r."""
        out = {}
        e = self.endian
        for _, off, size, link, _ in self._sections_of(0x6FFFFFFE):  # SHT_GNU_verneed
            pos = off
            while True:
                _, cnt, file_off, aux, nxt = struct.unpack_from(e + "HHIII", self.data, pos)
                lib = self._string(link, file_off)
                apos = pos + aux
                for _ in range(cnt):
                    _, _, _, name, anext = struct.unpack_from(e + "IHHII", self.data, apos)
                    out.setdefault(lib, []).append(self._string(link, name))
                    apos += anext
                if nxt == 0:
                    break
                pos += nxt
        return out

    def glibc_floor(self):
        """The highest GLIBC_x.y version the object needs, as a tuple (None: none)."""
        versions = []
        for names in self.version_needs().values():
            for n in names:
                m = re.match(r"^GLIBC_(\d+(?:\.\d+)*)$", n)
                if m:
                    versions.append(tuple(int(x) for x in m.group(1).split(".")))
        return max(versions) if versions else None


# ---- PE ----

class Pe:
    """Imports, exports and machine of a PE (Windows DLL)."""

    def __init__(self, data):
        if data[:2] != b"MZ":
            raise ValueError("not a PE file")
        pe = struct.unpack_from("<I", data, 0x3C)[0]
        if data[pe:pe + 4] != b"PE\0\0":
            raise ValueError("no PE signature")
        self.data = data
        self.machine, nsections, _, _, _, opt_size, _ = struct.unpack_from("<HHIIIHH", data, pe + 4)
        opt = pe + 24
        magic = struct.unpack_from("<H", data, opt)[0]
        dirs = opt + (112 if magic == 0x20B else 96)
        ndirs = struct.unpack_from("<I", data, dirs - 4)[0]
        self.directories = [struct.unpack_from("<II", data, dirs + 8 * i) for i in range(min(ndirs, 16))]
        self.sections = []  # (va, vsize, raw_ptr, raw_size)
        sec = opt + opt_size
        for i in range(nsections):
            vsize, va, raw_size, raw_ptr = struct.unpack_from("<IIII", data, sec + 40 * i + 8)
            self.sections.append((va, max(vsize, raw_size), raw_ptr, raw_size))

    def _offset(self, rva):
        for va, vsize, raw_ptr, _ in self.sections:
            if va <= rva < va + vsize:
                return raw_ptr + (rva - va)
        raise ValueError("RVA 0x%x outside every section" % rva)

    def _cstring(self, rva):
        off = self._offset(rva)
        return self.data[off:self.data.index(b"\0", off)].decode("ascii", "replace")

    def imports(self):
        """DLL names of the import and delay-load import tables."""
        out = []
        for index, size, name_field in ((1, 20, 12), (13, 32, 4)):
            if index >= len(self.directories):
                continue
            rva, dir_size = self.directories[index]
            if rva == 0 or dir_size == 0:
                continue
            pos = self._offset(rva)
            while True:
                entry = self.data[pos:pos + size]
                if len(entry) < size or entry == b"\0" * size:
                    break
                name_rva = struct.unpack_from("<I", entry, name_field)[0]
                out.append(self._cstring(name_rva))
                pos += size
        return out

    def exported_functions(self):
        if not self.directories or self.directories[0][0] == 0:
            return set()
        off = self._offset(self.directories[0][0])
        # IMAGE_EXPORT_DIRECTORY: NumberOfNames at 24, AddressOfNames at 32.
        nnames = struct.unpack_from("<I", self.data, off + 24)[0]
        names_off = self._offset(struct.unpack_from("<I", self.data, off + 32)[0]) if nnames else 0
        return {self._cstring(struct.unpack_from("<I", self.data, names_off + 4 * i)[0]) for i in range(nnames)}


# ---- checks ----

def check_exports(exported, wanted, failures):
    missing = [f for f in wanted if f not in exported]
    if missing:
        failures.append("not exported: " + ", ".join(missing))


def inspect_elf(path, args, wanted, report, failures):
    elf = Elf(read_bytes(path))
    if args.arch and elf.machine != ELF_MACHINES[args.arch]:
        failures.append("machine %d is not %s" % (elf.machine, args.arch))
    needed = elf.needed()
    report["needed"] = needed
    check_exports(elf.exported_functions(), wanted, failures)
    aligns = elf.load_alignments()
    report["load_alignment"] = min(aligns) if aligns else None
    if args.platform == "linux":
        for lib in needed:
            if OPENSSL_LIBS.match(lib):
                failures.append("links OpenSSL dynamically: " + lib)
            elif not LINUX_SYSTEM_LIBS.match(lib):
                failures.append("depends on a library outside the base system: " + lib)
        floor = elf.glibc_floor()
        report["glibc_floor"] = ".".join(map(str, floor)) if floor else None
        if args.max_glibc and floor and floor > tuple(int(x) for x in args.max_glibc.split(".")):
            failures.append("needs GLIBC_%s, above the floor of %s" % (report["glibc_floor"], args.max_glibc))
    else:
        for lib in needed:
            if ANDROID_FORBIDDEN.match(lib):
                failures.append("depends on a library the player does not ship: " + lib)
        small = [a for a in aligns if a < args.page_size]
        if not aligns or small:
            failures.append("PT_LOAD alignment %s below %d (link with -z max-page-size=%d)"
                            % (sorted(set(small or aligns)), args.page_size, args.page_size))


def inspect_pe(path, args, wanted, report, failures):
    pe = Pe(read_bytes(path))
    if args.arch and pe.machine != PE_MACHINES[args.arch]:
        failures.append("machine 0x%x is not %s" % (pe.machine, args.arch))
    imports = pe.imports()
    report["imports"] = imports
    dynamic_crt = [dll for dll in imports if WINDOWS_DYNAMIC_CRT.match(dll)]
    if dynamic_crt:
        failures.append("links the C runtime dynamically (build with -C target-feature=+crt-static): " + ", ".join(dynamic_crt))
    check_exports(pe.exported_functions(), wanted, failures)


def run_tool(cmd):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout


def inspect_apple(path, args, wanted, report, failures):
    # nm prints "<addr> T _rv_version" for defined external text symbols (archives: per member).
    out = run_tool(["nm", "-gU", path])
    exported = {line.split()[-1].lstrip("_") for line in out.splitlines() if len(line.split()) >= 3}
    check_exports(exported, wanted, failures)
    if args.platform == "macos":
        deps = [line.strip().split(" (")[0] for line in run_tool(["otool", "-L", path]).splitlines()[1:] if line.strip()]
        deps = [d for d in deps if not d.startswith("@rpath/librealtime_voice") and not d.endswith(":")]
        report["needed"] = deps
        for d in deps:
            if not (d.startswith("/usr/lib/") or d.startswith("/System/Library/")):
                failures.append("depends on a non-system library: " + d)


def inspect(path, args):
    wanted = header_functions(args.header)
    report = {"file": path, "platform": args.platform, "rv_functions": len(wanted)}
    failures = []
    if not wanted:
        failures.append("no rv_ functions found in " + args.header)
    if args.platform in ("linux", "android"):
        inspect_elf(path, args, wanted, report, failures)
    elif args.platform == "windows":
        inspect_pe(path, args, wanted, report, failures)
    else:
        inspect_apple(path, args, wanted, report, failures)
    report["failures"] = failures
    return report


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("binary", nargs="+")
    p.add_argument("--platform", required=True, choices=["linux", "android", "windows", "macos", "ios"])
    p.add_argument("--arch", choices=sorted(set(ELF_MACHINES) | set(PE_MACHINES)))
    p.add_argument("--header", default=DEFAULT_HEADER)
    p.add_argument("--max-glibc", help="linux: fail when the library needs a newer glibc (e.g. 2.31)")
    p.add_argument("--page-size", type=int, default=16384, help="android: minimum PT_LOAD alignment")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    status = 0
    for path in args.binary:
        try:
            report = inspect(path, args)
        except (ValueError, struct.error, OSError, subprocess.CalledProcessError) as e:
            report = {"file": path, "platform": args.platform, "failures": ["cannot inspect: %s" % e]}
        if args.json:
            print(json.dumps(report, sort_keys=True))
        else:
            details = ", ".join("%s=%s" % (k, report[k]) for k in ("needed", "imports", "glibc_floor", "load_alignment", "rv_functions") if k in report)
            print("%s %s (%s): %s" % ("FAIL" if report["failures"] else "ok", path, args.platform, details))
            for f in report["failures"]:
                print("  - " + f)
        if report["failures"]:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
