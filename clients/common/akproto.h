// The remote protocol (docs/remote-protocol.md): wire structures, limits,
// and the encoders/decoders shared by ak-server, libakclient and the fuzzer.
//
// Every decoder works on a checked view of untrusted bytes: lengths are
// validated before use, nothing asserts on input, and a decoding error is a
// plain return value (the server then closes that one connection).
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <ak/abi/process.h>

namespace akproto {

constexpr uint32_t k_magic = 0x50524b41; // "AKRP" as little-endian bytes
constexpr uint16_t k_version = 1;

// Buffers of one request or reply together carry at most this many bytes;
// the client splits or clamps bigger transfers.
constexpr size_t k_max_data = 1u << 20;
// Body limit: data plus room for argument blocks, strings and iov tables.
constexpr size_t k_max_body = k_max_data + 64 * 1024;
constexpr size_t k_max_str = 4096; // bytes of a string argument, NUL included
constexpr size_t k_max_iov = 1024; // entries of an iovec argument (IOV_MAX)
constexpr size_t k_token_size = 32;
constexpr size_t k_max_secret = 256;

enum MsgType : uint16_t {
    k_msg_hello = 1,
    k_msg_welcome = 2,
    k_msg_syscall = 3,
    k_msg_syscall_reply = 4,
    k_msg_proc_prepare = 5,
    k_msg_proc_token = 6,
    k_msg_exec_cancel = 7,
    k_msg_status = 8,
    k_msg_stats = 9,
    k_msg_stats_reply = 10,
    k_msg_bye = 11,
};

struct FrameHeader {
    uint32_t size; // bytes of body that follow
    uint16_t type; // MsgType
    uint16_t flags;
};
static_assert(sizeof(FrameHeader) == 8);

enum HelloKind : uint16_t {
    k_hello_new = 0,    // a new kernel process
    k_hello_attach = 1, // take over the process of a one-time token (fork, exec)
    k_hello_thread = 2, // one more connection of an existing session
};

struct HelloBody {
    uint32_t magic;
    uint16_t version;
    uint16_t kind;
    uint32_t flags;
    int32_t host_pid;
    int32_t kpid; // attach/thread: the kernel process
    uint16_t secret_len;
    uint16_t reserved;
    uint8_t token[k_token_size]; // attach: one-time token; thread: session key
    // followed by secret_len bytes of shared secret (TCP)
};
static_assert(sizeof(HelloBody) == 56);

struct WelcomeBody {
    uint32_t magic;
    uint16_t version;
    uint16_t reserved;
    int32_t status; // 0 or an errno; non-zero: the server closes
    int32_t kpid;
    uint32_t max_body;
    uint32_t reserved2;
    uint8_t session_key[k_token_size];
};
static_assert(sizeof(WelcomeBody) == 56);

struct SyscallHead {
    uint32_t nr;
    uint32_t reserved;
    int64_t args[6]; // pointer arguments: 0 = NULL, anything else = present
};
static_assert(sizeof(SyscallHead) == 56);

// Request chunk of a struct msghdr argument (sendmsg, recvmsg), followed by
// u64 iov lengths[niov] and, for sendmsg, the name, iov data and control
// bytes (each padded to 8).
struct MsgChunk {
    uint32_t niov;
    uint32_t present; // bit 0: msg_name, bit 1: msg_control
    uint32_t namelen;
    int32_t msg_flags;
    uint64_t controllen;
};
static_assert(sizeof(MsgChunk) == 24);

enum ProcOp : uint32_t {
    k_proc_fork = 1,  // child with a copy of the descriptors (fork)
    k_proc_exec = 2,  // token to re-attach this process after execve
    k_proc_spawn = 3, // child with a copy of the descriptors, attached as exec (vfork+exec)
    k_proc_new = 4,   // child without descriptors (ak_proc_create without COPYFD)
};

struct ProcPrepareBody {
    uint32_t op;
    uint32_t reserved;
};
static_assert(sizeof(ProcPrepareBody) == 8);

struct ProcTokenBody {
    int32_t status;
    int32_t kpid;
    uint8_t token[k_token_size];
};
static_assert(sizeof(ProcTokenBody) == 40);

struct ExecCancelBody {
    uint8_t token[k_token_size];
};

struct StatusBody {
    int32_t status;
    uint32_t reserved;
};
static_assert(sizeof(StatusBody) == 8);

struct StatsBody {
    uint32_t procs;       // kernel processes (including pid 1)
    uint32_t connections; // open client connections
    uint32_t sessions;    // kernel processes owned by clients
    uint32_t pending_tokens;
    uint64_t mem_in_use;
    uint64_t mem_peak;
    uint64_t mem_limit;
    uint32_t caller_nfds; // descriptors of the caller's process
    uint32_t reserved;
};
static_assert(sizeof(StatsBody) == 48);

// Checked view over untrusted bytes.
class Reader {
public:
    Reader(const uint8_t* data, size_t size) : m_data(data), m_size(size) {}
    size_t remaining() const { return m_size - m_off; }
    size_t offset() const { return m_off; }
    bool take(size_t n, const uint8_t*& out) {
        if (n > remaining())
            return false;
        out = m_data + m_off;
        m_off += n;
        return true;
    }
    template <typename T> bool get(T& out) {
        const uint8_t* p;
        if (!take(sizeof(T), p))
            return false;
        __builtin_memcpy(&out, p, sizeof(T));
        return true;
    }
    // Skip to the next multiple of 8 (request chunks are 8-aligned).
    bool align8() {
        size_t pad = (8 - (m_off & 7)) & 7;
        const uint8_t* p;
        return take(pad, p);
    }
    // A u32 and its 4 bytes of padding (a size or a count in a request).
    bool get_u32_padded(uint32_t& out) {
        uint32_t pad;
        return get(out) && get(pad);
    }
    // A request chunk: u32 length, 4 bytes of padding, the bytes, padding to 8.
    bool chunk(const uint8_t*& out, uint32_t& len) {
        return get_u32_padded(len) && take(len, out) && align8();
    }

private:
    const uint8_t* m_data;
    size_t m_size;
    size_t m_off = 0;
};

constexpr size_t align8(size_t n) {
    return (n + 7) & ~size_t(7);
}

// After a partial vectored write of `done` bytes: drop the iovecs that were
// written completely and trim the first one that was not (used by both
// servers' send loops).
void iov_advance(struct iovec*& iov, int& n, size_t done);

// ioctl commands the protocol knows how to marshal (Linux values).
constexpr unsigned long k_fionread = 0x541b;
constexpr unsigned long k_fionbio = 0x5421;
constexpr unsigned long k_fionclex = 0x5450;
constexpr unsigned long k_fioclex = 0x5451;
constexpr unsigned long k_siocoutq = 0x5411;
constexpr unsigned long k_siocaddrt = 0x890b;
constexpr unsigned long k_siocdelrt = 0x890c;
constexpr unsigned long k_siocgifconf = 0x8912;
// Terminal ioctls: the kernel's ABI definitions (tests/unit checks them
// against the host's headers).
using ak::abi::k_tcflsh;
using ak::abi::k_tcgets;
using ak::abi::k_tcsbrk;
using ak::abi::k_tcsets;
using ak::abi::k_tcsetsf;
using ak::abi::k_tcsetsw;
using ak::abi::k_tcxonc;
using ak::abi::k_tiocgpgrp;
using ak::abi::k_tiocgwinsz;
using ak::abi::k_tiocspgrp;
using ak::abi::k_tiocswinsz;

// Sizes of the nested structures (x86-64).
constexpr size_t k_ifreq_size = 40;
constexpr size_t k_termios_size = 36; // the kernel's struct termios (19 control chars)
constexpr size_t k_winsize_size = 8;
constexpr size_t k_ifconf_size = 16; // int len, int pad, void *buf
constexpr size_t k_rtentry_size = 120;
constexpr size_t k_rtentry_dev_off = 88; // char *rt_dev (offsetof on x86-64)
constexpr size_t k_msghdr_size = 56;
constexpr size_t k_max_sockaddr = 128; // msg_name (sockaddr_storage)

// How the third argument of an ioctl travels.
enum IoctlShape : uint8_t {
    k_ioctl_none,    // not at all (FIOCLEX) or a plain value
    k_ioctl_in,      // size bytes in
    k_ioctl_out,     // size bytes out
    k_ioctl_inout,   // size bytes in and back (struct ifreq gets)
    k_ioctl_conf,    // struct ifconf: ifc_len in and back, ifc_buf out (ifc_len bytes)
    k_ioctl_rtentry, // struct rtentry in, with rt_dev a nested string
};
struct IoctlArg {
    IoctlShape shape;
    uint32_t size;
};
// false: the protocol cannot marshal the command (answered ENOTTY).
bool ioctl_arg(unsigned long request, IoctlArg& out);

// --- Server side -------------------------------------------------------------

// Decode a k_msg_hello body (magic and lengths; the caller checks the
// version so it can answer EPROTONOSUPPORT).  Returns nullptr or a reason.
const char* decode_hello(const uint8_t* body, size_t size, HelloBody& out, const uint8_t*& secret,
                         size_t& secret_len);

// One output buffer of a decoded call, in reply order.
constexpr int k_max_out = 8;
// Scratch beyond the data limit: structures (msghdr, ifconf, ifreq) and padding.
constexpr size_t k_scratch_extra = 1024; // output slots of one call (recvmsg uses 6)

struct OutSlot {
    uint8_t* data;
    size_t size;
    uint32_t ret_unit; // non-zero: only the first `return value` * ret_unit bytes are valid
    // Non-null: only the first *limit bytes are valid (a u32 socklen_t or
    // int, or a u64 when limit_wide), as the kernel left it after the call
    // (accept's address, SIOCGIFCONF's buffer, recvmsg's control data).
    const uint8_t* limit;
    bool limit_wide;
};

// Scratch memory owned by a connection (no allocation per call).
struct DecodeScratch {
    uint8_t* out;      // output buffers are carved from here
    size_t out_cap;    // at least k_max_data + k_scratch_extra
    struct iovec* iov; // at least k_max_iov entries
};

struct DecodedCall {
    long nr;
    long args[6];   // ready for ak_kern_syscall
    long early_ret; // non-zero: reply with this (-errno) without calling the kernel
    int nout;
    OutSlot out[k_max_out];
};

// Decode a k_msg_syscall body.  Pointer arguments end up pointing into body
// (inputs, which must stay alive and writable while the call runs) or into
// scratch.out (outputs).  Returns 0, or a short static reason on malformed
// input.
const char* decode_syscall(uint8_t* body, size_t size, DecodeScratch& scratch, DecodedCall& out);

// Reply chunk lengths: how many bytes of slot to send for return value ret.
size_t reply_len(const OutSlot& slot, long ret);

// A syscall reply ready for writev: header and return value, then per
// output slot its length and (when non-empty) its bytes.
struct SyscallReply {
    struct {
        FrameHeader fh;
        int64_t ret;
    } head;
    uint32_t lens[k_max_out];
    struct iovec iov[1 + 2 * k_max_out];
    int niov;
};
void build_syscall_reply(const DecodedCall& call, long ret, SyscallReply& out);

// The welcome frame's body for a hello answered with status (0: accepted,
// key = the session key; else an errno and key may be NULL).
WelcomeBody make_welcome(int status, int kpid, const uint8_t* key);

// Frames arriving on a byte stream: buf (capacity sizeof(FrameHeader) +
// k_max_body or more) holds have bytes received so far.
struct FrameBuffer {
    uint8_t* buf;
    size_t cap;
    size_t have;
};
// Reads with read_fn(ctx, dst, len) (bytes read, 0 at end of stream, or
// -errno; -EINTR is retried) until a whole frame is buffered.  Returns 1
// with the header in fh and the frame at b.buf, 0 at an orderly end of
// stream, -1 on an error or malformed framing (reason: a static string, or
// for a read error the negative errno in *err).
int frame_read(FrameBuffer& b, FrameHeader& fh, long (*read_fn)(void* ctx, void* dst, size_t len),
               void* ctx, const char*& reason, int* err);
// Drops the frame frame_read returned, keeping bytes that followed it.
void frame_consume(FrameBuffer& b, const FrameHeader& fh);

// Writes all of iov[0..n) with write_fn(ctx, iov, n) (bytes written, or
// -errno; -EINTR is retried), following partial writes (iov and its
// entries are changed).  false on an error or a write of nothing.
using WriteFn = long (*)(void* ctx, struct iovec* iov, int n);
bool write_all(struct iovec* iov, int n, WriteFn write_fn, void* ctx);
// A frame of the given type with len bytes of body, through write_all.
bool frame_write(uint16_t type, const void* body, size_t len, WriteFn write_fn, void* ctx);

// --- Client side -------------------------------------------------------------

struct ClientOut {
    uint8_t kind; // AK_ARG_OUT/INOUT (data + size) or AK_ARG_IOV_OUT (iov + niov)
    uint8_t* data;
    size_t size;
    const struct iovec* iov;
    size_t niov;
};

struct ClientCall {
    int nout;
    ClientOut out[k_max_out];
};

// Encode a syscall request (frame header included) into buf.  args must
// already respect the limits (see clamp_syscall).  Returns the frame size,
// or -errno (e.g. -ENOSYS: not in the table, -ENOTTY: ioctl command the
// protocol cannot carry, -E2BIG: over the size limits, -EFAULT).
long encode_syscall(uint8_t* buf, size_t cap, long nr, const long args[6], ClientCall& call);

// Apply the size limits to the arguments of a call before encoding: RET
// outputs (read, getdents64, readv, ...) are clamped to k_max_data, a short
// result the caller must accept anyway.  Returns 0, or -E2BIG if an input is
// too big and the call is not one the client splits (write, pwrite64,
// writev are split/shortened by the caller).
long clamp_syscall(long nr, long args[6]);

// Decode a reply body into the caller's output buffers.  Returns 0 or -EPROTO.
long decode_syscall_reply(const uint8_t* body, size_t size, const ClientCall& call, long& ret);

// --- Shared helpers ------------------------------------------------------------

struct Url {
    bool is_unix;
    char path[108]; // unix
    char host[256]; // tcp
    char port[16];
};
// Parses unix:///abs/path and tcp://host:port ([v6addr]:port allowed).
// Returns 0 or EINVAL.
int parse_url(const char* text, Url& out);

// Constant-time comparison of a secret of length n against candidate of
// length m (time depends on n only).
bool secret_equal(const uint8_t* secret, size_t n, const uint8_t* candidate, size_t m);

void to_hex(const uint8_t* in, size_t n, char* out); // out: 2n + 1 bytes
bool from_hex(const char* in, uint8_t* out, size_t n);

} // namespace akproto
