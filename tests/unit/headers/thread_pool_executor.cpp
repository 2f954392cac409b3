// Compiles <weft/thread_pool_executor.hpp> on its own.
#include <weft/thread_pool_executor.hpp>
