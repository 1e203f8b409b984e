// The layer streamer's schedule (engine/backend/layer_streamer.h) against a slow transport that
// logs every copy: no compute on a slot before its copy is done, no copy into a slot before the
// forward released it, never more slots than asked for, and stopping mid-step leaves no copy in
// flight and frees every slot. The units are real CPU weight units; only the transport is the
// test's, so that copies can be slowed down and observed.
#include "engine/backend/layer_streamer.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "engine/backend/backend.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ghost {
namespace {

using ::testing::HasSubstr;

constexpr std::size_t kFloatsPerLayer = 4096;  // 16 KiB per unit

// What happened, in order, as the transport and the "forward" saw it.
struct Event {
  enum Type { kReadStart, kReadEnd, kComputeStart, kComputeEnd } type;
  std::size_t layer;
  const std::byte* slot;
};

struct Log {
  absl::Mutex mu;
  std::vector<Event> events ABSL_GUARDED_BY(mu);
  void Add(Event e) {
    absl::MutexLock lock(&mu);
    events.push_back(e);
  }
  std::vector<Event> Snapshot() {
    absl::MutexLock lock(&mu);
    return events;
  }
  // The transport's ordering hooks (one letter each), per slot in call order.
  std::vector<std::pair<const std::byte*, std::string>> hooks ABSL_GUARDED_BY(mu);
  void AddHook(const std::byte* slot, char hook) {
    absl::MutexLock lock(&mu);
    auto it = std::find_if(hooks.begin(), hooks.end(),
                           [slot](const auto& entry) { return entry.first == slot; });
    if (it == hooks.end()) it = hooks.insert(hooks.end(), {slot, ""});
    it->second.push_back(hook);
  }
  std::vector<std::string> HooksPerSlot() {
    absl::MutexLock lock(&mu);
    std::vector<std::string> per_slot;
    for (const auto& [slot, letters] : hooks) per_slot.push_back(letters);
    return per_slot;
  }
};

class TestSlot final : public LayerSlot {
 public:
  TestSlot(std::size_t bytes, std::atomic<int>& live)
      : data_(static_cast<std::byte*>(std::aligned_alloc(kLayerSlotAlignment, bytes))),
        live_(live) {
    ++live_;
  }
  ~TestSlot() override {
    std::free(data_);
    --live_;
  }
  std::byte* data() override { return data_; }

 private:
  std::byte* data_;
  std::atomic<int>& live_;
};

// Counters that outlive the streamer and the transport it owns, so a test reads them after an
// unload.
struct TransportCounters {
  std::atomic<int> live_slots{0};
  std::atomic<int> in_flight{0};
};

// Layer i's bytes are kFloatsPerLayer floats of value i + 1 (after a slow copy).
class SlowTransport final : public LayerTransport {
 public:
  SlowTransport(std::size_t layers, std::size_t unit_bytes, std::chrono::milliseconds delay,
                Log& log, TransportCounters& counters)
      : layers_(layers), unit_bytes_(unit_bytes), delay_(delay), log_(log), counters_(counters) {}

  std::size_t layer_count() const override { return layers_; }
  std::size_t layer_bytes(std::size_t) const override { return unit_bytes_; }
  std::size_t slot_bytes() const override {
    return (unit_bytes_ + kLayerSlotAlignment - 1) / kLayerSlotAlignment * kLayerSlotAlignment;
  }
  absl::StatusOr<std::unique_ptr<LayerSlot>> NewSlot() override {
    max_live_ = std::max(max_live_.load(), counters_.live_slots.load() + 1);
    return std::make_unique<TestSlot>(slot_bytes(), counters_.live_slots);
  }
  absl::Status Read(std::size_t layer, LayerSlot& slot) override {
    ++counters_.in_flight;
    AddHook(slot, 'R');
    log_.Add({Event::kReadStart, layer, slot.data()});
    std::this_thread::sleep_for(delay_);
    absl::Status status;
    if (fail_layer_ == static_cast<int>(layer)) {
      fail_layer_ = -1;
      status = absl::InternalError("layer file /test/layers: read error at layer " +
                                   std::to_string(layer));
    } else {
      std::fill_n(reinterpret_cast<float*>(slot.data()), kFloatsPerLayer,
                  static_cast<float>(layer + 1));
    }
    log_.Add({Event::kReadEnd, layer, slot.data()});
    --counters_.in_flight;
    return status;
  }

  // The ordering hooks, as an asynchronous (GPU) transport sees them: W(aitUntilFree), R(ead),
  // B(eforeCompute), A(fterCompute), in call order, per slot.
  absl::Status WaitUntilFree(LayerSlot& slot) override {
    AddHook(slot, 'W');
    return absl::OkStatus();
  }
  void BeforeCompute(LayerSlot& slot) override { AddHook(slot, 'B'); }
  void AfterCompute(LayerSlot& slot) override { AddHook(slot, 'A'); }

