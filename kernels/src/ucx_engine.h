// UCX one-sided transfer engine (no N-API here; ucx_binding.cc wraps it for JS).
//
// Two kinds of put:
//  - put(): one-sided RMA (ucp_put_nbx) into a region whose packed rkey the sender holds. The
//    receiver's CPU never sees it.
//  - put_checked(): into a *guarded* region (registered with guarded = true; its rkey is never
//    published). The sender sends an active message (ucp_am_send_nbx, header = region, grant and
//    ranges, payload = the source ranges as an IOV). The receiver reports it to JavaScript as a
//    guard request; JavaScript answers (answer()); on acceptance the payload is received straight
//    into the region's ranges (ucp_am_recv_data_nbx for rendezvous, a copy for eager data), and
//    the receiver replies to the sender with the outcome. See docs/adr/0020-ucx-checked-puts.md.
//
// Threading: one ucp context and one ucp worker per Engine, both created in SINGLE thread mode.
// After open() returns, only the engine's progress thread touches UCX: callers enqueue commands
// (register/unregister a region, put, endpoint info, close) from any thread, the progress thread
// runs them, progresses the worker, and reports each finished command through the completion sink
// (also called on the progress thread). When idle the thread sleeps on the worker's wakeup fd,
// so an idle engine costs no CPU; ucp_worker_signal() (thread-safe by contract) wakes it for new
// commands. Without the wakeup feature (Options::event_wakeup false) the idle thread polls with a
// growing sleep instead and a condition variable wakes it for new commands.
#pragma once
#ifdef TANDEM_WITH_UCX

#include <ucp/api/ucp.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace tandem::ucx {

struct PutRange {
  uint64_t local;
  uint64_t remote;
  uint64_t length;
};

struct Completion {
  uint64_t token = 0;
  // kind == PeerExited: an unsolicited report (token 0) that a watched peer's process exited; `data`
  // is the peer's worker address. Everything else answers a command.
  bool peer_exited = false;
  ucs_status_t status = UCS_OK;
  std::string error;     // "<what>: <ucs status string>" when status != UCS_OK
  std::string data;      // register: packed rkey; endpoint info: ucp_ep_print_info text
  uint64_t value = 0;    // register: base address of the mapped region
  double seconds = 0;    // put: issue → flush completion, measured on the progress thread
  // put to a watched same-host peer whose region UCX mapped into this process (ucp_rkey_ptr):
  // the local address of the remote region's base and a dup of the peer's pidfd (owned by the
  // receiver of the completion), so the caller can copy directly; nullptr / -1 otherwise.
  uint8_t* mapped = nullptr;
  int pidfd = -1;
  ucp_mem_h memh = nullptr;  // allocate: the region's memory handle (for release_allocation)
  // guard_request: a checked put reached a guarded region (token = the request's id for
  // answer(), data = region id, grant, ranges = [remote offset, length] with local unused).
  bool guard_request = false;
  std::string grant;
  std::vector<PutRange> ranges;
  // A checked put refused or failed by the receiver: "not_granted", "unknown_region",
  // "out_of_range" or "failed" (error holds the receiver's reason).
  std::string remote_code;
};

using CompletionSink = std::function<void(Completion&&)>;

enum class CommandKind { Register, Allocate, Unregister, Release, Put, PutChecked, Answer, EndpointInfo, ForgetMapping, Close };

struct Command {
  explicit Command(CommandKind k) : kind(k) {}
  CommandKind kind;
  uint64_t token = 0;
  std::string id;              // region id
  std::string peer;            // remote worker address
  std::string rkey;            // packed remote key
  uint64_t remote_base = 0;
  uint8_t* base = nullptr;     // register: local region; put: source buffer
  size_t size = 0;
  std::vector<PutRange> ranges;
  int peer_pid = 0;            // put: > 0 when the sender can watch the peer's process (same host)
  uint64_t peer_start = 0;     // put: the peer process's start time (/proc/<pid>/stat field 22)
  ucp_mem_h memh = nullptr;    // release: an allocated region's memory handle
  bool guarded = false;        // register/allocate: only checked puts may write the region
  std::string grant;           // put_checked
  bool has_grant = false;      // put_checked: a grant was given (an empty one is still one)
  bool accept = false;         // answer
  std::string reason;          // answer: why it was refused
};

