// weft unit tests — a flag one thread raises and another waits for.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace weft::test {

/// A flag one thread raises and another waits for, with a bound so that a broken
/// library fails the test instead of hanging it. Not a sleep: the wait ends as soon as
/// the flag is up. raise() notifies under the lock, so a waiter that returns may destroy
/// the signal at once. Thread-safe.
class signal {
public:
    void raise() {
        std::lock_guard lock{m_mutex};
        m_up = true;
        m_cv.notify_all();
    }
    /// True if raised within `limit`.
    bool wait(std::chrono::milliseconds limit = std::chrono::seconds{30}) {
        std::unique_lock lock{m_mutex};
        return m_cv.wait_for(lock, limit, [this] { return m_up; });
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_up = false;
};

}  // namespace weft::test
