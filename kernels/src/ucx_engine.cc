// UCX transfer engine: see ucx_engine.h for the threading model.
#ifdef TANDEM_WITH_UCX
#include "ucx_engine.h"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace tandem::ucx {
namespace {

// Remote keys and worker addresses come from other processes; UCX reads them without a length,
// so a truncated one must not make it read past our copy.
constexpr size_t kWirePadding = 512;
// Busy-poll rounds while transfers are in flight before sleeping on the wakeup fd.
constexpr int kSpinRounds = 2000;
constexpr double kCloseGraceSeconds = 5.0;
constexpr int kMinSleepUs = 20;
// While puts are in flight, watched peers' pidfds are checked every this many busy rounds.
constexpr int kLivenessEveryRounds = 64;

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

int pidfd_open(int pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

bool pidfd_exited(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string padded(const std::string& bytes) {
  std::string s = bytes;
  s.append(kWirePadding, '\0');
  return s;
}

struct ContextAndWorker {
  ucp_context_h context = nullptr;
  ucp_worker_h worker = nullptr;

  ucs_status_t open(bool wakeup, std::string* error) {
    ucp_config_t* config = nullptr;
    ucs_status_t st = ucp_config_read(nullptr, nullptr, &config);
    if (st != UCS_OK) {
      *error = status_message("ucp_config_read", st);
      return st;
    }
    ucp_params_t params;
    std::memset(&params, 0, sizeof(params));
    params.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_MT_WORKERS_SHARED;
    params.features = UCP_FEATURE_RMA | (wakeup ? UCP_FEATURE_WAKEUP : 0);
    params.mt_workers_shared = 0;
    st = ucp_init(&params, config, &context);
    ucp_config_release(config);
    if (st != UCS_OK) {
      context = nullptr;
      *error = status_message("ucp_init", st);
      return st;
    }
    ucp_worker_params_t wp;
    std::memset(&wp, 0, sizeof(wp));
    wp.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
    wp.thread_mode = UCS_THREAD_MODE_SINGLE;
    st = ucp_worker_create(context, &wp, &worker);
    if (st != UCS_OK) {
      worker = nullptr;
      *error = status_message("ucp_worker_create", st);
      close();
    }
    return st;
  }

  void close() {
    if (worker) ucp_worker_destroy(worker);
    if (context) ucp_cleanup(context);
    worker = nullptr;
    context = nullptr;
  }
};

}  // namespace

struct Engine::Region {
  uint8_t* base = nullptr;
  size_t size = 0;
  ucp_mem_h memh = nullptr;
  size_t users = 0;  // in-flight puts reading from this region through its memh
  bool allocated = false;  // UCX allocated it; unmapped by release_allocation(), not by unregister
};

struct Engine::Peer {
  ~Peer() {
    if (pidfd >= 0) ::close(pidfd);
  }
  Engine* engine = nullptr;
  std::string address;
  ucp_ep_h ep = nullptr;
  int pid = 0;
  int pidfd = -1;         // watched peer (UCP_ERR_HANDLING_MODE_NONE): readable once it exits
  bool exported = false;  // a direct mapping (ucp_rkey_ptr) was handed out: keep the rkeys
                          // until forget_mapping() (or teardown)
  std::unordered_map<std::string, ucp_rkey_h> rkeys;
  size_t inflight = 0;
  bool no_ucx_detection = false;  // UCP_ERR_HANDLING_MODE_NONE: UCX cannot force-close it
  bool failed = false;
  bool force = false;  // close now even with requests in flight (they are cancelled)
  ucs_status_t fail_status = UCS_OK;
  bool closing = false;
  bool closed = false;
  void* close_request = nullptr;
};

struct Engine::Transfer {
  Engine* engine = nullptr;
  uint64_t token = 0;
  Peer* peer = nullptr;
  Region* source_region = nullptr;
  size_t pending = 1;  // one for the issuing phase itself
  ucs_status_t status = UCS_OK;
  std::string error;
  double t0 = 0;
  uint8_t* mapped = nullptr;
};

SharedContext::~SharedContext() {
  if (context) ucp_cleanup(context);
}

uint64_t process_start_time(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!f || !std::getline(f, line)) return 0;
  size_t close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 1));
  std::string field;
  // Fields after "pid (comm)" start at 3 (state); starttime is field 22.
  for (int i = 3; i <= 22; i++) {
    if (!(rest >> field)) return 0;
  }
  return std::strtoull(field.c_str(), nullptr, 10);
}

