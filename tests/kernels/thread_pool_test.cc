#include "kernels/cpu/thread_pool.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace ghost::kernels {
namespace {

struct Counts {
  std::vector<std::atomic<int>> runs;
  explicit Counts(std::size_t n) : runs(n) {}
};

void CountTask(void* context, std::size_t task) {
  static_cast<Counts*>(context)->runs[task].fetch_add(1);
}

void ExpectEachOnce(const Counts& counts) {
  for (std::size_t i = 0; i < counts.runs.size(); ++i) EXPECT_EQ(counts.runs[i].load(), 1) << i;
}

TEST(ThreadPoolTest, RunsEveryTaskOnce) {
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.num_threads(), threads);
    for (std::size_t tasks : {0, 1, 2, 7, 1000}) {
      for (int repeat = 0; repeat < 20; ++repeat) {
        Counts counts(tasks);
        pool.Run(tasks, CountTask, &counts);
        ExpectEachOnce(counts);
      }
    }
  }
}

// Workers spin for a while after a call and then sleep: calls right after each other, after
// a pause shorter than the spin, and after one long enough for the workers (and the caller's
// wait) to sleep must all run every task once. Slow tasks make the caller wait for workers.
TEST(ThreadPoolTest, RunsEveryTaskAfterSpinningAndSleeping) {
  ThreadPool pool(3);
  for (const auto pause : {std::chrono::microseconds(0), std::chrono::microseconds(30),
                           std::chrono::microseconds(2000)}) {
    for (int repeat = 0; repeat < 30; ++repeat) {
      Counts counts(64);
      pool.Run(
          counts.runs.size(),
          +[](void* context, std::size_t task) {
            if (task % 16 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
            CountTask(context, task);
          },
          &counts);
      ExpectEachOnce(counts);
      std::this_thread::sleep_for(pause);
    }
  }
}

struct Nested {
  ThreadPool* pool;
  Counts* inner;
};

TEST(ThreadPoolTest, NestedRunRunsInline) {
  ThreadPool pool(3);
  Counts inner(8 * 5);
  Nested nested{&pool, &inner};
  pool.Run(
      8,
      [](void* context, std::size_t task) {
        auto& n = *static_cast<Nested*>(context);
        struct Slice {
          Counts* counts;
          std::size_t base;
        } slice{n.inner, task * 5};
        n.pool->Run(
            5,
            [](void* c, std::size_t t) {
              auto& s = *static_cast<Slice*>(c);
              s.counts->runs[s.base + t].fetch_add(1);
            },
            &slice);
      },
      &nested);
  ExpectEachOnce(inner);
}

TEST(ThreadPoolTest, ConcurrentCallersAllComplete) {
  ThreadPool pool(2);
  std::vector<std::thread> callers;
  std::vector<Counts> counts;
  counts.reserve(4);
  for (int i = 0; i < 4; ++i) counts.emplace_back(500);
  for (int i = 0; i < 4; ++i) {
    callers.emplace_back([&, i] {
      for (int repeat = 0; repeat < 50; ++repeat) {
        Counts local(500);
        pool.Run(500, CountTask, &local);
        ExpectEachOnce(local);
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
}

TEST(ThreadPoolTest, DefaultPoolHasAThread) { EXPECT_GE(ThreadPool::Default().num_threads(), 1); }

}  // namespace
}  // namespace ghost::kernels
