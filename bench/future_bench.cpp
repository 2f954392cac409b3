// Futures: what a future costs when it is the unit of work.
//
// future_tree — a binary tree of depth d (2^d leaves, d = 18 unless `--depth=`). Leaf i
//   returns i; each inner node returns the sum of its two children, so the root must be
//   2^d (2^d - 1) / 2. The counter `ns_per_node` is wall time / (2^(d+1) - 1) nodes, which
//   makes trees of different depths comparable; items_per_second counts nodes.
//     weft_async_get   node: left = weft::async(ex, node); right computed in place;
//                      left.get() (on a worker, get() runs other tasks meanwhile)
//     weft_when_all    no blocking anywhere: leaves are weft::async, each inner node is
//                      when_all(left, right).then(sum); one task builds the whole tree
//     weft_task_group  the same fork as weft_async_get with task_group run + wait
//     tbb              the same fork with tbb::task_group inside task_arena::execute
//     std_async_depthK the same fork as weft_async_get with std::async(launch::async) and
//                      std::future::get, at depth K = 12 unless `--async_depth=` (a thread
//                      per inner node: depth 18 would start 2^18 threads)
//   The root is started from the benchmark thread, which only waits.
//
// future_chain — 10^5 links (`--links=`) of f = f.then(v + 1) on a promise(ex)'s future,
//   built while the promise is unset (so nothing runs yet); then set_value(0) from the
//   benchmark thread and get() the last future, which must hold the number of links.
//   `ns_per_link` is (build + run) / links; `build_ns_per_link` and `run_ns_per_link`
//   split it. weft_then schedules every link as a task on the completing worker;
//   weft_then_inline runs every link on the completing thread — here the benchmark
//   thread, which calls set_value (depth-bounded by the per-thread trampoline).
//   mutex_pool is the callback chain one would write without futures: each link's task
//   submits the next one.
//
// future_roundtrip — async + get of one task on a warm pool; `ns_per_round_trip`.
//     weft_async_get         weft::async(ex, f).get() from the benchmark thread
//     weft_async_get_worker  the same from inside a worker (1000 round trips per
//                            iteration inside one task; get() runs the task itself
//                            unless another worker stole it)
//     weft_task_group        task_group run + wait from the benchmark thread (no future:
//                            what the scheduler alone costs, as in roundtrip_bench)
//     mutex_pool             a std::promise set by a task submitted to the mutex pool,
//                            std::future::get on the benchmark thread
//     std_async              std::async(launch::async, f).get(): a new thread each time
//   Each round trip returns the iteration's number, checked after get().
//
// A wrong answer is reported with SkipWithError.
#include "bench_support.hpp"
#include "peers/mutex_pool.hpp"

#include <weft/weft.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <tuple>

#ifdef WEFT_BENCH_HAVE_TBB
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>
#endif

