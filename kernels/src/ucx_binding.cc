// The UCX addon (tandem_ucx.node): `{ compiled: true, version, probe(), UcxWorker }`.
//
// A separate addon from tandem_kernels.node on purpose: loading libucs/libucm installs UCX's
// memory hooks (which patch libc code) from library constructors, and doing that while V8's
// threads run corrupts the heap now and then. So processes that never use UCX never load it,
// and kernels/ts/ucx.ts loads this addon lazily after setting UCX_MEM_EVENTS=no unless the user
// chose otherwise (see there).
//
// Every UcxWorker method that touches UCX returns a Promise: the call is queued to the engine's
// progress thread (ucx_engine.h) and settled from a thread-safe function when the engine reports
// the completion. Buffers in use (registered regions, put sources) are kept alive by references
// until their operation settles.
//
// A UcxWorker with registered regions or operations in flight holds a strong reference to its own
// JavaScript object, so it is not garbage-collected while peers may put into its regions (an
// emulated put into a registerRegion region needs the owner's progress thread: collecting the
// owner stopped that thread and the sender's put waited forever) or while its own Promises are
// pending. unregisterRegion()/close() (or the environment's teardown) let it go again.
#ifndef TANDEM_WITH_UCX
#error "ucx_binding.cc is only built when UCX is available (binding.gyp target tandem_ucx)"
#endif

#include <napi.h>

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "ucx_engine.h"

namespace tandem {
namespace {

#define TANDEM_THROW(env, msg)                                    \
  do {                                                            \
    Napi::TypeError::New(env, msg).ThrowAsJavaScriptException(); \
    return {};                                                    \
  } while (0)

enum class Op { Register, Allocate, Unregister, Put, EndpointInfo, Close };

// Puts up to this many bytes to a watched same-host peer whose region UCX mapped into this
// process are copied right here, on the calling thread (no hop to the progress thread).
constexpr double kDirectPutMaxBytes = 1 << 20;

// Finalizer data of an ArrayBuffer over memory UCX allocated.
struct Allocation {
  std::shared_ptr<ucx::SharedContext> shared;
  ucp_mem_h memh;
};

// A peer region mapped into this process (ucp_rkey_ptr on the progress thread) and a pidfd of the
// peer's process: what a direct put needs.
struct DirectMapping {
  uint8_t* base = nullptr;
  int pidfd = -1;
  std::string peer;
};

bool fd_exited(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

std::string direct_key(const std::string& peer, const std::string& rkey, uint64_t remote_base) {
  return std::to_string(peer.size()) + ":" + peer + std::to_string(rkey.size()) + ":" + rkey + std::to_string(remote_base);
}

struct Pending {
  Op op;
  Napi::Promise::Deferred deferred;
  Napi::Reference<Napi::ArrayBuffer> keep;
  std::string region;
  size_t size = 0;          // allocate: bytes
  std::string direct_key;   // put: where a direct mapping it yields is filed
  std::string peer;         // put: the peer's worker address
};

class UcxWorkerWrap;
// The thread-safe function's context: outlives the wrapper (completions still queued when the
// wrapper dies find owner == nullptr) and is freed by the function's finalizer.
struct Sink {
  UcxWorkerWrap* owner = nullptr;
};
void deliver(Napi::Env env, Napi::Function, Sink* sink, ucx::Completion* c);
using Tsfn = Napi::TypedThreadSafeFunction<Sink, ucx::Completion, deliver>;

std::string bytes_arg(const Napi::Value& v, const char* name, bool* ok) {
  if (!v.IsTypedArray() && !v.IsArrayBuffer()) {
    Napi::TypeError::New(v.Env(), std::string(name) + " must be a Uint8Array").ThrowAsJavaScriptException();
    *ok = false;
    return {};
  }
  if (v.IsArrayBuffer()) {
    auto ab = v.As<Napi::ArrayBuffer>();
    return std::string(static_cast<const char*>(ab.Data()), ab.ByteLength());
  }
  auto ta = v.As<Napi::TypedArray>();
  const char* p = static_cast<const char*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  return std::string(p, ta.ByteLength());
}

class UcxWorkerWrap : public Napi::ObjectWrap<UcxWorkerWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "UcxWorker",
                       {InstanceMethod("address", &UcxWorkerWrap::Address),
                        InstanceMethod("registerRegion", &UcxWorkerWrap::RegisterRegion),
                        InstanceMethod("allocateRegion", &UcxWorkerWrap::AllocateRegion),
                        InstanceMethod("unregisterRegion", &UcxWorkerWrap::UnregisterRegion),
                        InstanceMethod("put", &UcxWorkerWrap::Put),
                        InstanceMethod("putChecked", &UcxWorkerWrap::PutChecked),
                        InstanceMethod("onPut", &UcxWorkerWrap::OnPut),
                        InstanceMethod("endpointInfo", &UcxWorkerWrap::EndpointInfo),
                        InstanceMethod("close", &UcxWorkerWrap::Close)});
  }

