// A weight unit: tensors that live, move and stream together (one decoder layer; or a model's
// embedding, final norm and head), as ONE contiguous, aligned allocation of their kernel-ready
// bytes, with a table of where each tensor sits. Copying a unit is one large transfer: the layer
// streamer (issue 14) copies data()'s bytes() bytes into a slot, from a file or to a GPU, and
// Rebinds the unit's handles there.
//
// The bytes are the backend's layout (the CPU's: fp32 norms and biases, dense matrices in their
// stored precision, low-bit matrices in the kernels' packed codes and scales). Small per-matrix
// metadata (shapes, the low-bit layout, codebooks, activation positions) stays outside the
// bytes, resident with the handles, so that the bytes alone are what moves.
#ifndef GHOST_ENGINE_BACKEND_WEIGHT_UNIT_H_
#define GHOST_ENGINE_BACKEND_WEIGHT_UNIT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "engine/backend/weight_matrix.h"
#include "engine/compress/quantized_matrix.h"

namespace ghost {

// Every tensor of a unit starts at a multiple of this many bytes from the unit's start, and the
// unit itself at least as aligned.
inline constexpr std::size_t kWeightUnitAlignment = 64;

// `n` rounded up to a multiple of kWeightUnitAlignment: where the next tensor of a unit starts.
inline std::size_t AlignToWeightUnit(std::size_t n) {
  return (n + kWeightUnitAlignment - 1) / kWeightUnitAlignment * kWeightUnitAlignment;
}

struct UnitTensorSource;
// What every backend's units hold: vectors, dense matrices of a dense format (with bytes, or
// empty), low-bit matrices with fp16 block scales. INVALID_ARGUMENT "tensor <name> cannot be
// placed in a <device> weight unit" for anything else.
absl::Status CheckUnitSource(const UnitTensorSource& source, const char* device);

// A tensor to place in a unit, as the weight loader read it from a checkpoint.
struct UnitTensorSource {
  enum class Kind {
    kVector,  // `values`, fp32 (a norm's weights, a bias)
    kDense,   // a [rows, cols] matrix of `format` (kF32, kBF16 or kF16) at `bytes`
    kQuant,   // `quant`, a [rows, cols] low-bit matrix with one fp16 scale per block
  };
  std::string name;
  Kind kind = Kind::kVector;
  std::vector<float> values;
  WeightFormat format = WeightFormat::kF32;
  // Row-major, any alignment (into a mapped checkpoint); must outlive Backend::NewWeightUnit.
  const std::uint8_t* bytes = nullptr;
  std::size_t rows = 0;
  std::size_t cols = 0;
  compress::QuantizedMatrix quant;  // scale_scheme kF16PerBlock
};

// What a tensor's place in a unit depends on, known from a checkpoint's headers and its
// quantization config before any tensor is read: Backend::UnitBytes sizes a unit from these
// alone, with the function its units lay themselves out with.
struct UnitTensorShape {
  UnitTensorSource::Kind kind = UnitTensorSource::Kind::kVector;
  WeightFormat format = WeightFormat::kF32;  // kDense: as stored; kQuant: the low-bit format
  std::size_t rows = 0;                      // a vector: 1
  std::size_t cols = 0;                      // a vector: its size
  std::size_t block_size = 0;                // kQuant
  std::size_t codebook_group_rows = 0;       // kQuant of a codebook format
};

// The shape of a tensor read for a unit.
UnitTensorShape ShapeOf(const UnitTensorSource& source);

// A kQuant shape as a QuantizedMatrix without arrays (fp16 block scales), for its layout
// functions (code_bytes_per_row, ...).
compress::QuantizedMatrix QuantLayoutOf(const UnitTensorShape& shape);

class WeightUnit {
 public:
  // Where one tensor's bytes are, from data().
  struct Tensor {
    std::string name;
    std::size_t offset = 0;  // a multiple of kWeightUnitAlignment
    std::size_t bytes = 0;
  };

  virtual ~WeightUnit() = default;

  // The unit's own bytes(): every tensor of tensors() at its offset, in source order, with
  // padding between them.
  virtual const std::byte* data() const = 0;
  virtual std::size_t bytes() const = 0;
  virtual absl::Span<const Tensor> tensors() const = 0;
  // Bytes a forward reads from the unit: its tensors' weights (and low-bit scales and
  // codebooks), without padding.
  virtual std::size_t weight_bytes() const = 0;

  // The handle of tensor i (the i-th source): matrix() for kDense and kQuant, vector() for
  // kVector. Each stays at one address for the unit's life, and reads the bytes the unit is
  // bound to.
  virtual const WeightMatrix& matrix(std::size_t i) const = 0;
  virtual const WeightVector& vector(std::size_t i) const = 0;

  // Binds every handle to `copy`, which holds a byte-for-byte copy of this unit's bytes() at
  // kWeightUnitAlignment and which the caller keeps alive while bound; nullptr binds them back
  // to data(). No op may read the unit meanwhile.
  virtual void Rebind(const std::byte* copy) = 0;
  // Frees the unit's own bytes, for good: a streamed layer keeps only its handles and
  // metadata. data() becomes nullptr (bytes() and tensors() stay) and the handles must be
  // Rebound to a copy before every use; Rebind(nullptr) leaves them reading nothing.
  virtual void ReleaseBytes() = 0;
};

}  // namespace ghost

#endif  // GHOST_ENGINE_BACKEND_WEIGHT_UNIT_H_
