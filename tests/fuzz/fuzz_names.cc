// Fuzzes the name checks of meta/ops/validate.h: the input is one candidate
// name, given as is to ValidateName, ValidateXattrName and
// ValidateSymlinkTarget. Besides not crashing, each must accept exactly what
// its contract says (a reference written here from the header's comments)
// and reject the rest with the documented code:
//   name:    1-255 bytes, no '/', no NUL, not "." or ".."; NAME_TOO_LONG
//            above 255 bytes, INVALID_ARGUMENT otherwise
//   xattr:   1-255 bytes, no NUL, "user."/"trusted."/"security."/"system."
//            and at least one byte more; RANGE above 255 bytes,
//            INVALID_ARGUMENT when empty or with a NUL, NOT_SUPPORTED
//            outside the namespaces
//   symlink: 1-4095 bytes without NUL; NOT_FOUND when empty,
//            NAME_TOO_LONG above 4095, INVALID_ARGUMENT with a NUL
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/status.h"
#include "meta/ops/validate.h"

namespace {

using dfs::ErrorCode;
using dfs::Status;

void Expect(bool ok, const char* what, const std::string& input, const Status& got) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_names: %s (input of %zu bytes, got %s: %s)\n", what, input.size(),
               dfs::ErrorCodeName(got.code()), got.message().c_str());
  std::abort();
}

bool HasNul(std::string_view s) {
  return s.find('\0') != std::string_view::npos;
}

ErrorCode ExpectedNameCode(const std::string& s) {
  if (s.empty()) return ErrorCode::INVALID_ARGUMENT;
  if (s.size() > dfs::meta::kMaxNameLength) return ErrorCode::NAME_TOO_LONG;
  if (s == "." || s == ".." || s.find('/') != std::string::npos || HasNul(s)) {
    return ErrorCode::INVALID_ARGUMENT;
  }
  return ErrorCode::OK;
}

ErrorCode ExpectedXattrCode(const std::string& s) {
  if (s.empty()) return ErrorCode::INVALID_ARGUMENT;
  if (s.size() > dfs::meta::kMaxXattrNameLength) return ErrorCode::RANGE;
  if (HasNul(s)) return ErrorCode::INVALID_ARGUMENT;
  for (std::string_view prefix : {"user.", "trusted.", "security.", "system."}) {
    if (s.size() > prefix.size() && std::string_view(s).starts_with(prefix)) return ErrorCode::OK;
  }
  return ErrorCode::NOT_SUPPORTED;
}

ErrorCode ExpectedSymlinkCode(const std::string& s) {
  if (s.empty()) return ErrorCode::NOT_FOUND;
  if (s.size() > dfs::meta::kMaxSymlinkLength) return ErrorCode::NAME_TOO_LONG;
  if (HasNul(s)) return ErrorCode::INVALID_ARGUMENT;
  return ErrorCode::OK;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);

  const Status name = dfs::meta::ValidateName(input);
  Expect(name.code() == ExpectedNameCode(input), "ValidateName disagrees with its contract", input,
         name);
  if (name.ok()) {
    // The properties a directory entry relies on, stated once more plainly.
    Expect(!input.empty() && input.size() <= 255, "accepted name of bad length", input, name);
    Expect(input.find('/') == std::string::npos && !HasNul(input), "accepted '/' or NUL", input,
           name);
    Expect(input != "." && input != "..", "accepted . or ..", input, name);
  }

  const Status xattr = dfs::meta::ValidateXattrName(input);
  Expect(xattr.code() == ExpectedXattrCode(input), "ValidateXattrName disagrees with its contract",
         input, xattr);
  if (xattr.ok()) {
    Expect(input.size() <= 255 && !HasNul(input) && input.find('.') != std::string::npos &&
               input.back() != '\0',
           "accepted a bad xattr name", input, xattr);
  }

  const Status target = dfs::meta::ValidateSymlinkTarget(input);
  Expect(target.code() == ExpectedSymlinkCode(input),
         "ValidateSymlinkTarget disagrees with its contract", input, target);
  if (target.ok()) {
    Expect(!input.empty() && input.size() <= 4095 && !HasNul(input), "accepted a bad target", input,
           target);
  }
  return 0;
}
