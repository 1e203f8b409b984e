// The layer streamer: runs a model whose streamed decoder layers do not stay in memory. Their
// weight units (weight_unit.h) keep only their handles; their bytes rotate through S >= 2 slot
// buffers. One copy worker fills a free slot with the next layer while the forward computes on
// an earlier one: with the forward on streamed layer i, the worker is at most at layer i+S-1.
// Per slot, "filled" is awaited before compute and "released" before the next copy into it;
// there is no global barrier. The order is cyclic: after the last streamed layer the worker goes
// on with the first, for the next step, so a step visits every streamed layer exactly once,
// whatever its batch, and the next step's first layers are already in flight.
//
// The bytes come through a LayerTransport, the only device-specific part: the CPU reads a layer
// file from storage into host slots (cpu/layer_file.h); a GPU copies pinned host memory into
// device slots.
#ifndef GHOST_ENGINE_BACKEND_LAYER_STREAMER_H_
#define GHOST_ENGINE_BACKEND_LAYER_STREAMER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/backend/weight_unit.h"

namespace ghost {

// Slots are sized in multiples of this (the block of direct I/O), so a budget can count them
// before a transport exists.
inline constexpr std::size_t kLayerSlotAlignment = 4096;

// Memory one streamed layer is copied into, in the transport's device memory.
class LayerSlot {
 public:
  virtual ~LayerSlot() = default;
  // At least LayerTransport::slot_bytes(), aligned for WeightUnit::Rebind.
  virtual std::byte* data() = 0;
};

// Moves streamed layers' bytes into slots. Called from the streamer's copy worker (WaitUntilFree,
// Read), the forward's thread (BeforeCompute, AfterCompute) and at set-up (NewSlot); never two
// calls on one slot at once.
//
// A transport whose copies and compute are asynchronous to the host (a GPU's) orders them on the
// device with the three hooks below, so that neither side waits for the other more than the data
// requires; a synchronous one (the CPU's layer file) needs none of them.
class LayerTransport {
 public:
  virtual ~LayerTransport() = default;
  // How many layers it serves (streamed layer index 0..count-1) and the bytes of each.
  virtual std::size_t layer_count() const = 0;
  virtual std::size_t layer_bytes(std::size_t layer) const = 0;
  // The bytes of one slot: enough for the largest layer (and any rounding the transport
  // needs, e.g. O_DIRECT's block size).
  virtual std::size_t slot_bytes() const = 0;
  // A slot of slot_bytes(); RESOURCE_EXHAUSTED when the device cannot hold it.
  virtual absl::StatusOr<std::unique_ptr<LayerSlot>> NewSlot() = 0;
  // Copies layer `layer`'s bytes into `slot` and returns once they are there. Errors are
  // INTERNAL and name where the bytes came from (the file, for the CPU).
  virtual absl::Status Read(std::size_t layer, LayerSlot& slot) = 0;

