// Stress of the sleep protocol: many rounds of "let the pool go idle, post from outside,
// the task must run". The gaps vary from none (workers still searching) through the
// spin-then-park window to long enough that every worker is asleep. A lost wake-up shows
// as a round whose task never runs: the round fails after a timeout instead of hanging.
#include "stress_scale.hpp"

#include <weft/executor.hpp>
#include <weft/task_group.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace stress = weft::stress;
using namespace std::chrono_literals;

/// A round far longer than this means the posted work was never picked up.
constexpr auto k_round_timeout = 30s;

/// Counts a round's tasks down; the poster waits for zero with a timeout.
class round_signal {
public:
    void expect(int n) {
        std::lock_guard lock{m_mutex};
        m_remaining = n;
    }
    void arrive() {
        std::lock_guard lock{m_mutex};
        if (--m_remaining == 0) m_cv.notify_all();
    }
    /// True if every task arrived within the timeout.
    bool wait() {
        std::unique_lock lock{m_mutex};
        return m_cv.wait_for(lock, k_round_timeout, [this] { return m_remaining <= 0; });
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_cv;
    int m_remaining = 0;
};

/// Sleeps, spins or yields for a random while: none at all, inside the workers' spin
/// phase, around the moment they park, or long after.
void random_gap(std::mt19937_64& rng) {
    switch (rng() % 8) {
        case 0:
            break;  // none: the workers are still searching
        case 1:
            for (int i = 0, n = static_cast<int>(rng() % 8); i < n; ++i) std::this_thread::yield();
            break;
        case 2:
        case 3: {  // busy for 0–50 µs: the spin-then-park window
            const auto until = std::chrono::steady_clock::now() +
                               std::chrono::microseconds{static_cast<long>(rng() % 50)};
            while (std::chrono::steady_clock::now() < until) {
            }
            break;
        }
        case 4:
        case 5:
            std::this_thread::sleep_for(std::chrono::microseconds{static_cast<long>(rng() % 300)});
            break;
        case 6:
            std::this_thread::sleep_for(std::chrono::microseconds{300 + rng() % 700});
            break;
        default:  // long enough for every worker to park
            std::this_thread::sleep_for(std::chrono::microseconds{1'000 + rng() % 2'000});
            break;
    }
}

std::uint64_t total_parks(const weft::executor& ex) {
    std::uint64_t n = 0;
    for (const auto& s : ex.stats()) n += s.parks;
    return n;
}

std::string describe_stats(const weft::executor& ex) {
    std::ostringstream out;
    for (const auto& s : ex.stats())
        out << " [worker " << s.index << ": executed " << s.executed << ", parks " << s.parks
            << ", injected " << s.injected << "]";
    return out.str();
}

/// Runs `rounds` rounds from the calling thread: a random gap, then 1–3 posts (some of
/// which spawn children from their worker), then a wait for all of them. Returns false
/// (after recording a failure) on the first round that times out.
bool post_rounds(weft::executor& ex, round_signal& sig, std::uint64_t rounds, std::uint64_t seed,
                 std::atomic<std::uint64_t>& progress) {
    std::mt19937_64 rng{seed};
    for (std::uint64_t r = 0; r < rounds; ++r) {
        random_gap(rng);
        const int posts = 1 + static_cast<int>(rng() % 3);
        const int children = rng() % 4 == 0 ? 2 : 0;
        sig.expect(posts * (1 + children));
        for (int p = 0; p < posts; ++p)
            ex.post([&ex, &sig, children] {
                for (int c = 0; c < children; ++c) ex.post([&sig] { sig.arrive(); });
                sig.arrive();
            });
        if (!sig.wait()) {
            ADD_FAILURE() << "round " << r << ": posted work did not run within "
                          << k_round_timeout.count() << " s (lost wake-up);" << describe_stats(ex);
            return false;
        }
        progress.fetch_add(1, std::memory_order_relaxed);
    }
    return true;
}

class LostWakeupStress : public ::testing::TestWithParam<std::size_t> {};

TEST_P(LostWakeupStress, OutsidePostAfterIdleAlwaysRuns) {
    std::atomic<std::uint64_t> progress{0};
    stress::watchdog dog{stress::k_watchdog_limit,
                         [&] { return "rounds done: " + std::to_string(progress.load()); }};
    round_signal sig;
    weft::executor ex{weft::executor_options{.workers = GetParam()}};
    const std::uint64_t rounds = stress::scaled(4'000, 50);
    EXPECT_TRUE(post_rounds(ex, sig, rounds, stress::seed(), progress));
    std::printf("[   INFO   ] %llu rounds, %llu parks\n", static_cast<unsigned long long>(rounds),
                static_cast<unsigned long long>(total_parks(ex)));
}

// Several outside threads, each running its own rounds: posts arrive while other posts'
// wake-ups are in flight and while workers are half-way into parking.
TEST_P(LostWakeupStress, ConcurrentPostersAfterIdleAlwaysRun) {
    std::atomic<std::uint64_t> progress{0};
    stress::watchdog dog{stress::k_watchdog_limit,
                         [&] { return "rounds done: " + std::to_string(progress.load()); }};
    constexpr int k_posters = 3;
    std::vector<round_signal> signals(k_posters);
    weft::executor ex{weft::executor_options{.workers = GetParam()}};
    const std::uint64_t rounds = stress::scaled(2'000, 25);
    const std::uint64_t seed = stress::seed();
    std::vector<std::thread> posters;
    posters.reserve(k_posters);
    std::atomic<int> ok{0};
    for (int p = 0; p < k_posters; ++p)
        posters.emplace_back([&, p] {
            if (post_rounds(ex, signals[static_cast<std::size_t>(p)], rounds,
                            seed + static_cast<std::uint64_t>(p), progress))
                ok.fetch_add(1);
        });
    for (auto& t : posters) t.join();
    EXPECT_EQ(ok.load(), k_posters);
    EXPECT_EQ(progress.load(), rounds * k_posters);
}

// An outside thread blocks in task_group::wait() on a pool whose workers are asleep (or
// about to be): the group's tasks must wake a worker, and the last one must wake the
// waiter. A lost wake-up on either side hangs; the watchdog turns that into a failure.
TEST_P(LostWakeupStress, OutsideTaskGroupWaitOnIdlePoolReturns) {
    std::atomic<std::uint64_t> progress{0};
    stress::watchdog dog{stress::k_watchdog_limit,
                         [&] { return "rounds done: " + std::to_string(progress.load()); }};
    weft::executor ex{weft::executor_options{.workers = GetParam()}};
    const std::uint64_t rounds = stress::scaled(4'000, 50);
    std::mt19937_64 rng{stress::seed()};
    for (std::uint64_t r = 0; r < rounds; ++r) {
        random_gap(rng);
        const int tasks = 1 + static_cast<int>(rng() % 3);
        const bool nested = rng() % 2 == 0;
        std::atomic<int> ran{0};
        weft::task_group g{ex};
        for (int t = 0; t < tasks; ++t)
            g.run([&ex, &ran, nested] {
                if (nested) {  // a group waited on a worker, inside the outside wait
                    weft::task_group inner{ex};
                    inner.run([&ran] { ran.fetch_add(1, std::memory_order_relaxed); });
                    inner.run([&ran] { ran.fetch_add(1, std::memory_order_relaxed); });
                    inner.wait();
                }
                ran.fetch_add(1, std::memory_order_relaxed);
            });
        g.wait();
        ASSERT_EQ(ran.load(), tasks * (nested ? 3 : 1)) << "round " << r;
        progress.fetch_add(1, std::memory_order_relaxed);
    }
}

INSTANTIATE_TEST_SUITE_P(Workers, LostWakeupStress, ::testing::Values(1, 2, 4),
                         [](const auto& info) { return std::to_string(info.param) + "_workers"; });

}  // namespace
