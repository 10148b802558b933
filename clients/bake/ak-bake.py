#!@PYTHON@
"""ak-bake: link an application into a bootable anykern unikernel image.

usage: ak-bake [-c CONFIG] -o IMAGE [--strip] INPUT...
       ak-bake [-c CONFIG] -o IMAGE [--strip] EXECUTABLE
       ak-bake --list

INPUT: object files and static archives of the application, compiled with
    cc -c $(pkg-config --cflags anykern) app.c
The application has an ordinary main() and uses the ak_sys_* API (the same
source runs as a local client on the host).  The image contains the kvm
platform, the kernel, the components of CONFIG (default: full), the
application runtime (kernel start-up, the console on descriptors 0-2, the
client API, a minimal libc) and the application.  Boot it with ak-run.

EXECUTABLE: one static x86-64 Linux executable (musl-gcc -static, gcc
-static, gcc -static-pie, Go with CGO_ENABLED=0), run unmodified in user
mode by the kernel's exec component (docs/linux-exec.md).
"""
import argparse
import fnmatch
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

CONF = "@CONF@"
DEFAULT_CONFIG = "full"


def die(msg, code=1):
    print(f"ak-bake: {msg}", file=sys.stderr)
    sys.exit(code)


def conf_path():
    if os.environ.get("AK_BAKE_CONF"):
        return os.environ["AK_BAKE_CONF"]
    marker = "rel:"
    if CONF.startswith(marker):
        rel = CONF[len(marker):]
        if os.path.isabs(rel):
            return rel
        return os.path.normpath(os.path.join(os.path.dirname(os.path.realpath(__file__)), rel))
    return CONF


class Conf:
    def __init__(self, path):
        self.path = path
        self.values = {}
        self.components = {}  # name -> archive, in build order
        self.configs = {}  # name -> patterns
        base = os.path.dirname(path)
        try:
            lines = open(path).read().splitlines()
        except OSError as e:
            die(f"cannot read the configuration file {path}: {e.strerror}\n"
                "  (is anykern installed, or AK_BAKE_CONF set?)")
        for n, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, sep, value = line.partition("=")
            if not sep:
                die(f"{path}:{n}: expected 'key = value'")
            key, value = key.strip(), value.strip()
            words = key.split()
            if words[0] == "component" and len(words) == 2:
                self.components[words[1]] = self.resolve(base, value)
            elif words[0] == "config" and len(words) == 2:
                self.configs[words[1]] = value.split()
            elif key in ("platform", "runtime", "kernel", "linker-script"):
                self.values[key] = self.resolve(base, value)
            else:
                self.values[key] = value

    @staticmethod
    def resolve(base, value):
        return value if os.path.isabs(value) else os.path.normpath(os.path.join(base, value))

    def config_components(self, config):
        patterns = self.configs[config]
        return [name for name in self.components
                if any(fnmatch.fnmatchcase(name, p) for p in patterns)]


def list_configs(conf):
    for name in conf.configs:
        comps = conf.config_components(name)
        print(f"{name:8} kernel{''.join(' ' + c for c in comps)}")
    return 0


UNDEFINED = re.compile(r"undefined reference to [`'\"]([^'`\"]+)['`\"]")
WHERE = re.compile(r"^(?:.*/)?([^/:]+)(?::\(.*?\))?:")


def report_link_errors(stderr, config):
    undefined = {}
    for line in stderr.splitlines():
        m = UNDEFINED.search(line)
        if not m:
            continue
        where = WHERE.match(line)
        undefined.setdefault(m.group(1), set()).add(where.group(1) if where else "?")
    if not undefined:
        sys.stderr.write(stderr)
        die("linking failed")
    print("ak-bake: undefined symbols:", file=sys.stderr)
    for sym, users in sorted(undefined.items()):
        print(f"  {sym}  (used by {', '.join(sorted(users))})", file=sys.stderr)
    print("ak-bake: the image's libc is a small subset (docs/unikernel.md), or a component\n"
          f"  missing from configuration '{config}' provides them (see ak-bake --list).",
          file=sys.stderr)
    sys.exit(1)


