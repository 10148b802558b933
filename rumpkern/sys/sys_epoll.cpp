// epoll: an instance is a File holding persistent registrations (items).
// Each item owns PollEntries on the watched file's wait queues; a wake
// puts the item on the instance's ready list.  epoll_wait re-polls ready
// items (so level- and edge-triggered modes both follow File::poll).
//
// Lock order: instance m_ctl_lock -> wait queue lock -> instance
// m_ready_lock.  File::poll is never called with m_ready_lock held.
// Items hold a reference to their file; closing the file's last descriptor
// removes its items (file_descriptor_closed), as Linux does.
#include <ak/signal.h>
#include <ak/syscall.h>
#include <ak/time.h>
#include <ak/wait.h>

namespace ak {

using namespace abi;

namespace {

class EpollFile;

constexpr size_t k_item_queues = 4;
constexpr size_t k_buckets = 256;

struct EpollItem : public RefCounted<EpollItem>, public FileWatch {
    EpollFile* owner = nullptr;
    int fd = -1;
    RefPtr<File> file;
    uint32_t events = 0; // requested, including EPOLLET/ONESHOT bits
    uint64_t data = 0;
    PollEntry entries[k_item_queues];
    size_t nentries = 0;
    bool on_ready = false; // guarded by owner->m_ready_lock
    bool dead = false;     // guarded by owner->m_ctl_lock
    ListNode ready_node;
    ListNode bucket_node;
};

class EpollFile final : public File {
public:
    EpollFile(int flags) : File(O_RDWR | flags) {}
    ~EpollFile() override;

    Result<void> ctl(int op, int fd, RefPtr<File> f, const EpollEvent* ev);
    Result<long> wait(EpollEvent* out, int max, int64_t deadline);
    void remove_for_file(EpollItem& item);

    bool is_epoll() const override { return true; }
    uint32_t poll(uint32_t events, PollTable* pt) override {
        if (pt)
            pt->add(m_waitq);
        MutexGuard g(m_ready_lock);
        return m_ready.empty() ? 0 : (events & (POLLIN | POLLRDNORM));
    }
    Result<void> stat(abi::Stat& st) override {
        __builtin_memset(&st, 0, sizeof st);
        st.st_mode = 0600;
        st.st_nlink = 1;
        return {};
    }

    static void on_wake(PollEntry* e, uint32_t events);
    static void register_queue(void* ctx, WaitQueue& q);

private:
    EpollItem* find_locked(int fd, File* f) AK_REQUIRES(m_ctl_lock);
    void unlink_locked(EpollItem& item) AK_REQUIRES(m_ctl_lock);
    static size_t bucket(int fd) { return static_cast<size_t>(fd) % k_buckets; }