std::string status_message(const std::string& what, ucs_status_t status) {
  return what + ": " + ucs_status_string(status) + " (UCS status " + std::to_string(static_cast<int>(status)) + ")";
}

bool probe(std::string* error) {
  ContextAndWorker cw;
  if (cw.open(false, error) != UCS_OK) return false;
  cw.close();
  return true;
}

std::unique_ptr<Engine> Engine::open(const Options& options, CompletionSink sink, std::string* error) {
  ContextAndWorker cw;
  if (cw.open(options.event_wakeup, error) != UCS_OK) return nullptr;
  std::unique_ptr<Engine> e(new Engine());
  e->options_ = options;
  if (e->options_.idle_poll_us < 20) e->options_.idle_poll_us = 20;
  e->sink_ = std::move(sink);
  ucs_status_t st = UCS_OK;
  if (options.event_wakeup) {
    st = ucp_worker_get_efd(cw.worker, &e->efd_);
    if (st != UCS_OK) {
      *error = status_message("ucp_worker_get_efd", st);
      cw.close();
      return nullptr;
    }
  }
  ucp_address_t* addr = nullptr;
  size_t addr_len = 0;
  st = ucp_worker_get_address(cw.worker, &addr, &addr_len);
  if (st != UCS_OK) {
    *error = status_message("ucp_worker_get_address", st);
    cw.close();
    return nullptr;
  }
  e->context_ = cw.context;
  e->worker_ = cw.worker;
  e->shared_ = std::make_shared<SharedContext>();
  e->shared_->context = cw.context;
  e->shared_->engine = e.get();
  e->address_.assign(reinterpret_cast<const char*>(addr), addr_len);
  ucp_worker_release_address(e->worker_, addr);
  e->thread_ = std::thread([raw = e.get()] { raw->run(); });
  return e;
}

Engine::~Engine() { hard_stop(); }

void Engine::push(Command&& c) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!worker_) return;  // torn down: the binding refuses calls after close, this is a backstop
  queue_.push_back(std::move(c));
  wake_locked();
}

void Engine::wake_locked() {
  if (options_.event_wakeup) ucp_worker_signal(worker_);  // thread-safe by contract
  else cv_.notify_one();
}

void Engine::register_region(uint64_t token, std::string id, void* base, size_t size) {
  Command c(CommandKind::Register);
  c.token = token;
  c.id = std::move(id);
  c.base = static_cast<uint8_t*>(base);
  c.size = size;
  push(std::move(c));
}

void Engine::allocate_region(uint64_t token, std::string id, size_t size) {
  Command c(CommandKind::Allocate);
  c.token = token;
  c.id = std::move(id);
  c.size = size;
  push(std::move(c));
}

void Engine::release_allocation(const std::shared_ptr<SharedContext>& shared, ucp_mem_h memh) {
  std::lock_guard<std::mutex> lock(shared->mu);
  if (shared->engine) {
    Command c(CommandKind::Release);
    c.memh = memh;
    shared->engine->push(std::move(c));
  } else {
    ucp_mem_unmap(shared->context, memh);  // the engine is gone: nothing else touches the context
  }
}

void Engine::forget_mapping(std::string peer) {
  Command c(CommandKind::ForgetMapping);
  c.peer = std::move(peer);
  push(std::move(c));
}

void Engine::unregister_region(uint64_t token, std::string id) {
  Command c(CommandKind::Unregister);
  c.token = token;
  c.id = std::move(id);
  push(std::move(c));
}

void Engine::put(uint64_t token, std::string peer, std::string rkey, uint64_t remote_base, const uint8_t* src,
                 size_t src_len, std::vector<PutRange> ranges, int peer_pid, uint64_t peer_start) {
  Command c(CommandKind::Put);
  c.peer_pid = peer_pid;
  c.peer_start = peer_start;
  c.token = token;
  c.peer = std::move(peer);
  c.rkey = std::move(rkey);
  c.remote_base = remote_base;
  c.base = const_cast<uint8_t*>(src);
  c.size = src_len;
  c.ranges = std::move(ranges);
  push(std::move(c));
}

void Engine::endpoint_info(uint64_t token, std::string peer) {
  Command c(CommandKind::EndpointInfo);
  c.token = token;
  c.peer = std::move(peer);
  push(std::move(c));
}

