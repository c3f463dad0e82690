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
#include <random>
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

// Checked puts (put_checked): the active-message ids and the wire format of their headers.
constexpr uint16_t kAmPutId = 0x7451;
constexpr uint16_t kAmReplyId = 0x7452;
constexpr uint32_t kPutMagic = 0x31504b54;    // "TKP1"
constexpr uint32_t kReplyMagic = 0x31524b54;  // "TKR1"
// Receiver outcomes of a checked put (reply code; remote_code in the sender's completion).
enum ReplyCode : uint8_t { kAccepted = 0, kNotGranted = 1, kUnknownRegion = 2, kOutOfRange = 3, kFailed = 4 };
constexpr const char* kReplyCodeNames[] = {"", "not_granted", "unknown_region", "out_of_range", "failed"};
// Fixed part of a part's header: magic, sender, seq, index, count, offset, length, region length,
// grant flag and length (u16: a grant may carry the sender's authentication, ucx-put-auth.ts).
constexpr size_t kPartHeaderFixed = 4 + 8 + 8 + 4 + 4 + 8 + 8 + 2 + 1 + 2;
// Most ranges one checked put may have (a KV push has two per block and layer at most).
constexpr size_t kMaxParts = 1 << 16;
// A put whose parts did not all arrive within this long is dropped (its sender died mid-put).
constexpr double kIncompletePutSeconds = 30.0;
// Most checked puts a receiver holds at once (gathering, asking, landing); parts of new puts
// beyond it are dropped unanswered, so a flood of parts that never complete cannot pin memory.
constexpr size_t kMaxIncomingPuts = 4096;
constexpr size_t kMaxReason = 1024;

// Little-endian writer / bounds-checked reader of the active-message headers.
struct WireWriter {
  std::string out;
  template <typename T> void put(T v) {
    for (size_t i = 0; i < sizeof(T); i++) out.push_back(static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff));
  }
  void bytes(const std::string& b) { out.append(b); }
};

struct WireReader {
  const uint8_t* p;
  size_t left;
  bool ok = true;
  template <typename T> T get() {
    if (left < sizeof(T)) {
      ok = false;
      return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < sizeof(T); i++) v |= static_cast<uint64_t>(p[i]) << (8 * i);
    p += sizeof(T);
    left -= sizeof(T);
    return static_cast<T>(v);
  }
  std::string bytes(size_t n) {
    if (left < n) {
      ok = false;
      return {};
    }
    std::string b(reinterpret_cast<const char*>(p), n);
    p += n;
    left -= n;
    return b;
  }
};

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
    params.features = UCP_FEATURE_RMA | UCP_FEATURE_AM | (wakeup ? UCP_FEATURE_WAKEUP : 0);
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
  size_t writers = 0;  // checked puts being received into it
  bool allocated = false;  // UCX allocated it; unmapped by release_allocation(), not by unregister
  bool guarded = false;    // takes checked puts only (its rkey is not meant to be published)
};

// A checked put received for a guarded region: its parts gather here, then it waits for
// JavaScript's answer, then for its rendezvous parts to land (receiver side).
struct Engine::Incoming {
  struct Part {
    bool arrived = false;
    PutRange range;       // remote = offset in the region
    bool rndv = false;
    bool held = false;    // data persists until ucp_am_data_release / ucp_am_recv_data_nbx
    void* data = nullptr; // the eager payload or the rendezvous descriptor
    std::string copy;     // eager data UCX would not let us keep
  };
  Engine* engine = nullptr;
  uint64_t id = 0;
  uint64_t sender = 0;
  uint64_t seq = 0;  // the sender's put number, echoed in the reply
  std::string region;
  std::string grant;
  bool has_grant = false;
  std::vector<Part> parts;
  size_t arrived = 0;
  double created = 0;
  bool asked = false;  // every part arrived; the guard was asked
  int code = 0;        // kAccepted until a part or the landing fails
  std::string reason;
  ucp_ep_h reply_ep = nullptr;
  Region* target = nullptr;  // while landing (writers counted)
  size_t receiving = 0;      // rendezvous parts still landing
  void fail(int c, std::string why) {
    if (code != 0) return;
    code = c;
    reason = std::move(why);
  }
  void release(ucp_worker_h worker) {
    for (auto& part : parts) {
      if (part.held && part.data) ucp_am_data_release(worker, part.data);
      part.held = false;
      part.data = nullptr;
    }
  }
};

