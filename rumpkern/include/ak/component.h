// Components register themselves in a linker set; ak_init() runs the init
// function of every linked component in level order.  A component that is
// not linked is simply absent.
#pragma once

#include <ak/result.h>

namespace ak {

enum class InitLevel : int {
    Base = 10,    // support services used by everything else
    Dev = 20,     // bus and device drivers, block layer
    Vfs = 30,     // file system types
    Net = 40,     // protocol families, interfaces
    Late = 50,    // things that need all of the above
    Service = 60, // things that run after the root file system is mounted
};

struct Component {
    const char* name;
    InitLevel level;
    Result<void> (*init)();
};

// Work a component must finish before the kernel instance stops (the
// unikernel powers off right after ak_kern_shutdown): hooks run in
// registration order, before the file systems are synced and unmounted, and
// must bound their own waiting.  Up to 8; registration from a component's
// init.
void register_shutdown_hook(const char* name, void (*fn)());
void run_shutdown_hooks();

} // namespace ak

#define AK_COMPONENT_SECTION "ak_components"

// Register a component: AK_COMPONENT(tmpfs, ak::InitLevel::Vfs, tmpfs_init);
#define AK_COMPONENT(ident, lvl, fn)                                                     \
    static const ::ak::Component ak_component_##ident = {#ident, lvl, fn};               \
    extern "C" __attribute__((used, section(AK_COMPONENT_SECTION), aligned(8)))          \
    const ::ak::Component* const ak_component_ptr_##ident = &ak_component_##ident
