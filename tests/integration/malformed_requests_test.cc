// Integration (input hardening): malformed requests against three real
// dfs-meta and three real dfs-chunkserver processes.
//
// The requests come from the schema. For every method of MetaService,
// AdminService and ChunkService (as their service descriptors list them;
// a method without a base request below fails the test), a valid-looking
// base request is changed one field at a time, with protobuf reflection, to
// the bad values of the field's type: 0 and the largest number; negative
// numbers; NaN, infinities and 1e300; unknown enum values; strings and bytes
// that are empty, "/", "a/b", hold a NUL, are "." or "..", 256 bytes or
// 10 MiB, or (strings) not UTF-8; repeated fields emptied, or of 100000
// items, or with a bad first item; nested messages cleared or with bad
// fields of their own, and so on down. Each method also gets bytes that are
// no protobuf at all. Every request goes through a real gRPC call (the
// generic stub: the test needs no per-method code to send one).
//
// Each must get an error (in its reply, or as a gRPC status such as
// INVALID_ARGUMENT or RESOURCE_EXHAUSTED), or, where the value is legal
// (`lenient`), a well-formed reply; none may hang or break the connection.
// Then every daemon must still be running and answer a normal request, and
// nothing may have changed: a digest of the namespace (entries, attributes,
// xattrs, chunk maps, symlinks), the trash, the cluster status (members,
// nodes, replicas per node, repair limits, locks) and every chunk server's
// replica files and bytes is the same before and after.
//
// No request of the run may legally change anything: each base is either a
// no-op (a create of an existing name, a write of the bytes already there, a
// truncate to the length already there, a version move to the version
// already there, a rechain to the chain already there) or aimed at
// something that does not exist. The few bad-looking values that are legal
// and would change state (`skip`: a new chunk server, a new lock session, a
// new member) are not sent.
#define CATCH_CONFIG_MAIN
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "client/chunk_client.h"
#include "client/meta_client.h"
#include "common/checksum.h"
#include "proto/admin.grpc.pb.h"
#include "proto/chunk.grpc.pb.h"
#include "proto/meta.grpc.pb.h"
#include "tests/support/bytes.h"
#include "tests/support/chunk_servers.h"
#include "tests/support/meta_leader.h"
#include "tests/support/server_group.h"

