// weft — what the calling thread is.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace weft {
class executor;
}

namespace weft::this_worker {

/// The calling worker's index in its executor, or nullopt off a worker. Thread-safe.
std::optional<std::size_t> index() noexcept;
/// The calling worker's thread name (`<prefix>_<i>`), or "" off a worker. Thread-safe.
std::string_view name() noexcept;
/// The executor the calling worker belongs to, or nullptr off a worker. Thread-safe.
weft::executor* executor() noexcept;

}  // namespace weft::this_worker
