// Task nodes: size classes, pooling without operator new, destruction exactly once.
#include <weft/detail/task.hpp>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <functional>
#include <new>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WEFT_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define WEFT_TEST_SANITIZED 1
#endif
#endif

#ifndef WEFT_TEST_SANITIZED
namespace {

std::atomic<std::size_t> g_news{0};
std::atomic<bool> g_counting{false};

}  // namespace

// Counts operator new calls while g_counting is set (this test binary only; sanitizers
// bring their own operator new, so there the pool's own counter is checked instead).
void* operator new(std::size_t n) {
    if (g_counting.load(std::memory_order_relaxed)) g_news.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc{};
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void* operator new(std::size_t n, std::align_val_t a) {
    if (g_counting.load(std::memory_order_relaxed)) g_news.fetch_add(1, std::memory_order_relaxed);
    const auto align = static_cast<std::size_t>(a);
    if (void* p = std::aligned_alloc(align, (n + align - 1) / align * align)) return p;
    throw std::bad_alloc{};
}
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
#endif

namespace {

using namespace weft::detail;

template <std::size_t N>
struct payload_body {
    explicit payload_body(int* counter) : m_counter{counter} {}
    ~payload_body() { ++*m_destroyed; }
    void run() noexcept { ++*m_counter; }
    struct token {};
    token finish_token() const noexcept { return {}; }
    static void after(token) noexcept {}
    int* m_counter;
    int* m_destroyed = m_counter + 1;
    std::array<char, N> m_bytes{};
};

TEST(Task, SizeClassesCoverCallablesUpTo112Bytes) {
    EXPECT_EQ(size_class_of<payload_body<8>>, 0U);
    EXPECT_EQ(size_class_of<payload_body<32>>, 0U);   // 16 header + 16 + 32 = 64
    EXPECT_EQ(size_class_of<payload_body<48>>, 1U);
    EXPECT_EQ(size_class_of<payload_body<96>>, 1U);   // 16 + 16 + 96 = 128
    EXPECT_EQ(size_class_of<payload_body<200>>, k_heap_class);
}

TEST(Task, RunsAndDestroysExactlyOnce) {
    thread_context& ctx = this_context();
    int counters[2] = {0, 0};
    task_base* t = make_task<payload_body<8>>(ctx, counters);
    t->m_invoke(t);
    EXPECT_EQ(counters[0], 1);
    EXPECT_EQ(counters[1], 1);
}

TEST(Task, PooledNodesAreReusedOnceWarm) {
    thread_context& ctx = this_context();
    int counters[2] = {0, 0};
    for (int i = 0; i < 8; ++i) {
        task_base* a = make_task<payload_body<16>>(ctx, counters);
        a->m_invoke(a);
    }
    const std::uint64_t fresh = fresh_node_count();
    for (int i = 0; i < 10000; ++i) {
        task_base* a = make_task<payload_body<16>>(ctx, counters);
        task_base* b = make_task<payload_body<64>>(ctx, counters);
        a->m_invoke(a);
        b->m_invoke(b);
    }
    EXPECT_LE(fresh_node_count() - fresh, 1U);  // at most the first 128-byte node
    EXPECT_EQ(counters[0], 20008);
}

#ifndef WEFT_TEST_SANITIZED
TEST(Task, PooledNodesNeedNoOperatorNewOnceWarm) {
    thread_context& ctx = this_context();
    int counters[2] = {0, 0};
    // Warm the free lists of both classes.
    for (int i = 0; i < 8; ++i) {
        task_base* a = make_task<payload_body<16>>(ctx, counters);
        task_base* b = make_task<payload_body<64>>(ctx, counters);
        a->m_invoke(a);
        b->m_invoke(b);
    }
    g_news = 0;
    g_counting = true;
    for (int i = 0; i < 10000; ++i) {
        task_base* a = make_task<payload_body<16>>(ctx, counters);
        task_base* b = make_task<payload_body<64>>(ctx, counters);
        a->m_invoke(a);
        b->m_invoke(b);
    }
    g_counting = false;
    EXPECT_EQ(g_news.load(), 0U);
    EXPECT_EQ(counters[0], 20016);
}

#endif

TEST(Task, LargeCallablesFallBackToTheHeap) {
    thread_context& ctx = this_context();
    int counters[2] = {0, 0};
    static_assert(size_class_of<payload_body<512>> == k_heap_class);
    const std::uint64_t fresh = fresh_node_count();
    task_base* t = make_task<payload_body<512>>(ctx, counters);
    EXPECT_EQ(fresh_node_count(), fresh);  // not a pooled node
    t->m_invoke(t);
    EXPECT_EQ(counters[0], 1);
    EXPECT_EQ(counters[1], 1);
}

TEST(Task, EmptyCallableDetection) {
    void (*null_fn)() = nullptr;
    void (*fn)() = [] {};
    std::function<void()> empty;
    std::function<void()> full = [] {};
    int x = 0;
    auto lambda = [&x] { ++x; };
    auto stateless = [] {};
    EXPECT_TRUE(is_empty_callable(null_fn));
    EXPECT_FALSE(is_empty_callable(fn));
    EXPECT_TRUE(is_empty_callable(empty));
    EXPECT_FALSE(is_empty_callable(full));
    EXPECT_FALSE(is_empty_callable(lambda));
    EXPECT_FALSE(is_empty_callable(stateless));
}

}  // namespace
