// Helpers of the Python-parity tests (thread_pool_executor_test, parity_*_test).
#pragma once

#include <weft/future.hpp>
#include <weft/thread_pool_executor.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace weft::test {

/// A one-shot gate tasks block on (deliberately not a weft::future: a pool thread that
/// waits on a future runs queued items meanwhile, see B25).
class gate {
public:
    void wait() {
        std::unique_lock lock{m_mutex};
        m_cv.wait(lock, [this] { return m_open; });
    }
    void open() {
        {
            std::lock_guard lock{m_mutex};
            m_open = true;
        }
        m_cv.notify_all();
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_open = false;
};

/// A counter one can wait on reaching a value.
class counter {
public:
    void add() {
        {
            std::lock_guard lock{m_mutex};
            ++m_value;
        }
        m_cv.notify_all();
    }
    /// Waits until the count reaches `n`; false after a generous limit (a failed test,
    /// never a hang).
    bool wait_for_at_least(std::size_t n) {
        std::unique_lock lock{m_mutex};
        return m_cv.wait_for(lock, std::chrono::seconds{30}, [&] { return m_value >= n; });
    }
    std::size_t value() {
        std::lock_guard lock{m_mutex};
        return m_value;
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_cv;
    std::size_t m_value = 0;
};

/// A one-thread pool whose thread is held by a running task (`running`, which counts
/// itself in `started`) until `release.open()`, so that later submissions stay pending.
/// The task is submitted, not yet known to run: wait on `started` first. Destruction
/// opens the gate before the pool is destroyed (and joins its thread).
struct held_pool {
    gate release;
    counter started;
    thread_pool_executor pool{1};
    future<void> running = pool.submit([this] {
        started.add();
        release.wait();
    });

    held_pool() = default;
    held_pool(const held_pool&) = delete;
    held_pool& operator=(const held_pool&) = delete;
    ~held_pool() { release.open(); }
};

}  // namespace weft::test