namespace dfs {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::MethodDescriptor;
using google::protobuf::Reflection;
using google::protobuf::ServiceDescriptor;
using namespace std::chrono_literals;

constexpr uint64_t kRoot = 1;
constexpr uint64_t kNowhere = uint64_t{1} << 40;  // no inode, node, chunk or session has it
constexpr int kHugeCount = 100000;                // items of a huge repeated field
constexpr int kMaxDepth = 3;                      // nesting the variants reach into
constexpr int kStreamEventsMax = 100000;          // a stream read to its end
constexpr auto kCallTimeout = 20s;                // longer is a hang
constexpr size_t kHugeBytes = 10 << 20;

// ------------------------------------------------------------- bad values

// One malformed request: the base with the field at `path` set to the
// value called `label`.
struct Variant {
  std::string path;
  std::string label;
  std::function<void(Message*)> apply;  // on a copy of the base
};

// Where a (nested) message sits in the request.
using Locate = std::function<Message*(Message*)>;

// The value a string or bytes variant called `label` sets; built when
// applied (a few hundred variants must not each hold 10 MiB).
std::string StringValue(const std::string& label) {
  if (label == "empty") return "";
  if (label == "slash") return "/";
  if (label == "a/b") return "a/b";
  if (label == "nul") return std::string("a\0b", 3);
  if (label == "dot") return ".";
  if (label == "dotdot") return "..";
  if (label == "256B") return std::string(256, 'n');
  if (label == "10MiB") return std::string(kHugeBytes, 'x');
  return "\xff\xfe";  // not-utf8
}

std::vector<std::string> StringLabels(const FieldDescriptor* f) {
  std::vector<std::string> labels = {"empty", "slash",  "a/b",  "nul",
                                     "dot",   "dotdot", "256B", "10MiB"};
  // Names are bytes: any byte but '/' and NUL is legal in them. A string
  // field must hold UTF-8; one that does not fails to parse.
  if (f->type() == FieldDescriptor::TYPE_STRING) labels.push_back("not-utf8");
  return labels;
}

// Sets the numeric value `label` names: the field, a new item of a
// repeated field (kAdd), or its first item (kFirst).
enum class Put { kSet, kAdd, kFirst };
void SetNumber(Message* m, const FieldDescriptor* f, const std::string& label, Put put) {
  const Reflection* r = m->GetReflection();
  auto pick = [&](auto zero, auto max, auto min) {
    if (label == "max") return max;
    if (label == "min") return min;
    if (label == "-1") return decltype(zero){} - 1;
    return zero;
  };
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_UINT64: {
      const uint64_t v = pick(uint64_t{0}, std::numeric_limits<uint64_t>::max(), uint64_t{0});
      if (put == Put::kSet) r->SetUInt64(m, f, v);
      if (put == Put::kAdd) r->AddUInt64(m, f, v);
      if (put == Put::kFirst) r->SetRepeatedUInt64(m, f, 0, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      const uint32_t v = pick(uint32_t{0}, std::numeric_limits<uint32_t>::max(), uint32_t{0});
      if (put == Put::kSet) r->SetUInt32(m, f, v);
      if (put == Put::kAdd) r->AddUInt32(m, f, v);
      if (put == Put::kFirst) r->SetRepeatedUInt32(m, f, 0, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      const int64_t v = pick(int64_t{0}, std::numeric_limits<int64_t>::max(),
                             std::numeric_limits<int64_t>::min());
      if (put == Put::kSet) r->SetInt64(m, f, v);
      if (put == Put::kAdd) r->AddInt64(m, f, v);
      if (put == Put::kFirst) r->SetRepeatedInt64(m, f, 0, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_INT32: {
      const int32_t v = pick(int32_t{0}, std::numeric_limits<int32_t>::max(),
                             std::numeric_limits<int32_t>::min());
      if (put == Put::kSet) r->SetInt32(m, f, v);
      if (put == Put::kAdd) r->AddInt32(m, f, v);
      if (put == Put::kFirst) r->SetRepeatedInt32(m, f, 0, v);
      break;
    }
    default:
      break;  // not a number
  }
}

std::vector<std::string> NumberLabels(const FieldDescriptor* f) {
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_UINT64:
    case FieldDescriptor::CPPTYPE_UINT32:
      return {"0", "max"};
    default:
      return {"0", "max", "min", "-1"};
  }
}

double DoubleValue(const std::string& label) {
  if (label == "nan") return std::nan("");
  if (label == "-inf") return -std::numeric_limits<double>::infinity();
  if (label == "inf") return std::numeric_limits<double>::infinity();
  if (label == "-1") return -1;
  return 1e300;
}

void Collect(const Descriptor* d, const std::string& prefix, const Locate& at, const Message& base,
             int depth, std::vector<Variant>* out);

// The variants of one field of the message at `at`.
void CollectField(const FieldDescriptor* f, const std::string& prefix, const Locate& at,
                  const Message& base, int depth, std::vector<Variant>* out) {
  const std::string path = prefix + f->name();
  auto add = [&](std::string label, std::function<void(Message*)> set) {
    out->push_back(Variant{path, std::move(label),
                           [at, set = std::move(set)](Message* root) { set(at(root)); }});
  };
  const Reflection* r = base.GetReflection();
  using FD = FieldDescriptor;
  if (f->is_repeated()) {
    const int size = r->FieldSize(base, f);
    add("empty", [f](Message* m) { m->GetReflection()->ClearField(m, f); });
    if (f->cpp_type() == FD::CPPTYPE_MESSAGE) {
      // Many copies of the first item (a default one if there is none).
      add(std::to_string(kHugeCount) + " items", [f](Message* m) {
        const Reflection* mr = m->GetReflection();
        if (mr->FieldSize(*m, f) == 0) mr->AddMessage(m, f);
        std::unique_ptr<Message> item(mr->GetRepeatedMessage(*m, f, 0).New());
        item->CopyFrom(mr->GetRepeatedMessage(*m, f, 0));
        for (int i = 1; i < kHugeCount; i++)
          mr->AddMessage(m, f)->CopyFrom(*item);
      });
      if (depth < kMaxDepth) {
        // The first item's fields, one at a time (an item added if none).
        Locate first = [at, f](Message* root) {
          Message* m = at(root);
          const Reflection* mr = m->GetReflection();
          if (mr->FieldSize(*m, f) == 0) mr->AddMessage(m, f);
          return mr->MutableRepeatedMessage(m, f, 0);
        };
        std::unique_ptr<Message> item;
        const Message* item_base;
        if (size > 0) {
          item_base = &r->GetRepeatedMessage(base, f, 0);
        } else {
          item.reset(
              base.GetReflection()->GetMessageFactory()->GetPrototype(f->message_type())->New());
          item_base = item.get();
          add("one default item", [f](Message* m) { m->GetReflection()->AddMessage(m, f); });
        }
        Collect(f->message_type(), path + "[0].", first, *item_base, depth + 1, out);
      }
      return;
    }
    if (f->cpp_type() == FD::CPPTYPE_STRING) {
      add(std::to_string(kHugeCount) + " items", [f](Message* m) {
        for (int i = 0; i < kHugeCount; i++)
          m->GetReflection()->AddString(m, f, "x");
      });
      return;
    }
    if (f->cpp_type() == FD::CPPTYPE_ENUM || f->cpp_type() == FD::CPPTYPE_BOOL ||
        f->cpp_type() == FD::CPPTYPE_DOUBLE || f->cpp_type() == FD::CPPTYPE_FLOAT) {
      return;  // none in the requests
    }
    for (const std::string& label : NumberLabels(f)) {
      add(std::to_string(kHugeCount) + " x " + label, [f, label](Message* m) {
        for (int i = 0; i < kHugeCount; i++)
          SetNumber(m, f, label, Put::kAdd);
      });
      if (size > 0) {
        add("first " + label, [f, label](Message* m) { SetNumber(m, f, label, Put::kFirst); });
      }
    }
    return;
  }
  switch (f->cpp_type()) {
    case FD::CPPTYPE_MESSAGE: {
      add("cleared", [f](Message* m) { m->GetReflection()->ClearField(m, f); });
      if (depth < kMaxDepth) {
        Locate inner = [at, f](Message* root) {
          Message* m = at(root);
          return m->GetReflection()->MutableMessage(m, f);
        };
        Collect(f->message_type(), path + ".", inner, r->GetMessage(base, f), depth + 1, out);
      }
      break;
    }
    case FD::CPPTYPE_STRING:
      for (const std::string& label : StringLabels(f)) {
        add(label,
            [f, label](Message* m) { m->GetReflection()->SetString(m, f, StringValue(label)); });
      }
      break;
    case FD::CPPTYPE_BOOL:
      add("flipped", [f](Message* m) {
        const Reflection* mr = m->GetReflection();
        mr->SetBool(m, f, !mr->GetBool(*m, f));
      });
      break;
    case FD::CPPTYPE_ENUM:
      for (int v : {999, -1}) {
        add(std::to_string(v), [f, v](Message* m) { m->GetReflection()->SetEnumValue(m, f, v); });
      }
      break;
    case FD::CPPTYPE_DOUBLE:
      for (const char* label : {"nan", "-inf", "-1", "1e300"}) {
        add(label, [f, label = std::string(label)](Message* m) {
          m->GetReflection()->SetDouble(m, f, DoubleValue(label));
        });
      }
      break;
    case FD::CPPTYPE_FLOAT:
      break;  // none in the requests
    default:
      for (const std::string& label : NumberLabels(f)) {
        add(label, [f, label](Message* m) { SetNumber(m, f, label, Put::kSet); });
      }
      break;
  }
}

void Collect(const Descriptor* d, const std::string& prefix, const Locate& at, const Message& base,
             int depth, std::vector<Variant>* out) {
  for (int i = 0; i < d->field_count(); i++)
    CollectField(d->field(i), prefix, at, base, depth, out);
}

// Every variant of a request, from its schema.
std::vector<Variant> Variants(const Message& base) {
  std::vector<Variant> out;
  Collect(
      base.GetDescriptor(), "", [](Message* m) { return m; }, base, 0, &out);
  return out;
}

// ------------------------------------------------------------------ calls

// What one call got back.
struct Outcome {
  grpc::StatusCode rpc = grpc::StatusCode::OK;  // the call's gRPC status
  std::string rpc_message;
  bool parsed = true;      // every reply message parsed as the method's reply type
  uint32_t code = 0;       // the first reply's error code (dfs ErrorCode), 0: none
  std::string message;     // and its message
  int events = 0;          // reply messages read
  bool cancelled = false;  // the test ended the stream
};

std::string ToString(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const grpc::Slice& s : slices)
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// The dfs error a reply carries: the reply itself (an Error), or its
// `error` field.
void ReadError(const Message& reply, Outcome* out) {
  const Descriptor* d = reply.GetDescriptor();
  pb::Error error;
  if (d == pb::Error::descriptor()) {
    error.CopyFrom(reply);
  } else if (const FieldDescriptor* f = d->FindFieldByName("error");
             f != nullptr && f->message_type() == pb::Error::descriptor() &&
             reply.GetReflection()->HasField(reply, f)) {
    error.CopyFrom(reply.GetReflection()->GetMessage(reply, f));
  }
  out->code = error.code();
  out->message = error.message();
}

void TakeReply(const MethodDescriptor* method, const std::string& bytes, Outcome* out) {
  const Message* prototype =
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(method->output_type());
  std::unique_ptr<Message> reply(prototype->New());
  if (!reply->ParseFromString(bytes)) {
    out->parsed = false;
    return;
  }
  if (out->events == 0) ReadError(*reply, out);
  out->events++;
}

Outcome CallUnary(grpc::GenericStub* stub, const MethodDescriptor* method,
                  const std::string& payload) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  grpc::ByteBuffer request = ToBuffer(payload), response;
  std::promise<grpc::Status> done;
  const std::string name = "/" + method->service()->full_name() + "/" + method->name();
  stub->UnaryCall(&ctx, name, grpc::StubOptions(), &request, &response,
                  [&done](grpc::Status s) { done.set_value(std::move(s)); });
  grpc::Status s = done.get_future().get();
  Outcome out;
  out.rpc = s.error_code();
  out.rpc_message = s.error_message();
  if (s.ok()) TakeReply(method, ToString(response), &out);
  return out;
}

// A server-streaming call through the generic (bidirectional) stub: the
// request as the only message, then up to `max_events` replies.
class StreamCall : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  StreamCall(grpc::GenericStub* stub, const MethodDescriptor* method, const std::string& payload,
             int max_events)
      : method_(method), request_(ToBuffer(payload)), max_events_(max_events) {
    ctx_.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    stub->PrepareBidiStreamingCall(&ctx_,
                                   "/" + method->service()->full_name() + "/" + method->name(),
                                   grpc::StubOptions(), this);
    StartWriteLast(&request_, grpc::WriteOptions());
    StartRead(&response_);
    StartCall();
  }

  Outcome Wait() {
    grpc::Status s = done_.get_future().get();
    out_.rpc = s.error_code();
    out_.rpc_message = s.error_message();
    return out_;
  }

  void OnWriteDone(bool) override {}
  void OnReadDone(bool ok) override {
    if (!ok) return;
    TakeReply(method_, ToString(response_), &out_);
    if (out_.events >= max_events_ || !out_.parsed) {
      out_.cancelled = true;
      ctx_.TryCancel();
      return;
    }
    StartRead(&response_);
  }
  void OnDone(const grpc::Status& s) override { done_.set_value(s); }

 private:
  const MethodDescriptor* method_;
  grpc::ClientContext ctx_;
  grpc::ByteBuffer request_, response_;
  const int max_events_;
  Outcome out_;
  std::promise<grpc::Status> done_;
};

Outcome Call(grpc::GenericStub* stub, const MethodDescriptor* method, const std::string& payload,
             int stream_events) {
  if (!method->server_streaming()) return CallUnary(stub, method, payload);
  StreamCall call(stub, method, payload, stream_events);
  return call.Wait();
}

// A service of the schema (generated gRPC code has no descriptor() of
// its own).
const ServiceDescriptor* ServiceNamed(const std::string& name) {
  return google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
}

std::shared_ptr<grpc::Channel> Channel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

// ---------------------------------------------------------------- cluster

class Cluster {
 public:
  Cluster()
      : meta_("dfs-meta", 3,
              // Long enough that nobody is declared dead (and nothing
              // repaired) while the servers are busy refusing requests.
              {"--chunk-size", "4MiB", "--node-dead-after", "30s", "--trash-days", "1"}),
        chunks_(meta_.dir() + "/chunk", 3, meta_.AddressList(), {"--scrub-rate", "0"}) {
    for (int i = 1; i <= 3; i++)
      REQUIRE(chunks_.WaitRegistered(i));
    client::MetaClientOptions o;
    o.servers = meta_.AddressList();
    o.timeout = 30s;
    o.rpc_timeout = 5s;
    meta_client_ = std::make_unique<client::MetaClient>(o);
    meta_client_->SetClusterId(chunks_.cluster_id());
    chunk_client_ = std::make_unique<client::ChunkClient>(
        client::ChunkClientOptions{chunks_.cluster_id(), std::chrono::milliseconds(10000)});
  }

