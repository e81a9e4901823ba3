// The CPU kernels' thread pool (core/thread_pool.h): every index exactly
// once at any thread count, exceptions carried back, nested calls serial,
// two callers in two threads, and the per-thread setting.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"

namespace tx2yolo {
namespace {

TEST(ThreadPool, EveryIndexExactlyOnceAtEveryThreadCount) {
  for (int threads : {1, 2, 3, 8}) {
    set_cpu_threads(threads);
    for (int count : {0, 1, 2, 7, 1000}) {
      std::vector<std::atomic<int>> hits(static_cast<std::size_t>(count));
      for (auto& h : hits) h = 0;
      std::mutex m;
      std::set<std::thread::id> ids;
      parallel_for(count, [&](int i) {
        ++hits[static_cast<std::size_t>(i)];
        std::lock_guard<std::mutex> lk(m);
        ids.insert(std::this_thread::get_id());
      });
      for (int i = 0; i < count; ++i) ASSERT_EQ(hits[static_cast<std::size_t>(i)], 1) << threads << " " << count;
      EXPECT_LE(static_cast<int>(ids.size()), std::max(1, threads));
    }
  }
  set_cpu_threads(1);
}

TEST(ThreadPool, ExceptionsReachTheCallerAfterEveryIndex) {
  set_cpu_threads(4);
  std::atomic<int> done{0};
  try {
    parallel_for(100, [&](int i) {
      ++done;
      if (i == 37) throw Error("index 37");
    });
    ADD_FAILURE() << "no exception";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "index 37");
  }
  EXPECT_EQ(done, 100);
  // The pool still works afterwards.
  std::atomic<int> again{0};
  parallel_for(50, [&](int) { ++again; });
  EXPECT_EQ(again, 50);
  set_cpu_threads(1);
}

TEST(ThreadPool, NestedCallsRunSeriallyAndTwoCallersShareThePool) {
  set_cpu_threads(3);
  std::atomic<int> inner{0};
  parallel_for(6, [&](int) { parallel_for(10, [&](int) { ++inner; }); });
  EXPECT_EQ(inner, 60);
  std::atomic<long long> sum{0};
  auto caller = [&](int threads) {
    set_cpu_threads(threads);  // per thread
    for (int round = 0; round < 50; ++round) parallel_for(200, [&](int i) { sum += i; });
    EXPECT_EQ(cpu_threads(), threads);
  };
  std::thread a(caller, 2), b(caller, 4);
  a.join();
  b.join();
  EXPECT_EQ(sum, 2LL * 50 * (199 * 200 / 2));
  EXPECT_EQ(cpu_threads(), 3);  // this thread's setting is its own
  EXPECT_THROW(set_cpu_threads(0), Error);
  set_cpu_threads(1);
}

}  // namespace
}  // namespace tx2yolo
