// A small fork-join pool owned by the addon (not libuv's): the caller thread takes part as tid 0,
// workers spin briefly between regions (a forward pass opens a few hundred of them) and then sleep.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace tandem {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return threads_; }

  // Runs fn(tid) once on every thread of the pool and returns when all are done.
  void run(const std::function<void(int)>& fn);

  // Splits [0, n) into one contiguous range per thread: fn(begin, end, tid). The split depends only
  // on n and the pool size, never on timing, so results are reproducible.
  template <class F>
  void parallel_for(int64_t n, F&& fn) {
    if (n <= 0) return;
    const int t = threads_;
    if (t == 1 || n == 1) {
      fn(int64_t{0}, n, 0);
      return;
    }
    run([&](int tid) {
      int64_t b = n * tid / t, e = n * (tid + 1) / t;
      if (b < e) fn(b, e, tid);
    });
  }

 private:
  void worker_loop(int tid);

  int threads_;
  std::vector<std::thread> workers_;
  std::mutex run_mutex_;  // one region at a time, whoever calls
  std::mutex sleep_mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::atomic<const std::function<void(int)>*> job_{nullptr};
  // claimed_[t]: share t of the current region was taken (by worker t, or by the caller).
  std::unique_ptr<std::atomic<bool>[]> claimed_;
};

// The process-wide pool used by every kernel. Its size defaults to the hardware threads
// (TANDEM_THREADS overrides) and can be changed while idle.
ThreadPool& pool();
void set_pool_threads(int threads);

}  // namespace tandem