  // The leader's address, once there is one.
  std::string Leader() {
    for (int i = 0; i < 100; i++) {
      if (uint64_t id = testing::MetaLeader(meta_); id != 0) return meta_.addresses().at(id);
      std::this_thread::sleep_for(100ms);
    }
    FAIL("no meta leader");
    return "";
  }

  client::MetaClient& meta_client() { return *meta_client_; }
  client::ChunkClient& chunk_client() { return *chunk_client_; }
  testing::ServerGroup& meta() { return meta_; }
  testing::ChunkServers& chunks() { return chunks_; }

 private:
  testing::ServerGroup meta_;
  testing::ChunkServers chunks_;
  std::unique_ptr<client::MetaClient> meta_client_;
  std::unique_ptr<client::ChunkClient> chunk_client_;
};

// What the base requests aim at.
struct World {
  std::string cluster_id;
  uint64_t dir = 0, file = 0, link = 0;  // /dir, /dir/file, /link -> dir/file
  pb::ChunkLocation chunk;               // chunk 0 of /dir/file: the chain r1 -> r2 -> r3
  std::string head_data;                 // its first 4 KiB
  uint64_t replica_length = 0;
  uint64_t member = 0;  // a voting meta server
};

World Prepare(Cluster& c) {
  World w;
  w.cluster_id = c.chunks().cluster_id();
  client::MetaClient& m = c.meta_client();
  auto dir = m.Create(kRoot, "dir", pb::FILE_TYPE_DIRECTORY, 0755, true);
  REQUIRE(dir.ok());
  w.dir = dir->inode();
  auto file = m.Create(w.dir, "file", pb::FILE_TYPE_REGULAR, 0644, true);
  REQUIRE(file.ok());
  w.file = file->inode();
  auto chunk = m.AllocateChunk(w.file, 0);
  REQUIRE(chunk.ok());
  REQUIRE(chunk->replicas_size() == 3);
  w.chunk = *chunk;
  const std::string data = testing::Pattern(200000, 7);
  REQUIRE(c.chunk_client().Create(w.chunk).ok());
  REQUIRE(c.chunk_client().Write(w.chunk, 0, data, nullptr, /*sync=*/true).ok());
  pb::Timespec mtime;
  mtime.set_sec(1700000000);
  REQUIRE(m.CommitWrite(w.file, data.size(), mtime).ok());
  w.head_data = data.substr(0, 4096);
  w.replica_length = data.size();
  REQUIRE(m.SetXattr(w.file, "user.tag", "v", 0).ok());
  auto link = m.Create(kRoot, "link", pb::FILE_TYPE_SYMLINK, 0777, true, "dir/file");
  REQUIRE(link.ok());
  w.link = link->inode();
  // A file in the trash.
  REQUIRE(m.Create(kRoot, "gone", pb::FILE_TYPE_REGULAR, 0644, true).ok());
  REQUIRE(m.Unlink(kRoot, "gone").ok());
  w.member = c.meta().addresses().begin()->first;
  return w;
}

// ----------------------------------------------------------------- digest

// The prepared chunk on each replica: version, length, bytes.
std::string ReplicaDigest(const World& w) {
  std::ostringstream out;
  for (const pb::ChunkReplica& r : w.chunk.replicas()) {
    pb::ReadRequest read;
    read.mutable_header()->set_cluster_id(w.cluster_id);
    read.set_chunk_id(w.chunk.chunk_id());
    read.set_version(w.chunk.version());
    read.set_length(w.replica_length + 4096);
    pb::ReadReply reply;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    grpc::Status s = pb::ChunkService::NewStub(Channel(r.address()))->Read(&ctx, read, &reply);
    out << "replica " << r.node_id() << " " << s.error_code() << "/" << reply.error().code()
        << " len=" << reply.replica_length()
        << " data=" << BlockChecksum(reply.data().data(), reply.data().size()) << "\n";
  }
  return out.str();
}

// Everything a malformed request might have changed, as text: a line per
// fact, in a fixed order.
std::string Digest(Cluster& c, const World& w, const std::string& leader) {
  std::ostringstream out;
  client::MetaClient& m = c.meta_client();
  // The namespace, from the root down.
  std::function<void(uint64_t, const std::string&)> walk = [&](uint64_t dir,
                                                               const std::string& path) {
    std::string cookie;
    for (;;) {
      auto page = m.ReadDir(dir, cookie, 0);
      if (!page.ok()) {
        out << path << ": readdir " << page.status() << "\n";
        return;
      }
      for (const pb::DirEntry& e : page->entries()) {
        const pb::InodeAttr& a = e.attr();
        const std::string name = path + "/" + e.name();
        out << name << " ino=" << a.inode() << " type=" << a.type() << " mode=" << a.mode()
            << " uid=" << a.uid() << " gid=" << a.gid() << " size=" << a.size()
            << " nlink=" << a.nlink() << " mtime=" << a.mtime().sec() << "." << a.mtime().nsec()
            << " ctime=" << a.ctime().sec() << "." << a.ctime().nsec() << " dv=" << a.data_version()
            << " rdev=" << a.rdev() << "\n";
        auto names = m.ListXattr(a.inode());
        if (names.ok()) {
          for (const std::string& x : *names) {
            auto value = m.GetXattr(a.inode(), x);
            out << name << " xattr " << x << "=" << (value.ok() ? *value : "?") << "\n";
          }
        }
        if (a.type() == pb::FILE_TYPE_DIRECTORY) walk(a.inode(), name);
        if (a.type() == pb::FILE_TYPE_SYMLINK) {
          auto target = m.ReadLink(a.inode());
          out << name << " -> " << (target.ok() ? *target : "?") << "\n";
        }
        if (a.type() == pb::FILE_TYPE_REGULAR) {
          auto chunks = m.GetChunks(a.inode(), 0, 0);
          if (chunks.ok()) {
            for (const pb::ChunkLocation& ch : chunks->chunks()) {
              out << name << " chunk " << ch.index() << " id=" << ch.chunk_id()
                  << " v=" << ch.version() << " len=" << ch.length() << " chain=";
              for (const pb::ChunkReplica& r : ch.replicas())
                out << r.node_id() << (r.joining() ? "j" : "") << ",";
              out << "\n";
            }
          }
        }
        cookie = e.name();
      }
      if (page->eof()) return;
    }
  };
  auto root = m.GetAttr(kRoot);
  out << "/ mode=" << (root.ok() ? root->mode() : 0) << " nlink=" << (root.ok() ? root->nlink() : 0)
      << " mtime=" << (root.ok() ? root->mtime().sec() : 0) << "\n";
  walk(kRoot, "");

  // The cluster as the leader sees it, and the trash.
  auto admin = pb::AdminService::NewStub(Channel(leader));
  pb::StatusRequest status_request;
  status_request.mutable_header()->set_cluster_id(w.cluster_id);
  pb::StatusReply st;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    grpc::Status s = admin->Status(&ctx, status_request, &st);
    out << "status " << s.error_code() << "/" << st.error().code() << " cluster=" << st.cluster_id()
        << "\n";
  }
  for (const pb::MetaMember& mm : st.members())
    out << "member " << mm.id() << " " << mm.address() << "\n";
  for (const pb::NodeInfo& n : st.nodes()) {
    // A node the leader has not heard from lately shows as dead or unknown:
    // that is liveness, not state.
    const bool known = n.state() != "dead" && n.state() != "unknown";
    out << "node " << n.node_id() << " " << n.address() << " " << n.zone() << " "
        << (known ? n.state() : "?") << " replicas=" << n.chunks() << "\n";
  }
  // (Not the repair scheduler's chunk counts: a new leader starts counting
  // only after one node_dead_after.)
  out << "trash=" << st.trash_entries() << "/" << st.trash_bytes() << " locks=" << st.locks_held()
      << "/" << st.locked_inodes() << "/" << st.lock_sessions()
      << " limits=" << st.repair_limits().max_jobs() << "/" << st.repair_limits().per_node_jobs()
      << "/" << st.repair_limits().bandwidth() << "\n";
  {
    pb::TrashListRequest list;
    *list.mutable_header() = status_request.header();
    pb::TrashListReply trash;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    grpc::Status s = admin->TrashList(&ctx, list, &trash);
    out << "trash list " << s.error_code() << "/" << trash.error().code() << "\n";
    for (const pb::TrashEntry& e : trash.entries())
      out << "trash " << e.id() << " " << e.inode() << " " << e.name() << " " << e.size() << "\n";
  }

