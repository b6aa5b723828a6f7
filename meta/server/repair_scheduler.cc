#include "meta/server/repair_scheduler.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "common/logging.h"
#include "meta/server/propose.h"
#include "proto/wire_error.h"

namespace dfs::meta {

namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr size_t kSweepPage = 1000;
constexpr size_t kWorkers = 16;  // the most jobs SetLimits may allow
constexpr auto kRateWindow = std::chrono::seconds(10);
constexpr double kBalanceBand = 0.10;  // used fractions within 10 points of the mean

std::string Hex(uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(id));
  return buf;
}

}  // namespace

RepairScheduler::RepairScheduler(RepairOptions options, raft::RaftNode* node, MetaStore* store,
                                 NodeRegistry* registry)
    : options_(options),
      node_(node),
      store_(store),
      registry_(registry),
      limits_(options.limits),
      workers_(kWorkers) {
  limits_.max_jobs = std::min(limits_.max_jobs, kWorkers);
  loop_ = std::thread([this] { Loop(); });
}

RepairScheduler::~RepairScheduler() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  loop_.join();
  // workers_ joins its running jobs as it is destroyed.
}

RepairStats RepairScheduler::Stats() const {
  std::lock_guard lock(mu_);
  RepairStats out = stats_;
  out.running = in_flight_.size();
  out.queued = out.leader ? pending_.size() : 0;
  out.limits = limits_;
  auto now = SteadyClock::now();
  uint64_t recent = 0;
  for (const auto& [when, bytes] : recent_bytes_) {
    if (now - when <= kRateWindow) recent += bytes;
  }
  out.bytes_per_sec =
      static_cast<double>(recent) / std::chrono::duration<double>(kRateWindow).count();
  return out;
}

void RepairScheduler::SetLimits(const RepairLimits& limits) {
  std::lock_guard lock(mu_);
  limits_ = limits;
  limits_.max_jobs = std::clamp<size_t>(limits_.max_jobs, 1, kWorkers);
  limits_.per_node_jobs = std::max<size_t>(limits_.per_node_jobs, 1);
  next_copy_at_ = SteadyClock::now();
}

void RepairScheduler::ForgetLeadership() {
  stats_ = RepairStats{};
  pending_.clear();
  doubts_.clear();
  recent_bytes_.clear();
}

void RepairScheduler::Loop() {
  std::unique_lock lock(mu_);
  auto next_sweep = SteadyClock::now() + options_.scan_interval;
  while (!stop_) {
    // Between sweeps, wake when the bandwidth gate opens for a waiting copy.
    auto until = next_sweep;
    if (!pending_.empty() && limits_.bandwidth > 0) until = std::min(until, next_copy_at_);
    wake_.wait_until(lock, until, [&] { return stop_; });
    if (stop_) break;
    if (SteadyClock::now() < next_sweep) {
      if (stats_.leader) StartPending();
      continue;
    }
    next_sweep = SteadyClock::now() + options_.scan_interval;
    raft::RaftNodeStatus st = node_->GetStatus();
    if (st.role != raft::StateRole::kLeader || !store_->formatted()) {
      if (stats_.leader) ForgetLeadership();
      continue;
    }
    if (term_ != st.term) {
      ForgetLeadership();
      term_ = st.term;
    }
    stats_.leader = true;
    registry_->LeadTerm(st.term);
    stats_.waiting = !registry_->Settled();
    if (stats_.waiting) continue;
    lock.unlock();
    Sweep(st.term);
    lock.lock();
  }
}

