// The block group on Linux userspace: a disk is a host file or block
// device; requests run on a small pool of worker threads with
// pread/pwrite/fdatasync, so the submitting kernel thread never waits for
// the host.
#include <anykern/hypercall.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

struct akhyp_blk {
    int fd;
    bool read_only;
    uint64_t size;
    // Requests queued or running; close waits for zero.
    int outstanding;
};

namespace {

constexpr int k_workers = 4;

struct Request {
    Request* next;
    akhyp_blk* dev;
    int op;
    unsigned nsegs;
    iovec segs[AKHYP_BLK_MAX_SEGS];
    uint64_t offset;
    akhyp_blk_done_fn done;
    void* arg;
};

pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t g_work = PTHREAD_COND_INITIALIZER;
pthread_cond_t g_idle = PTHREAD_COND_INITIALIZER; // a device's outstanding fell
Request* g_head;
Request* g_tail;
bool g_started;

int transfer(Request& r) {
    iovec* iov = r.segs;
    int cnt = static_cast<int>(r.nsegs);
    uint64_t off = r.offset;
    while (cnt > 0) {
        ssize_t n = r.op == AKHYP_BLK_READ ? preadv(r.dev->fd, iov, cnt, static_cast<off_t>(off))
                                           : pwritev(r.dev->fd, iov, cnt, static_cast<off_t>(off));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return EIO;
        }
        if (n == 0) {
            // The host file shrank under us: reads past its end are zeros,
            // a write that makes no progress is an error.
            if (r.op != AKHYP_BLK_READ)
                return EIO;
            for (int i = 0; i < cnt; i++)
                memset(iov[i].iov_base, 0, iov[i].iov_len);
            break;
        }
        off += static_cast<uint64_t>(n);
        auto done = static_cast<size_t>(n);
        while (cnt > 0 && done >= iov->iov_len) {
            done -= iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = static_cast<char*>(iov->iov_base) + done;
            iov->iov_len -= done;
        }
    }
    return 0;
}

void* worker(void*) {
    for (;;) {
        pthread_mutex_lock(&g_lock);
        while (!g_head)
            pthread_cond_wait(&g_work, &g_lock);
        Request* r = g_head;
        g_head = r->next;
        if (!g_head)
            g_tail = nullptr;
        pthread_mutex_unlock(&g_lock);

        int error;
        if (r->op == AKHYP_BLK_FLUSH)
            error = fdatasync(r->dev->fd) == 0 || errno == EINVAL ? 0 : EIO;
        else
            error = transfer(*r);
        akhyp_blk* dev = r->dev;
        r->done(r->arg, error);
        free(r);

        pthread_mutex_lock(&g_lock);
        if (--dev->outstanding == 0)
            pthread_cond_broadcast(&g_idle);
        pthread_mutex_unlock(&g_lock);
    }
    return nullptr;
}

// Called with g_lock held.
int start_workers_locked() {
    if (g_started)
        return 0;
    for (int i = 0; i < k_workers; i++) {
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        int e = pthread_create(&t, &a, worker, nullptr);
        pthread_attr_destroy(&a);
        if (e) {
            if (i == 0)
                return ENOMEM;
            break; // fewer workers still work
        }
        pthread_setname_np(t, "ak-blk");
    }
    g_started = true;
    return 0;
}

} // namespace

extern "C" {

int akhyp_blk_open(const char* path, int flags, akhyp_blk** dev, uint64_t* size) {
    if (!path || !dev || !size || (flags & ~AKHYP_BLK_RDONLY))
        return EINVAL;
    bool ro = flags & AKHYP_BLK_RDONLY;
    int fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return e == EACCES && !ro ? EROFS : e;
    }
    struct stat st;
    uint64_t bytes = 0;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return EIO;
    }
    if (S_ISREG(st.st_mode)) {
        bytes = static_cast<uint64_t>(st.st_size);
    } else if (S_ISBLK(st.st_mode)) {
        if (ioctl(fd, BLKGETSIZE64, &bytes) != 0) {
            close(fd);
            return EIO;
        }
    } else {
        close(fd);
        return EINVAL;
    }
    auto* d = static_cast<akhyp_blk*>(malloc(sizeof(akhyp_blk)));
    if (!d) {
        close(fd);
        return ENOMEM;
    }
    d->fd = fd;
    d->read_only = ro;
    d->size = bytes / AKHYP_BLK_SECTOR * AKHYP_BLK_SECTOR;
    d->outstanding = 0;
    pthread_mutex_lock(&g_lock);
    int e = start_workers_locked();
    pthread_mutex_unlock(&g_lock);
    if (e) {
        close(fd);
        free(d);
        return e;
    }
    *dev = d;
    *size = d->size;
    return 0;
}

int akhyp_blk_submit(akhyp_blk* dev, int op, const akhyp_blk_seg* segs, unsigned nsegs,
                     uint64_t offset, akhyp_blk_done_fn done, void* arg) {
    if (!dev || !done)
        return EINVAL;
    uint64_t len = 0;
    if (op == AKHYP_BLK_READ || op == AKHYP_BLK_WRITE) {
        if (!segs || nsegs == 0 || nsegs > AKHYP_BLK_MAX_SEGS || offset % AKHYP_BLK_SECTOR)
            return EINVAL;
        for (unsigned i = 0; i < nsegs; i++) {
            if (!segs[i].buf || segs[i].len == 0 || segs[i].len % AKHYP_BLK_SECTOR)
                return EINVAL;
            len += segs[i].len;
        }
        if (offset > dev->size || len > dev->size - offset)
            return EINVAL;
    } else if (op != AKHYP_BLK_FLUSH || nsegs != 0) {
        return EINVAL;
    }
    if (op != AKHYP_BLK_READ && dev->read_only)
        return EROFS;
    auto* r = static_cast<Request*>(malloc(sizeof(Request)));
    if (!r)
        return ENOMEM;
    r->next = nullptr;
    r->dev = dev;
    r->op = op;
    r->nsegs = nsegs;
    for (unsigned i = 0; i < nsegs; i++)
        r->segs[i] = iovec{segs[i].buf, segs[i].len};
    r->offset = offset;
    r->done = done;
    r->arg = arg;
    pthread_mutex_lock(&g_lock);
    dev->outstanding++;
    if (g_tail)
        g_tail->next = r;
    else
        g_head = r;
    g_tail = r;
    pthread_cond_signal(&g_work);
    pthread_mutex_unlock(&g_lock);
    return 0;
}

void akhyp_blk_close(akhyp_blk* dev) {
    if (!dev)
        return;
    pthread_mutex_lock(&g_lock);
    while (dev->outstanding > 0)
        pthread_cond_wait(&g_idle, &g_lock);
    pthread_mutex_unlock(&g_lock);
    close(dev->fd);
    free(dev);
}

} // extern "C"
