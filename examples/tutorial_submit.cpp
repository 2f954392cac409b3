// The seed tutorial's first example (spec/python_parity.md T1), in C++:
//
//   def task():
//       print("Executing our Task")
//       result = 0
//       for i in range(10):
//           result = result + i
//       print("I: {}".format(result))
//       print("Task Executed {}".format(threading.current_thread()))
//
//   executor = ThreadPoolExecutor(max_workers=3)
//   task1 = executor.submit(task)
//   task2 = executor.submit(task)
//
// Python prints the two "Task Executed" lines from two different pool threads,
// ThreadPoolExecutor-0_0 and ThreadPoolExecutor-0_1. That is a race there and here: a
// submit that finds an idle thread starts no new one (B5), so a first task that has
// already finished would run the second too. Here the two tasks meet at a latch before
// printing their thread, so the second submit always finds the first thread busy and
// starts a second one, and the output always shows two threads.
#include <weft/thread_pool_executor.hpp>

#include <cstdio>
#include <latch>
#include <string>

int main() {
    std::latch both_running{2};
    auto task = [&both_running] {
        std::printf("Executing our Task\n");
        int result = 0;
        for (int i = 0; i < 10; ++i) result = result + i;
        std::printf("I: %d\n", result);
        both_running.arrive_and_wait();
        const std::string name{weft::thread_pool_executor::current_thread_name()};
        std::printf("Task Executed %s\n", name.c_str());  // one printf per line: lines never mix
    };

    weft::thread_pool_executor executor{3};
    weft::future<void> task1 = executor.submit(task);
    weft::future<void> task2 = executor.submit(task);
    // Python waits for the pool's threads when the interpreter exits; here the
    // destructor does (shutdown(wait=true)). result() would rethrow a task's exception.
    task1.result();
    task2.result();
}
