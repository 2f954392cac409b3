// Compiles <weft/detail/future_state.hpp> on its own.
#include <weft/detail/future_state.hpp>
