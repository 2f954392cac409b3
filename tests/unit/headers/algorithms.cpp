// Compiles <weft/algorithms.hpp> on its own.
#include <weft/algorithms.hpp>
