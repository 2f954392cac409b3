// weft benchmarks — what every benchmark program shares.
//
// * The worker-count sweep: `--workers=LIST` on the command line or WEFT_BENCH_WORKERS in
//   the environment (the flag wins). LIST is comma-separated counts, or `sweep` for
//   1,2,4,8,16. The default is 1, 2 and std::thread::hardware_concurrency().
// * Program-specific integer flags (`--n=30`), parsed and removed before Google Benchmark
//   sees argv, because it rejects flags it does not know.
// * The two ways a benchmark thread learns that tasks ran: completion_latch (N tasks
//   done) and done_flag (one task done). Every peer in a family waits through the same
//   one, so the waiting costs the same everywhere.
//
// Benchmark names follow `family/impl/workers:N/real_time` (impls that have no worker
// count, such as `serial`, drop the `workers:N` part); scripts/bench_table.py relies on it.
#pragma once

#include <benchmark/benchmark.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace weft_bench {

/// Removes `--NAME=VALUE` from argv and returns VALUE, or nullopt when absent.
inline std::optional<std::string> take_flag(int& argc, char** argv, std::string_view name) {
    const std::string prefix = "--" + std::string(name) + "=";
    std::optional<std::string> value;
    int out = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg.starts_with(prefix)) {
            value = std::string(arg.substr(prefix.size()));
        } else {
            argv[out++] = argv[i];
        }
    }
    argc = out;
    argv[argc] = nullptr;
    return value;
}

/// `--NAME=INTEGER`, or `fallback` when absent; exits with a message on a malformed value.
inline std::int64_t take_int_flag(int& argc, char** argv, std::string_view name,
                                  std::int64_t fallback) {
    const auto text = take_flag(argc, argv, name);
    if (!text) {
        return fallback;
    }
    char* end = nullptr;
    const long long value = std::strtoll(text->c_str(), &end, 10);
    if (text->empty() || *end != '\0' || value < 0) {
        std::cerr << "--" << name << " wants a non-negative integer, got '" << *text << "'\n";
        std::exit(2);
    }
    return value;
}

inline std::vector<int> parse_worker_list(const std::string& text) {
    if (text == "sweep") {
        return {1, 2, 4, 8, 16};
    }
    std::vector<int> counts;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        const std::size_t comma = std::min(text.find(',', pos), text.size());
        const std::string item = text.substr(pos, comma - pos);
        char* end = nullptr;
        const long value = std::strtol(item.c_str(), &end, 10);
        if (item.empty() || *end != '\0' || value < 1 || value > 4096) {
            std::cerr << "worker list wants counts >= 1 or 'sweep', got '" << text << "'\n";
            std::exit(2);
        }
        counts.push_back(static_cast<int>(value));
        pos = comma + 1;
    }
    return counts;
}

/// The worker counts to sweep: `--workers=`, else WEFT_BENCH_WORKERS, else 1, 2, all cores.
inline std::vector<int> take_worker_counts(int& argc, char** argv) {
    std::vector<int> counts;
    if (const auto flag = take_flag(argc, argv, "workers")) {
        counts = parse_worker_list(*flag);
    } else if (const char* env = std::getenv("WEFT_BENCH_WORKERS"); env && *env) {
        counts = parse_worker_list(env);
    } else {
        counts = {1, 2, static_cast<int>(std::max(1U, std::thread::hardware_concurrency()))};
    }
    std::sort(counts.begin(), counts.end());
    counts.erase(std::unique(counts.begin(), counts.end()), counts.end());
    return counts;
}

/// Registers `fn(state, extra...)` once per worker count, as `name/workers:N`, timed in
/// real time; the worker count is `state.range(0)`.
template <class Fn, class... Extra>
benchmark::internal::Benchmark* register_sweep(const std::string& name, Fn&& fn,
                                               const std::vector<int>& workers,
                                               Extra&&... extra) {
    auto* b = benchmark::RegisterBenchmark(name.c_str(), std::forward<Fn>(fn),
                                           std::forward<Extra>(extra)...);
    b->ArgName("workers")->UseRealTime();
    for (const int n : workers) {
        b->Arg(n);
    }
    return b;
}

