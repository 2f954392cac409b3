// Uses weft built as a Meson subproject (tests/packaging/subproject_consumer/meson.build).
// Exits 0 when every answer is right.
#include <weft/weft.hpp>

#include <cstdio>
#include <numeric>
#include <vector>

int main() {
    weft::executor ex{weft::executor_options{.workers = 2}};
    std::vector<long> squares(64);
    weft::task_group g{ex};
    for (std::size_t i = 0; i < squares.size(); ++i)
        g.run([&squares, i] { squares[i] = static_cast<long>(i * i); });
    g.wait();
    const long sum = std::accumulate(squares.begin(), squares.end(), 0L);
    auto doubled = weft::async(ex, [sum] { return 2 * sum; });

    weft::thread_pool_executor pool{2};
    const int cube = pool.submit([](int v) { return v * v * v; }, 5).result();

    const bool ok = sum == 85344 && doubled.get() == 2 * 85344 && cube == 125;
    std::printf("subproject consumer: %s\n", ok ? "ok" : "WRONG");
    return ok ? 0 : 1;
}