void Engine::close(uint64_t token) {
  Command c(CommandKind::Close);
  c.token = token;
  push(std::move(c));
}

void Engine::join() {
  if (thread_.joinable()) thread_.join();
}

void Engine::hard_stop() {
  if (thread_.joinable()) {
    hard_stop_ = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (worker_) wake_locked();
    }
    thread_.join();
  }
  if (worker_) teardown();  // the thread stopped before its own teardown: finish it here
}

void Engine::post(Completion&& c) {
  if (sink_) sink_(std::move(c));
}

void Engine::run() {
  int spins = 0;
  unsigned rounds = 0;
  int sleep_us = kMinSleepUs;
  std::deque<Command> batch;
  while (!hard_stop_) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      batch.swap(queue_);
    }
    bool worked = !batch.empty();
    for (Command& c : batch) run_command(c);
    batch.clear();
    for (int i = 0; i < 4096 && ucp_worker_progress(worker_); i++) worked = true;
    // Counted apart from `spins`: progress may keep reporting work (pending sends re-dispatched)
    // without finishing anything, and a watched peer's death must still be noticed then.
    if (inflight_ > 0 && ++rounds % kLivenessEveryRounds == 0) check_watched_peers();
    reap_peers(false);
    if (closing_) {
      if (inflight_ > 0 && !forced_ && now_seconds() > close_deadline_) {
        // A peer that never answers must not hold close() forever: cancel what is left.
        forced_ = true;
        for (auto& kv : peers_) kv.second->failed = kv.second->force = true;
        for (auto& p : retired_) p->force = true;
        continue;
      }
      if (inflight_ == 0) {
        uint64_t token = close_token_;
        teardown();
        Completion done;
        done.token = token;
        post(std::move(done));
        return;
      }
    }
    if (worked) {
      spins = 0;
      sleep_us = kMinSleepUs;
      continue;
    }
    if (inflight_ > 0 && spins++ < kSpinRounds) continue;
    if (!options_.event_wakeup) {
      // No event fd: nap, growing the nap while nothing happens (short while puts are in flight).
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::microseconds(sleep_us), [this] { return !queue_.empty() || hard_stop_; });
      lock.unlock();
      check_watched_peers();
      int cap = inflight_ > 0 ? kMinSleepUs : options_.idle_poll_us;
      sleep_us = std::min(sleep_us * 2, cap);
      spins = 0;
      continue;
    }
    ucs_status_t st = ucp_worker_arm(worker_);
    if (st == UCS_ERR_BUSY) {
      spins = 0;  // events pending: busy-poll again before the next arm()
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!queue_.empty()) continue;  // a command arrived before arm() consumed its signal
    }
    if (hard_stop_) break;
    // Sleep on the worker's event fd and on the pidfds of watched peers (so a peer's death is
    // noticed while idle too). The timeouts are a safety net only.
    std::vector<pollfd> fds{{efd_, POLLIN, 0}};
    for (auto& kv : peers_) {
      if (kv.second->pidfd >= 0 && !kv.second->failed) fds.push_back({kv.second->pidfd, POLLIN, 0});
    }
    if (poll(fds.data(), fds.size(), inflight_ > 0 ? 1 : 200) > 0 && fds.size() > 1) check_watched_peers();
    spins = 0;
  }
}

void Engine::run_command(Command& c) {
  if (c.kind == CommandKind::Release) {  // memory must be unmapped even while closing
    do_release(c.memh);
    return;
  }
  if (c.kind == CommandKind::ForgetMapping) {
    for (auto& kv : peers_) {
      if (kv.first == c.peer) kv.second->exported = false;
    }
    for (auto& p : retired_) {
      if (p->address == c.peer) p->exported = false;
    }
    return;
  }
  if (closing_ && c.kind != CommandKind::Close) {
    Completion done;
    done.token = c.token;
    done.status = UCS_ERR_CANCELED;
    done.error = status_message("transfer engine is closing", UCS_ERR_CANCELED);
    post(std::move(done));
    return;
  }
  switch (c.kind) {
    case CommandKind::Register: do_register(c); break;
    case CommandKind::Allocate: do_allocate(c); break;
    case CommandKind::Release:
    case CommandKind::ForgetMapping: break;  // handled above
    case CommandKind::Unregister: do_unregister(c); break;
    case CommandKind::Put: do_put(c); break;
    case CommandKind::EndpointInfo: do_endpoint_info(c); break;
    case CommandKind::Close:
      closing_ = true;
      close_token_ = c.token;
      close_deadline_ = now_seconds() + kCloseGraceSeconds;
      break;
  }
}