/// Passes every report to the reporter that `--benchmark_format` asks for (console or
/// json; the deprecated csv falls back to console), and remembers
/// whether any run ended in SkipWithError, so that the exit status can say so.
class error_tracking_reporter final : public benchmark::BenchmarkReporter {
public:
    explicit error_tracking_reporter(std::unique_ptr<benchmark::BenchmarkReporter> inner)
        : m_inner(std::move(inner)) {}

    bool ReportContext(const Context& context) override { return m_inner->ReportContext(context); }

    void ReportRuns(const std::vector<Run>& runs) override {
        for (const auto& run : runs) {
            m_failed = m_failed || failed(run);
        }
        m_inner->ReportRuns(runs);
    }

    void Finalize() override { m_inner->Finalize(); }

    [[nodiscard]] bool any_failed() const noexcept { return m_failed; }

private:
    template <class R>
    static bool failed(const R& run) {
        if constexpr (requires { run.error_occurred; }) {
            return run.error_occurred;  // benchmark <= 1.7
        } else {
            return static_cast<int>(run.skipped) == 2;  // 1.8: internal::SkippedWithError
        }
    }

    std::unique_ptr<benchmark::BenchmarkReporter> m_inner;
    bool m_failed = false;
};

inline std::unique_ptr<benchmark::BenchmarkReporter> display_reporter_for(int argc, char** argv) {
    std::string format = "console";
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg.starts_with("--benchmark_format=")) {
            format = arg.substr(std::strlen("--benchmark_format="));
        }
    }
    if (format == "json") {
        return std::make_unique<benchmark::JSONReporter>();
    }
    return std::make_unique<benchmark::ConsoleReporter>(
        isatty(STDOUT_FILENO) != 0 ? benchmark::ConsoleReporter::OO_Color
                                   : benchmark::ConsoleReporter::OO_None);
}

/// Co-tenants: `count` plain threads that busy-loop (never yield, never sleep) from
/// construction to destruction, as another program's threads would on a shared server.
/// Thread safety: construct and destroy on one thread.
class hog_threads {
public:
    explicit hog_threads(std::int64_t count) {
        for (std::int64_t i = 0; i < count; ++i) {
            m_threads.emplace_back([this] {
                std::uint64_t x = 1;
                // relaxed: a stop request only needs to arrive eventually.
                while (!m_stop.load(std::memory_order_relaxed)) {  // relaxed: pairs with ~hog_threads' store; join orders the rest
                    for (int k = 0; k < 1000; ++k) {
                        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                    }
                    benchmark::DoNotOptimize(x);
                }
            });
        }
    }
    ~hog_threads() {
        m_stop.store(true, std::memory_order_relaxed);  // relaxed: see the loop
        for (auto& t : m_threads) {
            t.join();
        }
    }
    hog_threads(const hog_threads&) = delete;
    hog_threads& operator=(const hog_threads&) = delete;

private:
    std::atomic<bool> m_stop{false};
    std::vector<std::thread> m_threads;
};

/// Initializes Google Benchmark with the remaining argv and runs. `--hogs=N` (every
/// program) runs N busy-looping hog_threads beside all its benchmarks, started before
/// the first and stopped after the last; the JSON context records N. The exit status is
/// 1 when a benchmark reported an error (a wrong answer), so a smoke test fails on it.
inline int run_benchmarks(int& argc, char** argv) {
    const std::int64_t hogs = take_int_flag(argc, argv, "hogs", 0);
    auto reporter = std::make_unique<error_tracking_reporter>(display_reporter_for(argc, argv));
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }
    benchmark::AddCustomContext("hardware_concurrency",
                                std::to_string(std::thread::hardware_concurrency()));
    benchmark::AddCustomContext("hogs", std::to_string(hogs));
    const hog_threads co_tenants{hogs};
    benchmark::RunSpecifiedBenchmarks(reporter.get());
    benchmark::Shutdown();
    if (reporter->any_failed()) {
        std::cerr << "some benchmark reported an error (see above)\n";
        return 1;
    }
    return 0;
}

