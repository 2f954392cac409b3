// Compiles <weft/detail/thread_pool_core.hpp> on its own.
#include <weft/detail/thread_pool_core.hpp>
