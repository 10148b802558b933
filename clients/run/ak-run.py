#!/usr/bin/env python3
"""ak-run: boot an anykern unikernel image under QEMU.

usage: ak-run [OPTIONS] IMAGE [-- ARGS...]

Uses KVM when /dev/kvm is usable, TCG otherwise.  The guest's console (the
serial port) is this terminal's output; ak-run exits with the application's
exit status.  Devices are virtio: PCI on q35, MMIO on microvm.
Configuration reaches the image on the kernel command line.

Exit status: the application's; 125 when QEMU cannot start or fails;
124 after --timeout; 134 when the guest panicked.
"""
import argparse
import os
import re
import selectors
import shutil
import signal
import struct
import subprocess
import sys
import time

EXIT_QEMU_FAILED = 125
EXIT_TIMEOUT = 124
EXIT_PANIC = 134
DEBUG_EXIT = "isa-debug-exit,iobase=0xf4,iosize=0x04"
STATUS_MARKER = re.compile(rb"ak-kvm: exit status (-?\d+)")


def die(msg, code=EXIT_QEMU_FAILED):
    print(f"ak-run: {msg}", file=sys.stderr)
    sys.exit(code)


# ---- image check -----------------------------------------------------------

def image_notes(path):
    """(name, type) of every ELF note in the image's PT_NOTE segments."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        die(f"{path}: {e.strerror}", 2)
    if data[:4] != b"\x7fELF":
        die(f"{path}: not an ELF file, so not an anykern image (make one with ak-bake)", 2)
    if data[4] != 2 or data[5] != 1 or struct.unpack_from("<H", data, 18)[0] != 62:
        die(f"{path}: not an x86-64 ELF image", 2)
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    notes = []
    for i in range(phnum):
        off = phoff + i * phentsize
        if off + 56 > len(data):
            break
        ptype, _, poff, _, _, filesz = struct.unpack_from("<IIQQQQ", data, off)
        if ptype != 4:
            continue
        pos, end = poff, min(poff + filesz, len(data))
        while pos + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", data, pos)
            name = data[pos + 12:pos + 12 + namesz].rstrip(b"\0")
            notes.append((name, ntype))
            pos += 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3)
    return notes


def check_image(path):
    notes = image_notes(path)
    if (b"Xen", 18) not in notes:
        die(f"{path}: no PVH entry note: not a bootable anykern image (make one with ak-bake)", 2)
    if (b"anykern", 0x414B0001) not in notes:
        die(f"{path}: a PVH image, but not an anykern image (no anykern note; "
            "link it with ak-bake)", 2)


# ---- command line ------------------------------------------------------------

def memory_arg(text):
    m = re.fullmatch(r"(\d+)([kKmMgG]?)[bB]?", text)
    if not m:
        raise argparse.ArgumentTypeError(f"bad memory size {text!r} (e.g. 64M, 1G)")
    n, unit = int(m.group(1)), m.group(2).lower()
    mib = {"k": n / 1024, "": n, "m": n, "g": n * 1024}[unit]
    if mib < 2:
        raise argparse.ArgumentTypeError(f"memory size {text!r} is below 2 MiB")
    return int(mib)


def cmdline_word(text):
    if any(c in text for c in '"\n'):
        die(f"{text!r}: double quotes and newlines cannot be passed on the kernel command line", 2)
    return f'"{text}"' if any(c.isspace() for c in text) or not text else text


def parse_args(argv):
    image_args = []
    if "--" in argv:
        i = argv.index("--")
        argv, image_args = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(
        prog="ak-run", usage="ak-run [OPTIONS] IMAGE [-- ARGS...]",
        description=__doc__.split("\n\n")[2].replace("\n", " "),
        epilog="Exit status: the application's; 125 QEMU failed; 124 timeout; 134 guest panic.")
    ap.add_argument("image", metavar="IMAGE", help="image made by ak-bake")
    ap.add_argument("-m", "--memory", type=memory_arg, default=64, metavar="MEM",
                    help="guest RAM (default 64M)")
    ap.add_argument("--smp", type=int, default=1, metavar="N", help="virtual CPUs (default 1)")
    ap.add_argument("-n", "--net", action="append", default=[], metavar="user[,hostfwd=...]|tap=IF",
                    help="a network interface: QEMU user networking (hostfwd=tcp::8080-:80 ...) "
                         "or an existing tap device")
    ap.add_argument("-b", "--disk", action="append", default=[], metavar="DISK[,mount=/path]",
                    help="a raw disk image, optionally mounted at /path by the image")
    ap.add_argument("--ip", metavar="ADDR/PLEN", help="static address of the first interface")
    ap.add_argument("--gw", metavar="GW", help="default gateway")
    ap.add_argument("--dhcp", action="store_true", help="configure the first interface by DHCP")
    ap.add_argument("-e", "--env", action="append", default=[], metavar="VAR=VAL",
                    help="environment variable of the application")
    ap.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                    help="extra kernel parameter (verbose=1, hostname=..., memlimit=...)")
    ap.add_argument("--gdb", type=int, metavar="PORT",
                    help="wait for gdb on localhost:PORT before booting")
    ap.add_argument("--machine", choices=["microvm", "q35"], default="microvm",
                    help="QEMU machine (default microvm: virtio-mmio; q35: virtio-pci)")
    ap.add_argument("--rng", action="store_true", help="add a virtio-rng device")
    ap.add_argument("--accel", choices=["auto", "kvm", "tcg"], default="auto")
    ap.add_argument("--timeout", type=float, metavar="S",
                    help="stop the guest after S seconds (exit status 124)")
    ap.add_argument("--qemu", default=os.environ.get("AK_QEMU", "qemu-system-x86_64"),
                    help="QEMU binary (default qemu-system-x86_64, or $AK_QEMU)")
    ap.add_argument("--dry-run", action="store_true", help="print the QEMU command and exit")
    args = ap.parse_args(argv)
    args.image_args = image_args
    if args.smp < 1:
        ap.error("--smp must be at least 1")
    if args.ip and args.dhcp:
        ap.error("--ip and --dhcp exclude each other")
    for e in args.env:
        if "=" not in e or e.startswith("="):
            ap.error(f"-e {e!r}: expected VAR=VALUE")
    for p in args.param:
        if "=" not in p or p.startswith("=") or " " in p.split("=")[0]:
            ap.error(f"-p {p!r}: expected KEY=VALUE")
    if args.ip and not re.fullmatch(r"\d+\.\d+\.\d+\.\d+/\d+", args.ip):
        ap.error(f"--ip {args.ip!r}: expected ADDR/PREFIXLEN, e.g. 10.0.2.15/24")
    return args


def kvm_usable():
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def build_qemu_command(args, qemu):
    pci = args.machine == "q35"
    accel = args.accel
    if accel == "auto":
        accel = "kvm" if kvm_usable() else "tcg"
    if accel == "kvm" and not kvm_usable():
        die("--accel kvm: /dev/kvm is not usable")
    # microvm: ACPI off so QEMU lists the virtio-mmio transports on the
    # kernel command line (virtio_mmio.device=...); exit is isa-debug-exit.
    machine = "q35" if pci else "microvm,acpi=off"
    cmd = [qemu, "-M", machine, "-accel", accel, "-cpu", "host" if accel == "kvm" else "max",
           "-m", str(args.memory), "-smp", str(args.smp),
           "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
           "-serial", "stdio", "-device", DEBUG_EXIT, "-kernel", args.image]
    if not pci:
        cmd += ["-global", "virtio-mmio.force-legacy=false"]  # virtio 1.x (version 2) registers
    params = [f"ncpu={args.smp}"]
    dev = (lambda kind: f"virtio-{kind}-pci,disable-legacy=on") if pci else \
        (lambda kind: f"virtio-{kind}-device")
    for i, spec in enumerate(args.net):
        kind, _, rest = spec.partition(",")
        if kind == "user":
            cmd += ["-netdev", f"user,id=net{i}" + ("," + rest if rest else "")]
        elif kind.startswith("tap="):
            if rest:
                die(f"-n {spec!r}: a tap interface takes no options", 2)
            cmd += ["-netdev", f"tap,id=net{i},ifname={kind[4:]},script=no,downscript=no"]
        else:
            die(f"-n {spec!r}: expected user[,hostfwd=...] or tap=IFNAME", 2)
        cmd += ["-device", f"{dev('net')},netdev=net{i}"]
    for i, spec in enumerate(args.disk):
        path, _, opts = spec.partition(",")
        if not os.path.exists(path):
            die(f"-b {path}: no such file", 2)
        if not os.access(path, os.R_OK | os.W_OK):
            die(f"-b {path}: not readable and writable", 2)
        if "," in path:
            die(f"-b {path}: commas in disk paths are not supported", 2)
        cmd += ["-drive", f"if=none,id=disk{i},file={path},format=raw,cache=writeback",
                "-device", f"{dev('blk')},drive=disk{i},serial=akdisk{i}"]
        for opt in filter(None, opts.split(",")):
            key, _, value = opt.partition("=")
            if key != "mount" or not value.startswith("/"):
                die(f"-b {spec!r}: unknown option {opt!r} (expected mount=/path)", 2)
            params.append(f"disk{i}.mount={cmdline_word(value)}")
    if args.rng:
        cmd += ["-device", dev("rng")]
    if not args.ip and not args.dhcp and args.net and args.net[0].startswith("user"):
        args.ip, args.gw = "10.0.2.15/24", args.gw or "10.0.2.2"  # QEMU user networking's plan
    if args.ip:
        params.append(f"ip={args.ip}")
    if args.gw:
        params.append(f"gw={args.gw}")
    if args.dhcp:
        params.append("dhcp=1")
    for p in args.param:
        key, _, value = p.partition("=")
        params.append(f"{key}={cmdline_word(value)}")
    words = params + ["--"] + [cmdline_word(e) for e in args.env] + ["--"]
    words += [cmdline_word(a) for a in [os.path.basename(args.image)] + args.image_args]
    append = " ".join(words)
    if len(append) >= 4096:
        die("the kernel command line would exceed 4 KiB (too many arguments)", 2)
    cmd += ["-append", append]
    if args.gdb:
        cmd += ["-gdb", f"tcp:127.0.0.1:{args.gdb}", "-S"]
    return cmd


def qemu_errors(stderr):
    """QEMU's own error lines ("qemu-system-x86_64: ...", warnings excepted)."""
    return [l for l in stderr.decode(errors="replace").splitlines()
            if re.match(r"^\S*qemu\S*: (?!warning:)", l)]


