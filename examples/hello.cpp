// A first tour of weft: post work, fork-join with a task_group, errors that arrive.
#include <weft/weft.hpp>

#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <vector>

int main() {
    weft::executor ex{weft::executor_options{.workers = 4, .thread_name_prefix = "hello"}};

    // Fork-join: run tasks, wait for all of them. wait() rethrows the first exception.
    std::vector<long> squares(10);
    weft::task_group g{ex};
    for (int i = 0; i < 10; ++i)
        g.run([&squares, i] { squares[static_cast<std::size_t>(i)] = long{i} * i; });
    g.wait();
    long sum = 0;
    for (long s : squares) sum += s;
    std::printf("sum of squares 0..9 = %ld\n", sum);

    g.run([] { throw std::runtime_error{"a task failed"}; });
    try {
        g.wait();
    } catch (const std::exception& e) {
        std::printf("wait() rethrew: %s\n", e.what());
    }

    // Fire-and-forget: post() from any thread; the destructor runs what is queued.
    std::atomic<int> done{0};
    for (int i = 0; i < 100; ++i) ex.post([&] { done.fetch_add(1); });
    ex.shutdown();  // drains and joins (the destructor would too)
    std::printf("posted tasks run: %d\n", done.load());
    return sum == 285 && done.load() == 100 ? 0 : 1;
}
