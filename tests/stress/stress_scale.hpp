// weft stress tests — the scale knob, seeds and a per-test watchdog.
//
// WEFT_STRESS_SCALE (a float, default 1) multiplies every iteration count, so the same
// tests run for a few seconds under -O2 and at a tenth of that under ThreadSanitizer.
// Every count has a floor, so a tiny scale still runs each test meaningfully.
// WEFT_STRESS_SEED fixes the random seed (default: a fresh one, printed by each test).
// A watchdog aborts the process with the test's name when a test runs too long, so a
// deadlock fails loudly instead of hanging the test run.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <thread>

namespace weft::stress {

/// WEFT_STRESS_SCALE, read once; else WEFT_STRESS_SCALE_DEFAULT (a build's default, which
/// the caller's environment can then override); else 1. A value that is not a positive
/// number counts as unset. Thread-safe.
inline double scale() {
    static const double value = [] {
        for (const char* name : {"WEFT_STRESS_SCALE", "WEFT_STRESS_SCALE_DEFAULT"}) {
            const char* s = std::getenv(name);
            if (s == nullptr || *s == '\0') continue;
            char* end = nullptr;
            const double v = std::strtod(s, &end);
            if (end != s && v > 0) return v;
        }
        return 1.0;
    }();
    return value;
}

/// `n` multiplied by the scale, at least `at_least`. Thread-safe.
inline std::uint64_t scaled(std::uint64_t n, std::uint64_t at_least = 1) {
    const auto v = static_cast<std::uint64_t>(static_cast<double>(n) * scale());
    return std::max(v, at_least);
}

/// The seed for this test: WEFT_STRESS_SEED, or a fresh random one. Recorded in the test's
/// XML output and printed, so a failing run can be replayed (as far as threads allow).
inline std::uint64_t seed() {
    std::uint64_t s = 0;
    if (const char* env = std::getenv("WEFT_STRESS_SEED"); env != nullptr && *env != '\0')
        s = std::strtoull(env, nullptr, 0);
    else
        s = (std::uint64_t{std::random_device{}()} << 32) | std::random_device{}();
    ::testing::Test::RecordProperty("seed", std::to_string(s));
    std::printf("[   SEED   ] WEFT_STRESS_SEED=%llu\n", static_cast<unsigned long long>(s));
    return s;
}

/// Aborts the process if it is still alive `limit` after construction. A test makes one
/// on its first line; `describe` (optional) adds progress details to the message.
class watchdog {
public:
    explicit watchdog(std::chrono::seconds limit, std::function<std::string()> describe = {})
        : m_describe{std::move(describe)} {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        m_name = info != nullptr ? std::string{info->test_suite_name()} + "." + info->name()
                                 : std::string{"(outside a test)"};
        m_thread = std::thread{[this, limit] { watch(limit); }};
    }
    ~watchdog() {
        {
            std::lock_guard lock{m_mutex};
            m_done = true;
        }
        m_cv.notify_one();
        m_thread.join();
    }
    watchdog(const watchdog&) = delete;
    watchdog& operator=(const watchdog&) = delete;

private:
    void watch(std::chrono::seconds limit) {
        std::unique_lock lock{m_mutex};
        if (m_cv.wait_for(lock, limit, [this] { return m_done; })) return;
        const std::string details = m_describe ? m_describe() : std::string{};
        std::fprintf(stderr,
                     "\nweft stress watchdog: %s still running after %lld s (deadlock or lost "
                     "wake-up?)%s%s\n",
                     m_name.c_str(), static_cast<long long>(limit.count()),
                     details.empty() ? "" : "; ", details.c_str());
        std::fflush(stderr);
        std::abort();
    }

    std::string m_name;
    std::function<std::string()> m_describe;
    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_done = false;
    std::thread m_thread;
};

/// The default watchdog limit: far above any healthy run, sanitizers included.
inline constexpr std::chrono::seconds k_watchdog_limit{300};

}  // namespace weft::stress
