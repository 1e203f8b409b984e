#include "engine/backend/layer_streamer.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"

namespace ghost {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

absl::StatusOr<std::unique_ptr<LayerStreamer>> LayerStreamer::Create(
    std::vector<WeightUnit*> units, std::unique_ptr<LayerTransport> transport, int slots) {
  if (slots < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("layer streaming needs at least 2 slots, not ", slots));
  }
  if (units.empty() || transport == nullptr || transport->layer_count() != units.size()) {
    return absl::InvalidArgumentError("the layer transport does not hold the streamed layers");
  }
  for (std::size_t i = 0; i < units.size(); ++i) {
    if (transport->layer_bytes(i) != units[i]->bytes() ||
        transport->slot_bytes() < units[i]->bytes()) {
      return absl::InvalidArgumentError(
          absl::StrCat("streamed layer ", i, " holds ", units[i]->bytes(),
                       " bytes but its transport has ", transport->layer_bytes(i)));
    }
  }
  std::unique_ptr<LayerStreamer> streamer(
      new LayerStreamer(std::move(units), std::move(transport)));
  {
    absl::MutexLock lock(&streamer->mu_);
    for (int i = 0; i < slots; ++i) {
      absl::StatusOr<std::unique_ptr<LayerSlot>> memory = streamer->transport_->NewSlot();
      if (!memory.ok()) return memory.status();
      Slot& slot = streamer->slots_.emplace_back();
      slot.memory = *std::move(memory);
    }
  }
  streamer->slot_count_ = slots;
  streamer->slot_bytes_total_ =
      static_cast<std::size_t>(slots) * streamer->transport_->slot_bytes();
  streamer->worker_ = std::thread([s = streamer.get()] { s->Work(); });
  return streamer;
}

LayerStreamer::LayerStreamer(std::vector<WeightUnit*> units,
                             std::unique_ptr<LayerTransport> transport)
    : units_(std::move(units)), transport_(std::move(transport)) {
  for (const WeightUnit* unit : units_) bytes_per_step_ += unit->bytes();
}

LayerStreamer::~LayerStreamer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (worker_.joinable()) worker_.join();
}

void LayerStreamer::Work() {
  const auto layers = static_cast<std::int64_t>(units_.size());
  for (;;) {
    LayerSlot* memory = nullptr;
    std::int64_t sequence = 0;
    std::size_t index = 0;
    {
      absl::MutexLock lock(&mu_);
      sequence = next_read_;
      const auto slot_count = static_cast<std::int64_t>(slots_.size());
      // The slot's previous occupant, sequence - S, must have been released.
      const auto released = [this, sequence, slot_count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || next_release_ > sequence - slot_count;
      };
      mu_.Await(absl::Condition(&released));
      if (stopping_) return;
      index = static_cast<std::size_t>(sequence % slot_count);
      Slot& slot = slots_[index];
      slot.sequence = sequence;
      slot.filled = false;
      memory = slot.memory.get();
    }
    const std::size_t layer = static_cast<std::size_t>(sequence % layers);
    absl::Status status = transport_->WaitUntilFree(*memory);
    const auto start = std::chrono::steady_clock::now();
    if (status.ok()) status = transport_->Read(layer, *memory);
    const double seconds = SecondsSince(start);
    absl::MutexLock lock(&mu_);
    Slot& slot = slots_[index];
    slot.filled = true;
    if (status.ok()) {
      stats_.bytes += static_cast<std::int64_t>(units_[layer]->bytes());
      stats_.layers += 1;
    }
    slot.read_status = std::move(status);
    stats_.copy_seconds += seconds;
    ++next_read_;
  }
}

absl::Status LayerStreamer::Acquire(std::size_t layer) {
  const auto start = std::chrono::steady_clock::now();
  absl::MutexLock lock(&mu_);
  const std::int64_t sequence = next_acquire_;
  const auto layers = static_cast<std::int64_t>(units_.size());
  if (sequence % layers != static_cast<std::int64_t>(layer) || next_release_ != sequence) {
    return absl::FailedPreconditionError(absl::StrCat(
        "streamed layer ", layer, " acquired out of order (expected ", sequence % layers, ")"));
  }
  Slot& slot =
      slots_[static_cast<std::size_t>(sequence % static_cast<std::int64_t>(slots_.size()))];
  const auto filled = [this, &slot, sequence]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || (slot.sequence == sequence && slot.filled);
  };
  mu_.Await(absl::Condition(&filled));
  ++next_acquire_;
  stats_.wait_seconds += SecondsSince(start);
  if (stopping_) return absl::CancelledError("the layer streamer is stopping");
  if (!slot.read_status.ok()) return slot.read_status;
  transport_->BeforeCompute(*slot.memory);
  units_[layer]->Rebind(slot.memory->data());
  ++stats_.acquired_layers;
  stats_.acquired_bytes += static_cast<std::int64_t>(units_[layer]->bytes());
  return absl::OkStatus();
}

void LayerStreamer::Release(std::size_t layer) {
  absl::MutexLock lock(&mu_);
  const auto layers = static_cast<std::int64_t>(units_.size());
  // Releasing what was not acquired, or out of order, is a caller bug; ignoring it keeps the
  // slot in use rather than letting the worker overwrite a layer being computed.
  if (next_release_ >= next_acquire_ ||
      next_release_ % layers != static_cast<std::int64_t>(layer)) {
    return;
  }
  // Before the worker may see the slot free: its next copy is ordered after this compute.
  transport_->AfterCompute(
      *slots_[static_cast<std::size_t>(next_release_ % static_cast<std::int64_t>(slots_.size()))]
           .memory);
  ++next_release_;
}

void LayerStreamer::FinishStep() {
  const auto layers = static_cast<std::int64_t>(units_.size());
  for (;;) {
    std::int64_t release = 0;
    bool acquired = false;
    {
      absl::MutexLock lock(&mu_);
      release = next_release_;
      acquired = next_acquire_ > next_release_;
    }
    if (!acquired && release % layers == 0) return;
    const auto layer = static_cast<std::size_t>(release % layers);
    // A failed or cancelled acquire still consumes the layer; its status does not matter here.
    if (!acquired) Acquire(layer).IgnoreError();
    Release(layer);
  }
}

double StreamOverlapRatio(const StreamStats& stats) {
  if (stats.copy_seconds <= 0.0) return 1.0;
  return std::clamp(1.0 - stats.wait_seconds / stats.copy_seconds, 0.0, 1.0);
}

StreamStats LayerStreamer::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace ghost
