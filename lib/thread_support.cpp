// weft — thread names and exception descriptions shared by the executor, the futures and
// the thread pool.
#include "thread_support.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#if defined(__linux__)
#include <pthread.h>
#endif

namespace weft::detail {

std::string os_thread_name(const std::string& prefix, std::size_t index) {
    char suffix[24];
    const int suffix_len = std::snprintf(suffix, sizeof suffix, "_%zu", index);
    constexpr int k_max = 15;
    const int room = std::max(0, k_max - suffix_len);
    char name[64];
    std::snprintf(name, sizeof name, "%.*s%s", room, prefix.c_str(), suffix);
    return name;
}

void set_current_thread_name(const std::string& name) noexcept {
#if defined(__linux__)
    pthread_setname_np(pthread_self(), name.c_str());
#else
    (void)name;
#endif
}

std::optional<std::string> exception_what(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        return std::string{ex.what()};
    } catch (...) {
        return std::nullopt;
    }
}

}  // namespace weft::detail
