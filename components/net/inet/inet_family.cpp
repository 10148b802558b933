// The AF_INET socket family: stream sockets are TCP, datagram sockets UDP
// or ICMP echo ("ping") sockets.
#include <ak/component.h>
#include <net/inet.h>

namespace ak::net {

using namespace abi;

namespace {

Result<RefPtr<Socket>> inet_create(int type, int protocol, int flags) {
    switch (type) {
    case k_sock_stream:
        if (protocol != 0 && protocol != k_ipproto_tcp)
            return EPROTONOSUPPORT;
        return tcp_socket_create(flags);
    case k_sock_dgram:
        if (protocol == 0 || protocol == k_ipproto_udp)
            return udp_socket_create(flags);
        if (protocol == k_ipproto_icmp)
            return icmp_socket_create(type, flags);
        return EPROTONOSUPPORT;
    case k_sock_raw:
        return EPROTONOSUPPORT; // raw IP sockets are not implemented
    default:
        return ESOCKTNOSUPPORT;
    }
}

SocketFamily g_inet_family{k_af_inet, inet_create, nullptr, ListNode()};

Result<void> inet_init() {
    socket_register_family(g_inet_family);
    return {};
}

} // namespace

} // namespace ak::net

AK_COMPONENT(af_inet, ak::InitLevel::Net, ak::net::inet_init);
