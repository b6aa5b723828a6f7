#include "proto/wire_error.h"

namespace dfs {

void StatusToProto(const Status& status, pb::Error* error) {
  error->set_code(static_cast<uint32_t>(status.code()));
  error->set_message(std::string(status.message()));
}

Status StatusFromProto(const pb::Error& error) {
  if (error.code() == 0) return Status::Ok();
  return Status(ErrorCodeFromNumber(error.code()), error.message());
}

}  // namespace dfs
