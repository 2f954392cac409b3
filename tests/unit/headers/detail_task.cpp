// Compiles <weft/detail/task.hpp> on its own.
#include <weft/detail/task.hpp>
