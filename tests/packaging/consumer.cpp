// A program that uses an installed weft the way a consumer does: built with nothing but
// `pkg-config --cflags --libs weft` and -std=c++20 (tests/packaging/run.sh). Exits 0
// when every answer is right, 1 naming the first wrong one.
#include <weft/weft.hpp>

#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

namespace {

long fib(weft::executor& ex, int n) {
    if (n < 2) return n;
    long x = 0;
    weft::task_group g{ex};
    g.run([&] { x = fib(ex, n - 1); });
    const long y = fib(ex, n - 2);
    g.wait();
    return x + y;
}

bool check(bool ok, const char* what) {
    if (!ok) std::fprintf(stderr, "consumer: wrong answer: %s\n", what);
    return ok;
}

}  // namespace

int main() {
    bool ok = true;
    {
        weft::executor ex{weft::executor_options{.workers = 2}};
        std::atomic<int> posted{0};
        for (int i = 0; i < 100; ++i) ex.post([&] { posted.fetch_add(1); });
        ok &= check(fib(ex, 20) == 6765, "task_group fib(20)");
        weft::future<int> a = weft::async(ex, [] { return 6 * 7; });
        weft::future<std::string> b = a.then([](int v) { return std::to_string(v); });
        ok &= check(b.get() == "42", "async(...).then(...).get()");
        ex.shutdown();
        ok &= check(posted.load() == 100, "posted tasks all ran");
    }
    {
        weft::thread_pool_executor pool{2};
        auto square = pool.submit([](int v) { return v * v; }, 12);
        ok &= check(square.result() == 144, "thread_pool_executor::submit(...).result()");
        const std::vector<int> xs{1, 2, 3, 4};
        int sum = 0;
        for (int v : pool.map([](int v) { return 2 * v + 1; }, xs)) sum += v;
        ok &= check(sum == 24, "thread_pool_executor::map");
        pool.shutdown();
    }
    if (ok) std::puts("consumer: ok");
    return ok ? 0 : 1;
}
