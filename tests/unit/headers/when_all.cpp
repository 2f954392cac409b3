// Compiles <weft/when_all.hpp> on its own.
#include <weft/when_all.hpp>
