#include "meta/raft/transport.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "common/logging.h"
#include "meta/raft/message_proto.h"
#include "proto/channel_args.h"
#include "proto/raft.grpc.pb.h"
#include "proto/tls.h"

namespace dfs::raft {

namespace fs = std::filesystem;

namespace {

// A file name inside a snapshot: no directories, no way out of the folder.
bool SafeFileName(const std::string& name) {
  return !name.empty() && name.size() < 256 && name.find('/') == std::string::npos && name != "." &&
         name != "..";
}

}  // namespace

// ---------------------------------------------------------------- receiving

class RaftTransport::Service final : public pb::RaftService::Service {
 public:
  Service(const TransportOptions& options, const ClusterIdentity& cluster_id,
          TransportHandler* handler)
      : options_(options), cluster_id_(cluster_id), handler_(handler) {}

  grpc::Status Send(grpc::ServerContext* ctx, grpc::ServerReader<pb::RaftBatch>* reader,
                    pb::RaftAck*) override {
    // Only members of the cluster (node certificates) take part in Raft.
    if (!tls::PeerOf(*ctx).node()) return tls::PermissionDenied();
    pb::RaftBatch batch;
    while (reader->Read(&batch)) {
      if (!cluster_id_.Accepts(batch.header().cluster_id())) {
        return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                            "cluster id mismatch: this is " + cluster_id_.Get());
      }
      for (pb::RaftMessage& pm : *batch.mutable_messages()) {
        Message m;
        if (!FromProto(&pm, &m) || m.to != options_.self || m.type == MessageType::kSnap) {
          return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "malformed Raft message");
        }
        handler_->OnMessage(std::move(m));
      }
    }
    return grpc::Status::OK;
  }

  grpc::Status InstallSnapshot(grpc::ServerContext* ctx,
                               grpc::ServerReader<pb::SnapshotPiece>* reader,
                               pb::RaftAck*) override {
    // Only members of the cluster (node certificates) take part in Raft.
    if (!tls::PeerOf(*ctx).node()) return tls::PermissionDenied();
    pb::SnapshotPiece piece;
    Message m;
    std::string dir;
    std::ofstream out;
    std::string current_file;
    uint64_t file_bytes = 0;  // written to current_file so far
    auto fail = [&](const std::string& why) {
      if (!dir.empty()) fs::remove_all(dir);
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, why);
    };
    bool first = true, complete = false;
    while (reader->Read(&piece)) {
      if (!cluster_id_.Accepts(piece.header().cluster_id())) return fail("cluster id mismatch");
      if (first) {
        first = false;
        if (!FromProto(piece.mutable_message(), &m) || m.type != MessageType::kSnap ||
            m.to != options_.self) {
          return fail("first snapshot piece lacks the message");
        }
        static std::atomic<uint64_t> counter{0};
        dir = options_.incoming_dir + "/snap-" + std::to_string(m.snapshot->meta.index) + "-" +
              std::to_string(counter++);
        std::error_code ec;
        fs::remove_all(dir, ec);
        fs::create_directories(dir, ec);
        if (ec) return fail("cannot create " + dir + ": " + ec.message());
      }
      if (!piece.file().empty()) {
        if (!SafeFileName(piece.file())) return fail("bad file name in snapshot");
        if (piece.file() != current_file) {
          out.close();
          current_file = piece.file();
          out.open(dir + "/" + current_file, std::ios::binary | std::ios::trunc);
          if (!out) return fail("cannot write " + current_file);
          file_bytes = 0;
        }
        // A file streams in order from its start (StreamSnapshot): a piece
        // anywhere else, a hole up to any offset, is none an honest peer sends.
        if (piece.offset() != file_bytes) return fail("snapshot piece out of order");
        out.write(piece.data().data(), static_cast<std::streamsize>(piece.data().size()));
        file_bytes += piece.data().size();
        if (!out) return fail("write failed in " + current_file);
      }
      if (piece.last()) {
        complete = true;
        break;
      }
    }
    out.close();
    if (!complete) return fail("snapshot stream ended early");
    DFS_LOG(INFO) << "received snapshot at index " << m.snapshot->meta.index << " from node "
                  << m.from;
    handler_->OnSnapshot(std::move(m), dir);
    return grpc::Status::OK;
  }

 private:
  const TransportOptions& options_;
  const ClusterIdentity& cluster_id_;
  TransportHandler* handler_;
};

// ------------------------------------------------------------------ sending

class RaftTransport::Peer {
 public:
  Peer(NodeId id, std::string address, const TransportOptions& options,
       const ClusterIdentity& cluster_id, TransportHandler* handler)
      : id_(id), options_(options), cluster_id_(cluster_id), handler_(handler) {
    SetAddress(std::move(address));
    thread_ = std::thread([this] { Run(); });
  }

