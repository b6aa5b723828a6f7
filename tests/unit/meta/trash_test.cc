// The trash (meta/ops/trash.h, docs/meta.md "Trash"): unlink and rename
// over a file move its last link there when the command says so; restore
// puts it back; purge frees it; the trash is read-only to the namespace
// operations and visible to root only.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "meta/meta_store.h"
#include "meta/ops/trash.h"
#include "tests/unit/meta/meta_test_util.h"

namespace dfs::meta::testing {
namespace {

using ops::kTrashInode;

pb::MetaCommand Trashing(pb::MetaCommand cmd) {
  cmd.set_trash(true);
  return cmd;
}

pb::MetaCommand RestoreCmd(uint64_t id, uint64_t parent = 0, const std::string& name = "") {
  pb::MetaCommand cmd;
  cmd.mutable_trash_restore()->set_id(id);
  cmd.mutable_trash_restore()->set_parent(parent);
  cmd.mutable_trash_restore()->set_name(name);
  return cmd;
}

pb::MetaCommand PurgeCmd(int64_t before_ns, uint32_t max = 0) {
  pb::MetaCommand cmd;
  cmd.mutable_trash_purge()->set_deleted_before_ns(before_ns);
  cmd.mutable_trash_purge()->set_max_entries(max);
  return cmd;
}

void RegisterNodes(TestStore& s) {
  REQUIRE(s.RegisterNode(0, "10.0.0.1:7000", "z1").ok());
  REQUIRE(s.RegisterNode(0, "10.0.0.2:7000", "z2").ok());
}

std::vector<uint64_t> GarbageIds(TestStore& s) {
  std::vector<uint64_t> ids;
  for (const pb::ChunkRecord& c : s->Garbage(100))
    ids.push_back(c.chunk_id());
  return ids;
}

// A file of 1.5 MB (two chunks) in `dir`.
pb::InodeAttr FileWithChunks(TestStore& s, uint64_t dir, const std::string& name) {
  auto f = s.CreateFile(dir, name);
  REQUIRE(f.ok());
  REQUIRE(s.AllocateChunk(f->inode(), 0, {1}).ok());
  REQUIRE(s.AllocateChunk(f->inode(), 1, {2}).ok());
  auto written = s.CommitWrite(f->inode(), 1500000);
  REQUIRE(written.ok());
  return *written;
}

std::vector<pb::TrashRecord> Trash(TestStore& s) {
  auto records = s->ListTrash(0, 100);
  REQUIRE(records.ok());
  return *records;
}

TEST_CASE("unlink with trash: the file moves to the trash with its chunks", "[meta][trash]") {
  TestStore s;
  RegisterNodes(s);
  auto d = s.Mkdir(kRoot, "docs");
  REQUIRE(d.ok());
  REQUIRE(s.Chmod(d->inode(), 0777).ok());
  s.caller = User(1000, 100);
  pb::InodeAttr f = FileWithChunks(s, d->inode(), "report.txt");
  const uint64_t inodes = s->InodeCount();

  pb::MetaReply reply = s.Apply(Trashing(UnlinkCmd(d->inode(), "report.txt")));
  REQUIRE(ReplyStatus(reply).ok());
  const int64_t deleted_ns = s.now_ns;
  CHECK(reply.trash_id() == 1);
  CHECK(reply.freed_chunks_size() == 0);
  CHECK(s->Garbage(10).empty());
  CHECK(CodeOf(s.Lookup(d->inode(), "report.txt")) == ErrorCode::NOT_FOUND);
  CHECK(s->InodeCount() == inodes);  // the file lives on

  std::vector<pb::TrashRecord> trash = Trash(s);
  REQUIRE(trash.size() == 1);
  CHECK(trash[0].id() == 1);
  CHECK(trash[0].inode() == f.inode());
  CHECK(trash[0].parent() == d->inode());
  CHECK(trash[0].name() == "report.txt");
  CHECK(trash[0].path() == "/docs/report.txt");
  CHECK(trash[0].deleted_ns() == deleted_ns);
  CHECK(trash[0].size() == 1500000);
  CHECK(trash[0].uid() == 1000);
  auto totals = s->TrashUsage();
  REQUIRE(totals.ok());
  CHECK(totals->entries == 1);
  CHECK(totals->bytes == 1500000);

  // Root sees it under /.trash, with its data.
  s.caller = Root();
  auto dir = s.Lookup(kRoot, ".trash");
  REQUIRE(dir.ok());
  CHECK(dir->inode() == kTrashInode);
  CHECK(dir->type() == pb::FILE_TYPE_DIRECTORY);
  CHECK(dir->mode() == 0500);
  CHECK(dir->uid() == 0);
  CHECK(s.ListNames(kTrashInode) == std::vector<std::string>{"1-report.txt"});
  auto inside = s.Lookup(kTrashInode, "1-report.txt");
  REQUIRE(inside.ok());
  CHECK(inside->inode() == f.inode());
  CHECK(inside->nlink() == 1);
  CHECK(inside->size() == 1500000);
  CHECK(s->GetChunks(f.inode(), 0, 0)->chunks_size() == 2);
}

TEST_CASE("without the trash flag, unlink frees as before", "[meta][trash]") {
  TestStore s;
  RegisterNodes(s);
  FileWithChunks(s, kRoot, "f");
  pb::MetaReply reply = s.Apply(UnlinkCmd(kRoot, "f"));
  REQUIRE(ReplyStatus(reply).ok());
  CHECK(reply.trash_id() == 0);
  CHECK(reply.freed_chunks_size() == 2);
  CHECK(Trash(s).empty());
  CHECK(CodeOf(s.Lookup(kRoot, ".trash")) == ErrorCode::NOT_FOUND);  // never created
}

TEST_CASE("only the last link of a regular file goes to the trash", "[meta][trash]") {
  TestStore s;
  RegisterNodes(s);
  pb::InodeAttr f = FileWithChunks(s, kRoot, "f");
  REQUIRE(s.Link(f.inode(), kRoot, "g").ok());
  REQUIRE(s.Symlink(kRoot, "l", "f").ok());
  REQUIRE(s.Mkdir(kRoot, "d").ok());
  REQUIRE(ReplyStatus(s.Apply(CreateCmd(kRoot, "p", pb::FILE_TYPE_FIFO, 0644))).ok());

  pb::MetaReply first = s.Apply(Trashing(UnlinkCmd(kRoot, "f")));
  CHECK(first.trash_id() == 0);  // "g" is left
  CHECK(s.Attr(f.inode())->nlink() == 1);
  CHECK(s.Apply(Trashing(UnlinkCmd(kRoot, "l"))).trash_id() == 0);
  CHECK(s.Apply(Trashing(UnlinkCmd(kRoot, "p"))).trash_id() == 0);
  CHECK(ReplyStatus(s.Apply(Trashing(RmdirCmd(kRoot, "d")))).ok());
  CHECK(Trash(s).empty());

  pb::MetaReply last = s.Apply(Trashing(UnlinkCmd(kRoot, "g")));
  CHECK(last.trash_id() == 1);
  CHECK(last.freed_chunks_size() == 0);
  REQUIRE(Trash(s).size() == 1);
  CHECK(Trash(s)[0].name() == "g");
}

TEST_CASE("rename over a file moves the replaced file to the trash", "[meta][trash]") {
  TestStore s;
  RegisterNodes(s);
  auto d = s.Mkdir(kRoot, "d");
  pb::InodeAttr old_file = FileWithChunks(s, d->inode(), "config");
  auto next = s.CreateFile(kRoot, "config.new");
  REQUIRE(next.ok());

  pb::MetaReply reply = s.Apply(Trashing(RenameCmd(kRoot, "config.new", d->inode(), "config")));
  REQUIRE(ReplyStatus(reply).ok());
  CHECK(reply.trash_id() == 1);
  CHECK(reply.freed_chunks_size() == 0);
  CHECK(s.Lookup(d->inode(), "config")->inode() == next->inode());
  std::vector<pb::TrashRecord> trash = Trash(s);
  REQUIRE(trash.size() == 1);
  CHECK(trash[0].inode() == old_file.inode());
  CHECK(trash[0].path() == "/d/config");
  CHECK(s.Attr(old_file.inode())->nlink() == 1);

  SECTION("a replaced file with other links only loses one") {
    auto a = s.CreateFile(kRoot, "a");
    auto b = s.CreateFile(kRoot, "b");
    REQUIRE(s.Link(b->inode(), kRoot, "b2").ok());
    CHECK(s.Apply(Trashing(RenameCmd(kRoot, "a", kRoot, "b"))).trash_id() == 0);
    CHECK(s.Attr(b->inode())->nlink() == 1);
  }
  SECTION("without the flag the replaced file is freed") {
    auto a = s.CreateFile(kRoot, "a");
    FileWithChunks(s, kRoot, "b");
    pb::MetaReply plain = s.Apply(RenameCmd(kRoot, "a", kRoot, "b"));
    CHECK(plain.trash_id() == 0);
    CHECK(plain.freed_chunks_size() == 2);
  }
}

TEST_CASE("restore: back where it was, or elsewhere, never over a name", "[meta][trash]") {
  TestStore s;
  RegisterNodes(s);
  auto d = s.Mkdir(kRoot, "d");
  pb::InodeAttr f = FileWithChunks(s, d->inode(), "f");
  REQUIRE(s.SetXattr(f.inode(), "user.tag", "x").ok());
  REQUIRE(ReplyStatus(s.Apply(Trashing(UnlinkCmd(d->inode(), "f")))).ok());

  SECTION("to the original place") {
    pb::MetaReply reply = s.Apply(RestoreCmd(1));
    REQUIRE(ReplyStatus(reply).ok());
    CHECK(reply.attr().inode() == f.inode());
    auto back = s.Lookup(d->inode(), "f");
    REQUIRE(back.ok());
    CHECK(back->inode() == f.inode());
    CHECK(back->size() == 1500000);
    CHECK(s->GetChunks(f.inode(), 0, 0)->chunks_size() == 2);
    CHECK(s->GetXattr(Root(), f.inode(), "user.tag").value() == "x");
    CHECK(Trash(s).empty());
    CHECK(s.ListNames(kTrashInode).empty());
    CHECK(s->TrashUsage()->entries == 0);
    CHECK(s->TrashUsage()->bytes == 0);
    // Writable again, and trashable again.
    CHECK(s.Chmod(f.inode(), 0600).ok());
    CHECK(s.Apply(Trashing(UnlinkCmd(d->inode(), "f"))).trash_id() == 2);
  }
  SECTION("to another directory and name") {
    REQUIRE(ReplyStatus(s.Apply(RestoreCmd(1, kRoot, "rescued"))).ok());
    CHECK(s.Lookup(kRoot, "rescued")->inode() == f.inode());
    CHECK(CodeOf(s.Lookup(d->inode(), "f")) == ErrorCode::NOT_FOUND);
  }
  SECTION("onto an existing name: ALREADY_EXISTS, nothing changes") {
    REQUIRE(s.CreateFile(d->inode(), "f").ok());
    Status st = ReplyStatus(s.Apply(RestoreCmd(1)));
    CHECK(st.code() == ErrorCode::ALREADY_EXISTS);
    CHECK(st.message().find("/d/f exists") != std::string::npos);
    CHECK(Trash(s).size() == 1);
    CHECK(CodeOf(ReplyStatus(s.Apply(RestoreCmd(1, kRoot, "d")))) == ErrorCode::ALREADY_EXISTS);
  }
  SECTION("the directory is gone: NOT_FOUND") {
    REQUIRE(s.Rmdir(kRoot, "d").ok());
    CHECK(CodeOf(ReplyStatus(s.Apply(RestoreCmd(1)))) == ErrorCode::NOT_FOUND);
    CHECK(ReplyStatus(s.Apply(RestoreCmd(1, kRoot, "f"))).ok());
  }
  SECTION("a retried restore (the inode given) is answered OK, once it is in place") {
    pb::MetaCommand restore = RestoreCmd(1, kRoot, "rescued");
    restore.mutable_trash_restore()->set_inode(f.inode());
    REQUIRE(ReplyStatus(s.Apply(restore)).ok());
    pb::MetaReply again = s.Apply(restore);
    REQUIRE(ReplyStatus(again).ok());
    CHECK(again.attr().inode() == f.inode());
    // Without the inode, or once the name holds another file: NOT_FOUND.
    CHECK(CodeOf(ReplyStatus(s.Apply(RestoreCmd(1, kRoot, "rescued")))) == ErrorCode::NOT_FOUND);
    REQUIRE(s.Unlink(kRoot, "rescued").ok());
    REQUIRE(s.CreateFile(kRoot, "rescued").ok());
    CHECK(CodeOf(ReplyStatus(s.Apply(restore))) == ErrorCode::NOT_FOUND);
  }
  SECTION("into the trash, or an unknown entry") {
    CHECK(CodeOf(ReplyStatus(s.Apply(RestoreCmd(1, kTrashInode, "x")))) == ErrorCode::READ_ONLY);
    CHECK(CodeOf(ReplyStatus(s.Apply(RestoreCmd(1, kRoot, ".trash")))) == ErrorCode::READ_ONLY);
    CHECK(CodeOf(ReplyStatus(s.Apply(RestoreCmd(7)))) == ErrorCode::NOT_FOUND);
  }
}

TEST_CASE("purge: entries older than the cutoff are freed, chunks to garbage", "[meta][trash]") {
  TestStore s;
  RegisterNodes(s);
  pb::InodeAttr a = FileWithChunks(s, kRoot, "a");
  REQUIRE(s.SetXattr(a.inode(), "user.k", "v").ok());
  REQUIRE(ReplyStatus(s.Apply(Trashing(UnlinkCmd(kRoot, "a")))).ok());
  const int64_t a_deleted = s.now_ns;
  pb::InodeAttr b = FileWithChunks(s, kRoot, "b");
  REQUIRE(ReplyStatus(s.Apply(Trashing(UnlinkCmd(kRoot, "b")))).ok());
  const uint64_t inodes = s->InodeCount();

  pb::MetaReply none = s.Apply(PurgeCmd(a_deleted - 1));
  REQUIRE(ReplyStatus(none).ok());
  CHECK(none.trash_purged() == 0);
  CHECK(Trash(s).size() == 2);

  pb::MetaReply first = s.Apply(PurgeCmd(a_deleted));
  REQUIRE(ReplyStatus(first).ok());
  CHECK(first.trash_purged() == 1);
  CHECK(first.freed_chunks_size() == 2);
  CHECK(GarbageIds(s) == std::vector<uint64_t>{1, 2});
  CHECK(CodeOf(s.Attr(a.inode())) == ErrorCode::NOT_FOUND);
  CHECK(s->InodeCount() == inodes - 1);
  CHECK(s.ListNames(kTrashInode) == std::vector<std::string>{"2-b"});
  CHECK(s->TrashUsage()->entries == 1);

  pb::MetaReply rest = s.Apply(PurgeCmd(s.now_ns, 10));
  CHECK(rest.trash_purged() == 1);
  CHECK(GarbageIds(s) == std::vector<uint64_t>{1, 2, 3, 4});
  CHECK(CodeOf(s.Attr(b.inode())) == ErrorCode::NOT_FOUND);
  CHECK(s->TrashUsage()->entries == 0);
  CHECK(s->TrashUsage()->bytes == 0);
  CHECK(s.ListNames(kTrashInode).empty());

  std::string dir = s.state_dir();
  s.Close();
  CHECK(CountKeys(dir, "trash") == 0);
  CHECK(CountKeys(dir, "xattrs") == 0);
  CHECK(CountKeys(dir, "chunks") == 0);
  CHECK(CountKeys(dir, "inodes") == 2);  // the root and the trash
}

TEST_CASE("purge stops at max entries and at the first younger entry", "[meta][trash]") {
  TestStore s;
  for (int i = 0; i < 5; i++) {
    REQUIRE(s.CreateFile(kRoot, "f" + std::to_string(i)).ok());
    REQUIRE(ReplyStatus(s.Apply(Trashing(UnlinkCmd(kRoot, "f" + std::to_string(i))))).ok());
  }
  CHECK(s.Apply(PurgeCmd(s.now_ns, 2)).trash_purged() == 2);
  CHECK(Trash(s).front().id() == 3);
  CHECK(s.Apply(PurgeCmd(s.now_ns)).trash_purged() == 3);
  CHECK(Trash(s).empty());
}

TEST_CASE("the trash is read-only to the namespace operations", "[meta][trash]") {
  TestStore s;
  RegisterNodes(s);
  pb::InodeAttr f = FileWithChunks(s, kRoot, "f");
  REQUIRE(s.Mkdir(kRoot, "d").ok());
  REQUIRE(s.CreateFile(kRoot, "g").ok());
  REQUIRE(ReplyStatus(s.Apply(Trashing(UnlinkCmd(kRoot, "f")))).ok());
  const std::string entry = "1-f";
  auto read_only = [](const auto& outcome) { return CodeOf(outcome) == ErrorCode::READ_ONLY; };

  // Entries in the trash, as root (who may otherwise do anything).
  CHECK(read_only(s.CreateFile(kTrashInode, "new")));
  CHECK(read_only(s.Mkdir(kTrashInode, "sub")));
  CHECK(read_only(s.Symlink(kTrashInode, "l", "x")));
  CHECK(read_only(s.Unlink(kTrashInode, entry)));
  CHECK(read_only(s.Rename(kTrashInode, entry, kRoot, "out")));
  CHECK(read_only(s.Rename(kRoot, "g", kTrashInode, "in")));
  CHECK(read_only(s.Rename(kRoot, "g", kTrashInode, entry)));
  CHECK(read_only(s.Rename(kRoot, "g", kRoot, ".trash")));
  CHECK(read_only(s.Link(f.inode(), kRoot, "again")));
  CHECK(read_only(s.Link(s.Lookup(kRoot, "g")->inode(), kTrashInode, "in")));
  // The trashed file and the trash directory themselves.
  CHECK(read_only(s.Chmod(f.inode(), 0777)));
  CHECK(read_only(s.Truncate(f.inode(), 0)));
  CHECK(read_only(s.Chmod(kTrashInode, 0777)));
  CHECK(read_only(s.SetXattr(f.inode(), "user.a", "1")));
  CHECK(read_only(s.RemoveXattr(kTrashInode, "user.a")));
  CHECK(read_only(s.CommitWrite(f.inode(), 10)));
  CHECK(read_only(s.AllocateChunk(f.inode(), 5, {1})));
  // The name of the trash in the root.
  CHECK(read_only(s.Rmdir(kRoot, ".trash")));
  CHECK(read_only(s.Unlink(kRoot, ".trash")));
  CHECK(read_only(s.CreateFile(kRoot, ".trash")));
  CHECK(read_only(s.Mkdir(kRoot, ".trash")));

  // Nothing changed.
  CHECK(s.ListNames(kTrashInode) == std::vector<std::string>{entry});
  CHECK(s.Attr(f.inode())->size() == 1500000);
  CHECK(s.Attr(kTrashInode)->mode() == 0500);
  // Reading is fine.
  CHECK(s->GetChunks(f.inode(), 0, 0).ok());
  CHECK(s->Access(Root(), f.inode(), 4).ok());
}

TEST_CASE("/.trash is root's: others do not find it, readdir of the root hides it",
          "[meta][trash]") {
  TestStore s;
  REQUIRE(s.Chmod(kRoot, 0777).ok());
  REQUIRE(s.CreateFile(kRoot, "gone").ok());
  REQUIRE(s.CreateFile(kRoot, "kept").ok());
  REQUIRE(ReplyStatus(s.Apply(Trashing(UnlinkCmd(kRoot, "gone")))).ok());

  CHECK(s.Lookup(kRoot, ".trash").ok());
  CHECK(s.ListNames(kRoot) == std::vector<std::string>{"kept"});
  s.caller = User(1000, 100);
  CHECK(CodeOf(s.Lookup(kRoot, ".trash")) == ErrorCode::NOT_FOUND);
  CHECK(s.ListNames(kRoot) == std::vector<std::string>{"kept"});
  // Mode 0500, root's: no way in for others even with the inode number.
  CHECK(CodeOf(s->ReadDir(s.caller, kTrashInode, "", 0)) == ErrorCode::PERMISSION_DENIED);
  CHECK(CodeOf(s->Lookup(s.caller, kTrashInode, "1-gone")) == ErrorCode::PERMISSION_DENIED);
  CHECK(CodeOf(s.CreateFile(kRoot, ".trash")) == ErrorCode::READ_ONLY);
}

TEST_CASE("an entry named .trash from before the trash keeps working", "[meta][trash]") {
  TestStore s;
  // The name is reserved now; an old state may hold such an entry all the same.
  REQUIRE(CodeOf(s.Mkdir(kRoot, ".trash")) == ErrorCode::READ_ONLY);
  std::string dir = s.state_dir();
  s.Close();
  EditRawStore(dir, [](rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& h) {
    pb::DentryRecord entry;
    entry.set_inode(kRoot);  // any existing inode will do
    entry.set_type(pb::FILE_TYPE_DIRECTORY);
    REQUIRE(db->Put(rocksdb::WriteOptions(), h[static_cast<size_t>(Family::kDentries)],
                    keys::Named(kRoot, ".trash"), entry.SerializeAsString())
                .ok());
  });
  s.Reopen();
  REQUIRE(s.CreateFile(kRoot, "f").ok());
  REQUIRE(ReplyStatus(s.Apply(Trashing(UnlinkCmd(kRoot, "f")))).ok());
  CHECK(s.Lookup(kRoot, ".trash")->inode() == kRoot);  // the old entry wins
  CHECK(s.Attr(kTrashInode).ok());
}

TEST_CASE("trash entry names: id, dash, name, cut to 255 bytes on a character", "[meta][trash]") {
  CHECK(ops::TrashEntryName(12, "a.txt") == "12-a.txt");
  std::string ascii(255, 'x');
  CHECK(ops::TrashEntryName(7, ascii) == "7-" + std::string(253, 'x'));
  // "é" is two bytes; 2 + 126 * 2 = 254, the 127th would straddle 255.
  std::string accents;
  for (int i = 0; i < 127; i++)
    accents += "\xc3\xa9";
  std::string cut = ops::TrashEntryName(7, accents);
  CHECK(cut.size() == 254);
  CHECK(cut.substr(0, 4) == "7-\xc3\xa9");
}

TEST_CASE("the trash survives a restart and fsck finds it healthy", "[meta][trash]") {
  TestStore s;
  RegisterNodes(s);
  auto d = s.Mkdir(kRoot, "d");
  FileWithChunks(s, d->inode(), "f");
  FileWithChunks(s, kRoot, "g");
  REQUIRE(ReplyStatus(s.Apply(Trashing(UnlinkCmd(d->inode(), "f")))).ok());
  REQUIRE(ReplyStatus(s.Apply(Trashing(UnlinkCmd(kRoot, "g")))).ok());
  s.Reopen();
  CHECK(s->TrashUsage()->entries == 2);
  CHECK(s->TrashUsage()->bytes == 3000000);
  REQUIRE(s.CreateFile(kRoot, "h").ok());
  CHECK(s.Apply(Trashing(UnlinkCmd(kRoot, "h"))).trash_id() == 3);

  std::vector<ops::FsckFinding> found;
  ops::FsckVisitor visitor;
  visitor.found = [&](const ops::FsckFinding& f) { found.push_back(f); };
  auto counts = s->Fsck(kRoot, visitor);
  REQUIRE(counts.ok());
  std::string problems;
  for (const auto& f : found)
    problems += f.kind + ": " + f.detail + "\n";
  CHECK(problems == "");
  CHECK(counts->directories == 3);  // root, d, the trash
  CHECK(counts->files == 3);
  CHECK(counts->chunks == 4);
}

}  // namespace
}  // namespace dfs::meta::testing
