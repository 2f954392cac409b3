// weft — what the calling thread is.
#pragma once

#include <weft/detail/config.hpp>  // first: below C++20, its #error and nothing else
#if WEFT_DETAIL_HAS_CXX20

#include <cstddef>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

namespace weft {
class executor;
}

namespace weft::detail {
void* blocking_enter() noexcept;
void blocking_leave(void* scope) noexcept;
}  // namespace weft::detail

namespace weft::this_worker {

/// The calling worker's index in its executor, or nullopt off a worker: below
/// worker_count() for the workers; spare workers (started while workers block in waits)
/// have indices from worker_count() up to worker_count() + max_spare_workers - 1.
/// Thread-safe.
std::optional<std::size_t> index() noexcept;
/// The calling worker's thread name (`<prefix>_<i>`), or "" off a worker. Thread-safe.
std::string_view name() noexcept;
/// The executor the calling worker belongs to, or nullptr off a worker. Thread-safe.
weft::executor* executor() noexcept;

/// Calls `f()`, which blocks on something weft cannot see (a latch, a socket, a lock),
/// and returns what it returns. On a worker, the executor keeps its parallelism
/// meanwhile: a spare worker runs the queued work, as for a blocked wait (after Java's
/// ForkJoinPool.managedBlock). Off a worker it is a plain call. Reentrant.
template <class F>
decltype(auto) blocking(F&& f) {
    static_assert(std::is_invocable_v<F&&>, "weft::this_worker::blocking: f must be callable as f()");
    struct scope {
        void* m_token = detail::blocking_enter();
        ~scope() { detail::blocking_leave(m_token); }
    } guard;
    return std::forward<F>(f)();
}

}  // namespace weft::this_worker

#endif  // WEFT_DETAIL_HAS_CXX20
