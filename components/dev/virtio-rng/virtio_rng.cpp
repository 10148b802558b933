// virtio entropy device (virtio 1.2 §5.4): feeds the kernel random source
// (ak/random.h).  One request queue; each request is one device-writable
// buffer the device fills with random bytes.  A request is queued at
// attach and again whenever the kernel's pool runs low.
#include <ak/component.h>
#include <ak/log.h>
#include <ak/random.h>
#include <ak/virtio.h>
#include <anykern/hypercall.h>

namespace ak {
namespace {

constexpr uint32_t k_request = 64;
constexpr int64_t k_first_fill_timeout_ns = 1000000000;

struct Rng {
    virtio::Transport* transport;
    virtio::Virtqueue* queue = nullptr;
    int unit;
    Mutex lock;
    CondVar filled;
    uint8_t* buf = nullptr;
    uint64_t paddr = 0;
    bool busy AK_GUARDED_BY(lock) = false;
    size_t total AK_GUARDED_BY(lock) = 0;
};

void request_locked(Rng& r) AK_REQUIRES(r.lock) {
    if (r.busy)
        return;
    virtio::Virtqueue::Buffer b{r.paddr, k_request, true};
    if (r.queue->submit(Span<const virtio::Virtqueue::Buffer>(&b, 1)).is_error())
        return;
    r.busy = true;
}

void refill(void* arg) {
    auto r = static_cast<Rng*>(arg);
    MutexGuard g(r->lock);
    request_locked(*r);
}

void interrupt(void* arg) {
    auto r = static_cast<Rng*>(arg);
    MutexGuard g(r->lock);
    for (;;) {
        uint16_t head;
        uint32_t written;
        Result<bool> got = r->queue->reclaim(&head, &written);
        if (got.is_error() || !got.value())
            break;
        random_add_entropy(ReadonlyBytes(r->buf, written));
        r->total += written;
        r->busy = false;
    }
    r->filled.broadcast();
}

Result<void> attach(virtio::Transport& t, int unit) {
    auto r = make<Rng>();
    if (!r)
        return ENOMEM;
    r->transport = &t;
    r->unit = unit;
    void* buf;
    if (akhyp_dma_alloc(k_request, &buf, &r->paddr) != 0) {
        destroy(r);
        return ENOMEM;
    }
    r->buf = static_cast<uint8_t*>(buf);
    Result<void> res = [&]() -> Result<void> {
        TRY(virtio::negotiate(t, 0));
        TRY(t.setup_interrupt(interrupt, r));
        r->queue = TRY(virtio::Virtqueue::create(t, 0, 8));
        virtio::driver_ok(t);
        return {};
    }();
    if (res.is_error())
        return res; // the device stays FAILED; its memory stays (interrupts may be routed)
    size_t got;
    {
        MutexGuard g(r->lock);
        request_locked(*r);
        int64_t deadline = akhyp_clock_now(AKHYP_CLOCK_MONOTONIC) + k_first_fill_timeout_ns;
        while (r->total == 0 && r->filled.wait_until(r->lock, deadline))
            ;
        got = r->total;
    }
    random_set_source(refill, r);
    AK_LOG_INFO("virtio-rng%d (%s): %zu bytes of entropy", unit, t.kind(), got);
    return {};
}

const virtio::Driver k_driver = {"virtio-rng", 4, attach};

Result<void> virtio_rng_init() {
    virtio::register_driver(&k_driver);
    return {};
}

} // namespace
} // namespace ak

AK_COMPONENT(virtio_rng, ak::InitLevel::Base, ak::virtio_rng_init);
