// weft model tests — the driver shared by the model programs.
//
// A model program checks one variant per run: `none` (the shipping code) or a seeded
// mutant. It runs the variant's scenarios through rl::simulate and exits 0 iff the
// expectation holds: Relacy finds nothing in the shipping code, and finds a failure in
// every mutant. Relacy's history is captured, not printed, unless --history is given;
// each run prints a one-line summary.
//
// Usage: <program> <variant> [--all-scenarios] [--scenario NAME] [--history]
//                            [--random N | --bound K | --full]
//        <program> --list
// A mutant stops at the first scenario that catches it unless --all-scenarios is given.
// --random N / --bound K / --full replace every scenario's search with N random
// schedules / the context-bound scheduler with bound K / the exhaustive search.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "rl_atomics.hpp"

namespace weft::model {

/// How Relacy searches the interleavings of one scenario.
struct search_config {
    rl::scheduler_type_e type = rl::sched_random;
    unsigned long iterations = 10000;  // sched_random only
    unsigned context_bound = 2;        // sched_bound only
};

inline std::string describe(const search_config& s) {
    switch (s.type) {
        case rl::sched_random: return "random x" + std::to_string(s.iterations);
        case rl::sched_bound: return "context bound " + std::to_string(s.context_bound);
        default: return "full search";
    }
}

/// What one scenario's simulation found.
struct scenario_result {
    std::string scenario;
    std::string search;
    rl::test_result_e result = rl::test_result_success;
    unsigned long iterations = 0;  // run (success) or the failing iteration
    double seconds = 0;
    std::string detail;  // Relacy's failure line
    std::string log;     // everything Relacy printed
};

/// The line of Relacy's history that states the failure, e.g.
/// "[27] 1: <0x...> access to freed memory" or "[40] 2: DEADLOCK (deadlock detected)".
inline std::string failure_line(const std::string& log, rl::test_result_e result) {
    const std::string key = rl::test_result_str(result);
    std::istringstream in{log};
    std::string line, found;
    while (std::getline(in, line))
        if (!line.empty() && line.front() == '[' && line.find(key) != std::string::npos) {
            found = line;
            break;
        }
    while (!found.empty() && (found.back() == '\r' || found.back() == ' ')) found.pop_back();
    // "..., in <long function signature>, file(line)" -> "... at file(line)"
    const auto at = found.find(", in ");
    const auto file = found.rfind(", ");
    if (at != std::string::npos && file != std::string::npos && file > at)
        found = found.substr(0, at) + " at " + found.substr(file + 2);
    return found;
}

/// Set from the command line before any simulation; read-only afterwards.
inline std::optional<search_config> g_search_override;

template <class Suite>
scenario_result simulate_scenario(const char* name, search_config search) {
    if (g_search_override) search = *g_search_override;
    rl::test_params params;
    params.search_type = search.type;
    params.iteration_count = search.iterations;
    params.context_bound = search.context_bound;
    params.output_history = false;
    // Relacy writes the history from inside the simulation, where operator new is its
    // tracked allocator: the buffer must use raw malloc, as rl::ostringstream does.
    rl::ostringstream out;
    params.output_stream = &out;
    params.progress_stream = &out;

    const auto start = std::chrono::steady_clock::now();
    rl::simulate<Suite>(params);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;

    scenario_result r;
    r.scenario = name;
    r.search = describe(search);
    r.result = params.test_result;
    r.iterations = static_cast<unsigned long>(params.stop_iteration);
    r.seconds = took.count();
    const rl::string log = out.str();
    r.log.assign(log.data(), log.size());
    if (r.result != rl::test_result_success) r.detail = failure_line(r.log, r.result);
    return r;
}

/// One scenario of a variant: a name and a function that simulates it.
struct scenario {
    const char* name;
    scenario_result (*run)();
};

/// One variant: its name, whether it is a seeded mutant, and its scenarios.
struct variant {
    const char* name;
    bool mutant;
    std::vector<scenario> scenarios;
};

/// Runs the variant named on the command line; returns the process exit status.
inline int run_model_main(const char* model, const std::vector<variant>& variants, int argc,
                          char** argv) {
    std::string_view wanted;
    bool all_scenarios = false;
    bool history = false;
    std::string_view only_scenario;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--all-scenarios") {
            all_scenarios = true;
        } else if (arg == "--history") {
            history = true;
        } else if ((arg == "--random" || arg == "--bound") && i + 1 < argc) {
            const unsigned long n = std::strtoul(argv[++i], nullptr, 10);
            if (arg == "--random")
                g_search_override = search_config{rl::sched_random, n, 0};
            else
                g_search_override = search_config{rl::sched_bound, 0, static_cast<unsigned>(n)};
        } else if (arg == "--scenario" && i + 1 < argc) {
            only_scenario = argv[++i];
        } else if (arg == "--full") {
            g_search_override = search_config{rl::sched_full, 0, 0};
        } else if (arg == "--list") {
            for (const variant& v : variants) std::cout << v.name << '\n';
            return 0;
        } else {
            wanted = arg;
        }
    }
    for (const variant& v : variants) {
        if (v.name != wanted) continue;
        bool caught = false;
        bool ok = true;
        double total = 0;
        for (const scenario& s : v.scenarios) {
            if (!only_scenario.empty() && s.name != only_scenario) continue;
            const scenario_result r = s.run();
            total += r.seconds;
            if (history) std::cout << r.log;
            const bool failed = r.result != rl::test_result_success;
            std::printf("  %s %s / %s (%s): %s after %lu iterations, %.2f s%s%s\n", model,
                        v.name, r.scenario.c_str(), r.search.c_str(),
                        failed ? rl::test_result_str(r.result) : "no failure", r.iterations,
                        r.seconds, r.detail.empty() ? "" : " -- ", r.detail.c_str());
            if (failed) {
                caught = true;
                if (!v.mutant) ok = false;
                if (v.mutant && !all_scenarios) break;
            }
        }
        if (v.mutant) {
            if (caught)
                std::printf("%s mutant %s: caught (%.2f s)\n", model, v.name, total);
            else
                std::printf("%s mutant %s: NOT caught -- the model misses this fault (%.2f s)\n",
                            model, v.name, total);
            return caught ? 0 : 1;
        }
        if (ok)
            std::printf("%s %s: passed, Relacy found nothing (%.2f s)\n", model, v.name, total);
        else
            std::printf("%s %s: FAILED, Relacy found a bug in the shipping code (%.2f s)\n",
                        model, v.name, total);
        return ok ? 0 : 1;
    }
    std::fprintf(stderr, "%s: unknown variant '%.*s' (try --list)\n", model,
                 static_cast<int>(wanted.size()), wanted.data());
    return 2;
}

}  // namespace weft::model
