// Compiles <weft/weft.hpp> on its own.
#include <weft/weft.hpp>
