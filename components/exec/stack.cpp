// The initial stack (stack.h).
#include "stack.h"

#include <ak/string.h>

namespace ak::exec {

namespace {

// Fills the buffer from the top down; positions are offsets into buf.
class TopDown {
public:
    TopDown(Span<uint8_t> buf, uint64_t top) : m_buf(buf), m_top(top), m_pos(buf.size()) {}

    bool push_bytes(const void* p, size_t n) {
        if (n > m_pos)
            return false;
        m_pos -= n;
        __builtin_memcpy(m_buf.data() + m_pos, p, n);
        return true;
    }
    bool push_string(const char* s) {
        size_t n = str_nlen(s, k_stack_max_strlen + 1);
        if (n > k_stack_max_strlen)
            return false;
        return push_bytes(s, n + 1);
    }
    bool align_down(size_t a) {
        size_t target = (m_top - (m_buf.size() - m_pos)) & ~uint64_t(a - 1);
        size_t drop = (m_top - (m_buf.size() - m_pos)) - target;
        if (drop > m_pos)
            return false;
        m_pos -= drop;
        __builtin_memset(m_buf.data() + m_pos, 0, drop);
        return true;
    }
    // Target address of the current position.
    uint64_t addr() const { return m_top - (m_buf.size() - m_pos); }

private:
    Span<uint8_t> m_buf;
    uint64_t m_top;
    size_t m_pos;
};

size_t count(const char* const* v) {
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

} // namespace

Result<StackLayout> build_initial_stack(Span<uint8_t> buf, uint64_t top, const StackArgs& args) {
    if (top % 16 || top < buf.size() || args.naux < 0 || args.naux > k_stack_max_aux)
        return EINVAL;
    TopDown s(buf, top);
    size_t argc = count(args.argv), envc = count(args.envp);
    // Pointer tables are bounded by the buffer; check before multiplying.
    if (argc > buf.size() / 8 || envc > buf.size() / 8)
        return E2BIG;

    // An 8-byte end marker as Linux has, then AT_EXECFN, the environment
    // and the arguments (argv[0] lowest).
    uint64_t zero = 0;
    if (!s.push_bytes(&zero, sizeof zero) || !s.push_string(args.execfn))
        return E2BIG;
    uint64_t execfn = s.addr();
    // Strings are pushed last-first so that argv[0] has the lowest address
    // and each vector's strings are contiguous and in order; the table
    // below recomputes the addresses from the lengths.
    for (size_t i = envc; i-- > 0;)
        if (!s.push_string(args.envp[i]))
            return E2BIG;
    uint64_t env_base = s.addr();
    for (size_t i = argc; i-- > 0;)
        if (!s.push_string(args.argv[i]))
            return E2BIG;
    uint64_t arg_base = s.addr();
    uint64_t phdr = 0;
    if (!args.phdr_copy.empty()) {
        if (!s.align_down(8) || !s.push_bytes(args.phdr_copy.data(), args.phdr_copy.size()))
            return E2BIG;
        phdr = s.addr();
    }
    if (!s.push_string(args.platform))
        return E2BIG;
    uint64_t platform = s.addr();
    if (!s.align_down(16) || !s.push_bytes(args.random, sizeof args.random))
        return E2BIG;
    uint64_t random = s.addr();

    // The table: argc, argv + NULL, envp + NULL, auxv pairs; its bottom
    // (argc) must be 16-byte aligned, so pad above it.
    size_t naux = args.naux + 4 + (phdr ? 1 : 0); // + RANDOM, PLATFORM, EXECFN, NULL
    size_t words = 1 + (argc + 1) + (envc + 1) + 2 * naux;
    if (!s.align_down(16))
        return E2BIG;
    uint64_t buf_base = top - buf.size();
    if (s.addr() - buf_base < words * 8 + 15)
        return E2BIG;
    uint64_t table_bottom = (s.addr() - words * 8) & ~uint64_t(15);
    size_t table_bytes = s.addr() - table_bottom;
    size_t bottom = table_bottom - buf_base;
    uint8_t* t = buf.data() + bottom;
    __builtin_memset(t, 0, table_bytes);
    auto put = [&](size_t index, uint64_t v) { __builtin_memcpy(t + index * 8, &v, 8); };
    size_t w = 0;
    put(w++, argc);
    for (size_t i = 0; i < argc; i++) {
        put(w++, arg_base);
        arg_base += str_len(args.argv[i]) + 1;
    }
    put(w++, 0);
    for (size_t i = 0; i < envc; i++) {
        put(w++, env_base);
        env_base += str_len(args.envp[i]) + 1;
    }
    put(w++, 0);
    for (int i = 0; i < args.naux; i++) {
        put(w++, args.aux[i].type);
        put(w++, args.aux[i].value);
    }
    if (phdr) {
        put(w++, k_at_phdr);
        put(w++, phdr);
    }
    put(w++, k_at_random);
    put(w++, random);
    put(w++, k_at_platform);
    put(w++, platform);
    put(w++, k_at_execfn);
    put(w++, execfn);
    put(w++, k_at_null);
    put(w++, 0);
    return StackLayout{table_bottom, random, top - table_bottom};
}

} // namespace ak::exec
