// Compiles <weft/detail/task_sink.hpp> on its own.
#include <weft/detail/task_sink.hpp>