ET_REL, ET_EXEC, ET_DYN = 1, 2, 3
PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
DT_NEEDED, DT_STRTAB = 1, 5
EM_X86_64 = 62
MIB2 = 2 << 20
PIE_BASE = 0x400000  # where a static-pie goes (the usual non-PIE base)


class Executable:
    """The facts ak-bake needs from an ELF executable (ELF-64 gABI)."""

    def __init__(self, path, data):
        self.path = path
        self.data = data
        if len(data) < 64 or data[4] != 2 or data[5] != 1:
            die(f"{path}: not a 64-bit little-endian ELF file")
        (self.type, self.machine, _ver, self.entry, self.phoff, _shoff, _flags, _ehsize,
         phentsize, phnum) = struct.unpack_from("<HHIQQQIHHH", data, 16)
        self.loads, self.interp, self.needed = [], None, []
        dynamic = None
        if phentsize != 56 or self.phoff + phnum * 56 > len(data):
            die(f"{path}: malformed program headers")
        for i in range(phnum):
            ptype, _pflags, off, vaddr, _paddr, filesz, memsz, _align = struct.unpack_from(
                "<IIQQQQQQ", data, self.phoff + i * 56)
            if ptype == PT_LOAD and memsz:
                self.loads.append((vaddr, memsz, off, filesz))
            elif ptype == PT_INTERP:
                self.interp = data[off:off + filesz].split(b"\0")[0].decode(errors="replace")
            elif ptype == PT_DYNAMIC:
                dynamic = (off, filesz)
        if dynamic:
            self.needed = self.dt_needed(*dynamic)

    def dt_needed(self, off, size):
        tags, strtab = [], None
        for at in range(off, min(off + size, len(self.data) - 15), 16):
            tag, val = struct.unpack_from("<qQ", self.data, at)
            if tag == 0:
                break
            if tag == DT_NEEDED:
                tags.append(val)
            elif tag == DT_STRTAB:
                strtab = val
        if not tags:
            return []
        # DT_STRTAB is an address: find its file offset through PT_LOAD.
        names = []
        for val in tags:
            name = "?"
            for vaddr, memsz, foff, filesz in self.loads:
                if strtab is not None and vaddr <= strtab < vaddr + filesz:
                    at = foff + strtab - vaddr + val
                    name = self.data[at:self.data.find(b"\0", at)].decode(errors="replace")
            names.append(name)
        return names

    def check(self):
        if self.machine != EM_X86_64:
            die(f"{self.path} is not an x86-64 program (ELF machine {self.machine}); "
                "images run x86-64 Linux executables")
        if self.interp:
            die(f"{self.path} is dynamically linked (interpreter {self.interp}); "
                "build it with -static (Go: CGO_ENABLED=0)")
        if self.needed:
            die(f"{self.path} is dynamically linked (needs {', '.join(self.needed)}); "
                "build it with -static (Go: CGO_ENABLED=0)")
        if not self.loads:
            die(f"{self.path}: no loadable segments")

    def layout(self):
        """(window_lo, window_hi, file_at): the executable window is the
        PT_LOAD span (a static-pie placed at PIE_BASE) plus the file's own
        bytes above it, rounded out to 2 MiB; file_at is where the bytes go
        (the VMM loads them there; the kernel keeps them out of user
        mappings)."""
        lo = min(v for v, _m, _o, _f in self.loads)
        hi = max(v + m for v, m, _o, _f in self.loads)
        if self.type == ET_DYN:
            lo, hi = PIE_BASE, PIE_BASE + (hi - (lo & ~0xfff))
        file_at = (hi + 0xfff) & ~0xfff
        end = file_at + len(self.data)
        return lo & ~(MIB2 - 1), (end + MIB2 - 1) & ~(MIB2 - 1), file_at


