// weft — where a future's continuations go: a registry of live executors by id. Not API.
//
// A future's state names the executor its continuations run on by a number, not a
// pointer (a future may outlive its executor). weft::executor's scheduler and
// weft::thread_pool_executor's core register here when built and leave before they
// die; schedule_task() finds them by id, and a future whose executor is gone gets
// executor_shutdown_error instead of a dangling pointer.
//
// Thread safety: thread-safe.
#pragma once

#include <cstdint>
#include <exception>
#include <string_view>

namespace weft::detail {

struct task_base;

/// Something tasks can be queued on from any thread.
class task_sink {
public:
    /// Queues `t` to run once. Throws executor_shutdown_error if it no longer accepts
    /// work; then the caller still owns `t`.
    virtual void accept(task_base* t) = 0;
    /// Reports an exception escaping a done-callback (or a posted task) of this sink.
    virtual void report_exception(const std::exception_ptr& e, std::string_view where) noexcept = 0;

protected:
    task_sink() = default;
    ~task_sink() = default;
    task_sink(const task_sink&) = default;
    task_sink& operator=(const task_sink&) = default;
};

/// Registers `sink` and returns its id (never 0, never reused).
std::uint64_t register_sink(task_sink& sink);
/// Unregisters the sink with id `id`; once this returns, no accept() or report_exception() call on
/// it is in progress or will start.
void unregister_sink(std::uint64_t id) noexcept;

/// fork(): the sink registry's mutex is held across a fork (pthread_atfork, installed
/// with the first registration), so a child never inherits it locked by a thread that
/// does not exist there. Its handlers run the pool registry's (set here by
/// thread_pool_executor) inside its own, so the lock order is always: sink registry,
/// then the pools (inject_by_id holds the first while a pool's accept() takes theirs).
using fork_handler = void (*)() noexcept;
void set_pool_fork_handlers(fork_handler prepare, fork_handler parent, fork_handler child) noexcept;

/// Queues `t` on the sink with id `id` if it is still registered. Throws
/// executor_shutdown_error if it is gone (or refuses); then the caller still owns `t`.
void inject_by_id(std::uint64_t id, task_base* t);
/// Reports `e` to the sink with id `id`; false if it is gone.
bool report_by_id(std::uint64_t id, const std::exception_ptr& e, std::string_view where) noexcept;

}  // namespace weft::detail
