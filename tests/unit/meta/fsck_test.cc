// fsck (meta/ops/fsck.h): a healthy tree is clean; each kind of damage is
// found, and the fixes it offers repair it, once.
#include <catch2/catch.hpp>

#include <vector>

#include "meta/meta_store.h"
#include "meta/meta_store_keys.h"
#include "tests/unit/meta/meta_test_util.h"

namespace dfs::meta::testing {
namespace {

struct Outcome {
  ops::FsckCounts counts;
  std::vector<ops::FsckFinding> findings;
};

Outcome RunFsck(TestStore& s, uint64_t start = kRoot) {
  Outcome out;
  ops::FsckVisitor v;
  v.found = [&](const ops::FsckFinding& f) { out.findings.push_back(f); };
  auto counts = s->Fsck(start, v);
  REQUIRE(counts.ok());
  out.counts = *counts;
  return out;
}

pb::MetaReply Fix(TestStore& s, const pb::FsckFixCommand& fix) {
  pb::MetaCommand cmd;
  *cmd.mutable_fsck_fix() = fix;
  return s.Apply(cmd);
}

TEST_CASE("fsck: a healthy tree is clean and counted", "[meta][fsck]") {
  TestStore s;
  auto d = s.Mkdir(kRoot, "d");
  REQUIRE(d.ok());
  auto f = s.CreateFile(d->inode(), "f");
  REQUIRE(f.ok());
  REQUIRE(s.Link(f->inode(), kRoot, "f-again").ok());
  REQUIRE(s.Symlink(kRoot, "l", "d/f").ok());
  REQUIRE(s.Mkdir(d->inode(), "e").ok());
  Outcome o = RunFsck(s);
  CHECK(o.findings.empty());
  CHECK(o.counts.directories == 3);  // root, d, e
  CHECK(o.counts.files == 1);        // two names, one file
  CHECK(o.counts.other == 1);
  CHECK(o.counts.inodes_checked == 5);
  CHECK(o.counts.inodes_total == 5);

  Outcome sub = RunFsck(s, d->inode());
  CHECK(sub.findings.empty());
  CHECK(sub.counts.directories == 2);
}

TEST_CASE("fsck: wrong link counts and parents are found and fixed", "[meta][fsck]") {
  TestStore s;
  auto d = s.Mkdir(kRoot, "d");
  auto e = s.Mkdir(kRoot, "e");
  auto f = s.CreateFile(d->inode(), "f");
  REQUIRE((d.ok() && e.ok() && f.ok()));
  // Damage made with the fixes themselves: a file's count off by two, a
  // directory claiming the wrong parent.
  pb::FsckFixCommand bad_count;
  bad_count.mutable_set_nlink()->set_inode(f->inode());
  bad_count.mutable_set_nlink()->set_expect(1);
  bad_count.mutable_set_nlink()->set_nlink(3);
  REQUIRE(ReplyStatus(Fix(s, bad_count)).ok());
  pb::FsckFixCommand bad_parent;
  bad_parent.mutable_set_parent()->set_inode(d->inode());
  bad_parent.mutable_set_parent()->set_parent(e->inode());
  REQUIRE(ReplyStatus(Fix(s, bad_parent)).ok());

  Outcome o = RunFsck(s);
  REQUIRE(o.findings.size() == 2);
  for (const ops::FsckFinding& finding : o.findings) {
    INFO(finding.kind << ": " << finding.detail);
    CHECK((finding.kind == "nlink" || finding.kind == "wrong_parent"));
    REQUIRE(finding.fix.has_value());
    CHECK(ReplyStatus(Fix(s, *finding.fix)).ok());
    // A fix applied twice changes nothing the second time.
    if (finding.kind == "nlink") CHECK_FALSE(ReplyStatus(Fix(s, *finding.fix)).ok());
  }
  CHECK(RunFsck(s).findings.empty());
  CHECK(s->GetAttr(f->inode())->nlink() == 1);
}

TEST_CASE("fsck: an entry whose inode is gone is found and removed; orphans are reported",
          "[meta][fsck]") {
  TestStore s;
  auto d = s.Mkdir(kRoot, "d");
  auto f = s.CreateFile(d->inode(), "f");
  auto g = s.CreateFile(d->inode(), "g");
  REQUIRE((d.ok() && f.ok() && g.ok()));
  s.Close();
  DeleteRawKey(s.state_dir(), "inodes", keys::Id(f->inode()));
  DeleteRawKey(s.state_dir(), "dentries", keys::Named(d->inode(), "g"));
  s.Reopen();

  Outcome o = RunFsck(s);
  REQUIRE(o.findings.size() == 2);
  const ops::FsckFinding* dangling = nullptr;
  const ops::FsckFinding* orphan = nullptr;
  for (const auto& finding : o.findings) {
    if (finding.kind == "dangling_dentry") dangling = &finding;
    if (finding.kind == "orphan_inode") orphan = &finding;
  }
  REQUIRE(dangling != nullptr);
  REQUIRE(orphan != nullptr);
  CHECK(dangling->inode == f->inode());
  CHECK(orphan->inode == g->inode());
  CHECK_FALSE(orphan->fix.has_value());
  REQUIRE(dangling->fix.has_value());
  REQUIRE(ReplyStatus(Fix(s, *dangling->fix)).ok());
  CHECK(CodeOf(s->Lookup(Root(), d->inode(), "f").status()) == ErrorCode::NOT_FOUND);
  Outcome after = RunFsck(s);
  REQUIRE(after.findings.size() == 1);
  CHECK(after.findings[0].kind == "orphan_inode");
}

}  // namespace
}  // namespace dfs::meta::testing