def classify(path):
    """'archive', 'object' or an Executable (dies on anything else)."""
    with open(path, "rb") as fh:
        head = fh.read(64)
    if head[:8] in (b"!<arch>\n", b"!<thin>\n"):
        return "archive"
    if head[:4] != b"\x7fELF":
        die(f"input {path}: not an object file, static archive or executable")
    etype, = struct.unpack_from("<H", head, 16) if len(head) >= 18 else (0,)
    if etype == ET_REL:
        return "object"
    if etype in (ET_EXEC, ET_DYN):
        with open(path, "rb") as fh:
            exe = Executable(path, fh.read())
        if etype == ET_DYN and exe.entry == 0:
            die(f"input {path} is a shared library, not an executable")
        return exe
    die(f"input {path}: ELF type {etype} is neither an object file nor an executable")


EXEC_PHDR_HOOK = "note PT_NOTE FLAGS(4);"
EXEC_SECTION_HOOK = "/DISCARD/ :"


def exec_linker_script(script, tmpdir, file_at):
    """kvm.ld with the executable's PT_LOAD and section added at its hooks
    (object-file images use kvm.ld unchanged)."""
    with open(script) as f:
        text = f.read()
    if EXEC_PHDR_HOOK not in text or EXEC_SECTION_HOOK not in text:
        die(f"{script} lacks the hooks for executable images; reinstall anykern")
    text = text.replace(EXEC_PHDR_HOOK, EXEC_PHDR_HOOK + "\n    execfile PT_LOAD FLAGS(4);", 1)
    text = text.replace(EXEC_SECTION_HOOK, f""".ak_exec_file {file_at:#x} : {{
        KEEP(*(.ak_exec_file))
    }} :execfile
    ASSERT(__image_end <= __ak_exec_window_lo,
           "ak-bake: the image does not fit below the executable window")

    {EXEC_SECTION_HOOK}""", 1)
    out = os.path.join(tmpdir, "kvm-exec.ld")
    with open(out, "w") as f:
        f.write(text)
    return out


def exec_inputs(exe, name, tmpdir, cc, script):
    """Link arguments that embed the executable: the linker script, the
    window symbols and an object holding the file's bytes and name."""
    lo, hi, file_at = exe.layout()
    asm = os.path.join(tmpdir, "exec-file.S")
    obj = os.path.join(tmpdir, "exec-file.o")
    path = os.path.abspath(exe.path).replace("\\", "\\\\").replace('"', '\\"')
    with open(asm, "w") as f:
        f.write(f""".section .ak_exec_file, "a"
.globl __ak_exec_file_start
__ak_exec_file_start:
.incbin "{path}"
.globl __ak_exec_file_end
__ak_exec_file_end:
.section .rodata
.globl __ak_exec_name
__ak_exec_name:
.asciz "{name}"
.section .note.GNU-stack, "", @progbits
""")
    p = subprocess.run([cc, "-c", "-o", obj, asm], capture_output=True, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stderr)
        die(f"cannot assemble the embedding of {exe.path}")
    flags = ["-Wl,-T," + exec_linker_script(script, tmpdir, file_at),
             f"-Wl,--defsym=__ak_exec_window_lo={lo:#x},--defsym=__ak_exec_window_hi={hi:#x}"]
    return flags, [obj], (lo, hi)