  // Every chunk server: its replica files, and the prepared chunk's bytes.
  for (int i = 1; i <= c.chunks().size(); i++) {
    const std::string chunks_dir = c.chunks().data_dir(i) + "/chunks";
    std::set<std::string> files;
    std::error_code ec;
    for (const auto& e : std::filesystem::recursive_directory_iterator(chunks_dir, ec)) {
      if (e.is_regular_file()) {
        files.insert(std::filesystem::relative(e.path(), chunks_dir).string() + " " +
                     std::to_string(e.file_size()));
      }
    }
    for (const std::string& f : files)
      out << "server " << i << " file " << f << "\n";
  }
  out << ReplicaDigest(w);
  return out.str();
}

// The digest once two in a row agree (heartbeats carry replica reports to
// the leader about once a second).
std::string SettledDigest(Cluster& c, const World& w) {
  std::string last = Digest(c, w, c.Leader());
  for (int i = 0; i < 15; i++) {
    std::this_thread::sleep_for(1200ms);
    std::string now = Digest(c, w, c.Leader());
    if (now == last) return now;
    last = now;
  }
  return last;
}

// Bytes on disk of each dfs-meta's Raft log and state: a request refused
// before it was proposed adds nothing there; a 10 MiB one that got into the
// log adds 10 MiB.
std::map<uint64_t, uint64_t> MetaDiskBytes(Cluster& c) {
  std::map<uint64_t, uint64_t> out;
  for (const auto& [id, address] : c.meta().addresses()) {
    const std::string data = c.meta().dir() + "/dfs-meta" + std::to_string(id);
    for (const char* part : {"/raft", "/state"}) {
      std::error_code ec;
      for (const auto& e : std::filesystem::recursive_directory_iterator(data + part, ec)) {
        if (e.is_regular_file()) out[id] += e.file_size();
      }
    }
  }
  return out;
}

