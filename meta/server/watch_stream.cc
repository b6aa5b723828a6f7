#include "meta/server/watch_stream.h"

#include <utility>

namespace dfs::meta {

WatchStream::WatchStream(grpc::CallbackServerContext* ctx, WatchHub* hub, uint64_t term,
                         std::vector<uint64_t> own_sessions)
    : ctx_(ctx), hub_(hub) {
  // Sends started before the handler returns this reactor wait in gRPC's
  // backlog until it is bound to the call.
  subscription_ = hub_->Subscribe(this, term, std::move(own_sessions));
  if (subscription_ == nullptr) {
    Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "this server is no longer the leader, or shutting down"));
  }
}

void WatchStream::SendEvent(pb::WatchEvent event) {
  writing_ = std::move(event);
  StartWrite(&writing_);
}

void WatchStream::AbortSend() {
  ctx_->TryCancel();
}

void WatchStream::EndStream(const Status& status) {
  Finish(grpc::Status(static_cast<grpc::StatusCode>(status.ToGrpcCode()), status.message()));
}

void WatchStream::OnWriteDone(bool ok) {
  subscription_->SendDone(ok);
}

void WatchStream::OnCancel() {
  if (subscription_ != nullptr) subscription_->Cancelled();
}

void WatchStream::OnDone() {
  if (subscription_ != nullptr) {
    subscription_->Detach();
    hub_->Unsubscribe(subscription_.get());
  }
  delete this;
}

WatchRefusal::WatchRefusal(pb::Error error) {
  *event_.mutable_error() = std::move(error);
  StartWriteAndFinish(&event_, grpc::WriteOptions(), grpc::Status::OK);
}

void WatchRefusal::OnDone() {
  delete this;
}

}  // namespace dfs::meta
