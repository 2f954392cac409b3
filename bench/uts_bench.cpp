// Unbalanced tree search: count the nodes of a random tree that only exists as it is
// explored, after UTS (Olivier et al., "UTS: An Unbalanced Tree Search Benchmark",
// LCPC 2006).
//
// The tree is binomial, like UTS's T3: the root has `--root_children=` (2000) children;
// every other node has `--m=` (8) children with probability `--q_ppm=` / 10^6
// (0.124875), else none. m·q = 0.999 < 1, so the tree is finite, but each root child's
// subtree size is heavy-tailed: most are a handful of nodes, a few are hundreds of
// thousands, reached through chains hundreds of levels deep. No static split balances
// it; only stealing does. The defaults (`--seed=11`) give 1,986,225 nodes, 760 levels.
//
// A node is its 64-bit state. Visiting it is `--work=` (8) rounds of splitmix64 on the
// state (UTS hashes with SHA-1; this is the "little work per node"). The result decides
// the number of children, and child i's state is splitmix64 of the result and i, so the
// tree is the same on every run and every thread, and the work cannot be skipped.
//
//   serial  plain recursion (a reference: one thread, no tasks)
//   weft    fork-join, one weft::task_group per inner node: run() every child but the
//           last, visit the last in place, wait(); the root runs on a worker
//   tbb     the same with tbb::task_group inside task_arena::execute
// The thread counts follow fib_bench: TBB's arena counts the benchmark thread, weft runs
// `workers` threads while the benchmark thread waits.
//
// Each iteration's node count is compared with the serial count computed at start-up; a
// mismatch is an error. The counter `ns_per_node` is wall time / nodes.
#include "bench_support.hpp"

#include <weft/weft.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#ifdef WEFT_BENCH_HAVE_TBB
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>
#endif

namespace {

using weft_bench::register_sweep;
using weft_bench::stopwatch;

constexpr int k_max_m = 16;  // children of a non-root node, at most
constexpr std::int64_t k_warmup_root_children = 20;
constexpr std::int64_t k_ppm = 1'000'000;

/// What the tree looks like; the same tree for the same values.
struct tree_shape {
    int root_children = 2000;
    int m = 8;
    std::uint64_t q_threshold = 0;  // a node has children when the hash's top 24 bits are below
    int work = 8;
    std::uint64_t seed = 11;
};

struct tree_stats {
    std::int64_t nodes = 0;
    std::int64_t depth = 0;
};

tree_shape g_shape;
tree_shape g_warmup_shape;
std::int64_t g_expected = 0;
std::int64_t g_warmup_expected = 0;

constexpr std::uint64_t splitmix64(std::uint64_t x) noexcept {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30U)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27U)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31U);
}

/// A visited node: its hash after the work, and how many children it has.
struct node {
    std::uint64_t hash;
    int children;
};

node expand(const tree_shape& t, std::uint64_t state, bool root) noexcept {
    for (int k = 0; k < t.work; ++k) {
        state = splitmix64(state);
    }
    const bool fertile = (state >> 40U) < t.q_threshold;
    return {state, root ? t.root_children : (fertile ? t.m : 0)};
}

constexpr std::uint64_t child_state(std::uint64_t hash, int i) noexcept {
    return splitmix64(hash + 0x632be59bd9b4e019ULL * static_cast<std::uint64_t>(i + 1));
}

/// One slot per child for the subtree counts: inline for up to k_max_m, else (the root)
/// on the heap.
class child_counts {
public:
    explicit child_counts(int n) {
        if (n > k_max_m) {
            m_heap.resize(static_cast<std::size_t>(n));
        }
        m_slots = m_heap.empty() ? m_inline.data() : m_heap.data();
        m_size = n;
    }

    std::int64_t& operator[](int i) noexcept { return m_slots[i]; }

    [[nodiscard]] std::int64_t sum() const noexcept {
        return std::accumulate(m_slots, m_slots + m_size, std::int64_t{0});
    }

private:
    std::array<std::int64_t, k_max_m> m_inline{};
    std::vector<std::int64_t> m_heap;
    std::int64_t* m_slots = nullptr;
    int m_size = 0;
};

bool check(benchmark::State& state, std::int64_t got, std::int64_t want) {
    if (got == want) {
        return true;
    }
    state.SkipWithError(
        ("wrong answer: " + std::to_string(got) + " nodes, want " + std::to_string(want)).c_str());
    return false;
}

/// Runs `count(shape)` once untimed on the warm-up tree, then once per iteration on the
/// full tree, checking each count; sets ns_per_node.
template <class Count>
void drive(benchmark::State& state, Count count) {
    if (!check(state, count(g_warmup_shape), g_warmup_expected)) {
        return;
    }
    stopwatch watch;
    for (auto _ : state) {
        watch.start();
        const std::int64_t nodes = count(g_shape);
        watch.stop();
        if (!check(state, nodes, g_expected)) {
            break;
        }
    }
    const auto nodes = static_cast<std::int64_t>(state.iterations()) * g_expected;
    if (nodes > 0) {
        state.counters["ns_per_node"] = watch.ns() / static_cast<double>(nodes);
        state.SetItemsProcessed(nodes);
    }
}

// --- serial ----------------------------------------------------------------------------