  ~Peer() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      if (context_) context_->TryCancel();
    }
    cv_.notify_all();
    thread_.join();
    {
      std::lock_guard lock(mu_);
      for (auto* ctx : snapshot_contexts_)
        ctx->TryCancel();
    }
    for (auto& s : snapshot_threads_)
      s.thread.join();
  }

  void SetAddress(std::string address) {
    std::lock_guard lock(mu_);
    if (address == address_) return;
    address_ = std::move(address);
    grpc::ChannelArguments args = MetaChannelArgs(/*keepalive=*/true);
    channel_ = tls::Channel(address_, args);
    stub_ = pb::RaftService::NewStub(channel_);
    if (context_) context_->TryCancel();  // reconnect to the new address
  }

  const std::string& address() const { return address_; }

  void Enqueue(Message m) {
    {
      std::lock_guard lock(mu_);
      if (queue_.size() >= options_.max_queued_per_peer) {
        // Raft tolerates loss; an unbounded queue to a dead peer would not.
        queue_.pop_front();
      }
      queue_.push_back(std::move(m));
    }
    cv_.notify_one();
  }

  void SendSnapshot(Message m, std::string dir) {
    std::lock_guard lock(mu_);
    // The core sends one snapshot to a peer at a time; reap the finished
    // streams so a slow follower does not collect threads.
    std::erase_if(snapshot_threads_, [](SnapshotThread& s) {
      if (!*s.done) return false;
      s.thread.join();
      return true;
    });
    auto done = std::make_shared<std::atomic<bool>>(false);
    snapshot_threads_.push_back(
        SnapshotThread{std::thread([this, done, m = std::move(m), dir = std::move(dir)] {
                         bool ok = StreamSnapshot(m, dir);
                         handler_->OnSnapshotSent(id_, !ok);
                         *done = true;
                       }),
                       done});
  }

 private:
  void Run() {
    std::unique_ptr<grpc::ClientWriter<pb::RaftBatch>> writer;
    pb::RaftAck ack;
    auto backoff = std::chrono::milliseconds(20);
    while (true) {
      std::deque<Message> batch;
      std::shared_ptr<pb::RaftService::Stub> stub;
      grpc::ClientContext* opening = nullptr;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (stopping_) break;
        batch.swap(queue_);
        stub = stub_;
        if (!writer) {
          context_ = std::make_unique<grpc::ClientContext>();
          opening = context_.get();
        }
      }
      // Opening a stream can block until the connection is up (a host that
      // does not answer): never with the lock held, so the Raft thread's
      // Enqueue does not wait on it. ~Peer cancels through context_.
      if (opening) writer = stub->Send(opening, &ack);
      pb::RaftBatch out;
      out.mutable_header()->set_cluster_id(cluster_id_.Get());
      size_t bytes = 0;
      bool ok = true;
      for (Message& m : batch) {
        ToProto(m, out.add_messages());
        for (const Entry& e : m.entries)
          bytes += e.data.size();
        if (bytes >= options_.max_batch_bytes) {
          ok = ok && writer->Write(out);
          out.clear_messages();
          bytes = 0;
        }
      }
      if (ok && out.messages_size() > 0) ok = writer->Write(out);
      if (ok) {
        backoff = std::chrono::milliseconds(20);
        continue;
      }
      // The stream broke: the peer is down or restarting. Drop this batch
      // (Raft retransmits), tell Raft, and reconnect after a pause.
      writer->Finish().error_code();
      writer.reset();
      handler_->OnUnreachable(id_);
      std::unique_lock lock(mu_);
      context_.reset();
      cv_.wait_for(lock, backoff, [&] { return stopping_; });
      backoff = std::min(backoff * 2, std::chrono::milliseconds(500));
      queue_.clear();
    }
    if (writer) {
      writer->WritesDone();
      writer->Finish().error_code();
    }
  }

  bool StreamSnapshot(const Message& m, const std::string& dir) {
    std::shared_ptr<pb::RaftService::Stub> stub;
    {
      std::lock_guard lock(mu_);
      stub = stub_;
    }
    grpc::ClientContext ctx;
    {
      // Cancelled by ~Peer, so removing a peer never waits for a transfer.
      std::lock_guard lock(mu_);
      if (stopping_) return false;
      snapshot_contexts_.insert(&ctx);
    }
    struct Unregister {
      Peer* peer;
      grpc::ClientContext* ctx;
      ~Unregister() {
        std::lock_guard lock(peer->mu_);
        peer->snapshot_contexts_.erase(ctx);
      }
    } unregister{this, &ctx};
    pb::RaftAck ack;
    auto writer = stub->InstallSnapshot(&ctx, &ack);
    // Every failed path ends the call properly: cancel, then Finish.
    auto abandon = [&] {
      ctx.TryCancel();
      writer->Finish().error_code();
      return false;
    };
    pb::SnapshotPiece piece;
    piece.mutable_header()->set_cluster_id(cluster_id_.Get());
    ToProto(m, piece.mutable_message());
    std::error_code ec;
    std::vector<std::string> files;
    for (const auto& f : fs::directory_iterator(dir, ec)) {
      if (f.is_regular_file()) files.push_back(f.path().filename().string());
    }
    if (ec) {
      DFS_LOG(WARN) << "cannot list snapshot " << dir << ": " << ec.message();
      return abandon();
    }
    std::vector<char> buf(options_.snapshot_piece_bytes);
    for (const std::string& name : files) {
      std::ifstream in(dir + "/" + name, std::ios::binary);
      if (!in) {
        // A snapshot missing a file must not arrive as complete.
        DFS_LOG(WARN) << "cannot read snapshot file " << dir << "/" << name;
        return abandon();
      }
      uint64_t offset = 0;
      bool wrote_any = false;
      while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        std::streamsize n = in.gcount();
        if (n <= 0 && wrote_any) break;
        piece.set_file(name);
        piece.set_offset(offset);
        piece.set_data(buf.data(), static_cast<size_t>(std::max<std::streamsize>(n, 0)));
        if (!writer->Write(piece)) return abandon();
        piece.clear_message();
        offset += static_cast<uint64_t>(std::max<std::streamsize>(n, 0));
        wrote_any = true;
        if (n <= 0) break;
      }
    }
    piece.clear_file();
    piece.clear_data();
    piece.set_last(true);
    if (!writer->Write(piece)) return abandon();
    writer->WritesDone();
    grpc::Status status = writer->Finish();
    if (!status.ok()) {
      DFS_LOG(WARN) << "snapshot to node " << id_ << " failed: " << status.error_message();
    }
    return status.ok();
  }

  const NodeId id_;
  const TransportOptions& options_;
  const ClusterIdentity& cluster_id_;
  TransportHandler* handler_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::shared_ptr<pb::RaftService::Stub> stub_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::deque<Message> queue_;
  struct SnapshotThread {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<SnapshotThread> snapshot_threads_;
  std::set<grpc::ClientContext*> snapshot_contexts_;
  std::thread thread_;
};

