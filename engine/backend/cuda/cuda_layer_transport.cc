// The CUDA backend's layer transport: every streamed layer's unit bytes in ONE pinned host copy,
// copied into device slots with cudaMemcpyAsync on a copy stream of its own. A load lays each
// streamed layer out straight into its place in that copy (the builder's MakeStreamedUnit), so
// that it never reaches the device before it streams and the weight budget is device memory;
// layers already on the device (Backend::NewLayerTransport) are copied back into it once.
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

// Where a streamed layer sits in the pinned copy.
struct PinnedLayer {
  std::size_t offset = 0;
  std::size_t bytes = 0;
};

class CudaLayerTransport final : public LayerTransport {
 public:
  // `backend` outlives the transport (the model owns both and drops its streamer first).
  CudaLayerTransport(CudaBackend& backend, kc::Stream copy_stream, kc::PinnedBuffer pinned,
                     std::vector<PinnedLayer> layers, std::size_t slot_bytes)
      : backend_(backend),
        copy_stream_(std::move(copy_stream)),
        pinned_(std::move(pinned)),
        layers_(std::move(layers)),
        slot_bytes_(slot_bytes) {}

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
  kc::StreamHandle stream() const { return copy_stream_.handle(); }
  absl::Status Failed(const absl::Status& cause) const {
    return absl::InternalError(absl::StrCat("streaming a layer from pinned host memory to cuda:",
                                            backend_.device_index(), ": ", cause.message()));
  }

  CudaBackend& backend_;
  kc::Stream copy_stream_;
  kc::PinnedBuffer pinned_;
  std::vector<PinnedLayer> layers_;
  std::size_t slot_bytes_ = 0;
};

// Pins the host memory of every streamed layer of a plan at once (its size is known before any
// layer is packed) and takes the layers into it as the load hands them over.
class CudaLayerTransportBuilder final : public LayerTransportBuilder {
 public:
  static absl::StatusOr<std::unique_ptr<CudaLayerTransportBuilder>> Create(
      CudaBackend& backend, const LayerStreamPlan& plan) {
    auto builder =
        std::unique_ptr<CudaLayerTransportBuilder>(new CudaLayerTransportBuilder(backend, plan));
    if (absl::Status s = kc::SetDevice(backend.device_index()); !s.ok()) return s;
    absl::StatusOr<kc::Stream> stream = kc::Stream::Create();
    if (!stream.ok()) return stream.status();
    builder->copy_stream_ = *std::move(stream);
    std::size_t total = 0;
    for (std::size_t l = plan.first_streamed; l < plan.layer_bytes.size(); ++l) {
      const std::size_t bytes = plan.layer_bytes[l];
      builder->layers_.push_back({total, bytes});
      total = RoundUp(total + bytes, kLayerSlotAlignment);
      builder->slot_bytes_ = std::max(builder->slot_bytes_, RoundUp(bytes, kLayerSlotAlignment));
    }
    absl::StatusOr<kc::PinnedBuffer> pinned = kc::PinnedBuffer::Allocate(total);
    if (!pinned.ok()) {
      return absl::ResourceExhaustedError(
          absl::StrCat("cannot pin ", total, " bytes of host memory for ", builder->layers_.size(),
                       " streamed layers: ", pinned.status().message()));
    }
    builder->pinned_ = *std::move(pinned);
    return builder;
  }

  // Resident layers stay on the device alone; a streamed one already there comes back once
  // (load time, not a step), then the caller frees its device bytes.
  absl::Status Add(std::size_t layer, const WeightUnit& unit) override {
    absl::StatusOr<std::byte*> image = Take(layer, unit.bytes());
    if (!image.ok()) return image.status();
    if (*image == nullptr) return absl::OkStatus();
    if (unit.data() == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("streamed layer ", layer, " has no bytes left to keep"));
    }
    if (absl::Status s = kc::SetDevice(backend_.device_index()); !s.ok()) return s;
    if (absl::Status s = kc::CopyToHost(*image, unit.data(), unit.bytes(), copy_stream_.handle());
        !s.ok()) {
      return s;
    }
    return copy_stream_.Synchronize();
  }

  absl::StatusOr<std::unique_ptr<WeightUnit>> MakeStreamedUnit(
      std::size_t layer, std::vector<UnitTensorSource> tensors) override {
    std::vector<UnitTensorShape> shapes;
    for (const UnitTensorSource& source : tensors) shapes.push_back(ShapeOf(source));
    absl::StatusOr<std::byte*> image = Take(layer, backend_.UnitBytes(shapes));
    if (!image.ok()) return image.status();
    if (*image == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("layer ", layer, " is not streamed"));
    }
    return NewHostImageUnit(tensors, *image);
  }

  absl::StatusOr<std::unique_ptr<LayerTransport>> Finish() override {
    if (next_layer_ != plan_.layer_bytes.size()) {
      return absl::FailedPreconditionError(absl::StrCat("pinned layer copy: ", next_layer_, " of ",
                                                        plan_.layer_bytes.size(), " layers in"));
    }
    return std::unique_ptr<LayerTransport>(std::make_unique<CudaLayerTransport>(
        backend_, std::move(copy_stream_), std::move(pinned_), std::move(layers_), slot_bytes_));
  }

 private:
  CudaLayerTransportBuilder(CudaBackend& backend, const LayerStreamPlan& plan)
      : backend_(backend), plan_(plan) {}

  // Checks that `layer` comes next with its planned `bytes`: where its bytes go in the pinned
  // copy, or nullptr for a resident layer.
  absl::StatusOr<std::byte*> Take(std::size_t layer, std::size_t bytes) {
    if (layer != next_layer_ || layer >= plan_.layer_bytes.size() ||
        bytes != plan_.layer_bytes[layer]) {
      return absl::InternalError(
          absl::StrCat("pinned layer copy: layer ", layer, " of ", bytes,
                       " bytes handed over; layer ", next_layer_, " of ",
                       next_layer_ < plan_.layer_bytes.size() ? plan_.layer_bytes[next_layer_] : 0,
                       " bytes expected"));
    }
    ++next_layer_;
    if (layer < plan_.first_streamed) return nullptr;
    return pinned_.as<std::byte>() + layers_[layer - plan_.first_streamed].offset;
  }

  CudaBackend& backend_;
  const LayerStreamPlan plan_;
  kc::Stream copy_stream_;
  kc::PinnedBuffer pinned_;
  std::vector<PinnedLayer> layers_;
  std::size_t slot_bytes_ = 0;
  std::size_t next_layer_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<LayerTransportBuilder>> CudaBackend::NewLayerTransportBuilder(
    const LayerStreamPlan& plan) {
  if (plan.first_streamed >= plan.layer_bytes.size()) {
    return absl::InvalidArgumentError("no streamed layers to make a transport for");
  }
  absl::StatusOr<std::unique_ptr<CudaLayerTransportBuilder>> builder =
      CudaLayerTransportBuilder::Create(*this, plan);
  if (!builder.ok()) return builder.status();
  return std::unique_ptr<LayerTransportBuilder>(*std::move(builder));
}

}  // namespace ghost::cuda_backend
