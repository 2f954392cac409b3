// weft — small helpers the executor, the futures and the thread pool share. Private to
// lib/ (not installed).
#pragma once

#include <cstddef>
#include <exception>
#include <optional>
#include <string>

namespace weft::detail {

/// `<prefix>_<index>`, cut to the 15 characters Linux keeps for a thread name: the
/// prefix gives way, the index stays.
std::string os_thread_name(const std::string& prefix, std::size_t index);

/// Names the calling thread (where the platform supports it).
void set_current_thread_name(const std::string& name) noexcept;

/// what() of the exception in `e`; nullopt if it is not a std::exception.
std::optional<std::string> exception_what(const std::exception_ptr& e);

}  // namespace weft::detail
