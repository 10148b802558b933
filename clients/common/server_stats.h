// The kernel's part of a stats reply, shared by ak-server and the unikernel
// server (each adds its own connection and session counts).
#pragma once

#include <anykern/kern.h>

#include "akproto.h"

namespace akproto {

inline void fill_kernel_stats(StatsBody& s, int caller_kpid) {
    struct ak_kern_memstats m {};
    ak_kern_memstats(&m);
    s.procs = static_cast<uint32_t>(ak_kern_proc_count());
    s.mem_in_use = m.in_use;
    s.mem_peak = m.peak;
    s.mem_limit = m.limit;
    int nfds = ak_kern_proc_nfds(caller_kpid);
    s.caller_nfds = nfds < 0 ? 0 : static_cast<uint32_t>(nfds);
}

} // namespace akproto
