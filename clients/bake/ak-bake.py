#!@PYTHON@
"""ak-bake: link an application into a bootable anykern unikernel image.

usage: ak-bake [-c CONFIG] -o IMAGE [--strip] INPUT...
       ak-bake --list

INPUT: object files and static archives of the application, compiled with
    cc -c $(pkg-config --cflags anykern) app.c
The application has an ordinary main() and uses the ak_sys_* API (the same
source runs as a local client on the host).  The image contains the kvm
platform, the kernel, the components of CONFIG (default: full), the
application runtime (kernel start-up, the console on descriptors 0-2, the
client API, a minimal libc) and the application.  Boot it with ak-run.
"""
import argparse
import fnmatch
import os
import re
import shutil
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
    for f in args.inputs:
        if not os.path.isfile(f):
            die(f"input {f}: no such file")
        with open(f, "rb") as fh:
            magic = fh.read(8)
        if magic[:4] != b"\x7fELF" and magic not in (b"!<arch>\n", b"!<thin>\n"):
            die(f"input {f}: not an object file or static archive")
    for key in ("cc", "platform", "runtime", "kernel", "linker-script"):
        if key not in conf.values:
            die(f"{conf.path}: '{key}' is not set")
    comps = conf.config_components(args.config)
    archives = [conf.values["platform"], conf.values["kernel"]] + [conf.components[c] for c in comps]
    for f in archives + [conf.values["runtime"], conf.values["linker-script"]]:
        if not os.path.isfile(f):
            die(f"{f} is missing (from {conf.path}); rebuild or reinstall anykern")

    cc = conf.values["cc"]
    if not shutil.which(cc):
        die(f"the compiler '{cc}' used to build anykern is not found")
    out = os.path.abspath(args.output)
    tmp_fd, tmp = tempfile.mkstemp(prefix=".ak-bake-", dir=os.path.dirname(out))
    os.close(tmp_fd)
    cmd = [cc, "-nostdlib", "-static", "-Wl,-T," + conf.values["linker-script"],
           "-Wl,--build-id=none", "-Wl,-z,noexecstack", "-Wl,-u,main", "-o", tmp]
    if args.strip:
        cmd.append("-s")
    cmd += ["-Wl,--start-group"] + args.inputs + [conf.values["runtime"], "-Wl,--whole-archive"]
    cmd += archives + ["-Wl,--no-whole-archive", "-Wl,--end-group", "-lgcc"]
    if args.verbose:
        print("+", " ".join(cmd))
    try:
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
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
    size = os.path.getsize(out)
    loaded = loaded_size(out)
    print(f"ak-bake: {args.output}: {size} bytes ({size / 1024:.0f} KiB), "
          f"{loaded} bytes loaded; configuration {args.config}: "
          f"kernel{''.join(' ' + c for c in comps)}")
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
