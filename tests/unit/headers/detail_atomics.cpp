// Compiles <weft/detail/atomics.hpp> on its own.
#include <weft/detail/atomics.hpp>
