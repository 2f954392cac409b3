// Compiles <weft/detail/scheduler.hpp> on its own.
#include <weft/detail/scheduler.hpp>
