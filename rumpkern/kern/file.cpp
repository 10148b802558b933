// Defaults for File operations: the errors Linux gives for a file that
// does not support an operation.
#include <ak/file.h>
#include <ak/wait.h>

namespace ak {

void epoll_file_released(RefPtr<File>& f);

void file_descriptor_closed(RefPtr<File>& f) {
    bool watched;
    {
        MutexGuard g(f->m_watch_lock);
        watched = !f->m_watches.empty();
    }
    if (watched)
        epoll_file_released(f);
}

Result<size_t> File::read(Uio&, int64_t&) {
    return EINVAL;
}
Result<size_t> File::write(Uio&, int64_t&) {
    return EINVAL;
}
Result<int64_t> File::seek(int64_t, int, int64_t) {
    return ESPIPE;
}
Result<void> File::stat(abi::Stat&) {
    return EINVAL;
}
Result<long> File::ioctl(unsigned long, void*) {
    return ENOTTY;
}
uint32_t File::poll(uint32_t events, PollTable*) {
    return events & (POLLIN | POLLOUT);
}
Result<void> File::truncate(int64_t) {
    return EINVAL;
}
Result<void> File::fsync(bool) {
    return EINVAL;
}
Result<size_t> File::getdents(Span<uint8_t>, int64_t&) {
    return ENOTDIR;
}

Result<void> File::set_status_flags(int flags) {
    // F_SETFL may change only these (Linux): O_APPEND, O_ASYNC, O_DIRECT,
    // O_NOATIME, O_NONBLOCK.
    constexpr int k_settable = O_APPEND | O_ASYNC | O_DIRECT | O_NOATIME | O_NONBLOCK;
    int cur = m_flags.load();
    int next;
    do {
        next = (cur & ~k_settable) | (flags & k_settable);
    } while (!m_flags.compare_exchange(cur, next));
    return {};
}

} // namespace ak
