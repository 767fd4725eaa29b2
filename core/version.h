// lmdbg's version: package.json's "version", read by CMake at configure time (one source of truth).
#pragma once

namespace lmdbg {

const char* version();

}  // namespace lmdbg