// "<what>: <status text> (<status name>)".
std::string status_message(const std::string& what, ucs_status_t status);

// Error-handling mode of endpoints (see docs/adr/0009-ucx-transport-selection.md).
//  Peer: UCP_ERR_HANDLING_MODE_PEER always. A dead peer fails the put through UCX, but UCX 1.13
//        then only uses transports with peer-failure support: tcp (loopback on one host).
//  None: UCP_ERR_HANDLING_MODE_NONE always: shared memory (sysv/posix) lanes are eligible; a dead
//        peer is noticed only when the put names its process (below).
//  Auto: None for peers whose process this one can watch (same host, same pid namespace: the put
//        carries the peer's pid and start time, checked against /proc and held by a pidfd), whose
//        death then fails puts and cancels what is in flight; Peer for every other peer.
enum class ErrMode { Auto, Peer, None };

// Process start time (clock ticks since boot, /proc/<pid>/stat field 22); 0 when unreadable.
uint64_t process_start_time(int pid);

struct Options {
  ErrMode err_mode = ErrMode::Auto;
  // true: UCP_FEATURE_WAKEUP, the idle thread sleeps on the worker's event fd (transports without
  // event support, e.g. CMA, are not used). false: no wakeup feature; the idle thread polls with a
  // backoff from 20 µs up to idle_poll_us (transports are chosen for bandwidth alone).
  bool event_wakeup = true;
  int idle_poll_us = 1000;
};

// Opens a context and a worker and closes them again; the reason on failure.
bool probe(std::string* error);

class Engine;

// The ucp context, shared by the engine and by the regions UCX allocated (ucp_mem_map ALLOCATE)
// whose memory JavaScript still references: ucp_cleanup runs when the last of them lets go.
struct SharedContext {
  ~SharedContext();
  std::mutex mu;
  ucp_context_h context = nullptr;
  Engine* engine = nullptr;  // while the engine's progress thread owns the context (under mu)
};

class Engine {
 public:
  // Creates the context (RMA + WAKEUP) and the worker, and starts the progress thread.
  static std::unique_ptr<Engine> open(const Options& options, CompletionSink sink, std::string* error);
  ~Engine();  // stops the thread the hard way if close() was never called
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const std::string& address() const { return address_; }

  // guarded: the region takes only checked puts (put_checked), each approved by JavaScript.
  void register_region(uint64_t token, std::string id, void* base, size_t size, bool guarded = false);
  // ucp_mem_map with UCP_MEM_MAP_ALLOCATE: UCX allocates (shared memory on one host, so peers on
  // this host can put with a memcpy) and registers `size` bytes; completion value = address.
  // The memory outlives unregister/close until release_allocation() is called for it.
  void allocate_region(uint64_t token, std::string id, size_t size, bool guarded = false);
  // Unmaps allocated memory (from any thread, e.g. a finalizer): on the progress thread while the
  // engine runs, directly once it is gone. The last user of `shared` cleans the context up.
  static void release_allocation(const std::shared_ptr<SharedContext>& shared, ucp_mem_h memh);
  const std::shared_ptr<SharedContext>& shared() const { return shared_; }
  // The caller dropped its copy of a direct mapping (Completion::mapped) of this peer's regions:
  // its remote keys may be destroyed once the peer is retired.
  void forget_mapping(std::string peer);
  void unregister_region(uint64_t token, std::string id);
  // `src` must stay valid until the completion arrives. Ranges are already coalesced and were
  // checked against the source and the remote region size by the caller.
  void put(uint64_t token, std::string peer, std::string rkey, uint64_t remote_base, const uint8_t* src,
           size_t src_len, std::vector<PutRange> ranges, int peer_pid = 0, uint64_t peer_start = 0);
  // A put into a guarded region of the peer, named by id: approved (or refused) by the receiver
  // before a byte lands; completes once the receiver replied. Ranges as for put(), checked by the
  // caller against the source; the receiver checks them against its region.
  void put_checked(uint64_t token, std::string peer, std::string region, std::string grant, bool has_grant,
                   const uint8_t* src, size_t src_len, std::vector<PutRange> ranges, int peer_pid = 0,
                   uint64_t peer_start = 0);
  // JavaScript's verdict on guard request `request`.
  void answer(uint64_t request, bool accept, std::string reason);
  void endpoint_info(uint64_t token, std::string peer);
  // Waits for in-flight puts, closes endpoints, unmaps regions, destroys the worker and the
  // context, posts the completion for `token` and ends the thread.
  void close(uint64_t token);
  // Joins the progress thread (after the close completion, or to stop the hard way).
  void join();
  void hard_stop();

