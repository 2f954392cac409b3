// weft — executor construction and destruction.
#include <weft/executor.hpp>

#include <cstdio>
#include <exception>

namespace weft {

executor::executor() : executor(executor_options{}) {}

executor::executor(const executor_options& options)
    : m_sched{std::make_unique<detail::scheduler>(*this, options)} {}

executor::~executor() {
    if (m_sched == nullptr) return;
    if (m_sched->local_worker(detail::this_context()) != nullptr) {
        std::fprintf(stderr,
                     "weft: fatal: a weft::executor is being destroyed by one of its own "
                     "worker threads (%.*s); it cannot join itself. Destroy it from another "
                     "thread.\n",
                     static_cast<int>(detail::current_worker()->m_name.size()),
                     detail::current_worker()->m_name.data());
        std::terminate();
    }
    m_sched->shutdown();
}

void executor::shutdown() { m_sched->shutdown(); }

}  // namespace weft
