// Compiles <weft/detail/config.hpp> on its own; this suite is C++20, so the check passes.
#include <weft/detail/config.hpp>

static_assert(WEFT_DETAIL_HAS_CXX20 == 1);