struct Engine::Reply {
  Engine* engine = nullptr;
  std::string header;
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
  // Checked put: one active message per range; their headers live until sent.
  std::vector<std::string> headers;
  std::vector<uint64_t> seqs;  // the put's reply, while awaited
  std::string remote_code;
  bool posted = false;  // the completion went out early (peer lost); pending steps still finish
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
  ucp_worker_attr_t wattr;
  std::memset(&wattr, 0, sizeof(wattr));
  wattr.field_mask = UCP_WORKER_ATTR_FIELD_MAX_AM_HEADER;
  st = ucp_worker_query(cw.worker, &wattr);
  e->max_am_header_ = st == UCS_OK ? wattr.max_am_header : 0;
  for (uint16_t id : {kAmPutId, kAmReplyId}) {
    ucp_am_handler_param_t hp;
    std::memset(&hp, 0, sizeof(hp));
    hp.field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_FLAGS | UCP_AM_HANDLER_PARAM_FIELD_CB |
                    UCP_AM_HANDLER_PARAM_FIELD_ARG;
    hp.id = id;
    hp.flags = UCP_AM_FLAG_WHOLE_MSG | (id == kAmPutId ? UCP_AM_FLAG_PERSISTENT_DATA : 0);
    hp.cb = id == kAmPutId ? &Engine::on_am_put : &Engine::on_am_reply;
    hp.arg = e.get();
    if (st == UCS_OK) st = ucp_worker_set_am_recv_handler(cw.worker, &hp);
  }
  if (st != UCS_OK || e->max_am_header_ < kPartHeaderFixed + 64) {
    *error = status_message("ucp_worker_query / ucp_worker_set_am_recv_handler (active messages)", st == UCS_OK ? UCS_ERR_UNSUPPORTED : st);
    ucp_worker_release_address(cw.worker, addr);
    cw.close();
    return nullptr;
  }
  std::random_device rd;
  e->sender_id_ = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(getpid());
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

void Engine::register_region(uint64_t token, std::string id, void* base, size_t size, bool guarded) {
  Command c(CommandKind::Register);
  c.guarded = guarded;
  c.token = token;
  c.id = std::move(id);
  c.base = static_cast<uint8_t*>(base);
  c.size = size;
  push(std::move(c));
}

void Engine::allocate_region(uint64_t token, std::string id, size_t size, bool guarded) {
  Command c(CommandKind::Allocate);
  c.guarded = guarded;
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

void Engine::put_checked(uint64_t token, std::string peer, std::string region, std::string grant, bool has_grant,
                         const uint8_t* src, size_t src_len, std::vector<PutRange> ranges, int peer_pid,
                         uint64_t peer_start) {
  Command c(CommandKind::PutChecked);
  c.has_grant = has_grant;
  c.peer_pid = peer_pid;
  c.peer_start = peer_start;
  c.token = token;
  c.peer = std::move(peer);
  c.id = std::move(region);
  c.grant = std::move(grant);
  c.base = const_cast<uint8_t*>(src);
  c.size = src_len;
  c.ranges = std::move(ranges);
  push(std::move(c));
}

void Engine::answer(uint64_t request, bool accept, std::string reason) {
  Command c(CommandKind::Answer);
  c.token = request;
  c.accept = accept;
  c.reason = std::move(reason);
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
    if (!awaiting_.empty()) fail_awaiting(false);
    if (!incoming_.empty() && now_seconds() - last_sweep_ > 1.0) {
      sweep_incoming();
      last_sweep_ = now_seconds();
    }
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
  if (c.kind == CommandKind::Answer) {  // received data must be released even while closing
    do_answer(c);
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
    case CommandKind::Answer:
    case CommandKind::ForgetMapping: break;  // handled above
    case CommandKind::PutChecked: do_put_checked(c); break;
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
  region->guarded = c.guarded;
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
  } else if (it->second->users > 0 || it->second->writers > 0) {
    done.status = UCS_ERR_BUSY;
    done.error = status_message("region '" + c.id + "' is the source or the target of puts in flight", done.status);
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

// A put's Transfer with its endpoint, or nullptr when the peer cannot be reached (then the put
// has already been completed with the reason).
Engine::Transfer* Engine::begin_transfer(const Command& c) {
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
    return nullptr;
  }
  t->peer = peer;
  peer->inflight++;
  return t;
}

void Engine::do_put(Command& c) {
  Transfer* t = begin_transfer(c);
  if (!t) return;
  Peer* peer = t->peer;
  ucs_status_t st = UCS_OK;
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
  if (t->posted) {  // fail_awaiting already reported it: only let go now
    if (peer) peer->inflight--;
    inflight_--;
    delete t;
    return;
  }
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
    done.remote_code = t->remote_code;
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

// ---- checked puts: sender ----------------------------------------------------------------------
//
// A checked put of n ranges is n active messages, one per range, each with a contiguous payload
// (UCX's zero-copy rendezvous takes contiguous buffers only; an IOV payload fell back to a
// fragmented copy at a tenth of the bandwidth). Each header names the put (sender id, seq), the
// part (index, count), its range, the region and the grant; the receiver gathers all n parts,
// asks its guard once about every range, and then lands all of them or none. One reply per put.

void Engine::do_put_checked(Command& c) {
  Transfer* t = begin_transfer(c);
  if (!t) return;
  Peer* peer = t->peer;
  if (kPartHeaderFixed + c.id.size() + c.grant.size() > max_am_header_ || c.ranges.size() > kMaxParts) {
    t->status = UCS_ERR_EXCEEDS_LIMIT;
    t->error = status_message("checked put: too many ranges, or the region id and grant do not fit an active-message header", t->status);
    transfer_step_done(t, UCS_OK, nullptr);
    return;
  }
  uint64_t seq = ++next_seq_;
  uint32_t count = static_cast<uint32_t>(c.ranges.size());
  // The reply is a step of its own; it is awaited from before the first part leaves.
  t->pending++;
  t->seqs.push_back(seq);
  awaiting_[seq] = t;
  t->headers.reserve(count);
  for (uint32_t i = 0; i < count; i++) {
    const PutRange& r = c.ranges[i];
    WireWriter w;
    w.put<uint32_t>(kPutMagic);
    w.put<uint64_t>(sender_id_);
    w.put<uint64_t>(seq);
    w.put<uint32_t>(i);
    w.put<uint32_t>(count);
    w.put<uint64_t>(r.remote);
    w.put<uint64_t>(r.length);
    w.put<uint16_t>(static_cast<uint16_t>(c.id.size()));
    w.bytes(c.id);
    w.put<uint8_t>(c.has_grant ? 1 : 0);
    w.put<uint16_t>(static_cast<uint16_t>(c.grant.size()));
    w.bytes(c.grant);
    t->headers.push_back(std::move(w.out));
    const std::string& header = t->headers.back();
    ucp_request_param_t param;
    std::memset(&param, 0, sizeof(param));
    param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_FLAGS;
    param.cb.send = &Engine::on_am_sent;
    param.user_data = t;
    param.flags = UCP_AM_SEND_FLAG_REPLY;
    ucs_status_ptr_t req = ucp_am_send_nbx(peer->ep, kAmPutId, header.data(), header.size(), c.base + r.local, r.length, &param);
    if (UCS_PTR_IS_ERR(req)) {
      // Parts already sent are released by the receiver once it sees the put cannot complete
      // (stale sweep); this put fails now and waits for no reply.
      t->status = UCS_PTR_STATUS(req);
      t->error = status_message("ucp_am_send_nbx", t->status);
      if (awaiting_.erase(seq)) t->pending--;
      t->seqs.clear();
      break;
    }
    if (req != nullptr) t->pending++;
  }
  transfer_step_done(t, UCS_OK, nullptr);
}

void Engine::on_am_sent(void* request, ucs_status_t status, void* user) {
  ucp_request_free(request);
  auto* t = static_cast<Transfer*>(user);
  Engine* e = t->engine;
  if (status != UCS_OK) {
    // A part that was not delivered means no reply will come: stop waiting for it (this send
    // step still holds the transfer).
    for (uint64_t seq : t->seqs) {
      if (e->awaiting_.erase(seq)) t->pending--;
    }
    t->seqs.clear();
  }
  e->transfer_step_done(t, status, "ucp_am_send_nbx");
}

ucs_status_t Engine::on_am_reply(void* arg, const void* header, size_t header_length, void*, size_t,
                                 const ucp_am_recv_param_t*) {
  auto* e = static_cast<Engine*>(arg);
  WireReader r{static_cast<const uint8_t*>(header), header_length};
  uint32_t magic = r.get<uint32_t>();
  uint64_t seq = r.get<uint64_t>();
  uint8_t code = r.get<uint8_t>();
  uint16_t reason_len = r.get<uint16_t>();
  std::string reason = r.bytes(std::min<size_t>(reason_len, kMaxReason));
  if (!r.ok || magic != kReplyMagic) return UCS_OK;  // not ours: nothing waits for it
  auto it = e->awaiting_.find(seq);
  if (it == e->awaiting_.end()) return UCS_OK;  // already failed (peer lost) or a stray reply
  Transfer* t = it->second;
  e->awaiting_.erase(it);
  t->seqs.erase(std::remove(t->seqs.begin(), t->seqs.end(), seq), t->seqs.end());
  if (code != kAccepted && t->status == UCS_OK) {
    t->status = code == kNotGranted ? UCS_ERR_REJECTED : UCS_ERR_IO_ERROR;
    t->remote_code = code < sizeof(kReplyCodeNames) / sizeof(kReplyCodeNames[0]) ? kReplyCodeNames[code] : "failed";
    t->error = "the receiver refused the put (" + t->remote_code + "): " + reason;
  }
  e->transfer_step_done(t, UCS_OK, nullptr);
  return UCS_OK;
}

// Checked puts whose peer failed will get no reply: count their replies as failed now.
void Engine::fail_awaiting(bool all) {
  std::vector<uint64_t> lost;
  for (auto& kv : awaiting_) {
    Peer* p = kv.second->peer;
    if (all || (p && p->failed)) lost.push_back(kv.first);
  }
  for (uint64_t seq : lost) {
    auto it = awaiting_.find(seq);
    if (it == awaiting_.end()) continue;
    Transfer* t = it->second;
    awaiting_.erase(it);
    t->seqs.erase(std::remove(t->seqs.begin(), t->seqs.end(), seq), t->seqs.end());
    ucs_status_t st = t->peer && t->peer->fail_status != UCS_OK ? t->peer->fail_status : UCS_ERR_CONNECTION_RESET;
    if (t->status == UCS_OK) {
      t->status = st;
      t->error = status_message("checked put: the receiver was lost before it replied", st);
    }
    bool last = t->pending == 1;
    transfer_step_done(t, UCS_OK, nullptr);
    // A peer UCX does not watch may never finish the sends themselves: report the failure now
    // (the Transfer stays until UCX lets go of it, so the source is not reused under it).
    if (!last && !t->posted && t->peer && t->peer->no_ucx_detection) {
      Completion done;
      done.token = t->token;
      done.status = t->status;
      done.error = t->error;
      t->posted = true;
      post(std::move(done));
    }
  }
}

// ---- checked puts: receiver ----------------------------------------------------------------------

ucs_status_t Engine::on_am_put(void* arg, const void* header, size_t header_length, void* data, size_t length,
                               const ucp_am_recv_param_t* param) {
  auto* e = static_cast<Engine*>(arg);
  bool rndv = (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV) != 0;
  bool held = rndv || (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_DATA) != 0;
  ucp_ep_h reply_ep = (param->recv_attr & UCP_AM_RECV_ATTR_FIELD_REPLY_EP) ? param->reply_ep : nullptr;
  WireReader r{static_cast<const uint8_t*>(header), header_length};
  uint32_t magic = r.get<uint32_t>();
  uint64_t sender = r.get<uint64_t>();
  uint64_t seq = r.get<uint64_t>();
  uint32_t index = r.get<uint32_t>();
  uint32_t count = r.get<uint32_t>();
  uint64_t offset = r.get<uint64_t>();
  uint64_t len = r.get<uint64_t>();
  std::string region = r.bytes(r.get<uint16_t>());
  bool has_grant = r.get<uint8_t>() != 0;
  std::string grant = r.bytes(r.get<uint16_t>());
  if (!reply_ep || !r.ok || magic != kPutMagic || count == 0 || count > kMaxParts || index >= count) {
    return UCS_OK;  // not a part of ours, or nobody to answer: drop it
  }
  auto found = e->incoming_by_put_.find({sender, seq});
  if (found == e->incoming_by_put_.end() && e->incoming_.size() >= kMaxIncomingPuts) {
    return UCS_OK;  // too many puts in progress (a flood of parts that never complete): drop it
  }
  Incoming*& slot = e->incoming_by_put_[{sender, seq}];
  if (!slot) {
    auto fresh = std::make_unique<Incoming>();
    fresh->engine = e;
    fresh->id = ++e->next_incoming_;
    fresh->sender = sender;
    fresh->seq = seq;
    fresh->region = region;
    fresh->grant = grant;
    fresh->has_grant = has_grant;
    fresh->parts.resize(count);
    fresh->created = now_seconds();
    slot = fresh.get();
    e->incoming_[fresh->id] = std::move(fresh);
  }
  Incoming* in = slot;
  in->reply_ep = reply_ep;
  Incoming::Part& part = in->parts[std::min<size_t>(index, in->parts.size() - 1)];
  bool consistent = in->parts.size() == count && in->region == region && in->grant == grant &&
                    in->has_grant == has_grant && !part.arrived && len == length && len > 0;
  if (consistent) {
    auto it = e->regions_.find(region);
    if (it == e->regions_.end() || !it->second->guarded) {
      in->fail(kUnknownRegion, "no guarded region '" + region + "' here");
    } else if (offset > it->second->size || len > it->second->size - offset) {
      in->fail(kOutOfRange, "bytes [" + std::to_string(offset) + ", " + std::to_string(offset + len) + ") are outside region '" +
                                region + "' (" + std::to_string(it->second->size) + " bytes)");
    }
  } else {
    in->fail(kFailed, "malformed or inconsistent checked-put part");
  }
  bool keep = consistent && in->code == kAccepted;
  if (consistent) {
    part.arrived = true;
    part.range = {0, offset, len};
    part.rndv = rndv;
    if (keep) {
      part.held = held;
      if (held) part.data = data;
      else part.copy.assign(static_cast<const char*>(data), length);
    }
    in->arrived++;
  }
  if (in->arrived == in->parts.size()) e->all_parts_arrived(in);
  return keep && held ? UCS_INPROGRESS : UCS_OK;  // UCS_OK on a rendezvous part drops it
}

// Every part of a put is here: refuse it, or ask JavaScript's guard about all its ranges at once.
void Engine::all_parts_arrived(Incoming* in) {
  incoming_by_put_.erase({in->sender, in->seq});
  if (in->code != kAccepted) {
    finish_incoming(in->id, in->code, in->reason);
    return;
  }
  in->asked = true;
  Completion ask;
  ask.guard_request = true;
  ask.token = in->id;
  ask.data = in->region;
  if (in->has_grant) ask.grant = in->grant;
  ask.value = in->has_grant ? 1 : 0;
  ask.ranges.reserve(in->parts.size());
  for (const auto& part : in->parts) ask.ranges.push_back(part.range);
  post(std::move(ask));
}

void Engine::do_answer(Command& c) {
  auto it = incoming_.find(c.token);
  if (it == incoming_.end()) return;
  Incoming* in = it->second.get();
  auto reg = regions_.find(in->region);
  if (!c.accept || reg == regions_.end() || closing_) {
    std::string why = !c.accept ? c.reason : reg == regions_.end() ? "region '" + in->region + "' was unregistered" : "the receiver is closing";
    finish_incoming(in->id, !c.accept ? kNotGranted : reg == regions_.end() ? kUnknownRegion : kFailed, why);
    return;
  }
  Region* target = reg->second.get();
  in->target = target;
  target->writers++;
  in->receiving = 1;  // the loop below; each rendezvous part adds one until it lands
  for (auto& part : in->parts) {
    uint8_t* dst = target->base + part.range.remote;
    if (!part.rndv) {
      std::memcpy(dst, part.held ? static_cast<const uint8_t*>(part.data) : reinterpret_cast<const uint8_t*>(part.copy.data()),
                  part.range.length);
      if (part.held) ucp_am_data_release(worker_, part.data);
      part.held = false;
      part.data = nullptr;
      continue;
    }
    // Rendezvous: UCX pulls the payload straight into the lease's range.
    ucp_request_param_t param;
    std::memset(&param, 0, sizeof(param));
    param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
    param.cb.recv_am = &Engine::on_am_received;
    param.user_data = in;
    void* desc = part.data;
    part.data = nullptr;  // UCX owns the descriptor from here on
    part.held = false;
    ucs_status_ptr_t req = ucp_am_recv_data_nbx(worker_, desc, dst, part.range.length, &param);
    if (UCS_PTR_IS_ERR(req)) in->fail(kFailed, status_message("ucp_am_recv_data_nbx", UCS_PTR_STATUS(req)));
    else if (req != nullptr) in->receiving++;
  }
  part_landed(in, UCS_OK);
}

void Engine::on_am_received(void* request, ucs_status_t status, size_t, void* user) {
  ucp_request_free(request);
  auto* in = static_cast<Incoming*>(user);
  in->engine->part_landed(in, status);
}

void Engine::part_landed(Incoming* in, ucs_status_t status) {
  if (status != UCS_OK) in->fail(kFailed, status_message("receiving the payload", status));
  if (--in->receiving > 0) return;
  finish_incoming(in->id, in->code, in->reason);
}

// Releases what the put still holds, replies to the sender and forgets the put.
void Engine::finish_incoming(uint64_t id, int code, const std::string& reason) {
  auto it = incoming_.find(id);
  if (it == incoming_.end()) return;
  Incoming* in = it->second.get();
  in->release(worker_);
  if (in->target) in->target->writers--;
  if (!in->asked) incoming_by_put_.erase({in->sender, in->seq});
  send_reply(in->reply_ep, in->seq, code, reason);
  incoming_.erase(it);
}

// Teardown: releases what received puts hold. A put still landing (a rendezvous receive in
// flight) is left allocated on purpose: UCX may still call back into it, and finds it gone from
// incoming_, so nothing else happens.
void Engine::drop_incoming() {
  for (auto& kv : incoming_) {
    kv.second->release(worker_);
    if (kv.second->receiving > 0) (void)kv.second.release();
  }
  incoming_.clear();
  incoming_by_put_.clear();
}

// Parts of puts whose other parts never came (the sender died or gave up mid-put).
void Engine::sweep_incoming() {
  double now = now_seconds();
  std::vector<uint64_t> stale;
  for (auto& kv : incoming_) {
    if (!kv.second->asked && now - kv.second->created > kIncompletePutSeconds) stale.push_back(kv.first);
  }
  for (uint64_t id : stale) {
    Incoming* in = incoming_[id].get();
    incoming_by_put_.erase({in->sender, in->seq});
    in->release(worker_);
    incoming_.erase(id);  // no reply: the sender is gone or already failed the put
  }
}

void Engine::send_reply(ucp_ep_h ep, uint64_t seq, int code, const std::string& reason) {
  auto* reply = new Reply();
  reply->engine = this;
  WireWriter w;
  w.put<uint32_t>(kReplyMagic);
  w.put<uint64_t>(seq);
  w.put<uint8_t>(static_cast<uint8_t>(code));
  std::string why = reason.substr(0, std::min(reason.size(), kMaxReason));
  w.put<uint16_t>(static_cast<uint16_t>(why.size()));
  w.bytes(why);
  reply->header = std::move(w.out);
  ucp_request_param_t param;
  std::memset(&param, 0, sizeof(param));
  param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_FLAGS;
  param.cb.send = &Engine::on_reply_sent;
  param.user_data = reply;
  param.flags = UCP_AM_SEND_FLAG_EAGER;
  ucs_status_ptr_t req = ucp_am_send_nbx(ep, kAmReplyId, reply->header.data(), reply->header.size(), nullptr, 0, &param);
  if (req == nullptr || UCS_PTR_IS_ERR(req)) delete reply;  // sent at once, or the sender is gone
  else replies_inflight_++;
}

void Engine::on_reply_sent(void* request, ucs_status_t, void* user) {
  ucp_request_free(request);
  auto* reply = static_cast<Reply*>(user);
  reply->engine->replies_inflight_--;
  delete reply;
}

void Engine::teardown() {
  if (!worker_) return;
  {
    // From here on allocations are released directly, not through this thread.
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->engine = nullptr;
  }
  // Checked puts: nothing will answer or be answered any more.
  fail_awaiting(true);
  drop_incoming();
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
  drop_incoming();  // puts that arrived while the loop above progressed
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
