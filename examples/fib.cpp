// Fork-join Fibonacci with weft::task_group: the classic spawn-overhead test.
//   fib [n] [workers]
#include <weft/weft.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace {

long fib(weft::executor& ex, int n) {
    if (n < 2) return n;
    long x = 0;
    weft::task_group g{ex};
    g.run([&] { x = fib(ex, n - 1); });  // may be stolen by another worker
    const long y = fib(ex, n - 2);       // meanwhile this worker goes on
    g.wait();                            // runs x's task itself unless it was stolen
    return x + y;
}

long serial_fib(int n) { return n < 2 ? n : serial_fib(n - 1) + serial_fib(n - 2); }

}  // namespace

int main(int argc, char** argv) {
    const int n = argc > 1 ? std::atoi(argv[1]) : 30;
    const std::size_t workers = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 0;
    if (n < 0 || n > 45) {
        std::fprintf(stderr, "usage: fib [n in 0..45] [workers]\n");
        return 2;
    }
    weft::executor ex{weft::executor_options{.workers = workers}};

    const auto t0 = std::chrono::steady_clock::now();
    long parallel = 0;
    weft::task_group root{ex};
    root.run([&] { parallel = fib(ex, n); });
    root.wait();
    const auto t1 = std::chrono::steady_clock::now();
    const long serial = serial_fib(n);
    const auto t2 = std::chrono::steady_clock::now();

    const auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
    std::printf("fib(%d) = %ld on %zu workers in %.1f ms (serial: %.1f ms)\n", n, parallel,
                ex.worker_count(), ms(t1 - t0), ms(t2 - t1));
    if (parallel != serial) {
        std::fprintf(stderr, "wrong answer: serial fib(%d) = %ld\n", n, serial);
        return 1;
    }
    std::uint64_t stolen = 0, executed = 0;
    for (const auto& s : ex.stats()) {
        stolen += s.stolen;
        executed += s.executed;
    }
    std::printf("tasks run: %llu, stolen between workers: %llu\n",
                static_cast<unsigned long long>(executed), static_cast<unsigned long long>(stolen));
    return 0;
}
