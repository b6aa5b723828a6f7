#include "tests/unit/meta/meta_test_util.h"

#include <catch2/catch.hpp>

#include <rocksdb/db.h>

#include <memory>
#include <utility>

#include "meta/meta_store_keys.h"
#include "meta/raft/types.h"

namespace dfs::meta::testing {

Credentials Root() {
  return Credentials{};
}

Credentials User(uint32_t uid, uint32_t gid, std::vector<uint32_t> groups) {
  Credentials c;
  c.uid = uid;
  c.gid = gid;
  c.groups = std::move(groups);
  return c;
}

pb::MetaCommand FormatCmd(const std::string& cluster_id, uint64_t chunk_size) {
  pb::MetaCommand cmd;
  cmd.mutable_format()->set_cluster_id(cluster_id);
  cmd.mutable_format()->set_chunk_size(chunk_size);
  return cmd;
}

pb::MetaCommand CreateCmd(uint64_t parent, const std::string& name, pb::FileType type,
                          uint32_t mode, bool exclusive, const std::string& target) {
  pb::MetaCommand cmd;
  pb::CreateRequest* req = cmd.mutable_create();
  req->set_parent(parent);
  req->set_name(name);
  req->set_type(type);
  req->set_mode(mode);
  req->set_exclusive(exclusive);
  req->set_symlink_target(target);
  return cmd;
}

pb::MetaCommand UnlinkCmd(uint64_t parent, const std::string& name) {
  pb::MetaCommand cmd;
  cmd.mutable_unlink()->set_parent(parent);
  cmd.mutable_unlink()->set_name(name);
  return cmd;
}

pb::MetaCommand RmdirCmd(uint64_t parent, const std::string& name) {
  pb::MetaCommand cmd;
  cmd.mutable_rmdir()->set_parent(parent);
  cmd.mutable_rmdir()->set_name(name);
  return cmd;
}

pb::MetaCommand RenameCmd(uint64_t parent, const std::string& name, uint64_t new_parent,
                          const std::string& new_name, uint32_t flags) {
  pb::MetaCommand cmd;
  pb::RenameRequest* req = cmd.mutable_rename();
  req->set_parent(parent);
  req->set_name(name);
  req->set_new_parent(new_parent);
  req->set_new_name(new_name);
  req->set_flags(flags);
  return cmd;
}

pb::MetaCommand LinkCmd(uint64_t inode, uint64_t new_parent, const std::string& new_name) {
  pb::MetaCommand cmd;
  cmd.mutable_link()->set_inode(inode);
  cmd.mutable_link()->set_new_parent(new_parent);
  cmd.mutable_link()->set_new_name(new_name);
  return cmd;
}

pb::MetaCommand SetAttrCmd(const pb::SetAttrRequest& req) {
  pb::MetaCommand cmd;
  *cmd.mutable_setattr() = req;
  return cmd;
}

pb::MetaCommand SetXattrCmd(uint64_t inode, const std::string& name, const std::string& value,
                            uint32_t flags) {
  pb::MetaCommand cmd;
  pb::XattrRequest* req = cmd.mutable_setxattr();
  req->set_inode(inode);
  req->set_name(name);
  req->set_value(value);
  req->set_flags(flags);
  return cmd;
}

pb::MetaCommand RemoveXattrCmd(uint64_t inode, const std::string& name) {
  pb::MetaCommand cmd;
  cmd.mutable_removexattr()->set_inode(inode);
  cmd.mutable_removexattr()->set_name(name);
  return cmd;
}

pb::MetaCommand AllocateChunkCmd(uint64_t inode, uint64_t index, std::vector<uint64_t> replicas,
                                 std::vector<uint64_t> failed) {
  pb::MetaCommand cmd;
  pb::AllocateChunkCommand* req = cmd.mutable_allocate_chunk();
  req->set_inode(inode);
  req->set_index(index);
  for (uint64_t r : replicas)
    req->add_replicas(r);
  for (uint64_t f : failed)
    req->add_failed_nodes(f);
  return cmd;
}

pb::MetaCommand CommitWriteCmd(uint64_t inode, uint64_t size) {
  pb::MetaCommand cmd;
  cmd.mutable_commit_write()->set_inode(inode);
  cmd.mutable_commit_write()->set_size(size);
  return cmd;
}

pb::MetaCommand RegisterNodeCmd(uint64_t node_id, const std::string& address,
                                const std::string& zone, uint64_t capacity) {
  pb::MetaCommand cmd;
  pb::RegisterNodeRequest* req = cmd.mutable_register_node();
  req->set_node_id(node_id);
  req->set_address(address);
  req->set_zone(zone);
  req->set_capacity_bytes(capacity);
  return cmd;
}

pb::MetaCommand ForgetGarbageCmd(const std::vector<std::pair<uint64_t, uint64_t>>& pairs) {
  pb::MetaCommand cmd;
  pb::ForgetGarbageCommand* req = cmd.mutable_forget_garbage();
  for (const auto& [chunk_id, node_id] : pairs) {
    pb::GarbageReplica* pair = req->add_replicas();
    pair->set_chunk_id(chunk_id);
    pair->set_node_id(node_id);
  }
  return cmd;
}

size_t CountKeys(const std::string& dir, const std::string& family) {
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const char* name : keys::kFamilies)
    families.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  REQUIRE(rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), dir, families, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  size_t count = 0;
  for (size_t i = 0; i < handles.size(); i++) {
    if (family != keys::kFamilies[i]) continue;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[i]));
    for (it->SeekToFirst(); it->Valid(); it->Next())
      count++;
  }
  for (auto* h : handles)
    REQUIRE(db->DestroyColumnFamilyHandle(h).ok());
  return count;
}

