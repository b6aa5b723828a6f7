#include "meta/raft/types.h"

namespace dfs::raft {

// Encoding: one byte type, eight bytes node id (little endian), then context.
std::string ConfChange::Encode() const {
  std::string out;
  out.reserve(9 + context.size());
  out.push_back(static_cast<char>(type));
  for (int i = 0; i < 8; i++)
    out.push_back(static_cast<char>((node >> (8 * i)) & 0xff));
  out += context;
  return out;
}

std::optional<ConfChange> ConfChange::Decode(const std::string& data) {
  if (data.size() < 9) return std::nullopt;
  auto type = static_cast<uint8_t>(data[0]);
  if (type > static_cast<uint8_t>(ConfChangeType::kRemoveNode)) return std::nullopt;
  ConfChange cc;
  cc.type = static_cast<ConfChangeType>(type);
  cc.node = 0;
  for (int i = 0; i < 8; i++)
    cc.node |= uint64_t{static_cast<uint8_t>(data[1 + i])} << (8 * i);
  cc.context = data.substr(9);
  return cc;
}

const char* MessageTypeName(MessageType type) {
  switch (type) {
    case MessageType::kApp:
      return "App";
    case MessageType::kAppResp:
      return "AppResp";
    case MessageType::kVote:
      return "Vote";
    case MessageType::kVoteResp:
      return "VoteResp";
    case MessageType::kPreVote:
      return "PreVote";
    case MessageType::kPreVoteResp:
      return "PreVoteResp";
    case MessageType::kSnap:
      return "Snap";
    case MessageType::kHeartbeat:
      return "Heartbeat";
    case MessageType::kHeartbeatResp:
      return "HeartbeatResp";
    case MessageType::kTransferLeader:
      return "TransferLeader";
    case MessageType::kTimeoutNow:
      return "TimeoutNow";
    case MessageType::kReadIndex:
      return "ReadIndex";
    case MessageType::kReadIndexResp:
      return "ReadIndexResp";
    case MessageType::kProp:
      return "Prop";
  }
  return "?";
}

const char* StateRoleName(StateRole role) {
  switch (role) {
    case StateRole::kFollower:
      return "follower";
    case StateRole::kPreCandidate:
      return "pre-candidate";
    case StateRole::kCandidate:
      return "candidate";
    case StateRole::kLeader:
      return "leader";
  }
  return "?";
}

const char* RaftErrorName(RaftError error) {
  switch (error) {
    case RaftError::kOk:
      return "ok";
    case RaftError::kNotLeader:
      return "not leader";
    case RaftError::kProposalDropped:
      return "proposal dropped";
    case RaftError::kConfChangeInProgress:
      return "membership change in progress";
    case RaftError::kInvalidConfChange:
      return "invalid membership change";
    case RaftError::kLearnerBehind:
      return "learner has not caught up";
  }
  return "?";
}

}  // namespace dfs::raft

namespace dfs::raft {

std::vector<Entry> BootstrapEntries(const std::vector<NodeId>& voters) {
  std::vector<Entry> entries;
  for (NodeId id : voters) {
    Entry e;
    e.term = 1;
    e.index = entries.size() + 1;
    e.type = EntryType::kConfChange;
    e.data = ConfChange{ConfChangeType::kAddVoter, id, ""}.Encode();
    entries.push_back(std::move(e));
  }
  return entries;
}

}  // namespace dfs::raft
