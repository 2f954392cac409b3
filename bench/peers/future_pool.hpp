// The classic tutorial thread pool whose submit returns a std::future: each call is
// wrapped in a std::packaged_task held by a std::shared_ptr (a packaged_task is
// move-only, a std::function must be copyable), and the wrapper goes through
// mutex_pool's one mutex, one condition variable and one std::deque<std::function<void()>>.
// It is the pool most C++ programmers write (or copy) when they want
// `auto f = pool.submit(fn, args...); f.get();`, so "weft::thread_pool_executor vs
// future_pool" says what weft's facade buys over it.
//
// Thread safety: submit() thread-safe; construction and destruction by one thread.
// Performance: per call, two allocations (the packaged_task's state and the shared_ptr
// control block, besides std::function's own when the wrapper does not fit inline), one
// lock on submit and one on pop; get() blocks on the future's own mutex+condvar.
#pragma once

#include "mutex_pool.hpp"

#include <cstddef>
#include <functional>
#include <future>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

namespace weft_bench {

class future_pool {
public:
    explicit future_pool(std::size_t threads) : m_pool(threads) {}

    /// Queues `f(args...)` (decayed copies) and returns the future of its result.
    template <class F, class... Args>
    auto submit(F&& f, Args&&... args)
        -> std::future<std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>> {
        using result_type = std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>;
        auto task = std::make_shared<std::packaged_task<result_type()>>(
            [f = std::forward<F>(f), ... args = std::forward<Args>(args)]() mutable {
                return std::invoke(std::move(f), std::move(args)...);
            });
        std::future<result_type> result = task->get_future();
        m_pool.submit([task = std::move(task)] { (*task)(); });
        return result;
    }

    [[nodiscard]] std::size_t worker_count() const noexcept { return m_pool.worker_count(); }

private:
    mutex_pool m_pool;
};

}  // namespace weft_bench