void Engine::do_register(Command& c) { do_map(c, false); }

void Engine::do_allocate(Command& c) { do_map(c, true); }

// registerRegion maps memory the caller owns (c.base); allocateRegion lets UCX allocate c.size
// bytes (shared memory its same-host lanes can reach). Either way the rkey is packed and the
// region recorded under c.id, and one completion reports it.
void Engine::do_map(Command& c, bool allocate) {
  Completion done;
  done.token = c.token;
  if (regions_.count(c.id)) {
    done.status = UCS_ERR_ALREADY_EXISTS;
    done.error = status_message("region '" + c.id + "' is already registered", done.status);
    post(std::move(done));
    return;
  }
  ucp_mem_map_params_t mp;
  std::memset(&mp, 0, sizeof(mp));
  mp.field_mask = UCP_MEM_MAP_PARAM_FIELD_ADDRESS | UCP_MEM_MAP_PARAM_FIELD_LENGTH;
  mp.address = allocate ? nullptr : c.base;
  mp.length = c.size;
  if (allocate) {
    mp.field_mask |= UCP_MEM_MAP_PARAM_FIELD_FLAGS;
    mp.flags = UCP_MEM_MAP_ALLOCATE;
  }
  ucp_mem_h memh = nullptr;
  ucs_status_t st = ucp_mem_map(context_, &mp, &memh);
  if (st != UCS_OK) {
    done.status = st;
    done.error = status_message(allocate ? "ucp_mem_map (allocate " + std::to_string(c.size) + " bytes) of region '" + c.id + "'"
                                         : "ucp_mem_map of region '" + c.id + "'",
                                st);
    post(std::move(done));
    return;
  }
  uint8_t* base = c.base;
  if (allocate) {
    ucp_mem_attr_t attr;
    std::memset(&attr, 0, sizeof(attr));
    attr.field_mask = UCP_MEM_ATTR_FIELD_ADDRESS | UCP_MEM_ATTR_FIELD_LENGTH;
    st = ucp_mem_query(memh, &attr);
    if (st == UCS_OK && attr.length < c.size) st = UCS_ERR_NO_MEMORY;
    base = static_cast<uint8_t*>(attr.address);
  }
  void* rkey = nullptr;
  size_t rkey_len = 0;
  if (st == UCS_OK) st = ucp_rkey_pack(context_, memh, &rkey, &rkey_len);
  if (st != UCS_OK) {
    ucp_mem_unmap(context_, memh);
    done.status = st;
    done.error = status_message(allocate ? "ucp_mem_query/ucp_rkey_pack of allocated region '" + c.id + "'"
                                         : "ucp_rkey_pack of region '" + c.id + "'",
                                st);
    post(std::move(done));
    return;
  }
  done.data.assign(static_cast<const char*>(rkey), rkey_len);
  ucp_rkey_buffer_release(rkey);
  auto region = std::make_unique<Region>();
  region->base = base;
  region->size = c.size;
  region->memh = memh;
  region->allocated = allocate;
  regions_[c.id] = std::move(region);
  done.value = reinterpret_cast<uint64_t>(base);
  if (allocate) done.memh = memh;
  post(std::move(done));
}

void Engine::do_release(ucp_mem_h memh) {
  // Normally the region was unregistered first (JavaScript keeps a registered buffer alive); at
  // environment teardown finalizers may come first: drop the region then.
  for (auto it = regions_.begin(); it != regions_.end(); ++it) {
    if (it->second->memh == memh) {
      regions_.erase(it);
      break;
    }
  }
  ucp_mem_unmap(context_, memh);
}

void Engine::check_watched_peers() {
  for (auto& kv : peers_) {
    Peer* p = kv.second.get();
    if (p->failed || p->pidfd < 0 || !pidfd_exited(p->pidfd)) continue;
    p->failed = true;
    p->force = true;  // nobody will ever answer: cancel what is in flight
    p->fail_status = UCS_ERR_CONNECTION_RESET;
    if (p->exported) {
      Completion c;
      c.peer_exited = true;
      c.data = p->address;
      post(std::move(c));
    }
  }
}

