// The network hypercall group is not provided on kvm: interfaces come from
// drivers (virtio-net) over the bus group instead.  akhyp_groups() does not
// report AKHYP_GROUP_NET; these stubs only let the network stack's
// platform-interface backend (components/net/if) link into images.
#include "platform.h"

#ifdef AKHYP_NET_LINK_ETHER // the network group is in the header

extern "C" int akhyp_net_open(const char*, akhyp_net_rx_fn, void*, akhyp_net_info*, void**) {
    return 95; // EOPNOTSUPP
}
extern "C" int akhyp_net_send(void*, const void*, size_t) {
    return 5; // EIO
}
extern "C" void akhyp_net_close(void*) {}

#endif
