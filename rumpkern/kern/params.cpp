// Kernel parameters from the platform (akhyp_getparam).
#include <ak/kmem.h>
#include <ak/log.h>
#include <ak/params.h>
#include <ak/string.h>
#include <anykern/hypercall.h>

namespace ak {

namespace {
char g_hostname[65] = "anykern";
int g_ncpu = 1;
} // namespace

Result<uint64_t> parse_size(const char* s) {
    if (!*s)
        return EINVAL;
    uint64_t v = 0;
    const char* p = s;
    while (*p >= '0' && *p <= '9') {
        uint64_t d = static_cast<uint64_t>(*p - '0');
        if (v > (~uint64_t(0) - d) / 10)
            return ERANGE;
        v = v * 10 + d;
        p++;
    }
    if (p == s)
        return EINVAL;
    unsigned shift = 0;
    switch (*p) {
    case 0:
        break;
    case 'k':
    case 'K':
        shift = 10;
        break;
    case 'm':
    case 'M':
        shift = 20;
        break;
    case 'g':
    case 'G':
        shift = 30;
        break;
    default:
        return EINVAL;
    }
    if (shift) {
        p++;
        if (*p == 'i' || *p == 'b' || *p == 'B')
            p++;
        if (*p == 'B')
            p++;
    }
    if (*p)
        return EINVAL;
    if (shift && v > (~uint64_t(0) >> shift))
        return ERANGE;
    return v << shift;
}

void params_load() {
    char buf[128];
    if (akhyp_getparam(AKHYP_PARAM_VERBOSE, buf, sizeof buf) == 0) {
        auto v = parse_size(buf);
        if (v.ok() && v.value() <= 3)
            set_log_level(static_cast<LogLevel>(v.value()));
    }
    if (akhyp_getparam(AKHYP_PARAM_MEMLIMIT, buf, sizeof buf) == 0) {
        auto v = parse_size(buf);
        if (v.ok())
            kmem_set_limit(v.value());
        else
            AK_LOG_WARN("ignoring bad memlimit '%s'", buf);
    }
    if (akhyp_getparam(AKHYP_PARAM_NCPU, buf, sizeof buf) == 0) {
        auto v = parse_size(buf);
        if (v.ok() && v.value() >= 1 && v.value() <= 256)
            g_ncpu = static_cast<int>(v.value());
        else
            AK_LOG_WARN("ignoring bad ncpu '%s'", buf);
    }
    if (akhyp_getparam(AKHYP_PARAM_HOSTNAME, buf, sizeof buf) == 0)
        str_copy(g_hostname, buf, sizeof g_hostname);
}

const char* param_hostname() {
    return g_hostname;
}
void set_param_hostname(const char* h) {
    str_copy(g_hostname, h, sizeof g_hostname);
}
int param_ncpu() {
    return g_ncpu;
}

} // namespace ak
