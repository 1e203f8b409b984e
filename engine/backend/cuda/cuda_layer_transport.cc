// The CUDA backend's layer transport: every streamed layer's unit bytes in ONE pinned host copy,
// made at load from the units' device bytes (which the caller then frees, so that the weight
// budget is device memory), copied into device slots with cudaMemcpyAsync on a copy stream of
// its own.
//
// Per slot two events order the copy stream and the compute streams on the device:
// - "filled", recorded on the copy stream after the layer's copy; the compute stream of the
//   thread that computes the layer waits on it (cudaStreamWaitEvent) before its kernels;
// - "released", recorded on that compute stream once the layer's kernels are issued; the copy
//   stream waits on it before the next copy into the slot.
// Nothing synchronizes the device: the copy worker waits on one slot's events only (for the copy
// time the streamer measures, and so that Read returns with the bytes in place), and no byte goes
// from the device to the host during a step.
#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/backend/cuda/cuda_backend_impl.h"
#include "engine/backend/layer_streamer.h"

namespace ghost::cuda_backend {
namespace {

std::size_t RoundUp(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

class CudaLayerSlot final : public LayerSlot {
 public:
  CudaLayerSlot(kc::DeviceBuffer memory, kc::Event filled, kc::Event released)
      : memory_(std::move(memory)), filled_(std::move(filled)), released_(std::move(released)) {}
  std::byte* data() override { return memory_.as<std::byte>(); }

  const kc::Event& filled() const { return filled_; }
  const kc::Event& released() const { return released_; }
  // Whether "released" holds a record yet (waiting on a never-recorded event returns at once,
  // which is also right: nothing read the slot before).
  bool released_recorded = false;
  // The last AfterCompute's failure to order its compute before the next copy: that copy must
  // not happen.
  absl::Status release_error;

 private:
  kc::DeviceBuffer memory_;
  kc::Event filled_;
  kc::Event released_;
};

CudaLayerSlot& Cuda(LayerSlot& slot) { return static_cast<CudaLayerSlot&>(slot); }

class CudaLayerTransport final : public LayerTransport {
 public:
  // `backend` outlives the transport (the model owns both and drops its streamer first).
  static absl::StatusOr<std::unique_ptr<CudaLayerTransport>> Create(
      CudaBackend& backend, const LayerStreamSource& source) {
    auto transport = std::unique_ptr<CudaLayerTransport>(new CudaLayerTransport(backend));
    if (absl::Status s = kc::SetDevice(backend.device_index()); !s.ok()) return s;
    absl::StatusOr<kc::Stream> stream = kc::Stream::Create();
    if (!stream.ok()) return stream.status();
    transport->copy_stream_ = *std::move(stream);

    std::size_t total = 0;
    for (std::size_t l = source.first_streamed; l < source.units.size(); ++l) {
      const std::size_t bytes = source.units[l]->bytes();
      transport->layers_.push_back({total, bytes});
      total = RoundUp(total + bytes, kLayerSlotAlignment);
      transport->slot_bytes_ =
          std::max(transport->slot_bytes_, RoundUp(bytes, kLayerSlotAlignment));
    }
    absl::StatusOr<kc::PinnedBuffer> pinned = kc::PinnedBuffer::Allocate(total);
    if (!pinned.ok()) {
      return absl::ResourceExhaustedError(
          absl::StrCat("cannot pin ", total, " bytes of host memory for ",
                       transport->layers_.size(), " streamed layers: ", pinned.status().message()));
    }
    transport->pinned_ = *std::move(pinned);
    // Load time, not a step: the units' device bytes come back once, then the caller frees them.
    for (std::size_t i = 0; i < transport->layers_.size(); ++i) {
      const WeightUnit& unit = *source.units[source.first_streamed + i];
      if (unit.data() == nullptr) {
        return absl::FailedPreconditionError(
            absl::StrCat("streamed layer ", i, " has no bytes left to keep"));
      }
      if (absl::Status s =
              kc::CopyToHost(transport->pinned_.as<std::byte>() + transport->layers_[i].offset,
                             unit.data(), unit.bytes(), transport->stream());
          !s.ok()) {
        return s;
      }
    }
    if (absl::Status s = transport->copy_stream_.Synchronize(); !s.ok()) return s;
    return transport;
  }

  std::size_t layer_count() const override { return layers_.size(); }
  std::size_t layer_bytes(std::size_t layer) const override { return layers_[layer].bytes; }
  std::size_t slot_bytes() const override { return slot_bytes_; }

  absl::StatusOr<std::unique_ptr<LayerSlot>> NewSlot() override {
    if (absl::Status s = kc::SetDevice(backend_.device_index()); !s.ok()) return s;
    absl::StatusOr<kc::DeviceBuffer> memory = kc::DeviceBuffer::Allocate(slot_bytes_);
    if (!memory.ok()) return memory.status();
    absl::StatusOr<kc::Event> filled = kc::Event::CreateBlocking();
    if (!filled.ok()) return filled.status();
    absl::StatusOr<kc::Event> released = kc::Event::CreateBlocking();
    if (!released.ok()) return released.status();
    return std::make_unique<CudaLayerSlot>(*std::move(memory), *std::move(filled),
                                           *std::move(released));
  }

  absl::Status WaitUntilFree(LayerSlot& slot) override {
    CudaLayerSlot& s = Cuda(slot);
    if (!s.release_error.ok()) return Failed(s.release_error);
    if (!s.released_recorded) return absl::OkStatus();
    if (absl::Status e = kc::SetDevice(backend_.device_index()); !e.ok()) return Failed(e);
    if (absl::Status e = s.released().Synchronize(); !e.ok()) return Failed(e);
    return absl::OkStatus();
  }

  absl::Status Read(std::size_t layer, LayerSlot& slot) override {
    CudaLayerSlot& s = Cuda(slot);
    if (!s.release_error.ok()) return Failed(s.release_error);
    if (absl::Status e = kc::SetDevice(backend_.device_index()); !e.ok()) return Failed(e);
    // Ordered on the device too, whatever the host saw: the copy follows the slot's last compute.
    if (s.released_recorded) {
      if (absl::Status e = s.released().MakeStreamWait(stream()); !e.ok()) return Failed(e);
    }
    if (absl::Status e = kc::CopyToDevice(s.data(), pinned_.as<std::byte>() + layers_[layer].offset,
                                          layers_[layer].bytes, stream());
        !e.ok()) {
      return Failed(e);
    }
    if (absl::Status e = s.filled().Record(stream()); !e.ok()) return Failed(e);
    if (absl::Status e = s.filled().Synchronize(); !e.ok()) return Failed(e);
    return absl::OkStatus();
  }

  void BeforeCompute(LayerSlot& slot) override {
    Lane* lane = backend_.Begin();
    if (lane == nullptr) return;  // the lane's error is reported by the step's Logits
    lane->Record(Cuda(slot).filled().MakeStreamWait(lane->handle()));
  }

  void AfterCompute(LayerSlot& slot) override {
    CudaLayerSlot& s = Cuda(slot);
    Lane* lane = backend_.Begin();
    if (lane == nullptr) {
      // Nothing was issued on a failed lane, but its stream may still run earlier work on the
      // slot: order after all of it.
      lane = &backend_.ThisLane();
      if (lane->stream.handle() == nullptr) return;
    }
    const absl::Status recorded = s.released().Record(lane->handle());
    lane->Record(recorded);
    // A failed record leaves an older one in the event: the next Read into the slot fails
    // instead of copying over what this compute may still read. A later success clears it.
    s.release_error = recorded;
    if (recorded.ok()) s.released_recorded = true;
  }

 private:
  struct Layer {
    std::size_t offset = 0;  // in pinned_
    std::size_t bytes = 0;
  };

  explicit CudaLayerTransport(CudaBackend& backend) : backend_(backend) {}
  kc::StreamHandle stream() const { return copy_stream_.handle(); }
  absl::Status Failed(const absl::Status& cause) const {
    return absl::InternalError(absl::StrCat("streaming a layer from pinned host memory to cuda:",
                                            backend_.device_index(), ": ", cause.message()));
  }

  CudaBackend& backend_;
  kc::Stream copy_stream_;
  kc::PinnedBuffer pinned_;
  std::vector<Layer> layers_;
  std::size_t slot_bytes_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<LayerTransport>> CudaBackend::NewLayerTransport(
    const LayerStreamSource& source) {
  if (source.first_streamed >= source.units.size()) {
    return absl::InvalidArgumentError("no streamed layers to make a transport for");
  }
  absl::StatusOr<std::unique_ptr<CudaLayerTransport>> transport =
      CudaLayerTransport::Create(*this, source);
  if (!transport.ok()) return transport.status();
  return std::unique_ptr<LayerTransport>(*std::move(transport));
}

}  // namespace ghost::cuda_backend
