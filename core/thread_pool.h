// The CPU kernels' threads: one process-wide pool of workers that block on
// a condition variable when idle. They never spin, so a busy neighbour
// process does not make them fight it for the cores. (The OpenMP team used
// before spun at its barriers: with one busy neighbour on a 2-core machine,
// the demo model took 487 ms a frame at 2 threads against 42 ms at 1.)
//
//   set_cpu_threads(n);                      // for the calling thread
//   parallel_for(count, [&](int i) { ... }); // i in [0, count), any order
//
// parallel_for runs `fn` for every index on up to cpu_threads() threads (the
// caller is one of them), handing out indices one at a time, and returns
// when all are done. One parallel_for runs at a time; a concurrent one
// waits, and one called from inside `fn` runs serially. The first exception
// thrown by `fn` is rethrown to the caller once every index is done.
#pragma once

#include <functional>

namespace tx2yolo {

// Threads the calling thread's parallel_for calls may use (>= 1; default
// 1). Per calling thread, so two detectors in two threads keep their own.
void set_cpu_threads(int threads);
int cpu_threads();

void parallel_for(int count, const std::function<void(int)>& fn);

}  // namespace tx2yolo
