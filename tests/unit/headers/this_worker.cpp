// Compiles <weft/this_worker.hpp> on its own.
#include <weft/this_worker.hpp>