// The lines of `a` not in `b`, and of `b` not in `a`.
std::string LineDiff(const std::string& a, const std::string& b) {
  auto lines = [](const std::string& s) {
    std::multiset<std::string> out;
    std::istringstream in(s);
    for (std::string line; std::getline(in, line);)
      out.insert(line);
    return out;
  };
  std::multiset<std::string> la = lines(a), lb = lines(b);
  std::string out;
  for (const std::string& l : la)
    if (!lb.count(l)) out += "- " + l + "\n";
  for (const std::string& l : lb)
    if (!la.count(l)) out += "+ " + l + "\n";
  return out;
}

// ------------------------------------------------------------------ specs

// How one method is tested.
struct MethodSpec {
  std::function<void(Message*)> fill;  // the base request (its header is filled already)
  // "path" or "path=label": values that may be legal; a clean reply is fine.
  std::set<std::string> lenient;
  // "path=label": legal values that would change state; not sent.
  std::set<std::string> skip;
  bool lenient_all = false;  // a read: any value may be legal
  int stream_events = 0;     // a stream: replies to read before ending it
};

MethodSpec Spec(std::function<void(Message*)> fill, std::set<std::string> lenient = {},
                std::set<std::string> skip = {}, bool lenient_all = false, int stream_events = 0) {
  return MethodSpec{std::move(fill), std::move(lenient), std::move(skip), lenient_all,
                    stream_events};
}

template <class T, class F>
std::function<void(Message*)> Fill(F f) {
  return [f](Message* m) { f(static_cast<T*>(m)); };
}

const std::set<std::string> kMetaLenient = {
    // Credentials and sessions: any value may be someone's.
    "header.session_id", "header.sequence", "header.uid", "header.gid", "header.groups",
    // A caller that has not learned the cluster id yet.
    "header.cluster_id=empty", "header=cleared"};
const std::set<std::string> kChunkLenient = {"header.session_id", "header.sequence", "header.uid",
                                             "header.gid", "header.groups"};
// Fields of a replica in a chain that a server takes as given: another
// server's id (it cannot know it) and zone, and the joining mark.
const std::vector<std::string> kReplicaLenient = {"node_id=max", "zone", "joining"};

