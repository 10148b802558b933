// Remote protocol encoders and decoders (docs/remote-protocol.md).
#include "akproto.h"

#include <anykern/nettab.h>
#include <anykern/sysmarshal.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

namespace akproto {

namespace {

const ak_sysmarshal* lookup(long nr) {
    if (nr < 0 || nr >= AK_SYSMARSHAL_COUNT || !ak_sysmarshal_table[nr].name)
        return nullptr;
    return &ak_sysmarshal_table[nr];
}

// A call with an argument the kernel uses in place in the caller's memory
// (futex, set_robust_list, ...) cannot be made remotely.
bool local_only(const ak_sysmarshal& m) {
    for (int i = 0; i < m.nargs && i < 6; i++)
        if (m.args[i].kind == AK_ARG_LOCAL)
            return true;
    return false;
}

// Element count of a buffer argument (a constant or another argument's value).
uint64_t element_count(const ak_sysarg_desc& d, const long* args) {
    if (d.count_arg >= 0 && d.count_arg < 6)
        return static_cast<uint64_t>(args[d.count_arg]);
    return d.count;
}

// count * elem, or false when it exceeds limit.
bool byte_size(uint64_t count, uint32_t elem, size_t limit, size_t& out) {
    if (elem == 0)
        elem = 1;
    if (count > limit / elem)
        return false;
    out = static_cast<size_t>(count) * elem;
    return true;
}

// Kinds whose argument points to memory: a NULL one carries nothing.
bool is_pointer_arg(uint8_t kind) {
    switch (kind) {
    case AK_ARG_STR:
    case AK_ARG_IN:
    case AK_ARG_INOUT:
    case AK_ARG_OUT:
    case AK_ARG_IOV_IN:
    case AK_ARG_IOV_OUT:
    case AK_ARG_MSG_IN:
    case AK_ARG_MSG_OUT:
        return true;
    default:
        return false;
    }
}

// Lay n iovecs whose lengths are set end to end over base.
void spread_iov(struct iovec* iov, size_t n, uint8_t* base) {
    size_t off = 0;
    for (size_t j = 0; j < n; j++) {
        iov[j].iov_base = base + off;
        off += iov[j].iov_len;
    }
}

} // namespace

void iov_advance(struct iovec*& iov, int& n, size_t done) {
    while (n > 0 && done >= iov->iov_len) {
        done -= iov->iov_len;
        iov++;
        n--;
    }
    if (n > 0) {
        iov->iov_base = static_cast<uint8_t*>(iov->iov_base) + done;
        iov->iov_len -= done;
    }
}

bool ioctl_arg(unsigned long request, IoctlArg& out) {
    switch (request) {
    case k_fionbio:
        out = {k_ioctl_in, sizeof(int)};
        return true;
    case k_fionread:
    case k_siocoutq:
        out = {k_ioctl_out, sizeof(int)};
        return true;
    case k_fioclex:
    case k_fionclex:
    case k_tcsbrk:
    case k_tcxonc:
    case k_tcflsh:
        out = {k_ioctl_none, 0};
        return true;
    // Terminals (the console): kernel struct termios, struct winsize, pid_t.
    case k_tcgets:
        out = {k_ioctl_out, k_termios_size};
        return true;
    case k_tcsets:
    case k_tcsetsw:
    case k_tcsetsf:
        out = {k_ioctl_in, k_termios_size};
        return true;
    case k_tiocgwinsz:
        out = {k_ioctl_out, k_winsize_size};
        return true;
    case k_tiocswinsz:
        out = {k_ioctl_in, k_winsize_size};
        return true;
    case k_tiocgpgrp:
        out = {k_ioctl_out, sizeof(int)};
        return true;
    case k_tiocspgrp:
        out = {k_ioctl_in, sizeof(int)};
        return true;
    case k_siocgifconf:
    case AK_SIOCGRTTAB:
    case AK_SIOCGARPTAB:
    case AK_SIOCGTCPTAB:
    case AK_SIOCGIFTAB:
        out = {k_ioctl_conf, k_ifconf_size};
        return true;
    case k_siocaddrt:
    case k_siocdelrt:
        out = {k_ioctl_rtentry, k_rtentry_size};
        return true;
    // struct ifreq: the gets read the name and write the answer back.
    case 0x8910: // SIOCGIFNAME
    case 0x8913: // SIOCGIFFLAGS
    case 0x8915: // SIOCGIFADDR
    case 0x8917: // SIOCGIFDSTADDR
    case 0x8919: // SIOCGIFBRDADDR
    case 0x891b: // SIOCGIFNETMASK
    case 0x891d: // SIOCGIFMETRIC
    case 0x8921: // SIOCGIFMTU
    case 0x8927: // SIOCGIFHWADDR
    case 0x8933: // SIOCGIFINDEX
        out = {k_ioctl_inout, k_ifreq_size};
        return true;
    case 0x8914: // SIOCSIFFLAGS
    case 0x8916: // SIOCSIFADDR
    case 0x8918: // SIOCSIFDSTADDR
    case 0x891a: // SIOCSIFBRDADDR
    case 0x891c: // SIOCSIFNETMASK
    case 0x891e: // SIOCSIFMETRIC
    case 0x8922: // SIOCSIFMTU
    case 0x8923: // SIOCSIFNAME
    case 0x8924: // SIOCSIFHWADDR
        out = {k_ioctl_in, k_ifreq_size};
        return true;
    default:
        return false;
    }
}

// --- Server side -------------------------------------------------------------

const char* decode_hello(const uint8_t* body, size_t size, HelloBody& out, const uint8_t*& secret,
                         size_t& secret_len) {
    Reader r(body, size);
    if (!r.get(out))
        return "short hello";
    if (out.magic != k_magic)
        return "bad magic";
    if (out.secret_len > k_max_secret || out.secret_len != r.remaining())
        return "bad secret length";
    secret_len = out.secret_len;
    return r.take(secret_len, secret) ? nullptr : "short secret";
}

const char* decode_syscall(uint8_t* body, size_t size, DecodeScratch& scratch, DecodedCall& out) {
    Reader r(body, size);
    SyscallHead head;
    if (!r.get(head))
        return "short syscall header";
    out.nr = head.nr;
    out.early_ret = 0;
    out.nout = 0;
    for (int i = 0; i < 6; i++)
        out.args[i] = static_cast<long>(head.args[i]);
    const ak_sysmarshal* m = lookup(head.nr);
    if (!m || local_only(*m)) {
        out.early_ret = -ENOSYS;
        return r.remaining() ? "data after unknown syscall" : nullptr;
    }
    size_t data_total = 0; // input and output bytes of this call
    size_t out_pos = 0;
    size_t iov_used = 0;
    auto add_data = [&](size_t n) {
        if (n > k_max_data - data_total)
            return false;
        data_total += n;
        return true;
    };
    auto carve = [&](size_t n) -> uint8_t* {
        size_t need = align8(n);
        if (need > scratch.out_cap - out_pos)
            return nullptr;
        uint8_t* p = scratch.out + out_pos;
        out_pos += need;
        return p;
    };
    // Scratch memory the reply does not carry as a whole (structures).
    auto alloc = [&](size_t n) -> uint8_t* {
        uint8_t* p = carve(n);
        if (p)
            memset(p, 0, n);
        return p;
    };
    // A reply slot over memory that is already allocated.
    auto add_slot = [&](uint8_t* p, size_t n, uint32_t ret_unit, const uint8_t* limit, bool wide) {
        if (out.nout >= k_max_out)
            return false;
        out.out[out.nout++] = OutSlot{p, n, ret_unit, limit, wide};
        return true;
    };
    auto new_slot = [&](size_t n, uint32_t ret_unit) -> uint8_t* {
        if (out.nout >= k_max_out)
            return nullptr;
        uint8_t* p = carve(n);
        if (p)
            out.out[out.nout++] = OutSlot{p, n, ret_unit, nullptr, false};
        return p;
    };
    // Buffers sized by a socklen_t another argument points to (DEREF): the
    // request says the size; it is checked against that argument below.
    struct Deref {
        int slot;      // reply slot of the buffer, or -1 (input or absent)
        int count_arg; // the socklen_t * argument
        uint32_t count;
    } derefs[6];
    int nderef = 0;
    auto string_chunk = [&](const uint8_t*& p) -> const char* {
        uint32_t len;
        if (!r.chunk(p, len))
            return "short string chunk";
        if (len == 0 || len > k_max_str || p[len - 1] != 0)
            return "bad string length or terminator";
        return nullptr;
    };
    // The u64 lengths of n iovecs, taken from scratch; total is their sum.
    auto iov_lengths = [&](uint32_t n, struct iovec*& iov, size_t& total) -> const char* {
        iov = scratch.iov + iov_used;
        iov_used += n;
        total = 0;
        for (uint32_t j = 0; j < n; j++) {
            uint64_t len;
            if (!r.get(len))
                return "short iov lengths";
            if (len > k_max_data - total)
                return "iov over the limit";
            iov[j].iov_len = static_cast<size_t>(len);
            total += static_cast<size_t>(len);
        }
        return nullptr;
    };
    for (int i = 0; i < m->nargs && i < 6; i++) {
        const ak_sysarg_desc& d = m->args[i];
        bool present = head.args[i] != 0;
        uint32_t ret_unit = 0;
        if (d.flags & AK_ARGF_RET)
            ret_unit = d.kind == AK_ARG_OUT && d.elem_size ? d.elem_size : 1;
        bool deref = d.flags & AK_ARGF_DEREF;
        if (!present && is_pointer_arg(d.kind)) {
            out.args[i] = 0; // the kernel answers EFAULT when it is required
            continue;
        }
        switch (d.kind) {
        case AK_ARG_VAL:
        case AK_ARG_FCNTL:
            break;
        case AK_ARG_STR: {
            const uint8_t* p;
            if (const char* why = string_chunk(p))
                return why;
            out.args[i] = reinterpret_cast<long>(p);
            break;
        }
        case AK_ARG_IN:
        case AK_ARG_INOUT:
        case AK_ARG_OUT: {
            bool input = d.kind != AK_ARG_OUT;
            uint64_t count = element_count(d, out.args);
            if (deref) {
                uint32_t c;
                if (!r.get_u32_padded(c) || nderef >= 6)
                    return "short size chunk";
                // Only an output buffer's reply is cut to the size the kernel left.
                derefs[nderef++] = Deref{input ? -1 : out.nout, d.count_arg, c};
                count = c;
            }
            size_t n;
            if (!byte_size(count, d.elem_size, k_max_data, n) || !add_data(n))
                return input ? "input buffer over the limit" : "output buffer over the limit";
            const uint8_t* p = nullptr;
            uint32_t len;
            if (input && (!r.chunk(p, len) || len != n))
                return "input chunk does not match its size argument";
            if (d.kind == AK_ARG_IN) {
                out.args[i] = reinterpret_cast<long>(p);
                break;
            }
            if (d.kind == AK_ARG_INOUT && !add_data(n))
                return "in/out buffer over the limit";
            uint8_t* slot = new_slot(n, ret_unit);
            if (!slot)
                return "output scratch exhausted";
            if (d.kind == AK_ARG_INOUT)
                memcpy(slot, p, n);
            out.args[i] = reinterpret_cast<long>(slot);
            break;
        }
        case AK_ARG_IOV_IN:
        case AK_ARG_IOV_OUT: {
            uint64_t count = element_count(d, out.args);
            uint32_t n;
            if (!r.get_u32_padded(n))
                return "short iov chunk";
            if (count > k_max_iov || n != count || n > k_max_iov - iov_used)
                return "iov count mismatch";
            struct iovec* iov;
            size_t total;
            if (const char* why = iov_lengths(n, iov, total))
                return why;
            if (!add_data(total))
                return "iov over the limit";
            uint8_t* base;
            if (d.kind == AK_ARG_IOV_IN) {
                const uint8_t* p;
                if (!r.take(total, p) || !r.align8())
                    return "short iov data";
                base = const_cast<uint8_t*>(p);
            } else {
                base = new_slot(total, 1);
                if (!base)
                    return "output scratch exhausted";
            }
            spread_iov(iov, n, base);
            out.args[i] = reinterpret_cast<long>(iov);
            break;
        }
        case AK_ARG_MSG_IN:
        case AK_ARG_MSG_OUT: {
            MsgChunk mc;
            if (!r.get(mc))
                return "short msghdr chunk";
            bool has_name = mc.present & 1, has_control = mc.present & 2;
            if (mc.niov > k_max_iov - iov_used || mc.namelen > k_max_sockaddr ||
                (!has_name && mc.namelen) || (!has_control && mc.controllen) ||
                mc.controllen > k_max_data || (mc.present & ~3u))
                return "bad msghdr chunk";
            uint8_t* msg = alloc(k_msghdr_size);
            if (!msg)
                return "output scratch exhausted";
            struct iovec* iov;
            size_t total;
            if (const char* why = iov_lengths(mc.niov, iov, total))
                return why;
            if (!add_data(mc.namelen) || !add_data(total) ||
                !add_data(static_cast<size_t>(mc.controllen)))
                return "msghdr buffers over the limit";
            uint8_t* name = nullptr;
            uint8_t* base;
            uint8_t* control = nullptr;
            if (d.kind == AK_ARG_MSG_IN) {
                const uint8_t* p;
                if (!r.take(mc.namelen, p) || !r.align8())
                    return "short msg_name";
                name = has_name ? const_cast<uint8_t*>(p) : nullptr;
                if (!r.take(total, p) || !r.align8())
                    return "short iov data";
                base = const_cast<uint8_t*>(p);
                if (!r.take(static_cast<size_t>(mc.controllen), p) || !r.align8())
                    return "short msg_control";
                control = has_control ? const_cast<uint8_t*>(p) : nullptr;
            } else {
                if (has_name && !(name = new_slot(mc.namelen, 0)))
                    return "output scratch exhausted";
                if (!(base = new_slot(total, 1)))
                    return "output scratch exhausted";
                if (has_control && !(control = new_slot(static_cast<size_t>(mc.controllen), 0)))
                    return "output scratch exhausted";
                // The kernel lowers msg_namelen and msg_controllen to what it wrote.
                if (has_name)
                    out.out[out.nout - (has_control ? 3 : 2)].limit = msg + 8;
                if (has_control) {
                    out.out[out.nout - 1].limit = msg + 40;
                    out.out[out.nout - 1].limit_wide = true;
                }
                if (!add_slot(msg + 8, 4, 0, nullptr, false) ||
                    !add_slot(msg + 40, 8, 0, nullptr, false) ||
                    !add_slot(msg + 48, 4, 0, nullptr, false))
                    return "too many outputs";
            }
            spread_iov(iov, mc.niov, base);
            uint64_t iovlen = mc.niov, controllen = mc.controllen;
            void* iovp = mc.niov ? iov : nullptr;
            memcpy(msg + 0, &name, 8);
            memcpy(msg + 8, &mc.namelen, 4);
            memcpy(msg + 16, &iovp, 8);
            memcpy(msg + 24, &iovlen, 8);
            memcpy(msg + 32, &control, 8);
            memcpy(msg + 40, &controllen, 8);
            memcpy(msg + 48, &mc.msg_flags, 4);
            out.args[i] = reinterpret_cast<long>(msg);
            break;
        }
        case AK_ARG_IOCTL: {
            IoctlArg ia;
            if (!ioctl_arg(static_cast<unsigned long>(out.args[1]), ia)) {
                out.early_ret = -ENOTTY;
                out.nout = 0;
                return r.remaining() ? "data after unsupported ioctl" : nullptr;
            }
            if (!present || ia.shape == k_ioctl_none) {
                out.args[i] = 0;
                break;
            }
            if (ia.shape == k_ioctl_out) {
                uint8_t* slot = new_slot(ia.size, 0);
                if (!slot)
                    return "output scratch exhausted";
                out.args[i] = reinterpret_cast<long>(slot);
                break;
            }
            uint32_t len;
            const uint8_t* p;
            if (!r.chunk(p, len) || len != ia.size)
                return "bad ioctl argument chunk";
            uint8_t* arg = const_cast<uint8_t*>(p); // request bodies are writable
            if (ia.shape == k_ioctl_inout) {
                arg = new_slot(len, 0);
                if (!arg)
                    return "output scratch exhausted";
                memcpy(arg, p, len);
            } else if (ia.shape == k_ioctl_conf) {
                // ifc_len in and back; ifc_buf (sent as 0/1) becomes scratch.
                int32_t clen;
                uint64_t has_buf;
                memcpy(&clen, p, 4);
                memcpy(&has_buf, p + 8, 8);
                if (clen < 0 || has_buf > 1)
                    return "bad ifconf";
                arg = alloc(k_ifconf_size);
                if (!arg || !add_slot(arg, 4, 0, nullptr, false))
                    return "output scratch exhausted";
                memcpy(arg, &clen, 4);
                if (has_buf) {
                    if (!add_data(static_cast<size_t>(clen)))
                        return "ifconf buffer over the limit";
                    uint8_t* buf = new_slot(static_cast<size_t>(clen), 0);
                    if (!buf)
                        return "output scratch exhausted";
                    out.out[out.nout - 1].limit = arg;
                    memcpy(arg + 8, &buf, 8);
                }
            } else if (ia.shape == k_ioctl_rtentry) {
                uint64_t has_dev;
                memcpy(&has_dev, arg + k_rtentry_dev_off, 8);
                if (has_dev > 1)
                    return "bad rtentry";
                const uint8_t* dev = nullptr;
                if (has_dev) {
                    if (const char* why = string_chunk(dev))
                        return why;
                }
                memcpy(arg + k_rtentry_dev_off, &dev, 8);
            }
            out.args[i] = reinterpret_cast<long>(arg);
            break;
        }
        default:
            return "unknown argument kind in table";
        }
    }
    if (r.remaining())
        return "trailing bytes after the arguments";
    // A DEREF size must be the value its socklen_t argument holds (which the
    // kernel reads to bound its writes); that argument must be present.
    for (int k = 0; k < nderef; k++) {
        const Deref& dr = derefs[k];
        if (dr.count_arg < 0 || dr.count_arg >= 6)
            return "bad size argument in table";
        const auto* cp = reinterpret_cast<const uint8_t*>(out.args[dr.count_arg]);
        uint32_t v = 0;
        if (cp)
            memcpy(&v, cp, 4);
        if (v != dr.count)
            return "buffer size does not match its length argument";
        if (dr.slot >= 0)
            out.out[dr.slot].limit = cp;
    }
    return nullptr;
}

size_t reply_len(const OutSlot& slot, long ret) {
    if (ret < 0)
        return 0;
    size_t n = slot.size;
    if (slot.ret_unit) {
        unsigned long units = static_cast<unsigned long>(ret);
        if (units < n / slot.ret_unit + 1)
            n = units * slot.ret_unit < n ? units * slot.ret_unit : n;
    }
    if (slot.limit) {
        uint64_t v;
        if (slot.limit_wide) {
            memcpy(&v, slot.limit, 8);
        } else {
            uint32_t v32;
            memcpy(&v32, slot.limit, 4);
            v = v32;
        }
        if (v < n)
            n = static_cast<size_t>(v);
    }
    return n;
}

void build_syscall_reply(const DecodedCall& call, long ret, SyscallReply& out) {
    int n = 1;
    size_t total = sizeof out.head.ret;
    for (int i = 0; i < call.nout; i++) {
        size_t len = reply_len(call.out[i], ret);
        out.lens[i] = static_cast<uint32_t>(len);
        out.iov[n++] = {&out.lens[i], sizeof out.lens[i]};
        if (len)
            out.iov[n++] = {call.out[i].data, len};
        total += sizeof out.lens[i] + len;
    }
    out.head.fh = FrameHeader{static_cast<uint32_t>(total), k_msg_syscall_reply, 0};
    out.head.ret = ret;
    out.iov[0] = {&out.head, sizeof out.head};
    out.niov = n;
}

WelcomeBody make_welcome(int status, int kpid, const uint8_t* key) {
    WelcomeBody w{};
    w.magic = k_magic;
    w.version = k_version;
    w.status = status;
    w.kpid = kpid;
    w.max_body = static_cast<uint32_t>(k_max_body);
    if (key)
        memcpy(w.session_key, key, k_token_size);
    return w;
}

int frame_read(FrameBuffer& b, FrameHeader& fh, long (*read_fn)(void*, void*, size_t), void* ctx,
               const char*& reason, int* err) {
    size_t need = sizeof(FrameHeader);
    bool have_header = false;
    for (;;) {
        if (!have_header && b.have >= sizeof(FrameHeader)) {
            memcpy(&fh, b.buf, sizeof fh);
            if (fh.size > k_max_body || sizeof fh + fh.size > b.cap) {
                reason = "frame over the size limit";
                return -1;
            }
            need = sizeof fh + fh.size;
            have_header = true;
        }
        if (have_header && b.have >= need)
            return 1;
        long n = read_fn(ctx, b.buf + b.have, b.cap - b.have);
        if (n == -EINTR)
            continue;
        if (n == 0 && b.have == 0)
            return 0;
        if (n <= 0) {
            reason = n == 0 ? "connection closed mid-frame" : "read error";
            if (err)
                *err = n == 0 ? 0 : static_cast<int>(n);
            return -1;
        }
        b.have += static_cast<size_t>(n);
    }
}

void frame_consume(FrameBuffer& b, const FrameHeader& fh) {
    size_t used = sizeof fh + fh.size;
    if (b.have > used)
        memmove(b.buf, b.buf + used, b.have - used);
    b.have -= used;
}

bool write_all(struct iovec* iov, int n, WriteFn write_fn, void* ctx) {
    while (n > 0) {
        long w = write_fn(ctx, iov, n);
        if (w == -EINTR)
            continue;
        if (w <= 0)
            return false;
        iov_advance(iov, n, static_cast<size_t>(w));
    }
    return true;
}

bool frame_write(uint16_t type, const void* body, size_t len, WriteFn write_fn, void* ctx) {
    FrameHeader fh{static_cast<uint32_t>(len), type, 0};
    struct iovec iov[2] = {{&fh, sizeof fh}, {const_cast<void*>(body), len}};
    return write_all(iov, 2, write_fn, ctx);
}

// --- Client side -------------------------------------------------------------

namespace {

class Writer {
public:
    Writer(uint8_t* buf, size_t cap) : m_buf(buf), m_cap(cap) {}
    bool put(const void* p, size_t n) {
        if (n > m_cap - m_len)
            return false;
        if (n)
            memcpy(m_buf + m_len, p, n);
        m_len += n;
        return true;
    }
    template <typename T> bool put_value(const T& v) { return put(&v, sizeof v); }
    bool pad8() {
        static const uint8_t zeros[8] = {};
        return put(zeros, (8 - (m_len & 7)) & 7);
    }
    // The counterparts of Reader::get_u32_padded and Reader::chunk.
    bool put_u32_padded(uint32_t v) {
        uint32_t zero = 0;
        return put_value(v) && put_value(zero);
    }
    bool chunk(const void* p, uint32_t n) { return put_u32_padded(n) && put(p, n) && pad8(); }
    // A string chunk: the bytes and the NUL.  0, -ENAMETOOLONG or -E2BIG.
    long string(const char* s) {
        size_t len = strnlen(s, k_max_str);
        if (len >= k_max_str)
            return -ENAMETOOLONG;
        return chunk(s, static_cast<uint32_t>(len + 1)) ? 0 : -E2BIG;
    }
    // The u64 lengths of n iovecs; total is their sum (false: over k_max_data).
    bool iov_lengths(const struct iovec* iov, size_t n, size_t& total) {
        total = 0;
        for (size_t j = 0; j < n; j++) {
            uint64_t len = iov[j].iov_len;
            if (len > k_max_data - total)
                return false;
            total += static_cast<size_t>(len);
            if (!put_value(len))
                return false;
        }
        return true;
    }
    // The bytes of n iovecs, then padding to 8.
    bool iov_data(const struct iovec* iov, size_t n) {
        for (size_t j = 0; j < n; j++)
            if (!put(iov[j].iov_base, iov[j].iov_len))
                return false;
        return pad8();
    }
    size_t size() const { return m_len; }
    uint8_t* data() { return m_buf; }

private:
    uint8_t* m_buf;
    size_t m_cap;
    size_t m_len = 0;
};

} // namespace

long encode_syscall(uint8_t* buf, size_t cap, long nr, const long args[6], ClientCall& call) {
    call.nout = 0;
    const ak_sysmarshal* m = lookup(nr);
    if (!m || local_only(*m))
        return -ENOSYS;
    Writer w(buf, cap);
    FrameHeader fh{0, k_msg_syscall, 0};
    SyscallHead head{};
    head.nr = static_cast<uint32_t>(nr);
    for (int i = 0; i < 6; i++)
        head.args[i] = args[i];
    for (int i = 0; i < m->nargs && i < 6; i++) {
        uint8_t k = m->args[i].kind;
        if (k != AK_ARG_VAL && k != AK_ARG_FCNTL)
            head.args[i] = args[i] ? 1 : 0;
    }
    if (!w.put_value(fh) || !w.put_value(head))
        return -E2BIG;
    size_t data_total = 0;
    auto add_data = [&](size_t n) {
        if (n > k_max_data - data_total)
            return false;
        data_total += n;
        return true;
    };
    auto add_out = [&](const ClientOut& o) {
        if (call.nout >= k_max_out)
            return false;
        call.out[call.nout++] = o;
        return true;
    };
    // A reply buffer of n bytes at p.
    auto add_buf = [&](void* p, size_t n) {
        return add_out(ClientOut{AK_ARG_OUT, static_cast<uint8_t*>(p), n, nullptr, 0});
    };
    for (int i = 0; i < m->nargs && i < 6; i++) {
        const ak_sysarg_desc& d = m->args[i];
        void* p = reinterpret_cast<void*>(args[i]);
        if (!p && is_pointer_arg(d.kind))
            continue;
        switch (d.kind) {
        case AK_ARG_VAL:
        case AK_ARG_FCNTL:
            break;
        case AK_ARG_STR:
            if (long e = w.string(static_cast<const char*>(p)))
                return e;
            break;
        case AK_ARG_IN:
        case AK_ARG_INOUT:
        case AK_ARG_OUT: {
            uint64_t count = element_count(d, args);
            if (d.flags & AK_ARGF_DEREF) {
                // The size is what the socklen_t argument points to.
                const void* cp = d.count_arg >= 0 && d.count_arg < 6
                                     ? reinterpret_cast<const void*>(args[d.count_arg])
                                     : nullptr;
                uint32_t c = 0;
                if (cp)
                    memcpy(&c, cp, 4);
                if (!w.put_u32_padded(c))
                    return -E2BIG;
                count = c;
            }
            size_t n;
            if (!byte_size(count, d.elem_size, k_max_data, n) || !add_data(n))
                return -E2BIG;
            if (d.kind != AK_ARG_OUT && !w.chunk(p, static_cast<uint32_t>(n)))
                return -E2BIG;
            if (d.kind != AK_ARG_IN) {
                if (d.kind == AK_ARG_INOUT && !add_data(n))
                    return -E2BIG;
                if (!add_out(ClientOut{d.kind, static_cast<uint8_t*>(p), n, nullptr, 0}))
                    return -E2BIG;
            }
            break;
        }
        case AK_ARG_IOV_IN:
        case AK_ARG_IOV_OUT: {
            uint64_t count = element_count(d, args);
            if (count > k_max_iov)
                return -EINVAL;
            auto* iov = static_cast<const struct iovec*>(p);
            uint32_t n = static_cast<uint32_t>(count);
            size_t total;
            if (!w.put_u32_padded(n) || !w.iov_lengths(iov, n, total) || !add_data(total))
                return -E2BIG;
            if (d.kind == AK_ARG_IOV_IN ? !w.iov_data(iov, n)
                                        : !add_out(ClientOut{d.kind, nullptr, total, iov, n}))
                return -E2BIG;
            break;
        }
        case AK_ARG_MSG_IN:
        case AK_ARG_MSG_OUT: {
            auto* msg = static_cast<struct msghdr*>(p);
            if (msg->msg_iovlen > k_max_iov)
                return -EMSGSIZE;
            if (msg->msg_iovlen && !msg->msg_iov)
                return -EFAULT;
            if (msg->msg_name && msg->msg_namelen > k_max_sockaddr)
                return -EINVAL;
            if (msg->msg_control && msg->msg_controllen > k_max_data)
                return -ENOBUFS;
            MsgChunk mc{};
            mc.niov = static_cast<uint32_t>(msg->msg_iovlen);
            mc.present = (msg->msg_name ? 1u : 0u) | (msg->msg_control ? 2u : 0u);
            mc.namelen = msg->msg_name ? msg->msg_namelen : 0;
            mc.msg_flags = msg->msg_flags;
            mc.controllen = msg->msg_control ? msg->msg_controllen : 0;
            size_t total;
            if (!w.put_value(mc) || !w.iov_lengths(msg->msg_iov, mc.niov, total) ||
                !add_data(mc.namelen) || !add_data(total) ||
                !add_data(static_cast<size_t>(mc.controllen)))
                return -E2BIG;
            if (d.kind == AK_ARG_MSG_IN) {
                if (!w.put(msg->msg_name, mc.namelen) || !w.pad8() ||
                    !w.iov_data(msg->msg_iov, mc.niov) || !w.put(msg->msg_control, mc.controllen) ||
                    !w.pad8())
                    return -E2BIG;
                break;
            }
            // Reply order: name, data, control, then msg_namelen,
            // msg_controllen and msg_flags (what the kernel updates).
            bool ok = true;
            if (msg->msg_name)
                ok = add_buf(msg->msg_name, mc.namelen);
            ok = ok && add_out(ClientOut{AK_ARG_IOV_OUT, nullptr, total, msg->msg_iov, mc.niov});
            if (msg->msg_control)
                ok = ok && add_buf(msg->msg_control, static_cast<size_t>(mc.controllen));
            ok = ok && add_buf(&msg->msg_namelen, sizeof msg->msg_namelen) &&
                 add_buf(&msg->msg_controllen, sizeof msg->msg_controllen) &&
                 add_buf(&msg->msg_flags, sizeof msg->msg_flags);
            if (!ok)
                return -E2BIG;
            break;
        }
        case AK_ARG_IOCTL: {
            IoctlArg ia;
            if (!ioctl_arg(static_cast<unsigned long>(args[1]), ia))
                return -ENOTTY;
            if (!p || ia.shape == k_ioctl_none)
                break;
            auto* arg = static_cast<uint8_t*>(p);
            switch (ia.shape) {
            case k_ioctl_out:
                if (!add_buf(arg, ia.size))
                    return -E2BIG;
                break;
            case k_ioctl_in:
            case k_ioctl_inout:
                if (!w.chunk(arg, ia.size) || (ia.shape == k_ioctl_inout && !add_buf(arg, ia.size)))
                    return -E2BIG;
                break;
            case k_ioctl_conf: {
                int32_t clen;
                void* buf;
                memcpy(&clen, arg, 4);
                memcpy(&buf, arg + 8, 8);
                if (clen < 0)
                    return -EINVAL;
                if (buf && !add_data(static_cast<size_t>(clen)))
                    return -E2BIG;
                uint8_t copy[k_ifconf_size] = {};
                uint64_t has_buf = buf ? 1 : 0;
                memcpy(copy, &clen, 4);
                memcpy(copy + 8, &has_buf, 8);
                if (!w.chunk(copy, sizeof copy) || !add_buf(arg, 4) ||
                    (buf && !add_buf(buf, static_cast<size_t>(clen))))
                    return -E2BIG;
                break;
            }
            case k_ioctl_rtentry: {
                uint8_t copy[k_rtentry_size];
                memcpy(copy, arg, sizeof copy);
                const char* dev;
                memcpy(&dev, copy + k_rtentry_dev_off, 8);
                uint64_t has_dev = dev ? 1 : 0;
                memcpy(copy + k_rtentry_dev_off, &has_dev, 8);
                if (!w.chunk(copy, sizeof copy))
                    return -E2BIG;
                if (dev) {
                    if (long e = w.string(dev))
                        return e;
                }
                break;
            }
            case k_ioctl_none:
                break;
            }
            break;
        }
        default:
            return -ENOSYS;
        }
    }
    fh.size = static_cast<uint32_t>(w.size() - sizeof fh);
    memcpy(w.data(), &fh, sizeof fh);
    return static_cast<long>(w.size());
}

long decode_syscall_reply(const uint8_t* body, size_t size, const ClientCall& call, long& ret) {
    Reader r(body, size);
    int64_t v;
    if (!r.get(v))
        return -EPROTO;
    ret = static_cast<long>(v);
    for (int i = 0; i < call.nout; i++) {
        const ClientOut& o = call.out[i];
        uint32_t len;
        const uint8_t* p;
        if (!r.get(len) || len > o.size || !r.take(len, p))
            return -EPROTO;
        if (o.kind == AK_ARG_IOV_OUT) {
            size_t off = 0;
            for (size_t j = 0; j < o.niov && off < len; j++) {
                size_t n = o.iov[j].iov_len;
                if (n > len - off)
                    n = len - off;
                memcpy(o.iov[j].iov_base, p + off, n);
                off += n;
            }
        } else if (len) {
            memcpy(o.data, p, len);
        }
    }
    return r.remaining() ? -EPROTO : 0;
}

// --- Shared helpers ------------------------------------------------------------

int parse_url(const char* text, Url& out) {
    memset(&out, 0, sizeof out);
    if (!text)
        return EINVAL;
    if (strncmp(text, "unix://", 7) == 0) {
        const char* path = text + 7;
        size_t n = strlen(path);
        if (path[0] != '/' || n == 0 || n >= sizeof out.path)
            return EINVAL;
        out.is_unix = true;
        memcpy(out.path, path, n + 1);
        return 0;
    }
    if (strncmp(text, "tcp://", 6) == 0) {
        const char* hp = text + 6;
        const char* colon;
        const char* host = hp;
        size_t hostlen;
        if (hp[0] == '[') {
            const char* close = strchr(hp, ']');
            if (!close || close[1] != ':')
                return EINVAL;
            host = hp + 1;
            hostlen = static_cast<size_t>(close - host);
            colon = close + 1;
        } else {
            colon = strrchr(hp, ':');
            if (!colon)
                return EINVAL;
            hostlen = static_cast<size_t>(colon - hp);
        }
        const char* port = colon + 1;
        size_t portlen = strlen(port);
        if (hostlen == 0 || hostlen >= sizeof out.host || portlen == 0 ||
            portlen >= sizeof out.port)
            return EINVAL;
        for (size_t i = 0; i < portlen; i++)
            if (port[i] < '0' || port[i] > '9')
                return EINVAL;
        out.is_unix = false;
        memcpy(out.host, host, hostlen);
        out.host[hostlen] = 0;
        memcpy(out.port, port, portlen + 1);
        return 0;
    }
    return EINVAL;
}

bool secret_equal(const uint8_t* secret, size_t n, const uint8_t* candidate, size_t m) {
    // Every byte of the secret is compared whatever the candidate is; the
    // length mismatch is folded in without an early return.
    volatile uint8_t diff = static_cast<uint8_t>(n != m);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = m ? candidate[i % m] : 0;
        diff = static_cast<uint8_t>(diff | (secret[i] ^ c));
    }
    return n > 0 && diff == 0;
}

void to_hex(const uint8_t* in, size_t n, char* out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = 0;
}

bool from_hex(const char* in, uint8_t* out, size_t n) {
    auto val = [](char c) -> int {
        if (c >= '0' && c <= '9')
            return c - '0';
        if (c >= 'a' && c <= 'f')
            return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
            return c - 'A' + 10;
        return -1;
    };
    for (size_t i = 0; i < n; i++) {
        int hi = val(in[2 * i]);
        if (hi < 0)
            return false;
        int lo = val(in[2 * i + 1]);
        if (lo < 0)
            return false;
        out[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return in[2 * n] == 0;
}

} // namespace akproto