namespace {

using weft_bench::register_sweep;
using weft_bench::stopwatch;

int g_depth = 18;
int g_async_depth = 12;
std::int64_t g_links = 100'000;
constexpr int k_warmup_depth = 10;
constexpr std::int64_t k_worker_round_trips = 1000;

std::int64_t leaves(int depth) {
    return std::int64_t{1} << depth;
}
std::int64_t nodes(int depth) {
    return (std::int64_t{2} << depth) - 1;
}
/// The root of a tree whose leaves are first, first + 1, ...
std::int64_t tree_sum(int depth) {
    return leaves(depth) * (leaves(depth) - 1) / 2;
}

bool check(benchmark::State& state, std::int64_t got, std::int64_t want, const char* what) {
    if (got == want) {
        return true;
    }
    state.SkipWithError((std::string{"wrong answer: "} + what + " = " + std::to_string(got) +
                         ", want " + std::to_string(want))
                            .c_str());
    return false;
}

/// Sets `name` (wall ns per item) and items_per_second from a finished loop.
void report_per(benchmark::State& state, const stopwatch& watch, std::int64_t per_iteration,
                const char* name) {
    const auto items = static_cast<std::int64_t>(state.iterations()) * per_iteration;
    if (items > 0) {
        state.counters[name] = watch.ns() / static_cast<double>(items);
        state.SetItemsProcessed(items);
    }
}

bool make_executor_ok(benchmark::State& state, const weft::executor& ex) {
    if (ex.worker_count() == static_cast<std::size_t>(state.range(0))) {
        return true;
    }
    state.SkipWithError("executor did not start the requested number of workers");
    return false;
}

weft::executor_options options_for(benchmark::State& state) {
    using workers_t = decltype(weft::executor_options{}.workers);
    return weft::executor_options{.workers = static_cast<workers_t>(state.range(0))};
}

/// Runs `tree(depth)` once untimed at the warm-up depth, then once per iteration at
/// g_depth (or `depth`), checking each root; sets ns_per_node.
template <class Tree>
void drive_tree(benchmark::State& state, Tree tree, int depth = g_depth) {
    const int warmup = std::min(k_warmup_depth, depth);
    if (!check(state, tree(warmup), tree_sum(warmup), "warm-up root")) {
        return;
    }
    stopwatch watch;
    for (auto _ : state) {
        watch.start();
        const std::int64_t root = tree(depth);
        watch.stop();
        if (!check(state, root, tree_sum(depth), "root")) {
            break;
        }
    }
    report_per(state, watch, nodes(depth), "ns_per_node");
}

// --- future_tree: weft ------------------------------------------------------------------

std::int64_t tree_async_get(weft::executor& ex, int depth, std::int64_t first) {
    if (depth == 0) {
        return first;
    }
    auto left =
        weft::async(ex, [&ex, depth, first] { return tree_async_get(ex, depth - 1, first); });
    const std::int64_t right = tree_async_get(ex, depth - 1, first + leaves(depth - 1));
    return left.get() + right;
}

void bm_tree_weft_async_get(benchmark::State& state) {
    weft::executor ex{options_for(state)};
    if (!make_executor_ok(state, ex)) {
        return;
    }
    drive_tree(state, [&ex](int depth) {
        return weft::async(ex, [&ex, depth] { return tree_async_get(ex, depth, 0); }).get();
    });
}

weft::future<std::int64_t> tree_when_all(weft::executor& ex, int depth, std::int64_t first) {
    if (depth == 0) {
        return weft::async(ex, [first] { return first; });
    }
    auto left = tree_when_all(ex, depth - 1, first);
    auto right = tree_when_all(ex, depth - 1, first + leaves(depth - 1));
    return weft::when_all(std::move(left), std::move(right)).then([](const auto& children) {
        return std::get<0>(children).get() + std::get<1>(children).get();
    });
}

void bm_tree_weft_when_all(benchmark::State& state) {
    state.SetLabel("one task builds the tree; nothing blocks but the benchmark thread");
    weft::executor ex{options_for(state)};
    if (!make_executor_ok(state, ex)) {
        return;
    }
    drive_tree(state, [&ex](int depth) {
        // async returns future<future<int64_t>>: the outer one is done once the tree is
        // built, the inner one once the root's sum ran.
        auto built = weft::async(ex, [&ex, depth] { return tree_when_all(ex, depth, 0); });
        return built.get().get();
    });
}

std::int64_t tree_task_group(weft::executor& ex, int depth, std::int64_t first) {
    if (depth == 0) {
        return first;
    }
    std::int64_t left = 0;
    weft::task_group g{ex};
    g.run([&] { left = tree_task_group(ex, depth - 1, first); });
    const std::int64_t right = tree_task_group(ex, depth - 1, first + leaves(depth - 1));
    g.wait();
    return left + right;
}

void bm_tree_weft_task_group(benchmark::State& state) {
    weft::executor ex{options_for(state)};
    if (!make_executor_ok(state, ex)) {
        return;
    }
    drive_tree(state, [&ex](int depth) {
        std::int64_t root = 0;
        weft::task_group g{ex};
        g.run([&] { root = tree_task_group(ex, depth, 0); });
        g.wait();
        return root;
    });
}

// --- future_tree: oneTBB ----------------------------------------------------------------

#ifdef WEFT_BENCH_HAVE_TBB
std::int64_t tree_tbb(int depth, std::int64_t first) {
    if (depth == 0) {
        return first;
    }
    std::int64_t left = 0;
    tbb::task_group g;
    g.run([&] { left = tree_tbb(depth - 1, first); });
    const std::int64_t right = tree_tbb(depth - 1, first + leaves(depth - 1));
    g.wait();
    return left + right;
}

void bm_tree_tbb(benchmark::State& state) {
    const auto workers = static_cast<int>(state.range(0));
    // As in fib_bench: the benchmark thread fills one of the arena's `workers` slots.
    const tbb::global_control allow(tbb::global_control::max_allowed_parallelism,
                                    static_cast<std::size_t>(workers));
    tbb::task_arena arena(workers);
    arena.initialize();
    if (arena.max_concurrency() != workers) {
        state.SkipWithError("task_arena did not take the requested concurrency");
        return;
    }
    drive_tree(state, [&arena](int depth) {
        std::int64_t root = 0;
        arena.execute([&] { root = tree_tbb(depth, 0); });
        return root;
    });
}
#endif

// --- future_tree: std::async, depth-limited ----------------------------------------------

std::int64_t tree_std_async(int depth, std::int64_t first) {
    if (depth == 0) {
        return first;
    }
    auto left = std::async(std::launch::async, tree_std_async, depth - 1, first);
    const std::int64_t right = tree_std_async(depth - 1, first + leaves(depth - 1));
    return left.get() + right;
}

void bm_tree_std_async(benchmark::State& state) {
    state.SetLabel("depth " + std::to_string(g_async_depth) + ": compare ns_per_node");
    auto tree = [](int depth) { return tree_std_async(depth, 0); };
    drive_tree(state, tree, g_async_depth);
}

// --- future_chain ------------------------------------------------------------------------

template <bool Inline>
void bm_chain_weft(benchmark::State& state) {
    weft::executor ex{options_for(state)};
    if (!make_executor_ok(state, ex)) {
        return;
    }
    auto add_one = [](const std::int64_t& v) { return v + 1; };
    stopwatch build;
    stopwatch run;
    for (auto _ : state) {
        build.start();
        weft::promise<std::int64_t> head{ex};
        weft::future<std::int64_t> last = head.get_future();
        for (std::int64_t i = 0; i < g_links; ++i) {
            if constexpr (Inline) {
                last = last.then_inline(add_one);
            } else {
                last = last.then(add_one);
            }
        }
        build.stop();
        run.start();
        head.set_value(0);
        const std::int64_t got = last.get();
        run.stop();
        if (!check(state, got, g_links, "last link")) {
            break;
        }
    }
    const auto links = static_cast<double>(state.iterations()) * static_cast<double>(g_links);
    if (links > 0) {
        state.counters["ns_per_link"] = (build.ns() + run.ns()) / links;
        state.counters["build_ns_per_link"] = build.ns() / links;
        state.counters["run_ns_per_link"] = run.ns() / links;
        state.SetItemsProcessed(static_cast<std::int64_t>(links));
    }
}

/// A chain of callbacks on the mutex pool: link i's task submits link i + 1.
struct mutex_pool_chain {
    weft_bench::mutex_pool* pool;
    std::promise<std::int64_t>* result;
    std::int64_t left;