  explicit UcxWorkerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UcxWorkerWrap>(info) {
    Napi::Env env = info.Env();
    sink_ = new Sink{this};
    tsfn_ = Tsfn::New(env, "tandem-ucx-completions", 0, 1, sink_,
                      [](Napi::Env, void*, Sink* sink) { delete sink; }, static_cast<void*>(nullptr));
    tsfn_.Unref(env);
    Tsfn sink = tsfn_;
    ucx::Options options;
    if (info[0].IsObject()) {
      Napi::Object o = info[0].As<Napi::Object>();
      if (o.Get("peerErrorHandling").IsBoolean()) {
        options.err_mode = o.Get("peerErrorHandling").ToBoolean() ? ucx::ErrMode::Peer : ucx::ErrMode::None;
      }
      if (o.Get("errorHandling").IsString()) {
        std::string m = o.Get("errorHandling").As<Napi::String>().Utf8Value();
        if (m == "auto") options.err_mode = ucx::ErrMode::Auto;
        else if (m == "peer") options.err_mode = ucx::ErrMode::Peer;
        else if (m == "none") options.err_mode = ucx::ErrMode::None;
        else {
          sink_->owner = nullptr;
          tsfn_.Release();
          Napi::TypeError::New(env, "errorHandling must be 'auto', 'peer' or 'none'").ThrowAsJavaScriptException();
          return;
        }
      }
      if (o.Get("directPutMaxBytes").IsNumber()) direct_max_ = o.Get("directPutMaxBytes").As<Napi::Number>().DoubleValue();
      if (o.Has("eventWakeup")) options.event_wakeup = o.Get("eventWakeup").ToBoolean();
      if (o.Get("idlePollUs").IsNumber()) options.idle_poll_us = o.Get("idlePollUs").As<Napi::Number>().Int32Value();
    }
    std::string error;
    engine_ = ucx::Engine::open(options, [sink](ucx::Completion&& c) mutable { sink.NonBlockingCall(new ucx::Completion(std::move(c))); },
                                &error);
    if (!engine_) {
      sink_->owner = nullptr;
      tsfn_.Release();
      Napi::Error e = Napi::Error::New(env, "UCX is unavailable: " + error);
      e.Set("code", Napi::String::New(env, "ERR_UCX_UNAVAILABLE"));
      e.ThrowAsJavaScriptException();
      return;
    }
    env_ = env;
    napi_add_env_cleanup_hook(env, &UcxWorkerWrap::OnEnvTeardown, this);
    hooked_ = true;
  }

  ~UcxWorkerWrap() override { Shutdown(true); }

  // Strong self-reference while the engine runs and has registered regions or pending operations
  // (see the file comment); weak otherwise, so an idle, regionless worker can be collected.
  void UpdateKeepAlive() {
    bool want = engine_ && (!pending_.empty() || !regions_.empty());
    if (want == self_ref_) return;
    self_ref_ = want;
    if (want) Ref();
    else Unref();
  }

