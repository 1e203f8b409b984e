// Ternary fits of one block: w_i ~ scale * c_i with c_i in {-1, 0, +1}, minimising the
// weighted squared error sum_i a_i (w_i - scale * c_i)^2. The importances a_i >= 0 come
// from activation statistics (importance.h); an empty span means a_i = 1.
//
// Why the exact solver is exact, with or without importances: for a fixed scale s >= 0
// the error separates per weight, and a_i > 0 does not change which of {-s, 0, s} is
// nearest to w_i, so the best codes are sign(w_i) * [|w_i| > s / 2] (a_i = 0 leaves w_i
// indifferent). The optimum (s*, c*) therefore has c* = "the k largest |w|" for some k, and
// for such a set the best scale is s = sum a|w| / sum a over the set, with error
// sum a w^2 - (sum a|w|)^2 / sum a. Trying every k over |w| sorted once finds it.
#ifndef GHOST_ENGINE_COMPRESS_TERNARY_H_
#define GHOST_ENGINE_COMPRESS_TERNARY_H_

#include <cstddef>
#include <cstdint>

#include "absl/types/span.h"
#include "engine/formats/weight_format.h"

namespace ghost::compress {

struct TernaryFit {
  float scale = 0.0f;  // >= 0
  double error = 0.0;  // weighted squared error of the codes written alongside
};

// Contract for all three: w.size() <= kMaxBlockSize (they sort on the stack), codes.size() ==
// w.size(), importance empty or of w.size() non-negative values.

// Codes optimal for a given scale (sign(w) where |w| > scale / 2, else 0); returns the
// weighted squared error.
double TernaryCodesForScale(absl::Span<const float> w, absl::Span<const float> importance,
                            float scale, absl::Span<std::int8_t> codes);

// The least-error ternary fit (see above); codes are those for the returned scale.
[[nodiscard]] TernaryFit FitTernaryExact(absl::Span<const float> w,
                                         absl::Span<const float> importance,
                                         absl::Span<std::int8_t> codes);

// The threshold/scale coordinate descent of the ternary-weight literature, kept as the
// baseline: t = 0.7 * mean|w|, then `rounds` times: c = sign(w) * [|w| > t],
// scale = weighted mean of |w| where c != 0, t = scale / 2. Means are importance-weighted.
[[nodiscard]] TernaryFit FitTernaryIterative(absl::Span<const float> w,
                                             absl::Span<const float> importance, int rounds,
                                             absl::Span<std::int8_t> codes);

}  // namespace ghost::compress

#endif  // GHOST_ENGINE_COMPRESS_TERNARY_H_