    void operator()(std::int64_t v) const {
        if (left == 0) {
            result->set_value(v);
            return;
        }
        pool->submit([next = mutex_pool_chain{pool, result, left - 1}, v] { next(v + 1); });
    }
};

void bm_chain_mutex_pool(benchmark::State& state) {
    state.SetLabel("each link's task submits the next (no futures)");
    weft_bench::mutex_pool pool(static_cast<std::size_t>(state.range(0)));
    stopwatch watch;
    for (auto _ : state) {
        watch.start();
        // shared: the last task may still be inside set_value when get() returns.
        auto result = std::make_shared<std::promise<std::int64_t>>();
        auto done = result->get_future();
        pool.submit([&pool, result] { mutex_pool_chain{&pool, result.get(), g_links}(0); });
        const std::int64_t got = done.get();
        watch.stop();
        if (!check(state, got, g_links, "last link")) {
            break;
        }
    }
    report_per(state, watch, g_links, "ns_per_link");
}

// --- future_roundtrip --------------------------------------------------------------------

constexpr int k_warmup_round_trips = 1000;

/// Runs `round_trip(i)` untimed k_warmup_round_trips times, then once per iteration; each
/// call must return i.
template <class RoundTrip>
void drive_round_trips(benchmark::State& state, RoundTrip round_trip) {
    std::int64_t i = 0;
    for (; i < k_warmup_round_trips; ++i) {
        if (!check(state, round_trip(i), i, "warm-up round trip")) {
            return;
        }
    }
    stopwatch watch;
    watch.start();
    for (auto _ : state) {
        if (!check(state, round_trip(i), i, "round trip")) {
            break;
        }
        ++i;
    }
    watch.stop();
    report_per(state, watch, 1, "ns_per_round_trip");
}

void bm_roundtrip_weft(benchmark::State& state) {
    weft::executor ex{options_for(state)};
    if (!make_executor_ok(state, ex)) {
        return;
    }
    drive_round_trips(state,
                      [&ex](std::int64_t i) { return weft::async(ex, [i] { return i; }).get(); });
}

std::int64_t worker_round_trips(weft::executor& ex) {
    std::int64_t sum = 0;
    for (std::int64_t i = 0; i < k_worker_round_trips; ++i) {
        sum += weft::async(ex, [i] { return i; }).get();
    }
    return sum;
}

void bm_roundtrip_weft_worker(benchmark::State& state) {
    state.SetLabel(std::to_string(k_worker_round_trips) + " round trips inside one task");
    weft::executor ex{options_for(state)};
    if (!make_executor_ok(state, ex)) {
        return;
    }
    // One task runs k_worker_round_trips round trips; their sum says each returned its i.
    auto batch = [&ex] { return weft::async(ex, worker_round_trips, std::ref(ex)).get(); };
    const std::int64_t want = k_worker_round_trips * (k_worker_round_trips - 1) / 2;
    if (!check(state, batch(), want, "warm-up batch")) {
        return;
    }
    stopwatch watch;
    for (auto _ : state) {
        watch.start();
        const std::int64_t got = batch();
        watch.stop();
        if (!check(state, got, want, "sum of a batch")) {
            break;
        }
    }
    report_per(state, watch, k_worker_round_trips, "ns_per_round_trip");
}

void bm_roundtrip_weft_task_group(benchmark::State& state) {
    weft::executor ex{options_for(state)};
    if (!make_executor_ok(state, ex)) {
        return;
    }
    drive_round_trips(state, [&ex](std::int64_t i) {
        std::int64_t result = -1;
        weft::task_group g{ex};
        g.run([&result, i] { result = i; });
        g.wait();
        return result;
    });
}

void bm_roundtrip_mutex_pool(benchmark::State& state) {
    weft_bench::mutex_pool pool(static_cast<std::size_t>(state.range(0)));
    drive_round_trips(state, [&pool](std::int64_t i) {
        // shared: the task may still be inside set_value when get() returns.
        auto p = std::make_shared<std::promise<std::int64_t>>();
        auto f = p->get_future();
        pool.submit([p, i] { p->set_value(i); });
        return f.get();
    });
}

void bm_roundtrip_std_async(benchmark::State& state) {
    state.SetLabel("a new thread per round trip");
    drive_round_trips(state, [](std::int64_t i) {
        return std::async(std::launch::async, [i] { return i; }).get();
    });
}

}  // namespace

