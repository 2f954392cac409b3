// The plain thread pool every scheduler is measured against: one std::mutex, one
// std::condition_variable, one std::deque<std::function<void()>>. It is written the way
// a careful programmer would write it without a scheduler library — notify outside the
// lock, one wake-up per task, workers drain the queue before they exit — and no cleverer,
// so that "weft vs mutex_pool" says what work stealing buys over the obvious design.
//
// Thread safety: submit() thread-safe; construction and destruction by one thread.
// Performance: every submit and every pop takes the one lock; idle workers block on the
// condition variable (no spinning), so an idle pool costs no CPU.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace weft_bench {

class mutex_pool {
public:
    explicit mutex_pool(std::size_t threads) {
        m_threads.reserve(threads);
        for (std::size_t i = 0; i < threads; ++i) {
            m_threads.emplace_back([this] { work(); });
        }
    }

    mutex_pool(const mutex_pool&) = delete;
    mutex_pool& operator=(const mutex_pool&) = delete;

    /// Runs every task already submitted, then joins the workers.
    ~mutex_pool() {
        {
            const std::lock_guard lock(m_mutex);
            m_stopping = true;
        }
        m_ready.notify_all();
        for (auto& t : m_threads) {
            t.join();
        }
    }

    /// Queues `task` for some worker.
    void submit(std::function<void()> task) {
        {
            const std::lock_guard lock(m_mutex);
            m_queue.push_back(std::move(task));
        }
        m_ready.notify_one();
    }

    [[nodiscard]] std::size_t worker_count() const noexcept { return m_threads.size(); }

private:
    void work() {
        for (;;) {
            std::function<void()> task;
            {
                std::unique_lock lock(m_mutex);
                m_ready.wait(lock, [this] { return m_stopping || !m_queue.empty(); });
                if (m_queue.empty()) {
                    return;  // stopping, and nothing left to run
                }
                task = std::move(m_queue.front());
                m_queue.pop_front();
            }
            task();
        }
    }

    std::mutex m_mutex;
    std::condition_variable m_ready;
    std::deque<std::function<void()>> m_queue;  // guarded by m_mutex
    bool m_stopping = false;                    // guarded by m_mutex
    std::vector<std::thread> m_threads;
};

}  // namespace weft_bench
