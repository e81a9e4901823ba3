#include "core/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "core/error.h"

namespace tx2yolo {

namespace {

thread_local int t_threads = 1;
thread_local bool t_in_pool_job = false;

class Pool {
 public:
  void run(int count, int threads, const std::function<void(int)>& fn) {
    std::lock_guard<std::mutex> one_job(submit_);
    grow(threads - 1);
    {
      std::lock_guard<std::mutex> lk(m_);
      fn_ = &fn;
      count_ = count;
      next_.store(0);
      wanted_ = threads - 1;
      joined_ = 0;
      finished_ = 0;
      error_ = nullptr;
      ++generation_;
    }
    work_cv_.notify_all();
    work();
    std::unique_lock<std::mutex> lk(m_);
    wanted_ = joined_;  // closed: a worker waking only now does not join
    done_cv_.wait(lk, [&] { return finished_ == joined_; });
    fn_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void grow(int workers) {
    while (static_cast<int>(workers_.size()) < workers) workers_.emplace_back([this] { loop(); });
  }
  // Takes indices until none are left.
  void work() {
    const bool was_in_job = t_in_pool_job;
    t_in_pool_job = true;
    for (int i = next_.fetch_add(1); i < count_; i = next_.fetch_add(1)) {
      try {
        (*fn_)(i);
      } catch (...) {
        std::lock_guard<std::mutex> lk(m_);
        if (!error_) error_ = std::current_exception();
      }
    }
    t_in_pool_job = was_in_job;
  }
  void loop() {
    unsigned long seen = 0;
    for (;;) {
      std::unique_lock<std::mutex> lk(m_);
      work_cv_.wait(lk, [&] { return generation_ != seen && joined_ < wanted_; });
      seen = generation_;
      ++joined_;
      lk.unlock();
      work();
      lk.lock();
      ++finished_;
      if (finished_ == joined_) done_cv_.notify_one();
    }
  }

  std::mutex submit_;  // one job at a time
  std::mutex m_;
  std::condition_variable work_cv_, done_cv_;
  std::vector<std::thread> workers_;
  const std::function<void(int)>* fn_ = nullptr;
  int count_ = 0;
  std::atomic<int> next_{0};
  int wanted_ = 0, joined_ = 0, finished_ = 0;
  unsigned long generation_ = 0;
  std::exception_ptr error_;
};

// Never destroyed: its workers stay blocked until the process exits, so no
// static destructor has to join them.
Pool& pool() {
  static Pool* p = new Pool();
  return *p;
}

}  // namespace

void set_cpu_threads(int threads) {
  TX2_REQUIRE(threads >= 1 && threads <= 256, "cpu threads: ", threads, " is outside [1, 256]");
  t_threads = threads;
}

int cpu_threads() { return t_threads; }

void parallel_for(int count, const std::function<void(int)>& fn) {
  if (count <= 0) return;
  const int threads = std::min(t_threads, count);
  if (threads <= 1 || t_in_pool_job) {
    for (int i = 0; i < count; ++i) fn(i);
    return;
  }
  pool().run(count, threads, fn);
}

}  // namespace tx2yolo
