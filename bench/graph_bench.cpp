// Task graphs: what running (and building) a DAG of tiny tasks costs, weft::task_graph
// against oneTBB's flow graph (tbb::flow::graph of continue_node<continue_msg>).
//
// Every node's body is the same on both sides: `++slot[i]`, a plain increment of the
// node's own 32-bit slot. After every run each slot must equal the number of runs so far
// (every node ran exactly once per run); a wrong count is an error (SkipWithError).
//
// Shapes (sizes from the flags; the defaults are issue 10's):
//   graph_chain      a chain of --chain=65536 nodes: node i precedes node i + 1
//   graph_fan        one source -> --fan=16384 middle nodes -> one sink (fan + 2 nodes)
//   graph_wavefront  a --wave=128 x 128 grid: node (i, j) precedes (i + 1, j) and
//                    (i, j + 1); (0, 0) is the one source
//   graph_tree       a binary tree of --tree=65536 nodes in heap order: node p precedes
//                    2p + 1 and 2p + 2 (when they exist)
//   graph_build      building a binary tree of --build=65536 nodes (the graph object, the
//                    nodes and the edges, as graph_tree's shape) — no run
//
// For chain, fan, wavefront and tree the graph is built once, before the timed loop,
// and run once untimed (checked); one iteration is one run of the whole graph:
//   weft   g.run(ex).get() from the benchmark thread, which only waits; `workers`
//          worker threads run the nodes
//   tbb    inside task_arena(workers).execute: try_put(continue_msg{}) to each source,
//          then g.wait_for_all(); the graph was constructed inside the same arena, so
//          it runs there. As in fib_bench, the benchmark thread fills one of the arena's
//          `workers` slots and global_control allows `workers` threads in all.
// The counter `ns_per_graph_node` is the wall time of the runs alone (the check after
// each run is outside it) divided by runs x nodes; items_per_second counts nodes.
//
// graph_build: one iteration builds a fresh graph: the graph object, the nodes (each
// handle kept: weft's in a reserved std::vector<weft::node>, TBB's nodes themselves in
// a std::deque) and the edges (weft: a.precede(b); TBB: make_edge(a, b)), both from the
// same precomputed edge list. `ns_per_graph_node` is the build time alone / nodes;
// destroying the graph is timed apart (`destroy_ns_per_graph_node`, not in the table).
// TBB builds inside its task_arena, as for the runs. Each iteration checks the node
// count (and, for weft, the root's successors); the first graph is also run once and
// its slots checked.
#include "bench_support.hpp"

#include <weft/task_graph.hpp>
#include <weft/weft.hpp>

#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#ifdef WEFT_BENCH_HAVE_TBB
#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#endif

