// Compiles <weft/detail/sleep_protocol.hpp> on its own.
#include <weft/detail/sleep_protocol.hpp>
