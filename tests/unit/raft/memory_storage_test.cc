#include "meta/raft/memory_storage.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace dfs::raft {
namespace {

constexpr uint64_t kNoLimit = UINT64_MAX;

std::vector<Entry> EntriesWithTerms(uint64_t first, const std::vector<uint64_t>& terms,
                                    const std::string& data = "") {
  std::vector<Entry> out;
  for (size_t k = 0; k < terms.size(); k++) {
    Entry e;
    e.index = first + k;
    e.term = terms[k];
    e.data = data;
    out.push_back(e);
  }
  return out;
}

std::vector<uint64_t> Terms(const MemoryStorage& s) {
  std::vector<uint64_t> out;
  for (uint64_t i = s.FirstIndex(); i <= s.LastIndex(); i++)
    out.push_back(s.Term(i));
  return out;
}

TEST_CASE("MemoryStorage: a new storage has an empty log and the given membership",
          "[raft][memory_storage]") {
  ConfState cs;
  cs.voters = {1, 2, 3};
  MemoryStorage storage(cs);

  CHECK(storage.FirstIndex() == 1);
  CHECK(storage.LastIndex() == 0);
  CHECK(storage.Term(0) == 0);
  CHECK(storage.InitialConfState() == cs);
  CHECK(storage.InitialHardState() == HardState{});
  CHECK(storage.GetSnapshot().empty());
}

TEST_CASE("MemoryStorage: Append replaces the suffix it conflicts with", "[raft][memory_storage]") {
  MemoryStorage storage;
  storage.Append(EntriesWithTerms(1, {1, 1, 1, 1, 1}));

  storage.Append(EntriesWithTerms(3, {2, 2}));

  CHECK(Terms(storage) == std::vector<uint64_t>{1, 1, 2, 2});
}

TEST_CASE("MemoryStorage: Entries stops at max_bytes but returns one entry at least",
          "[raft][memory_storage]") {
  MemoryStorage storage;
  storage.Append(EntriesWithTerms(1, {1, 1, 1, 1}, std::string(10, 'x')));

  CHECK(storage.Entries(1, 5, kNoLimit).size() == 4);
  CHECK(storage.Entries(1, 5, 25).size() == 2);
  CHECK(storage.Entries(2, 5, 0).size() == 1);
  CHECK(storage.Entries(3, 3, kNoLimit).empty());
}

TEST_CASE("MemoryStorage: CreateSnapshotAndCompact drops the log up to the snapshot",
          "[raft][memory_storage]") {
  MemoryStorage storage;
  storage.Append(EntriesWithTerms(1, {1, 1, 2, 2, 3}));
  ConfState cs;
  cs.voters = {1, 2};
  cs.learners = {3};

  storage.CreateSnapshotAndCompact(4, cs, "state");

  CHECK(storage.FirstIndex() == 5);
  CHECK(storage.LastIndex() == 5);
  CHECK(storage.Term(4) == 2);  // the snapshot keeps its last entry's term
  CHECK(storage.Term(5) == 3);
  Snapshot snap = storage.GetSnapshot();
  CHECK(snap.meta.index == 4);
  CHECK(snap.meta.term == 2);
  CHECK(snap.meta.conf_state == cs);
  CHECK(snap.data == "state");
  CHECK(storage.InitialConfState() == cs);
}

TEST_CASE("MemoryStorage: Append ignores entries the snapshot already covers",
          "[raft][memory_storage]") {
  MemoryStorage storage;
  storage.Append(EntriesWithTerms(1, {1, 1, 1, 1}));
  storage.CreateSnapshotAndCompact(3, ConfState{}, "");

  storage.Append(EntriesWithTerms(2, {1, 1, 2, 2}));

  CHECK(storage.FirstIndex() == 4);
  CHECK(Terms(storage) == std::vector<uint64_t>{2, 2});
}

TEST_CASE("MemoryStorage: ApplySnapshot replaces the log and ignores an older snapshot",
          "[raft][memory_storage]") {
  MemoryStorage storage;
  storage.Append(EntriesWithTerms(1, {1, 1, 1}));

  Snapshot newer;
  newer.meta.index = 10;
  newer.meta.term = 4;
  newer.data = "ten";
  storage.ApplySnapshot(newer);
  CHECK(storage.FirstIndex() == 11);
  CHECK(storage.LastIndex() == 10);
  CHECK(storage.Term(10) == 4);

  Snapshot older;
  older.meta.index = 7;
  older.meta.term = 3;
  storage.ApplySnapshot(older);
  CHECK(storage.GetSnapshot().meta.index == 10);
  CHECK(storage.GetSnapshot().data == "ten");
}

TEST_CASE("MemoryStorage: TruncateAfter drops the suffix after an index",
          "[raft][memory_storage]") {
  MemoryStorage storage;
  storage.Append(EntriesWithTerms(1, {1, 1, 2, 2}));

  storage.TruncateAfter(2);
  CHECK(storage.LastIndex() == 2);
  storage.TruncateAfter(5);  // nothing after 5: no-op
  CHECK(storage.LastIndex() == 2);
}

}  // namespace
}  // namespace dfs::raft