namespace {

using weft_bench::register_sweep;
using weft_bench::stopwatch;

std::int64_t g_chain = 65536;
std::int64_t g_fan = 16384;
std::int64_t g_wave = 128;
std::int64_t g_tree = 65536;
std::int64_t g_build = 65536;

/// A DAG as an edge list over nodes 0 .. nodes - 1, with the nodes that have no
/// predecessor (the ones TBB must be triggered through).
struct shape {
    std::int32_t nodes = 0;
    std::vector<std::pair<std::int32_t, std::int32_t>> edges;
    std::vector<std::int32_t> sources;
};

shape chain_shape(std::int64_t n) {
    shape s;
    s.nodes = static_cast<std::int32_t>(n);
    for (std::int32_t i = 0; i + 1 < s.nodes; ++i) {
        s.edges.emplace_back(i, i + 1);
    }
    s.sources = {0};
    return s;
}

shape fan_shape(std::int64_t middle) {
    shape s;
    const auto m = static_cast<std::int32_t>(middle);
    s.nodes = m + 2;  // 0: source, 1 .. m: middle, m + 1: sink
    for (std::int32_t i = 1; i <= m; ++i) {
        s.edges.emplace_back(0, i);
    }
    for (std::int32_t i = 1; i <= m; ++i) {
        s.edges.emplace_back(i, m + 1);
    }
    if (m == 0) {
        s.edges.emplace_back(0, 1);
    }
    s.sources = {0};
    return s;
}

shape wavefront_shape(std::int64_t side) {
    shape s;
    const auto w = static_cast<std::int32_t>(side);
    s.nodes = w * w;
    for (std::int32_t i = 0; i < w; ++i) {
        for (std::int32_t j = 0; j < w; ++j) {
            const std::int32_t id = i * w + j;
            if (i + 1 < w) {
                s.edges.emplace_back(id, id + w);
            }
            if (j + 1 < w) {
                s.edges.emplace_back(id, id + 1);
            }
        }
    }
    s.sources = {0};
    return s;
}

shape tree_shape(std::int64_t n) {
    shape s;
    s.nodes = static_cast<std::int32_t>(n);
    for (std::int32_t p = 0; p < s.nodes; ++p) {
        for (std::int32_t c = 2 * p + 1; c <= 2 * p + 2 && c < s.nodes; ++c) {
            s.edges.emplace_back(p, c);
        }
    }
    s.sources = {0};
    return s;
}

/// Every node's slot must equal `runs`; otherwise reports which one did not.
bool check_slots(benchmark::State& state, const std::vector<std::uint32_t>& slots,
                 std::uint32_t runs) {
    for (std::size_t i = 0; i < slots.size(); ++i) {
        if (slots[i] != runs) {
            state.SkipWithError(("wrong answer: node " + std::to_string(i) + " ran " +
                                 std::to_string(slots[i]) + " times in " + std::to_string(runs) +
                                 " runs")
                                    .c_str());
            return false;
        }
    }
    return true;
}

void report_per_node(benchmark::State& state, const stopwatch& watch, std::int64_t nodes,
                     const char* name = "ns_per_graph_node", bool items = true) {
    const auto total = static_cast<std::int64_t>(state.iterations()) * nodes;
    if (total > 0) {
        state.counters[name] = watch.ns() / static_cast<double>(total);
        if (items) {
            state.SetItemsProcessed(total);
        }
    }
}

void skip_on_exception(benchmark::State& state, const char* where) {
    try {
        throw;
    } catch (const std::exception& e) {
        state.SkipWithError((std::string{where} + " threw: " + e.what()).c_str());
    } catch (...) {
        state.SkipWithError((std::string{where} + " threw a non-std exception").c_str());
    }
}

// --- weft --------------------------------------------------------------------------------

weft::executor_options options_for(benchmark::State& state) {
    using workers_t = decltype(weft::executor_options{}.workers);
    return weft::executor_options{.workers = static_cast<workers_t>(state.range(0))};
}

bool executor_ok(benchmark::State& state, const weft::executor& ex) {
    if (ex.worker_count() == static_cast<std::size_t>(state.range(0))) {
        return true;
    }
    state.SkipWithError("executor did not start the requested number of workers");
    return false;
}

/// Adds `s`'s nodes (body: ++slots[i]) and edges to `g`; handles land in `out`.
void build_weft(weft::task_graph& g, const shape& s, std::vector<std::uint32_t>& slots,
                std::vector<weft::node>& out) {
    out.reserve(static_cast<std::size_t>(s.nodes));
    std::uint32_t* slot = slots.data();
    for (std::int32_t i = 0; i < s.nodes; ++i) {
        out.push_back(g.emplace([p = slot + i] { ++*p; }));
    }
    for (const auto& [from, to] : s.edges) {
        out[static_cast<std::size_t>(from)].precede(out[static_cast<std::size_t>(to)]);
    }
}

void bm_run_weft(benchmark::State& state, const shape* s) {
    try {
        weft::executor ex{options_for(state)};
        if (!executor_ok(state, ex)) {
            return;
        }
        std::vector<std::uint32_t> slots(static_cast<std::size_t>(s->nodes), 0);
        weft::task_graph g{"bench"};
        std::vector<weft::node> handles;
        build_weft(g, *s, slots, handles);
        std::uint32_t runs = 0;
        g.run(ex).get();  // warm-up, checked
        if (!check_slots(state, slots, ++runs)) {
            return;
        }
        stopwatch watch;
        for (auto _ : state) {
            watch.start();
            g.run(ex).get();
            watch.stop();
            if (!check_slots(state, slots, ++runs)) {
                break;
            }
        }
        report_per_node(state, watch, s->nodes);
    } catch (...) {
        skip_on_exception(state, "weft task_graph");
    }
}

void bm_build_weft(benchmark::State& state, const shape* s) {
    try {
        weft::executor ex{options_for(state)};  // idle, as TBB's arena is while building
        if (!executor_ok(state, ex)) {
            return;
        }
        std::vector<std::uint32_t> slots(static_cast<std::size_t>(s->nodes), 0);
        {  // the first graph is run once: the build makes the graph it should
            weft::task_graph g;
            std::vector<weft::node> handles;
            build_weft(g, *s, slots, handles);
            g.run(ex).get();
            if (!check_slots(state, slots, 1)) {
                return;
            }
        }
        const std::size_t root_successors =
            s->nodes > 2 ? 2 : static_cast<std::size_t>(s->nodes - 1);
        stopwatch build;
        stopwatch destroy;
        for (auto _ : state) {
            build.start();
            auto g = std::make_unique<weft::task_graph>();
            std::vector<weft::node> handles;
            build_weft(*g, *s, slots, handles);
            build.stop();
            if (g->size() != static_cast<std::size_t>(s->nodes) ||
                (s->nodes > 0 && handles[0].num_successors() != root_successors)) {
                state.SkipWithError("wrong answer: the built graph has the wrong size or root");
                break;
            }
            destroy.start();
            g.reset();
            destroy.stop();
        }
        report_per_node(state, build, s->nodes);
        report_per_node(state, destroy, s->nodes, "destroy_ns_per_graph_node", false);
    } catch (...) {
        skip_on_exception(state, "weft task_graph");
    }
}

// --- oneTBB flow graph -------------------------------------------------------------------

#ifdef WEFT_BENCH_HAVE_TBB
using tbb_node = tbb::flow::continue_node<tbb::flow::continue_msg>;

/// A flow graph and its nodes; the nodes are destroyed first, as TBB requires.
struct tbb_graph {
    tbb::flow::graph g;
    std::deque<tbb_node> nodes;
};

std::unique_ptr<tbb_graph> build_tbb(const shape& s, std::vector<std::uint32_t>& slots) {
    auto h = std::make_unique<tbb_graph>();
    std::uint32_t* slot = slots.data();
    for (std::int32_t i = 0; i < s.nodes; ++i) {
        h->nodes.emplace_back(h->g, [p = slot + i](const tbb::flow::continue_msg&) { ++*p; });
    }
    for (const auto& [from, to] : s.edges) {
        tbb::flow::make_edge(h->nodes[static_cast<std::size_t>(from)],
                             h->nodes[static_cast<std::size_t>(to)]);
    }
    return h;
}

void run_tbb(tbb_graph& h, const shape& s) {
    for (const std::int32_t src : s.sources) {
        h.nodes[static_cast<std::size_t>(src)].try_put(tbb::flow::continue_msg{});
    }
    h.g.wait_for_all();
}

/// global_control + task_arena(workers), as fib_bench's peer; false (and skipped) if the
/// arena did not take the concurrency.
bool arena_ok(benchmark::State& state, tbb::task_arena& arena) {
    arena.initialize();
    if (arena.max_concurrency() == static_cast<int>(state.range(0))) {
        return true;
    }
    state.SkipWithError("task_arena did not take the requested concurrency");
    return false;
}

void bm_run_tbb(benchmark::State& state, const shape* s) {
    const auto workers = static_cast<int>(state.range(0));
    const tbb::global_control allow(tbb::global_control::max_allowed_parallelism,
                                    static_cast<std::size_t>(workers));
    tbb::task_arena arena(workers);  // the benchmark thread fills one of the slots
    if (!arena_ok(state, arena)) {
        return;
    }
    std::vector<std::uint32_t> slots(static_cast<std::size_t>(s->nodes), 0);
    std::unique_ptr<tbb_graph> h;
    arena.execute([&] { h = build_tbb(*s, slots); });  // the graph attaches to `arena`
    std::uint32_t runs = 0;
    arena.execute([&] { run_tbb(*h, *s); });  // warm-up, checked
    if (check_slots(state, slots, ++runs)) {
        stopwatch watch;
        for (auto _ : state) {
            watch.start();
            arena.execute([&] { run_tbb(*h, *s); });
            watch.stop();
            if (!check_slots(state, slots, ++runs)) {
                break;
            }
        }
        report_per_node(state, watch, s->nodes);
    }
    arena.execute([&] { h.reset(); });
}

void bm_build_tbb(benchmark::State& state, const shape* s) {
    const auto workers = static_cast<int>(state.range(0));
    const tbb::global_control allow(tbb::global_control::max_allowed_parallelism,
                                    static_cast<std::size_t>(workers));
    tbb::task_arena arena(workers);
    if (!arena_ok(state, arena)) {
        return;
    }
    std::vector<std::uint32_t> slots(static_cast<std::size_t>(s->nodes), 0);
    arena.execute([&] {  // the first graph is run once: the build makes the graph it should
        auto h = build_tbb(*s, slots);
        run_tbb(*h, *s);
    });
    if (!check_slots(state, slots, 1)) {
        return;
    }
    stopwatch build;
    stopwatch destroy;
    for (auto _ : state) {
        bool size_ok = true;
        arena.execute([&] {
            build.start();
            auto h = build_tbb(*s, slots);
            build.stop();
            size_ok = h->nodes.size() == static_cast<std::size_t>(s->nodes);
            destroy.start();
            h.reset();
            destroy.stop();
        });
        if (!size_ok) {
            state.SkipWithError("wrong answer: the built graph has the wrong size");
            break;
        }
    }
    report_per_node(state, build, s->nodes);
    report_per_node(state, destroy, s->nodes, "destroy_ns_per_graph_node", false);
}
#endif

shape g_shapes[4];  // chain, fan, wavefront, tree; graph_build's tree apart
shape g_build_shape;

}  // namespace

