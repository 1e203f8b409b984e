#include "kernels/cpu/thread_pool.h"

#include <cstdlib>

namespace ghost::kernels {
namespace {

// Set while this thread runs pool tasks, so that a nested Run() runs inline instead of
// try-locking a mutex this very thread may hold.
thread_local bool in_pool_task = false;

int DefaultThreadCount() {
  if (const char* env = std::getenv("GHOST_NUM_THREADS")) {
    char* end = nullptr;
    const long value = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && value > 0) return value > 1024 ? 1024 : int(value);
  }
  const unsigned hardware = std::thread::hardware_concurrency();
  return hardware == 0 ? 1 : int(hardware);
}

}  // namespace

ThreadPool::ThreadPool(int num_threads) : num_threads_(num_threads < 1 ? 1 : num_threads) {
  workers_.reserve(num_threads_ - 1);
  for (int i = 1; i < num_threads_; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
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
  {
    std::lock_guard lock(mutex_);
    fn_ = fn;
    context_ = context;
    num_tasks_ = num_tasks;
    next_task_.store(0);
    workers_busy_ = int(workers_.size());
    ++generation_;
  }
  work_ready_.notify_all();
  RunTasks();
  std::unique_lock lock(mutex_);
  work_done_.wait(lock, [this] { return workers_busy_ == 0; });
}

void ThreadPool::WorkerLoop() {
  std::size_t seen_generation = 0;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      work_ready_.wait(lock, [&] { return stopping_ || generation_ != seen_generation; });
      if (stopping_) return;
      seen_generation = generation_;
    }
    RunTasks();
    bool last;
    {
      std::lock_guard lock(mutex_);
      last = --workers_busy_ == 0;
    }
    if (last) work_done_.notify_one();
  }
}

}  // namespace ghost::kernels
