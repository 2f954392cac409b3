// A pipeline of futures: every file is loaded, parsed and transformed by its own chain of
// tasks, all files at once; when_all joins them. A file that fails to parse does not stop
// the others: continue_with turns its exception into a line of the report.
//   futures_pipeline [workers]
#include <weft/weft.hpp>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct source {
    std::string name;
    std::string text;  // stands in for the file's contents
};

struct report {
    std::string name;
    long sum_of_squares = 0;
    std::string error;  // empty when the file was fine
};

std::string load(const source& s) {
    return s.text;
}

std::vector<long> parse(const std::string& text) {
    std::vector<long> numbers;
    std::istringstream in(text);
    for (std::string token; std::getline(in, token, ',');) {
        std::size_t used = 0;
        long value = 0;
        try {
            value = std::stol(token, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != token.size())
            throw std::invalid_argument("'" + token + "' is not a number");
        numbers.push_back(value);
    }
    return numbers;
}

long sum_of_squares(const std::vector<long>& numbers) {
    long sum = 0;
    for (const long n : numbers) sum += n * n;
    return sum;
}

}  // namespace

int main(int argc, char** argv) {
    const std::size_t workers = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 0;
    weft::executor ex{weft::executor_options{.workers = workers}};

    const std::vector<source> sources = {
        {"a.csv", "1,2,3,4"},
        {"b.csv", "10,20,30"},
        {"broken.csv", "5,six,7"},
        {"d.csv", "100"},
    };

    // One chain per file; the stages of different files run in parallel.
    std::vector<weft::future<report>> reports;
    for (const source& s : sources) {
        weft::future<long> squares = weft::async(ex, load, s)    // load, as a task on ex
                                         .then(parse)            // then parse, on ex
                                         .then(sum_of_squares);  // skipped if parse threw
        reports.push_back(squares.continue_with([name = s.name](const weft::future<long>& f) {
            try {
                return report{name, f.get(), ""};
            } catch (const std::exception& e) {  // the exception parse threw, passed along
                return report{name, 0, e.what()};
            }
        }));
    }

    // when_all completes once every chain has; nothing blocks until the final get().
    weft::future<long> total = weft::when_all(reports).then([](const auto& done) {
        long sum = 0;
        for (const weft::future<report>& r : done) {
            const report& line = r.get();
            if (line.error.empty()) {
                std::printf("%-10s sum of squares %ld\n", line.name.c_str(), line.sum_of_squares);
            } else {
                std::printf("%-10s skipped: %s\n", line.name.c_str(), line.error.c_str());
            }
            sum += line.sum_of_squares;
        }
        return sum;
    });
    const long sum = total.get();
    std::printf("total      %ld (%zu workers)\n", sum, ex.worker_count());

    // Checked, so that the example doubles as a test.
    const bool broken_reported = !reports[2].get().error.empty();
    if (sum != 30 + 1400 + 10000 || !broken_reported) {
        std::fprintf(stderr, "wrong answer: want total 11430 and broken.csv skipped\n");
        return 1;
    }
    return 0;
}
