// Compiles <weft/parallel_scan.hpp> on its own.
#include <weft/parallel_scan.hpp>
