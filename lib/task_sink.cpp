// weft — the registry of live task sinks (include/weft/detail/task_sink.hpp).
#include <weft/detail/task_sink.hpp>
#include <weft/errors.hpp>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <utility>
#include <vector>

#include <pthread.h>

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

// The pool registry's handlers (set_pool_fork_handlers). acquire/release: a handler set
// by one thread is seen whole by the forking thread.
std::atomic<fork_handler> g_pool_prepare{nullptr};
std::atomic<fork_handler> g_pool_parent{nullptr};
std::atomic<fork_handler> g_pool_child{nullptr};

void run_handler(const std::atomic<fork_handler>& h) noexcept {
    if (fork_handler f = h.load(std::memory_order_acquire)) f();
}

// Between them the forking thread holds the sink registry's mutex (then the pools'):
// the child inherits the registry whole and unlocked. Nothing here allocates.
void before_fork() noexcept {
    registry().m_mutex.lock();
    run_handler(g_pool_prepare);
}
void after_fork_in_parent() noexcept {
    run_handler(g_pool_parent);
    registry().m_mutex.unlock();
}
void after_fork_in_child() noexcept {
    run_handler(g_pool_child);
    registry().m_mutex.unlock();  // the child's one thread is the one that locked it
}

void install_fork_handlers() noexcept {
    static std::once_flag once;
    std::call_once(once, [] {
        registry();  // made before any fork can need it
        if (pthread_atfork(&before_fork, &after_fork_in_parent, &after_fork_in_child) != 0)
            std::fputs("weft: cannot register the fork handlers\n", stderr);
    });
}

}  // namespace

void set_pool_fork_handlers(fork_handler prepare, fork_handler parent, fork_handler child) noexcept {
    // release: pairs with run_handler()'s acquire.
    g_pool_prepare.store(prepare, std::memory_order_release);
    g_pool_parent.store(parent, std::memory_order_release);
    g_pool_child.store(child, std::memory_order_release);
    install_fork_handlers();
}

std::uint64_t register_sink(task_sink& sink) {
    install_fork_handlers();
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
