#include "bench/huge_buffer.h"

#include <sys/mman.h>

#include <cstdlib>
#include <new>

namespace ghost::bench {
namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

}  // namespace

HugeBuffer::HugeBuffer(std::size_t bytes) : size_((bytes + kHugePage - 1) / kHugePage * kHugePage) {
  data_ = std::aligned_alloc(kHugePage, size_);
  if (data_ == nullptr) throw std::bad_alloc();
  // Advice only: without THP the buffer still works, with 4 KiB pages.
  madvise(data_, size_, MADV_HUGEPAGE);
}

HugeBuffer::~HugeBuffer() { std::free(data_); }

}  // namespace ghost::bench