def status_from_qemu(code, tail, stderr):
    """The application's exit status from QEMU's exit code and output."""
    if code == 255 or (code == 1 and b"ak-kvm: panic" in tail):
        print("ak-run: the guest panicked", file=sys.stderr)
        return EXIT_PANIC
    if code & 1:
        if code == 1 and qemu_errors(stderr):
            return EXIT_QEMU_FAILED  # QEMU reported an error before/while booting
        status = (code - 1) >> 1
        if status == 126:  # clamped by isa-debug-exit: the console has the real value
            m = list(STATUS_MARKER.finditer(tail))
            if m:
                status = int(m[-1].group(1)) & 0xFF
        return status
    if code == 0:
        return 0  # ACPI poweroff: status 0
    return EXIT_QEMU_FAILED


def run(cmd, timeout):
    try:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as e:
        die(f"cannot start {cmd[0]}: {e.strerror}")
    old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)  # QEMU handles ^C itself

    def forward(signum, _frame):  # do not leave the guest running without us
        p.send_signal(signum)
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGHUP, forward)
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ, sys.stdout.buffer)
    sel.register(p.stderr, selectors.EVENT_READ, sys.stderr.buffer)
    tail, errout = b"", b""
    deadline = time.monotonic() + timeout if timeout else None
    timed_out = False
    open_streams = 2
    while open_streams:
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        events = sel.select(wait)
        if not events and deadline is not None and time.monotonic() >= deadline:
            timed_out = True
            p.kill()
            deadline = None
            continue
        for key, _ in events:
            chunk = os.read(key.fileobj.fileno(), 65536)
            if not chunk:
                sel.unregister(key.fileobj)
                open_streams -= 1
                continue
            key.data.write(chunk)
            key.data.flush()
            if key.data is sys.stdout.buffer:
                tail = (tail + chunk)[-8192:]
            else:
                errout = (errout + chunk)[-8192:]
    code = p.wait()
    signal.signal(signal.SIGINT, old_int)
    if timed_out:
        print(f"\nak-run: stopped the guest after {timeout:g} s", file=sys.stderr)
        return EXIT_TIMEOUT
    return status_from_qemu(code, tail, errout)


def main():
    args = parse_args(sys.argv[1:])
    check_image(args.image)
    qemu = shutil.which(args.qemu)
    if not qemu:
        die(f"{args.qemu} not found: install QEMU (Debian: apt install qemu-system-x86) "
            "or set AK_QEMU")
    cmd = build_qemu_command(args, qemu)
    if args.dry_run:
        print(" ".join(cmd))
        return 0
    return run(cmd, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
