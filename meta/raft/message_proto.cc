#include "meta/raft/message_proto.h"

#include <memory>
#include <utility>

namespace dfs::raft {

void ToProto(const Message& m, pb::RaftMessage* out) {
  out->set_type(static_cast<uint32_t>(m.type));
  out->set_from(m.from);
  out->set_to(m.to);
  out->set_term(m.term);
  out->set_log_term(m.log_term);
  out->set_index(m.index);
  out->set_commit(m.commit);
  out->set_reject(m.reject);
  out->set_reject_hint(m.reject_hint);
  out->set_context(m.context);
  for (const Entry& e : m.entries) {
    pb::RaftEntry* pe = out->add_entries();
    pe->set_term(e.term);
    pe->set_index(e.index);
    pe->set_type(static_cast<uint32_t>(e.type));
    pe->set_data(e.data);
  }
  if (m.snapshot) {
    pb::RaftSnapshotMeta* s = out->mutable_snapshot();
    s->set_index(m.snapshot->meta.index);
    s->set_term(m.snapshot->meta.term);
    for (NodeId id : m.snapshot->meta.conf_state.voters)
      s->mutable_conf_state()->add_voters(id);
    for (NodeId id : m.snapshot->meta.conf_state.learners) {
      s->mutable_conf_state()->add_learners(id);
    }
  }
}

bool FromProto(pb::RaftMessage* in, Message* m) {
  if (in->type() > static_cast<uint32_t>(MessageType::kProp)) return false;
  m->type = static_cast<MessageType>(in->type());
  m->from = in->from();
  m->to = in->to();
  m->term = in->term();
  m->log_term = in->log_term();
  m->index = in->index();
  m->commit = in->commit();
  m->reject = in->reject();
  m->reject_hint = in->reject_hint();
  m->context = std::move(*in->mutable_context());
  m->entries.reserve(in->entries_size());
  for (pb::RaftEntry& pe : *in->mutable_entries()) {
    if (pe.type() > static_cast<uint32_t>(EntryType::kConfChange)) return false;
    Entry e;
    e.term = pe.term();
    e.index = pe.index();
    e.type = static_cast<EntryType>(pe.type());
    e.data = std::move(*pe.mutable_data());
    m->entries.push_back(std::move(e));
  }
  if (m->type == MessageType::kSnap) {
    if (!in->has_snapshot()) return false;
    auto snap = std::make_shared<Snapshot>();
    snap->meta.index = in->snapshot().index();
    snap->meta.term = in->snapshot().term();
    const auto& cs = in->snapshot().conf_state();
    snap->meta.conf_state.voters.assign(cs.voters().begin(), cs.voters().end());
    snap->meta.conf_state.learners.assign(cs.learners().begin(), cs.learners().end());
    m->snapshot = std::move(snap);
  }
  return m->from != kNone;
}

}  // namespace dfs::raft