  int max_live() const { return max_live_; }
  void FailOnce(int layer) { fail_layer_ = layer; }

 private:
  void AddHook(LayerSlot& slot, char hook) { log_.AddHook(slot.data(), hook); }

  const std::size_t layers_;
  const std::size_t unit_bytes_;
  const std::chrono::milliseconds delay_;
  Log& log_;
  TransportCounters& counters_;
  std::atomic<int> max_live_{0};
  std::atomic<int> fail_layer_{-1};
};

class LayerStreamerTest : public ::testing::Test {
 protected:
  // `layers` units of one fp32 vector each, their own bytes released as a streamed model's.
  void MakeUnits(std::size_t layers) {
    std::shared_ptr<Backend> backend = *NewBackend({});
    for (std::size_t l = 0; l < layers; ++l) {
      UnitTensorSource source;
      source.name = "layer" + std::to_string(l);
      source.values.assign(kFloatsPerLayer, -1.0f);
      std::vector<UnitTensorSource> sources;
      sources.push_back(std::move(source));
      units_.push_back(*backend->NewWeightUnit(std::move(sources)));
      units_.back()->ReleaseBytes();
      unit_pointers_.push_back(units_.back().get());
    }
  }

  std::unique_ptr<LayerStreamer> Start(int slots, std::chrono::milliseconds delay) {
    auto transport =
        std::make_unique<SlowTransport>(units_.size(), units_[0]->bytes(), delay, log_, counters_);
    transport_ = transport.get();
    absl::StatusOr<std::unique_ptr<LayerStreamer>> streamer =
        LayerStreamer::Create(unit_pointers_, std::move(transport), slots);
    EXPECT_TRUE(streamer.ok()) << streamer.status();
    return streamer.ok() ? *std::move(streamer) : nullptr;
  }

  // One "forward step": every layer acquired, checked (it reads its own bytes for the whole
  // compute), released.
  void RunStep(LayerStreamer& streamer) {
    for (std::size_t l = 0; l < units_.size(); ++l) {
      ASSERT_TRUE(streamer.Acquire(l).ok());
      const float* values = units_[l]->vector(0).data;
      const auto* slot = reinterpret_cast<const std::byte*>(values);
      log_.Add({Event::kComputeStart, l, slot});
      EXPECT_EQ(values[0], static_cast<float>(l + 1)) << "layer " << l;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      EXPECT_EQ(values[kFloatsPerLayer - 1], static_cast<float>(l + 1)) << "layer " << l;
      log_.Add({Event::kComputeEnd, l, slot});
      streamer.Release(l);
    }
  }

