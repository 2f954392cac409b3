// Compiles <weft/parallel_sort.hpp> on its own.
#include <weft/parallel_sort.hpp>
