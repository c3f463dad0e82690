#include "thread_pool.h"

#include <chrono>
#include <cstdlib>
#include <memory>

#if defined(__x86_64__)
#include <immintrin.h>
#define TANDEM_PAUSE() _mm_pause()
#else
#define TANDEM_PAUSE() ((void)0)
#endif

namespace tandem {

ThreadPool::ThreadPool(int threads) : threads_(threads < 1 ? 1 : threads), claimed_(new std::atomic<bool>[threads_]) {
  for (int t = 0; t < threads_; ++t) claimed_[t].store(true);
  for (int tid = 1; tid < threads_; ++tid) workers_.emplace_back([this, tid] { worker_loop(tid); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lk(sleep_mutex_);
    stop_.store(true);
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::run(const std::function<void(int)>& fn) {
  std::lock_guard<std::mutex> guard(run_mutex_);
  job_.store(&fn, std::memory_order_relaxed);
  pending_.store(threads_ - 1, std::memory_order_relaxed);
  for (int t = 1; t < threads_; ++t) claimed_[t].store(false, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lk(sleep_mutex_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  fn(0);
  // Shares no worker has started yet are run here: when another process holds a worker's core
  // (co-located services on a small machine), waiting for it would cost a scheduler time slice
  // per region, and a forward pass opens hundreds of regions. Which thread runs a share never
  // changes its result (the split depends on the share's index only).
  for (int t = 1; t < threads_; ++t) {
    if (!claimed_[t].exchange(true, std::memory_order_acq_rel)) {
      fn(t);
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
  for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins < 4096) TANDEM_PAUSE();
    else std::this_thread::yield();
  }
  job_.store(nullptr, std::memory_order_relaxed);
}

void ThreadPool::worker_loop(int tid) {
  uint64_t seen = 0;
  for (;;) {
    // Spin for a short while: regions follow each other within microseconds during a forward pass.
    auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
    int spins = 0;
    while (generation_.load(std::memory_order_acquire) == seen) {
      TANDEM_PAUSE();
      if (++spins % 256 == 0 && std::chrono::steady_clock::now() > spin_until) {
        std::unique_lock<std::mutex> lk(sleep_mutex_);
        wake_.wait(lk, [&] { return generation_.load(std::memory_order_acquire) != seen; });
        break;
      }
    }
    seen = generation_.load(std::memory_order_acquire);
    if (stop_.load()) return;
    // The caller may have run this share already (it does when this thread was late).
    if (claimed_[tid].exchange(true, std::memory_order_acq_rel)) continue;
    (*job_.load(std::memory_order_acquire))(tid);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

namespace {
std::unique_ptr<ThreadPool>& pool_slot() {
  static std::unique_ptr<ThreadPool> p;
  return p;
}
int default_threads() {
  if (const char* env = std::getenv("TANDEM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw ? static_cast<int>(hw) : 1;
}
}  // namespace

ThreadPool& pool() {
  auto& p = pool_slot();
  if (!p) p = std::make_unique<ThreadPool>(default_threads());
  return *p;
}

void set_pool_threads(int threads) {
  auto& p = pool_slot();
  if (p && p->size() == threads) return;
  p = std::make_unique<ThreadPool>(threads);
}

}  // namespace tandem
