// The one error type of core/. Every bad input (file, argument, index) throws lmdbg::Error;
// nothing in core/ calls exit() or abort() on user input.
#pragma once
#include <stdexcept>
#include <string>

namespace lmdbg {

enum class ErrorCode {
  kInvalidArgument,  // a caller passed something out of range or malformed
  kBadFile,          // a checkpoint / tokenizer / config file is malformed
  kMissing,          // a required tensor, field or file is absent
  kOutOfMemory,      // a model or request is too large for the available memory
  kState,            // the object is in the wrong state (e.g. context full)
};

const char* error_code_name(ErrorCode c);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& msg) : std::runtime_error(msg), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

[[noreturn]] inline void fail(ErrorCode code, const std::string& msg) { throw Error(code, msg); }
[[noreturn]] inline void invalid(const std::string& msg) { throw Error(ErrorCode::kInvalidArgument, msg); }
[[noreturn]] inline void bad_file(const std::string& msg) { throw Error(ErrorCode::kBadFile, msg); }

inline void require(bool ok, ErrorCode code, const std::string& msg) {
  if (!ok) throw Error(code, msg);
}

}  // namespace lmdbg
