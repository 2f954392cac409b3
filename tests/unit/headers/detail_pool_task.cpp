// Compiles <weft/detail/pool_task.hpp> on its own.
#include <weft/detail/pool_task.hpp>