void RepairScheduler::Sweep(uint64_t term) {
  // A new leader may not have applied all its predecessor committed.
  if (Status s = node_->ReadBarrierAndWait(std::chrono::seconds(5)); !s.ok()) {
    DFS_LOG(INFO) << "repair sweep skipped: " << s;
    return;
  }
  std::map<uint64_t, ServerView> servers = registry_->Views();
  RepairPolicy policy{options_.replication, store_->chunk_size()};
  std::set<uint64_t> draining, removed;
  for (const pb::NodeRecord& record : store_->Nodes()) {
    if (record.state() == "removed") removed.insert(record.node_id());
    // The replicated state is the word on a server's state.
    auto it = servers.find(record.node_id());
    if (it != servers.end()) it->second.record.set_state(record.state());
    if (record.state() == "draining") draining.insert(record.node_id());
  }
  policy.leaving = draining;
  const Balance balance = JudgeBalance(servers);
  RepairPolicy move_policy = policy;  // for rebalance moves off one source
  move_policy.no_target = balance.no_target;
  move_policy.keep_zones = true;
  const auto now = SteadyClock::now();
  std::set<uint64_t> listed;  // servers some chain lists
  std::vector<Job> moves;
  size_t move_budget = 0;
  {
    std::lock_guard guard(mu_);
    move_budget = balance.balanced ? 0 : limits_.max_jobs;
  }

  RepairStats found;
  std::vector<Job> wanted;
  decltype(doubts_) doubts;
  std::unique_lock lock(mu_);
  decltype(doubts_) before = doubts_;
  std::mt19937_64 rng(rng_());
  lock.unlock();
  uint64_t after_inode = 0, after_index = 0;
  while (true) {
    Result<std::vector<LocatedChunk>> page =
        store_->ScanChunks(after_inode, after_index, kSweepPage);
    if (!page.ok()) {
      DFS_LOG(ERROR) << "repair sweep: " << page.status();
      return;
    }
    for (const LocatedChunk& c : *page) {
      found.chunks_total++;
      auto sure = [&](uint64_t node_id) {
        auto key = std::make_tuple(c.record.chunk_id(), node_id, c.record.version());
        auto it = before.find(key);
        auto since = it == before.end() ? now : it->second;
        doubts[key] = since;
        return now - since >= options_.doubt_grace;
      };
      listed.insert(c.record.replicas().begin(), c.record.replicas().end());
      ChunkVerdict v = JudgeChunk(c.record, servers, policy, sure, rng);
      if (v.healthy(policy.replication) && moves.size() < move_budget) {
        // Rebalance, below repair: one copy off a server above the band.
        for (uint64_t id : c.record.replicas()) {
          if (!balance.sources.count(id)) continue;
          move_policy.leaving = draining;
          move_policy.leaving.insert(id);
          ChunkVerdict move = JudgeChunk(c.record, servers, move_policy, sure, rng);
          if (move.step.kind != RepairStep::Kind::kNone) {
            moves.push_back(Job{c.inode, c.index, c.record.chunk_id(), c.record.version(),
                                std::move(move.step), static_cast<int>(policy.replication) + 1});
            break;
          }
        }
      }
      if (v.unknown) {
        found.chunks_unknown++;
        continue;
      }
      if (v.lost) found.chunks_lost++;
      if (!v.lost && v.good < static_cast<int>(policy.replication)) found.chunks_under_replicated++;
      if (v.zone_degraded) found.chunks_zone_degraded++;
      if (v.over_replicated) found.chunks_over_replicated++;
      if (v.healthy(policy.replication)) found.chunks_healthy++;
      if (v.step.kind != RepairStep::Kind::kNone) {
        wanted.push_back(Job{c.inode, c.index, c.record.chunk_id(), c.record.version(),
                             std::move(v.step), v.priority()});
      }
    }
    if (page->size() < kSweepPage) break;
    after_inode = page->back().inode;
    after_index = page->back().index;
  }
  std::stable_sort(wanted.begin(), wanted.end(),
                   [](const Job& a, const Job& b) { return a.priority < b.priority; });
  found.balanced = balance.balanced;
  found.rebalance_queued = moves.size();
  if (wanted.empty()) wanted = std::move(moves);
  FinishDrains(draining, listed, servers);
  ForgetRemoved(removed);

  lock.lock();
  if (stop_ || term_ != term) return;
  doubts_ = std::move(doubts);
  pending_.clear();
  for (Job& job : wanted) {
    if (!in_flight_.count(job.chunk_id)) pending_.push_back(std::move(job));
  }
  StartPending();
  found.leader = true;
  found.done = stats_.done;
  found.failed = stats_.failed;
  found.bytes = stats_.bytes;
  found.sweeps = stats_.sweeps + 1;
  stats_ = found;
}

