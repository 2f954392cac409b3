// Compiles <weft/detail/mpmc_queue.hpp> on its own.
#include <weft/detail/mpmc_queue.hpp>
