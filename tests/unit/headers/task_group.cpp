// Compiles <weft/task_group.hpp> on its own.
#include <weft/task_group.hpp>