  void Complete(Napi::Env env, ucx::Completion* c) {
    std::unique_ptr<ucx::Completion> done(c);
    if (c->peer_exited) {
      DropMappings(c->data);
      return;
    }
    if (c->guard_request) {
      AnswerGuard(env, *c);
      return;
    }
    auto it = pending_.find(c->token);
    if (it == pending_.end()) {
      if (c->pidfd >= 0) ::close(c->pidfd);
      return;
    }
    Pending p = std::move(it->second);
    pending_.erase(it);
    if (pending_.empty() && engine_) tsfn_.Unref(env);
    if (p.op == Op::Close) Shutdown(false);
    // Settle below, then re-evaluate the self-reference (regions_ may change in the switch).
    struct KeepAliveUpdate {
      UcxWorkerWrap* self;
      ~KeepAliveUpdate() { self->UpdateKeepAlive(); }
    } update{this};
    if (c->pidfd >= 0) {  // a put that produced a direct mapping of the peer's region
      if (engine_ && !closing_ && !direct_.count(p.direct_key)) {
        direct_[p.direct_key] = DirectMapping{c->mapped, c->pidfd, p.peer};
      } else {
        ::close(c->pidfd);
      }
    }
    if (c->status != UCS_OK) {
      Napi::Error e = Napi::Error::New(env, "UCX " + c->error);
      e.Set("code", Napi::String::New(env, "ERR_UCX"));
      e.Set("ucsStatus", Napi::Number::New(env, static_cast<int>(c->status)));
      e.Set("ucsStatusString", Napi::String::New(env, ucs_status_string(c->status)));
      if (!c->remote_code.empty()) e.Set("remoteCode", Napi::String::New(env, c->remote_code));
      p.deferred.Reject(e.Value());
      return;
    }
    switch (p.op) {
      case Op::Register: {
        Napi::Object o = Napi::Object::New(env);
        o.Set("rkey", Napi::Buffer<char>::Copy(env, c->data.data(), c->data.size()));
        o.Set("base", Napi::BigInt::New(env, c->value));
        regions_[p.region] = std::move(p.keep);
        p.deferred.Resolve(o);
        break;
      }
      case Op::Allocate: {
        auto* hint = new Allocation{engine_ ? engine_->shared() : nullptr, c->memh};
        Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(
            env, reinterpret_cast<void*>(c->value), p.size,
            [](Napi::Env, void*, Allocation* a) {
              if (a->shared) ucx::Engine::release_allocation(a->shared, a->memh);
              delete a;
            },
            hint);
        Napi::Object o = Napi::Object::New(env);
        o.Set("rkey", Napi::Buffer<char>::Copy(env, c->data.data(), c->data.size()));
        o.Set("base", Napi::BigInt::New(env, c->value));
        o.Set("buffer", buffer);
        regions_[p.region] = Napi::Persistent(buffer);
        p.deferred.Resolve(o);
        break;
      }
      case Op::Unregister:
        regions_.erase(p.region);
        p.deferred.Resolve(env.Undefined());
        break;
      case Op::Put: {
        Napi::Object o = Napi::Object::New(env);
        o.Set("seconds", Napi::Number::New(env, c->seconds));
        p.deferred.Resolve(o);
        break;
      }
      case Op::EndpointInfo:
        p.deferred.Resolve(Napi::String::New(env, c->data));
        break;
      case Op::Close:
        p.deferred.Resolve(env.Undefined());
        break;
    }
  }

 private:
  // A checked put reached one of our guarded regions: JavaScript's guard (onPut) decides, now.
  void AnswerGuard(Napi::Env env, const ucx::Completion& c) {
    if (!engine_) return;
    std::string refusal = "the receiver has no put guard";
    if (!guard_.IsEmpty()) {
      Napi::HandleScope scope(env);
      Napi::Float64Array ranges = Napi::Float64Array::New(env, c.ranges.size() * 2);
      for (size_t i = 0; i < c.ranges.size(); i++) {
        ranges[2 * i] = static_cast<double>(c.ranges[i].remote);
        ranges[2 * i + 1] = static_cast<double>(c.ranges[i].length);
      }
      Napi::Value grant = c.value ? Napi::Value(Napi::String::New(env, c.grant)) : env.Undefined();
      Napi::Value verdict = guard_.Call({Napi::String::New(env, c.data), grant, ranges});
      if (env.IsExceptionPending()) {
        env.GetAndClearPendingException();
        refusal = "the receiver's put guard failed";
      } else if (verdict.IsUndefined() || verdict.IsNull()) {
        refusal.clear();
      } else {
        refusal = verdict.ToString().Utf8Value();
        if (refusal.empty()) refusal = "refused";
      }
    }
    bool accept = refusal.empty();  // read before the move below (argument order is unspecified)
    engine_->answer(c.token, accept, std::move(refusal));
  }

