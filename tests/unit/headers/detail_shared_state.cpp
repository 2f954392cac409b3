// Compiles <weft/detail/shared_state.hpp> on its own.
#include <weft/detail/shared_state.hpp>