RepairScheduler::Balance RepairScheduler::JudgeBalance(
    const std::map<uint64_t, ServerView>& servers) {
  // Live, active servers with a known capacity: the used fraction of each,
  // and the mean.
  std::map<uint64_t, double> used;
  double sum = 0;
  for (const auto& [id, s] : servers) {
    if (!s.live || !s.reported || s.record.state() != "active" || s.capacity == 0) continue;
    double f =
        1.0 - static_cast<double>(std::min(s.free, s.capacity)) / static_cast<double>(s.capacity);
    used[id] = f;
    sum += f;
  }
  Balance b;
  if (used.size() < 2) return b;
  const double mean = sum / static_cast<double>(used.size());
  for (const auto& [id, f] : used) {
    if (std::abs(f - mean) > kBalanceBand) b.balanced = false;
  }
  if (b.balanced) return b;
  // Copies move from servers well above the mean to servers below it.
  for (const auto& [id, f] : used) {
    if (f > mean + kBalanceBand / 2) b.sources.insert(id);
    if (f >= mean) b.no_target.insert(id);
  }
  return b;
}

void RepairScheduler::FinishDrains(const std::set<uint64_t>& draining,
                                   const std::set<uint64_t>& listed,
                                   const std::map<uint64_t, ServerView>& servers) {
  for (uint64_t id : draining) {
    if (listed.count(id)) continue;
    auto it = servers.find(id);
    bool empty =
        it == servers.end() || !it->second.live || (it->second.reported && it->second.held.empty());
    if (!empty) continue;  // its stale copies are still being deleted
    pb::MetaCommand cmd;
    cmd.mutable_set_node_state()->set_node_id(id);
    cmd.mutable_set_node_state()->set_state("removed");
    Result<pb::MetaReply> r = ProposeCommand(node_, std::move(cmd));
    if (r.ok()) {
      DFS_LOG(INFO) << "chunk server " << id << " drained: removed";
    } else {
      DFS_LOG(WARN) << "marking drained chunk server " << id << " removed: " << r.status();
    }
  }
}

void RepairScheduler::ForgetRemoved(const std::set<uint64_t>& removed) {
  // A removed server holds nothing and is never asked to delete anything
  // again: its pairs in the garbage records go, a page per sweep.
  for (uint64_t id : removed) {
    Result<std::vector<uint64_t>> garbage = store_->GarbageOn(id, 0, 1000);
    if (!garbage.ok() || garbage->empty()) continue;
    pb::MetaCommand cmd;
    for (uint64_t chunk_id : *garbage) {
      pb::GarbageReplica* pair = cmd.mutable_forget_garbage()->add_replicas();
      pair->set_chunk_id(chunk_id);
      pair->set_node_id(id);
    }
    Result<pb::MetaReply> r = ProposeCommand(node_, std::move(cmd));
    DFS_LOG_IF(WARN, !r.ok()) << "forgetting the garbage of removed server " << id << ": "
                              << r.status();
  }
}

void RepairScheduler::StartPending() {
  // Most endangered first; a step whose plan has gone stale meanwhile is
  // refused by its conditional ChangeChain and judged again next sweep.
  std::vector<Job> left;
  for (Job& job : pending_) {
    if (in_flight_.count(job.chunk_id) || !TryStart(job)) left.push_back(std::move(job));
  }
  pending_ = std::move(left);
}

bool RepairScheduler::TryStart(const Job& job) {
  if (in_flight_.size() >= limits_.max_jobs) return false;
  std::vector<uint64_t> touched = {job.step.replicas.front()};
  touched.insert(touched.end(), job.step.joining.begin(), job.step.joining.end());
  for (uint64_t id : touched) {
    if (node_jobs_[id] >= limits_.per_node_jobs) return false;
  }
  const bool copies = !job.step.joining.empty();
  if (copies && limits_.bandwidth > 0) {
    // A copy reserves its share of the bandwidth as it starts: at most one
    // chunk per chunk_size / bandwidth seconds.
    auto now = SteadyClock::now();
    if (now < next_copy_at_) return false;
    next_copy_at_ =
        std::max(next_copy_at_, now) +
        std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(
            static_cast<double>(store_->chunk_size()) / static_cast<double>(limits_.bandwidth)));
  }
  in_flight_.insert(job.chunk_id);
  for (uint64_t id : touched)
    node_jobs_[id]++;
  workers_.Submit([this, job] { Run(job); });
  return true;
}

