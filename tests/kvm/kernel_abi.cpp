// Links like a kernel component: compiled with the kernel's flags
// (kernel_cpp_args, PIC, hidden visibility) into a static archive that the
// image takes with --whole-archive, as ak-bake will.  Checks what the image
// must provide to such code: the ak_components linker set, static
// constructors, memcpy/memset from the platform, and the hypercalls.
#include <anykern/hypercall.h>

#include <ak/component.h>

namespace {

int g_init_calls;
int g_constructed;

struct Constructed {
    Constructed() { g_constructed = 0x600d; }
};
Constructed g_object;

ak::Result<void> abi_init() {
    g_init_calls++;
    return {};
}

void say(const char* s) {
    akhyp_console_write(s, __builtin_strlen(s));
}

} // namespace

AK_COMPONENT(kvm_abi_test, ak::InitLevel::Base, abi_init);

extern "C" const ak::Component* const __start_ak_components[];
extern "C" const ak::Component* const __stop_ak_components[];

extern "C" int ak_kvm_main(int, char**) {
    if (akhyp_init(AK_HYPERCALL_VERSION, nullptr) != 0)
        return 1;
    if (g_constructed != 0x600d) {
        say("kernel-abi: static constructor did not run\n");
        return 2;
    }
    int found = 0;
    for (auto c = __start_ak_components; c != __stop_ak_components; c++) {
        if (__builtin_strcmp((*c)->name, "kvm_abi_test") == 0 && (*c)->init().ok())
            found++;
    }
    if (found != 1 || g_init_calls != 1) {
        say("kernel-abi: component not found in the linker set\n");
        return 3;
    }
    char a[100], b[100];
    __builtin_memset(a, 'x', sizeof a);
    __builtin_memcpy(b, a, sizeof b);
    if (__builtin_memcmp(a, b, sizeof a) != 0)
        return 4;
    say("kernel-abi: ok\n");
    return 0;
}