std::map<std::string, MethodSpec> Specs(const World& w) {
  std::map<std::string, MethodSpec> s;
  const pb::ChunkReplica& r1 = w.chunk.replicas(0);
  const pb::ChunkReplica& r2 = w.chunk.replicas(1);
  const pb::ChunkReplica& r3 = w.chunk.replicas(2);
  auto chain_lenient = [](const std::string& field, std::set<std::string> more) {
    more.insert(field + "=empty");
    for (const std::string& l : kReplicaLenient)
      more.insert(field + "[0]." + l);
    return more;
  };

  // ---- MetaService: reads of what exists.
  s["MetaService.Lookup"] = Spec(Fill<pb::LookupRequest>([w](auto* r) {
    r->set_parent(w.dir);
    r->set_name("file");
  }));
  s["MetaService.GetAttr"] = Spec(Fill<pb::GetAttrRequest>([w](auto* r) {
                                    r->set_inode(w.file);
                                    r->set_access_mask(4);
                                  }),
                                  {"access_mask=0"});
  s["MetaService.ReadLink"] =
      Spec(Fill<pb::GetAttrRequest>([w](auto* r) { r->set_inode(w.link); }), {"access_mask=0"});
  s["MetaService.ReadDir"] = Spec(Fill<pb::ReadDirRequest>([w](auto* r) { r->set_inode(w.dir); }),
                                  {"cookie=empty", "max_entries"});
  s["MetaService.StatFs"] = Spec(Fill<pb::StatFsRequest>([](auto*) {}));
  s["MetaService.Access"] = Spec(Fill<pb::AccessRequest>([w](auto* r) {
                                   r->set_inode(w.file);
                                   r->set_mask(4);
                                 }),
                                 {"mask=0"});
  s["MetaService.GetXattr"] = Spec(Fill<pb::XattrRequest>([w](auto* r) {
                                     r->set_inode(w.file);
                                     r->set_name("user.tag");
                                   }),
                                   {"value=empty", "flags=0"});
  s["MetaService.ListXattr"] = Spec(Fill<pb::XattrRequest>([w](auto* r) { r->set_inode(w.file); }),
                                    {"name=empty", "value=empty", "flags=0"});
  s["MetaService.GetChunks"] = Spec(
      Fill<pb::GetChunksRequest>([w](auto* r) { r->set_inode(w.file); }), {"first_index", "count"});
  s["MetaService.GetLock"] = Spec(Fill<pb::LockRequest>([w](auto* r) {
                                    r->set_inode(w.file);
                                    r->mutable_lock()->set_type(pb::LOCK_TYPE_WRITE);
                                    r->mutable_lock()->set_end(100);
                                    r->mutable_lock()->set_lock_session(kNowhere);
                                  }),
                                  {}, {},
                                  /*lenient_all=*/true);
  s["MetaService.Watch"] = Spec(Fill<pb::WatchRequest>([](auto* r) { r->add_own_sessions(5); }),
                                {"own_sessions"}, {}, false,
                                /*stream_events=*/1);

  // ---- MetaService: mutations that change nothing (an existing name, an
  // existing chunk) or aim at nothing.
  s["MetaService.Create"] = Spec(Fill<pb::CreateRequest>([w](auto* r) {
                                   r->set_parent(w.dir);
                                   r->set_name("file");  // exists: O_CREAT opens it
                                   r->set_type(pb::FILE_TYPE_REGULAR);
                                   r->set_mode(0644);
                                 }),
                                 {"mode=0", "umask=0", "symlink_target=empty", "rdev"});
  s["MetaService.SetAttr"] = Spec(Fill<pb::SetAttrRequest>([](auto* r) {
    r->set_inode(kNowhere);
    r->set_valid(pb::SETATTR_MODE | pb::SETATTR_SIZE | pb::SETATTR_ATIME | pb::SETATTR_MTIME);
    r->set_mode(0644);
    r->set_size(10);
    r->mutable_atime()->set_sec(1);
    r->mutable_mtime()->set_sec(1);
  }));
  for (const char* name : {"MetaService.Unlink", "MetaService.Rmdir"}) {
    s[name] = Spec(Fill<pb::EntryRequest>([w](auto* r) {
      r->set_parent(w.dir);
      r->set_name("nosuch");
    }));
  }
  s["MetaService.Rename"] = Spec(Fill<pb::RenameRequest>([w](auto* r) {
    r->set_parent(w.dir);
    r->set_name("nosuch");
    r->set_new_parent(w.dir);
    r->set_new_name("other");
  }));
  s["MetaService.Link"] = Spec(Fill<pb::LinkRequest>([w](auto* r) {
    r->set_inode(w.file);
    r->set_new_parent(w.dir);
    r->set_new_name("file");  // exists
  }));
  s["MetaService.SetXattr"] = Spec(Fill<pb::XattrRequest>([w](auto* r) {
                                     r->set_inode(w.file);
                                     r->set_name("user.tag");
                                     r->set_value("v");
                                     r->set_flags(1);  // XATTR_CREATE: it exists
                                   }),
                                   {}, {"flags=0"});
  s["MetaService.RemoveXattr"] = Spec(Fill<pb::XattrRequest>([w](auto* r) {
    r->set_inode(w.file);
    r->set_name("user.absent");
  }));
  s["MetaService.AllocateChunk"] = Spec(Fill<pb::AllocateChunkRequest>([w](auto* r) {
                                          r->set_inode(w.file);  // chunk 0 exists: returned as is
                                        }),
                                        {"index=0", "failed_nodes=empty"});
  s["MetaService.CommitWrite"] = Spec(Fill<pb::CommitWriteRequest>([](auto* r) {
    r->set_inode(kNowhere);
    r->set_size(1);
  }));
  s["MetaService.RegisterNode"] = Spec(Fill<pb::RegisterNodeRequest>([](auto* r) {
                                         r->set_node_id(kNowhere);
                                         r->set_address("127.0.0.1:1");
                                         r->set_zone("z9");
                                         r->set_capacity_bytes(1);
                                         r->set_free_bytes(1);
                                       }),
                                       {}, {"node_id=0"});  // a new chunk server
  s["MetaService.Heartbeat"] = Spec(Fill<pb::HeartbeatRequest>([w](auto* r) {
    r->set_node_id(kNowhere);
    r->set_capacity_bytes(1);
    pb::ChunkReport* c = r->add_changed();
    c->set_chunk_id(w.chunk.chunk_id());
    c->set_version(w.chunk.version());
    c->set_length(w.replica_length);
  }));
  s["MetaService.Lock"] = Spec(Fill<pb::LockRequest>([w](auto* r) {
    r->set_inode(w.file);
    r->mutable_lock()->set_type(pb::LOCK_TYPE_WRITE);
    r->mutable_lock()->set_end(100);
    r->mutable_lock()->set_lock_session(kNowhere);  // no such session: refused
    r->mutable_lock()->set_owner(1);
  }));
  s["MetaService.ReleaseLocks"] = Spec(Fill<pb::ReleaseLocksRequest>([w](auto* r) {
                                         r->set_inode(w.file);
                                         r->set_lock_session(kNowhere);  // holds nothing
                                         r->set_owner(1);
                                       }),
                                       {"inode=max", "lock_session=max", "owner"});
  s["MetaService.LockSession"] = Spec(Fill<pb::LockSessionRequest>([](auto* r) {
                                        r->set_lock_session(kNowhere);  // a renewal: expired
                                      }),
                                      {"close"}, {"lock_session=0"});  // opens a session

  // ---- AdminService.
  s["AdminService.Status"] = Spec(Fill<pb::StatusRequest>([](auto*) {}));
  s["AdminService.Health"] = Spec(Fill<pb::StatusRequest>([](auto*) {}));
  s["AdminService.AddMember"] = Spec(Fill<pb::MemberChangeRequest>([w](auto* r) {
                                       r->set_id(w.member);  // a member already
                                       r->set_address("127.0.0.1:1");
                                     }),
                                     {}, {"id=max"});  // a new member
  for (const char* name : {"AdminService.RemoveMember", "AdminService.TransferLeader"}) {
    s[name] = Spec(Fill<pb::MemberChangeRequest>([](auto* r) { r->set_id(kNowhere); }));
  }
  s["AdminService.Drain"] = Spec(Fill<pb::NodeRequest>([](auto* r) { r->set_node_id(kNowhere); }));
  s["AdminService.SetRepairLimits"] =
      Spec(Fill<pb::SetRepairLimitsRequest>([](auto*) {}), {"bandwidth=0"},  // unlimited already
           {"bandwidth=max"});
  s["AdminService.Fsck"] =
      Spec(Fill<pb::FsckRequest>([](auto*) {}), {"inode=0", "fix"}, {}, false, kStreamEventsMax);
  s["AdminService.Backup"] =
      Spec(Fill<pb::BackupRequest>([](auto*) {}), {}, {}, false, kStreamEventsMax);
  s["AdminService.TrashList"] = Spec(Fill<pb::TrashListRequest>([](auto*) {}), {"after", "max"});
  s["AdminService.TrashRestore"] =
      Spec(Fill<pb::TrashRestoreRequest>([](auto* r) { r->set_id(kNowhere); }));
  s["AdminService.TrashPurge"] = Spec(Fill<pb::TrashPurgeRequest>([](auto* r) {
    r->set_older_than_sec(1e9);  // the trashed file is younger
  }));

  // ---- ChunkService, at the head of the prepared chunk's chain.
  auto chain_of = [r2, r3](auto* r) {
    *r->add_chain() = r2;
    *r->add_chain() = r3;
  };
  s["ChunkService.CreateChunk"] =
      Spec(Fill<pb::CreateChunkRequest>([w, chain_of](auto* r) {
             r->set_chunk_id(w.chunk.chunk_id());  // exists: OK
             r->set_version(w.chunk.version());
             chain_of(r);
           }),
           chain_lenient("chain", {}), {"chunk_id=max"});  // a new replica
  s["ChunkService.Write"] =
      Spec(Fill<pb::WriteRequest>([w, chain_of](auto* r) {
             r->set_chunk_id(w.chunk.chunk_id());
             r->set_version(w.chunk.version());
             r->set_data(w.head_data);  // the bytes already there
             r->add_checksums(BlockChecksum(w.head_data.data(), w.head_data.size()));
             chain_of(r);
           }),
           chain_lenient("chain", {"offset=0", "sync"}));
  s["ChunkService.Read"] = Spec(Fill<pb::ReadRequest>([w](auto* r) {
                                  r->set_chunk_id(w.chunk.chunk_id());
                                  r->set_version(w.chunk.version());
                                  r->set_length(4096);
                                }),
                                {"offset=0", "length=0"});
  s["ChunkService.Sync"] = Spec(Fill<pb::SyncRequest>([w, chain_of](auto* r) {
                                  r->set_chunk_id(w.chunk.chunk_id());
                                  r->set_version(w.chunk.version());
                                  chain_of(r);
                                }),
                                chain_lenient("chain", {}));
  s["ChunkService.TruncateChunk"] = Spec(Fill<pb::TruncateChunkRequest>([w, chain_of](auto* r) {
                                           r->set_chunk_id(w.chunk.chunk_id());
                                           r->set_version(w.chunk.version());
                                           r->set_length(w.replica_length);  // its length already
                                           chain_of(r);
                                         }),
                                         chain_lenient("chain", {}), {"length=0"});  // cuts it
  s["ChunkService.SetVersion"] = Spec(Fill<pb::SetVersionRequest>([w](auto* r) {
                                        r->set_chunk_id(w.chunk.chunk_id());
                                        r->set_old_version(w.chunk.version());
                                        r->set_new_version(w.chunk.version());  // there already
                                      }),
                                      {"old_version=0"}, {"new_version=max"});  // moves it
  s["ChunkService.Replicate"] =
      Spec(Fill<pb::ReplicateRequest>([w, r2](auto* r) {
             r->set_chunk_id(w.chunk.chunk_id());  // held already
             r->set_version(w.chunk.version());
             *r->mutable_source() = r2;
           }),
           // replace: copies the same bytes again.
           {"replace", "source.zone", "source.joining", "source.node_id=max"});
  s["ChunkService.DeleteChunk"] = Spec(Fill<pb::DeleteChunkRequest>([](auto* r) {
                                         r->set_chunk_id(kNowhere);  // no replica: OK
                                         r->set_version(1);
                                       }),
                                       {"chunk_id=max", "version=max"});
  s["ChunkService.Rechain"] =
      Spec(Fill<pb::RechainRequest>([w, r1, r2, r3](auto* r) {
             r->set_chunk_id(w.chunk.chunk_id());  // the chain it has
             r->set_version(w.chunk.version());
             *r->mutable_head() = r1;
             *r->add_members() = r2;
             *r->add_members() = r3;
           }),
           chain_lenient("members", {"joiners=empty", "head.zone", "head.joining"}),
           {"version=max"});  // raises every replica
  return s;
}

