// QuantWeights: repacking the storage format into QuantLayout, and the scalar address
// arithmetic of that layout.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "kernels/cpu/quant_internal.h"
#include "kernels/cpu/quant_matmul.h"

namespace ghost::kernels {
namespace {

bool IsBase3(WeightFormat format) { return format == WeightFormat::kTernaryBase3; }

// Stored byte ceil(b * 256 / 243) for every valid base-3 byte b: then the digit t_i of b is
// the top "trit" of (stored * 3^(4 - i)) mod 256, i.e. ((stored * 3^(4-i)) mod 256) * 3 >> 8,
// exact for all 243 bytes (checked by quant_matmul_test).
std::uint8_t Base3ToStored(std::uint8_t b) {
  if (b > 242) b = 0;  // Invalid in the format; any digits will do.
  return static_cast<std::uint8_t>((b * 256 + 242) / 243);
}

QuantLayout MakeLayout(WeightFormat format, std::size_t cols, std::size_t block_size) {
  QuantLayout l;
  l.blocks_per_row = (cols + block_size - 1) / block_size;
  l.groups_per_row = (l.blocks_per_row + kQuantGroupBlocks - 1) / kQuantGroupBlocks;
  const std::size_t format_bytes = BytesPerBlock(format, block_size);
  // A tail of 3 bytes would need a 3-to-4 byte shuffle; one padding byte is cheaper.
  l.block_bytes = format_bytes % 4 == 3 ? format_bytes + 1 : format_bytes;
  l.full_words = l.block_bytes / 4;
  l.tail_bytes = l.block_bytes % 4;
  l.digits = TraitsOf(format).codes_per_byte;
  l.slots_per_group = l.full_words + (l.tail_bytes > 0 ? 1 : 0);
  l.row_bytes = l.block_bytes * l.blocks_per_row;
  l.scale_stride = l.groups_per_row * kQuantGroupBlocks;
  l.activation_bytes = l.groups_per_row * l.slots_per_group * l.digits * 64;
  return l;
}

// Offset in its group of byte i of block b of a group of group_blocks blocks.
std::size_t ByteOffsetInGroup(const QuantLayout& l, std::size_t group_blocks, std::size_t b,
                              std::size_t i) {
  if (i < 4 * l.full_words) return (i / 4) * 4 * group_blocks + 4 * b + i % 4;
  return l.full_words * 4 * group_blocks + l.tail_bytes * b + (i - 4 * l.full_words);
}

std::size_t GroupBlocks(const QuantLayout& l, std::size_t group) {
  return std::min(kQuantGroupBlocks, l.blocks_per_row - group * kQuantGroupBlocks);
}

// Offset in a row of byte i (of block_bytes) of block `block`.
std::size_t StoredByteOffset(const QuantLayout& l, std::size_t block, std::size_t i) {
  const std::size_t group = block / kQuantGroupBlocks;
  return group * kQuantGroupBlocks * l.block_bytes +
         ByteOffsetInGroup(l, GroupBlocks(l, group), block % kQuantGroupBlocks, i);
}

// Where the codes and scales of a matrix go in its packed buffer (QuantWeights::data_).
struct Placement {
  std::size_t codes_offset = 0, codes_stride = 0;
  std::size_t scales_offset = 0, scales_stride = 0;
  std::size_t bytes = 0;  // Of the whole buffer.
};

Placement Place(const QuantLayout& l, std::size_t rows) {
  Placement p;
  const std::size_t scale_bytes = l.scale_stride * sizeof(std::uint16_t);
  if (scale_bytes <= 256) {  // Interleaved: scales, then codes, row by row.
    p.scales_stride = p.codes_stride = (scale_bytes + l.row_bytes + 1) / 2 * 2;
    p.codes_offset = scale_bytes;
  } else {  // Two regions: every row's codes, then every row's scales.
    p.codes_stride = l.row_bytes;
    p.scales_stride = scale_bytes;
    p.scales_offset = (rows * l.row_bytes + 63) / 64 * 64;
  }
  p.bytes =
      std::max(p.codes_offset + rows * p.codes_stride, p.scales_offset + rows * p.scales_stride);
  p.bytes += 64;  // Vector loads past the last row may touch these.
  return p;
}

QuantCodebook MakeCodebook(const std::uint16_t* entries) {
  QuantCodebook book;
  for (int k = 0; k < 4; ++k) book.entries[k] = F16ToF32(entries[k]);
  const auto [lo, hi] = std::minmax_element(book.entries, book.entries + 4);
  book.offset = *lo;
  book.step = (*hi - *lo) / 127.0f;
  for (int k = 0; k < 4; ++k) {
    const float steps = book.step > 0 ? (book.entries[k] - book.offset) / book.step : 0.0f;
    book.steps[k] = static_cast<std::uint8_t>(std::clamp(std::lrint(steps), 0L, 127L));
  }
  return book;
}

}  // namespace

QuantWeights QuantWeights::Prepare(const QuantMatrixView& view) {
  std::vector<std::uint8_t, HugePageAllocator<std::uint8_t>> owned(PackedBytes(view));
  QuantWeights w = PrepareInto(view, owned.data());
  w.owned_ = std::move(owned);  // The buffer moves with its address: data_ stays valid.
  return w;
}

std::size_t QuantWeights::PackedBytes(const QuantMatrixView& view) {
  return Place(MakeLayout(view.format, view.cols, view.block_size), view.rows).bytes;
}

QuantWeights QuantWeights::PrepareInto(const QuantMatrixView& view, std::uint8_t* memory) {
  QuantWeights w;
  w.format_ = view.format;
  w.rows_ = view.rows;
  w.cols_ = view.cols;
  w.block_size_ = view.block_size;
  w.layout_ = MakeLayout(view.format, view.cols, view.block_size);
  const QuantLayout& l = w.layout_;
  const std::size_t format_block_bytes = BytesPerBlock(view.format, view.block_size);
  const std::size_t format_row_bytes = format_block_bytes * l.blocks_per_row;

  const Placement placement = Place(l, view.rows);
  w.codes_offset_ = placement.codes_offset;
  w.codes_stride_ = placement.codes_stride;
  w.scales_offset_ = placement.scales_offset;
  w.scales_stride_ = placement.scales_stride;
  w.data_ = memory;
  std::memset(memory, 0, placement.bytes);
  std::array<std::uint8_t, 256> stored;  // Byte as stored, see Base3ToStored.
  for (int b = 0; b < 256; ++b) {
    stored[b] = IsBase3(view.format) ? Base3ToStored(static_cast<std::uint8_t>(b))
                                     : static_cast<std::uint8_t>(b);
  }
  for (std::size_t r = 0; r < view.rows; ++r) {
    const std::uint8_t* src = view.codes + r * format_row_bytes;
    std::uint8_t* dst = memory + w.codes_offset_ + r * w.codes_stride_;
    // Block by block rather than through StoredByteOffset: this runs over every weight of
    // a model at load time.
    for (std::size_t block = 0; block < l.blocks_per_row; ++block) {
      const std::size_t group = block / kQuantGroupBlocks;
      const std::size_t group_blocks = GroupBlocks(l, group);
      std::uint8_t* group_dst = dst + group * kQuantGroupBlocks * l.block_bytes;
      const std::uint8_t* block_src = src + block * format_block_bytes;
      for (std::size_t i = 0; i < format_block_bytes; ++i) {
        group_dst[ByteOffsetInGroup(l, group_blocks, block % kQuantGroupBlocks, i)] =
            stored[block_src[i]];
      }
    }
    std::memcpy(memory + w.scales_offset_ + r * w.scales_stride_,
                view.scales + r * l.blocks_per_row, l.blocks_per_row * sizeof(std::uint16_t));
  }
  w.activation_positions_.resize(view.cols);
  for (std::size_t c = 0; c < view.cols; ++c) {
    w.activation_positions_[c] = static_cast<std::uint32_t>(internal::ActivationPosition(
        l, IsBase3(view.format), c / view.block_size, c % view.block_size));
  }
  if (view.format == WeightFormat::kCodebook2Bit) {
    w.codebook_group_rows_ = view.codebook_group_rows;
    const std::size_t groups =
        (view.rows + view.codebook_group_rows - 1) / view.codebook_group_rows;
    for (std::size_t g = 0; g < groups; ++g) {
      w.codebooks_.push_back(MakeCodebook(view.codebook + 4 * g));
    }
  }
  return w;
}

QuantWeights::QuantWeights(const QuantWeights& other)
    : format_(other.format_),
      rows_(other.rows_),
      cols_(other.cols_),
      block_size_(other.block_size_),
      codebook_group_rows_(other.codebook_group_rows_),
      layout_(other.layout_),
      owned_(other.owned_),
      data_(other.owned_.empty() ? other.data_ : owned_.data()),
      codes_offset_(other.codes_offset_),
      codes_stride_(other.codes_stride_),
      scales_offset_(other.scales_offset_),
      scales_stride_(other.scales_stride_),
      codebooks_(other.codebooks_),
      activation_positions_(other.activation_positions_) {}

std::size_t QuantWeights::bytes() const {
  return rows_ * (layout_.row_bytes + layout_.scale_stride * sizeof(std::uint16_t)) +
         codebooks_.size() * 4 * sizeof(std::uint16_t);
}

void DequantizeQuantRow(const QuantWeights& w, std::size_t row, float* out) {
  const std::uint8_t* codes = w.row_codes(row);
  const std::uint16_t* scales = w.row_scales(row);
  const QuantCodebook* book = w.row_codebook(row);
  for (std::size_t c = 0; c < w.cols(); ++c) {
    const std::size_t block = c / w.block_size();
    const int code = internal::StoredCode(w, codes, block, c % w.block_size());
    const float value = book ? book->entries[code] : static_cast<float>(code - 1);
    out[c] = F16ToF32(scales[block]) * value;
  }
}

namespace internal {

int StoredCode(const QuantWeights& w, const std::uint8_t* row_codes, std::size_t block,
               std::size_t j) {
  const QuantLayout& l = w.layout();
  if (!IsBase3(w.format())) {
    const std::uint8_t byte = row_codes[StoredByteOffset(l, block, j / 4)];
    return (byte >> (2 * (j % 4))) & 3;
  }
  static constexpr std::array<unsigned, 5> kPow3 = {1, 3, 9, 27, 81};
  const unsigned stored = row_codes[StoredByteOffset(l, block, j / 5)];
  const unsigned rotated = (stored * kPow3[4 - j % 5]) & 255u;
  return static_cast<int>((rotated * 3) >> 8);
}

std::size_t ActivationPosition(const QuantLayout& l, bool base3, std::size_t block, std::size_t j) {
  const std::size_t group = block / kQuantGroupBlocks;
  const std::size_t b = block % kQuantGroupBlocks;
  const std::size_t byte = base3 ? j / 5 : j / 4;
  // Digit s of a loaded byte: shift 2s for 2-bit codes; multiplier 3^s, which yields the
  // base-3 digit 4 - s, for base 3.
  const std::size_t digit = base3 ? 4 - j % 5 : j % 4;
  const bool in_word = byte < 4 * l.full_words;
  const std::size_t slot = in_word ? byte / 4 : l.full_words;
  const std::size_t byte_in_lane = in_word ? byte % 4 : byte - 4 * l.full_words;
  return ((group * l.slots_per_group + slot) * l.digits + digit) * 64 + 4 * b + byte_in_lane;
}

}  // namespace internal
}  // namespace ghost::kernels
