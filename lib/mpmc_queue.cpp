// weft — mpmc_queue over boost::lockfree::queue<void*>. Boost stays inside lib/: the
// header holds the queue in opaque storage (include/weft/detail/mpmc_queue.hpp).
#include <weft/detail/mpmc_queue.hpp>

#include <boost/lockfree/queue.hpp>

#include <cstddef>
#include <new>

namespace weft::detail {
namespace {

using boost_queue = boost::lockfree::queue<void*>;

static_assert(sizeof(boost_queue) <= mpmc_queue::k_storage_bytes,
              "mpmc_queue::k_storage_bytes is too small for this Boost's queue");
static_assert(alignof(boost_queue) <= k_cache_line,
              "mpmc_queue's storage is not aligned enough for this Boost's queue");

// The storage holds exactly one boost_queue from the constructor to the destructor, so
// std::launder gives a pointer to it.
boost_queue& queue_in(std::byte* storage) noexcept {
    return *std::launder(reinterpret_cast<boost_queue*>(storage));
}

}  // namespace

mpmc_queue::mpmc_queue(std::size_t capacity_hint) {
    ::new (static_cast<void*>(m_storage)) boost_queue(capacity_hint);
}

mpmc_queue::~mpmc_queue() {
    queue_in(m_storage).~boost_queue();
}

bool mpmc_queue::push(void* p) {
    return queue_in(m_storage).push(p);
}

bool mpmc_queue::pop(void*& out) noexcept {
    return queue_in(m_storage).pop(out);
}

}  // namespace weft::detail