int main(int argc, char** argv) {
    const auto workers = weft_bench::take_worker_counts(argc, argv);
    g_chain = weft_bench::take_int_flag(argc, argv, "chain", g_chain);
    g_fan = weft_bench::take_int_flag(argc, argv, "fan", g_fan);
    g_wave = weft_bench::take_int_flag(argc, argv, "wave", g_wave);
    g_tree = weft_bench::take_int_flag(argc, argv, "tree", g_tree);
    g_build = weft_bench::take_int_flag(argc, argv, "build", g_build);
    constexpr std::int64_t k_max_nodes = std::int64_t{1} << 26;
    if (g_chain < 1 || g_tree < 1 || g_build < 1 || g_wave < 1 || g_chain > k_max_nodes ||
        g_tree > k_max_nodes || g_build > k_max_nodes || g_fan > k_max_nodes ||
        g_wave * g_wave > k_max_nodes) {
        std::cerr << "--chain, --tree, --build, --wave want 1 .. 2^26 nodes (--wave: its "
                     "square), --fan 0 .. 2^26\n";
        return 2;
    }
    g_shapes[0] = chain_shape(g_chain);
    g_shapes[1] = fan_shape(g_fan);
    g_shapes[2] = wavefront_shape(g_wave);
    g_shapes[3] = tree_shape(g_tree);
    g_build_shape = tree_shape(g_build);

    const auto us = benchmark::kMicrosecond;
    const char* families[4] = {"graph_chain", "graph_fan", "graph_wavefront", "graph_tree"};
    for (int i = 0; i < 4; ++i) {
        const std::string family = families[i];
        register_sweep(family + "/weft", bm_run_weft, workers, &g_shapes[i])->Unit(us);
#ifdef WEFT_BENCH_HAVE_TBB
        register_sweep(family + "/tbb", bm_run_tbb, workers, &g_shapes[i])->Unit(us);
#endif
    }
    register_sweep("graph_build/weft", bm_build_weft, workers, &g_build_shape)->Unit(us);
#ifdef WEFT_BENCH_HAVE_TBB
    register_sweep("graph_build/tbb", bm_build_tbb, workers, &g_build_shape)->Unit(us);
#endif
    return weft_bench::run_benchmarks(argc, argv);
}
