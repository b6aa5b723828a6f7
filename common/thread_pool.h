// A fixed pool of worker threads running submitted tasks in FIFO order:
// for work that must leave a thread that cannot block (the Raft driver, gRPC
// callbacks), such as metadata reads after a read barrier.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace dfs {

class ThreadPool {
 public:
  explicit ThreadPool(size_t threads);
  // Runs the tasks already submitted, then joins the threads.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void Submit(std::function<void()> task);

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace dfs
