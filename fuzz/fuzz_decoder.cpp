// libFuzzer target: the server's message decoders (docs/remote-protocol.md).
// The first input byte picks the decoder; the rest is the message body.
// Whatever decodes must be safe to hand to the kernel: every output slot
// and iovec must lie inside the scratch buffers, every string must be
// terminated inside the body.
#include "akproto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

using namespace akproto;

namespace {

std::vector<uint8_t> g_out(k_max_data + k_scratch_extra);
std::vector<struct iovec> g_iov(k_max_iov);

bool inside(const void* p, size_t n, const void* base, size_t cap) {
    auto a = reinterpret_cast<uintptr_t>(p), b = reinterpret_cast<uintptr_t>(base);
    return a >= b && n <= cap && a - b <= cap - n;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1 || size > k_max_body + 1)
        return 0;
    // The decoder works in place on a writable, 8-aligned copy, like the
    // server's receive buffer.
    std::vector<uint64_t> storage((size + 7) / 8 + 1);
    auto* body = reinterpret_cast<uint8_t*>(storage.data());
    memcpy(body, data + 1, size - 1);
    size_t n = size - 1;
    switch (data[0] % 3) {
    case 0: {
        DecodeScratch sc{g_out.data(), g_out.size(), g_iov.data()};
        DecodedCall call;
        if (decode_syscall(body, n, sc, call))
            return 0;
        for (int i = 0; i < call.nout; i++) {
            if (!inside(call.out[i].data, call.out[i].size, g_out.data(), g_out.size()))
                abort();
            memset(call.out[i].data, 0xa5, call.out[i].size); // what the kernel may do
            (void)reply_len(call.out[i], static_cast<long>(n));
        }
        break;
    }
    case 1: {
        HelloBody h;
        const uint8_t* secret;
        size_t len;
        if (!decode_hello(body, n, h, secret, len) && !inside(secret, len, body, n))
            abort();
        break;
    }
    case 2: {
        // Client side: a reply for a read of 64 bytes and a stat.
        static uint8_t buf[64], st[144];
        ClientCall call;
        call.nout = 2;
        call.out[0] = ClientOut{3, buf, sizeof buf, nullptr, 0};
        call.out[1] = ClientOut{3, st, sizeof st, nullptr, 0};
        long ret;
        (void)decode_syscall_reply(body, n, call, ret);
        break;
    }
    }
    return 0;
}
