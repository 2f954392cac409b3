// What an idle pool costs: CPU seconds per wall second while nobody gives it work, and
// memory.
//
// Each measurement runs in a forked child, so that threads left behind by one peer (TBB's
// and OpenMP's outlive their arenas and teams) cannot add to the next one's CPU time, and
// so that the peak RSS belongs to one peer. In the child:
//   1. start the pool with `workers` threads and run 10⁵ empty tasks through it, so that
//      every worker has woken up and worked (checked: the tasks must all have run);
//   2. let it settle (`--settle_ms=`, 100 ms): spinning before sleeping is allowed;
//   3. sleep the main thread for `--idle_ms=` (1000 ms) and read getrusage(RUSAGE_SELF)
//      before and after.
// Counters (lower is better): idle_cpu_per_s — CPU seconds of the whole child per wall
// second of step 3; rss_delta_mib — resident memory after step 3 minus before step 1;
// max_rss_mib — the child's peak resident set (ru_maxrss; it includes the pages the child
// shares with the parent, the same for every peer).
#include "bench_support.hpp"
#include "peers/mutex_pool.hpp"

#include <weft/weft.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#ifdef WEFT_BENCH_HAVE_TBB
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#endif
#ifdef WEFT_BENCH_HAVE_OPENMP
#include <omp.h>
#endif

namespace {

using weft_bench::completion_latch;

constexpr std::int64_t k_work_tasks = 100'000;
std::int64_t g_idle_ms = 1000;
std::int64_t g_settle_ms = 100;

struct idle_result {
    bool ok = false;
    double cpu_s = 0;
    double wall_s = 0;
    double rss_before_kib = 0;
    double rss_after_kib = 0;
    double max_rss_kib = 0;
    char error[120] = {};
};

double resident_kib() {
    std::ifstream statm("/proc/self/statm");
    double size_pages = 0;
    double resident_pages = 0;
    statm >> size_pages >> resident_pages;
    return resident_pages * static_cast<double>(sysconf(_SC_PAGESIZE)) / 1024.0;
}

double cpu_seconds(const rusage& r) {
    auto sec = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
    };
    return sec(r.ru_utime) + sec(r.ru_stime);
}

// Steps 2 and 3, with the pool alive and worked.
void measure_idle(idle_result& out) {
    std::this_thread::sleep_for(std::chrono::milliseconds(g_settle_ms));
    rusage before{};
    rusage after{};
    getrusage(RUSAGE_SELF, &before);
    const auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(g_idle_ms));
    const auto t1 = std::chrono::steady_clock::now();
    getrusage(RUSAGE_SELF, &after);
    out.cpu_s = cpu_seconds(after) - cpu_seconds(before);
    out.wall_s = std::chrono::duration<double>(t1 - t0).count();
    out.rss_after_kib = resident_kib();
    out.max_rss_kib = static_cast<double>(after.ru_maxrss);
    out.ok = true;
}

// Step 1 for the pools that take tasks one by one; then steps 2 and 3.
template <class Submit>
void work_then_idle(idle_result& out, Submit submit_one) {
    static completion_latch latch;
    latch.reset(k_work_tasks);
    for (std::int64_t i = 0; i < k_work_tasks; ++i) {
        submit_one(latch);
    }
    latch.wait();
    if (latch.count() != static_cast<std::size_t>(k_work_tasks)) {
        std::snprintf(out.error, sizeof out.error, "warm-up work: wrong completion count");
        return;
    }
    measure_idle(out);
}

void idle_weft(int workers, idle_result& out) {
    using workers_t = decltype(weft::executor_options{}.workers);
    weft::executor ex{weft::executor_options{.workers = static_cast<workers_t>(workers)}};
    if (ex.worker_count() != static_cast<std::size_t>(workers)) {
        std::snprintf(out.error, sizeof out.error, "wrong number of weft workers");
        return;
    }
    work_then_idle(out, [&](completion_latch& l) { ex.post([&l] { l.arrive(); }); });
}

