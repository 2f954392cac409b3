// The seed tutorial's context-manager example (spec/python_parity.md T2), in C++:
//
//   def task(n):
//       print("Processing {}".format(n))
//
//   print("Starting ThreadPoolExecutor")
//   with ThreadPoolExecutor(max_workers=3) as executor:
//       future = executor.submit(task, (2))
//       future = executor.submit(task, (3))
//       future = executor.submit(task, (4))
//   print("All tasks complete")
//
// Python's `with` block is a C++ scope: leaving it destroys the pool, and the destructor
// is shutdown(wait=true) — it returns once every submitted task has run and every
// thread is joined. So "All tasks complete" comes after the three "Processing" lines,
// whose order is up to the threads.
#include <weft/thread_pool_executor.hpp>

#include <cstdio>

int main() {
    auto task = [](int n) { std::printf("Processing %d\n", n); };

    std::printf("Starting ThreadPoolExecutor\n");
    {
        weft::thread_pool_executor executor{3};
        weft::future<void> future = executor.submit(task, 2);
        future = executor.submit(task, 3);
        future = executor.submit(task, 4);
    }  // ~thread_pool_executor(): shutdown(wait=true)
    std::printf("All tasks complete\n");
}