void Engine::do_unregister(Command& c) {
  Completion done;
  done.token = c.token;
  auto it = regions_.find(c.id);
  if (it == regions_.end()) {
    done.status = UCS_ERR_NO_ELEM;
    done.error = status_message("region '" + c.id + "' is not registered", done.status);
  } else if (it->second->users > 0) {
    done.status = UCS_ERR_BUSY;
    done.error = status_message("region '" + c.id + "' is the source of puts in flight", done.status);
  } else if (it->second->allocated) {
    regions_.erase(it);  // the memory stays mapped until JavaScript drops the buffer
  } else {
    ucs_status_t st = ucp_mem_unmap(context_, it->second->memh);
    regions_.erase(it);
    if (st != UCS_OK) {
      done.status = st;
      done.error = status_message("ucp_mem_unmap of region '" + c.id + "'", st);
    }
  }
  post(std::move(done));
}

Engine::Peer* Engine::peer_for(const std::string& address, int pid, uint64_t start, ucs_status_t* status,
                               std::string* error) {
  auto it = peers_.find(address);
  if (it != peers_.end() && !it->second->failed) return it->second.get();
  if (it != peers_.end()) {  // failed: retire it now so the replacement gets the map slot
    retired_.push_back(std::move(it->second));
    peers_.erase(it);
  }
  auto peer = std::make_unique<Peer>();
  peer->engine = this;
  peer->address = address;
  ucp_err_handling_mode_t mode = UCP_ERR_HANDLING_MODE_PEER;
  if (options_.err_mode == ErrMode::None) mode = UCP_ERR_HANDLING_MODE_NONE;
  if (options_.err_mode != ErrMode::Peer && pid > 0) {
    // A peer whose process we can hold: watch it with a pidfd, so shared memory can be used.
    int fd = pidfd_open(pid);
    if (fd < 0 && errno == ESRCH) {
      *status = UCS_ERR_CONNECTION_RESET;
      *error = "the receiver process " + std::to_string(pid) + " has exited";
      return nullptr;
    }
    if (fd >= 0) {
      if (start != 0 && process_start_time(pid) != start) {  // the pid now names another process
        ::close(fd);
        *status = UCS_ERR_CONNECTION_RESET;
        *error = "the receiver process " + std::to_string(pid) + " has exited (pid reused)";
        return nullptr;
      }
      if (pidfd_exited(fd)) {
        ::close(fd);
        *status = UCS_ERR_CONNECTION_RESET;
        *error = "the receiver process " + std::to_string(pid) + " has exited";
        return nullptr;
      }
      peer->pid = pid;
      peer->pidfd = fd;
      mode = UCP_ERR_HANDLING_MODE_NONE;
    }
    // pidfd_open unavailable (kernel < 5.3): cannot watch it; Auto keeps peer error handling.
  }
  std::string addr = padded(address);
  ucp_ep_params_t ep;
  std::memset(&ep, 0, sizeof(ep));
  ep.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                  UCP_EP_PARAM_FIELD_ERR_HANDLER;
  ep.address = reinterpret_cast<const ucp_address_t*>(addr.data());
  ep.err_mode = mode;
  peer->no_ucx_detection = mode == UCP_ERR_HANDLING_MODE_NONE;
  ep.err_handler.cb = &Engine::on_ep_error;
  ep.err_handler.arg = peer.get();
  *status = ucp_ep_create(worker_, &ep, &peer->ep);
  if (*status != UCS_OK) {
    *error = status_message("ucp_ep_create (peer unreachable?)", *status);
    return nullptr;
  }
  Peer* raw = peer.get();
  peers_[address] = std::move(peer);
  return raw;
}

void Engine::on_ep_error(void* arg, ucp_ep_h, ucs_status_t status) {
  Peer* peer = static_cast<Peer*>(arg);
  if (!peer->failed) peer->fail_status = status;
  peer->failed = true;
}

