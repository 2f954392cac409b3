// weft — the slow paths of task-node pooling: per-thread contexts and the depot.
#include <weft/detail/task.hpp>

#include <boost/lockfree/stack.hpp>

#include <atomic>
#include <cstdlib>
#include <memory>

namespace weft::detail {
namespace {

// The depot: per size class, a bounded lock-free stack of batches. A batch is a chain of
// k_batch nodes linked through m_next. boost::lockfree::stack with a fixed capacity never
// allocates and guards against ABA with tagged indices.
constexpr std::size_t k_depot_batches = 4096;
using depot_stack = boost::lockfree::stack<task_base*, boost::lockfree::capacity<k_depot_batches>>;

std::atomic<std::uint64_t> g_fresh_nodes{0};

task_base* new_node(std::size_t cls) {
    g_fresh_nodes.fetch_add(1, std::memory_order_relaxed);  // relaxed: statistics
    return static_cast<task_base*>(::operator new(k_node_sizes[cls], std::align_val_t{16}));
}

void delete_node(task_base* n, std::size_t cls) noexcept {
    (void)cls;
    ::operator delete(n, std::align_val_t{16});
}

// Never destroyed: threads (workers of a static executor, say) may still return nodes
// during static destruction. Everything in it stays reachable, so leak checkers agree.
depot_stack& depot(std::size_t cls) {
    static auto* const stacks = new depot_stack[k_size_classes];
    return stacks[cls];
}

// Detaches the first `count` nodes of `list` as one chain.
task_base* cut_batch(thread_context::free_list& list, std::uint32_t count) noexcept {
    task_base* head = list.head;
    task_base* tail = head;
    for (std::uint32_t i = 1; i < count; ++i) tail = tail->m_next;
    list.head = tail->m_next;
    list.count -= count;
    tail->m_next = nullptr;
    return head;
}

void release_chain(task_base* head, std::size_t cls) noexcept {
    while (head != nullptr) {
        task_base* next = head->m_next;
        delete_node(head, cls);
        head = next;
    }
}

// Set once this thread's context_owner is destroyed (thread exit, or the main thread's
// atexit phase): a context needed after that is made without an owner.
constinit thread_local bool tls_context_retired = false;

// Gives a thread's free nodes back when the thread exits.
struct context_owner {
    std::unique_ptr<thread_context> ctx;
    ~context_owner() {
        if (!ctx) return;
        for (std::size_t cls = 0; cls < k_size_classes; ++cls) {
            auto& list = ctx->lists[cls];
            while (list.count >= k_batch) {
                task_base* batch = cut_batch(list, k_batch);
                if (!depot(cls).bounded_push(batch)) release_chain(batch, cls);
            }
            release_chain(list.head, cls);
            list = {};
        }
        tls_context = nullptr;
        tls_context_retired = true;
    }
};

}  // namespace

std::uint64_t fresh_node_count() noexcept {
    return g_fresh_nodes.load(std::memory_order_relaxed);  // relaxed: statistics
}

thread_context& make_thread_context() {
    if (tls_context_retired) {
        // The owner is gone (a task or future made from an atexit handler or a
        // thread_local destructor): a context of its own, deliberately never freed,
        // still reachable through tls_context. Its few nodes die with the thread.
        tls_context = new thread_context;
        return *tls_context;
    }
    static thread_local context_owner owner;
    owner.ctx = std::make_unique<thread_context>();
    tls_context = owner.ctx.get();
    return *owner.ctx;
}

task_base* allocate_node_slow(thread_context& ctx, std::size_t cls) {
    auto& list = ctx.lists[cls];
    task_base* batch = nullptr;
    if (depot(cls).pop(batch)) {
        list.head = batch->m_next;
        list.count = k_batch - 1;
        return batch;
    }
    return new_node(cls);
}

void spill_nodes(thread_context& ctx, std::size_t cls) noexcept {
    task_base* batch = cut_batch(ctx.lists[cls], k_batch);
    if (!depot(cls).bounded_push(batch)) release_chain(batch, cls);
}

}  // namespace weft::detail
