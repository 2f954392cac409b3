// Compiles <weft/task_graph.hpp> on its own.
#include <weft/task_graph.hpp>
