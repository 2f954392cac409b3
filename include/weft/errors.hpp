// weft — the exceptions weft throws.
//
// Python's concurrent.futures error classes have a counterpart each (see
// docs/api/futures.md): CancelledError -> cancelled_error, TimeoutError -> timeout_error,
// InvalidStateError -> invalid_state_error, BrokenExecutor -> broken_executor,
// BrokenThreadPool -> broken_thread_pool, "cannot schedule new futures after shutdown"
// -> executor_shutdown_error.
#pragma once

#include <weft/detail/config.hpp>  // first: below C++20, its #error and nothing else
#if WEFT_DETAIL_HAS_CXX20

#include <stdexcept>
#include <string>

namespace weft {

/// Thrown when work is submitted to an executor that has begun shutting down.
class executor_shutdown_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// An operation on a future or promise that its state does not allow: get() on an
/// empty future, a second set_value(), set_value() on a cancelled future.
class invalid_state_error : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

/// Stored in a future whose promise was destroyed before it set a value or an exception.
class broken_promise : public std::logic_error {
public:
    broken_promise() : std::logic_error("weft::promise destroyed before it was satisfied") {}
    using std::logic_error::logic_error;
};

/// Thrown by get()/result()/exception() on a cancelled future.
class cancelled_error : public std::runtime_error {
public:
    cancelled_error() : std::runtime_error("the future was cancelled") {}
    using std::runtime_error::runtime_error;
};

/// Thrown when a timed wait (result(timeout), as_completed(timeout), ...) runs out.
class timeout_error : public std::runtime_error {
public:
    timeout_error() : std::runtime_error("timed out") {}
    using std::runtime_error::runtime_error;
};

/// An executor that can no longer run work (Python's BrokenExecutor).
class broken_executor : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// A task graph used wrongly: a cycle of strong edges (the message names a node on it),
/// a change to a graph while it runs, a node handle of another graph, a composed graph
/// that is already running, a wait on a run of a graph from inside that graph's nodes.
class graph_error : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

/// A thread_pool_executor whose thread initializer failed (Python's BrokenThreadPool).
class broken_thread_pool : public broken_executor {
public:
    using broken_executor::broken_executor;
};

}  // namespace weft

#endif  // WEFT_DETAIL_HAS_CXX20
