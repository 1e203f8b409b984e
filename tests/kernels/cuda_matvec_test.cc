// The CUDA products against exact sums over the reference weights: the small-batch matvec
// (kernels/cuda/matvec.h) for every weight format and block size, and the cuBLAS GEMM
// (kernels/cuda/gemm.h) for the dense formats, on awkward shapes. Skips without a CUDA device.
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "engine/compress/fp16.h"
#include "engine/compress/quantized_matrix.h"
#include "gtest/gtest.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/matvec.h"
#include "tests/kernels/cuda_test_util.h"
#include "tests/kernels/random_quant_matrix.h"

namespace ghost::kernels::cuda {
namespace {

using testing::Normal;
using testing::ToDevice;
using testing::ToHost;

struct Shape {
  std::size_t rows, cols;
};
// One weight, a short last block everywhere, one not a multiple of the warp, a model's width.
constexpr Shape kShapes[] = {{1, 1}, {7, 70}, {300, 257}, {33, 4096}};
constexpr std::size_t kBatches[] = {1, 3, 8, 17, 64};

// Checks y [n, rows] against x w^T in double, w given as fp32 [rows, cols]: each output within
// `relative` of the sum of |x w| terms (fp32 accumulation in another order).
void ExpectProduct(const std::vector<float>& y, const std::vector<float>& x,
                   const std::vector<float>& w, std::size_t n, Shape shape, double relative,
                   const char* what) {
  ASSERT_EQ(y.size(), n * shape.rows);
  for (std::size_t t = 0; t < n; ++t) {
    for (std::size_t r = 0; r < shape.rows; ++r) {
      double exact = 0, magnitude = 0;
      for (std::size_t c = 0; c < shape.cols; ++c) {
        exact += double{x[t * shape.cols + c]} * w[r * shape.cols + c];
        magnitude += std::fabs(double{x[t * shape.cols + c]} * w[r * shape.cols + c]);
      }
      ASSERT_NEAR(y[t * shape.rows + r], exact, relative * magnitude + 1e-6)
          << what << " " << shape.rows << "x" << shape.cols << " n=" << n << " t=" << t
          << " r=" << r;
    }
  }
}

TEST(CudaMatvecTest, LowBitFormatsMatchTheDecoder) {
  GHOST_SKIP_WITHOUT_CUDA_DEVICE();
  std::mt19937 rng(1);
  for (WeightFormat format : kernels::testing::kLowBitFormats) {
    for (std::size_t block : kernels::testing::kBlockSizes) {
      for (Shape shape : kShapes) {
        const compress::QuantizedMatrix m =
            kernels::testing::RandomQuantMatrix(format, shape.rows, shape.cols, block, rng);
        const std::vector<float> w = compress::Dequantize(m);
        testing::DeviceMatrix dw = testing::UploadQuant(m);
        for (std::size_t n : kBatches) {
          const std::vector<float> x = Normal(n * shape.cols, rng);
          DeviceBuffer dx = ToDevice(x), dy = ToDevice(std::vector<float>(n * shape.rows));
          ASSERT_TRUE(Matvec(dx.as<float>(), n, dw.weights, dy.as<float>(), nullptr).ok());
          ExpectProduct(ToHost<float>(dy.data(), n * shape.rows), x, w, n, shape, 1e-5,
                        WeightFormatName(format));
        }
      }
    }
  }
}

// The dense formats, through Matvec (n <= 64) and DenseGemm (any n).
TEST(CudaMatvecTest, DenseFormatsMatchThroughMatvecAndGemm) {
  GHOST_SKIP_WITHOUT_CUDA_DEVICE();
  std::mt19937 rng(2);
  absl::StatusOr<BlasHandle> blas = BlasHandle::Create(nullptr);
  ASSERT_TRUE(blas.ok()) << blas.status();
  DeviceBuffer scratch;
  for (Shape shape : kShapes) {
    const std::vector<float> f32 = Normal(shape.rows * shape.cols, rng, 0.05f);
    std::vector<std::uint16_t> bf16(f32.size()), f16(f32.size());
    std::vector<float> bf16_w(f32.size()), f16_w(f32.size());
    for (std::size_t i = 0; i < f32.size(); ++i) {
      bf16[i] = F32ToBf16(f32[i]);
      bf16_w[i] = Bf16ToF32(bf16[i]);
      f16[i] = compress::F32ToF16(f32[i]);
      f16_w[i] = F16ToF32(f16[i]);
    }
    struct Case {
      WeightFormat format;
      testing::DeviceMatrix matrix;
      const std::vector<float>* w;
    };
    Case cases[] = {
        {WeightFormat::kF32, testing::UploadDense(WeightFormat::kF32, f32, shape.rows, shape.cols),
         &f32},
        {WeightFormat::kBF16,
         testing::UploadDense(WeightFormat::kBF16, bf16, shape.rows, shape.cols), &bf16_w},
        {WeightFormat::kF16, testing::UploadDense(WeightFormat::kF16, f16, shape.rows, shape.cols),
         &f16_w},
    };
    for (Case& c : cases) {
      for (std::size_t n :
           {std::size_t{1}, std::size_t{8}, std::size_t{64}, std::size_t{65}, std::size_t{130}}) {
        const std::vector<float> x = Normal(n * shape.cols, rng);
        DeviceBuffer dx = ToDevice(x), dy = ToDevice(std::vector<float>(n * shape.rows));
        if (n <= kMaxMatvecBatch) {
          ASSERT_TRUE(Matvec(dx.as<float>(), n, c.matrix.weights, dy.as<float>(), nullptr).ok());
          ExpectProduct(ToHost<float>(dy.data(), n * shape.rows), x, *c.w, n, shape, 1e-5,
                        "matvec");
        }
        const absl::Status s =
            DenseGemm(dx.as<float>(), n, c.matrix.weights, dy.as<float>(), *blas, scratch, nullptr);
        ASSERT_TRUE(s.ok()) << s;
        // 16-bit weights take 16-bit activations: x is rounded first, ~2^-9 (bf16) or 2^-12
        // (f16) of each term.
        const double bound = c.format == WeightFormat::kF32    ? 1e-5
                             : c.format == WeightFormat::kBF16 ? 8e-3
                                                               : 1e-3;
        ExpectProduct(ToHost<float>(dy.data(), n * shape.rows), x, *c.w, n, shape, bound, "gemm");
      }
    }
  }
}

TEST(CudaMatvecTest, BatchOverLimitIsInvalidArgument) {
  GHOST_SKIP_WITHOUT_CUDA_DEVICE();
  DeviceWeights w;
  w.rows = 1;
  w.cols = 1;
  EXPECT_EQ(Matvec(nullptr, kMaxMatvecBatch + 1, w, nullptr, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ghost::kernels::cuda
