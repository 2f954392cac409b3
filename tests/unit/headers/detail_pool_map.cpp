// Compiles <weft/detail/pool_map.hpp> on its own.
#include <weft/detail/pool_map.hpp>
