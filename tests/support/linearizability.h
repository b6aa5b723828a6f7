// A linearizability checker for namespace histories (issue "Fault-injection
// suite": the metadata history the mounts saw, checked against a
// sequential model).
//
// The model is a small directory: each of a few names is absent or names a
// file id. Operations: create (O_EXCL), unlink, rename (replacing), and
// lookup (a read). Each operation has the interval in which it ran (call to
// return, any clock common to every client) and its outcome; an operation
// whose outcome the client never learned (an error, a timeout, a crash) is
// "unknown": it may have taken effect at any point after its call, or not
// at all.
//
// Check: is there an order of the operations that respects real time (an
// operation that returned before another was called comes first), gives
// every known outcome the model's answer, and places each unknown one
// anywhere after its call or drops it? The search is Wing & Gong's with
// the memoization of Lowe (a state seen with the same set of operations
// done is not explored twice); fine for the small key spaces and bounded
// concurrency the fault suite uses.
//
// Long histories (the fault suite records tens of thousands of
// operations) are checked window by window: a window ends where no
// operation is in flight, and what carries over to the next window is the
// set of every state some linearization of the history so far ends in.
// An unknown operation is in flight until `settle` after it returned: by
// then it has taken effect or never will (a client's retries have given up and
// a new leader has committed or dropped what an old one held). With the
// default, an unknown operation keeps its window open to the end.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace dfs::testing {

struct NsOp {
  enum class Kind { kCreate, kUnlink, kRename, kLookup };
  Kind kind = Kind::kLookup;
  int name = 0;            // index into the key space
  int to = 0;              // rename: the new name
  bool noreplace = false;  // rename: RENAME_NOREPLACE (fails if `to` exists)
  // create: the new file's id (0: unknown, a create whose client never
  // learned it; any lookup may see it); lookup: the id seen (0: absent)
  uint64_t id = 0;
  // The outcome: true = succeeded, false = failed with the error the model
  // gives (EEXIST for create, ENOENT for unlink/rename/lookup of absent,
  // EEXIST for a RENAME_NOREPLACE onto a present name).
  bool ok = false;
  bool unknown = false;  // the client never learned the outcome
  int64_t call = 0;      // when it was called
  int64_t ret = 0;       // when it returned (unknown: it may take effect later)
  int client = 0;        // for messages only
};

struct LinearizabilityResult {
  bool linearizable = false;
  // When not: the longest prefix of operations (in call order) that has a
  // linearization, as a hint of where it goes wrong.
  size_t longest_prefix = 0;
  size_t windows = 0;         // windows checked
  size_t largest_window = 0;  // operations in the largest one
  std::string explanation;
  uint64_t states_explored = 0;
  bool gave_up = false;  // the search exceeded its budget: no verdict
};

// `names` is the size of the key space; every name starts absent.
// `max_states` bounds the states explored over the whole history.
LinearizabilityResult CheckNamespaceHistory(const std::vector<NsOp>& history, int names,
                                            uint64_t max_states = 50'000'000,
                                            int64_t settle = std::numeric_limits<int64_t>::max());

}  // namespace dfs::testing
