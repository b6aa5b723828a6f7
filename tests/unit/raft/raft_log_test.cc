#include "meta/raft/raft_log.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "meta/raft/memory_storage.h"

namespace dfs::raft {
namespace {

constexpr uint64_t kNoLimit = UINT64_MAX;

Entry MakeEntry(uint64_t index, uint64_t term, std::string data = "") {
  Entry e;
  e.index = index;
  e.term = term;
  e.data = std::move(data);
  return e;
}

// Entries first, first+1, ... with the given terms.
std::vector<Entry> EntriesWithTerms(uint64_t first, const std::vector<uint64_t>& terms,
                                    const std::string& data = "") {
  std::vector<Entry> out;
  for (size_t k = 0; k < terms.size(); k++)
    out.push_back(MakeEntry(first + k, terms[k], data));
  return out;
}

// The terms of every entry the log can see, FirstIndex() to LastIndex().
std::vector<uint64_t> Terms(const RaftLog& log) {
  std::vector<uint64_t> out;
  for (uint64_t i = log.FirstIndex(); i <= log.LastIndex(); i++)
    out.push_back(*log.Term(i));
  return out;
}

std::vector<uint64_t> Indexes(const std::vector<Entry>& entries) {
  std::vector<uint64_t> out;
  for (const Entry& e : entries)
    out.push_back(e.index);
  return out;
}

TEST_CASE("RaftLog: MaybeAppend replaces only the suffix that conflicts", "[raft][raft_log]") {
  MemoryStorage storage;
  storage.Append(EntriesWithTerms(1, {1, 1, 2, 2, 2}));
  RaftLog log(&storage, kNoLimit);

  // Entries 2 and 3 match; 4 and 5 conflict; 6 is new.
  auto last = log.MaybeAppend(1, 1, 0, EntriesWithTerms(2, {1, 2, 3, 3, 3}));

  REQUIRE(last == 6u);
  CHECK(Terms(log) == std::vector<uint64_t>{1, 1, 2, 3, 3, 3});
  // Only the conflicting suffix goes back to the driver; the matching
  // entries (possibly committed) are left alone.
  CHECK(Indexes(log.UnstableEntries()) == std::vector<uint64_t>{4, 5, 6});
}

TEST_CASE("RaftLog: MaybeAppend of entries already present keeps a longer log",
          "[raft][raft_log]") {
  MemoryStorage storage;
  storage.Append(EntriesWithTerms(1, {1, 1, 2, 2, 2}));
  RaftLog log(&storage, kNoLimit);

  // A delayed, shorter append from the same leader must not truncate.
  auto last = log.MaybeAppend(1, 1, 0, EntriesWithTerms(2, {1, 2}));

  REQUIRE(last == 3u);
  CHECK(log.LastIndex() == 5);
  CHECK(log.UnstableEntries().empty());
}

TEST_CASE("RaftLog: MaybeAppend rejects when the previous entry does not match",
          "[raft][raft_log]") {
  MemoryStorage storage;
  storage.Append(EntriesWithTerms(1, {1, 1, 2, 2, 2}));
  RaftLog log(&storage, kNoLimit);

  CHECK_FALSE(log.MaybeAppend(5, 3, 5, EntriesWithTerms(6, {3})).has_value());  // wrong term
  CHECK_FALSE(log.MaybeAppend(7, 2, 5, EntriesWithTerms(8, {2})).has_value());  // beyond the log
  CHECK(Terms(log) == std::vector<uint64_t>{1, 1, 2, 2, 2});
  CHECK(log.committed() == 0);
}

TEST_CASE("RaftLog: MaybeAppend commits no further than the last entry it vouches for",
          "[raft][raft_log]") {
  MemoryStorage storage;
  storage.Append(EntriesWithTerms(1, {1, 1, 2, 2, 2}));
  RaftLog log(&storage, kNoLimit);

  // Entries 3..5 exist locally but this append does not say they match the
  // leader's, so the leader's commit index 5 only commits up to 2.
  REQUIRE(log.MaybeAppend(1, 1, 5, EntriesWithTerms(2, {1})) == 2u);
  CHECK(log.committed() == 2);

  REQUIRE(log.MaybeAppend(4, 2, 3, {}) == 4u);
  CHECK(log.committed() == 3);
}

TEST_CASE("RaftLog: FindConflictByTerm returns the last index with a term at most the given one",
          "[raft][raft_log]") {
  MemoryStorage storage;
  storage.Append(EntriesWithTerms(1, {1, 1, 2, 2, 4, 4}));
  RaftLog log(&storage, kNoLimit);

  CHECK(log.FindConflictByTerm(6, 4) == 6);
  CHECK(log.FindConflictByTerm(6, 3) == 4);  // skips the whole of term 4
  CHECK(log.FindConflictByTerm(6, 2) == 4);
  CHECK(log.FindConflictByTerm(6, 1) == 2);
  CHECK(log.FindConflictByTerm(6, 0) == 0);
  CHECK(log.FindConflictByTerm(3, 4) == 3);
  CHECK(log.FindConflictByTerm(9, 1) == 9);  // beyond the log: nothing to say
}

TEST_CASE("RaftLog: FindConflictByTerm stops at the first index it cannot see",
          "[raft][raft_log]") {
  MemoryStorage storage;
  storage.Append(EntriesWithTerms(1, {1, 1, 2, 2, 4, 4}));
  storage.CreateSnapshotAndCompact(3, ConfState{}, "");
  RaftLog log(&storage, kNoLimit);

  // Index 3 is the snapshot (term 2, still visible); index 2 is gone.
  CHECK(log.FindConflictByTerm(6, 2) == 4);
  CHECK(log.FindConflictByTerm(6, 1) == 2);
}

TEST_CASE("RaftLog: Slice spans the stable and unstable parts", "[raft][raft_log]") {
  MemoryStorage storage;
  storage.Append(EntriesWithTerms(1, {1, 1, 1}));
  RaftLog log(&storage, kNoLimit);
  log.Append(EntriesWithTerms(4, {2, 2, 2}));

  CHECK(Indexes(*log.Slice(2, 6, kNoLimit)) == std::vector<uint64_t>{2, 3, 4, 5});
  CHECK(Indexes(*log.Slice(1, 4, kNoLimit)) == std::vector<uint64_t>{1, 2, 3});
  CHECK(Indexes(*log.Slice(4, 7, kNoLimit)) == std::vector<uint64_t>{4, 5, 6});
  CHECK(log.Slice(3, 3, kNoLimit)->empty());
  CHECK((*log.Slice(3, 5, kNoLimit))[1].term == 2);
}

TEST_CASE("RaftLog: Slice stops at max_bytes across the boundary but returns one entry at least",
          "[raft][raft_log]") {
  MemoryStorage storage;
  storage.Append(EntriesWithTerms(1, {1, 1, 1}, std::string(10, 'x')));
  RaftLog log(&storage, kNoLimit);
  log.Append(EntriesWithTerms(4, {2, 2, 2}, std::string(10, 'y')));

  CHECK(Indexes(*log.Slice(1, 7, 25)) == std::vector<uint64_t>{1, 2});
  CHECK(Indexes(*log.Slice(3, 7, 25)) == std::vector<uint64_t>{3, 4});
  CHECK(Indexes(*log.Slice(2, 7, 35)) == std::vector<uint64_t>{2, 3, 4});
  CHECK(Indexes(*log.Slice(3, 7, 0)) == std::vector<uint64_t>{3});
  CHECK(Indexes(*log.Slice(5, 7, 0)) == std::vector<uint64_t>{5});
}

TEST_CASE("RaftLog: Term and Slice of a compacted index are nullopt", "[raft][raft_log]") {
  MemoryStorage storage;
  storage.Append(EntriesWithTerms(1, {1, 1, 2, 2, 3, 3}));
  storage.CreateSnapshotAndCompact(3, ConfState{}, "");
  RaftLog log(&storage, kNoLimit);

  CHECK(log.FirstIndex() == 4);
  CHECK_FALSE(log.Term(2).has_value());
  CHECK(log.Term(3) == 2u);  // the snapshot's last entry
  CHECK(log.Term(4) == 2u);
  CHECK_FALSE(log.Term(7).has_value());  // beyond the log
  CHECK_FALSE(log.Slice(2, 5, kNoLimit).has_value());
  CHECK(Indexes(*log.Slice(4, 7, kNoLimit)) == std::vector<uint64_t>{4, 5, 6});
  // Everything up to the snapshot counts as committed and applied.
  CHECK(log.committed() == 3);
  CHECK(log.applied() == 3);
}

TEST_CASE("RaftLog: Restore replaces the log with a snapshot", "[raft][raft_log]") {
  MemoryStorage storage;
  storage.Append(EntriesWithTerms(1, {1, 1, 1}));
  RaftLog log(&storage, kNoLimit);
  log.Append(EntriesWithTerms(4, {2, 2}));

  Snapshot snap;
  snap.meta.index = 10;
  snap.meta.term = 3;
  snap.meta.conf_state.voters = {1, 2, 3};
  log.Restore(snap);

  CHECK(log.FirstIndex() == 11);
  CHECK(log.LastIndex() == 10);
  CHECK(log.LastTerm() == 3);
  CHECK(log.committed() == 10);
  CHECK_FALSE(log.Term(5).has_value());
  CHECK(log.UnstableEntries().empty());
  REQUIRE(log.UnstableSnapshot().has_value());
  CHECK(log.UnstableSnapshot()->meta == snap.meta);
  CHECK(log.GetSnapshot().meta == snap.meta);

  // The leader's next append continues right after the snapshot.
  CHECK(log.MaybeAppend(10, 3, 11, EntriesWithTerms(11, {3})) == 11u);
  CHECK(log.committed() == 11);

  // Once the driver has persisted the snapshot, the log reads it from storage.
  storage.ApplySnapshot(snap);
  log.StableSnapshotTo(10);
  CHECK_FALSE(log.UnstableSnapshot().has_value());
  CHECK(log.FirstIndex() == 11);
  CHECK(log.Term(10) == 3u);
  CHECK(log.Term(11) == 3u);
}

TEST_CASE("RaftLog: StableTo ignores an entry whose term changed since the Ready",
          "[raft][raft_log]") {
  MemoryStorage storage;
  storage.Append(EntriesWithTerms(1, {1, 1, 1}));
  RaftLog log(&storage, kNoLimit);
  log.Append(EntriesWithTerms(4, {2, 2}));

  log.StableTo(5, 1);  // a Ready from before entry 5 was replaced
  CHECK(log.UnstableEntries().size() == 2);

  storage.Append(EntriesWithTerms(4, {2}));
  log.StableTo(4, 2);
  CHECK(Indexes(log.UnstableEntries()) == std::vector<uint64_t>{5});
}

TEST_CASE("RaftLog: MaybeCommit commits only an entry of the given term", "[raft][raft_log]") {
  MemoryStorage storage;
  storage.Append(EntriesWithTerms(1, {1, 1, 2}));
  RaftLog log(&storage, kNoLimit);

  CHECK_FALSE(log.MaybeCommit(3, 1));
  CHECK(log.committed() == 0);
  CHECK(log.MaybeCommit(3, 2));
  CHECK(log.committed() == 3);
  CHECK_FALSE(log.MaybeCommit(2, 1));  // never backwards
  CHECK(log.committed() == 3);
}

TEST_CASE("RaftLog: IsUpToDate compares the last term first, then the length", "[raft][raft_log]") {
  MemoryStorage storage;
  storage.Append(EntriesWithTerms(1, {1, 2, 2}));
  RaftLog log(&storage, kNoLimit);

  CHECK(log.IsUpToDate(1, 3));  // later term, shorter log
  CHECK(log.IsUpToDate(3, 2));  // same log
  CHECK(log.IsUpToDate(4, 2));  // longer
  CHECK_FALSE(log.IsUpToDate(2, 2));
  CHECK_FALSE(log.IsUpToDate(10, 1));  // longer but older
}

TEST_CASE("RaftLog: NextCommittedEntries returns committed, unapplied entries within the bound",
          "[raft][raft_log]") {
  MemoryStorage storage;
  storage.Append(EntriesWithTerms(1, {1, 1, 1, 1, 1}, std::string(10, 'x')));
  RaftLog log(&storage, 25);

  CHECK(log.NextCommittedEntries().empty());
  log.CommitTo(4);
  CHECK(Indexes(log.NextCommittedEntries()) == std::vector<uint64_t>{1, 2});
  log.AppliedTo(2);
  CHECK(Indexes(log.NextCommittedEntries()) == std::vector<uint64_t>{3, 4});
  log.AppliedTo(4);
  CHECK_FALSE(log.HasNextCommittedEntries());
  CHECK(log.NextCommittedEntries().empty());
}

}  // namespace
}  // namespace dfs::raft
