// MetaStore plumbing: format, Apply batches, exactly-once, persistence,
// checkpoint and restore.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <thread>

#include "meta/meta_store.h"
#include "meta/raft/types.h"
#include "tests/unit/meta/meta_test_util.h"

namespace dfs::meta::testing {
namespace {

TEST_CASE("MetaStore: a new store is unformatted and refuses every command but format",
          "[meta][store]") {
  TestStore s(/*format=*/false);
  CHECK_FALSE(s->formatted());
  CHECK(s->cluster_id().empty());
  CHECK(s->chunk_size() == 0);

  pb::MetaReply reply = s.Apply(CreateCmd(kRoot, "a", pb::FILE_TYPE_REGULAR, 0644));
  CHECK(CodeOf(ReplyStatus(reply)) == ErrorCode::UNAVAILABLE);
  CHECK(reply.error().message() == "not formatted");
  CHECK(CodeOf(s->GetAttr(kRoot)) == ErrorCode::UNAVAILABLE);
  CHECK(s->AppliedIndex() == 1);  // the refused command still moved the index
}

TEST_CASE("MetaStore: format creates the root directory and fixes cluster id and chunk size",
          "[meta][store]") {
  TestStore s(/*format=*/false);
  pb::MetaReply reply = s.Apply(FormatCmd("cluster-x", 4 << 20));
  REQUIRE(ReplyStatus(reply).ok());

  CHECK(s->formatted());
  CHECK(s->cluster_id() == "cluster-x");
  CHECK(s->chunk_size() == 4 << 20);
  CHECK(s->InodeCount() == 1);
  auto root = s->GetAttr(kRoot);
  REQUIRE(root.ok());
  CHECK(root->inode() == kRoot);
  CHECK(root->type() == pb::FILE_TYPE_DIRECTORY);
  CHECK(root->mode() == 0755);
  CHECK(root->uid() == 0);
  CHECK(root->gid() == 0);
  CHECK(root->nlink() == 2);
  CHECK(root->mtime().sec() == s.now_ns / 1000000000);
}

TEST_CASE("MetaStore: format of a formatted store is ALREADY_EXISTS and changes nothing",
          "[meta][store]") {
  TestStore s;
  REQUIRE(s.CreateFile(kRoot, "f").ok());
  pb::MetaReply reply = s.Apply(FormatCmd("other", 8 << 20));
  CHECK(CodeOf(ReplyStatus(reply)) == ErrorCode::ALREADY_EXISTS);
  CHECK(s->cluster_id() == kClusterId);
  CHECK(s->chunk_size() == kChunkSize);
  CHECK(s.Lookup(kRoot, "f").ok());
  CHECK(s->InodeCount() == 2);
}

TEST_CASE("MetaStore: format rejects an empty cluster id and a bad chunk size", "[meta][store]") {
  TestStore s(/*format=*/false);
  CHECK(CodeOf(ReplyStatus(s.Apply(FormatCmd("", kChunkSize)))) == ErrorCode::INVALID_ARGUMENT);
  CHECK(CodeOf(ReplyStatus(s.Apply(FormatCmd("c", 0)))) == ErrorCode::INVALID_ARGUMENT);
  CHECK(CodeOf(ReplyStatus(s.Apply(FormatCmd("c", 1000)))) == ErrorCode::INVALID_ARGUMENT);
  CHECK_FALSE(s->formatted());
}

TEST_CASE("MetaStore: no-op and membership entries only move the applied index", "[meta][store]") {
  TestStore s;
  uint64_t before = s->AppliedIndex();
  std::vector<raft::Entry> entries(2);
  entries[0].index = before + 1;
  entries[0].term = 2;  // the new leader's empty no-op
  entries[1].index = before + 2;
  entries[1].term = 2;
  entries[1].type = raft::EntryType::kConfChange;
  entries[1].data = raft::ConfChange{raft::ConfChangeType::kAddLearner, 4, "x:1"}.Encode();
  std::vector<std::string> replies = s->Apply(entries);
  CHECK(replies == std::vector<std::string>{"", ""});
  CHECK(s->AppliedIndex() == before + 2);
  CHECK(s->InodeCount() == 1);
}

TEST_CASE("MetaStore: a malformed command gets INVALID_ARGUMENT", "[meta][store]") {
  TestStore s;
  pb::MetaCommand no_op;  // a command without an operation
  no_op.set_now_ns(5);
  std::vector<std::string> raw = s.ApplyRaw({"\xff\xff\xff garbage", no_op.SerializeAsString()});
  REQUIRE(raw.size() == 2);
  for (const std::string& r : raw) {
    pb::MetaReply reply;
    REQUIRE(reply.ParseFromString(r));
    CHECK(CodeOf(ReplyStatus(reply)) == ErrorCode::INVALID_ARGUMENT);
  }
  CHECK(s->AppliedIndex() == 3);
}

TEST_CASE("MetaStore: inode numbers start at 2 and are never reused", "[meta][store]") {
  TestStore s;
  auto a = s.CreateFile(kRoot, "a");
  REQUIRE(a.ok());
  CHECK(a->inode() == 2);
  REQUIRE(s.Unlink(kRoot, "a").ok());
  auto b = s.CreateFile(kRoot, "b");
  REQUIRE(b.ok());
  CHECK(b->inode() == 3);
  s.Reopen();
  auto c = s.Mkdir(kRoot, "c");
  REQUIRE(c.ok());
  CHECK(c->inode() == 4);
}

TEST_CASE("MetaStore: later commands of one Apply call see the earlier ones", "[meta][store]") {
  TestStore s;
  // Inode 2 is the directory, 3 the file.
  std::vector<pb::MetaCommand> cmds;
  cmds.push_back(CreateCmd(kRoot, "d", pb::FILE_TYPE_DIRECTORY, 0755));
  cmds.push_back(CreateCmd(2, "f", pb::FILE_TYPE_REGULAR, 0644));
  cmds.push_back(RenameCmd(2, "f", kRoot, "g"));
  cmds.push_back(SetXattrCmd(3, "user.k", "v"));
  cmds.push_back(LinkCmd(3, 2, "h"));
  cmds.push_back(CreateCmd(kRoot, "g", pb::FILE_TYPE_REGULAR, 0644));  // exists now
  cmds.push_back(RmdirCmd(kRoot, "d"));                                // not empty: h
  cmds.push_back(UnlinkCmd(2, "h"));
  cmds.push_back(RmdirCmd(kRoot, "d"));
  std::vector<pb::MetaReply> replies = s.ApplyAll(std::move(cmds));

  REQUIRE(replies.size() == 9);
  for (size_t i : {0, 1, 2, 3, 4, 7, 8})
    CHECK(ReplyStatus(replies[i]).ok());
  CHECK(CodeOf(ReplyStatus(replies[5])) == ErrorCode::ALREADY_EXISTS);
  CHECK(CodeOf(ReplyStatus(replies[6])) == ErrorCode::NOT_EMPTY);
  CHECK(replies[4].attr().nlink() == 2);

  auto g = s.Lookup(kRoot, "g");
  REQUIRE(g.ok());
  CHECK(g->inode() == 3);
  CHECK(g->nlink() == 1);
  CHECK(CodeOf(s.Lookup(kRoot, "d")) == ErrorCode::NOT_FOUND);
  CHECK(s->GetXattr(Root(), 3, "user.k").value_or("") == "v");
  CHECK(s.Attr(kRoot).value().nlink() == 2);
  CHECK(s->AppliedIndex() == 10);
}

TEST_CASE("MetaStore: create then rename of the same name in one Apply call", "[meta][store]") {
  TestStore s;
  std::vector<pb::MetaCommand> cmds;
  cmds.push_back(CreateCmd(kRoot, "tmp", pb::FILE_TYPE_REGULAR, 0644));
  cmds.push_back(RenameCmd(kRoot, "tmp", kRoot, "final"));
  cmds.push_back(CreateCmd(kRoot, "tmp", pb::FILE_TYPE_REGULAR, 0644));
  std::vector<pb::MetaReply> replies = s.ApplyAll(std::move(cmds));
  for (const pb::MetaReply& r : replies)
    CHECK(ReplyStatus(r).ok());
  CHECK(s.Lookup(kRoot, "final").value().inode() == 2);
  CHECK(s.Lookup(kRoot, "tmp").value().inode() == 3);
  CHECK(s.ListNames(kRoot) == std::vector<std::string>{"final", "tmp"});
}

TEST_CASE("MetaStore: a refused command in a batch leaves nothing behind", "[meta][store]") {
  TestStore s;
  REQUIRE(s.Mkdir(kRoot, "full").ok());  // 2
  REQUIRE(s.CreateFile(2, "x").ok());    // 3
  std::vector<pb::MetaCommand> cmds;
  cmds.push_back(CreateCmd(kRoot, "a", pb::FILE_TYPE_DIRECTORY, 0755));  // 4
  cmds.push_back(RenameCmd(kRoot, "a", kRoot, "full"));                  // NOT_EMPTY
  cmds.push_back(CreateCmd(4, "b", pb::FILE_TYPE_REGULAR, 0644));        // 5
  std::vector<pb::MetaReply> replies = s.ApplyAll(std::move(cmds));
  CHECK(ReplyStatus(replies[0]).ok());
  CHECK(CodeOf(ReplyStatus(replies[1])) == ErrorCode::NOT_EMPTY);
  CHECK(ReplyStatus(replies[2]).ok());
  CHECK(s.Lookup(kRoot, "a").value().inode() == 4);
  CHECK(s.Lookup(kRoot, "full").value().inode() == 2);
  CHECK(s.Lookup(2, "x").ok());
  CHECK(s.Lookup(4, "b").ok());
  CHECK(s.Attr(kRoot).value().nlink() == 4);
}

pb::MetaCommand InSession(pb::MetaCommand cmd, uint64_t session, uint64_t sequence) {
  cmd.set_session_id(session);
  cmd.set_sequence(sequence);
  return cmd;
}

TEST_CASE("MetaStore: a command applied twice returns the same reply and changes nothing",
          "[meta][store][session]") {
  TestStore s;
  pb::MetaCommand create = InSession(CreateCmd(kRoot, "f", pb::FILE_TYPE_REGULAR, 0644), 7, 1);
  std::vector<std::string> first = s.ApplyRaw({s.Stamp(create).SerializeAsString()});
  // The retry arrives later (new time), after a leader change.
  std::vector<std::string> second = s.ApplyRaw({s.Stamp(create).SerializeAsString()});
  CHECK(first == second);
  CHECK(s->InodeCount() == 2);
  CHECK(s.ListNames(kRoot) == std::vector<std::string>{"f"});

  // Also for a mutation that is not idempotent by itself.
  pb::MetaCommand link = InSession(LinkCmd(2, kRoot, "g"), 7, 2);
  pb::MetaReply a = s.Apply(link);
  pb::MetaReply b = s.Apply(link);
  REQUIRE(ReplyStatus(a).ok());
  CHECK(a.SerializeAsString() == b.SerializeAsString());
  CHECK(s.Attr(2).value().nlink() == 2);
}

TEST_CASE("MetaStore: a retried failure gets the recorded failure, not a new outcome",
          "[meta][store][session]") {
  TestStore s;
  pb::MetaCommand unlink = InSession(UnlinkCmd(kRoot, "f"), 9, 1);
  CHECK(CodeOf(ReplyStatus(s.Apply(unlink))) == ErrorCode::NOT_FOUND);
  REQUIRE(s.CreateFile(kRoot, "f").ok());  // by another client
  CHECK(CodeOf(ReplyStatus(s.Apply(unlink))) == ErrorCode::NOT_FOUND);
  CHECK(s.Lookup(kRoot, "f").ok());
}

TEST_CASE("MetaStore: a stale sequence is rejected and changes nothing", "[meta][store][session]") {
  TestStore s;
  REQUIRE(ReplyStatus(s.Apply(InSession(CreateCmd(kRoot, "a", pb::FILE_TYPE_REGULAR, 0644), 5, 1)))
              .ok());
  REQUIRE(ReplyStatus(s.Apply(InSession(CreateCmd(kRoot, "b", pb::FILE_TYPE_REGULAR, 0644), 5, 2)))
              .ok());
  pb::MetaReply stale =
      s.Apply(InSession(CreateCmd(kRoot, "c", pb::FILE_TYPE_REGULAR, 0644), 5, 1));
  CHECK(CodeOf(ReplyStatus(stale)) == ErrorCode::INVALID_ARGUMENT);
  CHECK(stale.error().message().find("stale sequence") != std::string::npos);
  CHECK(CodeOf(s.Lookup(kRoot, "c")) == ErrorCode::NOT_FOUND);
  // The session still answers its last sequence with the recorded reply.
  pb::MetaReply again =
      s.Apply(InSession(CreateCmd(kRoot, "b", pb::FILE_TYPE_REGULAR, 0644), 5, 2));
  CHECK(again.attr().inode() == 3);
  // Sequence 0 is not a sequence.
  CHECK(CodeOf(ReplyStatus(s.Apply(InSession(UnlinkCmd(kRoot, "a"), 5, 0)))) ==
        ErrorCode::INVALID_ARGUMENT);
  CHECK(s.Lookup(kRoot, "a").ok());
}

TEST_CASE("MetaStore: sessions are independent, and a duplicate in one batch is caught",
          "[meta][store][session]") {
  TestStore s;
  std::vector<pb::MetaCommand> cmds;
  cmds.push_back(InSession(CreateCmd(kRoot, "a", pb::FILE_TYPE_REGULAR, 0644), 1, 1));
  cmds.push_back(InSession(CreateCmd(kRoot, "b", pb::FILE_TYPE_REGULAR, 0644), 2, 1));
  cmds.push_back(InSession(CreateCmd(kRoot, "a", pb::FILE_TYPE_REGULAR, 0644), 1, 1));
  std::vector<pb::MetaReply> replies = s.ApplyAll(std::move(cmds));
  CHECK(ReplyStatus(replies[0]).ok());
  CHECK(ReplyStatus(replies[1]).ok());
  CHECK(replies[2].SerializeAsString() == replies[0].SerializeAsString());
  CHECK(s->InodeCount() == 3);
}

TEST_CASE("MetaStore: UNAVAILABLE before format is not recorded in the session",
          "[meta][store][session]") {
  TestStore s(/*format=*/false);
  pb::MetaCommand create = InSession(CreateCmd(kRoot, "a", pb::FILE_TYPE_REGULAR, 0644), 3, 1);
  CHECK(CodeOf(ReplyStatus(s.Apply(create))) == ErrorCode::UNAVAILABLE);
  REQUIRE(ReplyStatus(s.Apply(FormatCmd())).ok());
  CHECK(ReplyStatus(s.Apply(create)).ok());  // the retry is applied for real
  CHECK(s.Lookup(kRoot, "a").ok());
}

pb::MetaCommand ExpireCmd(int64_t idle_before_ns) {
  pb::MetaCommand cmd;
  cmd.mutable_expire_sessions()->set_idle_before_ns(idle_before_ns);
  return cmd;
}

TEST_CASE("MetaStore: idle sessions expire; their later mutations are refused",
          "[meta][store][session]") {
  TestStore s;
  // Session 1 acts first, session 2 a minute later (each command is one
  // second after the previous one; see TestStore::now_ns).
  REQUIRE(ReplyStatus(s.Apply(InSession(CreateCmd(kRoot, "a", pb::FILE_TYPE_REGULAR, 0644), 1, 1)))
              .ok());
  const int64_t between = s.now_ns + 30LL * 1000000000;
  s.now_ns += 60LL * 1000000000;
  REQUIRE(ReplyStatus(s.Apply(InSession(CreateCmd(kRoot, "b", pb::FILE_TYPE_REGULAR, 0644), 2, 1)))
              .ok());

  pb::MetaReply expired = s.Apply(ExpireCmd(between));
  REQUIRE(ReplyStatus(expired).ok());
  CHECK(expired.expired_sessions() == 1);

  // Session 1 is forgotten: its next command cannot be told from a retry
  // of an applied one, so it is refused and changes nothing.
  pb::MetaReply refused =
      s.Apply(InSession(CreateCmd(kRoot, "c", pb::FILE_TYPE_REGULAR, 0644), 1, 2));
  CHECK(CodeOf(ReplyStatus(refused)) == ErrorCode::SESSION_EXPIRED);
  CHECK(CodeOf(s.Lookup(kRoot, "c")) == ErrorCode::NOT_FOUND);
  // Session 2 is not idle: its retry still gets the recorded reply.
  pb::MetaReply again =
      s.Apply(InSession(CreateCmd(kRoot, "b", pb::FILE_TYPE_REGULAR, 0644), 2, 1));
  CHECK(ReplyStatus(again).ok());
  CHECK(s->InodeCount() == 3);
  // A new session starts at sequence 1 as always.
  CHECK(ReplyStatus(s.Apply(InSession(CreateCmd(kRoot, "c", pb::FILE_TYPE_REGULAR, 0644), 3, 1)))
            .ok());
  // Nothing idle is left to expire; the command is idempotent.
  CHECK(s.Apply(ExpireCmd(between)).expired_sessions() == 0);
}

// A small tree with something in every column family.
void Populate(TestStore& s) {
  REQUIRE(s.RegisterNode(0, "10.0.0.1:7000", "a").ok());
  REQUIRE(s.RegisterNode(0, "10.0.0.2:7000", "b").ok());
  REQUIRE(s.Mkdir(kRoot, "dir").ok());                 // 2
  REQUIRE(s.CreateFile(2, "file").ok());               // 3
  REQUIRE(s.Symlink(kRoot, "link", "dir/file").ok());  // 4
  REQUIRE(s.SetXattr(3, "user.color", "blue").ok());
  REQUIRE(s.AllocateChunk(3, 0, {1, 2}).ok());
  REQUIRE(s.AllocateChunk(3, 1, {2, 1}).ok());
  REQUIRE(s.CommitWrite(3, kChunkSize + 10).ok());
  REQUIRE(s.CreateFile(kRoot, "gone").ok());  // 5
  REQUIRE(s.AllocateChunk(5, 0, {1}).ok());
  REQUIRE(s.Unlink(kRoot, "gone").ok());
  REQUIRE(ReplyStatus(s.Apply(InSession(UnlinkCmd(kRoot, "none"), 11, 1))).code() ==
          ErrorCode::NOT_FOUND);
}

// Everything the reads can see, as one string.
std::string Dump(MetaStore& m) {
  std::string out = m.cluster_id() + "|" + std::to_string(m.chunk_size()) + "|" +
                    std::to_string(m.AppliedIndex()) + "|" + std::to_string(m.InodeCount());
  for (uint64_t inode = 1; inode <= 6; inode++) {
    auto attr = m.GetAttr(inode);
    out += "|" + (attr.ok() ? attr->ShortDebugString() : attr.status().ToString());
  }
  for (const auto& n : m.Nodes())
    out += "|" + n.ShortDebugString();
  for (const auto& g : m.Garbage(100))
    out += "|" + g.ShortDebugString();
  out += "|" + m.ReadDir(Root(), kRoot, "", 100).value().ShortDebugString();
  out += "|" + m.ReadDir(Root(), 2, "", 100).value().ShortDebugString();
  out += "|" + m.GetChunks(3, 0, 0).value().ShortDebugString();
  out += "|" + m.GetXattr(Root(), 3, "user.color").value_or("?");
  out += "|" + m.ReadLink(4).value_or("?");
  return out;
}

TEST_CASE("MetaStore: reopening keeps every change and the applied index", "[meta][store]") {
  TestStore s;
  Populate(s);
  std::string before = Dump(s.store());
  uint64_t applied = s->AppliedIndex();
  s.Reopen();
  CHECK(s->AppliedIndex() == applied);
  CHECK(Dump(s.store()) == before);
  // The session table survived too: the retry gets its recorded reply.
  CHECK(
      ReplyStatus(s.Apply(InSession(CreateCmd(kRoot, "none", pb::FILE_TYPE_REGULAR, 0644), 11, 1)))
          .code() == ErrorCode::NOT_FOUND);
  CHECK(CodeOf(s.Lookup(kRoot, "none")) == ErrorCode::NOT_FOUND);
}

TEST_CASE("MetaStore: checkpoint restored into another store gives identical reads",
          "[meta][store]") {
  TestStore source;
  Populate(source);
  std::string checkpoint = source.dir() + "/checkpoint";
  REQUIRE(source->Checkpoint(checkpoint).ok());
  // Changes after the checkpoint are not in it.
  std::string at_checkpoint = Dump(source.store());
  REQUIRE(source.CreateFile(kRoot, "later").ok());

  TestStore target;
  REQUIRE(target.Mkdir(kRoot, "unrelated").ok());
  REQUIRE(target->Restore(checkpoint).ok());
  CHECK(Dump(target.store()) == at_checkpoint);
  CHECK(CodeOf(target.Lookup(kRoot, "unrelated")) == ErrorCode::NOT_FOUND);
  CHECK(CodeOf(target.Lookup(kRoot, "later")) == ErrorCode::NOT_FOUND);

  // The checkpoint is left intact: a second store restores from it too,
  // and the restored state goes on applying where the checkpoint ended.
  TestStore third(/*format=*/false);
  REQUIRE(third->Restore(checkpoint).ok());
  CHECK(Dump(third.store()) == at_checkpoint);
  third.Reopen();
  CHECK(Dump(third.store()) == at_checkpoint);
  auto next = third.CreateFile(kRoot, "next");
  REQUIRE(next.ok());
  CHECK(next->inode() == 6);
  CHECK(third->AppliedIndex() == source->AppliedIndex());
}

TEST_CASE("MetaStore: a failed restore leaves the current state in place", "[meta][store]") {
  TestStore s;
  REQUIRE(s.CreateFile(kRoot, "keep").ok());
  CHECK_FALSE(s->Restore(s.dir() + "/no-such-checkpoint").ok());
  CHECK(s.Lookup(kRoot, "keep").ok());
}

TEST_CASE("MetaStore: reads on other threads see whole Apply calls", "[meta][store]") {
  TestStore s;
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  // Each Apply creates a directory and a file in it; a reader that sees
  // the directory must see its file and the root's nlink agree.
  std::thread reader([&] {
    while (!done) {
      auto list = s->ReadDir(Root(), kRoot, "", 4096);
      if (!list.ok()) continue;
      for (const pb::DirEntry& e : list->entries()) {
        auto inner = s->ReadDir(Root(), e.attr().inode(), "", 10);
        if (inner.ok() && inner->entries_size() != 1) torn++;
      }
    }
  });
  for (int i = 0; i < 100; i++) {
    uint64_t dir = 2 + 2 * i;
    std::vector<pb::MetaCommand> cmds;
    cmds.push_back(CreateCmd(kRoot, "d" + std::to_string(i), pb::FILE_TYPE_DIRECTORY, 0755));
    cmds.push_back(CreateCmd(dir, "f", pb::FILE_TYPE_REGULAR, 0644));
    s.ApplyAll(std::move(cmds));
  }
  done = true;
  reader.join();
  CHECK(torn == 0);
  CHECK(s.Attr(kRoot).value().nlink() == 102);
}

TEST_CASE("MetaStore: MakeReply and ReplyStatus carry code and message", "[meta][store]") {
  pb::MetaReply reply = MakeReply(Status::NotEmpty("dir x"));
  CHECK(reply.error().code() == 102);
  CHECK(reply.error().message() == "dir x");
  CHECK(ReplyStatus(reply) == Status::NotEmpty("dir x"));
  CHECK(!MakeReply(Status::Ok()).has_error());
  CHECK(ReplyStatus(pb::MetaReply()).ok());
}

}  // namespace
}  // namespace dfs::meta::testing
