// weft — the heavy side of the asymmetric fence: membarrier(2), private expedited.
//
// MEMBARRIER_CMD_PRIVATE_EXPEDITED interrupts every CPU currently running a thread of
// this process and has it execute a full memory barrier before the call returns; a thread
// that is not running has passed through the kernel's context switch, itself a full
// barrier. Either way each other thread executes a full fence at some instruction
// boundary of its own stream, which is what the light side (a compiler barrier, in
// atomics.hpp) relies on. The command needs a one-time registration per process
// (MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED); the registration is kept across fork()
// and dropped by exec(), which also ends every other thread. Seccomp filters (EPERM),
// kernels before 4.14 (EINVAL) and systems without the call (ENOSYS) select the
// fallback instead: a seq_cst fence on the light side, nothing extra on the heavy side.
#include <weft/detail/atomics.hpp>

#include <cstdlib>

#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace weft::detail {

// True until registration succeeds: a fenced light side is correct with or without the
// heavy side's membarrier.
std::atomic<bool> g_asymmetric_fence_fallback{true};

namespace {

#if defined(__linux__) && defined(SYS_membarrier)
long membarrier(int command) noexcept {
    return syscall(SYS_membarrier, command, 0U, 0);
}

bool register_membarrier() noexcept {
    return membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
}
#else
bool register_membarrier() noexcept {
    return false;
}
#endif

}  // namespace

void register_asymmetric_fence() noexcept {
    // Decided once: the flag must not change while threads that read it run, or a light
    // side could skip its fence against a heavy side that skipped its membarrier. The
    // static's initialisation happens before every return from this function, and so
    // before the threads the caller starts afterwards.
    static const bool registered = [] {
        const bool ok = register_membarrier();
        // relaxed: published by the static's initialisation guard (see above).
        g_asymmetric_fence_fallback.store(!ok, std::memory_order_relaxed);
        return ok;
    }();
    static_cast<void>(registered);
}

bool asymmetric_fence_is_fallback() noexcept {
    // relaxed: written once, before the threads that read it were started.
    return g_asymmetric_fence_fallback.load(std::memory_order_relaxed);
}

void asymmetric_fence_heavy() noexcept {
    // relaxed: as in asymmetric_fence_is_fallback().
    if (g_asymmetric_fence_fallback.load(std::memory_order_relaxed)) return;
#if defined(__linux__) && defined(SYS_membarrier)
    // Cannot fail once registered: the registration outlives fork() and only exec()
    // drops it. Going on without the barrier could lose wake-ups, so a failure aborts.
    if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0) std::abort();
#endif
}

}  // namespace weft::detail