void Engine::reap_peers(bool all) {
  for (auto it = peers_.begin(); it != peers_.end();) {
    if (all || it->second->failed) {
      retired_.push_back(std::move(it->second));
      it = peers_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = retired_.begin(); it != retired_.end();) {
    Peer* p = it->get();
    // A peer whose mapping JavaScript may still copy into keeps its rkeys (and so the mapping)
    // until forget_mapping(); at teardown JavaScript no longer runs puts.
    if (p->exported && !all) {
      ++it;
      continue;
    }
    // UCX 1.13 refuses UCP_EP_CLOSE_FLAG_FORCE on endpoints without peer error handling
    // (UCS_ERR_INVALID_PARAM) and so cannot cancel their requests: such a peer, its endpoint and
    // its rkeys stay until its puts finish, since those still use them (and point at the Peer).
    bool can_force = p->force && !p->no_ucx_detection;
    if (!p->closing && (p->inflight == 0 || can_force)) {
      // Remote keys go before their endpoint, and only once nothing in flight uses them.
      for (auto& kv : p->rkeys) ucp_rkey_destroy(kv.second);
      p->rkeys.clear();
      ucp_request_param_t param;
      std::memset(&param, 0, sizeof(param));
      param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
      param.flags = p->failed ? UCP_EP_CLOSE_FLAG_FORCE : 0;
      ucs_status_ptr_t r = ucp_ep_close_nbx(p->ep, &param);
      p->closing = true;
      if (r == nullptr || UCS_PTR_IS_ERR(r)) p->closed = true;
      else p->close_request = r;
    }
    if (p->closing && !p->closed && ucp_request_check_status(p->close_request) != UCS_INPROGRESS) {
      ucp_request_free(p->close_request);
      p->close_request = nullptr;
      p->closed = true;
    }
    if (p->closed) it = retired_.erase(it);
    else ++it;
  }
}

void Engine::do_put(Command& c) {
  auto* t = new Transfer();
  t->engine = this;
  t->token = c.token;
  t->t0 = now_seconds();
  inflight_++;
  ucs_status_t st = UCS_OK;
  std::string why;
  Peer* peer = peer_for(c.peer, c.peer_pid, c.peer_start, &st, &why);
  if (!peer) {
    t->status = st;
    t->error = why;
    transfer_step_done(t, UCS_OK, nullptr);
    return;
  }
  t->peer = peer;
  peer->inflight++;
  ucp_rkey_h rkey = nullptr;
  auto rk = peer->rkeys.find(c.rkey);
  if (rk != peer->rkeys.end()) {
    rkey = rk->second;
  } else {
    std::string buf = padded(c.rkey);
    st = ucp_ep_rkey_unpack(peer->ep, buf.data(), &rkey);
    if (st != UCS_OK) {
      t->status = st;
      t->error = status_message("ucp_ep_rkey_unpack (bad remote key?)", st);
      transfer_step_done(t, UCS_OK, nullptr);
      return;
    }
    peer->rkeys.emplace(c.rkey, rkey);
  }
  if (peer->pidfd >= 0) {
    // Watched same-host peer: if UCX mapped the region here (shared memory), hand the mapping out.
    void* ptr = nullptr;
    if (ucp_rkey_ptr(rkey, c.remote_base, &ptr) == UCS_OK) t->mapped = static_cast<uint8_t*>(ptr);
  }
  for (auto& kv : regions_) {
    Region* r = kv.second.get();
    if (c.base >= r->base && c.base + c.size <= r->base + r->size) {
      t->source_region = r;
      r->users++;
      break;
    }
  }
  ucp_request_param_t param;
  std::memset(&param, 0, sizeof(param));
  param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
  param.cb.send = &Engine::on_put_done;
  param.user_data = t;
  if (t->source_region) {
    param.op_attr_mask |= UCP_OP_ATTR_FIELD_MEMH;
    param.memh = t->source_region->memh;
  }
  for (const PutRange& r : c.ranges) {
    ucs_status_ptr_t req = ucp_put_nbx(peer->ep, c.base + r.local, r.length, c.remote_base + r.remote, rkey, &param);
    if (UCS_PTR_IS_ERR(req)) {
      t->status = UCS_PTR_STATUS(req);
      t->error = status_message("ucp_put_nbx", t->status);
      break;
    }
    if (req != nullptr) t->pending++;
  }
  if (t->status == UCS_OK) {
    ucp_request_param_t fp;
    std::memset(&fp, 0, sizeof(fp));
    fp.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
    fp.cb.send = &Engine::on_flush_done;
    fp.user_data = t;
    ucs_status_ptr_t req = ucp_ep_flush_nbx(peer->ep, &fp);
    if (UCS_PTR_IS_ERR(req)) {
      t->status = UCS_PTR_STATUS(req);
      t->error = status_message("ucp_ep_flush_nbx", t->status);
    } else if (req != nullptr) {
      t->pending++;
    }
  }
  transfer_step_done(t, UCS_OK, nullptr);
}

void Engine::on_put_done(void* request, ucs_status_t status, void* user) {
  ucp_request_free(request);
  auto* t = static_cast<Transfer*>(user);
  t->engine->transfer_step_done(t, status, "ucp_put_nbx");
}

void Engine::on_flush_done(void* request, ucs_status_t status, void* user) {
  ucp_request_free(request);
  auto* t = static_cast<Transfer*>(user);
  t->engine->transfer_step_done(t, status, "ucp_ep_flush_nbx");
}

void Engine::transfer_step_done(Transfer* t, ucs_status_t status, const char* what) {
  if (status != UCS_OK && t->status == UCS_OK) {
    t->status = status;
    t->error = status_message(what, status);
  }
  if (--t->pending > 0) return;
  Peer* peer = t->peer;
  if (t->status == UCS_OK && peer && peer->pidfd >= 0 && pidfd_exited(peer->pidfd)) {
    // Without peer error handling UCX cannot tell; the bytes went to a process that is gone.
    t->status = UCS_ERR_CONNECTION_RESET;
    t->error = "the receiver process " + std::to_string(peer->pid) + " exited during the put (" +
               ucs_status_string(t->status) + ")";
    if (!peer->failed) {
      peer->failed = peer->force = true;
      peer->fail_status = t->status;
      if (peer->exported) {
        Completion gone;
        gone.peer_exited = true;
        gone.data = peer->address;
        post(std::move(gone));
      }
    }
  }
  Completion done;
  done.token = t->token;
  done.status = t->status;
  done.seconds = now_seconds() - t->t0;
  if (t->status == UCS_OK && t->mapped && peer && !peer->failed) {
    int fd = dup(peer->pidfd);
    if (fd >= 0) {
      done.mapped = t->mapped;
      done.pidfd = fd;
      peer->exported = true;
    }
  }
  if (t->status != UCS_OK) {
    done.error = t->error;
    if (t->peer && t->peer->failed && t->peer->fail_status != UCS_OK && t->peer->fail_status != t->status)
      done.error += "; endpoint failed: " + std::string(ucs_status_string(t->peer->fail_status));
  }
  if (t->peer) t->peer->inflight--;
  if (t->source_region) t->source_region->users--;
  inflight_--;
  delete t;
  post(std::move(done));
}

void Engine::do_endpoint_info(Command& c) {
  Completion done;
  done.token = c.token;
  ucs_status_t st = UCS_OK;
  std::string why;
  Peer* peer = peer_for(c.peer, c.peer_pid, c.peer_start, &st, &why);
  if (!peer) {
    done.status = st;
    done.error = why;
  } else {
    char* text = nullptr;
    size_t len = 0;
    FILE* f = open_memstream(&text, &len);
    if (f) {
      ucp_ep_print_info(peer->ep, f);
      std::fclose(f);
      done.data.assign(text, len);
      std::free(text);
    }
  }
  post(std::move(done));
}

void Engine::teardown() {
  if (!worker_) return;
  {
    // From here on allocations are released directly, not through this thread.
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->engine = nullptr;
  }
  bool force = hard_stop_.load();
  if (force) {
    for (auto& kv : peers_) kv.second->failed = kv.second->force = true;
    for (auto& p : retired_) p->force = true;
  }
  reap_peers(true);
  double deadline = now_seconds() + (force ? 0.5 : 2.0);
  while ((!retired_.empty() || inflight_ > 0) && now_seconds() < deadline) {
    ucp_worker_progress(worker_);
    reap_peers(true);
  }
  for (auto& p : retired_) {
    if (p->close_request) ucp_request_free(p->close_request);
  }
  retired_.clear();
  for (auto& kv : regions_) {
    if (!kv.second->allocated) ucp_mem_unmap(context_, kv.second->memh);  // allocated: JS owns them
  }
  regions_.clear();
  std::lock_guard<std::mutex> lock(mu_);
  for (Command& c : queue_) {
    if (c.kind == CommandKind::Release) ucp_mem_unmap(context_, c.memh);
  }
  queue_.clear();
  ucp_worker_destroy(worker_);
  worker_ = nullptr;
  context_ = nullptr;
  shared_.reset();  // ucp_cleanup once allocations still held by JavaScript are released too
}

}  // namespace tandem::ucx

#endif  // TANDEM_WITH_UCX
