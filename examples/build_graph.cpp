// A build system as a task graph, built once and run three times:
//
//   clean -> fetch deps -> deps ok? --0--> deps ready -> compile unit_i (N of them) -> link
//                ^             |--1-- (retry, at most 3 attempts)         link -> tests
//                +-------------+--2--> give up (throws)
//
// "fetch deps" is flaky: it fails a given number of times before it succeeds. The
// condition node "deps ok?" sends the run back to it (a loop) until it has succeeded or
// tried 3 times. "tests" is a subflow: one test node per unit, made while the run runs.
//   run 1: the fetch fails once, the retry saves the build;
//   run 2: the fetch always fails: the run ends with the exception of "give up", and
//          nothing downstream of it (no compile, no link) runs;
//   run 3: run_n(2) with a fetch that works: the graph is reusable after a failure.
// Prints the graph in Graphviz DOT after run 1 (scripts/render_graph_pictures.sh draws
// it), then one line per run; exits 1 when a result is wrong.
//   build_graph [units=8] [workers=4]
#include <weft/weft.hpp>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

constexpr int k_max_fetch_attempts = 3;

/// What the nodes share: each field is written by one node and read by nodes after it.
struct build_state {
    explicit build_state(std::size_t units) : objects(units), test_passed(units) {}

    int fetch_failures = 0;  // the flaky fetch fails this many times, then succeeds
    int fetch_attempts = 0;  // written by "fetch deps" only; the loop orders its runs
    bool fetched = false;
    std::vector<std::uint64_t> objects;  // objects[i]: written by "compile unit_i" only
    std::uint64_t binary = 0;
    std::vector<std::uint8_t> test_passed;  // test_passed[i]: by "test unit_i" only
    std::atomic<int> compiled{0};
    std::atomic<int> tests_run{0};
};

/// The "object file" of unit i: a hash of its name and its number, as a compiler's
/// output is a function of its input.
std::uint64_t compile_unit(std::size_t i) {
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a
    const std::string source = "unit_" + std::to_string(i) + ".cpp";
    for (int round = 0; round < 1000; ++round)
        for (const char c : source) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    return h ^ i;
}

/// The "binary": the objects combined in link order.
std::uint64_t link_objects(const std::vector<std::uint64_t>& objects) {
    std::uint64_t h = 0;
    for (const std::uint64_t o : objects) h = h * 31 + o;
    return h;
}

weft::task_graph make_build_graph(build_state& s) {
    weft::task_graph g{"build"};
    const std::size_t units = s.objects.size();

    weft::node clean = g.emplace([&s] {
        s.fetch_attempts = 0;
        s.fetched = false;
        s.binary = 0;
        s.compiled = 0;
        s.tests_run = 0;
    });
    weft::node fetch = g.emplace([&s] {
        ++s.fetch_attempts;
        s.fetched = s.fetch_attempts > s.fetch_failures;  // a flaky download
    });
    weft::node deps_ok = g.emplace_condition([&s] {
        if (s.fetched) return 0;                                 // on to the compiles
        return s.fetch_attempts < k_max_fetch_attempts ? 1 : 2;  // retry, or give up
    });
    weft::node ready = g.placeholder();
    weft::node give_up = g.emplace([&s] {
        const std::string times = std::to_string(s.fetch_attempts);
        throw std::runtime_error("fetch deps failed " + times + " times");
    });
    clean.name("clean");
    fetch.name("fetch deps");
    deps_ok.name("deps ok?");
    ready.name("deps ready");
    give_up.name("give up");

    clean.precede(fetch);
    fetch.precede(deps_ok);
    deps_ok.precede(ready, fetch, give_up);  // index 0, 1, 2

    std::vector<weft::node> compiles;
    for (std::size_t i = 0; i < units; ++i) {
        weft::node compile = g.emplace([&s, i] {
            s.objects[i] = compile_unit(i);
            ++s.compiled;
        });
        compiles.push_back(compile.name("compile unit_" + std::to_string(i)));
    }
    ready.precede(compiles);
    weft::node link = g.emplace([&s] { s.binary = link_objects(s.objects); }).name("link");
    link.succeed(compiles);

    // The tests are made while the run runs (a real build would list them from the
    // binary): one node per unit, joined before the run ends.
    weft::node tests = g.emplace([&s](weft::subflow& sf) {
        for (std::size_t i = 0; i < s.objects.size(); ++i) {
            weft::node test = sf.emplace([&s, i] {
                s.test_passed[i] = s.objects[i] == compile_unit(i) && s.binary != 0;
                ++s.tests_run;
            });
            test.name("test unit_" + std::to_string(i));
        }
    });
    tests.name("tests");
    link.precede(tests);
    return g;
}

