// The Python-style facade against the pools people write by hand: every task's result
// comes back through a future, as `pool.submit(fn).result()` promises.
//
//   weft_pool    weft::thread_pool_executor{workers}: submit + result, map
//   weft_async   weft::executor{workers}: weft::async + get (the core's futures)
//   future_pool  bench/peers/future_pool.hpp: mutex+condvar pool, submit -> std::future
//   std_async    std::async(std::launch::async) + get — a new thread per task
//
// Families (each iteration checks its answer; a wrong one is an error, not a number):
//   pool_roundtrip  one submit, then wait for its result, from the benchmark thread on a
//                   warm pool; time per iteration = latency. The task returns the
//                   iteration's number and the result must equal it.
//   pool_submit     --tasks= (10⁶) submits of an (almost) empty task that returns its
//                   index, keeping every future; then every result is read and summed.
//                   std_async runs --async_tasks= (10⁴). Counter ns_per_task.
//   pool_map        --map_items= (10⁵) calls of x -> 2x + 1 over a vector, results read
//                   in input order and summed (weft_pool: pool.map; the others: submit
//                   all, then get in order). std_async runs --async_tasks=. ns_per_task.
//
// The futures and their states are created and destroyed inside the timed region for
// every peer alike. Flags: --tasks= --map_items= --async_tasks= --workers=LIST.
#include "bench_support.hpp"
#include "peers/future_pool.hpp"

#include <weft/thread_pool_executor.hpp>
#include <weft/weft.hpp>

#include <cstdint>
#include <future>
#include <numeric>
#include <string>
#include <vector>

namespace {

std::int64_t g_tasks = 1'000'000;
std::int64_t g_map_items = 100'000;
std::int64_t g_async_tasks = 10'000;

constexpr std::int64_t k_warmup = 1000;

using workers_t = decltype(weft::executor_options{}.workers);

std::int64_t map_fn(std::int64_t x) noexcept {
    return 2 * x + 1;
}

// Sum of 0..n-1, and of 2x+1 over 0..n-1.
constexpr std::int64_t index_sum(std::int64_t n) {
    return n * (n - 1) / 2;
}
constexpr std::int64_t map_sum(std::int64_t n) {
    return n * n;
}

// Each peer, seen through three operations on a warm instance:
//   submit(fn) -> a future whose .get() (or .result()) returns fn()'s value
//   map(items) -> the sum of map_fn over items, read in input order
struct weft_pool_peer {
    using future_type = weft::future<std::int64_t>;
    weft::thread_pool_executor pool;
    explicit weft_pool_peer(int workers) : pool{workers} {}
    bool ready(int workers) const { return pool.max_workers() == workers; }
    template <class F>
    auto submit(F f) {
        return pool.submit(std::move(f));
    }
    template <class Future>
    static std::int64_t get(const Future& f) {
        return f.result();
    }
    std::int64_t map(const std::vector<std::int64_t>& items) {
        std::int64_t sum = 0;
        for (const std::int64_t v : pool.map(map_fn, items)) sum += v;
        return sum;
    }
};

struct weft_async_peer {
    using future_type = weft::future<std::int64_t>;
    weft::executor ex;
    explicit weft_async_peer(int workers)
        : ex{weft::executor_options{.workers = static_cast<workers_t>(workers)}} {}
    bool ready(int workers) const { return ex.worker_count() == static_cast<std::size_t>(workers); }
    template <class F>
    auto submit(F f) {
        return weft::async(ex, std::move(f));
    }
    template <class Future>
    static std::int64_t get(const Future& f) {
        return f.get();
    }
};

struct future_pool_peer {
    using future_type = std::future<std::int64_t>;
    weft_bench::future_pool pool;
    explicit future_pool_peer(int workers) : pool{static_cast<std::size_t>(workers)} {}
    bool ready(int workers) const {
        return pool.worker_count() == static_cast<std::size_t>(workers);
    }
    template <class F>
    auto submit(F f) {
        return pool.submit(std::move(f));
    }
    template <class Future>
    static std::int64_t get(Future& f) {
        return f.get();
    }
};

struct std_async_peer {
    using future_type = std::future<std::int64_t>;
    template <class F>
    static auto submit(F f) {
        return std::async(std::launch::async, std::move(f));
    }
    template <class Future>
    static std::int64_t get(Future& f) {
        return f.get();
    }
};

template <class Peer>
std::int64_t round_trip(Peer& peer, std::int64_t i) {
    auto f = peer.submit([i] { return i; });
    return Peer::get(f);
}

template <class Peer>
bool round_trips(benchmark::State& state, Peer& peer) {
    std::int64_t i = 0;
    for (; i < k_warmup; ++i) {
        if (round_trip(peer, i) != i) {
            state.SkipWithError("wrong result during warm-up");
            return false;
        }
    }
    for (auto _ : state) {
        if (round_trip(peer, i) != i) {
            state.SkipWithError("round trip returned a wrong or stale result");
            return false;
        }
        ++i;
    }
    return true;
}

// Submits `n` index-returning tasks, keeping the futures in `futures` (its capacity is
// reused across rounds), then sums every result; destroys the futures before returning.
template <class Peer, class Future>
std::int64_t submit_round(Peer& peer, std::vector<Future>& futures, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) futures.push_back(peer.submit([i] { return i; }));
    std::int64_t sum = 0;
    for (auto& f : futures) sum += Peer::get(f);
    futures.clear();
    return sum;
}

