// A helper program for parity_exit_test (B13, B22): each mode ends the process in a
// different way while pools still hold work; the test reads what it printed.
#include <weft/thread_pool_executor.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

// Every mode leaves a pool alive at exit on purpose: tests/unit/meson.build runs it with
// LeakSanitizer off (ASAN_OPTIONS in the test's environment).

namespace {

weft::thread_pool_executor* g_leaked = nullptr;

void say(const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
}

void submit_slow_tasks(weft::thread_pool_executor& pool, int n) {
    for (int i = 0; i < n; ++i)
        static_cast<void>(pool.submit([i] {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));  // simulated work
            say("task " + std::to_string(i));
        }));  // the futures are not needed
}

void submit_after_exit() {
    try {
        static_cast<void>(g_leaked->submit([] {}));
        say("accepted");
    } catch (const weft::executor_shutdown_error& e) {
        say(std::string{"rejected: "} + e.what());
    }
}

}  // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "exit-after-nowait") {
        // B22: std::exit skips the pool's destructor; the exit hook still runs the queue.
        weft::thread_pool_executor pool{1};
        submit_slow_tasks(pool, 5);
        pool.shutdown(/*wait=*/false);
        std::exit(0);
    }
    if (mode == "leaked") {
        // B22: a pool that is never destroyed.
        auto* pool = new weft::thread_pool_executor{2};
        submit_slow_tasks(*pool, 5);
        return 0;
    }
    if (mode == "submit-after-exit") {
        // B13: this handler is registered before the pool (and so before the library's
        // hook), so it runs after the hook.
        std::atexit(&submit_after_exit);
        g_leaked = new weft::thread_pool_executor{1};
        submit_slow_tasks(*g_leaked, 2);
        return 0;
    }
    std::fprintf(stderr, "usage: %s exit-after-nowait|leaked|submit-after-exit\n", argv[0]);
    return 2;
}
