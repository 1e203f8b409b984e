#include "kernels/cpu/thread_pool.h"

#include <sched.h>

#include <chrono>
#include <cstdlib>

namespace ghost::kernels {
namespace {

// Set while this thread runs pool tasks, so that a nested Run() runs inline instead of
// try-locking a mutex this very thread may hold.
thread_local bool in_pool_task = false;

inline void Pause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

int DefaultThreadCount() {
  if (const char* env = std::getenv("GHOST_NUM_THREADS")) {
    char* end = nullptr;
    const long value = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && value > 0) return value > 1024 ? 1024 : int(value);
  }
  const unsigned hardware = std::thread::hardware_concurrency();
  return hardware == 0 ? 1 : int(hardware);
}

// Polls done() for up to kSpin (long enough to cover the gap between two kernel calls of
// a decode step, short enough not to hold a core long once work stops). Past kYieldAfter
// it also yields: where the thread it waits for shares this core (the other core busy
// elsewhere), that thread then runs now rather than at the end of this one's time slice.
constexpr auto kSpin = std::chrono::microseconds(100);
constexpr auto kYieldAfter = std::chrono::microseconds(20);

template <typename Done>
bool SpinUntil(Done done) {
  const auto start = std::chrono::steady_clock::now();
  while (true) {
    for (int i = 0; i < 32; ++i) {
      if (done()) return true;
      Pause();
    }
    const auto spun = std::chrono::steady_clock::now() - start;
    if (spun > kSpin) return done();
    if (spun > kYieldAfter) sched_yield();
  }
}

}  // namespace

ThreadPool::ThreadPool(int num_threads) : num_threads_(num_threads < 1 ? 1 : num_threads) {
  workers_.reserve(num_threads_ - 1);
  for (int i = 1; i < num_threads_; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_.store(true);
  }
  work_ready_.notify_all();  // Spinning workers see stopping_ themselves.
  for (std::thread& worker : workers_) worker.join();
}

ThreadPool& ThreadPool::Default() {
  // Leaked on purpose: worker threads must not be joined during static destruction while
  // another static's destructor might still call into a kernel.
  static ThreadPool* pool = new ThreadPool(DefaultThreadCount());
  return *pool;
}

void ThreadPool::RunTasks() {
  in_pool_task = true;
  for (std::size_t task = next_task_.fetch_add(1); task < num_tasks_;
       task = next_task_.fetch_add(1)) {
    fn_(context_, task);
  }
  in_pool_task = false;
}

void ThreadPool::Run(std::size_t num_tasks, TaskFn fn, void* context) {
  std::unique_lock run_lock(run_mutex_, std::defer_lock);
  if (workers_.empty() || num_tasks <= 1 || in_pool_task || !run_lock.try_lock()) {
    for (std::size_t task = 0; task < num_tasks; ++task) fn(context, task);
    return;
  }
  fn_ = fn;
  context_ = context;
  num_tasks_ = num_tasks;
  next_task_.store(0);
  workers_busy_.store(int(workers_.size()));
  generation_.fetch_add(1);
  if (sleeping_workers_.load() > 0) {
    // A worker that counted itself sleeping either sees the new generation when it takes
    // the mutex or is already waiting.
    { std::lock_guard lock(mutex_); }
    work_ready_.notify_all();
  }
  RunTasks();
  const auto done = [this] { return workers_busy_.load() == 0; };
  if (SpinUntil(done)) return;
  std::unique_lock lock(mutex_);
  caller_sleeping_.store(true);
  work_done_.wait(lock, done);
  caller_sleeping_.store(false);
}

void ThreadPool::WorkerLoop() {
  std::size_t seen_generation = 0;
  while (true) {
    const auto has_work = [&] { return stopping_.load() || generation_.load() != seen_generation; };
    if (!SpinUntil(has_work)) {
      sleeping_workers_.fetch_add(1);
      {
        std::unique_lock lock(mutex_);
        work_ready_.wait(lock, has_work);
      }
      sleeping_workers_.fetch_sub(1);
    }
    if (stopping_.load()) return;
    seen_generation = generation_.load();
    RunTasks();
    if (workers_busy_.fetch_sub(1) == 1 && caller_sleeping_.load()) {
      { std::lock_guard lock(mutex_); }
      work_done_.notify_one();
    }
  }
}

}  // namespace ghost::kernels
