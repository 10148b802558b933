// Kernel command line: "key=value ... -- app args".  Words are separated by
// spaces; a value may be double-quoted to contain spaces.  Words before
// "--" are parameters (akhyp_getparam), words after it are the
// application's argv.
#include "platform.h"

namespace akkvm {
namespace {

constexpr size_t k_max_cmdline = 4096;
constexpr int k_max_args = 64;
char g_cmdline[k_max_cmdline];
char g_args_buf[k_max_cmdline];
char* g_argv[k_max_args + 1];
int g_argc;

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Next word of s from *pos: sets [*start, *end) (quotes included).
bool next_word(const char* s, size_t* pos, size_t* start, size_t* end) {
    size_t i = *pos;
    while (s[i] && is_space(s[i]))
        i++;
    if (!s[i])
        return false;
    *start = i;
    bool quoted = false;
    for (; s[i] && (quoted || !is_space(s[i])); i++)
        if (s[i] == '"')
            quoted = !quoted;
    *end = *pos = i;
    return true;
}

// QEMU's microvm appends "virtio_mmio.device=..." words to the end of the
// command line, i.e. after our "--" and the application's arguments.  Move
// that trailing run of words to the front, where parameters belong.  (An
// application argument of that form at the very end would be taken too.)
void move_vmm_words_first() {
    constexpr char k_prefix[] = "virtio_mmio.device=";
    size_t pos = 0, start, end, tail = 0;
    bool in_tail = false, seen_separator = false;
    while (next_word(g_cmdline, &pos, &start, &end)) {
        bool vmm = end - start > sizeof k_prefix - 1 &&
                   __builtin_memcmp(g_cmdline + start, k_prefix, sizeof k_prefix - 1) == 0;
        if (vmm && !in_tail)
            tail = start;
        in_tail = vmm;
        if (end - start == 2 && g_cmdline[start] == '-' && g_cmdline[start + 1] == '-')
            seen_separator = true;
    }
    if (!in_tail || !seen_separator || tail == 0)
        return;
    size_t len = __builtin_strlen(g_cmdline);
    // g_args_buf is free until the argv split below: use it as scratch.
    size_t n = len - tail;
    __builtin_memcpy(g_args_buf, g_cmdline + tail, n);
    g_args_buf[n++] = ' ';
    __builtin_memcpy(g_args_buf + n, g_cmdline, tail);
    n += tail;
    __builtin_memcpy(g_cmdline, g_args_buf, n);
    g_cmdline[n] = 0;
}

} // namespace

void cmdline_init(const char* cmdline) {
    size_t n = 0;
    for (; cmdline && cmdline[n] && n < k_max_cmdline - 1; n++)
        g_cmdline[n] = cmdline[n];
    g_cmdline[n] = 0;
    if (cmdline && cmdline[n])
        kprintf("ak-kvm: command line truncated to %zu bytes\n", n);
    move_vmm_words_first();

    // Split the application arguments (after "--") into g_argv, removing quotes.
    size_t pos = 0, start, end, out = 0;
    bool after = false;
    while (next_word(g_cmdline, &pos, &start, &end)) {
        if (!after) {
            after = end - start == 2 && g_cmdline[start] == '-' && g_cmdline[start + 1] == '-';
            continue;
        }
        if (g_argc == k_max_args) {
            kprintf("ak-kvm: more than %d arguments, the rest are dropped\n", k_max_args);
            break;
        }
        g_argv[g_argc++] = g_args_buf + out;
        for (size_t i = start; i < end; i++)
            if (g_cmdline[i] != '"')
                g_args_buf[out++] = g_cmdline[i];
        g_args_buf[out++] = 0;
    }
    g_argv[g_argc] = nullptr;
}

const char* cmdline_get(const char* key, size_t* len) {
    size_t klen = 0;
    while (key[klen])
        klen++;
    size_t pos = 0, start, end;
    const char* found = nullptr;
    while (next_word(g_cmdline, &pos, &start, &end)) {
        const char* w = g_cmdline + start;
        if (end - start == 2 && w[0] == '-' && w[1] == '-')
            break;
        if (end - start > klen && __builtin_memcmp(w, key, klen) == 0 && w[klen] == '=') {
            found = w + klen + 1; // the last occurrence wins
            *len = end - start - klen - 1;
        }
    }
    if (found && *len >= 2 && found[0] == '"' && found[*len - 1] == '"') {
        found++;
        *len -= 2;
    }
    return found;
}

const char* cmdline_get_nth(const char* key, unsigned index, size_t* len) {
    size_t klen = __builtin_strlen(key);
    size_t pos = 0, start, end;
    while (next_word(g_cmdline, &pos, &start, &end)) {
        const char* w = g_cmdline + start;
        if (end - start == 2 && w[0] == '-' && w[1] == '-')
            break;
        if (end - start > klen && __builtin_memcmp(w, key, klen) == 0 && w[klen] == '=' &&
            index-- == 0) {
            *len = end - start - klen - 1;
            return w + klen + 1;
        }
    }
    return nullptr;
}

int cmdline_args(char*** argv) {
    *argv = g_argv;
    return g_argc;
}

} // namespace akkvm

using namespace akkvm;

extern "C" int akhyp_getparam(const char* name, char* buf, size_t buflen) {
    size_t len = 0;
    const char* v = cmdline_get(name, &len);
    char tmp[24];
    if (!v) {
        // Defaults the platform knows better than the kernel.
        uint64_t n;
        if (__builtin_strcmp(name, AKHYP_PARAM_NCPU) == 0)
            n = 1;
        else if (__builtin_strcmp(name, AKHYP_PARAM_MEMLIMIT) == 0)
            n = memory_total();
        else
            return 2; // ENOENT
        size_t i = sizeof tmp;
        do {
            tmp[--i] = char('0' + n % 10);
            n /= 10;
        } while (n);
        v = tmp + i;
        len = sizeof tmp - i;
    }
    if (len + 1 > buflen)
        return 36; // ENAMETOOLONG
    __builtin_memcpy(buf, v, len);
    buf[len] = 0;
    return 0;
}
