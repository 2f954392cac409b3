// Compiles <weft/detail/iterable.hpp> on its own.
#include <weft/detail/iterable.hpp>