def main():
    ap = argparse.ArgumentParser(prog="ak-bake", description=__doc__.splitlines()[0],
                                 epilog="Configurations: ak-bake --list.")
    ap.add_argument("-c", "--config", default=DEFAULT_CONFIG,
                    help=f"component configuration (default {DEFAULT_CONFIG})")
    ap.add_argument("-o", "--output", metavar="IMAGE", help="the image to write")
    ap.add_argument("--list", action="store_true", help="list configurations and exit")
    ap.add_argument("--strip", action="store_true",
                    help="strip symbols (smaller file; crash backtraces stay raw addresses)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print the link command")
    ap.add_argument("inputs", nargs="*", metavar="INPUT", help="object files and archives")
    args = ap.parse_args()

    conf = Conf(conf_path())
    if args.list:
        return list_configs(conf)
    if not args.output:
        ap.error("-o IMAGE is required")
    if not args.inputs:
        ap.error("no INPUT: give the application's object files or archives")
    if args.config not in conf.configs:
        die(f"unknown configuration '{args.config}' (known: {', '.join(conf.configs)})")
    exe = None
    for f in args.inputs:
        if not os.path.isfile(f):
            die(f"input {f}: no such file")
        kind = classify(f)
        if isinstance(kind, Executable):
            if len(args.inputs) != 1:
                die(f"{f} is an executable: give it alone (no other INPUT)")
            kind.check()
            exe = kind
    runtime_key = "exec-runtime" if exe else "runtime"
    for key in ("cc", "platform", runtime_key, "kernel", "linker-script"):
        if key not in conf.values:
            die(f"{conf.path}: '{key}' is not set")
    comps = conf.config_components(args.config)
    archives = [conf.values["platform"], conf.values["kernel"]] + [conf.components[c] for c in comps]
    if exe and not any(c == "exec" for c in comps):
        die(f"configuration '{args.config}' has no exec component: use -c linux or -c full")
    for f in archives + [conf.values[runtime_key], conf.values["linker-script"]]:
        if not os.path.isfile(f):
            die(f"{f} is missing (from {conf.path}); rebuild or reinstall anykern")

    cc = conf.values["cc"]
    if not shutil.which(cc):
        die(f"the compiler '{cc}' used to build anykern is not found")
    out = os.path.abspath(args.output)
    tmp_fd, tmp = tempfile.mkstemp(prefix=".ak-bake-", dir=os.path.dirname(out))
    os.close(tmp_fd)
    tmpdir = tempfile.mkdtemp(prefix=".ak-bake-", dir=os.path.dirname(out))
    cmd = [cc, "-nostdlib", "-static", "-Wl,--build-id=none", "-Wl,-z,noexecstack", "-o", tmp]
    inputs = args.inputs
    window = None
    if exe:
        name = os.path.basename(args.inputs[0])
        flags, inputs, window = exec_inputs(exe, name, tmpdir, cc, conf.values["linker-script"])
        cmd += flags
    else:
        cmd += ["-Wl,-T," + conf.values["linker-script"], "-Wl,-u,main"]
    if args.strip:
        cmd.append("-s")
    cmd += ["-Wl,--start-group"] + inputs + [conf.values[runtime_key], "-Wl,--whole-archive"]
    cmd += archives + ["-Wl,--no-whole-archive", "-Wl,--end-group", "-lgcc"]
    if args.verbose:
        print("+", " ".join(cmd))
    try:
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            if exe and "does not fit below the executable window" in p.stderr:
                die(f"the image does not fit below {exe.path}'s link address {window[0]:#x}; "
                    "link it higher (-Wl,-Ttext-segment=0x1000000) or as -static-pie")
            if "main" in re.findall(UNDEFINED, p.stderr):
                die("the inputs define no main()")
            report_link_errors(p.stderr, args.config)
        if p.stderr.strip():
            sys.stderr.write(p.stderr)
        os.chmod(tmp, 0o755)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
        shutil.rmtree(tmpdir, ignore_errors=True)
    size = os.path.getsize(out)
    loaded = loaded_size(out)
    print(f"ak-bake: {args.output}: {size} bytes ({size / 1024:.0f} KiB), "
          f"{loaded} bytes loaded; configuration {args.config}: "
          f"kernel{''.join(' ' + c for c in comps)}")
    if exe:
        # RAM must reach the window's top; the kernel needs a few MiB of
        # its own above that for page tables, stacks and the program's
        # pages (a rule of thumb, not a measurement of this program).
        need = (window[1] >> 20) + 8
        print(f"ak-bake: {os.path.basename(exe.path)}: executable window "
              f"[{window[0]:#x}, {window[1]:#x}); run with at least -m {need}M")
    return 0


def loaded_size(path):
    """Bytes of PT_LOAD segments in the file (what the VMM copies)."""
    import struct
    with open(path, "rb") as f:
        data = f.read(64)
        phoff, = struct.unpack_from("<Q", data, 32)
        phentsize, phnum = struct.unpack_from("<HH", data, 54)
        total = 0
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            ptype, _flags, _off, _va, _pa, filesz = struct.unpack("<IIQQQQ", f.read(40))
            if ptype == 1:
                total += filesz
        return total


if __name__ == "__main__":
    sys.exit(main())