int main(int argc, char** argv) {
    const auto workers = weft_bench::take_worker_counts(argc, argv);
    g_depth = static_cast<int>(weft_bench::take_int_flag(argc, argv, "depth", 18));
    g_async_depth = static_cast<int>(weft_bench::take_int_flag(argc, argv, "async_depth", 12));
    g_links = weft_bench::take_int_flag(argc, argv, "links", 100'000);
    if (g_depth > 40 || g_async_depth > 16) {
        std::cerr << "--depth wants at most 40, --async_depth at most 16\n";
        return 2;
    }

    const auto ms = benchmark::kMillisecond;
    const auto us = benchmark::kMicrosecond;
    register_sweep("future_tree/weft_async_get", bm_tree_weft_async_get, workers)->Unit(ms);
    register_sweep("future_tree/weft_when_all", bm_tree_weft_when_all, workers)->Unit(ms);
    register_sweep("future_tree/weft_task_group", bm_tree_weft_task_group, workers)->Unit(ms);
#ifdef WEFT_BENCH_HAVE_TBB
    register_sweep("future_tree/tbb", bm_tree_tbb, workers)->Unit(ms);
#endif
    const std::string async_name = "future_tree/std_async_depth" + std::to_string(g_async_depth);
    benchmark::RegisterBenchmark(async_name.c_str(), bm_tree_std_async)->UseRealTime()->Unit(ms);

    register_sweep("future_chain/weft_then", bm_chain_weft<false>, workers)->Unit(ms);
    register_sweep("future_chain/weft_then_inline", bm_chain_weft<true>, workers)->Unit(ms);
    register_sweep("future_chain/mutex_pool", bm_chain_mutex_pool, workers)->Unit(ms);

    register_sweep("future_roundtrip/weft_async_get", bm_roundtrip_weft, workers)->Unit(us);
    register_sweep("future_roundtrip/weft_async_get_worker", bm_roundtrip_weft_worker, workers)
        ->Unit(us);
    register_sweep("future_roundtrip/weft_task_group", bm_roundtrip_weft_task_group, workers)
        ->Unit(us);
    register_sweep("future_roundtrip/mutex_pool", bm_roundtrip_mutex_pool, workers)->Unit(us);
    benchmark::RegisterBenchmark("future_roundtrip/std_async", bm_roundtrip_std_async)
        ->UseRealTime()
        ->Unit(us);
    return weft_bench::run_benchmarks(argc, argv);
}
