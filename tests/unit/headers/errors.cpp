// Compiles <weft/errors.hpp> on its own.
#include <weft/errors.hpp>