#ifdef WEFT_BENCH_HAVE_TBB
void idle_tbb(int workers, idle_result& out) {
    // `workers + 1`: max_allowed_parallelism counts one master; see submit_bench.cpp.
    const tbb::global_control allow(tbb::global_control::max_allowed_parallelism,
                                    static_cast<std::size_t>(workers) + 1);
    tbb::task_arena arena(workers, 0);
    arena.initialize();
    work_then_idle(out, [&](completion_latch& l) { arena.enqueue([&l] { l.arrive(); }); });
}
#endif

void idle_mutex_pool(int workers, idle_result& out) {
    weft_bench::mutex_pool pool(static_cast<std::size_t>(workers));
    work_then_idle(out, [&](completion_latch& l) { pool.submit([&l] { l.arrive(); }); });
}

#ifdef WEFT_BENCH_HAVE_OPENMP
void idle_openmp(int workers, idle_result& out) {
    omp_set_dynamic(0);
    std::int64_t sum = 0;
    int team = 0;
#pragma omp parallel num_threads(workers) default(none) shared(team, sum)
    {
#pragma omp single
        team = omp_get_num_threads();
#pragma omp for reduction(+ : sum) schedule(dynamic, 64)
        for (std::int64_t i = 0; i < k_work_tasks; ++i) {
            sum += i;
        }
    }
    if (team != workers || sum != k_work_tasks * (k_work_tasks - 1) / 2) {
        std::snprintf(out.error, sizeof out.error, "warm-up work: wrong team size or sum");
        return;
    }
    measure_idle(out);
}
#endif

// Forks; the child builds the pool with `peer`, measures, and sends the result back.
template <class Peer>
void bm_idle(benchmark::State& state, Peer peer) {
    const auto workers = static_cast<int>(state.range(0));
    idle_result result;
    for (auto _ : state) {
        int fds[2];
        if (pipe(fds) != 0) {
            state.SkipWithError("pipe() failed");
            return;
        }
        const pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            idle_result mine;
            mine.rss_before_kib = resident_kib();
            peer(workers, mine);
            const ssize_t written = write(fds[1], &mine, sizeof mine);
            _exit(written == static_cast<ssize_t>(sizeof mine) ? 0 : 1);
        }
        close(fds[1]);
        const ssize_t got = pid > 0 ? read(fds[0], &result, sizeof result) : -1;
        close(fds[0]);
        int status = 0;
        if (pid > 0) {
            waitpid(pid, &status, 0);
        }
        if (got != static_cast<ssize_t>(sizeof result) || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0) {
            state.SkipWithError("the measuring child failed");
            return;
        }
        if (!result.ok) {
            state.SkipWithError(result.error);
            return;
        }
    }
    state.counters["idle_cpu_per_s"] = result.cpu_s / result.wall_s;
    state.counters["rss_delta_mib"] = (result.rss_after_kib - result.rss_before_kib) / 1024.0;
    state.counters["max_rss_mib"] = result.max_rss_kib / 1024.0;
}

void register_idle(const std::string& impl, void (*peer)(int, idle_result&),
                   const std::vector<int>& workers) {
    weft_bench::register_sweep("idle/" + impl, bm_idle<void (*)(int, idle_result&)>, workers,
                               peer)
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) {
    const auto workers = weft_bench::take_worker_counts(argc, argv);
    g_idle_ms = weft_bench::take_int_flag(argc, argv, "idle_ms", g_idle_ms);
    g_settle_ms = weft_bench::take_int_flag(argc, argv, "settle_ms", g_settle_ms);
    g_idle_ms = std::max<std::int64_t>(g_idle_ms, 1);

    register_idle("weft", idle_weft, workers);
#ifdef WEFT_BENCH_HAVE_TBB
    register_idle("tbb", idle_tbb, workers);
#endif
    register_idle("mutex_pool", idle_mutex_pool, workers);
#ifdef WEFT_BENCH_HAVE_OPENMP
    register_idle("openmp", idle_openmp, workers);
#endif
    return weft_bench::run_benchmarks(argc, argv);
}