  static void OnEnvTeardown(void* arg) {
    auto* self = static_cast<UcxWorkerWrap*>(arg);
    self->hooked_ = false;
    self->Shutdown(true);
  }

  // hard: the environment or the object is going away without close(); otherwise close() finished.
  void Shutdown(bool hard) {
    if (!engine_) return;
    if (hard) engine_->hard_stop();
    else engine_->join();
    engine_.reset();
    for (auto& kv : direct_) ::close(kv.second.pidfd);
    direct_.clear();
    if (!hard) guard_.Reset();  // the guard closes over the JavaScript engine: let it go
    sink_->owner = nullptr;
    tsfn_.Release();
    if (hooked_) {
      napi_remove_env_cleanup_hook(env_, &UcxWorkerWrap::OnEnvTeardown, this);
      hooked_ = false;
    }
    regions_.clear();
    if (!hard) UpdateKeepAlive();  // hard: the object or the environment is going away anyway
  }

  Napi::Promise Start(Napi::Env env, Op op, uint64_t* token, Pending** slot) {
    *token = ++next_token_;
    if (pending_.empty()) tsfn_.Ref(env);
    auto r = pending_.emplace(*token, Pending{op, Napi::Promise::Deferred::New(env), {}, {}, 0, {}, {}});
    *slot = &r.first->second;
    UpdateKeepAlive();
    return r.first->second.deferred.Promise();
  }

  bool CheckOpen(Napi::Env env) {
    if (engine_ && !closing_) return true;
    Napi::Error e = Napi::Error::New(env, "UCX transfer engine is closed");
    e.Set("code", Napi::String::New(env, "ERR_UCX_CLOSED"));
    e.ThrowAsJavaScriptException();
    return false;
  }

  Napi::Value Address(const Napi::CallbackInfo& info) {
    if (!CheckOpen(info.Env())) return {};
    const std::string& a = engine_->address();
    return Napi::Buffer<char>::Copy(info.Env(), a.data(), a.size());
  }

  // registerRegion(id: string, buffer: ArrayBuffer) → Promise<{ rkey: Buffer, base: bigint }>
  Napi::Value RegisterRegion(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return {};
    if (!info[0].IsString()) TANDEM_THROW(env, "regionId must be a string");
    if (!info[1].IsArrayBuffer()) TANDEM_THROW(env, "buffer must be an ArrayBuffer");
    auto ab = info[1].As<Napi::ArrayBuffer>();
    if (ab.ByteLength() == 0 || ab.Data() == nullptr) TANDEM_THROW(env, "buffer must not be empty");
    std::string id = info[0].As<Napi::String>().Utf8Value();
    uint64_t token;
    Pending* p;
    Napi::Promise promise = Start(env, Op::Register, &token, &p);
    p->keep = Napi::Persistent(ab);
    p->region = id;
    engine_->register_region(token, id, ab.Data(), ab.ByteLength(), info[2].ToBoolean());
    return promise;
  }

  // allocateRegion(id: string, bytes: number) → Promise<{ buffer: ArrayBuffer, rkey: Buffer, base: bigint }>
  Napi::Value AllocateRegion(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return {};
    if (!info[0].IsString()) TANDEM_THROW(env, "regionId must be a string");
    if (!info[1].IsNumber()) TANDEM_THROW(env, "bytes must be a number");
    double bytes = info[1].As<Napi::Number>().DoubleValue();
    if (!(bytes >= 1) || bytes > 9007199254740991.0 || bytes != static_cast<double>(static_cast<uint64_t>(bytes))) {
      TANDEM_THROW(env, "bytes must be a positive integer");
    }
    // Node 20 cannot wrap more than 4 GiB of native memory in one ArrayBuffer.
    if (bytes > 4294967296.0) {
      Napi::RangeError::New(env, "a UCX-allocated region can hold at most 4 GiB in this Node.js; use fewer KV blocks per worker (--num-kv-blocks)")
          .ThrowAsJavaScriptException();
      return {};
    }
    std::string id = info[0].As<Napi::String>().Utf8Value();
    uint64_t token;
    Pending* p;
    Napi::Promise promise = Start(env, Op::Allocate, &token, &p);
    p->region = id;
    p->size = static_cast<size_t>(bytes);
    engine_->allocate_region(token, id, p->size, info[2].ToBoolean());
    return promise;
  }

