// weft — the language check every public header makes first. Not API.
//
// weft needs C++20 (concepts, std::span, designated initializers, <ranges>). An older
// -std gets this one #error, and WEFT_DETAIL_HAS_CXX20 is 0 so that the public headers
// skip their bodies instead of burying it under hundreds of follow-on errors (g++ and
// clang go on compiling after #error). g++ 12 still defaults to C++17: pass -std=c++20.
#pragma once

#if !defined(__cplusplus) || __cplusplus < 202002L
#error "weft requires C++20 or later: compile with -std=c++20 (or a later standard)"
#define WEFT_DETAIL_HAS_CXX20 0
#else
/// 1 when the language is C++20 or later; public headers compile their bodies only then.
#define WEFT_DETAIL_HAS_CXX20 1
#endif