  // Copy worker, before Read(slot) and outside its timing: returns once the compute that last
  // read `slot` (ended by AfterCompute) is done on the device, so that the copy time the
  // streamer measures is the copy's alone. An error fails that Read.
  virtual absl::Status WaitUntilFree(LayerSlot& /*slot*/) { return absl::OkStatus(); }
  // Forward's thread, after Read(slot) returned and before the layer's compute is issued: makes
  // the work this thread issues next wait for the slot's copy. Errors surface where the backend
  // reports its device errors.
  virtual void BeforeCompute(LayerSlot& /*slot*/) {}
  // Forward's thread, once the layer's compute is issued (possibly not yet run): the next copy
  // into `slot` must wait for that work. A failure here must fail the next Read into the slot.
  virtual void AfterCompute(LayerSlot& /*slot*/) {}
};

// What a transport is built for, known before any layer is packed
// (Backend::NewLayerTransportBuilder).
struct LayerStreamPlan {
  // Every decoder layer's unit bytes (WeightUnit::bytes), in forward order. Those from
  // first_streamed on are streamed, as the transport's layers 0, 1, ...
  std::vector<std::size_t> layer_bytes;
  std::size_t first_streamed = 0;
  // Where the transport may keep the bytes: the CPU's layer file.
  std::string cache_path;
  // Names the source model's files (names, sizes, modification times): a kept copy made from
  // other files is stale.
  std::string source_identity;
};

// Builds a transport at load time one decoder layer at a time, so that at most one streamed
// layer's packed bytes exist outside it at once: a model larger than the memory it may use
// loads. Every layer of the plan is handed over once, in forward order, either way below.
class LayerTransportBuilder {
 public:
  virtual ~LayerTransportBuilder() = default;
  // Layer `layer`, a unit holding its bytes (data() non-null), of plan.layer_bytes[layer]. A
  // transport that keeps every layer (the CPU's file, so that one file serves any budget)
  // copies resident ones too. The caller frees a streamed layer's bytes afterwards
  // (WeightUnit::ReleaseBytes). INTERNAL (naming the file, on the CPU) when they cannot be kept.
  virtual absl::Status Add(std::size_t layer, const WeightUnit& unit) = 0;
  // Streamed layer `layer` from its tensors: a unit whose bytes went to the transport alone,
  // holding only its handles (data() nullptr, bytes() as planned), to be Rebound to a slot
  // before each use. On a GPU the bytes are laid out straight into pinned host memory, never
  // on the device. INTERNAL when its bytes differ from the plan's.
  virtual absl::StatusOr<std::unique_ptr<WeightUnit>> MakeStreamedUnit(
      std::size_t layer, std::vector<UnitTensorSource> tensors) = 0;
  // Once every layer is in: the transport. FAILED_PRECONDITION before that.
  virtual absl::StatusOr<std::unique_ptr<LayerTransport>> Finish() = 0;
};

// Layers already loaded, every one holding its bytes, for Backend::NewLayerTransport.
struct LayerStreamSource {
  // Every decoder layer's unit, in forward order. Those from first_streamed on are streamed;
  // the caller releases their bytes once the transport exists (WeightUnit::ReleaseBytes).
  std::vector<const WeightUnit*> units;
  std::size_t first_streamed = 0;
  std::string cache_path;       // as LayerStreamPlan's
  std::string source_identity;  // as LayerStreamPlan's
};

// Counters since creation (monotonic).
struct StreamStats {
  std::int64_t bytes = 0;            // layer bytes copied into slots
  std::int64_t layers = 0;           // layers copied
  double copy_seconds = 0.0;         // the worker inside Transport::Read
  double wait_seconds = 0.0;         // the forward inside Acquire, waiting for a slot
  std::int64_t acquired_layers = 0;  // layers the forward computed on
  std::int64_t acquired_bytes = 0;   // their bytes, each copied in for that use
};

// The share of copy time hidden behind compute: 1 - wait / copy, in [0, 1] (1 before any copy).
double StreamOverlapRatio(const StreamStats& stats);

class LayerStreamer {
 public:
  // Streams `units` (the streamed layers, in forward order; not owned, they outlive the
  // streamer) through `slots` >= 2 slots from `transport`, whose layer i holds units[i]'s
  // bytes. Starts the copy worker, which begins filling the slots at once.
  // INVALID_ARGUMENT for slots < 2 or a transport that does not match the units;
  // RESOURCE_EXHAUSTED when a slot cannot be had.
  static absl::StatusOr<std::unique_ptr<LayerStreamer>> Create(
      std::vector<WeightUnit*> units, std::unique_ptr<LayerTransport> transport, int slots);
  // Stops the worker: waits for a copy in flight, then frees every slot. The units stay bound
  // to whatever they were bound to last; none may be used after this.
  ~LayerStreamer();
  LayerStreamer(const LayerStreamer&) = delete;
  LayerStreamer& operator=(const LayerStreamer&) = delete;

  // One step's use, by one thread at a time (the model serializes its streamed forwards):
  // for layer = 0..layer_count()-1 in order, Acquire(layer), compute, Release(layer); or
  // FinishStep() to give up the rest of a step.
  //
  // Waits until `layer` is in its slot, orders the calling thread's next device work after the
  // copy (LayerTransport::BeforeCompute) and rebinds its unit there. Returns the copy's error
  // (INTERNAL naming the file) when the read failed, CANCELLED once the streamer is stopping;
  // the layer must still be Released (or the step finished) either way.
  [[nodiscard]] absl::Status Acquire(std::size_t layer);
  // The forward has issued its work on `layer`: its slot may be refilled once that work is done
  // (LayerTransport::AfterCompute).
  void Release(std::size_t layer);
  // Releases the step's remaining layers (waiting for copies in flight) so that the next step
  // starts at layer 0; a no-op at a step boundary. For a forward that fails mid-step.
  void FinishStep();

  std::size_t layer_count() const { return units_.size(); }
  int slot_count() const { return slot_count_; }
  // The memory the slots take: slot_count() * transport slot_bytes().
  std::size_t slot_bytes_total() const { return slot_bytes_total_; }
  // The bytes one full step copies: the sum of the streamed layers' sizes.
  std::size_t bytes_per_step() const { return bytes_per_step_; }
  StreamStats stats() const;

 private:
  struct Slot {
    std::unique_ptr<LayerSlot> memory;
    // The cyclic sequence number (step * layers + layer) the slot holds or is being filled
    // with; -1 when free. A slot with sequence q is free once q is released.
    std::int64_t sequence = -1;
    bool filled = false;
    absl::Status read_status;
  };

  LayerStreamer(std::vector<WeightUnit*> units, std::unique_ptr<LayerTransport> transport);
  void Work();

  const std::vector<WeightUnit*> units_;
  const std::unique_ptr<LayerTransport> transport_;
  int slot_count_ = 0;
  std::size_t slot_bytes_total_ = 0;
  std::size_t bytes_per_step_ = 0;

  mutable absl::Mutex mu_;
  std::vector<Slot> slots_ ABSL_GUARDED_BY(mu_);
  // The next sequence the worker copies / the forward acquires / the forward releases.
  std::int64_t next_read_ ABSL_GUARDED_BY(mu_) = 0;
  std::int64_t next_acquire_ ABSL_GUARDED_BY(mu_) = 0;
  std::int64_t next_release_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  StreamStats stats_ ABSL_GUARDED_BY(mu_);
  std::thread worker_;
};

}  // namespace ghost

#endif  // GHOST_ENGINE_BACKEND_LAYER_STREAMER_H_
