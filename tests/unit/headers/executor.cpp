// Compiles <weft/executor.hpp> on its own.
#include <weft/executor.hpp>
