// Remote protocol encoders and decoders (docs/remote-protocol.md).
#include "akproto.h"

#include <anykern/sysmarshal.h>

#include <errno.h>
#include <string.h>

namespace akproto {

namespace {

const ak_sysmarshal* lookup(long nr) {
    if (nr < 0 || nr >= AK_SYSMARSHAL_COUNT || !ak_sysmarshal_table[nr].name)
        return nullptr;
    return &ak_sysmarshal_table[nr];
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

} // namespace

int ioctl_arg_direction(unsigned long request) {
    switch (request) {
    case k_fionbio:
        return 1;
    case k_fionread:
        return 2;
    case k_fioclex:
    case k_fionclex:
        return 0;
    default:
        return -1;
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
    if (!m) {
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
    auto new_slot = [&](size_t n, bool ret_limited) -> uint8_t* {
        size_t need = align8(n);
        if (need > scratch.out_cap - out_pos)
            return nullptr;
        uint8_t* p = scratch.out + out_pos;
        out_pos += need;
        out.out[out.nout++] = OutSlot{p, n, ret_limited};
        return p;
    };
    for (int i = 0; i < m->nargs && i < 6; i++) {
        const ak_sysarg_desc& d = m->args[i];
        bool present = head.args[i] != 0;
        bool ret_limited = d.flags & AK_ARGF_RET;
        switch (d.kind) {
        case AK_ARG_VAL:
        case AK_ARG_FCNTL:
            break;
        case AK_ARG_STR: {
            if (!present) {
                out.args[i] = 0; // the kernel answers EFAULT when it is required
                break;
            }
            uint32_t len, zero;
            const uint8_t* p;
            if (!r.get(len) || !r.get(zero) || !r.take(len, p) || !r.align8())
                return "short string chunk";
            if (len == 0 || len > k_max_str || p[len - 1] != 0)
                return "bad string length or terminator";
            out.args[i] = reinterpret_cast<long>(p);
            break;
        }
        case AK_ARG_IN:
        case AK_ARG_INOUT: {
            if (!present) {
                out.args[i] = 0;
                break;
            }
            size_t n;
            if (!byte_size(element_count(d, out.args), d.elem_size, k_max_data, n) || !add_data(n))
                return "input buffer over the limit";
            uint32_t len, zero;
            const uint8_t* p;
            if (!r.get(len) || !r.get(zero) || len != n || !r.take(len, p) || !r.align8())
                return "input chunk does not match its size argument";
            if (d.kind == AK_ARG_IN) {
                out.args[i] = reinterpret_cast<long>(p);
            } else {
                if (!add_data(n))
                    return "in/out buffer over the limit";
                uint8_t* slot = new_slot(n, ret_limited);
                if (!slot)
                    return "output scratch exhausted";
                memcpy(slot, p, n);
                out.args[i] = reinterpret_cast<long>(slot);
            }
            break;
        }
        case AK_ARG_OUT: {
            if (!present) {
                out.args[i] = 0;
                break;
            }
            size_t n;
            if (!byte_size(element_count(d, out.args), d.elem_size, k_max_data, n) || !add_data(n))
                return "output buffer over the limit";
            uint8_t* slot = new_slot(n, ret_limited);
            if (!slot)
                return "output scratch exhausted";
            out.args[i] = reinterpret_cast<long>(slot);
            break;
        }
        case AK_ARG_IOV_IN:
        case AK_ARG_IOV_OUT: {
            if (!present) {
                out.args[i] = 0;
                break;
            }
            uint64_t count = element_count(d, out.args);
            uint32_t n, zero;
            if (!r.get(n) || !r.get(zero))
                return "short iov chunk";
            if (count > k_max_iov || n != count || n > k_max_iov - iov_used)
                return "iov count mismatch";
            struct iovec* iov = scratch.iov + iov_used;
            iov_used += n;
            size_t total = 0;
            for (uint32_t j = 0; j < n; j++) {
                uint64_t len;
                if (!r.get(len))
                    return "short iov lengths";
                if (len > k_max_data - total)
                    return "iov over the limit";
                iov[j].iov_len = static_cast<size_t>(len);
                total += static_cast<size_t>(len);
            }
            if (!add_data(total))
                return "iov over the limit";
            uint8_t* base;
            if (d.kind == AK_ARG_IOV_IN) {
                const uint8_t* p;
                if (!r.take(total, p) || !r.align8())
                    return "short iov data";
                base = const_cast<uint8_t*>(p);
            } else {
                base = new_slot(total, ret_limited);
                if (!base)
                    return "output scratch exhausted";
            }
            size_t off = 0;
            for (uint32_t j = 0; j < n; j++) {
                iov[j].iov_base = base + off;
                off += iov[j].iov_len;
            }
            out.args[i] = reinterpret_cast<long>(iov);
            break;
        }
        case AK_ARG_IOCTL: {
            int dir = ioctl_arg_direction(static_cast<unsigned long>(out.args[1]));
            if (dir < 0) {
                out.early_ret = -ENOTTY;
                out.nout = 0;
                return r.remaining() ? "data after unsupported ioctl" : nullptr;
            }
            if (!present || dir == 0) {
                out.args[i] = 0;
                break;
            }
            if (dir == 1) {
                uint32_t len, zero;
                const uint8_t* p;
                if (!r.get(len) || !r.get(zero) || len != sizeof(int) || !r.take(len, p) ||
                    !r.align8())
                    return "bad ioctl argument chunk";
                out.args[i] = reinterpret_cast<long>(p);
            } else {
                uint8_t* slot = new_slot(sizeof(int), false);
                if (!slot)
                    return "output scratch exhausted";
                out.args[i] = reinterpret_cast<long>(slot);
            }
            break;
        }
        default:
            return "unknown argument kind in table";
        }
    }
    if (r.remaining())
        return "trailing bytes after the arguments";
    return nullptr;
}

size_t reply_len(const OutSlot& slot, long ret) {
    if (ret < 0)
        return 0;
    if (slot.ret_limited)
        return static_cast<unsigned long>(ret) < slot.size ? static_cast<size_t>(ret) : slot.size;
    return slot.size;
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
    bool chunk(const void* p, uint32_t n) {
        uint32_t zero = 0;
        return put_value(n) && put_value(zero) && put(p, n) && pad8();
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
    if (!m)
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
    for (int i = 0; i < m->nargs && i < 6; i++) {
        const ak_sysarg_desc& d = m->args[i];
        void* p = reinterpret_cast<void*>(args[i]);
        switch (d.kind) {
        case AK_ARG_VAL:
        case AK_ARG_FCNTL:
            break;
        case AK_ARG_STR: {
            if (!p)
                break;
            size_t len = strnlen(static_cast<const char*>(p), k_max_str);
            if (len >= k_max_str)
                return -ENAMETOOLONG;
            uint32_t n = static_cast<uint32_t>(len + 1), zero = 0;
            if (!w.put_value(n) || !w.put_value(zero) || !w.put(p, len + 1) || !w.pad8())
                return -E2BIG;
            break;
        }
        case AK_ARG_IN:
        case AK_ARG_INOUT:
        case AK_ARG_OUT: {
            if (!p)
                break;
            size_t n;
            if (!byte_size(element_count(d, args), d.elem_size, k_max_data, n) || !add_data(n))
                return -E2BIG;
            if (d.kind != AK_ARG_OUT && !w.chunk(p, static_cast<uint32_t>(n)))
                return -E2BIG;
            if (d.kind != AK_ARG_IN) {
                if (d.kind == AK_ARG_INOUT && !add_data(n))
                    return -E2BIG;
                call.out[call.nout++] = ClientOut{d.kind, static_cast<uint8_t*>(p), n, nullptr, 0};
            }
            break;
        }
        case AK_ARG_IOV_IN:
        case AK_ARG_IOV_OUT: {
            if (!p)
                break;
            uint64_t count = element_count(d, args);
            if (count > k_max_iov)
                return -EINVAL;
            auto* iov = static_cast<const struct iovec*>(p);
            uint32_t n = static_cast<uint32_t>(count), zero = 0;
            if (!w.put_value(n) || !w.put_value(zero))
                return -E2BIG;
            size_t total = 0;
            for (uint32_t j = 0; j < n; j++) {
                uint64_t len = iov[j].iov_len;
                if (len > k_max_data - total)
                    return -E2BIG;
                total += static_cast<size_t>(len);
                if (!w.put_value(len))
                    return -E2BIG;
            }
            if (!add_data(total))
                return -E2BIG;
            if (d.kind == AK_ARG_IOV_IN) {
                for (uint32_t j = 0; j < n; j++)
                    if (!w.put(iov[j].iov_base, iov[j].iov_len))
                        return -E2BIG;
                if (!w.pad8())
                    return -E2BIG;
            } else {
                call.out[call.nout++] = ClientOut{d.kind, nullptr, total, iov, n};
            }
            break;
        }
        case AK_ARG_IOCTL: {
            int dir = ioctl_arg_direction(static_cast<unsigned long>(args[1]));
            if (dir < 0)
                return -ENOTTY;
            if (!p || dir == 0)
                break;
            if (dir == 1) {
                if (!w.chunk(p, sizeof(int)))
                    return -E2BIG;
            } else {
                call.out[call.nout++] =
                    ClientOut{AK_ARG_OUT, static_cast<uint8_t*>(p), sizeof(int), nullptr, 0};
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
