// weft — umbrella header.
#pragma once

#include <weft/errors.hpp>
#include <weft/executor.hpp>
#include <weft/task_group.hpp>
#include <weft/this_worker.hpp>
