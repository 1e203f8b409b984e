// Every decoder layer's weights are one weight unit (engine/backend/weight_unit.h): one
// contiguous aligned range holding each tensor's kernel-ready bytes at the offset its table
// says, which the layer's handles read; and a copy of those bytes, once the unit is rebound to
// it, runs the model bit for bit as the original does.
#include "engine/backend/weight_unit.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "engine/backend/weight_loader.h"
#include "engine/checkpoint/checkpoint.h"
#include "engine/compressor/model_compressor.h"
#include "engine/model/llama.h"
#include "engine/model/model.h"
#include "gtest/gtest.h"
#include "kernels/cpu/quant_matmul.h"
#include "tests/engine/compress_fixture.h"
#include "tests/engine/test_model.h"

namespace ghost {
namespace {

using ::ghost::testing::TinyLlamaSpec;

const std::vector<std::int32_t> kTokens = {72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 108};

// A tiny random model as stored ("F32", "BF16"), or compressed with a scheme of the compressor
// (CompressSchemes(); "ternary" is also gated, to run the sparse MLP).
struct Case {
  std::string name;
  std::string dtype = "BF16";
  std::string scheme;  // empty: not compressed
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class WeightUnitTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    const Case& c = GetParam();
    TinyLlamaSpec spec;
    spec.dtype = c.dtype;
    spec.seed = 11;
    spec.context = 512;  // the compressor profiles windows of 512 tokens
    dir_ = ghost::testing::MakeTempDir("unit-" + c.name);
    ghost::testing::WriteTinyLlama(dir_, spec);
    if (!c.scheme.empty()) {
      compress::CompressJobSpec job;
      job.source_dir = dir_;
      job.output_dir = dir_ + "-compressed";
      job.scheme = c.scheme;
      job.block_size = 16;
      if (c.scheme == "ternary") job.target_sparsity = 0.4f;
      dir_ = ghost::testing::CompressForTest(job);
    }
    absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(dir_);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = *model;
  }

  const LlamaWeights& weights() const { return dynamic_cast<const LlamaModel&>(*model_).weights(); }

  std::vector<float> Logits() const {
    std::vector<float> logits;
    EXPECT_TRUE(model_->NewSession()->Forward(kTokens, /*all_logits=*/true, logits).ok());
    return logits;
  }

  std::string dir_;
  std::shared_ptr<const Model> model_;
};

// Whether `p` lies in the table entry `t` of `unit`.
bool Inside(const WeightUnit& unit, const WeightUnit::Tensor& t, const void* p, std::size_t n) {
  const auto* begin = unit.data() + t.offset;
  const auto* at = static_cast<const std::byte*>(p);
  return at >= begin && at + n <= begin + t.bytes;
}

// Checks that the handle of a matrix reads tensor i of the unit, and that a dense matrix holds
// the checkpoint's bytes there.
void ExpectMatrixInUnit(const WeightUnit& unit, std::size_t i, const WeightMatrix& m,
                        const SafetensorsCheckpoint& checkpoint) {
  const WeightUnit::Tensor& t = unit.tensors()[i];
  SCOPED_TRACE(t.name);
  if (!IsBlockQuantized(m.format)) {
    EXPECT_EQ(m.data, unit.data() + t.offset);
    const TensorView* stored = checkpoint.Find(t.name);
    ASSERT_NE(stored, nullptr);
    ASSERT_EQ(t.bytes, stored->nbytes);
    EXPECT_EQ(std::memcmp(unit.data() + t.offset, stored->data, t.bytes), 0);
    return;
  }
  // Low-bit: the kernels' packed codes and scales live in the unit, every row of them.
  const auto& quant = *static_cast<const kernels::QuantWeights*>(m.data);
  EXPECT_EQ(quant.packed_data(), reinterpret_cast<const std::uint8_t*>(unit.data() + t.offset));
  const kernels::QuantLayout& layout = quant.layout();
  for (std::size_t r = 0; r < quant.rows(); ++r) {
    ASSERT_TRUE(Inside(unit, t, quant.row_codes(r), layout.row_bytes)) << "row " << r;
    ASSERT_TRUE(Inside(unit, t, quant.row_scales(r), layout.blocks_per_row * 2)) << "row " << r;
  }
}

void ExpectVectorInUnit(const WeightUnit& unit, std::size_t i, const WeightVector& v,
                        const SafetensorsCheckpoint& checkpoint) {
  const WeightUnit::Tensor& t = unit.tensors()[i];
  SCOPED_TRACE(t.name);
  EXPECT_EQ(static_cast<const void*>(v.data), unit.data() + t.offset);
  const TensorView* stored = checkpoint.Find(t.name);
  ASSERT_NE(stored, nullptr);
  const std::vector<float> values = TensorToF32(*stored);
  ASSERT_EQ(t.bytes, values.size() * sizeof(float));
  EXPECT_EQ(std::memcmp(unit.data() + t.offset, values.data(), t.bytes), 0);
}

// The table tiles the unit: aligned, in order, without overlap, inside bytes().
void ExpectContiguousTable(const WeightUnit& unit) {
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(unit.data()) % kWeightUnitAlignment, 0u);
  std::size_t end = 0;
  for (const WeightUnit::Tensor& t : unit.tensors()) {
    EXPECT_EQ(t.offset % kWeightUnitAlignment, 0u) << t.name;
    EXPECT_GE(t.offset, end) << t.name;
    EXPECT_LT(t.offset - end, kWeightUnitAlignment) << t.name;  // padding only
    EXPECT_GT(t.bytes, 0u) << t.name;
    end = t.offset + t.bytes;
  }
  EXPECT_LE(end, unit.bytes());
  EXPECT_LT(unit.bytes() - end, kWeightUnitAlignment);
}

