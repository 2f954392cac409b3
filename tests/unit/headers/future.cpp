// Compiles <weft/future.hpp> on its own.
#include <weft/future.hpp>