void RepairScheduler::Run(Job job) {
  Result<uint64_t> copied = Execute(job);
  std::lock_guard lock(mu_);
  in_flight_.erase(job.chunk_id);
  node_jobs_[job.step.replicas.front()]--;
  for (uint64_t id : job.step.joining)
    node_jobs_[id]--;
  if (!copied.ok()) {
    stats_.failed++;
    DFS_LOG(WARN) << "repair of chunk " << Hex(job.chunk_id) << " (" << job.step.why
                  << "): " << copied.status();
  } else {
    Account(*copied);
  }
  if (!stop_ && stats_.leader) StartPending();
}

void RepairScheduler::Account(uint64_t copied) {
  stats_.done++;
  stats_.bytes += copied;
  auto now = SteadyClock::now();
  recent_bytes_.emplace_back(now, copied);
  while (!recent_bytes_.empty() && now - recent_bytes_.front().first > kRateWindow) {
    recent_bytes_.pop_front();
  }
}

Result<uint64_t> RepairScheduler::Execute(const Job& job) {
  uint64_t version = job.version;
  if (job.step.kind == RepairStep::Kind::kChange) {
    ASSIGN_OR_RETURN(pb::ChunkLocation loc,
                     ChangeChain(job, job.version, job.step.joining, job.step.bump));
    version = loc.version();
  }
  ASSIGN_OR_RETURN(uint64_t copied, Rechain(job, version));
  if (!job.step.joining.empty()) {
    RETURN_IF_ERROR(ChangeChain(job, version, {}, /*bump=*/false).status(), "joiners copied");
  }
  DFS_LOG(INFO) << "repaired chunk " << Hex(job.chunk_id) << " (" << job.step.why << "): v"
                << version << ", " << job.step.replicas.size() << " replicas, " << copied
                << " bytes copied";
  return copied;
}

Result<pb::ChunkLocation> RepairScheduler::ChangeChain(const Job& job, uint64_t expect_version,
                                                       const std::vector<uint64_t>& joining,
                                                       bool bump) {
  pb::MetaCommand cmd;
  pb::ChangeChainCommand* change = cmd.mutable_change_chain();
  change->set_inode(job.inode);
  change->set_index(job.index);
  change->set_chunk_id(job.chunk_id);
  change->set_expect_version(expect_version);
  change->mutable_replicas()->Assign(job.step.replicas.begin(), job.step.replicas.end());
  change->mutable_joining()->Assign(joining.begin(), joining.end());
  change->set_bump(bump);
  change->set_zone_degraded(job.step.zone_degraded);
  ASSIGN_OR_RETURN(pb::MetaReply reply, ProposeCommand(node_, std::move(cmd)),
                   "changing the chain");
  return reply.chunk();
}

Result<uint64_t> RepairScheduler::Rechain(const Job& job, uint64_t version) {
  auto replica = [&](uint64_t node_id) -> Result<pb::ChunkReplica> {
    ASSIGN_OR_RETURN(pb::NodeRecord node, store_->Node(node_id));
    pb::ChunkReplica r;
    r.set_node_id(node_id);
    r.set_address(node.address());
    r.set_zone(node.zone());
    return r;
  };
  pb::RechainRequest req;
  req.mutable_header()->set_cluster_id(store_->cluster_id());
  req.set_chunk_id(job.chunk_id);
  req.set_version(version);
  ASSIGN_OR_RETURN(*req.mutable_head(), replica(job.step.replicas.front()));
  for (size_t i = 1; i < job.step.replicas.size(); i++) {
    uint64_t id = job.step.replicas[i];
    bool joins =
        std::find(job.step.joining.begin(), job.step.joining.end(), id) != job.step.joining.end();
    ASSIGN_OR_RETURN(*(joins ? req.add_joiners() : req.add_members()), replica(id));
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + options_.rechain_timeout);
  pb::RechainReply reply;
  grpc::Status rpc = stubs_.Get(req.head().address())->Rechain(&ctx, req, &reply);
  if (!rpc.ok()) {
    return Status::Unavailable("rechain on " + req.head().address() + ": " + rpc.error_message());
  }
  RETURN_IF_ERROR(StatusFromProto(reply.error()), "rechain on " << req.head().address());
  return reply.bytes_copied();
}

}  // namespace dfs::meta
