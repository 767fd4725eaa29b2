#include "error.h"

namespace lmdbg {

const char* error_code_name(ErrorCode c) {
  switch (c) {
    case ErrorCode::kInvalidArgument: return "InvalidArgument";
    case ErrorCode::kBadFile: return "BadFile";
    case ErrorCode::kMissing: return "Missing";
    case ErrorCode::kOutOfMemory: return "OutOfMemory";
    case ErrorCode::kState: return "State";
  }
  return "Unknown";
}

}  // namespace lmdbg
