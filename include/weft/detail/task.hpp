// weft — pooled, type-erased task nodes.
//
// A task is an intrusive node: one function pointer that runs the callable, destroys it
// and gives the node back, followed by the callable itself, stored inline. Nodes come
// in two size classes (64 and 128 bytes, so callables of up to 48 and 112 bytes) from a
// per-thread free list; a node goes back to the free list of the thread that ran it.
// Free lists that grow past a limit hand batches to a process-wide lock-free depot,
// where threads that only allocate (outside producers) pick them up. Callables larger
// than 112 bytes, or over-aligned ones, use operator new.
//
// Thread safety: a thread_context belongs to its thread; only the depot is shared.
// Performance: allocation and release are a few plain loads and stores on the
// calling thread's list; the depot is touched once per k_batch nodes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace weft::detail {

class scheduler;
struct worker;

/// The header every task node starts with.
struct task_base {
    /// Runs the callable, destroys it and releases the node. Never throws.
    using invoke_fn = void (*)(task_base*) noexcept;
    invoke_fn m_invoke = nullptr;
    // Free-list link while the node is free; while it is queued, a tag saying whose it
    // is (a task_group's child carries the group's address; other tasks null).
    task_base* m_next = nullptr;
};

inline constexpr std::size_t k_node_sizes[] = {64, 128};
inline constexpr std::size_t k_size_classes = 2;
inline constexpr std::size_t k_heap_class = k_size_classes;
inline constexpr std::uint32_t k_batch = 64;          // nodes moved to/from the depot at once
inline constexpr std::uint32_t k_cache_limit = 256;   // per-thread free nodes per class

/// Per-thread state: the free lists, and the worker this thread is, if any.
struct thread_context {
    struct free_list {
        task_base* head = nullptr;
        std::uint32_t count = 0;
    };
    free_list lists[k_size_classes];
    worker* m_worker = nullptr;  // non-null on a weft worker thread
};

/// This thread's context; null until first used. constinit, so access needs no guard.
inline constinit thread_local thread_context* tls_context = nullptr;

/// Creates the calling thread's context (and its exit hook). Slow path.
thread_context& make_thread_context();
/// Refills `ctx`'s list of class `cls` from the depot or the heap and pops one node.
task_base* allocate_node_slow(thread_context& ctx, std::size_t cls);
/// Pooled nodes ever made with operator new, process-wide (tests and statistics).
std::uint64_t fresh_node_count() noexcept;
/// Moves a batch from `ctx`'s list of class `cls` to the depot (or the heap).
void spill_nodes(thread_context& ctx, std::size_t cls) noexcept;

inline thread_context& this_context() {
    if (thread_context* c = tls_context) [[likely]]
        return *c;
    return make_thread_context();
}

template <class Body>
struct task_node final : task_base {
    template <class... Args>
    explicit task_node(Args&&... args) : m_body(std::forward<Args>(args)...) {}
    Body m_body;
};

template <class Body>
inline constexpr std::size_t size_class_of =
    alignof(task_node<Body>) > alignof(std::max_align_t) ? k_heap_class
    : sizeof(task_node<Body>) <= k_node_sizes[0]         ? 0
    : sizeof(task_node<Body>) <= k_node_sizes[1]         ? 1
                                                         : k_heap_class;

template <std::size_t Class>
inline void* allocate_storage(thread_context& ctx) {
    if constexpr (Class == k_heap_class) {
        (void)ctx;
        return nullptr;  // unused: heap nodes are made by new
    } else {
        auto& list = ctx.lists[Class];
        if (task_base* n = list.head) [[likely]] {
            list.head = n->m_next;
            --list.count;
            return n;
        }
        return allocate_node_slow(ctx, Class);
    }
}

template <std::size_t Class>
inline void release_storage(void* p) noexcept {
    auto* n = static_cast<task_base*>(p);
    thread_context* ctx = tls_context;  // every thread that runs tasks has a context
    auto& list = ctx->lists[Class];
    n->m_next = list.head;
    list.head = n;
    if (++list.count > k_cache_limit) [[unlikely]]
        spill_nodes(*ctx, Class);
}

/// Memory for other pooled weft objects (future states): sizes up to the largest node
/// class come from the calling thread's free lists, larger ones from operator new.
inline void* allocate_pooled(std::size_t size) {
    if (size <= k_node_sizes[0]) return allocate_storage<0>(this_context());
    if (size <= k_node_sizes[1]) return allocate_storage<1>(this_context());
    return ::operator new(size, std::align_val_t{16});
}

/// Gives back memory from allocate_pooled(size). A thread whose context is already gone
/// (thread exit) frees the node itself; pooled nodes are single operator-new blocks.
inline void release_pooled(void* p, std::size_t size) noexcept {
    if (size <= k_node_sizes[1] && tls_context != nullptr) {
        if (size <= k_node_sizes[0])
            release_storage<0>(p);
        else
            release_storage<1>(p);
        return;
    }
    ::operator delete(p, std::align_val_t{16});
}

/// Body requirements: `void run() noexcept` (runs the user's callable, handles its
/// exceptions) and `static void after(Token) noexcept` with `Token finish_token()`,
/// called once the body is destroyed and the node released (for completion signals that
/// must come last, after the callable's captures are gone).
template <class Body>
void invoke_and_release(task_base* t) noexcept {
    constexpr std::size_t cls = size_class_of<Body>;
    auto* node = static_cast<task_node<Body>*>(t);
    node->m_body.run();
    auto token = node->m_body.finish_token();
    if constexpr (cls == k_heap_class) {
        delete node;
    } else {
        node->~task_node();
        release_storage<cls>(node);
    }
    Body::after(token);
}

/// Makes a task node holding `Body{args...}`; allocates from `ctx`'s free lists.
template <class Body, class... Args>
task_base* make_task(thread_context& ctx, Args&&... args) {
    constexpr std::size_t cls = size_class_of<Body>;
    task_node<Body>* node;
    if constexpr (cls == k_heap_class) {
        node = new task_node<Body>(std::forward<Args>(args)...);
    } else {
        void* mem = allocate_storage<cls>(ctx);
        try {
            node = ::new (mem) task_node<Body>(std::forward<Args>(args)...);
        } catch (...) {
            release_storage<cls>(mem);
            throw;
        }
    }
    node->m_invoke = &invoke_and_release<Body>;
    return node;
}

/// True when `f` is a null function pointer or an empty std::function-like object.
template <class F>
constexpr bool is_empty_callable(const F& f) noexcept {
    if constexpr (std::is_pointer_v<F> || std::is_member_pointer_v<F>) {
        return f == nullptr;
    } else if constexpr (std::is_class_v<F> && std::is_constructible_v<bool, const F&> &&
                         !std::is_convertible_v<const F&, bool>) {
        return !static_cast<bool>(f);  // explicit operator bool: std::function and kin
    } else {
        return false;
    }
}

}  // namespace weft::detail
