"""Tests of tools/inspect_native.py on real binaries: shared objects built here with the C
compiler (right and deliberately wrong ones), the native plugin when it is built, and a PE file
from the Mono installation.

    python3 -m unittest tools/test_inspect_native.py
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import inspect_native  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FUNCTIONS = inspect_native.header_functions(inspect_native.DEFAULT_HEADER)


def run(platform, path, *extra):
    """The report of one binary (the command line's checks, without printing)."""
    return inspect_native.inspect(path, inspect_native.parse_args(["--platform", platform] + list(extra) + [path]))


@unittest.skipUnless(shutil.which("cc"), "needs a C compiler")
class ElfTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="inspect-native-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def build(self, name, functions, *ldflags):
        src = os.path.join(self.dir, name + ".c")
        with open(src, "w") as f:
            for fn in functions:
                f.write("int %s(void) { return 0; }\n" % fn)
        out = os.path.join(self.dir, name + ".so")
        subprocess.run(["cc", "-shared", "-fPIC", "-o", out, src] + list(ldflags), check=True)
        return out

    def test_header_lists_the_abi(self):
        self.assertIn("rv_session_create", FUNCTIONS)
        self.assertIn("rv_get_stats", FUNCTIONS)
        self.assertGreaterEqual(len(FUNCTIONS), 19)
        self.assertEqual(len(FUNCTIONS), len(set(FUNCTIONS)))

    def test_16k_aligned_library_passes_android(self):
        so = self.build("aligned", FUNCTIONS, "-Wl,-z,max-page-size=16384")
        report = run("android", so)
        self.assertEqual(report["failures"], [])
        self.assertGreaterEqual(report["load_alignment"], 16384)

    def test_4k_aligned_library_fails_android(self):
        so = self.build("small_pages", FUNCTIONS, "-Wl,-z,max-page-size=4096")
        report = run("android", so)
        self.assertEqual(report["load_alignment"], 4096)
        self.assertEqual(len(report["failures"]), 1, report)
        self.assertIn("PT_LOAD alignment", report["failures"][0])
        # and through the command line: exit status 1
        self.assertEqual(inspect_native.main(["--platform", "android", so]), 1)

    def test_missing_or_hidden_symbol_fails(self):
        so = self.build("missing", FUNCTIONS[1:])
        report = run("linux", so)
        self.assertTrue(any(FUNCTIONS[0] in f and "not exported" in f for f in report["failures"]), report)
        hidden = self.build("hidden", FUNCTIONS, "-fvisibility=hidden")
        self.assertTrue(any("not exported" in f for f in run("linux", hidden)["failures"]))

    @unittest.skipUnless(os.path.exists("/usr/include/openssl/ssl.h"), "needs libssl-dev")
    def test_dynamic_openssl_fails_linux(self):
        so = self.build("openssl", FUNCTIONS, "-Wl,--no-as-needed", "-lssl", "-lcrypto")
        report = run("linux", so)
        self.assertTrue(any(n.startswith("libssl") for n in report["needed"]), report)
        self.assertTrue(any("links OpenSSL dynamically: libssl" in f for f in report["failures"]), report)
        self.assertTrue(any("links OpenSSL dynamically: libcrypto" in f for f in report["failures"]), report)

    def test_glibc_floor_reported_and_enforced(self):
        src = os.path.join(self.dir, "glibc.c")
        with open(src, "w") as f:
            f.write("#include <stdio.h>\n#include <string.h>\n")
            for fn in FUNCTIONS:
                f.write("int %s(void) { char b[8]; memcpy(b, \"x\", 2); return printf(\"%%s\", b); }\n" % fn)
        so = os.path.join(self.dir, "glibc.so")
        subprocess.run(["cc", "-shared", "-fPIC", "-O0", "-o", so, src], check=True)
        report = run("linux", so)
        self.assertEqual(report["failures"], [])
        floor = report["glibc_floor"]
        self.assertRegex(floor, r"^2\.\d+$")
        self.assertEqual(run("linux", so, "--max-glibc", floor)["failures"], [])
        low = run("linux", so, "--max-glibc", "2.0")["failures"]
        self.assertTrue(any("needs GLIBC_" + floor in f for f in low), low)

    def test_wrong_machine_fails(self):
        so = self.build("machine", FUNCTIONS)
        wrong = "arm64" if os.uname().machine == "x86_64" else "x86_64"
        self.assertTrue(any("machine" in f for f in run("linux", so, "--arch", wrong)["failures"]))

    def test_not_an_elf_is_reported(self):
        path = os.path.join(self.dir, "text.so")
        with open(path, "w") as f:
            f.write("not a binary")
        self.assertEqual(inspect_native.main(["--platform", "linux", path]), 1)


class BuiltPluginTests(unittest.TestCase):
    """The plugin built by `cargo build --lib` (the test command builds it first)."""

    def library(self):
        for profile in ("debug", "release"):
            path = os.path.join(ROOT, "target", profile, "librealtime_voice.so")
            if os.path.exists(path):
                return path
        self.skipTest("librealtime_voice.so not built")

    def test_plugin_has_no_dynamic_openssl_and_exports_the_header(self):
        so = self.library()
        report = run("linux", so)
        self.assertEqual(report["failures"], [])
        self.assertFalse(any("ssl" in n or "crypto" in n for n in report["needed"]), report["needed"])
        self.assertIsNotNone(report["glibc_floor"])


def make_pe(machine, imports, exports):
    """A minimal PE32+ DLL: one section holding an import table of `imports` and an export
    table naming `exports` (enough for the loader-facing tables the inspector reads)."""
    sect_rva, sect_off = 0x1000, 0x200
    # Section layout: import descriptors at 0, export directory at 1024, export name RVAs at
    # 2048, strings from 4096.
    strings = bytearray()

    def add_string(text):
        off = 4096 + len(strings)
        strings.extend(text.encode() + b"\0")
        return sect_rva + off

    descriptors = bytearray()
    for dll in imports:
        descriptors += struct.pack("<IIIII", 0, 0, 0, add_string(dll), 0)
    descriptors += b"\0" * 20
    names = [add_string(n) for n in exports]
    names_off = 2048
    export_off = 1024
    data = bytearray(b"\0" * 4096)
    data[0:len(descriptors)] = descriptors
    data[export_off:export_off + 40] = struct.pack("<IIHHIIIIIII", 0, 0, 0, 0, 0, 1, len(exports), len(exports),
                                                   0, sect_rva + names_off, 0)
    for i, rva in enumerate(names):
        data[names_off + 4 * i:names_off + 4 * i + 4] = struct.pack("<I", rva)
    section = bytes(data) + bytes(strings)
    size = (len(section) + 0x1FF) & ~0x1FF
    section = section.ljust(size, b"\0")

    dos = bytearray(b"\0" * 64)
    dos[0:2] = b"MZ"
    dos[0x3C:0x40] = struct.pack("<I", 64)
    coff = struct.pack("<HHIIIHH", machine, 1, 0, 0, 0, 240, 0x2022)
    opt = bytearray(b"\0" * 240)
    opt[0:2] = struct.pack("<H", 0x20B)
    opt[108:112] = struct.pack("<I", 16)
    opt[112:120] = struct.pack("<II", sect_rva + export_off, 40)            # export directory
    opt[120:128] = struct.pack("<II", sect_rva, len(descriptors))           # import directory
    header = bytes(dos) + b"PE\0\0" + coff + bytes(opt)
    sec = struct.pack("<8sIIIIIIHHI", b".rdata", len(section), sect_rva, size, sect_off, 0, 0, 0, 0, 0x40000040)
    head = (header + sec).ljust(sect_off, b"\0")
    return head + section


class SyntheticPeTests(unittest.TestCase):
    """The Windows checks on DLL images built here: static CRT passes, a dynamic CRT fails."""

    def inspect(self, data, *extra):
        fd, path = tempfile.mkstemp(suffix=".dll")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            return run("windows", path, *extra)
        finally:
            os.remove(path)

    def test_static_crt_dll_passes(self):
        report = self.inspect(make_pe(0x8664, ["KERNEL32.dll", "bcrypt.dll"], FUNCTIONS), "--arch", "x86_64")
        self.assertEqual(report["failures"], [])
        self.assertEqual(report["imports"], ["KERNEL32.dll", "bcrypt.dll"])
        self.assertEqual(self.inspect(make_pe(0xAA64, ["KERNEL32.dll"], FUNCTIONS), "--arch", "arm64")["failures"], [])

    def test_dynamic_crt_dll_fails(self):
        dlls = ["KERNEL32.dll", "VCRUNTIME140.dll", "api-ms-win-crt-runtime-l1-1-0.dll"]
        report = self.inspect(make_pe(0x8664, dlls, FUNCTIONS))
        self.assertEqual(len(report["failures"]), 1, report)
        self.assertIn("VCRUNTIME140.dll, api-ms-win-crt-runtime-l1-1-0.dll", report["failures"][0])
        self.assertIn("+crt-static", report["failures"][0])

    def test_missing_export_and_wrong_machine_fail(self):
        report = self.inspect(make_pe(0xAA64, ["KERNEL32.dll"], FUNCTIONS[:-1]), "--arch", "x86_64")
        self.assertTrue(any("not exported: " + FUNCTIONS[-1] in f for f in report["failures"]), report)
        self.assertTrue(any("machine 0xaa64 is not x86_64" in f for f in report["failures"]), report)


@unittest.skipUnless(os.path.exists("/usr/lib/mono/4.5/mscorlib.dll"), "needs Mono (a PE file to read)")
class PeTests(unittest.TestCase):
    def test_imports_of_a_real_pe(self):
        pe = inspect_native.Pe(inspect_native.read_bytes("/usr/lib/mono/4.5/mscorlib.dll"))
        self.assertEqual([d.lower() for d in pe.imports()], ["mscoree.dll"])
        self.assertEqual(pe.machine, 0x14C)  # IL assemblies are PE32 / i386

    def test_pe_without_rv_exports_fails(self):
        report = run("windows", "/usr/lib/mono/4.5/mscorlib.dll")
        self.assertTrue(any("not exported" in f for f in report["failures"]))
        self.assertTrue(any("machine" in f for f in run("windows", "/usr/lib/mono/4.5/mscorlib.dll", "--arch", "x86_64")["failures"]))

    def test_dynamic_crt_names(self):
        for dll in ("VCRUNTIME140.dll", "vcruntime140_1.dll", "MSVCP140.dll", "api-ms-win-crt-runtime-l1-1-0.dll", "ucrtbase.dll"):
            self.assertTrue(inspect_native.WINDOWS_DYNAMIC_CRT.match(dll), dll)
        for dll in ("KERNEL32.dll", "ws2_32.dll", "bcrypt.dll", "secur32.dll", "api-ms-win-core-synch-l1-2-0.dll"):
            self.assertFalse(inspect_native.WINDOWS_DYNAMIC_CRT.match(dll), dll)


if __name__ == "__main__":
    unittest.main()
