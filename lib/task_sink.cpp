// weft — the registry of live task sinks (include/weft/detail/task_sink.hpp).
#include <weft/detail/task_sink.hpp>
#include <weft/errors.hpp>

#include <atomic>
#include <mutex>
#include <utility>
#include <vector>

namespace weft::detail {
namespace {

struct sink_registry {
    std::mutex m_mutex;
    std::vector<std::pair<std::uint64_t, task_sink*>> m_live;
};

sink_registry& registry() {
    static sink_registry* r = new sink_registry;  // never destroyed: used at exit
    return *r;
}

}  // namespace

std::uint64_t register_sink(task_sink& sink) {
    static std::atomic<std::uint64_t> next{1};
    const std::uint64_t id = next.fetch_add(1, std::memory_order_relaxed);  // relaxed: only uniqueness matters
    sink_registry& r = registry();
    std::lock_guard lock{r.m_mutex};
    r.m_live.emplace_back(id, &sink);
    return id;
}

void unregister_sink(std::uint64_t id) noexcept {
    sink_registry& r = registry();
    std::lock_guard lock{r.m_mutex};  // waits for an accept() or report_exception() in progress
    std::erase_if(r.m_live, [id](const auto& e) { return e.first == id; });
}

void inject_by_id(std::uint64_t id, task_base* t) {
    sink_registry& r = registry();
    std::lock_guard lock{r.m_mutex};  // held while injecting: the sink cannot die meanwhile
    for (const auto& [key, sink] : r.m_live) {
        if (key == id) {
            sink->accept(t);
            return;
        }
    }
    throw executor_shutdown_error{"weft::future: the executor this future's continuations run on has been destroyed"};
}

bool report_by_id(std::uint64_t id, const std::exception_ptr& e, std::string_view where) noexcept {
    sink_registry& r = registry();
    std::lock_guard lock{r.m_mutex};
    for (const auto& [key, sink] : r.m_live) {
        if (key == id) {
            sink->report_exception(e, where);
            return true;
        }
    }
    return false;
}

}  // namespace weft::detail
