// weft — the exceptions weft throws.
#pragma once

#include <stdexcept>
#include <string>

namespace weft {

/// Thrown when work is submitted to an executor that has begun shutting down.
class executor_shutdown_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace weft
