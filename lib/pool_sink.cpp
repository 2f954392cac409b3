// weft — a thread_pool_executor as a place where future continuations run: then() on a
// pool's future without an executor runs its continuation on that pool.
#include <weft/detail/task.hpp>
#include <weft/detail/thread_pool_core.hpp>
#include <weft/thread_pool_executor.hpp>

#include "thread_support.hpp"

#include <cstdio>
#include <exception>
#include <optional>
#include <string>

namespace weft::detail {
namespace {

/// A continuation task queued on a pool. It runs whatever the pool does with the item
/// (run, or cancel / fail at shutdown and on a broken pool): a continuation is not a
/// submitted call, so shutdown(cancel_futures=true) does not cancel it; it runs, and
/// finds its input's outcome as it is.
struct continuation_item final : pool_item {
    explicit continuation_item(task_base* t) noexcept : m_task{t} { m_op = &operate; }
    static void operate(pool_item* item, pool_item_op /*op*/) noexcept {
        task_base* t = static_cast<continuation_item*>(item)->m_task;
        delete static_cast<continuation_item*>(item);
        t->m_invoke(t);
    }
    task_base* m_task;
};

}  // namespace

void thread_pool_core::accept(task_base* t) {
    auto* item = new continuation_item(t);
    try {
        submit(item);
    } catch (...) {
        delete item;  // not queued: the caller still owns t
        throw;
    }
}

void thread_pool_core::report_exception(const std::exception_ptr& e, std::string_view where) noexcept {
    try {
        const std::string what = exception_what(e).value_or("an exception not derived from std::exception");
        std::fprintf(stderr, "weft: thread_pool_executor %s: exception %.*s: %s\n", m_prefix.c_str(),
                     static_cast<int>(where.size()), where.data(), what.c_str());
    } catch (...) {
        std::fputs("weft: thread_pool_executor: exception in a done-callback\n", stderr);
    }
}

}  // namespace weft::detail

namespace weft {

std::uint64_t thread_pool_executor::sink_id() const noexcept { return m_core->sink_id(); }

}  // namespace weft
