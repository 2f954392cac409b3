// Compiles <weft/detail/work_stealing_deque.hpp> on its own.
#include <weft/detail/work_stealing_deque.hpp>