  std::vector<std::unique_ptr<WeightUnit>> units_;
  std::vector<WeightUnit*> unit_pointers_;
  Log log_;
  TransportCounters counters_;
  SlowTransport* transport_ = nullptr;  // owned by the streamer
};

TEST_F(LayerStreamerTest, CopiesAndComputeNeverShareASlot) {
  MakeUnits(6);
  for (int slots : {2, 3}) {
    SCOPED_TRACE(::testing::Message() << slots << " slots");
    std::unique_ptr<LayerStreamer> streamer = Start(slots, std::chrono::milliseconds(2));
    ASSERT_NE(streamer, nullptr);
    for (int step = 0; step < 3; ++step) RunStep(*streamer);
    const StreamStats stats = streamer->stats();
    EXPECT_EQ(stats.acquired_layers, 3 * 6);
    EXPECT_EQ(stats.acquired_bytes, static_cast<std::int64_t>(3 * streamer->bytes_per_step()));
    // Never more than the slots asked for: the budget's count of slot memory holds.
    EXPECT_EQ(transport_->max_live(), slots);
    EXPECT_EQ(streamer->slot_bytes_total(), slots * transport_->slot_bytes());
    streamer.reset();

    // Per slot, reads and computes alternate: a read ends before the compute of its layer
    // starts, and a compute ends before the next read into that slot starts.
    std::vector<Event> events = log_.Snapshot();
    std::vector<const std::byte*> slot_ids;
    for (const Event& e : events) {
      if (std::find(slot_ids.begin(), slot_ids.end(), e.slot) == slot_ids.end()) {
        slot_ids.push_back(e.slot);
      }
    }
    EXPECT_EQ(slot_ids.size(), static_cast<std::size_t>(slots));
    for (const std::byte* slot : slot_ids) {
      Event::Type expected = Event::kReadStart;
      std::size_t layer = 0;
      for (const Event& e : events) {
        if (e.slot != slot) continue;
        // The last read (a prefetch for a step never run) may stop after kReadEnd.
        ASSERT_EQ(e.type, expected) << "slot event out of order";
        if (e.type == Event::kReadStart) layer = e.layer;
        EXPECT_EQ(e.layer, layer);
        expected = static_cast<Event::Type>((e.type + 1) % 4);
      }
    }
    // Layers are copied in cyclic order, wrapping to the next step.
    std::size_t next = 0;
    for (const Event& e : events) {
      if (e.type != Event::kReadStart) continue;
      EXPECT_EQ(e.layer, next);
      next = (next + 1) % units_.size();
    }
    absl::MutexLock lock(&log_.mu);
    log_.events.clear();
  }
}

// What a GPU transport relies on to order copies and compute on the device: per slot, the wait
// for the last compute, the copy, the compute's "wait for the copy" and its "release" strictly
// alternate, also across steps and a failed step.
TEST_F(LayerStreamerTest, OrderingHooksAlternatePerSlot) {
  MakeUnits(5);
  std::unique_ptr<LayerStreamer> streamer = Start(2, std::chrono::milliseconds(1));
  ASSERT_NE(streamer, nullptr);
  RunStep(*streamer);
  ASSERT_TRUE(streamer->Acquire(0).ok());
  streamer->FinishStep();
  RunStep(*streamer);
  streamer.reset();
  const std::vector<std::string> per_slot = log_.HooksPerSlot();
  ASSERT_EQ(per_slot.size(), 2u);
  int computed = 0;
  for (const std::string& hooks : per_slot) {
    // The worker may have started the next step's copies (W, R) before it stopped.
    EXPECT_THAT(hooks, ::testing::MatchesRegex("(WRBA)*(WR)?")) << hooks;
    computed += static_cast<int>(std::count(hooks.begin(), hooks.end(), 'A'));
  }
  EXPECT_EQ(computed, 3 * 5);  // three steps of five layers, the failed one finished
}

TEST_F(LayerStreamerTest, StoppingMidStepLeavesNoCopyInFlightAndFreesEverySlot) {
  MakeUnits(5);
  std::unique_ptr<LayerStreamer> streamer = Start(3, std::chrono::milliseconds(30));
  ASSERT_NE(streamer, nullptr);
  // Mid-step: layer 0 computed, layer 1 held, the worker copying layer 2 or 3.
  ASSERT_TRUE(streamer->Acquire(0).ok());
  streamer->Release(0);
  ASSERT_TRUE(streamer->Acquire(1).ok());
  EXPECT_EQ(counters_.live_slots.load(), 3);
  streamer.reset();  // unload: the transport goes with it
  EXPECT_EQ(counters_.in_flight.load(), 0);
  EXPECT_EQ(counters_.live_slots.load(), 0);
}

TEST_F(LayerStreamerTest, AReadErrorFailsThatLayerAndTheNextStepRecovers) {
  MakeUnits(4);
  std::unique_ptr<LayerStreamer> streamer = Start(2, std::chrono::milliseconds(1));
  ASSERT_NE(streamer, nullptr);
  transport_->FailOnce(3);  // not yet read: the worker is at most at layer 1
  ASSERT_TRUE(streamer->Acquire(0).ok());
  streamer->Release(0);
  ASSERT_TRUE(streamer->Acquire(1).ok());
  streamer->Release(1);
  ASSERT_TRUE(streamer->Acquire(2).ok());
  streamer->Release(2);
  absl::Status status = streamer->Acquire(3);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(status.message(), HasSubstr("/test/layers"));
  streamer->FinishStep();
  RunStep(*streamer);
}

TEST_F(LayerStreamerTest, AFailedStepIsFinishedSoTheNextStartsAtTheFirstLayer) {
  MakeUnits(4);
  std::unique_ptr<LayerStreamer> streamer = Start(2, std::chrono::milliseconds(1));
  ASSERT_NE(streamer, nullptr);
  ASSERT_TRUE(streamer->Acquire(0).ok());
  streamer->FinishStep();  // gave up while holding layer 0
  RunStep(*streamer);
  EXPECT_EQ(streamer->Acquire(2).code(), absl::StatusCode::kFailedPrecondition);  // not next
  streamer->FinishStep();  // a no-op at a step boundary
  RunStep(*streamer);
}

TEST_F(LayerStreamerTest, RejectsFewerThanTwoSlots) {
  MakeUnits(2);
  auto transport = std::make_unique<SlowTransport>(2, units_[0]->bytes(),
                                                   std::chrono::milliseconds(0), log_, counters_);
  EXPECT_EQ(LayerStreamer::Create(unit_pointers_, std::move(transport), 1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ghost
