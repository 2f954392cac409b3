// weft — blocking on a 32-bit word: the Linux futex, or std::atomic::wait elsewhere.
#include <weft/detail/atomics.hpp>

#include <climits>
#include <thread>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#endif

namespace weft::detail {

#if defined(__linux__)
namespace {
// std::atomic<std::uint32_t> is layout-compatible with std::uint32_t on every platform
// weft supports; the kernel compares the word's value itself.
static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));

long futex(std::atomic<std::uint32_t>& word, int op, std::uint32_t value,
           const timespec* timeout) noexcept {
    return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), op | FUTEX_PRIVATE_FLAG,
                   value, timeout, nullptr, 0);
}
}  // namespace

void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected) noexcept {
    futex(word, FUTEX_WAIT, expected, nullptr);
}

void futex_wait_for(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                    std::chrono::nanoseconds timeout) noexcept {
    if (timeout <= std::chrono::nanoseconds::zero()) return;
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(secs.count());
    ts.tv_nsec = static_cast<long>((timeout - secs).count());
    futex(word, FUTEX_WAIT, expected, &ts);  // FUTEX_WAIT takes a relative timeout
}

void futex_wake_one(std::atomic<std::uint32_t>& word) noexcept { futex(word, FUTEX_WAKE, 1, nullptr); }

void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept {
    futex(word, FUTEX_WAKE, INT_MAX, nullptr);
}
#else
void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected) noexcept {
    word.wait(expected, std::memory_order_relaxed);  // relaxed: callers re-load with acquire
}
void futex_wait_for(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                    std::chrono::nanoseconds timeout) noexcept {
    // No timed atomic wait in C++20: poll with yields until the deadline.
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (word.load(std::memory_order_relaxed) == expected &&  // relaxed: as above
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::yield();
}
void futex_wake_one(std::atomic<std::uint32_t>& word) noexcept { word.notify_one(); }
void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept { word.notify_all(); }
#endif

}  // namespace weft::detail
