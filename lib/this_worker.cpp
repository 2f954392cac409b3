// weft — weft::this_worker.
#include <weft/executor.hpp>
#include <weft/this_worker.hpp>

namespace weft::this_worker {

std::optional<std::size_t> index() noexcept {
    if (const detail::worker* w = detail::current_worker()) return w->m_index;
    return std::nullopt;
}

std::string_view name() noexcept {
    if (const detail::worker* w = detail::current_worker()) return w->m_name;
    return {};
}

weft::executor* executor() noexcept {
    if (const detail::worker* w = detail::current_worker()) return &w->m_sched->owner();
    return nullptr;
}

}  // namespace weft::this_worker
