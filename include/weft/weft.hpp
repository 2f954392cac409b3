// weft — umbrella header.
#pragma once

#include <weft/detail/config.hpp>  // first: below C++20, its #error and nothing else

#include <weft/algorithms.hpp>
#include <weft/errors.hpp>
#include <weft/parallel_pipeline.hpp>
#include <weft/parallel_scan.hpp>
#include <weft/parallel_sort.hpp>
#include <weft/executor.hpp>
#include <weft/future.hpp>
#include <weft/task_graph.hpp>
#include <weft/task_group.hpp>
#include <weft/this_worker.hpp>
#include <weft/thread_pool_executor.hpp>
#include <weft/wait.hpp>
#include <weft/when_all.hpp>