 private:
  struct Region;
  struct Peer;
  struct Transfer;
  struct Incoming;
  struct Reply;

  Engine() = default;
  void run();
  void push(Command&& c);
  void wake_locked();
  void run_command(Command& c);
  void do_register(Command& c);
  void do_allocate(Command& c);
  void do_map(Command& c, bool allocate);
  void do_release(ucp_mem_h memh);
  void check_watched_peers();
  void do_unregister(Command& c);
  Transfer* begin_transfer(const Command& c);
  void do_put(Command& c);
  void do_endpoint_info(Command& c);
  void do_put_checked(Command& c);
  void do_answer(Command& c);
  void all_parts_arrived(Incoming* in);
  void part_landed(Incoming* in, ucs_status_t status);
  void finish_incoming(uint64_t id, int code, const std::string& reason);
  void sweep_incoming();
  void drop_incoming();
  void send_reply(ucp_ep_h ep, uint64_t seq, int code, const std::string& reason);
  void fail_awaiting(bool all);
  static ucs_status_t on_am_put(void* arg, const void* header, size_t header_length, void* data, size_t length,
                                const ucp_am_recv_param_t* param);
  static ucs_status_t on_am_reply(void* arg, const void* header, size_t header_length, void* data, size_t length,
                                  const ucp_am_recv_param_t* param);
  static void on_am_sent(void* request, ucs_status_t status, void* user);
  static void on_am_received(void* request, ucs_status_t status, size_t length, void* user);
  static void on_reply_sent(void* request, ucs_status_t status, void* user);
  Peer* peer_for(const std::string& address, int pid, uint64_t start, ucs_status_t* status, std::string* error);
  void transfer_step_done(Transfer* t, ucs_status_t status, const char* what);
  void reap_peers(bool all);
  void teardown();
  void post(Completion&& c);
  static void on_put_done(void* request, ucs_status_t status, void* user);
  static void on_flush_done(void* request, ucs_status_t status, void* user);
  static void on_ep_error(void* arg, ucp_ep_h ep, ucs_status_t status);

  CompletionSink sink_;
  std::shared_ptr<SharedContext> shared_;
  ucp_context_h context_ = nullptr;
  ucp_worker_h worker_ = nullptr;
  Options options_;
  int efd_ = -1;
  std::condition_variable cv_;
  std::string address_;
  std::thread thread_;
  std::mutex mu_;
  std::deque<Command> queue_;
  std::atomic<bool> hard_stop_{false};
  bool closing_ = false;
  bool forced_ = false;
  uint64_t close_token_ = 0;
  double close_deadline_ = 0;
  // Progress-thread state.
  std::unordered_map<std::string, std::unique_ptr<Region>> regions_;
  std::unordered_map<std::string, std::unique_ptr<Peer>> peers_;
  std::vector<std::unique_ptr<Peer>> retired_;
  size_t inflight_ = 0;
  // Checked puts: guard requests awaiting JavaScript's answer or their payload (receiver), and
  // sent chunks awaiting the receiver's reply by sequence number (sender).
  std::unordered_map<uint64_t, std::unique_ptr<Incoming>> incoming_;
  // Puts still gathering their parts, by (sender id, seq).
  std::map<std::pair<uint64_t, uint64_t>, Incoming*> incoming_by_put_;
  uint64_t next_incoming_ = 0;
  uint64_t sender_id_ = 0;  // random: tells this engine's puts apart from other senders' at a receiver
  double last_sweep_ = 0;
  std::unordered_map<uint64_t, Transfer*> awaiting_;
  uint64_t next_seq_ = 0;
  size_t max_am_header_ = 0;
  size_t replies_inflight_ = 0;
};

}  // namespace tandem::ucx

#endif  // TANDEM_WITH_UCX
