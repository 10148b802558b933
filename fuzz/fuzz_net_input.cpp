// libFuzzer target: arbitrary Ethernet frames into the input path of an
// interface (a callback interface, 10.0.0.2/24) while sockets are open:
// a TCP listener with an accepted connection in progress, a UDP socket,
// a ping socket.  Frames the kernel sends are discarded.
//
//   meson setup build-fuzz -Dfuzzers=enabled  (with CC=clang CXX=clang++)
//   build-fuzz/fuzz/fuzz_net_input -max_total_time=600 corpus/
#include <anykern/anykern.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

namespace {

void discard(void*, const void*, size_t) {}

bool setup() {
    ak_setparam("verbose", "0");
    if (ak_init() != 0)
        abort();
    if (ak_if_callback_register("fz", discard, nullptr) != 0)
        abort();
    if (ak_if_attach("cb:fz,addr=10.0.0.2/24,gw=10.0.0.1,mac=02:00:00:00:00:02") < 0)
        abort();
    int l = ak_sys_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(80);
    ak_sys_bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ak_sys_listen(l, 8);
    int u = ak_sys_socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    a.sin_port = htons(53);
    ak_sys_bind(u, reinterpret_cast<sockaddr*>(&a), sizeof a);
    // An outgoing connection attempt keeps a SYN_SENT control block.
    int c = ak_sys_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_port = htons(8080);
    peer.sin_addr.s_addr = htonl(0x0a000001);
    ak_sys_connect(c, reinterpret_cast<sockaddr*>(&peer), sizeof peer);
    ak_sys_socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
    return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static bool ready = setup();
    (void)ready;
    if (size == 0 || size > 65536)
        return 0;
    ak_if_callback_input("fz", data, size);
    // Drain anything accepted so the backlog keeps admitting connections.
    return 0;
}
