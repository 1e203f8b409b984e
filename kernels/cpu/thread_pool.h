// A fixed set of persistent worker threads for splitting one kernel call across cores.
// Run() allocates nothing: the work is a plain function pointer plus a context pointer.
#ifndef GHOST_KERNELS_CPU_THREAD_POOL_H_
#define GHOST_KERNELS_CPU_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

namespace ghost::kernels {

class ThreadPool {
 public:
  using TaskFn = void (*)(void* context, std::size_t task);

  // num_threads counts the calling thread, which always takes part in Run(); 1 means no
  // workers are started and Run() is a plain loop.
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // The process-wide pool: GHOST_NUM_THREADS if set to a positive number, else
  // std::thread::hardware_concurrency(). Created at first use.
  static ThreadPool& Default();

  int num_threads() const { return num_threads_; }

  // Calls fn(context, task) once for every task in [0, num_tasks) across the workers and
  // the caller, and returns when all have finished. Tasks are claimed one at a time, so a
  // core slowed by other load simply takes fewer. If another thread is already inside Run()
  // (or a task calls Run() again), this call runs its tasks on the caller alone rather than
  // wait for the pool.
  void Run(std::size_t num_tasks, TaskFn fn, void* context);

 private:
  void WorkerLoop();
  void RunTasks();

  const int num_threads_;
  std::vector<std::thread> workers_;

  std::mutex run_mutex_;  // Held for a whole Run(); try_lock decides pool vs caller-only.

  // Workers and the caller spin a while before they sleep: decode calls the pool a few
  // hundred times per token, and waking a sleeping thread costs tens of microseconds
  // (more in a VM), as much as a whole small matrix product.
  std::mutex mutex_;  // Taken only to sleep on the condition variables and to wake sleepers.
  std::condition_variable work_ready_;
  std::condition_variable work_done_;
  std::atomic<std::size_t> generation_{0};  // Bumped for every Run() that uses the workers.
  std::atomic<int> workers_busy_{0};
  std::atomic<bool> stopping_{false};
  // Who sleeps on the condition variables, so that the other side takes the mutex and
  // notifies only then (sequentially consistent with the flags they wait on).
  std::atomic<int> sleeping_workers_{0};
  std::atomic<bool> caller_sleeping_{false};

  // The current job; written before generation_ is bumped (release).
  TaskFn fn_ = nullptr;
  void* context_ = nullptr;
  std::size_t num_tasks_ = 0;
  std::atomic<std::size_t> next_task_{0};
};

}  // namespace ghost::kernels

#endif  // GHOST_KERNELS_CPU_THREAD_POOL_H_