TEST_P(WeightUnitTest, EachLayerIsOneContiguousRangeAtTheTablesOffsets) {
  absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> checkpoint =
      SafetensorsCheckpoint::Open(dir_);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  const LlamaWeights& w = weights();
  ASSERT_EQ(w.layers.size(), 2u);
  for (std::size_t l = 0; l < w.layers.size(); ++l) {
    const LlamaLayerWeights& layer = w.layers[l];
    // The cases cover every kind of tensor a unit holds, and the gated MLP.
    EXPECT_EQ(IsBlockQuantized(layer.q->format), !GetParam().scheme.empty());
    EXPECT_EQ(layer.gated, GetParam().scheme == "ternary");
    const WeightUnit& unit = *layer.unit;
    ExpectContiguousTable(unit);
    const std::string prefix = "model.layers." + std::to_string(l) + ".";
    const std::vector<std::string> names = {
        "input_layernorm.weight",  "self_attn.q_proj.weight", "self_attn.k_proj.weight",
        "self_attn.v_proj.weight", "self_attn.o_proj.weight", "post_attention_layernorm.weight",
        "mlp.gate_proj.weight",    "mlp.up_proj.weight",      "mlp.down_proj.weight"};
    ASSERT_EQ(unit.tensors().size(), names.size());
    for (std::size_t i = 0; i < names.size(); ++i) {
      EXPECT_EQ(unit.tensors()[i].name, prefix + names[i]);
    }
    ExpectVectorInUnit(unit, 0, *layer.input_norm, **checkpoint);
    const WeightMatrix* const matrices[] = {layer.q, layer.k, layer.v, layer.o};
    for (std::size_t i = 0; i < 4; ++i) {
      ExpectMatrixInUnit(unit, 1 + i, *matrices[i], **checkpoint);
    }
    ExpectVectorInUnit(unit, 5, *layer.post_attention_norm, **checkpoint);
    ExpectMatrixInUnit(unit, 6, *layer.gate, **checkpoint);
    ExpectMatrixInUnit(unit, 7, *layer.up, **checkpoint);
    ExpectMatrixInUnit(unit, 8, *layer.down, **checkpoint);
  }
  // The embedding, final norm and head are a unit of their own.
  const WeightUnit& resident = *w.resident;
  ExpectContiguousTable(resident);
  ASSERT_EQ(resident.tensors().size(), 3u);
  ExpectMatrixInUnit(resident, 0, *w.embed_tokens, **checkpoint);
  ExpectVectorInUnit(resident, 1, *w.final_norm, **checkpoint);
  ExpectMatrixInUnit(resident, 2, *w.lm_head, **checkpoint);
}

// 64-byte aligned bytes, as a unit's.
struct AlignedCopy {
  explicit AlignedCopy(const WeightUnit& unit)
      : bytes(unit.bytes()),
        data(static_cast<std::byte*>(std::aligned_alloc(kWeightUnitAlignment, unit.bytes()))) {
    std::memcpy(data.get(), unit.data(), bytes);
  }
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::size_t bytes;
  std::unique_ptr<std::byte, Free> data;
};

TEST_P(WeightUnitTest, RebindingToACopyOfTheBytesGivesBitIdenticalLogits) {
  const std::vector<float> original = Logits();
  const LlamaWeights& w = weights();
  std::vector<WeightUnit*> units = {w.resident.get()};
  for (const LlamaLayerWeights& layer : w.layers) units.push_back(layer.unit.get());
  std::vector<AlignedCopy> copies;
  for (WeightUnit* unit : units) {
    copies.emplace_back(*unit);
    unit->Rebind(copies.back().data.get());
  }
  EXPECT_EQ(Logits(), original);

  // The handles read the copies now: wiping them changes the logits.
  for (AlignedCopy& copy : copies) std::memset(copy.data.get(), 0, copy.bytes);
  EXPECT_NE(Logits(), original);

  for (WeightUnit* unit : units) unit->Rebind(nullptr);
  EXPECT_EQ(Logits(), original);
}

INSTANTIATE_TEST_SUITE_P(Formats, WeightUnitTest,
                         ::testing::Values(Case{"f32", "F32", ""}, Case{"bf16", "BF16", ""},
                                           Case{"ternary", "BF16", "ternary"},
                                           Case{"codebook", "BF16", "codebook4"},
                                           Case{"two_level", "BF16", "ternary-2level"}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace ghost
