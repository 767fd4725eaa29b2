#include "version.h"

#ifndef LMDBG_VERSION
#error "LMDBG_VERSION is set by CMakeLists.txt from package.json"
#endif

namespace lmdbg {

const char* version() { return LMDBG_VERSION; }

}  // namespace lmdbg
