// Compiles <weft/detail/future_continuations.hpp> on its own.
#include <weft/detail/future_continuations.hpp>