// -------------------------------------------------------------------- run

struct Tally {
  int sent = 0, grpc_errors = 0, reply_errors = 0, clean = 0;
};

struct Job {
  const MethodDescriptor* method;
  const MethodSpec* spec;
  const Message* base;
  const Variant* variant;  // null: bytes that are no protobuf
  std::string target;
};

bool Listed(const std::set<std::string>& set, const std::string& path, const std::string& label) {
  return set.count(path) > 0 || set.count(path + "=" + label) > 0;
}

// A gRPC status that refuses a request cleanly (as opposed to a hang, a
// crash or a broken connection).
bool CleanRefusal(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::INVALID_ARGUMENT:    // cannot parse it
    case grpc::StatusCode::INTERNAL:            // cannot parse it (callback API)
    case grpc::StatusCode::RESOURCE_EXHAUSTED:  // too large
    case grpc::StatusCode::UNIMPLEMENTED:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE:
      return true;
    default:
      return false;
  }
}

TEST_CASE("malformed requests from the schema get errors, change nothing, daemons keep serving") {
  const auto started = std::chrono::steady_clock::now();
  Cluster c;
  const World w = Prepare(c);
  const std::string leader = c.Leader();
  std::string follower;  // serves reads after a barrier, refuses the rest
  for (const auto& [id, address] : c.meta().addresses())
    if (address != leader) follower = address;
  const std::string head = w.chunk.replicas(0).address();

  const std::map<std::string, MethodSpec> specs = Specs(w);
  std::vector<std::unique_ptr<Message>> bases;
  std::deque<std::vector<Variant>> variants;  // Jobs point into them
  std::vector<Job> meta_jobs, chunk_jobs;
  std::set<std::string> methods_seen;
  for (const ServiceDescriptor* service :
       {ServiceNamed("dfs.pb.MetaService"), ServiceNamed("dfs.pb.AdminService"),
        ServiceNamed("dfs.pb.ChunkService")}) {
    const bool chunk_service = service == ServiceNamed("dfs.pb.ChunkService");
    for (int i = 0; i < service->method_count(); i++) {
      const MethodDescriptor* method = service->method(i);
      const std::string key = service->name() + "." + method->name();
      auto it = specs.find(key);
      INFO(key);
      REQUIRE(it != specs.end());  // every RPC has a base request here
      methods_seen.insert(key);
      std::unique_ptr<Message> base(google::protobuf::MessageFactory::generated_factory()
                                        ->GetPrototype(method->input_type())
                                        ->New());
      const FieldDescriptor* header = base->GetDescriptor()->FindFieldByName("header");
      REQUIRE(header != nullptr);
      static_cast<pb::RpcHeader*>(base->GetReflection()->MutableMessage(base.get(), header))
          ->set_cluster_id(w.cluster_id);
      it->second.fill(base.get());
      variants.push_back(Variants(*base));
      std::vector<Job>& jobs = chunk_service ? chunk_jobs : meta_jobs;
      for (const std::string& target : chunk_service ? std::vector<std::string>{head}
                                                     : std::vector<std::string>{leader, follower}) {
        jobs.push_back(Job{method, &it->second, base.get(), nullptr, target});
        for (const Variant& v : variants.back()) {
          if (it->second.skip.count(v.path + "=" + v.label) > 0) continue;
          jobs.push_back(Job{method, &it->second, base.get(), &v, target});
        }
      }
      bases.push_back(std::move(base));
    }
  }
  CHECK(methods_seen.size() == specs.size());  // no spec for a method that is gone

  const std::string before = SettledDigest(c, w);
  INFO(before);

  std::mutex mu;
  std::map<std::string, Tally> tally;
  std::vector<std::string> failures;
  std::map<std::string, int> codes;  // how requests were refused
  std::set<std::string> fields;
  // Sends `jobs` from `workers` threads; `after` (if any) looks at each
  // request's effect once it is answered and returns a failure, or "".
  auto run = [&](const std::vector<Job>& jobs, int workers,
                 const std::function<std::string(const std::string&)>& after = nullptr) {
    std::atomic<size_t> next{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < workers; t++) {
      threads.emplace_back([&] {
        std::map<std::string, std::unique_ptr<grpc::GenericStub>> stubs;
        for (size_t i; (i = next++) < jobs.size();) {
          const Job& job = jobs[i];
          auto& stub = stubs[job.target];
          if (!stub) stub = std::make_unique<grpc::GenericStub>(Channel(job.target));
          std::string payload;
          std::string what = job.method->service()->name() + "." + job.method->name();
          const std::string field = job.variant == nullptr ? what : what + " " + job.variant->path;
          bool lenient = job.spec->lenient_all;
          if (job.variant == nullptr) {
            payload =
                std::string("\x0a\xff\xff\xff\xff\x0f", 6);  // a field longer than the message
            what += " <not protobuf>";
            lenient = true;  // may parse, as unknown fields
          } else {
            std::unique_ptr<Message> req(job.base->New());
            req->CopyFrom(*job.base);
            job.variant->apply(req.get());
            payload = req->SerializeAsString();
            what += " " + job.variant->path + "=" + job.variant->label;
            const bool chunk = job.method->service() == ServiceNamed("dfs.pb.ChunkService");
            lenient =
                lenient || Listed(job.spec->lenient, job.variant->path, job.variant->label) ||
                Listed(chunk ? kChunkLenient : kMetaLenient, job.variant->path, job.variant->label);
          }
          const auto sent = std::chrono::steady_clock::now();
          Outcome o = Call(stub.get(), job.method, payload, job.spec->stream_events);
          const auto took = std::chrono::steady_clock::now() - sent;
          std::string failure;
          if (o.rpc != grpc::StatusCode::OK && !(o.cancelled && o.events > 0) &&
              !CleanRefusal(o.rpc)) {
            failure = "gRPC " + std::to_string(o.rpc) + " " + o.rpc_message;
          } else if (!o.parsed) {
            failure = "a reply that does not parse";
          } else if (o.rpc == grpc::StatusCode::OK && o.events == 0) {
            failure = "no reply";
          } else if (o.rpc == grpc::StatusCode::OK && o.code == 0 && !lenient &&
                     job.variant != nullptr) {
            failure = "accepted";
          }
          std::unique_lock lock(mu);
          Tally& t = tally[job.method->service()->name() + "." + job.method->name()];
          t.sent++;
          if (job.variant != nullptr) fields.insert(field);
          if (o.rpc != grpc::StatusCode::OK && !o.cancelled) {
            t.grpc_errors++;
            codes["grpc " + std::to_string(o.rpc)]++;
          } else if (o.code != 0) {
            t.reply_errors++;
            codes[ErrorCodeName(ErrorCodeFromNumber(o.code))]++;
          } else {
            t.clean++;
          }
          if (!failure.empty()) failures.push_back(what + " at " + job.target + ": " + failure);
          // As it happens, for a run that does not end.
          if (!failure.empty() || took > 5s) {
            std::fprintf(stderr, "malformed request %s at %s: %s (%.1f s)\n", what.c_str(),
                         job.target.c_str(), failure.empty() ? "slow" : failure.c_str(),
                         std::chrono::duration<double>(took).count());
          }
          lock.unlock();
          if (after) {
            if (std::string damage = after(what); !damage.empty()) {
              lock.lock();
              std::fprintf(stderr, "malformed request %s: %s\n", what.c_str(), damage.c_str());
              failures.push_back(what + ": " + damage);
            }
          }
        }
      });
    }
    for (std::thread& t : threads)
      t.join();
  };
  const std::map<uint64_t, uint64_t> disk_before = MetaDiskBytes(c);
  const auto flood = std::chrono::steady_clock::now();
  // Chunk requests one at a time (several on one replica at once could
  // race a legal re-copy against a legal truncate); metadata ones four at
  // a time, which also has them meet in the leader.
  // After each chunk request the prepared chunk's replicas are read back,
  // so that damage one request does is not hidden by a later (legal) one
  // repairing it.
  std::thread chunk_runner([&] {
    std::string replicas = ReplicaDigest(w);
    run(chunk_jobs, 1, [&](const std::string&) {
      std::string now = ReplicaDigest(w);
      if (now == replicas) return std::string();
      std::string damage = "the chunk changed:\n" + LineDiff(replicas, now);
      replicas = std::move(now);  // blame the next request only for what it does
      return damage;
    });
  });
  run(meta_jobs, 4);
  chunk_runner.join();
  const auto flood_secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - flood).count();

  // Nothing large reached the Raft log: the 10 MiB names, values and
  // targets were refused before they were proposed.
  for (const auto& [id, bytes] : MetaDiskBytes(c)) {
    INFO("dfs-meta " << id << ": " << disk_before.at(id) << " bytes before, " << bytes << " after");
    CHECK(bytes < disk_before.at(id) + kHugeBytes / 2);
  }

  // Every daemon still runs and answers.
  for (const auto& [id, address] : c.meta().addresses()) {
    INFO("dfs-meta " << id);
    CHECK(c.meta().running(id));
    grpc::GenericStub stub(Channel(address));
    pb::StatusRequest status;
    status.mutable_header()->set_cluster_id(w.cluster_id);
    Outcome o = CallUnary(&stub, ServiceNamed("dfs.pb.AdminService")->FindMethodByName("Status"),
                          status.SerializeAsString());
    CHECK(o.rpc == grpc::StatusCode::OK);
    CHECK(o.parsed);
    CHECK((o.code == 0 || o.code == static_cast<uint32_t>(ErrorCode::NOT_LEADER)));
  }
  for (int i = 1; i <= c.chunks().size(); i++) {
    INFO("dfs-chunkserver " << i);
    CHECK(c.chunks().running(i));
  }
  for (const pb::ChunkReplica& r : w.chunk.replicas()) {
    auto got = c.chunk_client().Read(r, w.chunk.chunk_id(), w.chunk.version(), 0, 4096);
    INFO("replica " << r.node_id());
    REQUIRE(got.ok());
    CHECK(*got == w.head_data);
  }
  REQUIRE(c.meta_client().GetAttr(w.file).ok());

  // Nothing changed.
  std::this_thread::sleep_for(2500ms);  // the last heartbeats' reports
  const std::string after = SettledDigest(c, w);
  {
    INFO("changed:\n" << LineDiff(before, after));
    CHECK(before == after);
  }

  size_t total = 0;
  std::ostringstream summary;
  for (const auto& [name, t] : tally) {
    total += static_cast<size_t>(t.sent);
    summary << name << ": " << t.sent << " sent, " << t.grpc_errors << " gRPC errors, "
            << t.reply_errors << " error replies, " << t.clean << " clean\n";
  }
  for (const auto& [code, n] : codes)
    summary << "  " << code << ": " << n << "\n";
  summary << tally.size() << " methods, " << fields.size() << " fields, " << total
          << " requests in " << flood_secs << " s; whole test "
          << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()
          << " s\n";
  WARN(summary.str());
  std::string failed;
  for (const std::string& f : failures)
    failed += f + "\n";
  INFO("failures:\n" << failed);
  CHECK(failures.empty());
}

}  // namespace
}  // namespace dfs