tree_stats stats_serial(const tree_shape& t, std::uint64_t state, bool root, std::int64_t depth) {
    const node n = expand(t, state, root);
    tree_stats s{1, depth};
    for (int i = 0; i < n.children; ++i) {
        const tree_stats c = stats_serial(t, child_state(n.hash, i), false, depth + 1);
        s.nodes += c.nodes;
        s.depth = std::max(s.depth, c.depth);
    }
    return s;
}

std::int64_t count_serial(const tree_shape& t, std::uint64_t state, bool root) {
    const node n = expand(t, state, root);
    std::int64_t nodes = 1;
    for (int i = 0; i < n.children; ++i) {
        nodes += count_serial(t, child_state(n.hash, i), false);
    }
    return nodes;
}

void bm_serial(benchmark::State& state) {
    state.SetLabel("reference: one thread, no tasks");
    drive(state, [](const tree_shape& t) { return count_serial(t, t.seed, true); });
}

// --- weft ------------------------------------------------------------------------------

std::int64_t count_weft(weft::executor& ex, const tree_shape& t, std::uint64_t state, bool root) {
    const node n = expand(t, state, root);
    if (n.children == 0) {
        return 1;
    }
    child_counts counts(n.children);
    weft::task_group g{ex};
    const int last = n.children - 1;
    for (int i = 0; i < last; ++i) {
        g.run([&ex, &t, &counts, i, h = n.hash] {
            counts[i] = count_weft(ex, t, child_state(h, i), false);
        });
    }
    counts[last] = count_weft(ex, t, child_state(n.hash, last), false);
    g.wait();
    return 1 + counts.sum();
}

void bm_weft(benchmark::State& state) {
    using workers_t = decltype(weft::executor_options{}.workers);
    weft::executor ex{weft::executor_options{.workers = static_cast<workers_t>(state.range(0))}};
    if (ex.worker_count() != static_cast<std::size_t>(state.range(0))) {
        state.SkipWithError("executor did not start the requested number of workers");
        return;
    }
    // The root runs on a worker; the benchmark thread only waits.
    drive(state, [&ex](const tree_shape& t) {
        std::int64_t nodes = 0;
        weft::task_group root{ex};
        root.run([&] { nodes = count_weft(ex, t, t.seed, true); });
        root.wait();
        return nodes;
    });
}

// --- oneTBB ----------------------------------------------------------------------------

#ifdef WEFT_BENCH_HAVE_TBB
std::int64_t count_tbb(const tree_shape& t, std::uint64_t state, bool root) {
    const node n = expand(t, state, root);
    if (n.children == 0) {
        return 1;
    }
    child_counts counts(n.children);
    tbb::task_group g;
    const int last = n.children - 1;
    for (int i = 0; i < last; ++i) {
        g.run([&t, &counts, i, h = n.hash] { counts[i] = count_tbb(t, child_state(h, i), false); });
    }
    counts[last] = count_tbb(t, child_state(n.hash, last), false);
    g.wait();
    return 1 + counts.sum();
}

void bm_tbb(benchmark::State& state) {
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
    drive(state, [&arena](const tree_shape& t) {
        std::int64_t nodes = 0;
        arena.execute([&] { nodes = count_tbb(t, t.seed, true); });
        return nodes;
    });
}
#endif

/// Reads the shape flags; exits with a message when the tree could be infinite.
tree_shape take_shape(int& argc, char** argv) {
    using weft_bench::take_int_flag;
    tree_shape t;
    t.root_children = static_cast<int>(take_int_flag(argc, argv, "root_children", 2000));
    t.m = static_cast<int>(take_int_flag(argc, argv, "m", 8));
    const std::int64_t q_ppm = take_int_flag(argc, argv, "q_ppm", 124'875);
    t.work = static_cast<int>(take_int_flag(argc, argv, "work", 8));
    t.seed = static_cast<std::uint64_t>(take_int_flag(argc, argv, "seed", 11));
    if (t.root_children > 1'000'000 || t.m > k_max_m || t.work > 1'000'000 ||
        std::int64_t{t.m} * q_ppm >= k_ppm) {
        std::cerr << "wants --root_children <= 10^6, --m <= " << k_max_m
                  << ", --work <= 10^6 and m * q_ppm < 10^6 (a finite tree)\n";
        std::exit(2);
    }
    t.q_threshold = (static_cast<std::uint64_t>(q_ppm) << 24U) / k_ppm;
    return t;
}

}  // namespace

int main(int argc, char** argv) {
    const auto workers = weft_bench::take_worker_counts(argc, argv);
    g_shape = take_shape(argc, argv);
    g_warmup_shape = g_shape;
    g_warmup_shape.root_children =
        static_cast<int>(std::min<std::int64_t>(k_warmup_root_children, g_shape.root_children));

    const tree_stats stats = stats_serial(g_shape, g_shape.seed, true, 0);
    g_expected = stats.nodes;
    g_warmup_expected = count_serial(g_warmup_shape, g_warmup_shape.seed, true);
    benchmark::AddCustomContext("uts_nodes", std::to_string(stats.nodes));
    benchmark::AddCustomContext("uts_depth", std::to_string(stats.depth));

    const auto ms = benchmark::kMillisecond;
    benchmark::RegisterBenchmark("uts/serial", bm_serial)->UseRealTime()->Unit(ms);
    register_sweep("uts/weft", bm_weft, workers)->Unit(ms);
#ifdef WEFT_BENCH_HAVE_TBB
    register_sweep("uts/tbb", bm_tbb, workers)->Unit(ms);
#endif
    return weft_bench::run_benchmarks(argc, argv);
}