// Generic map: submit a call per item, then get the results in input order.
template <class Peer, class Future>
std::int64_t map_by_submit(Peer& peer, std::vector<Future>& futures,
                           const std::vector<std::int64_t>& items) {
    for (const std::int64_t x : items) futures.push_back(peer.submit([x] { return map_fn(x); }));
    std::int64_t sum = 0;
    for (auto& f : futures) sum += Peer::get(f);
    futures.clear();
    return sum;
}

template <class Peer>
constexpr bool has_map = requires(Peer& p, const std::vector<std::int64_t>& v) {
    p.map(v);
};

template <class Peer>
using future_of = typename Peer::future_type;

// Runs `round(n)` once untimed with k_warmup tasks, then once per iteration with `n`;
// each must return `expected(n)`. Sets ns_per_task.
template <class Round, class Expected>
void drive_rounds(benchmark::State& state, std::int64_t n, Round round, Expected expected) {
    if (round(std::min(n, k_warmup)) != expected(std::min(n, k_warmup))) {
        state.SkipWithError("wrong result during warm-up");
        return;
    }
    weft_bench::stopwatch watch;
    for (auto _ : state) {
        watch.start();
        const std::int64_t got = round(n);
        watch.stop();
        if (got != expected(n)) {
            state.SkipWithError("sum of the results differs from the expected sum");
            return;
        }
    }
    weft_bench::report_per_task(state, watch, n);
}

template <class Peer>
void bm_roundtrip(benchmark::State& state) {
    const auto workers = static_cast<int>(state.range(0));
    Peer peer{workers};
    if (!peer.ready(workers)) {
        state.SkipWithError("the pool does not have the requested number of workers");
        return;
    }
    round_trips(state, peer);
}

void bm_roundtrip_std_async(benchmark::State& state) {
    state.SetLabel("a new thread per round trip");
    std_async_peer peer;
    round_trips(state, peer);
}

template <class Peer>
void bm_submit(benchmark::State& state) {
    const auto workers = static_cast<int>(state.range(0));
    Peer peer{workers};
    if (!peer.ready(workers)) {
        state.SkipWithError("the pool does not have the requested number of workers");
        return;
    }
    std::vector<future_of<Peer>> futures;
    futures.reserve(static_cast<std::size_t>(g_tasks));
    drive_rounds(
        state, g_tasks, [&](std::int64_t n) { return submit_round(peer, futures, n); }, index_sum);
}

void bm_submit_std_async(benchmark::State& state) {
    state.SetLabel(std::to_string(g_async_tasks) + " tasks, one thread each");
    std_async_peer peer;
    std::vector<future_of<std_async_peer>> futures;
    drive_rounds(
        state, g_async_tasks, [&](std::int64_t n) { return submit_round(peer, futures, n); },
        index_sum);
}

