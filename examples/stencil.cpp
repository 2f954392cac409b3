// An image-like workload with weft's parallel algorithms: a 5-point blur over a square
// float grid, repeated a few times (weft::parallel_for over rows), then a 256-bin
// histogram of the result (weft::parallel_reduce over rows, one vector of counts per
// piece). The same rows are computed by the serial loop; the parallel grid and histogram
// must equal the serial ones exactly, else it exits with 1. Prints the speed-up.
//
//   stencil [SIDE=2048] [ITERATIONS=10] [WORKERS=hardware_concurrency]
#include <weft/weft.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

namespace {

using grid = std::vector<float>;
using histogram = std::vector<std::uint64_t>;
constexpr std::size_t k_bins = 256;

/// A deterministic picture with values in [0, 256).
grid make_picture(std::size_t side) {
    grid g(side * side);
    std::uint32_t state = 12345;
    for (float& v : g) {
        state = state * 1664525U + 1013904223U;  // a linear congruential generator
        v = static_cast<float>(state >> 24);
    }
    return g;
}

/// Row y of `out` from `in`: each inner cell becomes the mean of itself and its four
/// neighbours; the edge cells are copied. The serial and parallel versions both call
/// this, so their results are bit-identical.
void blur_row(const grid& in, grid& out, std::size_t side, std::size_t y) {
    const float* row = in.data() + y * side;
    float* dst = out.data() + y * side;
    if (y == 0 || y + 1 == side) {
        for (std::size_t x = 0; x < side; ++x) dst[x] = row[x];
        return;
    }
    dst[0] = row[0];
    dst[side - 1] = row[side - 1];
    for (std::size_t x = 1; x + 1 < side; ++x) {
        dst[x] = 0.2F * (row[x] + row[x - 1] + row[x + 1] + row[x - side] + row[x + side]);
    }
}

/// Adds the cells of row y to `h` (bin = the value's integer part, values stay in [0, 256)).
void count_row(const grid& g, std::size_t side, std::size_t y, histogram& h) {
    for (std::size_t x = 0; x < side; ++x) {
        const auto bin = static_cast<std::size_t>(g[y * side + x]);
        ++h[bin < k_bins ? bin : k_bins - 1];
    }
}

struct result {
    grid picture;
    histogram counts;
};

result run_serial(grid picture, std::size_t side, int iterations) {
    grid next(picture.size());
    for (int it = 0; it < iterations; ++it) {
        for (std::size_t y = 0; y < side; ++y) blur_row(picture, next, side, y);
        std::swap(picture, next);
    }
    histogram counts(k_bins, 0);
    for (std::size_t y = 0; y < side; ++y) count_row(picture, side, y, counts);
    return {std::move(picture), std::move(counts)};
}

result run_parallel(weft::executor& ex, grid picture, std::size_t side, int iterations) {
    grid next(picture.size());
    for (int it = 0; it < iterations; ++it) {
        weft::parallel_for(ex, std::size_t{0}, side,
                           [&](std::size_t y) { blur_row(picture, next, side, y); });
        std::swap(picture, next);
    }
    histogram counts = weft::parallel_reduce(
        ex, std::size_t{0}, side, histogram(k_bins, 0),
        [&](histogram acc, std::size_t y) {
            count_row(picture, side, y, acc);
            return acc;
        },
        [](histogram a, const histogram& b) {
            for (std::size_t i = 0; i < k_bins; ++i) a[i] += b[i];
            return a;
        });
    return {std::move(picture), std::move(counts)};
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
    const long side_arg = argc > 1 ? std::atol(argv[1]) : 2048;
    const int iterations = argc > 2 ? std::atoi(argv[2]) : 10;
    const int workers = argc > 3 ? std::atoi(argv[3]) : 0;
    if (side_arg < 3 || iterations < 0 || workers < 0) {
        std::fprintf(stderr, "usage: stencil [SIDE >= 3] [ITERATIONS >= 0] [WORKERS >= 0]\n");
        return 2;
    }
    const auto side = static_cast<std::size_t>(side_arg);
    const grid picture = make_picture(side);
    weft::executor ex{weft::executor_options{.workers = workers}};

    auto start = std::chrono::steady_clock::now();
    const result serial = run_serial(picture, side, iterations);
    const double serial_s = seconds_since(start);

    start = std::chrono::steady_clock::now();
    const result parallel = run_parallel(ex, picture, side, iterations);
    const double parallel_s = seconds_since(start);

    std::printf("%zux%zu grid, %d blur iterations + histogram, %zu workers\n", side, side,
                iterations, ex.worker_count());
    std::printf("serial %.1f ms, weft %.1f ms, speed-up %.2fx\n", serial_s * 1e3, parallel_s * 1e3,
                serial_s / parallel_s);
    if (parallel.picture != serial.picture || parallel.counts != serial.counts) {
        std::fprintf(stderr,
                     "wrong answer: the parallel grid or histogram differs from the serial one\n");
        return 1;
    }
    std::uint64_t cells = 0;
    for (const std::uint64_t c : parallel.counts) cells += c;
    if (cells != side * side) {
        std::fprintf(stderr, "wrong answer: the histogram counts %llu cells, not %zu\n",
                     static_cast<unsigned long long>(cells), side * side);
        return 1;
    }
    std::puts("ok: the same grid and histogram as the serial loop");
    return 0;
}
