// ThreadPool: a fixed set of worker threads draining a FIFO task queue. Used to keep blocking
// work (indexing, split I/O, search) off the network threads.
// Thread safety: Submit may be called from any thread. The destructor calls Stop().
#pragma once

#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace shale {

class ThreadPool {
 public:
  ThreadPool(std::string name, int num_threads);
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool();

  // Queues `task`. Returns false (and drops the task) once Stop() has begun.
  bool Submit(std::function<void()> task);

  // Refuses new tasks, runs the queued ones, joins the workers. Idempotent.
  void Stop();

  int num_threads() const { return static_cast<int>(workers_.size()); }

 private:
  void WorkerLoop();

  const std::string name_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace shale