    Mutex m_ctl_lock;
    List<EpollItem, &EpollItem::bucket_node> m_items[k_buckets] AK_GUARDED_BY(m_ctl_lock);
    Mutex m_ready_lock;
    CondVar m_ready_cv;
    List<EpollItem, &EpollItem::ready_node> m_ready AK_GUARDED_BY(m_ready_lock);
    WaitQueue m_waitq;
};

EpollItem* EpollFile::find_locked(int fd, File* f) {
    for (auto& it : m_items[bucket(fd)])
        if (it.fd == fd && it.file.get() == f)
            return &it;
    return nullptr;
}

void EpollFile::on_wake(PollEntry* e, uint32_t events) {
    auto* item = static_cast<EpollItem*>(e->context);
    EpollFile* ep = item->owner;
    uint32_t want =
        (item->events & ~(k_epollet | k_epolloneshot | k_epollexclusive | k_epollwakeup)) |
        POLLERR | POLLHUP;
    if (events && !(events & want))
        return;
    bool notify = false;
    {
        MutexGuard g(ep->m_ready_lock);
        if (!item->on_ready) {
            item->on_ready = true;
            item->ref();
            ep->m_ready.push_back(*item);
            notify = true;
        }
        ep->m_ready_cv.broadcast();
    }
    if (notify)
        ep->m_waitq.wake(POLLIN);
}

void EpollFile::register_queue(void* ctx, WaitQueue& q) {
    auto* item = static_cast<EpollItem*>(ctx);
    if (item->nentries >= k_item_queues)
        return; // files in this kernel use at most two queues
    PollEntry& e = item->entries[item->nentries++];
    e.callback = on_wake;
    e.context = item;
    q.add(e);
}

void EpollFile::unlink_locked(EpollItem& item) {
    if (item.dead)
        return;
    item.dead = true;
    m_items[bucket(item.fd)].remove(item);
    for (size_t i = 0; i < item.nentries; i++)
        if (item.entries[i].queue)
            item.entries[i].queue->remove(item.entries[i]);
    item.nentries = 0;
    {
        MutexGuard g(m_ready_lock);
        if (item.on_ready) {
            item.on_ready = false;
            m_ready.remove(item);
            item.unref();
        }
    }
    {
        MutexGuard g(item.file->m_watch_lock);
        if (item.file_node.linked())
            item.file->m_watches.remove(item);
    }
    item.unref(); // the table's reference
}

EpollFile::~EpollFile() {
    MutexGuard g(m_ctl_lock);
    for (auto& b : m_items)
        while (EpollItem* it = b.first())
            unlink_locked(*it);
}

void EpollFile::remove_for_file(EpollItem& item) {
    MutexGuard g(m_ctl_lock);
    unlink_locked(item);
}

Result<void> EpollFile::ctl(int op, int fd, RefPtr<File> f, const EpollEvent* ev) {
    MutexGuard g(m_ctl_lock);
    EpollItem* item = find_locked(fd, f.get());
    switch (op) {
    case k_epoll_ctl_add: {
        if (item)
            return EEXIST;
        auto ni = TRY(try_make_ref<EpollItem>());
        ni->owner = this;
        ni->fd = fd;
        ni->file = f;
        ni->events = ev->events;
        ni->data = ev->data;
        EpollItem* raw = ni.leak(); // the table's reference
        m_items[bucket(fd)].push_back(*raw);
        {
            MutexGuard wg(f->m_watch_lock);
            f->m_watches.push_back(*raw);
        }
        PollTable pt(register_queue, raw);
        uint32_t mask = (raw->events & 0xffff) | POLLERR | POLLHUP;
        uint32_t got = f->poll(mask, &pt);
        if (got & mask)
            on_wake(&raw->entries[0], 0);
        return {};
    }
    case k_epoll_ctl_mod: {
        if (!item)
            return ENOENT;
        item->events = ev->events;
        item->data = ev->data;
        uint32_t mask = (item->events & 0xffff) | POLLERR | POLLHUP;
        if (f->poll(mask, nullptr) & mask)
            on_wake(&item->entries[0], 0);
        return {};
    }
    case k_epoll_ctl_del:
        if (!item)
            return ENOENT;
        unlink_locked(*item);
        return {};
    default:
        return EINVAL;
    }
}

Result<long> EpollFile::wait(EpollEvent* out, int max, int64_t deadline) {
    for (;;) {
        // Take the ready list, poll each item without locks held.
        Vector<EpollItem*> batch;
        {
            MutexGuard g(m_ready_lock);
            size_t n = m_ready.size();
            TRY(batch.try_reserve(n ? n : 1));
            while (EpollItem* it = m_ready.pop_front()) {
                it->on_ready = false;
                (void)batch.try_append(it); // reserved; the list's ref moves
            }
        }
        long count = 0;
        for (size_t i = 0; i < batch.size(); i++) {
            EpollItem* it = batch[i];
            uint32_t ev_req = it->events;
            uint32_t mask = (ev_req & 0xffff) | POLLERR | POLLHUP;
            uint32_t got = 0;
            bool alive;
            {
                MutexGuard g(m_ctl_lock);
                alive = !it->dead && (ev_req & 0xffff) != 0;
            }
            if (alive && count < max)
                got = it->file->poll(mask, nullptr) & mask;
            if (got) {
                EpollEvent e{got, it->data};
                __builtin_memcpy(&out[count], &e, sizeof e);
                count++;
                MutexGuard g(m_ctl_lock);
                if (ev_req & k_epolloneshot)
                    it->events &= k_epollet | k_epolloneshot; // disabled until MOD
            }
            // Level-triggered items that are still ready stay on the list;
            // so do items we had no room to report.
            bool requeue = alive && ((got && !(ev_req & (k_epollet | k_epolloneshot))) ||
                                     (!got && count >= max));
            if (requeue) {
                MutexGuard g(m_ready_lock);
                if (!it->on_ready) {
                    it->on_ready = true;
                    m_ready.push_back(*it);
                    continue; // keeps the reference
                }
            }
            it->unref();
        }
        if (count)
            return count;
        if (deadline == 0 || (deadline > 0 && monotonic_ns() >= deadline))
            return 0L;
        MutexGuard g(m_ready_lock);
        while (m_ready.empty()) {
            Result<void> r =
                m_ready_cv.wait_interruptible(m_ready_lock, deadline > 0 ? deadline : 0);
            if (r.is_error()) {
                if (r.error() == ETIMEDOUT)
                    return 0L;
                return Error{r.error()};
            }
        }
    }
}

Result<RefPtr<EpollFile>> epoll_from_fd(int fd) {
    RefPtr<File> f = TRY(curproc().fds().get(fd));
    // Identify an epoll instance by its poll hook (no RTTI).
    if (!f->is_epoll())
        return EINVAL;
    return RefPtr<EpollFile>(static_cast<EpollFile*>(f.get()));
}

} // namespace

void epoll_file_released(RefPtr<File>& f) {
    Vector<RefPtr<EpollItem>> victims;
    Vector<RefPtr<File>> owners;
    {
        MutexGuard g(f->m_watch_lock);
        // Only the caller and the epoll items still reference the file: no
        // descriptor is left.
        if (f->ref_count() > f->m_watches.size() + 1)
            return;
        for (auto& w : f->m_watches) {
            auto& item = static_cast<EpollItem&>(w);
            if (!item.owner->try_ref())
                continue; // the instance is being destroyed; it cleans up
            if (victims.try_append(RefPtr<EpollItem>(&item)).is_error() ||
                owners.try_append(adopt_ref<File>(item.owner)).is_error())
                break;
        }
    }
    for (size_t i = 0; i < victims.size() && i < owners.size(); i++)
        static_cast<EpollFile*>(owners[i].get())->remove_for_file(*victims[i]);
}

namespace sys {

Result<long> sys_epoll_create1(int flags) {
    if (flags & ~O_CLOEXEC)
        return EINVAL;
    auto* e = make<EpollFile>(0);
    if (!e)
        return ENOMEM;
    RefPtr<File> f = adopt_ref<File>(e);
    int fd = TRY(curproc().fds().install(move(f), flags & O_CLOEXEC));
    return fd;
}

Result<long> sys_epoll_create(int size) {
    if (size <= 0)
        return EINVAL;
    return sys_epoll_create1(0);
}

Result<long> sys_epoll_ctl(int epfd, int op, int fd, EpollEvent* event) {
    EpollEvent ev{};
    if (op != k_epoll_ctl_del) {
        if (!event)
            return EFAULT;
        __builtin_memcpy(&ev, event, sizeof ev);
    }
    if (op < k_epoll_ctl_add || op > k_epoll_ctl_mod)
        return EINVAL;
    RefPtr<EpollFile> ep = TRY(epoll_from_fd(epfd));
    RefPtr<File> f = TRY(curproc().fds().get(fd));
    if (epfd == fd)
        return EINVAL;
    if (f->is_epoll())
        return EINVAL; // nesting epoll instances is not supported
    // Regular files are always ready; Linux refuses them (EPERM).
    if (f->vnode() && f->seekable())
        return EPERM;
    TRY(ep->ctl(op, fd, move(f), &ev));
    return 0L;
}

Result<long> sys_epoll_wait(int epfd, EpollEvent* events, int maxevents, int timeout) {
    if (maxevents <= 0 || maxevents > 0x7fffffff / int(sizeof(EpollEvent)))
        return EINVAL;
    if (!events)
        return EFAULT;
    RefPtr<EpollFile> ep = TRY(epoll_from_fd(epfd));
    int64_t deadline = timeout < 0    ? -1
                       : timeout == 0 ? 0
                                      : monotonic_ns() + int64_t(timeout) * 1000000;
    return ep->wait(events, maxevents, deadline);
}

Result<long> sys_epoll_pwait(int epfd, EpollEvent* events, int maxevents, int timeout,
                             const uint64_t* sigmask, size_t sigsetsize) {
    TRY(signal_call_mask_begin(sigmask, sigsetsize));
    Result<long> r = sys_epoll_wait(epfd, events, maxevents, timeout);
    signal_call_mask_end(r.is_error() && r.error() == EINTR);
    return r;
}

} // namespace sys

} // namespace ak
