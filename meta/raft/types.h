// Plain data types of the Raft core: log entries, messages, persistent and
// volatile state, and the Ready batch the core hands to its driver.
//
// Names follow the Raft dissertation and etcd's raftpb, so a reader with
// either open can check every field. proto/raft.proto mirrors these types
// on the wire; meta/raft/ converts once per hop.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dfs::raft {

using NodeId = uint64_t;
constexpr NodeId kNone = 0;  // no node: no leader known, no vote cast

enum class EntryType : uint8_t {
  kNormal = 0,      // application data; empty data = the leader's no-op
  kConfChange = 1,  // data = ConfChange::Encode()
};

struct Entry {
  uint64_t term = 0;
  uint64_t index = 0;
  EntryType type = EntryType::kNormal;
  std::string data;

  bool operator==(const Entry&) const = default;
};

enum class ConfChangeType : uint8_t {
  kAddLearner = 0,  // a new member that receives the log but does not vote
  kAddVoter = 1,    // promotes a caught-up learner to voter
  kRemoveNode = 2,  // removes a voter or learner
};

// One membership change; membership moves one server at a time.
struct ConfChange {
  ConfChangeType type = ConfChangeType::kAddLearner;
  NodeId node = kNone;
  std::string context;  // opaque to Raft: e.g. the new member's address

  std::string Encode() const;
  // Returns nullopt on malformed input.
  static std::optional<ConfChange> Decode(const std::string& data);
};

// The membership in force; sorted, disjoint.
struct ConfState {
  std::vector<NodeId> voters;
  std::vector<NodeId> learners;

  bool operator==(const ConfState&) const = default;
};

struct SnapshotMeta {
  uint64_t index = 0;  // last log index the snapshot covers
  uint64_t term = 0;   // term of that entry
  ConfState conf_state;

  bool operator==(const SnapshotMeta&) const = default;
};

// A state-machine snapshot. `data` is opaque to Raft; a driver may leave it
// empty and ship the state out of band (the meta service streams a RocksDB
// checkpoint), keyed by meta.index.
struct Snapshot {
  SnapshotMeta meta;
  std::string data;

  bool empty() const { return meta.index == 0; }
};

// State that must be on stable storage before any message that depends on
// it is sent.
struct HardState {
  uint64_t term = 0;
  NodeId vote = kNone;
  uint64_t commit = 0;

  bool operator==(const HardState&) const = default;
};

enum class MessageType : uint8_t {
  kApp,             // AppendEntries
  kAppResp,         // AppendEntries reply
  kVote,            // RequestVote
  kVoteResp,        //
  kPreVote,         // RequestVote with term+1, without changing the sender's term
  kPreVoteResp,     //
  kSnap,            // InstallSnapshot
  kHeartbeat,       // empty AppendEntries carrying the commit index
  kHeartbeatResp,   //
  kTransferLeader,  // a follower asks the leader to hand leadership to `from`
  kTimeoutNow,      // leader tells the transferee to campaign at once
  kReadIndex,       // a follower asks the leader for a read index
  kReadIndexResp,   //
  kProp,            // internal: a proposal
};

const char* MessageTypeName(MessageType type);

struct Message {
  MessageType type = MessageType::kApp;
  NodeId from = kNone;
  NodeId to = kNone;
  uint64_t term = 0;
  uint64_t log_term = 0;  // kApp: term of entry `index`; kVote: last log term
  uint64_t index = 0;     // kApp: index before `entries`; kAppResp: last matched
  std::vector<Entry> entries;
  uint64_t commit = 0;
  bool reject = false;
  uint64_t reject_hint = 0;  // kAppResp reject: where the follower's log may match
  std::string context;       // kVote: "transfer"; heartbeats and reads: read context
  std::shared_ptr<const Snapshot> snapshot;  // kSnap only
};

enum class StateRole : uint8_t { kFollower, kPreCandidate, kCandidate, kLeader };

const char* StateRoleName(StateRole role);

// Volatile state worth telling the driver about when it changes.
struct SoftState {
  NodeId lead = kNone;
  StateRole role = StateRole::kFollower;

  bool operator==(const SoftState&) const = default;
};

// A linearizable read is safe once the local state machine has applied
// `index`.
struct ReadState {
  uint64_t index = 0;
  std::string context;
};

// What the driver must do, in this order:
//   1. persist `snapshot` (if any), `entries` and `hard_state` (if set);
//      fsync when must_sync;
//   2. send `messages`;
//   3. apply `snapshot` then `committed_entries` to the state machine;
//      serve `read_states` once applied >= their index;
//   4. call Raft::Advance().
struct Ready {
  std::optional<SoftState> soft_state;
  std::optional<HardState> hard_state;
  std::vector<Entry> entries;  // to append to stable storage
  Snapshot snapshot;           // to install; empty() when none
  std::vector<Entry> committed_entries;
  std::vector<Message> messages;
  std::vector<ReadState> read_states;
  bool must_sync = false;  // entries, term or vote changed
};

// Why a request was refused by the core. The driver maps these to
// dfs::Status codes at its boundary.
enum class RaftError : uint8_t {
  kOk,
  kNotLeader,             // ask leader() instead
  kProposalDropped,       // e.g. a leadership transfer is in progress
  kConfChangeInProgress,  // the previous membership change is not applied yet
  kInvalidConfChange,     // e.g. promote a node that is not a learner
  kLearnerBehind,         // the learner has not caught up yet
};

const char* RaftErrorName(RaftError error);

}  // namespace dfs::raft

namespace dfs::raft {

// The first entries of a new group's log: one committed kAddVoter per
// initial member, identical on every founding node. Nodes that join later
// replay them (or get a snapshot) and so learn the founding membership.
std::vector<Entry> BootstrapEntries(const std::vector<NodeId>& voters);

}  // namespace dfs::raft
