// Compiles <weft/wait.hpp> on its own.
#include <weft/wait.hpp>