  // Drops the direct mappings of a peer (it exited) and lets the engine release its remote keys.
  void DropMappings(const std::string& peer) {
    bool dropped = false;
    for (auto it = direct_.begin(); it != direct_.end();) {
      if (it->second.peer == peer) {
        ::close(it->second.pidfd);
        it = direct_.erase(it);
        dropped = true;
      } else {
        ++it;
      }
    }
    if (dropped && engine_) engine_->forget_mapping(peer);
  }

  Napi::Value UnregisterRegion(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return {};
    if (!info[0].IsString()) TANDEM_THROW(env, "regionId must be a string");
    std::string id = info[0].As<Napi::String>().Utf8Value();
    uint64_t token;
    Pending* p;
    Napi::Promise promise = Start(env, Op::Unregister, &token, &p);
    p->region = id;
    engine_->unregister_region(token, id);
    return promise;
  }

  // put(peerAddress, rkey, remoteBase: bigint, remoteSize, source: ArrayBuffer, ops: Float64Array
  //     [localOffset, remoteOffset, length]*, peerPid?: number, peerStart?: bigint) → Promise<{ seconds }>
  Napi::Value Put(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return {};
    bool ok = true;
    std::string peer = bytes_arg(info[0], "peerAddress", &ok);
    if (!ok) return {};
    std::string rkey = bytes_arg(info[1], "rkey", &ok);
    if (!ok) return {};
    if (peer.empty() || rkey.empty()) TANDEM_THROW(env, "peerAddress and rkey must not be empty");
    if (!info[2].IsBigInt()) TANDEM_THROW(env, "remoteBase must be a bigint");
    bool lossless = false;
    uint64_t remote_base = info[2].As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) TANDEM_THROW(env, "remoteBase is out of range");
    if (!info[3].IsNumber()) TANDEM_THROW(env, "remoteSize must be a number");
    double remote_size = info[3].As<Napi::Number>().DoubleValue();
    if (!info[4].IsArrayBuffer()) TANDEM_THROW(env, "source must be an ArrayBuffer");
    auto src = info[4].As<Napi::ArrayBuffer>();
    auto ops = typed_arg_f64(info[5]);
    if (!ops) TANDEM_THROW(env, "ops must be a Float64Array of [localOffset, remoteOffset, length] triples");
    std::vector<ucx::PutRange> ranges;
    if (!ParseRanges(env, info[5].As<Napi::Float64Array>(), src.ByteLength(), remote_size, &ranges)) return {};
    int peer_pid = 0;
    uint64_t peer_start = 0;
    if (info[6].IsNumber()) peer_pid = info[6].As<Napi::Number>().Int32Value();
    if (info[7].IsBigInt()) peer_start = info[7].As<Napi::BigInt>().Uint64Value(&lossless);
    if (peer_pid < 0) peer_pid = 0;
    std::string key = direct_key(peer, rkey, remote_base);
    double total = 0;
    for (const auto& r : ranges) total += static_cast<double>(r.length);
    auto direct = direct_.find(key);
    if (direct != direct_.end() && total <= direct_max_) {
      // The peer's region is mapped here (shared memory): the put is a copy, done now.
      auto t0 = std::chrono::steady_clock::now();
      const uint8_t* base = static_cast<const uint8_t*>(src.Data());
      for (const auto& r : ranges) std::memcpy(direct->second.base + r.remote, base + r.local, r.length);
      auto deferred = Napi::Promise::Deferred::New(env);
      if (fd_exited(direct->second.pidfd)) {
        std::string gone = direct->second.peer;
        DropMappings(gone);
        Napi::Error e = Napi::Error::New(env, "UCX the receiver process exited (direct put): " +
                                                  std::string(ucs_status_string(UCS_ERR_CONNECTION_RESET)));
        e.Set("code", Napi::String::New(env, "ERR_UCX"));
        e.Set("ucsStatus", Napi::Number::New(env, static_cast<int>(UCS_ERR_CONNECTION_RESET)));
        e.Set("ucsStatusString", Napi::String::New(env, ucs_status_string(UCS_ERR_CONNECTION_RESET)));
        deferred.Reject(e.Value());
        return deferred.Promise();
      }
      Napi::Object o = Napi::Object::New(env);
      o.Set("seconds", Napi::Number::New(env, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()));
      o.Set("direct", true);
      deferred.Resolve(o);
      return deferred.Promise();
    }
    uint64_t token;
    Pending* p;
    Napi::Promise promise = Start(env, Op::Put, &token, &p);
    p->keep = Napi::Persistent(src);
    p->direct_key = std::move(key);
    p->peer = peer;
    engine_->put(token, std::move(peer), std::move(rkey), remote_base, static_cast<const uint8_t*>(src.Data()),
                 src.ByteLength(), std::move(ranges), peer_pid, peer_start);
    return promise;
  }

  // putChecked(peerAddress, regionId: string, grant: string | undefined, source: ArrayBuffer,
  //            ops: Float64Array [localOffset, remoteOffset, length]*, peerPid?, peerStart?) → Promise<{ seconds }>
  // A put into the peer's guarded region `regionId`: its guard sees the grant and the ranges
  // first. Rejections carry `remoteCode` ('not_granted', 'unknown_region', 'out_of_range', 'failed').
  Napi::Value PutChecked(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return {};
    bool ok = true;
    std::string peer = bytes_arg(info[0], "peerAddress", &ok);
    if (!ok) return {};
    if (peer.empty()) TANDEM_THROW(env, "peerAddress must not be empty");
    if (!info[1].IsString()) TANDEM_THROW(env, "regionId must be a string");
    std::string region = info[1].As<Napi::String>().Utf8Value();
    bool has_grant = info[2].IsString();
    if (!has_grant && !info[2].IsUndefined()) TANDEM_THROW(env, "grant must be a string or undefined");
    std::string grant = has_grant ? info[2].As<Napi::String>().Utf8Value() : std::string();
    if (region.empty() || region.size() > 1024 || grant.size() > 1024) TANDEM_THROW(env, "regionId (1-1024 bytes) or grant (at most 1024 bytes) is too long");
    if (!info[3].IsArrayBuffer()) TANDEM_THROW(env, "source must be an ArrayBuffer");
    auto src = info[3].As<Napi::ArrayBuffer>();
    if (!typed_arg_f64(info[4])) TANDEM_THROW(env, "ops must be a Float64Array of [localOffset, remoteOffset, length] triples");
    auto tri = info[4].As<Napi::Float64Array>();
    if (tri.ElementLength() == 0) TANDEM_THROW(env, "a checked put needs at least one range");
    std::vector<ucx::PutRange> ranges;
    // The receiver checks the remote side against its region; here only what a double can say.
    if (!ParseRanges(env, tri, src.ByteLength(), 9007199254740992.0, &ranges)) return {};
    int peer_pid = 0;
    uint64_t peer_start = 0;
    bool lossless = false;
    if (info[5].IsNumber()) peer_pid = info[5].As<Napi::Number>().Int32Value();
    if (info[6].IsBigInt()) peer_start = info[6].As<Napi::BigInt>().Uint64Value(&lossless);
    if (peer_pid < 0) peer_pid = 0;
    uint64_t token;
    Pending* p;
    Napi::Promise promise = Start(env, Op::Put, &token, &p);
    p->keep = Napi::Persistent(src);
    engine_->put_checked(token, std::move(peer), std::move(region), std::move(grant), has_grant,
                         static_cast<const uint8_t*>(src.Data()), src.ByteLength(), std::move(ranges), peer_pid, peer_start);
    return promise;
  }

  // onPut(guard: (regionId, grant | undefined, ranges: Float64Array [offset, length]*) => string | undefined)
  // Decides every checked put into this worker's guarded regions: undefined admits it, a string
  // refuses it (the reason goes back to the sender). Without a guard every checked put is refused.
  Napi::Value OnPut(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsFunction()) TANDEM_THROW(env, "onPut needs a function");
    guard_ = Napi::Persistent(info[0].As<Napi::Function>());
    return env.Undefined();
  }

  // endpointInfo(peerAddress) → Promise<string>: the lanes and transports UCX chose for the peer.
  Napi::Value EndpointInfo(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return {};
    bool ok = true;
    std::string peer = bytes_arg(info[0], "peerAddress", &ok);
    if (!ok) return {};
    if (peer.empty()) TANDEM_THROW(env, "peerAddress must not be empty");
    uint64_t token;
    Pending* p;
    Napi::Promise promise = Start(env, Op::EndpointInfo, &token, &p);
    engine_->endpoint_info(token, std::move(peer));
    return promise;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!engine_) {  // already closed: closing twice is harmless
      auto d = Napi::Promise::Deferred::New(env);
      d.Resolve(env.Undefined());
      return d.Promise();
    }
    if (!CheckOpen(env)) return {};
    closing_ = true;
    uint64_t token;
    Pending* p;
    Napi::Promise promise = Start(env, Op::Close, &token, &p);
    engine_->close(token);
    return promise;
  }

  // [localOffset, remoteOffset, length] triples → ranges, each inside the source and below
  // remote_size; throws a RangeError (and returns false) otherwise.
  static bool ParseRanges(Napi::Env env, const Napi::Float64Array& tri, size_t source_bytes, double remote_size,
                          std::vector<ucx::PutRange>* ranges) {
    size_t n = tri.ElementLength() / 3;
    ranges->reserve(n);
    double src_len = static_cast<double>(source_bytes);
    for (size_t i = 0; i < n; i++) {
      double l = tri[3 * i], r = tri[3 * i + 1], len = tri[3 * i + 2];
      bool sane = l >= 0 && r >= 0 && len > 0 && l == static_cast<double>(static_cast<uint64_t>(l)) &&
                  r == static_cast<double>(static_cast<uint64_t>(r)) &&
                  len == static_cast<double>(static_cast<uint64_t>(len));
      if (!sane || l + len > src_len || r + len > remote_size) {
        Napi::RangeError::New(env, "put op " + std::to_string(i) + " is out of range of the source or the remote region")
            .ThrowAsJavaScriptException();
        return false;
      }
      ranges->push_back({static_cast<uint64_t>(l), static_cast<uint64_t>(r), static_cast<uint64_t>(len)});
    }
    return true;
  }

  static bool typed_arg_f64(const Napi::Value& v) {
    return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_float64_array &&
           v.As<Napi::TypedArray>().ElementLength() % 3 == 0;
  }

  napi_env env_ = nullptr;
  Sink* sink_ = nullptr;
  bool hooked_ = false;
  bool closing_ = false;
  bool self_ref_ = false;  // Ref() taken by UpdateKeepAlive()
  Tsfn tsfn_;
  std::unique_ptr<ucx::Engine> engine_;
  uint64_t next_token_ = 0;
  std::unordered_map<uint64_t, Pending> pending_;
  std::unordered_map<std::string, Napi::Reference<Napi::ArrayBuffer>> regions_;
  std::unordered_map<std::string, DirectMapping> direct_;
  Napi::FunctionReference guard_;
  double direct_max_ = kDirectPutMaxBytes;
};

void deliver(Napi::Env env, Napi::Function, Sink* sink, ucx::Completion* c) {
  if (env == nullptr || sink == nullptr || sink->owner == nullptr) {  // torn down: drop it
    if (c->pidfd >= 0) ::close(c->pidfd);
    delete c;
    return;
  }
  sink->owner->Complete(env, c);
}

Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string error;
  bool ok = ucx::probe(&error);
  Napi::Object o = Napi::Object::New(env);
  o.Set("ok", ok);
  if (!ok) o.Set("error", error);
  return o;
}

}  // namespace

Napi::Object InitUcx(Napi::Env env, Napi::Object exports) {
  exports.Set("compiled", true);
  exports.Set("version", ucp_get_version_string());
  exports.Set("probe", Napi::Function::New(env, Probe));
  exports.Set("UcxWorker", UcxWorkerWrap::Define(env));
  return exports;
}

}  // namespace tandem

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return tandem::InitUcx(env, exports); }
NODE_API_MODULE(tandem_ucx, InitModule)
