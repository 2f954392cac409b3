// Compiles <weft/parallel_pipeline.hpp> on its own.
#include <weft/parallel_pipeline.hpp>