bool check(bool ok, const char* what) {
    if (!ok) std::fprintf(stderr, "build_graph: wrong result: %s\n", what);
    return ok;
}

int parse(const char* text, int low, int high, const char* what) {
    char* end = nullptr;
    const long v = std::strtol(text, &end, 10);
    if (end == text || *end != '\0' || v < low || v > high) {
        std::fprintf(stderr, "build_graph: %s must be an integer from %d to %d, not '%s'\n", what,
                     low, high, text);
        std::exit(2);
    }
    return static_cast<int>(v);
}

}  // namespace

int main(int argc, char** argv) {
    const int units = argc > 1 ? parse(argv[1], 1, 10000, "units") : 8;
    const int workers = argc > 2 ? parse(argv[2], 1, 256, "workers") : 4;
    weft::executor ex{weft::executor_options{.workers = workers}};
    build_state s{static_cast<std::size_t>(units)};
    weft::task_graph g = make_build_graph(s);

    std::vector<std::uint64_t> expected_objects;
    for (int i = 0; i < units; ++i)
        expected_objects.push_back(compile_unit(static_cast<std::size_t>(i)));
    const std::uint64_t expected_binary = link_objects(expected_objects);
    bool ok = true;

    // Run 1: the first fetch fails, the condition node retries it.
    s.fetch_failures = 1;
    g.run(ex).get();
    g.dump_dot(std::cout);  // after the run: the dump shows the tests' subflow
    std::cout.flush();
    int passed = 0;
    for (const std::uint8_t p : s.test_passed) passed += p;
    std::printf(
        "run 1: fetch deps failed once and was retried (%d attempts); %d units compiled; "
        "linked 0x%016llx; %d of %d tests passed\n",
        s.fetch_attempts, s.compiled.load(), static_cast<unsigned long long>(s.binary), passed,
        units);
    ok &= check(s.fetch_attempts == 2, "run 1: 2 fetch attempts");
    ok &= check(s.compiled == units && s.binary == expected_binary,
                "run 1: every unit compiled and linked");
    ok &= check(s.tests_run == units && passed == units, "run 1: every test ran and passed");

    // Run 2: the fetch always fails; after 3 attempts "give up" throws.
    s.fetch_failures = 1000;
    std::string error;
    try {
        g.run(ex).get();
    } catch (const std::runtime_error& e) {
        error = e.what();
    }
    std::printf("run 2: the run failed with \"%s\"; %d units compiled, %d tests run\n",
                error.c_str(), s.compiled.load(), s.tests_run.load());
    ok &= check(error == "fetch deps failed 3 times" && s.fetch_attempts == k_max_fetch_attempts,
                "run 2: give up after 3 attempts, with its exception");
    ok &= check(s.compiled == 0 && s.binary == 0 && s.tests_run == 0,
                "run 2: nothing downstream of the fetch ran");

    // Run 3: the same graph, twice more, with a fetch that works at once.
    s.fetch_failures = 0;
    g.run_n(ex, 2).get();
    std::printf(
        "run 3: run_n(2) after the failure: %d attempt each; linked 0x%016llx; %d tests run\n",
        s.fetch_attempts, static_cast<unsigned long long>(s.binary), s.tests_run.load());
    ok &= check(s.fetch_attempts == 1 && s.binary == expected_binary && s.tests_run == units,
                "run 3: the graph runs again after a failed run");

    std::puts(ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