void EditRawStore(
    const std::string& dir,
    const std::function<void(rocksdb::DB*, const std::vector<rocksdb::ColumnFamilyHandle*>&)>&
        edit) {
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const char* name : keys::kFamilies)
    families.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  REQUIRE(rocksdb::DB::Open(rocksdb::DBOptions(), dir, families, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  edit(db.get(), handles);
  for (auto* h : handles)
    REQUIRE(db->DestroyColumnFamilyHandle(h).ok());
  REQUIRE(db->Close().ok());
}

void DeleteRawKey(const std::string& dir, const std::string& family, const std::string& key) {
  EditRawStore(dir, [&](rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& handles) {
    for (size_t i = 0; i < handles.size(); i++) {
      if (family == keys::kFamilies[i]) {
        REQUIRE(db->Delete(rocksdb::WriteOptions(), handles[i], key).ok());
      }
    }
  });
}

Result<pb::InodeAttr> AttrOf(const pb::MetaReply& reply) {
  Status status = ReplyStatus(reply);
  if (!status.ok()) return status;
  return reply.attr();
}

TestStore::TestStore(bool format) {
  REQUIRE(!dir_.path().empty());
  auto store = MetaStore::Open(state_dir());
  REQUIRE(store.ok());
  store_ = std::move(store).value();
  if (format) {
    pb::MetaReply reply = Apply(FormatCmd());
    REQUIRE(reply.error().code() == 0);
  }
}

pb::MetaCommand TestStore::Stamp(pb::MetaCommand cmd) {
  cmd.set_uid(caller.uid);
  cmd.set_gid(caller.gid);
  cmd.clear_groups();
  for (uint32_t g : caller.groups)
    cmd.add_groups(g);
  now_ns += 1000000000;
  cmd.set_now_ns(now_ns);
  return cmd;
}

std::vector<std::string> TestStore::ApplyRaw(const std::vector<std::string>& data) {
  std::vector<raft::Entry> entries;
  for (const std::string& d : data) {
    raft::Entry e;
    e.term = 1;
    e.index = next_index_++;
    e.data = d;
    entries.push_back(std::move(e));
  }
  return store_->Apply(entries);
}

std::vector<pb::MetaReply> TestStore::ApplyAll(std::vector<pb::MetaCommand> cmds) {
  std::vector<std::string> data;
  for (pb::MetaCommand& cmd : cmds)
    data.push_back(Stamp(std::move(cmd)).SerializeAsString());
  std::vector<std::string> raw = ApplyRaw(data);
  REQUIRE(raw.size() == cmds.size());
  std::vector<pb::MetaReply> replies(raw.size());
  for (size_t i = 0; i < raw.size(); i++)
    REQUIRE(replies[i].ParseFromString(raw[i]));
  return replies;
}

pb::MetaReply TestStore::Apply(pb::MetaCommand cmd) {
  std::vector<pb::MetaCommand> one;
  one.push_back(std::move(cmd));
  return ApplyAll(std::move(one))[0];
}

void TestStore::Reopen() {
  store_.reset();
  auto store = MetaStore::Open(state_dir());
  REQUIRE(store.ok());
  store_ = std::move(store).value();
  next_index_ = store_->AppliedIndex() + 1;
}

Result<pb::InodeAttr> TestStore::Mkdir(uint64_t parent, const std::string& name, uint32_t mode) {
  return AttrOf(Apply(CreateCmd(parent, name, pb::FILE_TYPE_DIRECTORY, mode)));
}

Result<pb::InodeAttr> TestStore::CreateFile(uint64_t parent, const std::string& name,
                                            uint32_t mode) {
  return AttrOf(Apply(CreateCmd(parent, name, pb::FILE_TYPE_REGULAR, mode)));
}

Result<pb::InodeAttr> TestStore::Symlink(uint64_t parent, const std::string& name,
                                         const std::string& target) {
  return AttrOf(Apply(CreateCmd(parent, name, pb::FILE_TYPE_SYMLINK, 0777, true, target)));
}

Status TestStore::Unlink(uint64_t parent, const std::string& name) {
  return ReplyStatus(Apply(UnlinkCmd(parent, name)));
}

Status TestStore::Rmdir(uint64_t parent, const std::string& name) {
  return ReplyStatus(Apply(RmdirCmd(parent, name)));
}

Status TestStore::Rename(uint64_t parent, const std::string& name, uint64_t new_parent,
                         const std::string& new_name, uint32_t flags) {
  return ReplyStatus(Apply(RenameCmd(parent, name, new_parent, new_name, flags)));
}

Result<pb::InodeAttr> TestStore::Link(uint64_t inode, uint64_t new_parent,
                                      const std::string& new_name) {
  return AttrOf(Apply(LinkCmd(inode, new_parent, new_name)));
}

Result<pb::InodeAttr> TestStore::SetAttr(const pb::SetAttrRequest& req) {
  return AttrOf(Apply(SetAttrCmd(req)));
}

Result<pb::InodeAttr> TestStore::Chmod(uint64_t inode, uint32_t mode) {
  pb::SetAttrRequest req;
  req.set_inode(inode);
  req.set_valid(pb::SETATTR_MODE);
  req.set_mode(mode);
  return SetAttr(req);
}

Result<pb::InodeAttr> TestStore::Chown(uint64_t inode, uint32_t uid, uint32_t gid) {
  pb::SetAttrRequest req;
  req.set_inode(inode);
  req.set_valid(pb::SETATTR_UID | pb::SETATTR_GID);
  req.set_uid(uid);
  req.set_gid(gid);
  return SetAttr(req);
}

Result<pb::InodeAttr> TestStore::Truncate(uint64_t inode, uint64_t size) {
  pb::SetAttrRequest req;
  req.set_inode(inode);
  req.set_valid(pb::SETATTR_SIZE);
  req.set_size(size);
  return SetAttr(req);
}

Status TestStore::SetXattr(uint64_t inode, const std::string& name, const std::string& value,
                           uint32_t flags) {
  return ReplyStatus(Apply(SetXattrCmd(inode, name, value, flags)));
}

Status TestStore::RemoveXattr(uint64_t inode, const std::string& name) {
  return ReplyStatus(Apply(RemoveXattrCmd(inode, name)));
}

Result<pb::ChunkLocation> TestStore::AllocateChunk(uint64_t inode, uint64_t index,
                                                   std::vector<uint64_t> replicas,
                                                   std::vector<uint64_t> failed) {
  pb::MetaReply reply =
      Apply(AllocateChunkCmd(inode, index, std::move(replicas), std::move(failed)));
  Status status = ReplyStatus(reply);
  if (!status.ok()) return status;
  return reply.chunk();
}

Result<pb::InodeAttr> TestStore::CommitWrite(uint64_t inode, uint64_t size) {
  return AttrOf(Apply(CommitWriteCmd(inode, size)));
}

Result<uint64_t> TestStore::RegisterNode(uint64_t node_id, const std::string& address,
                                         const std::string& zone) {
  pb::MetaReply reply = Apply(RegisterNodeCmd(node_id, address, zone));
  Status status = ReplyStatus(reply);
  if (!status.ok()) return status;
  return reply.node_id();
}

Result<pb::InodeAttr> TestStore::Lookup(uint64_t parent, const std::string& name) const {
  return store_->Lookup(caller, parent, name);
}

std::vector<std::string> TestStore::ListNames(uint64_t dir, uint32_t page) const {
  std::vector<std::string> names;
  std::string cookie;
  for (;;) {
    auto reply = store_->ReadDir(caller, dir, cookie, page);
    REQUIRE(reply.ok());
    for (const pb::DirEntry& e : reply->entries())
      names.push_back(e.name());
    if (reply->eof()) break;
    REQUIRE(reply->entries_size() > 0);
    cookie = reply->entries(reply->entries_size() - 1).name();
  }
  return names;
}

}  // namespace dfs::meta::testing