std::vector<std::int64_t> iota_items(std::int64_t n) {
    std::vector<std::int64_t> items(static_cast<std::size_t>(n));
    std::iota(items.begin(), items.end(), std::int64_t{0});
    return items;
}

template <class Peer>
void bm_map(benchmark::State& state) {
    const auto workers = static_cast<int>(state.range(0));
    Peer peer{workers};
    if (!peer.ready(workers)) {
        state.SkipWithError("the pool does not have the requested number of workers");
        return;
    }
    const std::vector<std::int64_t> all = iota_items(g_map_items);
    const std::vector<std::int64_t> warm = iota_items(std::min(g_map_items, k_warmup));
    std::vector<future_of<Peer>> futures;
    futures.reserve(all.size());
    drive_rounds(
        state, g_map_items,
        [&](std::int64_t n) {
            const auto& items = n == g_map_items ? all : warm;
            if constexpr (has_map<Peer>) {
                return peer.map(items);
            } else {
                return map_by_submit(peer, futures, items);
            }
        },
        map_sum);
}

void bm_map_std_async(benchmark::State& state) {
    state.SetLabel(std::to_string(g_async_tasks) + " items, one thread each");
    std_async_peer peer;
    const std::vector<std::int64_t> all = iota_items(g_async_tasks);
    const std::vector<std::int64_t> warm = iota_items(std::min(g_async_tasks, k_warmup));
    std::vector<future_of<std_async_peer>> futures;
    drive_rounds(
        state, g_async_tasks,
        [&](std::int64_t n) {
            return map_by_submit(peer, futures, n == g_async_tasks ? all : warm);
        },
        map_sum);
}

}  // namespace

int main(int argc, char** argv) {
    const auto workers = weft_bench::take_worker_counts(argc, argv);
    g_tasks = weft_bench::take_int_flag(argc, argv, "tasks", g_tasks);
    g_map_items = weft_bench::take_int_flag(argc, argv, "map_items", g_map_items);
    g_async_tasks = weft_bench::take_int_flag(argc, argv, "async_tasks", g_async_tasks);
    if (g_tasks < 1 || g_map_items < 1 || g_async_tasks < 1) {
        std::cerr << "--tasks, --map_items and --async_tasks want at least 1\n";
        return 2;
    }

    const auto us = benchmark::kMicrosecond;
    const auto ms = benchmark::kMillisecond;
    using weft_bench::register_sweep;
    register_sweep("pool_roundtrip/weft_pool", bm_roundtrip<weft_pool_peer>, workers)->Unit(us);
    register_sweep("pool_roundtrip/weft_async", bm_roundtrip<weft_async_peer>, workers)->Unit(us);
    register_sweep("pool_roundtrip/future_pool", bm_roundtrip<future_pool_peer>, workers)->Unit(us);
    benchmark::RegisterBenchmark("pool_roundtrip/std_async", bm_roundtrip_std_async)
        ->UseRealTime()
        ->Unit(us);

    register_sweep("pool_submit/weft_pool", bm_submit<weft_pool_peer>, workers)->Unit(ms);
    register_sweep("pool_submit/weft_async", bm_submit<weft_async_peer>, workers)->Unit(ms);
    register_sweep("pool_submit/future_pool", bm_submit<future_pool_peer>, workers)->Unit(ms);
    benchmark::RegisterBenchmark("pool_submit/std_async", bm_submit_std_async)
        ->UseRealTime()
        ->Unit(ms);

    register_sweep("pool_map/weft_pool", bm_map<weft_pool_peer>, workers)->Unit(ms);
    register_sweep("pool_map/weft_async", bm_map<weft_async_peer>, workers)->Unit(ms);
    register_sweep("pool_map/future_pool", bm_map<future_pool_peer>, workers)->Unit(ms);
    benchmark::RegisterBenchmark("pool_map/std_async", bm_map_std_async)->UseRealTime()->Unit(ms);
    return weft_bench::run_benchmarks(argc, argv);
}