/// Counts task completions; the benchmark thread sleeps until `expected` tasks arrived.
///
/// Lives across iterations (reset() between them) and in static storage in the benchmarks:
/// the last task may still be inside notify_one() when the waiter has already woken, and
/// not every peer joins its threads on destruction (tbb::task_arena does not). A late
/// notify from an earlier iteration only causes a spurious wake-up, which wait() absorbs.
/// Thread safety: arrive() thread-safe; reset() and wait() by the benchmark thread only.
class completion_latch {
public:
    void reset(std::size_t expected) noexcept {
        m_expected = expected;
        m_count.store(0, std::memory_order_relaxed);  // no task of this round exists yet
        m_done.store(false, std::memory_order_relaxed);  // no task of this round exists yet
    }

    void arrive() noexcept {
        // acq_rel: the last arriver acquires every earlier task's release, then
        // publishes all of them through m_done.
        // Each arrival publishes its task's effects to the last one, which releases them
        // all through m_done.
        const auto arrived = m_count.fetch_add(1, std::memory_order_acq_rel);  // acq_rel: see above
        if (arrived + 1 == m_expected) {
            m_done.store(true, std::memory_order_release);  // pairs with wait()'s acquire
            m_done.notify_one();
        }
    }

    void wait() const noexcept {
        while (!m_done.load(std::memory_order_acquire)) {  // pairs with arrive()'s release
            m_done.wait(false, std::memory_order_acquire);  // re-checked by the acquire load above
        }
    }

    [[nodiscard]] std::size_t count() const noexcept {
        return m_count.load(std::memory_order_acquire);  // pairs with arrive()'s acq_rel
    }

private:
    std::size_t m_expected = 0;
    alignas(64) std::atomic<std::size_t> m_count{0};
    alignas(64) std::atomic<bool> m_done{false};
};

/// One task's completion, for round trips. Same lifetime rule as completion_latch.
/// Thread safety: set() thread-safe; reset() and wait() by the benchmark thread only.
class done_flag {
public:
    void reset() noexcept {
        m_done.store(false, std::memory_order_relaxed);  // relaxed: no task of the round exists yet
    }

    void set() noexcept {
        m_done.store(true, std::memory_order_release);  // pairs with wait()'s acquire
        m_done.notify_one();
    }

    void wait() const noexcept {
        while (!m_done.load(std::memory_order_acquire)) {  // pairs with set()'s release
            m_done.wait(false, std::memory_order_acquire);  // re-checked by the acquire load above
        }
    }

private:
    std::atomic<bool> m_done{false};
};

/// Real time of one region, accumulated across iterations, for per-task counters.
class stopwatch {
public:
    void start() noexcept { m_begin = std::chrono::steady_clock::now(); }
    void stop() noexcept { m_total += std::chrono::steady_clock::now() - m_begin; }
    [[nodiscard]] double ns() const noexcept {
        return std::chrono::duration<double, std::nano>(m_total).count();
    }

private:
    std::chrono::steady_clock::time_point m_begin{};
    std::chrono::steady_clock::duration m_total{};
};

/// Sets `ns_per_task` (wall time / tasks) and items_per_second from a finished loop.
inline void report_per_task(benchmark::State& state, const stopwatch& watch,
                            std::int64_t tasks_per_iteration) {
    const auto tasks = static_cast<std::int64_t>(state.iterations()) * tasks_per_iteration;
    if (tasks > 0) {
        state.counters["ns_per_task"] = watch.ns() / static_cast<double>(tasks);
        state.SetItemsProcessed(tasks);
    }
}

}  // namespace weft_bench
