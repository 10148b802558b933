// Scatter/gather description of a caller's buffers for read/write paths.
#pragma once

#include <ak/abi/linux.h>
#include <ak/span.h>

namespace ak {

class Uio {
public:
    // One contiguous buffer.
    Uio(void* buf, size_t len) : m_single{buf, len}, m_iov(&m_single), m_iovcnt(1), m_resid(len) {}
    // An iovec array; the caller has validated the total (no overflow).
    Uio(const abi::Iovec* iov, size_t cnt, size_t total)
        : m_iov(iov), m_iovcnt(cnt), m_resid(total) {}
    Uio(const Uio&) = delete;

    size_t resid() const { return m_resid; }
    size_t done() const { return m_done; }

    // Kernel -> caller buffers (a read).  Returns bytes copied.
    size_t copy_out(const void* src, size_t n);
    // Caller buffers -> kernel (a write).  Returns bytes copied.
    size_t copy_in(void* dst, size_t n);
    // Zero-fill n bytes of the caller's buffers (reading a hole).
    size_t zero_fill(size_t n);

private:
    template <typename F> size_t walk(size_t n, F&& f);
    abi::Iovec m_single{};
    const abi::Iovec* m_iov;
    size_t m_iovcnt;
    size_t m_index = 0;
    size_t m_off = 0;
    size_t m_resid;
    size_t m_done = 0;
};

} // namespace ak