// ---------------------------------------------------------------- transport

void ConfigureRaftServer(grpc::ServerBuilder* builder) {
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 500);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder->SetMaxReceiveMessageSize(64 << 20);
  builder->SetMaxSendMessageSize(64 << 20);
}

RaftTransport::RaftTransport(TransportOptions options, TransportHandler* handler)
    : options_(std::move(options)),
      cluster_id_(options_.cluster_id),
      handler_(handler),
      service_(std::make_unique<Service>(options_, cluster_id_, handler)) {}

RaftTransport::~RaftTransport() {
  Stop();
}

grpc::Service* RaftTransport::service() {
  return service_.get();
}

void RaftTransport::SetPeer(NodeId id, const std::string& address) {
  if (id == options_.self) return;
  std::lock_guard lock(mu_);
  auto it = peers_.find(id);
  if (it != peers_.end()) {
    it->second->SetAddress(address);
    return;
  }
  peers_.emplace(id, std::make_unique<Peer>(id, address, options_, cluster_id_, handler_));
}

void RaftTransport::RemovePeer(NodeId id) {
  std::unique_ptr<Peer> peer;
  {
    std::lock_guard lock(mu_);
    auto it = peers_.find(id);
    if (it == peers_.end()) return;
    peer = std::move(it->second);
    peers_.erase(it);
  }
  // Joins the peer's threads outside the lock.
}

std::map<NodeId, std::string> RaftTransport::Peers() const {
  std::lock_guard lock(mu_);
  std::map<NodeId, std::string> out;
  for (const auto& [id, peer] : peers_)
    out[id] = peer->address();
  return out;
}

void RaftTransport::Send(std::vector<Message> messages) {
  std::lock_guard lock(mu_);
  for (Message& m : messages) {
    auto it = peers_.find(m.to);
    if (it == peers_.end()) {
      DFS_LOG(DEBUG) << "no address for node " << m.to << "; dropping " << MessageTypeName(m.type);
      continue;
    }
    it->second->Enqueue(std::move(m));
  }
}

void RaftTransport::SendSnapshot(Message m, std::string dir) {
  std::lock_guard lock(mu_);
  auto it = peers_.find(m.to);
  if (it == peers_.end()) return;
  it->second->SendSnapshot(std::move(m), std::move(dir));
}

void RaftTransport::Stop() {
  std::map<NodeId, std::unique_ptr<Peer>> peers;
  {
    std::lock_guard lock(mu_);
    peers.swap(peers_);
  }
  peers.clear();
}

}  // namespace dfs::raft
